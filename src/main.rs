//! The binary: everything lives in the library (`mastodon_oidc::cli`).

fn main() -> std::process::ExitCode {
    mastodon_oidc::cli::main()
}

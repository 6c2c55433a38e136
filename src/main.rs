//! The binary: everything lives in the library (`mastodon_oidc::cli`).

// The service allocates many small, short-lived values per request across
// worker and blocking-pool threads; mimalloc measured cheaper than glibc's
// malloc there (benches/login_load.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mastodon_oidc::cli::main()
}

//! The binary: everything lives in the library (`mastodon_oidc::cli`).

// Many small, short-lived allocations per request across worker and
// blocking-pool threads: mimalloc took about 5 % off the service CPU per
// complete login against glibc's malloc (benches/login_load.rs, A/B in one
// session); /token alone, dominated by signing, did not change.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mastodon_oidc::cli::main()
}

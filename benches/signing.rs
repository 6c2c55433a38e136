//! Raw signing rate per algorithm with the service's own keys (parsed once),
//! and the full ID-token encode (claims JSON, base64url, signature). This is
//! the baseline the token endpoint is measured against (`benches/login_load.rs`).
//!
//!   cargo bench --bench signing

use std::sync::Arc;
use std::time::{Duration, Instant};

use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::keys::{Algorithm, KeyRing};
use mastodon_oidc::store::Store;

fn rate(label: &str, mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000),
    );
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    let r = n as f64 / start.elapsed().as_secs_f64();
    println!("{label:<40} {r:>10.0} /s  {:>8.1} µs", 1e6 / r);
    r
}

#[tokio::main]
async fn main() {
    let store = Store::open_for_tests_sqlite();
    let ring = KeyRing::load(
        store,
        Arc::new(Sealer::for_tests()),
        mastodon_oidc::clock::system(),
    )
    .await
    .unwrap();
    // A realistic ID token payload (about 600 bytes of claims).
    let claims = serde_json::json!({
        "iss": "https://login.example.org", "sub": "Zq3Wd9c1Y2hXbW9kLmV4YW1wbGUvMTA5MzQ4MjM0ODc1MzMy",
        "aud": "grafana", "exp": 1_900_003_600u64, "iat": 1_900_000_000u64, "auth_time": 1_899_999_990u64,
        "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "azp": "grafana",
        "name": "Alice Example", "preferred_username": "alice@example.social", "nickname": "alice",
        "picture": "https://files.example.social/accounts/avatars/109/348/234/875/332/original/d746f9fb43a5705f.png",
        "profile": "https://example.social/@alice", "fediverse_handle": "@alice@example.social",
        "fediverse_actor": "https://example.social/users/alice", "fediverse_server": "example.social",
        "updated_at": 1_899_999_990u64,
    });
    let input = vec![b'x'; 840];
    println!("operation (one thread)                        rate      per op");
    for alg in Algorithm::ALL {
        let key = ring.signer(alg).unwrap();
        rate(&format!("{alg} raw sign (840-byte input)"), || {
            std::hint::black_box(key.sign(&input).unwrap());
        });
        rate(&format!("{alg} full ID token encode"), || {
            std::hint::black_box(key.sign_jwt(&claims, "JWT").unwrap());
        });
    }
}

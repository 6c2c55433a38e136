//! Discovery and JWKS against a trivial actix-web JSON handler, measured in
//! the same run with `wrk` on loopback (Debian package `wrk`).
//!
//!   cargo bench --bench endpoints            # 5 s per endpoint
//!   BENCH_SECS=10 cargo bench --bench endpoints
//!
//! Both servers get one worker thread; wrk gets one thread and 32
//! connections, so the two share the machine's cores the same way. The
//! figure that matters is the ratio to the baseline, not the absolute rate.
//! The service logs as in production (one info line per request, at the
//! default filter) to a file in the temp directory; `BENCH_LOG=off` skips it.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use mastodon_oidc::app;
use mastodon_oidc::config::Config;
use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::store::Store;

/// Run wrk off the async runtime, so the servers keep being polled.
async fn wrk(url: &str, secs: u64) -> f64 {
    let url = url.to_string();
    actix_web::rt::task::spawn_blocking(move || wrk_blocking(&url, secs))
        .await
        .expect("wrk task")
}

fn wrk_blocking(url: &str, secs: u64) -> f64 {
    let out = Command::new("wrk")
        .args(["-t1", "-c32", &format!("-d{secs}s"), "--latency", url])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk output:\n{text}"));
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    let non2xx = text
        .lines()
        .any(|l| l.contains("Non-2xx") || l.contains("Socket errors"));
    assert!(!non2xx, "errors during the run:\n{text}");
    eprintln!("  {url}: {rps:.0} req/s, p{p99}");
    rps
}

#[actix_web::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);

    let baseline = HttpServer::new(|| {
        App::new().route(
            "/json",
            web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({"ok": true})) }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let base_addr = baseline.addrs()[0];
    let base = baseline.run();
    let base_handle = base.handle();
    actix_web::rt::spawn(base);

    let dir = std::env::temp_dir().join(format!("moidc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if std::env::var("BENCH_LOG").as_deref() != Ok("off") {
        let log = std::fs::File::create(dir.join("service.log")).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                &mastodon_oidc::config::LogConfig::default().filter,
            ))
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(log))
            .init();
    }
    let url = format!("sqlite://{}/bench.sqlite3", dir.display());
    let store = Store::connect(&url, 4, Duration::from_secs(5), true).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    config.issuer = Some(format!("http://{addr}"));
    config.workers = Some(1);
    let state = app::build_state_with(
        config,
        mastodon_oidc::clock::system(),
        store,
        Arc::new(Sealer::for_tests()),
    )
    .await
    .unwrap();
    let running = app::start(state, listener).unwrap();

    eprintln!("warming up");
    wrk(&format!("http://{base_addr}/json"), 1).await;
    wrk(&format!("http://{addr}/jwks.json"), 1).await;

    eprintln!("measuring ({secs} s each)");
    let b1 = wrk(&format!("http://{base_addr}/json"), secs).await;
    let disc = wrk(
        &format!("http://{addr}/.well-known/openid-configuration"),
        secs,
    )
    .await;
    let jwks = wrk(&format!("http://{addr}/jwks.json"), secs).await;
    let b2 = wrk(&format!("http://{base_addr}/json"), secs).await;
    let baseline_rps = (b1 + b2) / 2.0;

    println!("endpoint                               req/s   vs baseline");
    println!(
        "baseline (trivial actix JSON)      {baseline_rps:>9.0}   100 %  (runs: {b1:.0}, {b2:.0})"
    );
    println!(
        "/.well-known/openid-configuration  {disc:>9.0}   {:>3.0} %",
        100.0 * disc / baseline_rps
    );
    println!(
        "/jwks.json                         {jwks:>9.0}   {:>3.0} %",
        100.0 * jwks / baseline_rps
    );

    running.stop().await;
    base_handle.stop(true).await;
    let _ = std::fs::remove_dir_all(dir);
}

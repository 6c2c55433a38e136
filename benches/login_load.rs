//! Load harness: complete logins against the fake Mastodon on loopback, and
//! the token endpoint alone against the raw signing rate of its key, each
//! measured in the same run.
//!
//!   cargo bench --bench login_load                      # SQLite, 10 s per phase
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench --bench login_load
//!   BENCH_SECS=20 BENCH_CONCURRENCY=16 BENCH_WORKERS=2 cargo bench --bench login_load
//!   BENCH_PHASES=token BENCH_REPEAT=5 cargo bench --bench login_load   # median of 5
//!
//! A login is the whole path a browser and a relying party take: /authorize,
//! the handle form, the server's /oauth/authorize (auto-approved), /callback,
//! and /token. This process runs only the service; the fake Mastodon and the
//! load generator run in a second process (this binary again, as the driver,
//! `load/driver.rs`), so "service CPU" is this process's CPU time alone.

#[path = "load/driver.rs"]
mod driver;
#[allow(unused, clippy::all)]
#[path = "../tests/it/fake_mastodon/mod.rs"]
mod fake_mastodon;
#[path = "load/seed.rs"]
mod seed;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mastodon_oidc::app;
use mastodon_oidc::config::{ClientConfig, Config};
use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::keys::Algorithm;
use mastodon_oidc::store::Store;
use serde_json::{Value, json};

const SECRET: &str = "bench-secret-bench-secret-bench-secret";
const REDIRECT: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ROLE: &str = "MOIDC_BENCH_ROLE";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of this process, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn client() -> ClientConfig {
    toml::from_str(&format!(
        "id = \"rp\"\nname = \"Bench RP\"\nredirect_uris = [\"{REDIRECT}\"]\nsecret = \"{SECRET}\"\n"
    ))
    .unwrap()
}

/// The driver process and its two pipes.
struct Driver {
    child: Child,
    tx: ChildStdin,
    rx: BufReader<ChildStdout>,
}

impl Driver {
    fn spawn() -> Driver {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(ROLE, "driver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the driver process");
        let tx = child.stdin.take().unwrap();
        let rx = BufReader::new(child.stdout.take().unwrap());
        Driver { child, tx, rx }
    }

    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.rx.read_line(&mut line).expect("driver output");
        serde_json::from_str(&line).expect("a JSON line from the driver")
    }

    /// Send a command; the reply comes when the driver has run it.
    fn ask(&mut self, cmd: Value) -> Value {
        writeln!(self.tx, "{cmd}").unwrap();
        self.tx.flush().unwrap();
        self.recv()
    }
}

struct Service {
    base: String,
    state: app::AppState,
    running: app::Running,
}

async fn service(url: &str, overrides: &Value, workers: usize) -> Service {
    let store = Store::connect(
        url,
        env_num("BENCH_POOL", 8) as u32,
        Duration::from_secs(5),
        true,
    )
    .expect("database");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    config.issuer = Some(format!("http://{addr}"));
    config.workers = Some(workers);
    config.clients = vec![client()];
    config.upstream.allow_insecure = true;
    // Every bench client is 127.0.0.1: per-IP limits would measure the limiter.
    config.limits = mastodon_oidc::config::LimitsConfig::unlimited();
    // Every bench login is the same upstream account: the default delayed
    // revocation (upstream.revoke_delay_secs) is what keeps them working.
    config.upstream.host_overrides = serde_json::from_value(overrides.clone()).unwrap();
    let state = app::build_state_with(
        config,
        mastodon_oidc::clock::system(),
        store,
        Arc::new(Sealer::for_tests()),
    )
    .await
    .unwrap();
    let running = app::start(state.clone(), listener).unwrap();
    Service {
        base: format!("http://{addr}"),
        state,
        running,
    }
}

/// Signatures per second of a full ID-token encode on `threads` threads.
fn signing_rate(state: &app::AppState, threads: usize, secs: u64) -> f64 {
    let key = state.keys.signer(Algorithm::RS256).unwrap();
    let claims = json!({"iss": "http://127.0.0.1", "sub": "bench-sub", "aud": "rp", "exp": 4_000_000_000u64,
        "iat": 1_800_000_000u64, "nonce": "nn", "name": "Alice", "preferred_username": "alice@social.test"});
    let t = Instant::now();
    let n: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while t.elapsed() < Duration::from_secs(secs) {
                        std::hint::black_box(key.sign_jwt(&claims, "JWT").unwrap());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    n as f64 / t.elapsed().as_secs_f64()
}

fn with_run(cmd: &Value, run: &str) -> Value {
    let mut c = cmd.clone();
    c["run"] = run.into();
    c
}

/// Complete logins: rate, latency, service CPU and durable commits per login.
fn login_phase(driver: &mut Driver, svc: &Service, name: &str, cmd: Value) {
    let (cpu0, commits0) = (cpu_secs(), svc.state.store.commits());
    let r = driver.ask(cmd);
    let (cpu, ok) = (cpu_secs() - cpu0, r["ok"].as_f64().unwrap().max(1.0));
    let commits = (svc.state.store.commits() - commits0) as f64 / ok;
    println!(
        "{name:<10} logins/s {:>7.1}  p50 {:>6.1} ms  p95 {:>6.1} ms  p99 {:>6.1} ms  service CPU/login {:>5.2} ms  commits/login {commits:.2}",
        ok / r["elapsed"].as_f64().unwrap(),
        r["p50"].as_f64().unwrap(),
        r["p95"].as_f64().unwrap(),
        r["p99"].as_f64().unwrap(),
        1000.0 * cpu / ok
    );
}

/// The token endpoint alone, against the signing rate of the same key
/// measured just before it, on one thread and on every core. Returns the
/// two ratios: throughput against one thread, and CPU per response.
fn token_phase(
    driver: &mut Driver,
    svc: &Service,
    name: &str,
    secs: u64,
    cores: usize,
    mut cmd: Value,
) -> (f64, f64) {
    let sign_secs = secs.min(5);
    let sign1 = signing_rate(&svc.state, 1, sign_secs);
    let sign_all = signing_rate(&svc.state, cores, sign_secs);
    cmd["codes"] = json!(seed::codes(&svc.state.store, (secs as usize) * 8_000));
    let cpu0 = cpu_secs();
    let r = driver.ask(cmd);
    let (cpu, ok) = (cpu_secs() - cpu0, r["ok"].as_f64().unwrap().max(1.0));
    let rate = ok / r["elapsed"].as_f64().unwrap();
    let (cpu_token, cpu_sign) = (1000.0 * cpu / ok, 1000.0 / sign1);
    println!(
        "{name:<10} /token/s {rate:>7.0}  p50 {:>6.1} ms  p99 {:>6.1} ms  service CPU/response {cpu_token:.3} ms",
        r["p50"].as_f64().unwrap(),
        r["p99"].as_f64().unwrap(),
    );
    println!(
        "{name:<10} RS256 ID-token signing/s: {sign1:.0} on 1 thread ({cpu_sign:.3} ms CPU each), {sign_all:.0} on {cores} threads"
    );
    println!(
        "{name:<10} token endpoint vs signing: CPU per response {:.0} %, throughput {:.0} % of 1 thread, {:.0} % of {cores} threads",
        100.0 * cpu_sign / cpu_token,
        100.0 * rate / sign1,
        100.0 * rate / sign_all
    );
    (rate / sign1, cpu_sign / cpu_token)
}

/// `BENCH_REPEAT` token runs, each against its own baseline: the machine's
/// noise shows as the spread, and the median is the figure to quote.
fn token_repeats(
    driver: &mut Driver,
    svc: &Service,
    name: &str,
    secs: u64,
    cores: usize,
    cmd: &Value,
) {
    let n = env_num("BENCH_REPEAT", 1).max(1) as usize;
    let mut runs: Vec<(f64, f64)> = (0..n)
        .map(|_| token_phase(driver, svc, name, secs, cores, with_run(cmd, "token")))
        .collect();
    if n == 1 {
        return;
    }
    let pct = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.0}", 100.0 * x))
            .collect::<Vec<_>>()
            .join(" ")
    };
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let rate: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.1).collect();
    cpu.sort_by(f64::total_cmp);
    println!(
        "{name:<10} {n} token runs: throughput % of 1 thread {} (median {:.0}); CPU per response % {} (median {:.0})",
        pct(&rate),
        100.0 * rate[n / 2],
        pct(&cpu),
        100.0 * cpu[n / 2]
    );
}

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("driver") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        return rt.block_on(driver::run());
    }
    service_main();
}

#[tokio::main]
async fn service_main() {
    let secs = env_num("BENCH_SECS", 10);
    let concurrency = env_num("BENCH_CONCURRENCY", 8);
    let workers = env_num("BENCH_WORKERS", 1) as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = std::env::temp_dir().join(format!("moidc-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut backends = vec![(
        "SQLite".to_string(),
        format!("sqlite://{}/load.sqlite3", dir.display()),
    )];
    if let Ok(pg) = std::env::var("BENCH_DATABASE_URL") {
        backends.push(("PostgreSQL".into(), pg));
    }
    let mut driver = Driver::spawn();
    let overrides = driver.recv()["overrides"].clone();
    println!(
        "{secs} s per phase, {concurrency} concurrent clients, service with {workers} worker(s), {cores} cores; load generator and fake Mastodon in a second process"
    );
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "login,token".into());
    for (name, url) in backends {
        let svc = service(&url, &overrides, workers).await;
        let cmd = json!({"base": svc.base, "concurrency": concurrency, "secs": secs});
        // Warm up: the first login registers the app on the fake server.
        assert_eq!(
            driver.ask(with_run(&cmd, "warm"))["ok"],
            true,
            "a login works"
        );
        if phases.contains("login") {
            login_phase(&mut driver, &svc, &name, with_run(&cmd, "login"));
        }
        if phases.contains("token") {
            token_repeats(&mut driver, &svc, &name, secs, cores, &cmd);
        }
        svc.running.stop().await;
    }
    drop(driver.tx);
    let _ = driver.child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

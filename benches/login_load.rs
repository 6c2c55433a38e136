//! Load harness: complete logins against the fake Mastodon on loopback, and
//! the token endpoint alone against the raw signing rate of its key, each
//! measured in the same run.
//!
//!   cargo bench --bench login_load                      # SQLite, 10 s per phase
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench --bench login_load
//!   BENCH_SECS=20 BENCH_CONCURRENCY=16 cargo bench --bench login_load
//!
//! A login is the whole path a browser and a relying party take: /authorize,
//! the handle form, the server's /oauth/authorize (auto-approved), /callback,
//! and /token. Everything runs in this one process (service with one worker,
//! fake Mastodon, load generator), so "CPU per login" is the process's CPU
//! time divided by logins, the load generator and the fake included.

#[allow(unused, clippy::all)]
#[path = "../tests/it/fake_mastodon/mod.rs"]
mod fake_mastodon;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mastodon_oidc::app;
use mastodon_oidc::config::{ClientConfig, Config};
use mastodon_oidc::crypto::{Sealer, random_token, sha256_b64url};
use mastodon_oidc::keys::Algorithm;
use mastodon_oidc::store::{self, Store};

use fake_mastodon::{FakeConfig, FakeMastodon, Profile};

const SECRET: &str = "bench-secret-bench-secret-bench-secret";
const REDIRECT: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

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

struct Service {
    base: String,
    state: app::AppState,
    running: app::Running,
}

async fn service(url: &str, fake: &FakeMastodon) -> Service {
    let store = Store::connect(url, 8, Duration::from_secs(5), true).expect("database");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    config.issuer = Some(format!("http://{addr}"));
    config.workers = Some(1);
    config.clients = vec![client()];
    config.upstream.allow_insecure = true;
    // Every bench login is the same upstream account, and Mastodon hands the
    // same token to concurrent logins of one account (Doorkeeper token reuse):
    // revoking it after one login would break the next. Keep it instead.
    config.upstream.keep_upstream_tokens = true;
    config.upstream.host_overrides = fake
        .host_overrides()
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
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

fn location(res: &reqwest::Response) -> Option<url::Url> {
    let loc = res.headers().get("location");
    if loc.is_none() {
        static SHOWN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        if SHOWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
            eprintln!("a hop failed: {} {}", res.url(), res.status());
        }
    }
    url::Url::parse(loc?.to_str().ok()?).ok()
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn cookies(res: &reqwest::Response, jar: &mut Vec<String>) {
    for v in res.headers().get_all("set-cookie") {
        if let Some(pair) = v.to_str().ok().and_then(|t| t.split(';').next()) {
            jar.push(pair.to_string());
        }
    }
}

/// One complete login from a fresh browser; returns true on an ID token.
async fn one_login(http: &reqwest::Client, s: &str, fake_ip: &str) -> bool {
    let mut jar = Vec::new();
    let authorize = format!(
        "{s}/authorize?response_type=code&client_id=rp&redirect_uri={}&scope=openid%20profile&state=st&nonce=nn&code_challenge={CHALLENGE}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let Ok(page) = http.get(&authorize).send().await else {
        return false;
    };
    cookies(&page, &mut jar);
    let body = page.text().await.unwrap_or_default();
    let Some(start) = body.find("name=\"request\" value=\"") else {
        return false;
    };
    let rest = &body[start + 22..];
    let request = &rest[..rest.find('"').unwrap_or(0)];
    let Ok(up) = http
        .post(format!("{s}/login"))
        .header("cookie", jar.join("; "))
        .form(&[("request", request), ("handle", "@alice@social.test")])
        .send()
        .await
    else {
        return false;
    };
    if up.status() != 303 {
        return false;
    }
    let Some(to) = location(&up) else {
        return false;
    };
    let Ok(approved) = http
        .get(format!(
            "{fake_ip}{}?{}",
            to.path(),
            to.query().unwrap_or("")
        ))
        .send()
        .await
    else {
        return false;
    };
    let Some(cb) = location(&approved) else {
        return false;
    };
    let Ok(back) = http
        .get(cb.as_str())
        .header("cookie", jar.join("; "))
        .send()
        .await
    else {
        return false;
    };
    let Some(done) = location(&back) else {
        return false;
    };
    let code = param(&done, "code");
    redeem(http, s, &code).await
}

/// Redeem a code at the token endpoint; true on a token response.
async fn redeem(http: &reqwest::Client, s: &str, code: &str) -> bool {
    let res = http
        .post(format!("{s}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ])
        .send()
        .await;
    matches!(res, Ok(r) if r.status() == 200)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Run `f` from `concurrency` tasks for `secs`; returns (ok count, latencies in ms, elapsed s, cpu s).
async fn load<F, Fut>(concurrency: u64, secs: u64, f: F) -> (u64, Vec<f64>, f64, f64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut ok = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                if f().await {
                    ok += 1;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            (ok, lat)
        }));
    }
    let (mut ok, mut lat) = (0, Vec::new());
    for t in tasks {
        let (o, l) = t.await.unwrap();
        ok += o;
        lat.extend(l);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (ok, lat, start.elapsed().as_secs_f64(), cpu_secs() - cpu0)
}

/// Codes ready for the token endpoint, written straight to the store.
fn seed_codes(st: &Store, n: usize) -> Vec<String> {
    let now = mastodon_oidc::clock::system().now();
    let sub = "bench-sub".to_string();
    let identity = serde_json::json!({"server_host": "social.test", "account_id": "1", "username": "alice",
        "handle": "alice@social.test", "actor_uri": null, "display_name": "Alice", "avatar": null,
        "profile_url": null, "locale": null, "bot": false, "locked": false, "created_at": null, "role": null});
    let codes: Vec<String> = (0..n).map(|_| random_token(32)).collect();
    let c2 = codes.clone();
    st.write_blocking(move |c| {
        store::accounts::upsert(
            c,
            &store::accounts::AccountRow {
                sub: sub.clone(),
                server_host: "social.test".into(),
                account_id: "1".into(),
                handle: "alice@social.test".into(),
                profile: identity.to_string(),
                upstream_token: None,
                created_at: now,
                updated_at: now,
            },
        )?;
        for code in &c2 {
            let grant = random_token(16);
            store::grants::insert(
                c,
                &store::grants::GrantRow {
                    id: grant.clone(),
                    client_id: "rp".into(),
                    sub: sub.clone(),
                    scope: "openid profile".into(),
                    auth_time: now,
                    session_id: None,
                    created_at: now,
                    expires_at: now + 86_400,
                    revoked_at: None,
                },
            )?;
            store::codes::insert(
                c,
                &store::codes::CodeRow {
                    hash: sha256_b64url(code.as_bytes()),
                    grant_id: grant,
                    client_id: "rp".into(),
                    redirect_uri: REDIRECT.into(),
                    code_challenge: Some(CHALLENGE.into()),
                    nonce: Some("nn".into()),
                    scope: "openid profile".into(),
                    claims: None,
                    auth_time: now,
                    created_at: now,
                    expires_at: now + 3600,
                    redeemed_at: None,
                },
            )?;
        }
        Ok(())
    })
    .unwrap();
    codes
}

#[tokio::main]
async fn main() {
    let secs = env_num("BENCH_SECS", 10);
    let concurrency = env_num("BENCH_CONCURRENCY", 8);
    let dir = std::env::temp_dir().join(format!("moidc-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut backends = vec![(
        "SQLite".to_string(),
        format!("sqlite://{}/load.sqlite3", dir.display()),
    )];
    if let Ok(pg) = std::env::var("BENCH_DATABASE_URL") {
        backends.push(("PostgreSQL".into(), pg));
    }
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    println!("{secs} s per phase, {concurrency} concurrent clients, service with 1 worker");
    for (name, url) in backends {
        let svc = service(&url, &fake).await;
        // Warm up: the first login registers the app on the fake server.
        assert!(
            one_login(&http, &svc.base, &fake.ip_url()).await,
            "a login works"
        );
        let (s, ip, h) = (svc.base.clone(), fake.ip_url(), http.clone());
        let commits0 = svc.state.store.commits();
        let (ok, lat, el, cpu) = load(concurrency, secs, move || {
            let (s, ip, h) = (s.clone(), ip.clone(), h.clone());
            async move { one_login(&h, &s, &ip).await }
        })
        .await;
        let commits = (svc.state.store.commits() - commits0) as f64 / ok.max(1) as f64;
        println!(
            "{name:<10} logins/s {:>7.1}  p50 {:>6.1} ms  p95 {:>6.1} ms  p99 {:>6.1} ms  CPU/login {:>5.2} ms  commits/login {commits:.2}",
            ok as f64 / el,
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99),
            1000.0 * cpu / ok.max(1) as f64
        );
        // The token endpoint alone, against the raw signing rate of the same key.
        let key = svc.state.keys.signer(Algorithm::RS256).unwrap();
        let claims = serde_json::json!({"iss": svc.base, "sub": "bench-sub", "aud": "rp", "exp": 4_000_000_000u64,
            "iat": 1_800_000_000u64, "nonce": "nn", "name": "Alice", "preferred_username": "alice@social.test"});
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(secs.min(5)) {
            std::hint::black_box(key.sign_jwt(&claims, "JWT").unwrap());
            n += 1;
        }
        let sign_rate = n as f64 / t.elapsed().as_secs_f64();
        let codes = Arc::new(std::sync::Mutex::new(seed_codes(&svc.state.store, 40_000)));
        let (s, h) = (svc.base.clone(), http.clone());
        let (ok, lat, el, _) = load(concurrency, secs, move || {
            let (s, h, codes) = (s.clone(), h.clone(), codes.clone());
            async move {
                let Some(code) = codes.lock().unwrap().pop() else {
                    return false;
                };
                redeem(&h, &s, &code).await
            }
        })
        .await;
        let token_rate = ok as f64 / el;
        println!(
            "{name:<10} /token/s {token_rate:>7.0}  p50 {:>6.1} ms  p99 {:>6.1} ms  RS256 ID-token signing/s (1 thread) {sign_rate:>7.0}  ratio {:>4.0} %",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            100.0 * token_rate / sign_rate
        );
        svc.running.stop().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

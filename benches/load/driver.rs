//! The driver process of the load harness: it runs the fake Mastodon and the
//! load generator, so the service process's CPU time is the service's alone.
//! It talks to the service process over stdin/stdout, one JSON line a step.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use super::{CHALLENGE, REDIRECT, SECRET, VERIFIER};

/// Run the driver role until stdin closes.
pub async fn run() {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let overrides: serde_json::Map<String, Value> = fake
        .host_overrides()
        .into_iter()
        .map(|(k, v)| (k, v.to_string().into()))
        .collect();
    say(&json!({ "overrides": overrides }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let ip = fake.ip_url();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let cmd: Value = serde_json::from_str(&line).expect("a command");
        let base = cmd["base"].as_str().unwrap_or_default().to_string();
        let (conc, secs) = (
            cmd["concurrency"].as_u64().unwrap_or(8),
            cmd["secs"].as_u64().unwrap_or(10),
        );
        let out = match cmd["run"].as_str() {
            Some("warm") => json!({ "ok": one_login(&http, &base, &ip).await }),
            Some("login") => {
                let (h, b, i) = (http.clone(), base.clone(), ip.clone());
                report(
                    load(conc, secs, move || {
                        let (h, b, i) = (h.clone(), b.clone(), i.clone());
                        async move { Some(one_login(&h, &b, &i).await) }
                    })
                    .await,
                )
            }
            Some("token") => {
                let codes: Vec<String> = serde_json::from_value(cmd["codes"].clone()).unwrap();
                let codes = std::sync::Arc::new(std::sync::Mutex::new(codes));
                let (h, b) = (http.clone(), base.clone());
                report(
                    load(conc, secs, move || {
                        let (h, b, codes) = (h.clone(), b.clone(), codes.clone());
                        async move {
                            // Out of codes: this task is done.
                            let code = codes.lock().unwrap().pop()?;
                            Some(redeem(&h, &b, &code).await)
                        }
                    })
                    .await,
                )
            }
            _ => break,
        };
        say(&out);
    }
}

fn say(v: &Value) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}").unwrap();
    out.flush().unwrap();
}

fn report((ok, lat, elapsed): (u64, Vec<f64>, f64)) -> Value {
    json!({
        "ok": ok, "elapsed": elapsed,
        "p50": percentile(&lat, 0.5), "p95": percentile(&lat, 0.95), "p99": percentile(&lat, 0.99),
    })
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

/// Run `f` from `concurrency` tasks for `secs` (a task stops early when `f`
/// gives `None`); returns (ok count, sorted latencies in ms, elapsed s).
async fn load<F, Fut>(concurrency: u64, secs: u64, f: F) -> (u64, Vec<f64>, f64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
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
                match f().await {
                    Some(true) => {
                        ok += 1;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Some(false) => {}
                    None => break,
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
    (ok, lat, start.elapsed().as_secs_f64())
}

//! Real pages in a real browser: Debian's headless Chromium, driven by
//! playwright-core (`tests/browser/login.mjs`), logs in through the built-in
//! demo relying party → the handle page → the fake Mastodon's sign-in and
//! authorize page → back at the demo, which shows the verified ID token.
//! `signup.mjs` creates an account the same way, through the sign-up form
//! and the confirmation link. Once with JavaScript and once without: the
//! pages need none.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::support::{Backend, TestApp, TestDb};

/// The browser, its driver and their packages, or why not (loud; fatal in CI).
fn prerequisites() -> Option<&'static str> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let missing = if !dir.join("node_modules/playwright-core").exists() {
        Some("tests/browser/node_modules is missing (run `npm ci` in tests/browser)")
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed")
    } else if !Path::new("/usr/bin/chromium").exists() && std::env::var_os("CHROMIUM").is_none() {
        Some("chromium is not installed (apt-get install chromium)")
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(
            std::env::var("CI").is_err(),
            "browser tests cannot run in CI: {why}"
        );
        crate::support::loud(&format!("\n*** BROWSER TESTS DID NOT RUN: {why} ***\n"));
    }
    missing
}

fn run_browser(plan: &Value) -> Value {
    run_script("login.mjs", plan)
}

fn run_script(script: &str, plan: &Value) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(plan.to_string())
        .current_dir(&dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "browser driver failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_login_in_headless_chromium() {
    if prerequisites().is_some() {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44).interactive());
    let overrides = fake.override_map();
    let app = TestApp::spawn_with(&db, move |c| {
        c.upstream.host_overrides = overrides;
    })
    .await;
    let rules = format!("MAP {} 127.0.0.1:{}", fake.web_domain(), fake.port());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for javascript in [true, false] {
        let plan = serde_json::json!({
            "start": app.url("/demo/start"),
            "handle": "@alice@social.test",
            "username": "alice",
            "password": "password",
            "resolverRules": rules,
            "javascript": javascript,
            "screenshot": shots.join(format!("demo-login-js-{javascript}.png")),
        });
        let report = tokio::task::spawn_blocking(move || run_browser(&plan))
            .await
            .unwrap();
        assert!(report.get("error").is_none(), "js={javascript}: {report}");
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(
            steps[0]["title"], "Log in to Demo relying party",
            "{report}"
        );
        assert!(
            steps[1]["url"]
                .as_str()
                .unwrap()
                .contains("/oauth/authorize"),
            "{report}"
        );
        let fin = &report["final"];
        assert!(
            fin["url"]
                .as_str()
                .unwrap()
                .starts_with(&app.url("/demo/callback")),
            "{report}"
        );
        let text = fin["text"].as_str().unwrap();
        assert!(text.contains("alice@social.test"), "{text}");
        assert!(
            text.contains("\"iss\""),
            "the decoded claims are shown: {text}"
        );
        assert!(!text.to_lowercase().contains("error"), "{text}");
    }
    assert_eq!(fake.count("POST", "/api/v1/apps"), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_signup_in_headless_chromium() {
    if prerequisites().is_some() {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let overrides = fake.override_map();
    let app = TestApp::spawn_with(&db, move |c| {
        c.upstream.host_overrides = overrides;
    })
    .await;
    let rules = format!("MAP {} 127.0.0.1:{}", fake.web_domain(), fake.port());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (javascript, username) in [(true, "carol_js"), (false, "carol_plain")] {
        let plan = serde_json::json!({
            "start": app.url("/demo/start"),
            "server": "social.test",
            "username": username,
            "email": format!("{username}@example.org"),
            "password": "correct horse battery staple",
            "outbox": format!("{}/_fake/outbox/{username}", fake.ip_url()),
            "resolverRules": rules,
            "javascript": javascript,
            "screenshot": shots.join(format!("demo-signup-js-{javascript}.png")),
        });
        let report = tokio::task::spawn_blocking(move || run_script("signup.mjs", &plan))
            .await
            .unwrap();
        assert!(report.get("error").is_none(), "js={javascript}: {report}");
        let titles: Vec<&str> = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            [
                "Log in to Demo relying party",
                "Create an account for Demo relying party",
                "Create an account on social.test",
                "Error: Create an account on social.test",
                "Check your e-mail · social.test",
            ],
            "{report}"
        );
        let refused = &report["refused"];
        assert!(
            refused["agreementError"]
                .as_str()
                .unwrap()
                .contains("you must agree"),
            "{report}"
        );
        assert_eq!(refused["username"], username, "kept");
        assert_eq!(refused["password"], "", "never sent back");
        assert!(
            report["pending"]
                .as_str()
                .unwrap()
                .contains(&format!("{username}@example.org")),
            "{report}"
        );
        let fin = &report["final"];
        assert!(
            fin["url"]
                .as_str()
                .unwrap()
                .starts_with(&app.url("/demo/callback")),
            "{report}"
        );
        let text = fin["text"].as_str().unwrap();
        assert!(text.contains(&format!("{username}@social.test")), "{text}");
        assert!(
            text.contains("\"iss\""),
            "the verified claims are shown: {text}"
        );
        assert!(!text.to_lowercase().contains("error"), "{text}");
    }
    assert_eq!(fake.count("POST", "/api/v1/accounts"), 2);
    assert_eq!(fake.count("POST", "/api/v1/apps"), 1);
    app.stop().await;
}

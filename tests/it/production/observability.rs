//! What an operator sees: the metrics after real logins (requests by route
//! and status, latency, logins by outcome and reason, upstream calls by
//! server and outcome, app registrations, the pool), and logs that carry
//! request ids but never a code, token or secret.

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::Browser;
use crate::support::{TestDb, logs};

backend_tests! {
    metrics_describe_real_logins => metrics_after_logins,
    logs_carry_request_ids_and_no_secrets => logs_without_secrets,
}

async fn metrics_after_logins(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let mut b = Browser::default();
    let tokens = mastodon::log_in(&app, &fake, &mut b, "@alice@social.test").await;
    assert!(tokens["id_token"].is_string());
    let mut other = Browser::default();
    let page = other.get(&seed::authorize_url(&app, "rp", &[])).await;
    let failed = app
        .submit_handle(&mut other, &page.input("request"), "@nobody@social.test")
        .await;
    assert_eq!(failed.status, 400);
    let text = app.metrics().await;
    for line in [
        r#"mastodon_oidc_logins_total{event="started",reason=""} 2"#,
        r#"mastodon_oidc_logins_total{event="completed",reason=""} 1"#,
        r#"mastodon_oidc_logins_total{event="failed",reason="not_found"} 1"#,
        r#"mastodon_oidc_app_registrations_total{outcome="ok"} 1"#,
        r#"mastodon_oidc_http_requests_total{endpoint="/callback/{host}",method="GET",status="303"} 1"#,
        r#"mastodon_oidc_http_requests_total{endpoint="/token",method="POST",status="200"} 1"#,
        r#"mastodon_oidc_http_requests_total{endpoint="/login",method="POST",status="400"} 1"#,
        r#"mastodon_oidc_http_request_duration_seconds_count{endpoint="/token"} 1"#,
        "mastodon_oidc_db_pool_max_connections 8",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    // Every call the fake saw was counted under its host: the 404s of the
    // unknown handle as 4xx, the rest as ok.
    let count = |outcome: &str| -> usize {
        let prefix = format!(
            r#"mastodon_oidc_upstream_calls_total{{outcome="{outcome}",server="social.test"}} "#
        );
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str())?.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("4xx") >= 1, "{text}");
    // (The browser's own visit to the consent page is not ours to count.)
    let ours = fake
        .all_calls()
        .iter()
        .filter(|c| c.path != "/oauth/authorize")
        .count();
    assert_eq!(count("ok") + count("4xx"), ours, "{text}");
}

async fn logs_without_secrets(db: TestDb) {
    logs::capture();
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    let request_id = page.headers["x-request-id"].to_str().unwrap().to_string();
    let tokens = mastodon::log_in(&app, &fake, &mut b, "@alice@social.test").await;
    let text = logs::text();
    assert!(
        text.contains(&format!("request_id={request_id}")),
        "each request is logged with its id"
    );
    let mut secrets = vec![
        tokens["access_token"].as_str().unwrap().to_string(),
        tokens["id_token"].as_str().unwrap().to_string(),
        seed::SECRET.to_string(),
    ];
    for app in fake.apps() {
        secrets.push(app.client_secret);
    }
    for t in fake.tokens() {
        secrets.push(t.token);
    }
    // The codes: ours (in the callback's redirect) and the server's.
    for call in fake.calls("POST", "/oauth/token") {
        if let Some(c) = call.body_param("code") {
            secrets.push(c.to_string());
        }
    }
    assert!(secrets.len() >= 6, "{secrets:?}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret reached the logs: {s}");
    }
}

//! Access tokens are sealed, not stored (`src/oidc/access_token.rs`): issuing
//! one writes nothing, altering one breaks it, it dies with its grant or on
//! its own revocation, and tokens stored by earlier versions keep working.

use mastodon_oidc::crypto::sha256_b64url;
use mastodon_oidc::store::{self, tokens::TokenRow};
use serde_json::Value;

use super::seed::{self, SECRET};
use crate::backend_tests;
use crate::support::{T0, TestApp, TestDb, http};

backend_tests! {
    access_tokens_are_sealed_not_stored => sealed_not_stored,
    revoking_one_access_token_leaves_the_rest_of_its_grant => revoke_one,
    concurrent_revocations_of_one_access_token_all_succeed => revoke_concurrently,
    stored_access_tokens_of_earlier_versions_still_work => stored_tokens,
}

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_with(db, |c| c.clients = vec![seed::client("rp")]).await
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    http()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = http()
        .post(app.url(path))
        .basic_auth("rp", Some(SECRET))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    let grant = [("grant_type", "refresh_token"), ("refresh_token", token)];
    form(app, "/token", &grant).await
}

fn stored(app: &TestApp, token: &str) -> Option<TokenRow> {
    let hash = sha256_b64url(token.as_bytes());
    app.state
        .store
        .run_blocking(move |c| store::tokens::get(c, &hash))
        .unwrap()
}

async fn sealed_not_stored(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid profile", None);
    let before = app.state.store.commits();
    let body = seed::redeem(&app, &code).await;
    assert_eq!(
        app.state.store.commits() - before,
        1,
        "spending the code is the only write"
    );
    let at = body["access_token"].as_str().unwrap().to_string();
    assert!(stored(&app, &at).is_none(), "no row for an access token");
    assert_eq!(userinfo(&app, &at).await.status(), 200);
    // One character changed anywhere: not a token of ours.
    for i in [0, at.len() / 2, at.len() - 1] {
        let mut bytes = at.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap();
        let res = userinfo(&app, &forged).await;
        assert_eq!(res.status(), 401, "altered at {i}");
        let challenge = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    // It lives exactly its configured lifetime.
    let ttl = app.state.config.tokens.access_token_ttl_secs;
    app.clock.set(T0 + ttl - 1);
    assert_eq!(userinfo(&app, &at).await.status(), 200);
    app.clock.set(T0 + ttl);
    assert_eq!(userinfo(&app, &at).await.status(), 401);
    let (_, v) = form(&app, "/introspect", &[("token", &at)]).await;
    assert_eq!(v["active"], false);
    app.stop().await;
}

async fn revoke_one(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid offline_access", None);
    let first = seed::redeem(&app, &code).await;
    let at1 = first["access_token"].as_str().unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&app, rt1).await;
    assert_eq!(status, 200, "{second}");
    let at2 = second["access_token"].as_str().unwrap();
    assert_ne!(at1, at2);
    for _ in 0..2 {
        // Revoking twice is answered the same way (RFC 7009 §2.2).
        assert_eq!(form(&app, "/revoke", &[("token", at1)]).await.0, 200);
    }
    assert_eq!(userinfo(&app, at1).await.status(), 401);
    let row = stored(&app, at1).expect("a revocation row");
    assert_eq!(row.revoked_at, Some(T0));
    assert_eq!(
        row.expires_at,
        T0 + app.state.config.tokens.access_token_ttl_secs,
        "kept only as long as the token could be used"
    );
    // The grant lives on: the other access token and the refresh token work.
    assert_eq!(userinfo(&app, at2).await.status(), 200);
    let rt2 = second["refresh_token"].as_str().unwrap();
    let (status, third) = refresh(&app, rt2).await;
    assert_eq!(status, 200, "{third}");
    app.stop().await;
}

async fn revoke_concurrently(db: TestDb) {
    let app = spawn(&db).await;
    // Several rounds: a lost race shows in some of them, not in every one.
    for _ in 0..6 {
        let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
        let at = seed::redeem(&app, &code).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (url, at, barrier) = (app.url("/revoke"), at.clone(), barrier.clone());
                tokio::spawn(async move {
                    let req = http().post(url).basic_auth("rp", Some(SECRET));
                    let req = req.form(&[("token", at)]);
                    barrier.wait().await;
                    req.send().await.unwrap().status()
                })
            })
            .collect();
        let mut statuses = vec![];
        for t in tasks {
            statuses.push(t.await.unwrap().as_u16());
        }
        assert_eq!(
            statuses,
            vec![200; 16],
            "RFC 7009 §2.2: each is answered 200"
        );
        assert_eq!(userinfo(&app, &at).await.status(), 401);
        assert_eq!(stored(&app, &at).unwrap().revoked_at, Some(T0));
    }
    app.stop().await;
}

async fn stored_tokens(db: TestDb) {
    let app = spawn(&db).await;
    let (_, grant, sub) = seed::code(&app.state.store, "rp", "openid profile", None);
    let legacy = mastodon_oidc::crypto::random_token(32);
    let row = TokenRow {
        hash: sha256_b64url(legacy.as_bytes()),
        kind: store::tokens::ACCESS.into(),
        grant_id: grant,
        client_id: "rp".into(),
        sub: sub.clone(),
        scope: "openid profile".into(),
        created_at: T0,
        expires_at: T0 + 600,
        revoked_at: None,
        used_at: None,
    };
    app.state
        .store
        .write_blocking(move |c| store::tokens::insert(c, &row))
        .unwrap();
    let res = userinfo(&app, &legacy).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], sub.as_str());
    let (_, v) = form(&app, "/introspect", &[("token", &legacy)]).await;
    assert_eq!(
        (v["active"].clone(), v["exp"].clone()),
        (true.into(), (T0 + 600).into())
    );
    assert_eq!(form(&app, "/revoke", &[("token", &legacy)]).await.0, 200);
    assert_eq!(userinfo(&app, &legacy).await.status(), 401);
    app.stop().await;
}

//! UserInfo (GET, POST with header, POST with body), revocation (RFC 7009)
//! and introspection (RFC 7662) on tokens the token endpoint issued.

use serde_json::Value;

use super::seed::{self, SECRET};
use crate::backend_tests;
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    oidcc_userinfo_get_post_header_post_body => userinfo_three_ways,
    oidcc_codereuse_30seconds_userinfo_refused => replay_kills_userinfo,
    revocation_rfc7009 => revocation,
    introspection_rfc7662 => introspection,
    cors_on_back_channel_endpoints_not_on_authorize => cors,
}

async fn cors(db: TestDb) {
    let app = spawn(&db).await;
    for path in ["/token", "/userinfo", "/revoke", "/introspect"] {
        let pre = http()
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status(), 204, "{path}");
        assert_eq!(pre.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(
            pre.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Authorization")
        );
    }
    let (_, body) = tokens(&app, "openid").await;
    let ui = http()
        .get(app.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ui.headers()["access-control-allow-origin"], "*");
    let denied = http()
        .get(app.url("/userinfo"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        denied.headers()["access-control-allow-origin"],
        "*",
        "errors are readable too"
    );
    // The authorization endpoint is for browsers, never for scripts.
    let page = http()
        .get(seed::authorize_url(&app, "rp", &[]))
        .send()
        .await
        .unwrap();
    assert!(page.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.clients = vec![seed::client("rp"), seed::client("other")];
    })
    .await
}

/// Exchange a fresh code; returns the token response.
async fn tokens(app: &TestApp, scope: &str) -> (String, Value) {
    let (code, _, _) = seed::code(&app.state.store, "rp", scope, None);
    let body = seed::redeem(app, &code).await;
    (code, body)
}

async fn userinfo_status(app: &TestApp, token: &str) -> (u16, String, Value) {
    let res = http()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, res.json().await.unwrap_or(Value::Null))
}

async fn userinfo_three_ways(db: TestDb) {
    let app = spawn(&db).await;
    let (_, body) = tokens(&app, "openid profile").await;
    let at = body["access_token"].as_str().unwrap();
    let (status, _, get) = userinfo_status(&app, at).await;
    assert_eq!(status, 200);
    assert_eq!(get["preferred_username"], "alice@social.test");
    let id_sub = {
        let payload = body["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let bytes = mastodon_oidc::crypto::decode_base64(payload).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["sub"].clone()
    };
    assert_eq!(get["sub"], id_sub, "userinfo and ID token agree on sub");
    let post_header: Value = http()
        .post(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post_header, get);
    let res = http()
        .post(app.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.json::<Value>().await.unwrap(), get);
    // openid alone: sub only.
    let (_, body) = tokens(&app, "openid").await;
    let (_, _, only) = userinfo_status(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(only.as_object().unwrap().len(), 1);
    // No token: a bare challenge; a bad one: invalid_token.
    let res = http().get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["www-authenticate"].to_str().unwrap()
        ),
        (401, "Bearer")
    );
    let (status, challenge, _) = userinfo_status(&app, "not-a-token").await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    app.stop().await;
}

async fn replay_kills_userinfo(db: TestDb) {
    let app = spawn(&db).await;
    let (code, body) = tokens(&app, "openid profile").await;
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, at).await.0, 200);
    app.clock.advance(30);
    let replay = seed::redeem(&app, &code).await;
    assert_eq!(replay["error"], "invalid_grant");
    let (status, challenge, _) = userinfo_status(&app, at).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"));
    app.stop().await;
}

async fn revoke(app: &TestApp, client: &str, token: &str) -> u16 {
    http()
        .post(app.url("/revoke"))
        .basic_auth(client, Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn revocation(db: TestDb) {
    let app = spawn(&db).await;
    let (_, body) = tokens(&app, "openid offline_access").await;
    let at = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap();
    // Another client's request has no effect (and reveals nothing: 200).
    assert_eq!(revoke(&app, "other", at).await, 200);
    assert_eq!(userinfo_status(&app, at).await.0, 200);
    assert_eq!(revoke(&app, "rp", at).await, 200);
    assert_eq!(userinfo_status(&app, at).await.0, 401);
    // Unknown tokens: 200.
    assert_eq!(revoke(&app, "rp", "unknown").await, 200);
    // Revoking the refresh token ends the grant: its new access tokens too.
    let (_, body) = tokens(&app, "openid offline_access").await;
    let at2 = body["access_token"].as_str().unwrap();
    assert_eq!(
        revoke(&app, "rp", body["refresh_token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(userinfo_status(&app, at2).await.0, 401);
    assert!(!rt.is_empty());
    // Without client authentication: 401.
    let res = http()
        .post(app.url("/revoke"))
        .form(&[("token", at2)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

async fn introspection(db: TestDb) {
    let app = spawn(&db).await;
    let (_, body) = tokens(&app, "openid profile").await;
    let at = body["access_token"].as_str().unwrap();
    let ask = |client: &'static str, token: String| {
        let app = &app;
        async move {
            http()
                .post(app.url("/introspect"))
                .basic_auth(client, Some(SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = ask("rp", at.to_string()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "rp");
    assert_eq!(v["scope"], "openid profile");
    assert_eq!(v["iss"], app.issuer.as_str());
    assert_eq!(
        ask("other", at.to_string()).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        ask("rp", "nope".into()).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(revoke(&app, "rp", at).await, 200);
    assert_eq!(ask("rp", at.to_string()).await["active"], false);
    app.stop().await;
}

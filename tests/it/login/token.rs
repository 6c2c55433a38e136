//! The token endpoint: code exchange driven by the `openidconnect` crate,
//! single-use codes with replay revocation, PKCE, client authentication,
//! refresh-token rotation with reuse detection and client binding.

use openidconnect::{
    AuthorizationCode, Nonce, OAuth2TokenResponse, PkceCodeVerifier, TokenResponse,
};
use serde_json::Value;

use super::seed::{self, CHALLENGE, REDIRECT, SECRET, VERIFIER};
use crate::backend_tests;
use crate::support::{T0, TestApp, TestDb, http, rp};

backend_tests! {
    oidcc_server_code_exchange_with_openidconnect => exchange_with_library,
    oidcc_codereuse_revokes_tokens => code_reuse,
    token_pkce_and_redirect_uri_bound => pkce_and_redirect,
    token_client_authentication => client_authentication,
    oidcc_refresh_token_rotation_and_binding => refresh_rotation,
}

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.clients = vec![seed::client("rp"), seed::client("other")];
    })
    .await
}

async fn post(app: &TestApp, form: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = http()
        .post(app.url("/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn exchange_form<'a>(code: &'a str, client: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client),
        ("client_secret", SECRET),
    ]
}

/// Whether introspection (as the client it was issued to) calls it active.
async fn token_live(app: &TestApp, token: &str) -> bool {
    let res = reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["active"] == true
}

async fn exchange_with_library(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, sub) = seed::code(
        &app.state.store,
        "rp",
        "openid profile offline_access",
        Some("n-1"),
    );
    let client = rp::client(&app).await;
    // client_secret_basic (the library's default).
    let res = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(VERIFIER.into()))
        .request_async(&rp::http_client)
        .await
        .expect("token response");
    let at = chrono::DateTime::from_timestamp(T0 + 5, 0).unwrap();
    let verifier = client.id_token_verifier().set_time_fn(move || at);
    let id_token = res.id_token().expect("id_token");
    let claims = id_token
        .claims(&verifier, &Nonce::new("n-1".into()))
        .expect("valid ID token");
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "alice@social.test"
    );
    assert_eq!(claims.auth_time().unwrap().timestamp(), T0 - 10);
    assert!(
        res.refresh_token().is_some(),
        "offline_access gives a refresh token"
    );
    assert_eq!(res.expires_in().unwrap().as_secs(), 3600);
    assert!(token_live(&app, res.access_token().secret()).await);
    app.stop().await;
}

async fn code_reuse(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid offline_access", None);
    let (status, headers, body) = post(&app, &exchange_form(&code, "rp")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body.get("refresh_token").is_some());
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert!(token_live(&app, &access).await);
    let (status, _, body) = post(&app, &exchange_form(&code, "rp")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Every token issued from the replayed code is revoked.
    assert!(!token_live(&app, &access).await);
    assert!(!token_live(&app, &refresh).await);
    // An expired code is refused too.
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
    app.clock.set(T0 + 61);
    let (status, _, body) = post(&app, &exchange_form(&code, "rp")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    app.stop().await;
}

async fn pkce_and_redirect(db: TestDb) {
    let app = spawn(&db).await;
    let cases: [(&str, &str, Option<&str>); 4] = [
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-x",
            Some("invalid_grant"),
        ),
        (
            "redirect_uri",
            "https://rp.example/other",
            Some("invalid_grant"),
        ),
        ("client_id", "other", Some("invalid_grant")),
        ("code_verifier", VERIFIER, None),
    ];
    for (name, value, expected) in cases {
        let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
        let mut form = exchange_form(&code, "rp");
        form.retain(|(k, _)| *k != name);
        form.push((name, value));
        let (status, _, body) = post(&app, &form).await;
        match expected {
            Some(err) => assert_eq!(body["error"].as_str(), Some(err), "{name}={value}: {body}"),
            None => assert_eq!(status, 200, "{body}"),
        }
        // A request that fails a check does not spend the code: the
        // rightful client, with its verifier, still gets its tokens.
        if expected.is_some() {
            let (status, _, body) = post(&app, &exchange_form(&code, "rp")).await;
            assert_eq!(status, 200, "after {name}={value}: {body}");
        }
    }
    // No verifier for a code with a challenge.
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
    let mut form = exchange_form(&code, "rp");
    form.retain(|(k, _)| *k != "code_verifier");
    assert_eq!(post(&app, &form).await.2["error"], "invalid_grant");
    assert_eq!(CHALLENGE.len(), 43);
    app.stop().await;
}

async fn client_authentication(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
    let mut form = exchange_form(&code, "rp");
    form.retain(|(k, _)| *k != "client_secret");
    form.push(("client_secret", "wrong"));
    let (status, _, body) = post(&app, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Failed Basic authentication carries the Basic challenge.
    let res = http()
        .post(app.url("/token"))
        .basic_auth("rp", Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    // The code was not spent by failed authentication.
    let (status, _, body) = post(&app, &exchange_form(&code, "rp")).await;
    assert_eq!(status, 200, "{body}");
    // Unknown grant types, missing grant type, JSON bodies, repeated parameters.
    let (_, _, body) = post(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let (_, _, body) = post(&app, &[("client_id", "rp"), ("client_secret", SECRET)]).await;
    assert_eq!(body["error"], "invalid_request");
    let res = http()
        .post(app.url("/token"))
        .json(&serde_json::json!({"grant_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, _, body) = post(
        &app,
        &[
            ("grant_type", "a"),
            ("grant_type", "b"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_request");
    app.stop().await;
}

async fn refresh_rotation(db: TestDb) {
    let app = spawn(&db).await;
    let (code, _, _) = seed::code(
        &app.state.store,
        "rp",
        "openid profile offline_access",
        None,
    );
    let (_, _, body) = post(&app, &exchange_form(&code, "rp")).await;
    let r1 = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String, client: &'static str| {
        let app = &app;
        async move {
            post(
                app,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("client_id", client),
                    ("client_secret", SECRET),
                ],
            )
            .await
        }
    };
    // Another client cannot use it, and does not burn it.
    assert_eq!(
        refresh(r1.clone(), "other").await.2["error"],
        "invalid_grant"
    );
    let (status, _, body) = refresh(r1.clone(), "rp").await;
    assert_eq!(status, 200, "{body}");
    let r2 = body["refresh_token"].as_str().unwrap().to_string();
    let a2 = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    assert!(body["id_token"].is_string());
    // Narrowing the scope works; widening does not.
    let (_, _, narrow) = post(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2.as_str()),
            ("scope", "openid email"),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(narrow["error"], "invalid_scope");
    // The refused request did not spend it: the same token still rotates.
    let (status, _, body) = refresh(r2.clone(), "rp").await;
    assert_eq!(status, 200, "{body}");
    let r3 = body["refresh_token"].as_str().unwrap().to_string();
    let a3 = body["access_token"].as_str().unwrap().to_string();
    // Reusing the first token revokes the whole grant, the new tokens included.
    assert_eq!(refresh(r1, "rp").await.2["error"], "invalid_grant");
    assert!(!token_live(&app, &a2).await);
    assert!(!token_live(&app, &a3).await);
    assert_eq!(refresh(r2, "rp").await.2["error"], "invalid_grant");
    assert_eq!(refresh(r3, "rp").await.2["error"], "invalid_grant");
    app.stop().await;
}

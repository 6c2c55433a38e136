//! Pairwise subjects (OIDC Core §8.1): a client configured for them sees a
//! `sub` of its own sector, stable across logins, the same in the ID token,
//! userinfo and introspection, and unlike any other sector's; an
//! `id_token_hint` carrying it still allows a silent login.

use std::sync::Arc;

use mastodon_oidc::config::ClientConfig;
use serde_json::Value;

use super::seed::{self, REDIRECT, SECRET, VERIFIER, authorize_url};
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    pairwise_clients_see_their_own_stable_sub => pairwise,
}

fn pairwise_client(id: &str, sector: Option<&str>) -> ClientConfig {
    let mut c = seed::client(id);
    c.subject_type = mastodon_oidc::config::SubjectType::Pairwise;
    c.sector_identifier = sector.map(str::to_string);
    c.synthetic_email = true;
    c.scopes.push("email".into());
    c
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&mastodon_oidc::crypto::decode_base64(payload).unwrap()).unwrap()
}

async fn json(rb: reqwest::RequestBuilder) -> Value {
    rb.send().await.unwrap().json().await.unwrap()
}

/// The same authorization request, asking for `email` too.
fn with_email(url: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "scope" {
                "openid profile email".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// A whole login for `client` in browser `b`; (token response, ID-token claims).
async fn login(app: &TestApp, b: &mut Browser, client: &str) -> (Value, Value) {
    let page = b.get(&with_email(&authorize_url(app, client, &[]))).await;
    let loc = if page.status == 303 {
        page.location()
    } else {
        let up = app
            .submit_handle(b, &page.input("request"), "@alice@social.test")
            .await;
        let st = query(&up.location(), "state").unwrap();
        b.get(&app.url(&format!("/callback/{HOST}?code=good&state={st}")))
            .await
            .location()
    };
    let code = query(&loc, "code").expect("a code");
    let tokens = json(
        http()
            .post(app.url("/token"))
            .basic_auth(client, Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]),
    )
    .await;
    let id = claims(tokens["id_token"].as_str().expect("an ID token"));
    (tokens, id)
}

async fn pairwise(db: TestDb) {
    let mock = Arc::new(MockUpstream::default());
    let app = TestApp::spawn_full(
        &db,
        |c| {
            c.clients = vec![
                {
                    let mut rp = seed::client("rp");
                    rp.scopes.push("email".into());
                    rp
                },
                // Same redirect host as `rp`: the sector defaults to it.
                pairwise_client("pw-a", None),
                pairwise_client("pw-b", Some("other-sector.example")),
            ]
        },
        Some(mock),
    )
    .await;
    let mut b = Browser::default();
    let (_, public) = login(&app, &mut b, "rp").await;
    let (tokens_a, a) = login(&app, &mut b, "pw-a").await;
    let (_, b_claims) = login(&app, &mut b, "pw-b").await;
    let (public, sub_a, sub_b) = (
        public["sub"].as_str().unwrap().to_string(),
        a["sub"].as_str().unwrap().to_string(),
        b_claims["sub"].as_str().unwrap().to_string(),
    );
    assert_ne!(sub_a, public, "not the public subject");
    assert_ne!(sub_a, sub_b, "each sector its own");
    assert_eq!(sub_a.len(), 43, "an opaque 256-bit value");
    assert_eq!(
        a["email"],
        format!("{sub_a}@users.invalid"),
        "nothing leaks the public sub"
    );
    // Stable: another browser, another login, the same subject.
    let (_, again) = login(&app, &mut Browser::default(), "pw-a").await;
    assert_eq!(again["sub"], sub_a.as_str());
    // The same in userinfo and introspection.
    let access = tokens_a["access_token"].as_str().unwrap();
    let info = json(http().get(app.url("/userinfo")).bearer_auth(access)).await;
    assert_eq!(info["sub"], sub_a.as_str());
    let intro = json(
        http()
            .post(app.url("/introspect"))
            .basic_auth("pw-a", Some(SECRET))
            .form(&[("token", access)]),
    )
    .await;
    assert_eq!(intro["sub"], sub_a.as_str());
    // A hint with the pairwise sub names the person of the session.
    let hint = tokens_a["id_token"].as_str().unwrap();
    let silent = b
        .get(&authorize_url(
            &app,
            "pw-a",
            &[("prompt", "none"), ("id_token_hint", hint)],
        ))
        .await;
    assert_eq!(silent.status, 303);
    assert!(
        query(&silent.location(), "code").is_some(),
        "{}",
        silent.location()
    );
    let doc = json(http().get(app.url("/.well-known/openid-configuration"))).await;
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public", "pairwise"])
    );
}

//! Any replica finishes any flow: two instances of the service on one
//! database (the issuer is the load balancer's, shared), each hop of a login
//! sent to the other instance.

use std::sync::Arc;

use super::seed;
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    a_flow_started_on_one_replica_completes_on_the_other => across_replicas,
}

async fn across_replicas(db: TestDb) {
    let mock = Arc::new(MockUpstream::default());
    let a = TestApp::spawn_full(
        &db,
        |c| c.clients = vec![seed::client("rp")],
        Some(mock.clone()),
    )
    .await;
    let issuer = a.issuer.clone();
    let b = TestApp::spawn_full(
        &db,
        |c| {
            c.clients = vec![seed::client("rp")];
            c.issuer = Some(issuer.clone());
        },
        Some(mock.clone()),
    )
    .await;
    // The second replica's own address; it answers as the shared issuer.
    let b_addr = b.state.config.listen.clone();
    let on_b = |path: &str| format!("http://{b_addr}{path}");
    let mut browser = Browser::default();
    let u = seed::authorize_url(&a, "rp", &[]);
    let page = browser.get(&u).await;
    assert_eq!(page.status, 200);
    // Handle form on B, callback on A, token on B, userinfo on A.
    let up = browser
        .post(
            &on_b("/login"),
            &[
                ("request", &page.input("request")),
                ("handle", "alice@social.test"),
            ],
        )
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    let st = query(&up.location(), "state").unwrap();
    let back = browser
        .get(&a.url(&format!("/callback/{HOST}?code=good&state={st}")))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    let loc = back.location();
    assert_eq!(query(&loc, "iss").as_deref(), Some(issuer.as_str()));
    let code = query(&loc, "code").unwrap();
    let tokens = seed::redeem_at(&format!("http://{b_addr}"), &code).await;
    let at = tokens["access_token"]
        .as_str()
        .expect("tokens from replica B");
    let ui = http()
        .get(a.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    // Both replicas sign with the same keys: B's ID token verifies with A's JWKS.
    let kid = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert!(a.state.keys.snapshot().kids().contains(&kid));
    // The session started through A gives single sign-on on B.
    let sso = browser
        .get(&u.replace(&issuer, &format!("http://{b_addr}")))
        .await;
    assert_eq!(sso.status, 303);
    assert!(query(&sso.location(), "code").is_some());
    a.stop().await;
    b.stop().await;
}

//! Expired rows go; live ones stay; used codes linger for replay detection.

use mastodon_oidc::config::TokenConfig;
use mastodon_oidc::housekeeping::{CODE_REPLAY_WINDOW_SECS, sweep};
use mastodon_oidc::store::{
    self, auth_requests::AuthRequestRow, sessions::SessionRow, signups::SignupRow,
};

use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    sweep_removes_expired_rows_only => sweep_expired,
}

async fn sweep_expired(db: TestDb) {
    let s = db.store();
    let req = |id: &str, expires_at| AuthRequestRow {
        id: id.into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: None,
        upstream_data: None,
        created_at: T0,
        expires_at,
    };
    let session = |id: &str, expires_at| SessionRow {
        id: id.into(),
        sub: "s".into(),
        auth_time: T0,
        created_at: T0,
        expires_at,
    };
    let signup = |id: &str, expires_at| SignupRow {
        id: id.into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: "x.example".into(),
        upstream_data: vec![],
        username: "u".into(),
        email: "u@example.org".into(),
        created_at: T0,
        expires_at,
    };
    let code = |hash: &str, expires_at| store::codes::CodeRow {
        hash: hash.into(),
        grant_id: "g".into(),
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        code_challenge: None,
        nonce: None,
        scope: "openid".into(),
        claims: None,
        auth_time: T0,
        created_at: T0,
        expires_at,
        redeemed_at: None,
    };
    s.write(move |c| {
        store::auth_requests::insert(c, &req("old", T0 + 10))?;
        store::auth_requests::insert(c, &req("live", T0 + 1000))?;
        store::sessions::insert(c, &session("old", T0 + 10))?;
        store::sessions::insert(c, &session("live", T0 + 1000))?;
        store::signups::insert(c, &signup("old", T0 + 10))?;
        store::signups::insert(c, &signup("live", T0 + 7 * 86_400))?;
        store::codes::insert(c, &code("recent", T0 + 60))?;
        store::codes::insert(c, &code("ancient", T0 - CODE_REPLAY_WINDOW_SECS))
    })
    .await
    .unwrap();
    let swept = sweep(&s, T0 + 100, &TokenConfig::default()).await.unwrap();
    assert_eq!(swept.auth_requests, 1);
    assert_eq!(swept.sessions, 1);
    assert_eq!(swept.signups, 1, "a week-long sign-up stays");
    assert_eq!(
        swept.codes, 1,
        "a code that expired a minute ago is kept for replay detection"
    );
    assert!(
        s.run(|c| store::auth_requests::get(c, "live", T0 + 100))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.run(|c| store::sessions::get_live(c, "live", T0 + 100))
            .await
            .unwrap()
            .is_some()
    );
    let again = sweep(&s, T0 + 100, &TokenConfig::default()).await.unwrap();
    assert_eq!(again.total(), 0);
}

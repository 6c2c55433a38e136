//! Expired rows go; live ones stay; used codes linger for replay detection;
//! big backlogs go in batches; server rows that never became useful go.

use mastodon_oidc::config::TokenConfig;
use mastodon_oidc::housekeeping::{BATCH, CODE_REPLAY_WINDOW_SECS, STALE_SERVER_SECS, sweep};
use mastodon_oidc::store::{
    self, auth_requests::AuthRequestRow, sessions::SessionRow, signups::SignupRow,
};

use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    sweep_removes_expired_rows_only => sweep_expired,
    sweep_deletes_a_backlog_in_batches => sweep_in_batches,
    sweep_forgets_servers_that_never_worked => sweep_stale_servers,
}

fn request(id: &str, expires_at: i64) -> AuthRequestRow {
    AuthRequestRow {
        id: id.into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: None,
        upstream_data: None,
        created_at: T0,
        expires_at,
    }
}

async fn sweep_in_batches(db: TestDb) {
    let s = db.store();
    let backlog = 2 * BATCH as usize + 7;
    s.write(move |c| {
        for i in 0..backlog {
            store::auth_requests::insert(c, &request(&format!("old-{i}"), T0 + 10))?;
        }
        store::auth_requests::insert(c, &request("live", T0 + 1000))
    })
    .await
    .unwrap();
    let commits = s.commits();
    let swept = sweep(&s, T0 + 100, &TokenConfig::default()).await.unwrap();
    assert_eq!(swept.auth_requests, backlog);
    // Three batches for that table, one empty batch for each other one.
    assert!(s.commits() - commits >= 3 + 7, "{}", s.commits() - commits);
    assert!(
        s.run(|c| store::auth_requests::get(c, "live", T0 + 100))
            .await
            .unwrap()
            .is_some()
    );
}

async fn sweep_stale_servers(db: TestDb) {
    let s = db.store();
    let old = T0 - STALE_SERVER_SECS - 10;
    s.write(move |c| {
        // A typo that failed on first contact long ago.
        store::servers::record_error(c, "typo.example", "could not be reached", old)?;
        // The same, but recently: an operator may still want to see it.
        store::servers::record_error(c, "recent.example", "could not be reached", T0 - 60)?;
        // A server with our app, idle for as long.
        store::servers::ensure(c, "real.example", old)?;
        store::servers::save_app(c, "real.example", "id", b"sealed", "profile", old)?;
        // One that worked once and then failed.
        store::servers::ensure(c, "flaky.example", old)?;
        store::servers::record_success(c, "flaky.example", old)?;
        store::servers::record_error(c, "flaky.example", "timeout", old)
    })
    .await
    .unwrap();
    let swept = sweep(&s, T0, &TokenConfig::default()).await.unwrap();
    assert_eq!(swept.servers, 1);
    let hosts: Vec<String> = s
        .run(store::servers::list)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(hosts, ["flaky.example", "real.example", "recent.example"]);
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

//! Refusals: account states, unknown accounts, bad input, and servers that
//! are down, slow or answer HTML, all within bounded time and without
//! echoing upstream bodies.

use std::time::{Duration, Instant};

use mastodon_oidc::store::servers;
use mastodon_oidc::upstream::{AccountRefusal, LoginInput, Upstream, UpstreamError};

use super::Leg;
use crate::backend_tests;
use crate::fake_mastodon::{AccountState, FakeConfig, Profile};
use crate::support::TestDb;

fn input(typed: &str) -> LoginInput {
    LoginInput {
        typed: typed.into(),
        ..Default::default()
    }
}

async fn account_states_map_to_refusals(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let cases = [
        (AccountState::Unconfirmed, AccountRefusal::Unconfirmed),
        (AccountState::Pending, AccountRefusal::PendingApproval),
        (AccountState::Disabled, AccountRefusal::Disabled),
        // Mastodon says "Your login is currently disabled" for these too (spec §4).
        (AccountState::Suspended, AccountRefusal::Disabled),
        (AccountState::Moved, AccountRefusal::Disabled),
    ];
    for (state, want) in cases {
        // Non-functional users never get a callback from Mastodon; the state
        // changes between consent and our verify_credentials call.
        leg.fake.set_account_state("alice", AccountState::Active);
        let begin = leg
            .up
            .begin(&input("@alice@social.test"), "s")
            .await
            .expect("begin");
        let query = leg.authorize(&begin.redirect_to).await;
        leg.fake.set_account_state("alice", state);
        let r = leg.up.complete("social.test", &begin.stored, &query).await;
        assert!(
            matches!(r, Err(UpstreamError::AccountRefused(got)) if got == want),
            "{state:?}: {r:?}"
        );
    }
    leg.fake.set_account_state("alice", AccountState::Active);
    leg.login("@alice@social.test").await.expect("active again");
}

async fn unknown_account_and_bad_input(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let r = leg.up.begin(&input("@nobody@social.test"), "s").await;
    assert!(matches!(r, Err(UpstreamError::NotFound(_))), "{r:?}");
    leg.fake.clear_calls();
    for typed in [
        "a@b@c",
        "javascript:alert(1)",
        "https://u:p@social.test/",
        "localhost",
    ] {
        let r = leg.up.begin(&input(typed), "s").await;
        assert!(
            matches!(r, Err(UpstreamError::InvalidInput(_))),
            "{typed}: {r:?}"
        );
    }
    assert!(
        leg.fake.all_calls().is_empty(),
        "bad input never reaches the network"
    );
}

async fn down_server_is_unavailable(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.fake.set_down(true);
    let r = leg.up.begin(&input("social.test"), "s").await;
    let Err(UpstreamError::Unavailable(msg)) = r else {
        panic!("expected Unavailable, got {r:?}");
    };
    assert!(!msg.contains('<'), "no upstream body in the message: {msg}");
    assert!(
        !msg.contains("503"),
        "no upstream status in the message: {msg}"
    );
    let row = leg
        .store
        .run(|c| servers::get(c, "social.test"))
        .await
        .expect("row")
        .expect("server row");
    assert!(row.last_error.is_some());
    leg.fake.set_down(false);
    leg.login("@alice@social.test").await.expect("back up");
}

async fn html_garbage_is_unavailable(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon43));
    leg.fake.set_html_garbage(true);
    for typed in ["@alice@social.test", "social.test"] {
        let r = leg.up.begin(&input(typed), "s").await;
        let Err(UpstreamError::Unavailable(msg)) = r else {
            panic!("{typed}: expected Unavailable, got {r:?}");
        };
        assert!(!msg.contains("nginx"), "{msg}");
    }
}

async fn slow_server_is_unavailable_in_bounded_time(db: TestDb) {
    let leg = Leg::start_with(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.request_timeout_secs = 1
    });
    leg.fake.set_delay(Duration::from_secs(3));
    let started = Instant::now();
    let r = leg.up.begin(&input("@alice@social.test"), "s").await;
    assert!(matches!(r, Err(UpstreamError::Unavailable(_))), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
}

/// Servers that say more (flags on the account, or a specific message).
async fn suspended_and_moved_when_the_server_says_so(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let path = "/api/v1/accounts/verify_credentials";
    let cases = [
        (
            200,
            r#"{"id":"1","username":"alice","moved":{"id":"2","username":"alice"}}"#,
            AccountRefusal::Moved,
        ),
        (
            200,
            r#"{"id":"1","username":"alice","suspended":true}"#,
            AccountRefusal::Suspended,
        ),
        (
            403,
            r#"{"error":"Your account is suspended"}"#,
            AccountRefusal::Suspended,
        ),
    ];
    for (status, body, want) in cases {
        leg.fake
            .force_response("GET", path, status, "application/json", body, Some(1));
        let r = leg.login("@alice@social.test").await;
        assert!(
            matches!(r, Err(UpstreamError::AccountRefused(got)) if got == want),
            "{body}: {r:?}"
        );
    }
    leg.fake.force_response(
        "GET",
        path,
        403,
        "application/json",
        r#"{"error":"This action is outside the authorized scopes"}"#,
        Some(1),
    );
    let r = leg.login("@alice@social.test").await;
    assert!(matches!(r, Err(UpstreamError::Unavailable(_))), "{r:?}");
}

async fn deleted_account_is_not_found_without_fallback(db: TestDb) {
    let mut fake = FakeConfig::new(Profile::Mastodon44);
    fake.deleted_usernames = vec!["bob".into()];
    let leg = Leg::start(&db, fake);
    let r = leg.up.begin(&input("@bob@social.test"), "s").await;
    assert!(matches!(r, Err(UpstreamError::NotFound(_))), "{r:?}");
    // 410 is final: no host-meta detour, no app registration.
    assert_eq!(leg.fake.count("GET", "/.well-known/host-meta"), 0);
    assert_eq!(leg.apps_posts(), 0);
}

backend_tests!(
    deleted_account => deleted_account_is_not_found_without_fallback,
    refusal_flags => suspended_and_moved_when_the_server_says_so,
    account_states => account_states_map_to_refusals,
    not_found_and_invalid => unknown_account_and_bad_input,
    down => down_server_is_unavailable,
    html => html_garbage_is_unavailable,
    slow => slow_server_is_unavailable_in_bounded_time,
);

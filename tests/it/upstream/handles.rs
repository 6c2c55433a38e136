//! Handles: LOCAL_DOMAIN vs WEB_DOMAIN, and the canonical rule: the API
//! host's WebFinger subject names the domain, which counts only when its own
//! WebFinger points back at the account; the typed domain decides nothing.

use mastodon_oidc::store::servers;
use mastodon_oidc::upstream::{Identity, LoginInput, Upstream};

use super::{ISSUER, Leg};
use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeUser, Profile};
use crate::support::TestDb;

async fn handle_domain_differs_from_api_host(db: TestDb) {
    let fake = FakeConfig::new(Profile::Mastodon44)
        .web_domain("mastodon.test")
        .local_domain("example.test");
    let leg = Leg::start(&db, fake);
    let id = leg.login("@alice@example.test").await.expect("login");
    assert_eq!(id.server_host, "mastodon.test");
    assert_eq!(id.handle, "alice@example.test");
    let reg = leg.fake.last("POST", "/api/v1/apps").expect("registered");
    assert_eq!(reg.host(), "mastodon.test");
    assert_eq!(
        reg.body_param("redirect_uris"),
        Some(format!("{ISSUER}/callback/mastodon.test").as_str())
    );
    // Typing the server name or the WEB_DOMAIN handle still yields the
    // LOCAL_DOMAIN handle, once WebFinger there confirms it.
    let id = leg.login("mastodon.test").await.expect("login by server");
    assert_eq!(id.handle, "alice@example.test");
    let id = leg
        .login("@alice@mastodon.test")
        .await
        .expect("login by web domain");
    assert_eq!(id.handle, "alice@example.test");
}

/// WEB_DOMAIN `mastodon.test`, LOCAL_DOMAIN `example.test`, users alice and bob.
fn split_domains(profile: Profile) -> FakeConfig {
    FakeConfig::new(profile)
        .web_domain("mastodon.test")
        .local_domain("example.test")
        .users(vec![
            FakeUser::new(ALICE_ID, "alice"),
            FakeUser::new("109000000000000002", "bob"),
        ])
}

async fn forget_server(leg: &Leg, host: &'static str) {
    leg.store
        .write(move |c| servers::delete(c, host))
        .await
        .expect("reset server row");
}

/// A catch-all WebFinger on the handle's domain (every name there is bob)
/// must not make whoever logs in at the server it points to `name@domain`.
async fn catch_all_webfinger_lends_no_handle(db: TestDb) {
    for profile in [Profile::Mastodon44, Profile::GoToSocial] {
        let leg = Leg::start(&db, split_domains(profile));
        forget_server(&leg, "mastodon.test").await;
        for typed in [
            "@alice@example.test",
            "@alice@mastodon.test",
            "mastodon.test",
        ] {
            let id = leg.login(typed).await.expect("login");
            assert_eq!(id.handle, "alice@example.test", "{profile:?} {typed}");
        }
        drop(leg);
        let leg = Leg::start(&db, split_domains(profile).webfinger_catch_all("bob"));
        forget_server(&leg, "mastodon.test").await;
        for typed in ["@bob@example.test", "@alice@example.test", "mastodon.test"] {
            let id = leg.login(typed).await.expect("login");
            assert_eq!(id.username, "alice", "{profile:?} {typed}");
            assert_eq!(id.handle, "alice@mastodon.test", "{profile:?} {typed}");
        }
    }
}

/// Log in typing `typed`; the account and the WebFinger requests the
/// callback made settling its handle (a redirected lookup counts twice).
async fn login_counting(leg: &Leg, typed: &str) -> (Identity, usize) {
    let input = LoginInput {
        typed: typed.into(),
        ..Default::default()
    };
    let begin = leg.up.begin(&input, "s").await.expect("begin");
    let query = leg.authorize(&begin.redirect_to).await;
    leg.fake.clear_calls();
    let id = leg
        .up
        .complete(&begin.server_host, &begin.stored, &query)
        .await
        .expect("complete")
        .identity;
    (id, leg.fake.count("GET", "/.well-known/webfinger"))
}

/// A domain whose WebFinger echoes every `acct:name@vouch.test` to the
/// server's `name` lends itself to no one: the handle takes the server's
/// canonical domain (its subject), with or without `uri` (GoToSocial).
async fn echoing_domain_lends_no_handle(db: TestDb) {
    for profile in [Profile::Mastodon44, Profile::GoToSocial] {
        let one = FakeConfig::new(profile)
            .web_domain("mastodon.test")
            .webfinger_echo("vouch.test");
        let leg = Leg::start(&db, one);
        forget_server(&leg, "mastodon.test").await;
        // One lookup: mastodon.test's subject is mastodon.test.
        let (id, lookups) = login_counting(&leg, "@alice@vouch.test").await;
        assert_eq!(id.handle, "alice@mastodon.test", "{profile:?}");
        assert_eq!(lookups, 1, "{profile:?}");
        drop(leg);
        let leg = Leg::start(&db, split_domains(profile).webfinger_echo("vouch.test"));
        forget_server(&leg, "mastodon.test").await;
        // The subject (example.test), confirmed there (a 301 to mastodon.test).
        let (id, lookups) = login_counting(&leg, "@alice@vouch.test").await;
        assert_eq!(id.handle, "alice@example.test", "{profile:?}");
        assert_eq!(lookups, 3, "{profile:?}");
    }
}

/// Requests the callback spends on the handle, per way of typing it.
async fn canonical_handle_lookups(db: TestDb) {
    for profile in [Profile::Mastodon44, Profile::GoToSocial] {
        let leg = Leg::start(&db, FakeConfig::new(profile));
        forget_server(&leg, "social.test").await;
        for typed in ["@alice@social.test", "social.test"] {
            let (id, lookups) = login_counting(&leg, typed).await;
            assert_eq!(id.handle, "alice@social.test", "{profile:?} {typed}");
            assert_eq!(lookups, 0, "{profile:?} {typed}");
        }
        drop(leg);
        let leg = Leg::start(&db, split_domains(profile));
        forget_server(&leg, "mastodon.test").await;
        // The LOCAL_DOMAIN handle: the API host's subject, confirmed by what
        // `begin` learned at example.test. Otherwise example.test is asked
        // too (its 301 to mastodon.test counting as a second request).
        for (typed, expected) in [
            ("@alice@example.test", 1),
            ("@alice@mastodon.test", 3),
            ("mastodon.test", 3),
        ] {
            let (id, lookups) = login_counting(&leg, typed).await;
            assert_eq!(id.handle, "alice@example.test", "{profile:?} {typed}");
            assert_eq!(lookups, expected, "{profile:?} {typed}");
        }
    }
}

async fn unconfirmed_handle_domain_is_not_claimed(db: TestDb) {
    let fake = FakeConfig::new(Profile::Mastodon44)
        .web_domain("mastodon.test")
        .local_domain("example.test");
    let leg = Leg::start(&db, fake);
    let input = LoginInput {
        typed: "mastodon.test".into(),
        ..Default::default()
    };
    let begin = leg.up.begin(&input, "s").await.expect("begin");
    let query = leg.authorize(&begin.redirect_to).await;
    // The domain the instance API names does not vouch for the account.
    leg.fake
        .force_response("GET", "/.well-known/webfinger", 404, "text/plain", "", None);
    leg.fake
        .force_response("GET", "/.well-known/host-meta", 404, "text/plain", "", None);
    let id = leg
        .up
        .complete("mastodon.test", &begin.stored, &query)
        .await
        .expect("complete")
        .identity;
    assert_eq!(id.handle, "alice@mastodon.test");
    assert!(leg.fake.count("GET", "/.well-known/webfinger") >= 1);
}

backend_tests!(
    local_domain => handle_domain_differs_from_api_host,
    catch_all_webfinger => catch_all_webfinger_lends_no_handle,
    unconfirmed_handle => unconfirmed_handle_domain_is_not_claimed,
    echoing_domain => echoing_domain_lends_no_handle,
    handle_lookups => canonical_handle_lookups,
);

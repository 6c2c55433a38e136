//! Handles: LOCAL_DOMAIN vs WEB_DOMAIN, and a handle's domain named only
//! when its WebFinger describes the account that logged in.

use mastodon_oidc::store::servers;
use mastodon_oidc::upstream::{LoginInput, Upstream};

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
        for typed in ["@alice@example.test", "mastodon.test"] {
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
);

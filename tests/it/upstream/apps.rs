//! One app per server: reused across logins and replicas, one registration
//! under a burst of first logins, re-registered once when forgotten, and a
//! 429 remembered instead of retried, kept alive through Mastodon 4.2's
//! vacuum. Capabilities are cached with expiry.

use mastodon_oidc::store::servers;
use mastodon_oidc::upstream::{LoginInput, Upstream, UpstreamError};

use super::Leg;
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::support::TestDb;

fn input() -> LoginInput {
    LoginInput {
        typed: "@alice@social.test".into(),
        ..Default::default()
    }
}

async fn app_is_registered_once_and_reused(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon42));
    for _ in 0..3 {
        leg.login("@alice@social.test").await.expect("login");
    }
    assert_eq!(leg.apps_posts(), 1);
    // Another replica on the same database reuses it too.
    let other = Leg::upstream(&leg.config, &leg.store, &leg.sealer, &leg.clock);
    other.begin(&input(), "s").await.expect("begin on replica");
    assert_eq!(leg.apps_posts(), 1);
    // The secret is sealed at rest.
    let row = leg
        .store
        .run(|c| servers::get(c, "social.test"))
        .await
        .expect("row")
        .expect("server row");
    let app = leg.fake.apps().into_iter().next().expect("fake app");
    let secret = app.client_secret;
    assert_eq!(row.app_client_id.as_deref(), Some(app.client_id.as_str()));
    // Sign-up is on by default: the one app may also create accounts.
    assert_eq!(app.scopes, ["read:accounts", "write:accounts"]);
    let sealed = row.app_secret.expect("sealed secret");
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert_eq!(
        row.app_scopes.as_deref(),
        Some("read:accounts write:accounts")
    );
    assert!(row.last_success_at.is_some());
}

async fn fifty_concurrent_first_logins_register_once(db: TestDb) {
    let leg = Leg::start(
        &db,
        FakeConfig::new(Profile::Mastodon44).apps_rate_limit(None),
    );
    let replica = Leg::upstream(&leg.config, &leg.store, &leg.sealer, &leg.clock);
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async {
            let mut handles = Vec::new();
            for i in 0..50 {
                let up = if i % 2 == 0 {
                    leg.up.clone()
                } else {
                    replica.clone()
                };
                handles.push(tokio::task::spawn_local(async move {
                    up.begin(&input(), &format!("s{i}")).await
                }));
            }
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.expect("task"));
            }
            out
        })
        .await;
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(leg.apps_posts(), 1);
    let ids: std::collections::BTreeSet<String> = results
        .into_iter()
        .filter_map(Result::ok)
        .map(|b| {
            b.redirect_to
                .query_pairs()
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every login uses the one app");
}

async fn forgotten_app_is_registered_again_once(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon42));
    leg.login("@alice@social.test").await.expect("first login");
    leg.fake.revoke_all_apps();
    // The next check finds it gone (within the interval, the code exchange would).
    leg.clock.advance(CHECK_INTERVAL);
    leg.login("@alice@social.test")
        .await
        .expect("login after the server forgot our app");
    assert_eq!(leg.apps_posts(), 2);
    leg.login("@alice@social.test").await.expect("third login");
    assert_eq!(leg.apps_posts(), 2);
}

/// How often a stored app is checked at most (`apps::CHECK_EVERY_SECS`).
const CHECK_INTERVAL: i64 = 900;

fn client_credentials(leg: &Leg) -> usize {
    leg.fake
        .calls("POST", "/oauth/token")
        .iter()
        .filter(|c| c.body_param("grant_type") == Some("client_credentials"))
        .count()
}

async fn app_is_checked_once_per_interval(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.login("@alice@social.test").await.expect("first login");
    assert_eq!(client_credentials(&leg), 1, "at registration");
    leg.clock.advance(CHECK_INTERVAL - 1);
    leg.login("@alice@social.test").await.expect("login");
    assert_eq!(
        client_credentials(&leg),
        1,
        "its code exchange proved it alive"
    );
    // The exchange just now counts as seeing it work.
    leg.clock.advance(CHECK_INTERVAL - 1);
    leg.up.begin(&input(), "s").await.expect("begin");
    assert_eq!(client_credentials(&leg), 1, "still within the interval");
    leg.clock.advance(2);
    leg.up.begin(&input(), "s").await.expect("begin");
    assert_eq!(
        client_credentials(&leg),
        2,
        "checked again after the interval"
    );
    leg.up.begin(&input(), "s").await.expect("begin");
    assert_eq!(client_credentials(&leg), 2);
}

async fn app_gone_at_code_exchange_is_forgotten(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let begin = leg.up.begin(&input(), "s").await.expect("begin");
    let query = leg.authorize(&begin.redirect_to).await;
    leg.fake.revoke_all_apps();
    let r = leg.up.complete("social.test", &begin.stored, &query).await;
    assert!(matches!(r, Err(UpstreamError::Unavailable(_))), "{r:?}");
    let row = leg
        .store
        .run(|c| servers::get(c, "social.test"))
        .await
        .expect("row")
        .expect("server row");
    assert!(row.app_client_id.is_none(), "the dead app is forgotten");
    leg.login("@alice@social.test").await.expect("next login");
    assert_eq!(leg.apps_posts(), 2);
}

async fn rate_limited_registration_is_remembered(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.fake.set_apps_rate_limited(true);
    let r = leg.up.begin(&input(), "s").await;
    let Err(UpstreamError::RateLimited { retry_after_secs }) = r else {
        panic!("expected RateLimited, got {r:?}");
    };
    assert!((1..=600).contains(&retry_after_secs), "{retry_after_secs}");
    assert_eq!(leg.apps_posts(), 1);
    // No retry storm: the next logins are refused without asking again.
    for _ in 0..3 {
        let r = leg.up.begin(&input(), "s").await;
        assert!(matches!(r, Err(UpstreamError::RateLimited { .. })), "{r:?}");
    }
    assert_eq!(leg.apps_posts(), 1);
    let row = leg
        .store
        .run(|c| servers::get(c, "social.test"))
        .await
        .expect("row")
        .expect("server row");
    assert!(row.blocked_until.is_some());
    assert!(row.last_error.is_some(), "outcome recorded for operators");
    // After the window the registration goes through.
    leg.fake.set_apps_rate_limited(false);
    leg.clock.advance(retry_after_secs as i64 + 1);
    leg.login("@alice@social.test")
        .await
        .expect("login after back-off");
    assert_eq!(leg.apps_posts(), 2);
}

/// Mastodon 4.2.0–4.2.8 deletes apps a day old without live tokens; the
/// client-credentials token taken at registration keeps ours.
async fn app_outlives_the_42_vacuum(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon42));
    leg.login("@alice@social.test").await.expect("login");
    leg.clock.advance(86_400 + 60);
    leg.fake.run_vacuum();
    assert_eq!(leg.fake.apps().len(), 1, "our app survived the night");
    leg.login("@alice@social.test")
        .await
        .expect("login the next day");
    assert_eq!(leg.apps_posts(), 1);
}

async fn capabilities_are_cached_until_expiry(db: TestDb) {
    let leg = Leg::start_with(&db, FakeConfig::new(Profile::Mastodon43), |c| {
        c.capabilities_ttl_secs = 3600
    });
    leg.login("@alice@social.test").await.expect("login");
    leg.login("@alice@social.test").await.expect("login");
    assert_eq!(leg.fake.count("GET", "/api/v2/instance"), 1);
    assert_eq!(
        leg.fake
            .count("GET", "/.well-known/oauth-authorization-server"),
        1
    );
    let row = leg
        .store
        .run(|c| servers::get(c, "social.test"))
        .await
        .expect("row")
        .expect("server row");
    assert_eq!(row.software.as_deref(), Some("mastodon"));
    leg.clock.advance(3601);
    leg.login("@alice@social.test").await.expect("login");
    assert_eq!(leg.fake.count("GET", "/api/v2/instance"), 2);
}

backend_tests!(
    registered_once => app_is_registered_once_and_reused,
    concurrent_first_logins => fifty_concurrent_first_logins_register_once,
    reregister => forgotten_app_is_registered_again_once,
    check_interval => app_is_checked_once_per_interval,
    app_gone_at_exchange => app_gone_at_code_exchange_is_forgotten,
    rate_limited => rate_limited_registration_is_remembered,
    capabilities_cache => capabilities_are_cached_until_expiry,
    vacuum_42 => app_outlives_the_42_vacuum,
);

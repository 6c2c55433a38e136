//! Instance information: `/api/v2/instance`, else `/api/v1/instance`
//! (Mastodon < 4.0, some GoToSocial versions) with its other field names,
//! for the handle's domain at login and the rules at sign-up.

use mastodon_oidc::upstream::{Registrations, Upstream};

use super::Leg;
use crate::backend_tests;
use crate::fake_mastodon::{self, FakeConfig, Profile};
use crate::support::TestDb;

backend_tests! {
    instance_v1_when_v2_is_missing => v1_fallback,
}

async fn v1_fallback(db: TestDb) {
    let mut fake = FakeConfig::new(Profile::Mastodon42)
        .web_domain("mastodon.test")
        .local_domain("example.test")
        .registrations(fake_mastodon::Registrations {
            approval_required: true,
            ..Default::default()
        });
    fake.title = "Old Mastodon".into();
    let leg = Leg::start(&db, fake);
    let not_found = r#"{"error":"Record not found"}"#;
    leg.fake.force_response(
        "GET",
        "/api/v2/instance",
        404,
        "application/json",
        not_found,
        None,
    );

    // v1 `uri` is LOCAL_DOMAIN: the handle gets it, once WebFinger there agrees.
    let id = leg.login("mastodon.test").await.expect("login");
    assert_eq!(id.handle, "alice@example.test");
    assert_eq!(leg.fake.count("GET", "/api/v1/instance"), 1);

    // Sign-up reads title and registrations from v1's top-level fields.
    let rules = leg.up.signup_rules("mastodon.test").await.expect("rules");
    assert_eq!(rules.title.as_deref(), Some("Old Mastodon"));
    assert_eq!(rules.registrations, Registrations::Open);
    assert!(rules.approval_required);
    assert_eq!(rules.domain, "example.test");
    assert_eq!(leg.fake.count("GET", "/api/v1/instance"), 2);

    leg.fake.set_registrations(fake_mastodon::Registrations {
        enabled: false,
        ..Default::default()
    });
    let rules = leg.up.signup_rules("mastodon.test").await.expect("rules");
    assert!(
        matches!(rules.registrations, Registrations::Closed { .. }),
        "{:?}",
        rules.registrations
    );
    assert!(!rules.approval_required);
}

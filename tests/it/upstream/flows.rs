//! The whole leg per profile: identity fields, scopes, PKCE, revocation,
//! the typed forms, force_login and lang.

use mastodon_oidc::upstream::{CallbackQuery, LoginInput, Upstream, UpstreamError};

use mastodon_oidc::mastodon::oauth::TOKEN_SEAL;
use mastodon_oidc::store::servers;

use super::{ALL, ISSUER, Leg};
use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeUser, Profile};
use crate::support::TestDb;

fn expected_scope(p: Profile) -> &'static str {
    match p {
        Profile::Mastodon43 | Profile::Mastodon44 => "profile",
        Profile::Mastodon42 | Profile::GoToSocial => "read:accounts",
    }
}

async fn whole_leg_per_profile(db: TestDb) {
    for profile in ALL {
        let mut alice = FakeUser::new(ALICE_ID, "alice").with_role("Moderator");
        alice.locked = true;
        alice.avatar = Some("http://social.test/system/alice.png".into());
        let leg = Leg::start(&db, FakeConfig::new(profile).users(vec![alice]));
        // Same host name for every profile: forget what the last one taught us.
        leg.store
            .write(|c| servers::delete(c, "social.test"))
            .await
            .expect("reset server row");
        let verified = leg
            .login_verified("@alice@social.test")
            .await
            .unwrap_or_else(|e| panic!("{profile:?}: {e}"));
        assert_eq!(verified.sealed_token, None, "not kept by default");
        let id = verified.identity;
        assert_eq!(id.server_host, "social.test", "{profile:?}");
        assert_eq!(id.account_id, ALICE_ID, "{profile:?}");
        assert_eq!(id.username, "alice");
        assert_eq!(id.handle, "alice@social.test");
        assert_eq!(id.display_name.as_deref(), Some("Alice"));
        assert!(
            id.profile_url
                .as_deref()
                .is_some_and(|u| u.contains("alice"))
        );
        assert!(!id.bot);
        assert!(id.locked, "{profile:?}");
        assert_eq!(
            id.avatar.as_deref(),
            Some("http://social.test/system/alice.png")
        );
        assert_eq!(id.created_at.as_deref(), Some("2022-11-15T00:00:00.000Z"));
        assert_eq!(id.role.as_deref(), Some("Moderator"), "{profile:?}");
        if profile != Profile::GoToSocial {
            assert!(
                id.actor_uri
                    .as_deref()
                    .is_some_and(|u| u.contains("social.test")),
                "{profile:?}: {:?}",
                id.actor_uri
            );
        }

        // App registration: once, scopes and redirect_uris as plain strings.
        let posts = leg.fake.calls("POST", "/api/v1/apps");
        assert_eq!(posts.len(), 1, "{profile:?}");
        let reg = &posts[0];
        // Registered for logins and sign-ups alike; a login asks only for its scope.
        let registered = format!("{} write:accounts", expected_scope(profile));
        assert_eq!(reg.body_param("scopes"), Some(registered.as_str()));
        assert_eq!(
            reg.body_param("redirect_uris"),
            Some(format!("{ISSUER}/callback/social.test").as_str())
        );
        assert!(
            reg.body.iter().all(|(k, _)| !k.ends_with("[]")),
            "{:?}",
            reg.body
        );
        assert_eq!(
            reg.body_param("client_name"),
            Some(leg.config.client_name.as_str())
        );

        // A client-credentials token right after registering; then the code.
        let tokens = leg.fake.calls("POST", "/oauth/token");
        assert_eq!(
            tokens[0].body_param("grant_type"),
            Some("client_credentials"),
            "{profile:?}"
        );
        let exchange = tokens
            .iter()
            .find(|c| c.body_param("grant_type") == Some("authorization_code"))
            .expect("code exchange");
        assert!(
            exchange.body_param("client_secret").is_some(),
            "client_secret_post"
        );
        assert_eq!(
            exchange.body_param("redirect_uri"),
            Some(format!("{ISSUER}/callback/social.test").as_str())
        );
        assert!(exchange.basic().is_none());

        // PKCE exactly where advertised.
        let auth = leg.fake.last("GET", "/oauth/authorize").expect("authorize");
        assert_eq!(auth.query_param("scope"), Some(expected_scope(profile)));
        let pkce = profile.supports_pkce();
        assert_eq!(
            auth.query_param("code_challenge").is_some(),
            pkce,
            "{profile:?}"
        );
        assert_eq!(
            exchange.body_param("code_verifier").is_some(),
            pkce,
            "{profile:?}"
        );
        if pkce {
            assert_eq!(auth.query_param("code_challenge_method"), Some("S256"));
        }

        // The upstream token is revoked after use, not kept.
        assert_eq!(leg.fake.count("POST", "/oauth/revoke"), 1, "{profile:?}");
        assert_eq!(
            leg.fake
                .last("POST", "/oauth/revoke")
                .unwrap()
                .body_param("token"),
            Some(user_token(&leg).as_str())
        );
    }
}

async fn keep_tokens_skips_revocation(db: TestDb) {
    let leg = Leg::start_with(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.keep_upstream_tokens = true
    });
    let v = leg
        .login_verified("alice@social.test")
        .await
        .expect("login");
    assert_eq!(leg.fake.count("POST", "/oauth/revoke"), 0);
    let issued = user_token(&leg);
    let sealed = v.sealed_token.expect("kept");
    assert!(!sealed.windows(issued.len()).any(|w| w == issued.as_bytes()));
    let opened = leg.sealer.open(TOKEN_SEAL, &sealed).expect("unseals");
    assert_eq!(opened, issued.as_bytes());
}

/// The one user token the fake issued.
fn user_token(leg: &Leg) -> String {
    let users: Vec<_> = leg
        .fake
        .tokens()
        .into_iter()
        .filter(|t| t.user_id.is_some())
        .collect();
    assert_eq!(users.len(), 1);
    users[0].token.clone()
}

async fn every_typed_form_reaches_the_same_account(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon43));
    for typed in [
        "@alice@social.test",
        "alice@social.test",
        "http://social.test/@alice",
        "https://social.test/@alice",
        "social.test",
        "https://social.test/",
        "  @Alice@SOCIAL.TEST.  ",
    ] {
        let id = leg
            .login(typed)
            .await
            .unwrap_or_else(|e| panic!("{typed:?}: {e}"));
        assert_eq!(id.account_id, ALICE_ID, "{typed:?}");
        assert_eq!(id.server_host, "social.test");
    }
    assert_eq!(leg.apps_posts(), 1);
}

async fn force_login_and_lang_reach_the_authorize_url(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let input = LoginInput {
        typed: "@alice@social.test".into(),
        force_login: true,
        locale: Some("de en".into()),
    };
    let begin = leg.up.begin(&input, "s1").await.expect("begin");
    let q: Vec<(String, String)> = begin
        .redirect_to
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    assert_eq!(get("force_login"), Some("true"));
    assert_eq!(get("lang"), Some("de"));
    assert_eq!(get("state"), Some("s1"));
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(begin.redirect_to.path(), "/oauth/authorize");
    let plain = LoginInput {
        typed: "@alice@social.test".into(),
        ..Default::default()
    };
    let begin = leg.up.begin(&plain, "s2").await.expect("begin");
    assert!(!begin.redirect_to.as_str().contains("force_login"));
    assert!(!begin.redirect_to.as_str().contains("lang="));
}

async fn denied_and_mismatched_callbacks(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    let input = LoginInput {
        typed: "@alice@social.test".into(),
        ..Default::default()
    };
    let begin = leg.up.begin(&input, "s").await.expect("begin");
    let denied = CallbackQuery {
        error: Some("access_denied".into()),
        state: Some("s".into()),
        ..Default::default()
    };
    let r = leg.up.complete("social.test", &begin.stored, &denied).await;
    assert!(matches!(r, Err(UpstreamError::Denied)), "{r:?}");

    let query = leg.authorize(&begin.redirect_to).await;
    let r = leg.up.complete("evil.test", &begin.stored, &query).await;
    assert!(matches!(r, Err(UpstreamError::InvalidCallback(_))), "{r:?}");
    let r = leg.up.complete("social.test", b"garbage", &query).await;
    assert!(matches!(r, Err(UpstreamError::InvalidCallback(_))), "{r:?}");
    let no_code = CallbackQuery::default();
    let r = leg
        .up
        .complete("social.test", &begin.stored, &no_code)
        .await;
    assert!(matches!(r, Err(UpstreamError::InvalidCallback(_))), "{r:?}");
    assert_eq!(
        leg.fake
            .count("POST", "/api/v1/accounts/verify_credentials"),
        0
    );
    // The real callback still completes.
    let id = leg
        .up
        .complete("social.test", &begin.stored, &query)
        .await
        .expect("complete")
        .identity;
    assert_eq!(id.account_id, ALICE_ID);
}

async fn host_meta_fallback_when_webfinger_is_missing(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.fake.force_response(
        "GET",
        "/.well-known/webfinger",
        404,
        "text/plain",
        "",
        Some(1),
    );
    let id = leg
        .login("@alice@social.test")
        .await
        .expect("login via host-meta");
    assert_eq!(id.account_id, ALICE_ID);
    assert_eq!(leg.fake.count("GET", "/.well-known/host-meta"), 1);
    assert_eq!(leg.fake.count("GET", "/.well-known/webfinger"), 2);
}

async fn instance_rate_limit_is_reported(db: TestDb) {
    let leg = Leg::start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.fake.force_response(
        "GET",
        "/api/v2/instance",
        429,
        "application/json",
        r#"{"error":"Too many requests"}"#,
        Some(1),
    );
    let input = LoginInput {
        typed: "social.test".into(),
        ..Default::default()
    };
    let r = leg.up.begin(&input, "s").await;
    assert!(matches!(r, Err(UpstreamError::RateLimited { .. })), "{r:?}");
    assert_eq!(leg.fake.count("GET", "/api/v1/instance"), 0);
}

backend_tests!(
    host_meta => host_meta_fallback_when_webfinger_is_missing,
    instance_429 => instance_rate_limit_is_reported,
    whole_leg => whole_leg_per_profile,
    keep_tokens => keep_tokens_skips_revocation,
    typed_forms => every_typed_form_reaches_the_same_account,
    force_login_lang => force_login_and_lang_reach_the_authorize_url,
    callbacks => denied_and_mismatched_callbacks,
);

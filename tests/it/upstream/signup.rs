//! The sign-up calls of `MastodonUpstream` against the fake, per profile:
//! the app's scope set follows configuration (re-registered once when
//! sign-up is turned on, shared by logins and sign-ups afterwards), and a
//! sign-up's status and resend through the new account's own token.

use mastodon_oidc::config::Secret;
use mastodon_oidc::upstream::{
    AccountRefusal, NewAccount, Registrations, Resent, SignupError, SignupStatus, Upstream,
    UpstreamError,
};

use super::Leg;
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::support::{TestDb, http};

backend_tests! {
    app_scopes_follow_the_configuration => scopes_follow_configuration,
    signup_status_and_resend_per_profile => status_and_resend,
}

fn carol() -> NewAccount {
    NewAccount {
        username: "carol".into(),
        email: "carol@example.org".into(),
        password: Secret::new("correct horse battery staple"),
        agreement: true,
        locale: Some("en".into()),
        reason: None,
        date_of_birth: None,
    }
}

async fn scopes_follow_configuration(db: TestDb) {
    let leg = Leg::start_with(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.signup_enabled = false
    });
    leg.login("@alice@social.test").await.expect("login");
    let reg = leg.fake.last("POST", "/api/v1/apps").unwrap();
    assert_eq!(
        reg.body_param("scopes"),
        Some("profile"),
        "no sign-up, no write:accounts"
    );
    let refused = leg.up.sign_up("social.test", &carol()).await;
    assert!(matches!(
        refused,
        Err(SignupError::Failed(UpstreamError::NotAllowed(_)))
    ));
    // Sign-up turned on: the stored app lacks write:accounts, so it is
    // registered again, once; logins and sign-ups then share it.
    let mut config = leg.config.clone();
    config.signup_enabled = true;
    let up = Leg::upstream(&config, &leg.store, &leg.sealer, &leg.clock);
    let input = mastodon_oidc::upstream::LoginInput {
        typed: "@alice@social.test".into(),
        ..Default::default()
    };
    let begin = up.begin(&input, "s1").await.expect("begin");
    assert_eq!(leg.apps_posts(), 2);
    let reg = leg.fake.last("POST", "/api/v1/apps").unwrap();
    assert_eq!(reg.body_param("scopes"), Some("profile write:accounts"));
    let authorize = leg.authorize(&begin.redirect_to).await;
    assert_eq!(
        leg.fake
            .last("GET", "/oauth/authorize")
            .unwrap()
            .query_param("scope"),
        Some("profile"),
        "a login asks only for what it needs"
    );
    up.complete(&begin.server_host, &begin.stored, &authorize)
        .await
        .expect("login with the new app");
    up.sign_up("social.test", &carol()).await.expect("sign-up");
    up.begin(&input, "s2").await.expect("begin again");
    assert_eq!(
        leg.apps_posts(),
        2,
        "no flip-flop between login and sign-up"
    );
    let apps = leg.fake.apps();
    let new_app = apps.last().unwrap();
    let created = leg.fake.last("POST", "/api/v1/accounts").unwrap();
    let token = leg
        .fake
        .tokens()
        .into_iter()
        .find(|t| Some(t.token.as_str()) == created.bearer())
        .unwrap();
    assert_eq!(token.client_id, new_app.client_id);
    assert!(token.user_id.is_none() && token.scopes.contains(&"write:accounts".into()));
}

async fn status_and_resend(db: TestDb) {
    for profile in [Profile::Mastodon43, Profile::Mastodon44] {
        let leg = Leg::start(&db, FakeConfig::new(profile));
        leg.store
            .write(|c| mastodon_oidc::store::servers::delete(c, "social.test"))
            .await
            .unwrap();
        let rules = leg
            .up
            .signup_rules("https://social.test/about")
            .await
            .unwrap();
        assert_eq!(rules.server_host, "social.test");
        assert_eq!(rules.registrations, Registrations::Open, "{profile:?}");
        assert_eq!(rules.rules[0].text, "Be nice.");
        let signed = leg
            .up
            .sign_up("social.test", &carol())
            .await
            .expect("sign-up");
        assert!(
            !String::from_utf8_lossy(&signed.stored).contains("correct horse"),
            "the password is not part of what the provider keeps"
        );
        let stored = signed.stored.clone();
        let status = |_: &[u8]| leg.up.signup_status("social.test", &stored);
        assert_eq!(
            status(&signed.stored).await.unwrap(),
            SignupStatus::AwaitingConfirmation
        );
        assert_eq!(
            leg.up
                .resend_confirmation("social.test", &signed.stored)
                .await
                .unwrap(),
            Resent::Sent
        );
        let link = url::Url::parse(&leg.fake.confirmation_link("carol").unwrap()).unwrap();
        let at_fake = leg.fake.at_ip(&link);
        http().get(at_fake).send().await.unwrap();
        assert_eq!(
            leg.up
                .resend_confirmation("social.test", &signed.stored)
                .await
                .unwrap(),
            Resent::AlreadyConfirmed
        );
        let SignupStatus::Active(verified) = status(&signed.stored).await.unwrap() else {
            panic!("{profile:?}: active after confirming");
        };
        assert_eq!(verified.identity.username, "carol");
        assert_eq!(verified.identity.handle, "carol@social.test");
        assert_eq!(verified.sealed_token, None, "not kept by default");
        // Bound to its server.
        assert!(
            leg.up
                .signup_status("other.test", &signed.stored)
                .await
                .is_err()
        );
        // Done: the token is revoked, and a gone account says so.
        leg.up.end_signup("social.test", &signed.stored).await;
        assert!(matches!(
            status(&signed.stored).await,
            Err(UpstreamError::AccountRefused(AccountRefusal::Gone))
        ));
        // Taken now: a second sign-up is rejected on the username field.
        let Err(SignupError::Rejected(problems)) = leg.up.sign_up("social.test", &carol()).await
        else {
            panic!("{profile:?}: carol is taken");
        };
        assert!(
            problems
                .iter()
                .any(|p| p.field == mastodon_oidc::upstream::SignupField::Username)
        );
    }
}

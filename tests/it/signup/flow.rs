//! The whole way: `prompt=create` → form → confirmation e-mail → the bridge
//! → a verified ID token at an `openidconnect` relying party; the handle
//! page's link; approval; resend and cancel; expiry on a fixed clock.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, Scope, TokenResponse};

use mastodon_oidc::clock::Clock;

use super::{PASSWORD, confirm, pick, sign_up, spawn, submit};
use crate::backend_tests;
use crate::fake_mastodon::{AccountState, FakeConfig, Profile, Registrations};
use crate::login::seed::{self, REDIRECT};
use crate::support::browser::{Browser, query};
use crate::support::{T0, TestDb, rp};

backend_tests! {
    mastodon_43_prompt_create_to_id_token => to_id_token_43,
    mastodon_44_prompt_create_to_id_token => to_id_token_44,
    handle_page_offers_create_an_account => from_the_handle_page,
    approval_required_waits_then_logs_in => approval,
    resend_and_cancel_a_pending_signup => resend_and_cancel,
    pending_signup_expires => expiry,
    confirmation_in_another_browser_or_twice => elsewhere_and_twice,
}

async fn to_id_token_43(db: TestDb) {
    to_id_token(db, Profile::Mastodon43).await
}
async fn to_id_token_44(db: TestDb) {
    to_id_token(db, Profile::Mastodon44).await
}

async fn to_id_token(db: TestDb, profile: Profile) {
    let (app, fake) = spawn(&db, FakeConfig::new(profile), |_| {}).await;
    let client = rp::client(&app).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_prompt(openidconnect::core::CoreAuthPrompt::Extension(
            "create".into(),
        ))
        .set_pkce_challenge(challenge)
        .url();
    let mut b = Browser::default();
    let chooser = b.get(url.as_str()).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    assert!(chooser.body.contains("Create a fediverse account"));
    let form = pick(&app, &mut b, &chooser, "social.test").await;
    assert_eq!(form.status, 200, "{profile:?}: {}", form.body);
    assert!(
        form.body.contains("Be nice."),
        "the server's rules are shown"
    );
    let done = submit(&app, &mut b, &form, &[]).await;
    assert_eq!(done.status, 303, "{profile:?}: {}", done.body);
    assert!(b.cookies.contains_key("mo-signup"));
    let pending = b.get(&app.url("/signup/pending")).await;
    assert!(
        pending.body.contains("Check your e-mail"),
        "{}",
        pending.body
    );
    assert!(pending.body.contains("carol@example.org"));

    // Before the link is opened, "I have confirmed" says it is not.
    let early = b.get(&app.url("/callback/social.test")).await;
    assert_eq!(early.status, 200);
    assert!(
        early.body.contains("does not have your confirmation yet"),
        "{}",
        early.body
    );

    // The e-mail's link lands on the app's first redirect URI, bare.
    let landing = confirm(&fake, "carol").await;
    assert_eq!(landing.as_str(), app.url("/callback/social.test"));
    let back = b.get(landing.as_str()).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let loc = back.location();
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query(&loc, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(query(&loc, "iss").as_deref(), Some(app.issuer.as_str()));
    assert!(!b.cookies.contains_key("mo-signup"), "the sign-up is spent");
    assert!(
        b.cookies.contains_key("mo-session"),
        "and a session started"
    );
    let res = client
        .exchange_code(AuthorizationCode::new(query(&loc, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&rp::http_client)
        .await
        .expect("token response");
    let at = chrono::DateTime::from_timestamp(T0 + 5, 0).unwrap();
    let claims = res
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier().set_time_fn(move || at), &nonce)
        .expect("a valid ID token");
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "carol@social.test"
    );
    let user = fake.user("carol").unwrap();
    assert_eq!(
        claims.subject().as_str(),
        mastodon_oidc::oidc::claims::subject("social.test", &user.id)
    );
    // Mastodon got what the form said, with the app's token.
    let call = fake.last("POST", "/api/v1/accounts").unwrap();
    assert_eq!(call.body_param("agreement"), Some("true"));
    assert_eq!(call.body_param("locale"), Some("en"));
    assert_eq!(call.body_param("password"), Some(PASSWORD));
    let app_token = fake
        .tokens()
        .into_iter()
        .find(|t| Some(t.token.as_str()) == call.bearer())
        .unwrap();
    assert!(app_token.user_id.is_none(), "a client-credentials token");
    assert!(app_token.scopes.contains(&"write:accounts".to_string()));
    assert_eq!(
        fake.count("POST", "/api/v1/apps"),
        1,
        "one app for sign-up and login"
    );
    // The new account's token was revoked once the login was done, like a login's.
    assert!(
        fake.tokens()
            .iter()
            .filter(|t| t.user_id.as_deref() == Some(user.id.as_str()))
            .all(|t| t.revoked)
    );
    // And the same account logs in normally afterwards (the app is shared).
    let again = b
        .get(&seed::authorize_url(&app, "rp", &[("prompt", "none")]))
        .await;
    assert!(query(&again.location(), "code").is_some(), "single sign-on");
    app.stop().await;
}

async fn from_the_handle_page(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let login = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    assert!(
        login.body.contains("formaction=\"/signup\""),
        "{}",
        login.body
    );
    assert!(login.body.contains("Create an account"));
    // The handle page's form posted to /signup, with what was typed.
    let chooser = b
        .post(
            &app.url("/signup"),
            &[
                ("request", &login.input("request")),
                ("handle", "social.test"),
            ],
        )
        .await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    assert_eq!(chooser.input("server"), "social.test", "prefilled");
    let form = pick(&app, &mut b, &chooser, "social.test").await;
    let done = submit(&app, &mut b, &form, &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let back = b.get(confirm(&fake, "carol").await.as_str()).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = seed::redeem(&app, &query(&back.location(), "code").unwrap()).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    // "Log in" on the chooser goes back to the handle page.
    let mut b2 = Browser::default();
    let chooser = b2
        .get(&seed::authorize_url(&app, "rp", &[("prompt", "create")]))
        .await;
    let login = b2
        .post(
            &app.url("/signup"),
            &[("request", &chooser.input("request")), ("login", "1")],
        )
        .await;
    assert!(
        login.body.contains("Your handle or server"),
        "{}",
        login.body
    );
    app.stop().await;
}

async fn approval(db: TestDb) {
    let fake = FakeConfig::new(Profile::Mastodon44).registrations(Registrations {
        approval_required: true,
        reason_required: true,
        ..Registrations::default()
    });
    let (app, fake) = spawn(&db, fake, |_| {}).await;
    let mut b = Browser::default();
    let form = super::choose(&app, &mut b, &[], "social.test").await;
    assert!(
        form.body.contains("review every new account"),
        "{}",
        form.body
    );
    assert!(form.body.contains("id=\"reason\""));
    let done = submit(&app, &mut b, &form, &[("reason", "I like the fediverse.")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        fake.last("POST", "/api/v1/accounts")
            .unwrap()
            .body_param("reason"),
        Some("I like the fediverse.")
    );
    let landing = confirm(&fake, "carol").await;
    assert_eq!(fake.user("carol").unwrap().state, AccountState::Pending);
    let wait = b.get(landing.as_str()).await;
    assert_eq!(wait.status, 200, "{}", wait.body);
    assert!(wait.body.contains("Waiting for approval"), "{}", wait.body);
    // Days later, after a moderator approved, "Check again" finishes the login.
    app.clock.advance(6 * 86_400);
    let still = b.get(&app.url("/callback/social.test")).await;
    assert!(still.body.contains("Waiting for approval"));
    app.clock.advance(6 * 86_400);
    fake.approve("carol");
    let back = b.get(&app.url("/callback/social.test")).await;
    assert_eq!(
        back.status, 303,
        "kept while waiting for approval: {}",
        back.body
    );
    let tokens = seed::redeem(&app, &query(&back.location(), "code").unwrap()).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    app.stop().await;
}

async fn resend_and_cancel(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let pending = sign_up(&app, &mut b, &[]).await;
    let csrf = pending.input("csrf");
    let sent = b.post(&app.url("/signup/resend"), &[("csrf", &csrf)]).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body
            .contains("sent the link again to carol@example.org"),
        "{}",
        sent.body
    );
    let call = fake.last("POST", "/api/v1/emails/confirmations").unwrap();
    let user = fake.user("carol").unwrap();
    let owner = fake
        .tokens()
        .into_iter()
        .find(|t| Some(t.token.as_str()) == call.bearer());
    assert_eq!(
        owner.and_then(|t| t.user_id),
        Some(user.id),
        "with the account's own token"
    );
    // Once confirmed, "send again" goes on to the check.
    confirm(&fake, "carol").await;
    let next = b.post(&app.url("/signup/resend"), &[("csrf", &csrf)]).await;
    assert_eq!(next.status, 303);
    assert_eq!(next.headers["location"], "/callback/social.test");
    // Cancel: the relying party hears access_denied, and the sign-up is gone.
    let cancelled = b.post(&app.url("/signup/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let loc = cancelled.location();
    assert!(loc.as_str().starts_with(REDIRECT));
    assert_eq!(query(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&loc, "state").as_deref(), Some("st-1"));
    assert_eq!(b.get(&app.url("/signup/pending")).await.status, 404);
    app.stop().await;
}

async fn expiry(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    sign_up(&app, &mut b, &[]).await;
    let count = |app: &crate::support::TestApp| {
        let store = app.state.store.clone();
        async move {
            store
                .run(|c| {
                    use diesel::prelude::*;
                    use mastodon_oidc::store::schema::signups::dsl::*;
                    Ok(signups.count().get_result::<i64>(c)?)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(count(&app).await, 1);
    // A week and a bit later: the link still confirms at Mastodon (it is
    // lenient here), but the bridge no longer holds the login.
    app.clock.advance(7 * 86_400 + 1);
    let swept = mastodon_oidc::housekeeping::sweep(
        &app.state.store,
        app.clock.now(),
        &app.state.config.tokens,
    )
    .await
    .unwrap();
    assert_eq!(swept.signups, 1);
    assert_eq!(count(&app).await, 0);
    let late = b.get(confirm(&fake, "carol").await.as_str()).await;
    assert_eq!(late.status, 200);
    assert!(late.body.contains("is now confirmed"), "{}", late.body);
    assert_eq!(b.get(&app.url("/signup/pending")).await.status, 404);
    app.stop().await;
}

async fn elsewhere_and_twice(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    sign_up(&app, &mut b, &[]).await;
    let landing = confirm(&fake, "carol").await;
    // Another browser (the phone that opened the e-mail) is told to go back.
    let mut phone = Browser::default();
    let there = phone.get(landing.as_str()).await;
    assert_eq!(there.status, 200);
    assert!(
        there
            .body
            .contains("Go back to the browser where you signed up"),
        "{}",
        there.body
    );
    // The right browser finishes; a second visit finds nothing to finish.
    assert_eq!(b.get(landing.as_str()).await.status, 303);
    let again = b.get(landing.as_str()).await;
    assert_eq!(again.status, 200);
    // The mix-up defence: another server's path does not resume it.
    let mut b2 = Browser::default();
    sign_up(
        &app,
        &mut b2,
        &[("username", "dave"), ("email", "dave@example.org")],
    )
    .await;
    let wrong = b2.get(&app.url("/callback/other.test")).await;
    assert!(wrong.body.contains("is now confirmed"), "{}", wrong.body);
    app.stop().await;
}

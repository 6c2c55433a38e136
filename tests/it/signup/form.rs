//! The rules page and the form: every problem Mastodon reports (all 422
//! codes) shown beside its field with the typed values kept and the
//! password dropped; closed servers, the server's and our own limits.

use mastodon_oidc::ratelimit::Limit;

use super::{choose, element, pick, spawn, submit, tag};
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile, Registrations};
use crate::support::TestDb;
use crate::support::browser::{Browser, Page};

backend_tests! {
    every_422_code_is_shown_beside_its_field => every_code,
    rules_terms_and_requirements_are_shown => rules_and_requirements,
    closed_servers_are_explained => closed,
    server_refusals_get_clear_pages => server_refusals,
    gaps_are_caught_before_the_server_is_asked => gaps,
    sign_ups_are_limited_per_client_ip => own_limit,
}

/// Old enough for a server with a minimum age.
const ADULT: (&str, &str) = ("date_of_birth", "2000-01-01");

/// The field's error says `text`, its input is marked invalid and points to it.
fn beside(page: &Page, field: &str, text: &str) {
    let error = element(&page.body, &format!("{field}-error"))
        .unwrap_or_else(|| panic!("no {field}-error in {}", page.body));
    assert!(error.contains(text), "{field}: {error:?} lacks {text:?}");
    let input = tag(&page.body, field).unwrap();
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    assert!(input.contains(&format!("{field}-error")), "{input}");
}

async fn every_code(db: TestDb) {
    let mut fake = FakeConfig::new(Profile::Mastodon44)
        .languages(&["en", "tlh"])
        .registrations(Registrations {
            approval_required: true,
            min_age: Some(16),
            ..Registrations::default()
        });
    fake.signup_rate_limit = None;
    let (app, fake) = spawn(&db, fake, |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    let first = submit(
        &app,
        &mut b,
        &form,
        &[
            ("username", "alice"),
            ("email", "carol@spam.example"),
            ("password", "short"),
            ("locale", "tlh"),
            ("date_of_birth", "2015-01-01"),
            ("reason", "Hello there"),
        ],
    )
    .await;
    assert_eq!(first.status, 422, "{}", first.body);
    beside(&first, "username", "already taken on social.test"); // ERR_TAKEN
    beside(
        &first,
        "email",
        "does not accept addresses from this e-mail provider",
    ); // ERR_BLOCKED
    beside(&first, "password", "Use at least 8 characters."); // ERR_TOO_SHORT
    beside(&first, "locale", "does not offer this language"); // ERR_INCLUSION
    beside(&first, "date_of_birth", "at least 16 years old"); // ERR_BELOW_LIMIT
    assert!(
        first.body.contains("Please check the form"),
        "a summary on top"
    );
    // Everything typed is kept, except the password.
    assert!(
        tag(&first.body, "username")
            .unwrap()
            .contains("value=\"alice\"")
    );
    assert!(
        tag(&first.body, "email")
            .unwrap()
            .contains("value=\"carol@spam.example\"")
    );
    assert!(
        tag(&first.body, "date_of_birth")
            .unwrap()
            .contains("value=\"2015-01-01\"")
    );
    assert!(first.body.contains(">Hello there</textarea>"));
    assert!(
        first
            .body
            .contains("<option value=\"tlh\" lang=\"tlh\" selected>")
    );
    assert!(tag(&first.body, "password").unwrap().contains("value=\"\""));
    assert!(
        !first.body.contains("short\""),
        "the password is not echoed"
    );

    let second = submit(
        &app,
        &mut b,
        &first,
        &[
            ("username", "admin"),
            ("email", "carol@nowhere.invalid"),
            ("password", &"p".repeat(73)),
            ADULT,
        ],
    )
    .await;
    assert_eq!(second.status, 422, "{}", second.body);
    beside(&second, "username", "reserved on social.test"); // ERR_RESERVED
    beside(&second, "email", "cannot receive e-mail"); // ERR_UNREACHABLE
    beside(&second, "password", "Use at most 72 characters."); // ERR_TOO_LONG
    assert!(
        element(&second.body, "date_of_birth-error").is_none(),
        "fixed fields lose their error"
    );

    let third = submit(
        &app,
        &mut b,
        &second,
        &[
            ("username", "no spaces"),
            ("email", "not-an-address"),
            ADULT,
        ],
    )
    .await;
    beside(&third, "username", "only letters, numbers and underscores"); // ERR_INVALID
    beside(&third, "email", "Enter a valid e-mail address"); // ERR_INVALID
    let fourth = submit(
        &app,
        &mut b,
        &third,
        &[("username", &"c".repeat(31)), ADULT],
    )
    .await;
    beside(&fourth, "username", "Use at most 30 characters."); // ERR_TOO_LONG

    // What our own checks catch first can still come from the server, and
    // codes we do not know are said generically beside their field.
    fake.force_response(
        "POST",
        "/api/v1/accounts",
        422,
        "application/json",
        r#"{"error":"Validation failed: …","details":{
            "agreement":[{"error":"ERR_ACCEPTED","description":"must be accepted"}],
            "reason":[{"error":"ERR_BLANK","description":"can't be blank"}],
            "email":[{"error":"ERR_BLANK","description":"can't be blank"}],
            "username":[{"error":"ERR_SHINY_NEW","description":"is shiny"}],
            "invite_code":[{"error":"ERR_INVALID","description":"is invalid"}]}}"#,
        Some(1),
    );
    let forced = submit(&app, &mut b, &fourth, &[ADULT]).await;
    assert_eq!(forced.status, 422, "{}", forced.body);
    beside(
        &forced,
        "agreement",
        "you must agree to the rules and terms",
    ); // ERR_ACCEPTED
    beside(&forced, "reason", "asks why you want to join"); // ERR_BLANK
    beside(&forced, "email", "Enter your e-mail address."); // ERR_BLANK
    beside(&forced, "username", "did not accept this value"); // unknown code
    let general = element(&forced.body, "form-error").unwrap();
    assert!(general.contains("did not accept the sign-up"), "{general}");
    assert!(
        !forced.body.contains("shiny"),
        "the server's words are not echoed"
    );
    assert!(fake.user("carol").is_none());
    app.stop().await;
}

async fn rules_and_requirements(db: TestDb) {
    let fake = FakeConfig::new(Profile::Mastodon44)
        .rules(&["Be nice.", "No spam."])
        .languages(&["de", "en"])
        .terms_of_service(true)
        .registrations(Registrations {
            approval_required: true,
            reason_required: true,
            min_age: Some(16),
            ..Registrations::default()
        });
    let (app, _fake) = spawn(&db, fake, |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[("ui_locales", "de-AT en")], "social.test").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let body = &form.body;
    for text in [
        "<li>Be nice.</li>",
        "<li>No spam.</li>",
        "href=\"http://social.test/terms-of-service\"",
        "href=\"http://social.test/privacy-policy\"",
        "review every new account",
        "at least 16 years old",
        "<option value=\"de\" lang=\"de\" selected>Deutsch</option>",
        "<html lang=\"de-AT\">",
        "@<span>username</span>@social.test",
    ] {
        assert!(body.contains(text), "{text} missing from {body}");
    }
    assert!(tag(body, "reason").unwrap().contains(" required"));
    assert!(
        tag(body, "date_of_birth")
            .unwrap()
            .contains("type=\"date\"")
    );
    assert!(
        tag(body, "agreement")
            .unwrap()
            .contains("type=\"checkbox\"")
    );
    assert!(body.contains("<label for=\"agreement\">"));

    app.stop().await;
    // A 4.3 server: the fixed routes for terms and privacy, no age field.
    let fake43 = FakeConfig::new(Profile::Mastodon43).web_domain("old.test");
    let (app43, _fake43) = spawn(&db, fake43, |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app43, &mut b, &[], "old.test").await;
    assert!(
        form.body.contains("href=\"http://old.test/terms\""),
        "{}",
        form.body
    );
    assert!(
        form.body
            .contains("href=\"http://old.test/privacy-policy\"")
    );
    assert!(tag(&form.body, "date_of_birth").is_none());
    assert!(
        tag(&form.body, "reason").is_none(),
        "no approval, no reason"
    );
    app43.stop().await;
}

async fn closed(db: TestDb) {
    let fake = FakeConfig::new(Profile::Mastodon44).registrations(Registrations {
        enabled: false,
        message: Some("<p>We are <b>full</b> &amp; resting.</p>".into()),
        url: Some("https://social.test/join".into()),
        ..Registrations::default()
    });
    let (app, fake) = spawn(&db, fake, |_| {}).await;
    let mut b = Browser::default();
    let page = choose(&app, &mut b, &[], "social.test").await;
    assert_eq!(page.status, 403, "{}", page.body);
    beside(
        &page,
        "server",
        "does not accept new accounts at the moment",
    );
    assert!(
        page.body.contains("We are full &#38; resting."),
        "as text: {}",
        page.body
    );
    assert!(!page.body.contains("<b>full"), "never the server's HTML");
    assert!(page.body.contains("href=\"https://social.test/join\""));
    assert_eq!(page.input("server"), "social.test", "kept to correct");
    assert_eq!(fake.count("POST", "/api/v1/accounts"), 0);
    // Something that is no server name at all.
    let none = pick(&app, &mut b, &page, "social.test/about").await;
    assert!(none.status >= 400, "{}", none.body);
    assert!(
        element(&none.body, "server-error").is_some(),
        "{}",
        none.body
    );
    app.stop().await;
}

async fn server_refusals(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    fake.set_signup_rate_limit(Some(0));
    let busy = submit(&app, &mut b, &form, &[("username", "carol")]).await;
    assert_eq!(busy.status, 429, "{}", busy.body);
    let said = element(&busy.body, "form-error").unwrap();
    assert!(
        said.contains("accepts only a few sign-ups at a time from this service"),
        "{said}"
    );
    let wait: u64 = busy.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=1800).contains(&wait),
        "until the window resets: {wait}"
    );
    assert!(
        tag(&busy.body, "username")
            .unwrap()
            .contains("value=\"carol\"")
    );
    // Closed between the rules page and the submission: 403 explained.
    fake.set_signup_rate_limit(None);
    fake.set_registrations(Registrations {
        enabled: false,
        ..Registrations::default()
    });
    let shut = submit(&app, &mut b, &busy, &[]).await;
    assert_eq!(shut.status, 403, "{}", shut.body);
    beside(&shut, "server", "does not accept new accounts");
    app.stop().await;
}

async fn gaps(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    let page = submit(
        &app,
        &mut b,
        &form,
        &[
            ("username", ""),
            ("email", ""),
            ("password", ""),
            ("agreement", ""),
        ],
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    beside(&page, "username", "Choose a username.");
    beside(&page, "email", "Enter your e-mail address.");
    beside(&page, "password", "Choose a password.");
    beside(&page, "agreement", "you must agree");
    assert_eq!(
        fake.count("POST", "/api/v1/accounts"),
        0,
        "none of the server's quota spent"
    );
    // Back to the chooser keeps the server.
    let back = b
        .post(
            &app.url("/signup/account"),
            &[
                ("request", &page.input("request")),
                ("draft", &page.input("draft")),
                ("back", "1"),
            ],
        )
        .await;
    assert_eq!(back.input("server"), "social.test");
    // A tampered draft is refused, not trusted.
    let tampered = submit(&app, &mut b, &form, &[("draft", "AAAA")]).await;
    assert_eq!(tampered.status, 400);
    assert!(
        tampered.body.contains("This form has expired"),
        "{}",
        tampered.body
    );
    app.stop().await;
}

async fn own_limit(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.limits.signup_form = Limit::new(1, 1);
    })
    .await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    let first = submit(&app, &mut b, &form, &[("username", "alice")]).await;
    assert_eq!(first.status, 422, "reached the server: {}", first.body);
    let second = submit(&app, &mut b, &first, &[("username", "carol")]).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert!(
        element(&second.body, "form-error")
            .unwrap()
            .contains("Too many sign-up attempts")
    );
    assert_eq!(second.headers["retry-after"], "60");
    assert_eq!(fake.count("POST", "/api/v1/accounts"), 1);
    app.clock.advance(60);
    let third = submit(&app, &mut b, &second, &[("username", "carol")]).await;
    assert_eq!(third.status, 303, "{}", third.body);
    app.stop().await;
}

//! verify_credentials error precedence, revocation, sign-up and confirmation.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn account_states_give_exact_403s() {
    let users = vec![
        FakeUser::new("1", "alice"),
        FakeUser::new("2", "sus").with_state(AccountState::Suspended),
        FakeUser::new("3", "dis").with_state(AccountState::Disabled),
        FakeUser::new("4", "mov").with_state(AccountState::Moved),
        FakeUser::new("5", "unc").with_state(AccountState::Unconfirmed),
        FakeUser::new("6", "pen").with_state(AccountState::Pending),
    ];
    let t = T::new(
        FakeConfig::new(Profile::Mastodon44)
            .users(users)
            .interactive(),
    );
    let (id, secret) = t.app("read:accounts").await;
    let login = |name: &'static str| {
        let (id, t) = (id.clone(), &t);
        async move {
            t.post_form(
                "/oauth/authorize",
                &[
                    ("response_type", "code"),
                    ("client_id", &id),
                    ("redirect_uri", CB),
                    ("scope", "read:accounts"),
                    ("username", name),
                    ("password", "password"),
                    ("decision", "approve"),
                ],
            )
            .await
        }
    };
    // Non-functional users never get a callback.
    let r = login("unc").await;
    assert_eq!(
        location(&r).as_deref(),
        Some("http://social.test/auth/setup")
    );
    let r = login("dis").await;
    assert_eq!(
        location(&r).as_deref(),
        Some("http://social.test/auth/edit")
    );

    // Tokens issued while the user was active, then the state changes.
    let code = query_of(&login("alice").await, "code").unwrap();
    let token = token_of(t.exchange(&id, &secret, &code, &[]).await).await;
    for (state, msg) in [
        (AccountState::Suspended, "Your login is currently disabled"),
        (AccountState::Disabled, "Your login is currently disabled"),
        (AccountState::Moved, "Your login is currently disabled"),
        (
            AccountState::Unconfirmed,
            "Your login is missing a confirmed e-mail address",
        ),
        (
            AccountState::Pending,
            "Your login is currently pending approval",
        ),
    ] {
        t.fake.set_account_state("alice", state);
        let r = t
            .get("/api/v1/accounts/verify_credentials", Some(&token))
            .await;
        assert_eq!(r.status(), 403, "{state:?}");
        assert_eq!(json(r).await["error"], msg, "{state:?}");
    }
    t.fake.set_account_state("alice", AccountState::Active);
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await
            .status(),
        200
    );
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some("bogus"))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(json(r).await["error"], "The access token is invalid");

    // Revoke: other app's credentials refused, ours accepted, then 401.
    let r = t
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &token),
                ("client_id", &id),
                ("client_secret", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = t
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &token),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(json(r).await["error"], "The access token was revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_confirm_and_closed_registrations() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, secret) = t.app("profile write:accounts").await;
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "write:accounts"),
            ],
        )
        .await;
    let app_token = token_of(r).await;
    let signup = |form: Vec<(&'static str, &'static str)>| {
        let (t, tok) = (&t, app_token.clone());
        async move {
            t.http
                .post(t.url("/api/v1/accounts"))
                .bearer_auth(tok)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let r = signup(vec![("username", "bad name"), ("password", "short")]).await;
    assert_eq!(r.status(), 422);
    let v = json(r).await;
    assert_eq!(v["details"]["username"][0]["error"], "ERR_INVALID");
    assert_eq!(v["details"]["password"][0]["error"], "ERR_TOO_SHORT");
    assert_eq!(v["details"]["agreement"][0]["error"], "ERR_ACCEPTED");
    assert_eq!(v["details"]["email"][0]["error"], "ERR_BLANK");
    let r = signup(vec![
        ("username", "carol"),
        ("email", "c@example.org"),
        ("password", "long enough"),
        ("agreement", "true"),
        ("locale", "en"),
    ])
    .await;
    let v = json(r).await;
    assert_eq!(
        v["scope"], "profile write:accounts",
        "the token gets all app scopes"
    );
    let user_token = v["access_token"].as_str().unwrap().to_owned();
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&user_token))
        .await;
    assert_eq!(
        json(r).await["error"],
        "Your login is missing a confirmed e-mail address"
    );
    assert_eq!(
        json(
            t.get("/api/v1/emails/check_confirmation", Some(&user_token))
                .await
        )
        .await,
        false
    );
    let r = t
        .http
        .post(t.url("/api/v1/emails/confirmations"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let link = t.fake.confirmation_link("carol").unwrap();
    let r = t.http.get(link).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r).as_deref(), Some(CB));
    let v = json(
        t.get("/api/v1/accounts/verify_credentials", Some(&user_token))
            .await,
    )
    .await;
    assert_eq!(v["username"], "carol");

    // 4.4+: a user token may not sign up.
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .bearer_auth(&user_token)
        .form(&[("username", "dave")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(r).await["error"],
        "This method requires an client credentials authentication"
    );
    t.fake.set_registrations(Registrations {
        enabled: false,
        ..Registrations::default()
    });
    let r = signup(vec![("username", "erin")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(json(r).await, serde_json::json!({"error": "Forbidden"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_is_throttled_and_successes_carry_rate_headers() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44).clock(FixedClock::new(1_800_000_100)));
    let r = t
        .post_form(
            "/api/v1/apps",
            &[("client_name", "B"), ("redirect_uris", CB)],
        )
        .await;
    assert_eq!(r.headers()["x-ratelimit-remaining"], "4");
    let (id, _) = t.fake.seed_app(&[CB], "read write:accounts");
    let user_token = t.fake.seed_token(&id, "alice", "read").unwrap();
    assert_eq!(
        t.fake.count("POST", "/api/v1/apps"),
        1,
        "seeding records nothing"
    );
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(&user_token))
            .await
            .status(),
        200
    );
    t.fake.set_signup_rate_limit(Some(2));
    for _ in 0..2 {
        let r = t
            .http
            .post(t.url("/api/v1/accounts"))
            .bearer_auth("bogus")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .bearer_auth("bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_checks_email_age_and_locale_then_approval() {
    let mut config = FakeConfig::new(Profile::Mastodon44)
        .clock(FixedClock::new(1_800_000_000)) // 2027-01-15
        .languages(&["de", "tlh"])
        .terms_of_service(true);
    config.registrations = Registrations {
        approval_required: true,
        min_age: Some(16),
        url: Some("https://social.test/sso-signup".into()),
        ..Registrations::default()
    };
    let t = T::new(config);
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["languages"], serde_json::json!(["de", "tlh"]));
    assert_eq!(v["registrations"]["min_age"], 16);
    assert_eq!(v["registrations"]["url"], "https://social.test/sso-signup");
    assert_eq!(
        v["configuration"]["urls"]["terms_of_service"],
        "http://social.test/terms-of-service"
    );
    let (id, secret) = t.fake.seed_app(&[CB], "profile write:accounts");
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "write:accounts"),
            ],
        )
        .await;
    let app_token = token_of(r).await;
    let signup = |form: Vec<(&'static str, &'static str)>| {
        let (t, tok) = (&t, app_token.clone());
        async move {
            let r = t
                .http
                .post(t.url("/api/v1/accounts"))
                .bearer_auth(tok)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), json(r).await)
        }
    };
    let base = vec![
        ("username", "dora"),
        ("password", "long enough"),
        ("agreement", "true"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = base.clone();
        f.extend_from_slice(extra);
        f
    };
    let (s, v) = signup(with(&[
        ("email", "d@spam.example"),
        ("date_of_birth", "2015-01-01"),
        ("locale", "tlh"),
    ]))
    .await;
    assert_eq!(s, 422);
    assert_eq!(v["details"]["email"][0]["error"], "ERR_BLOCKED");
    assert_eq!(v["details"]["date_of_birth"][0]["error"], "ERR_BELOW_LIMIT");
    assert_eq!(v["details"]["locale"][0]["error"], "ERR_INCLUSION");
    let (_, v) = signup(with(&[
        ("email", "d@nowhere.invalid"),
        ("date_of_birth", "soon"),
    ]))
    .await;
    assert_eq!(v["details"]["email"][0]["error"], "ERR_UNREACHABLE");
    assert_eq!(v["details"]["date_of_birth"][0]["error"], "ERR_BLANK");
    // Sixteen today, in the other accepted date format.
    let (s, v) = signup(with(&[
        ("email", "d@example.org"),
        ("date_of_birth", "15.01.2011"),
        ("locale", "de"),
    ]))
    .await;
    assert_eq!(s, 200, "{v}");
    let user_token = v["access_token"].as_str().unwrap().to_owned();
    t.http
        .get(t.fake.confirmation_link("dora").unwrap())
        .send()
        .await
        .unwrap();
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&user_token))
        .await;
    assert_eq!(
        json(r).await["error"],
        "Your login is currently pending approval"
    );
    t.fake.approve("dora");
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&user_token))
        .await;
    assert_eq!(json(r).await["username"], "dora");
    let link = t.get("/_fake/outbox/nobody", None).await;
    assert_eq!(link.status(), 404);
    t.fake.delete_user("dora");
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&user_token))
        .await;
    assert_eq!(r.status(), 401, "a deleted user's token is gone");
}

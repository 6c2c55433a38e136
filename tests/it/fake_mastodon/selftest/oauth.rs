//! Authorize, token, PKCE, consent and the HTML form, per version.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_issues_token_once_and_reuses_it() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, secret) = t.app("profile").await;
    let r = t.authorize(&id, &[("scope", "profile")]).await;
    assert_eq!(r.status(), 302);
    assert!(location(&r).unwrap().starts_with(CB));
    assert_eq!(query_of(&r, "state").as_deref(), Some("st4te"));
    let code = query_of(&r, "code").unwrap();
    let r = t.exchange(&id, &secret, &code, &[]).await;
    assert_eq!(r.headers()["cache-control"], "no-store, no-cache");
    let v = json(r).await;
    assert_eq!(v["scope"], "profile");
    assert_eq!(v["token_type"], "Bearer");
    let token = v["access_token"].as_str().unwrap().to_owned();

    // Single use.
    let r = t.exchange(&id, &secret, &code, &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_grant");

    // A second login returns the same token (reuse_access_token).
    let code2 = t.code(&id, &[("scope", "profile")]).await;
    assert_eq!(
        token_of(t.exchange(&id, &secret, &code2, &[]).await).await,
        token
    );

    let v = json(
        t.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
    )
    .await;
    assert_eq!(v["id"], ALICE_ID);
    assert_eq!(v["uri"], "http://social.test/users/alice");
    let v = json(t.get("/oauth/userinfo", Some(&token)).await).await;
    assert_eq!(v["sub"], "http://social.test/users/alice");

    let calls = t.fake.calls("POST", "/oauth/token");
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].body_param("grant_type"),
        Some("authorization_code")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_is_strict() {
    let clock = FixedClock::new(1_800_000_000);
    let t = T::new(FakeConfig::new(Profile::Mastodon44).clock(clock.clone()));
    let (id, secret) = t.app("profile").await;

    let code = t.code(&id, &[("scope", "profile")]).await;
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r).await["error_description"],
        "Missing required parameter: redirect_uri."
    );

    // Wrong redirect_uri (on a fresh code).
    let code = t.code(&id, &[("scope", "profile")]).await;
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/other"),
            ],
        )
        .await;
    assert_eq!(json(r).await["error"], "invalid_grant");

    let r = t.exchange(&id, "wrong", &code, &[]).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(json(r).await["error"], "invalid_client");

    // Expired after 10 minutes.
    let code = t.code(&id, &[("scope", "profile")]).await;
    clock.advance(600);
    assert_eq!(
        json(t.exchange(&id, &secret, &code, &[]).await).await["error"],
        "invalid_grant"
    );

    let r = t
        .post_form("/oauth/token", &[("grant_type", "password")])
        .await;
    assert_eq!(json(r).await["error"], "unsupported_grant_type");
    let r = t.post_form("/oauth/token", &[("client_id", &id)]).await;
    assert_eq!(
        json(r).await["error_description"],
        "Missing required parameter: grant_type."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_and_app_token_rules() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, secret) = t.app("profile write:accounts").await;
    // No `read` on the app and no explicit scope → invalid_scope.
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(json(r).await["error"], "invalid_scope");
    let r = t
        .http
        .post(t.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "write:accounts"),
        ])
        .send()
        .await
        .unwrap();
    let app_token = token_of(r).await;
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&app_token))
        .await;
    assert_eq!(r.status(), 403, "write:accounts lacks profile/read");
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "profile"),
            ],
        )
        .await;
    let profile_app_token = token_of(r).await;
    let r = t
        .get(
            "/api/v1/accounts/verify_credentials",
            Some(&profile_app_token),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        json(r).await["error"],
        "This method requires an authenticated user"
    );
    let v = json(
        t.get("/api/v1/apps/verify_credentials", Some(&app_token))
            .await,
    )
    .await;
    assert_eq!(v["name"], "Bridge");
    assert!(v.get("client_secret").is_none());

    t.fake.revoke_all_apps();
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "profile"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        t.get("/api/v1/apps/verify_credentials", Some(&app_token))
            .await
            .status(),
        401
    );
    let r = t.authorize(&id, &[("scope", "profile")]).await;
    assert_eq!(r.status(), 401);
    assert!(location(&r).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn pkce_checked_from_43_ignored_on_42() {
    let verifier = "a-verifier-that-is-long-enough-to-be-valid-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let pkce = [
        ("scope", "read:accounts"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let t = T::new(FakeConfig::new(Profile::Mastodon43));
    let (id, secret) = t.app("read:accounts").await;
    let code = t.code(&id, &pkce).await;
    let r = t.exchange(&id, &secret, &code, &[]).await;
    assert_eq!(
        json(r).await["error_description"],
        "Missing required parameter: code_verifier."
    );
    let r = t
        .exchange(&id, &secret, &code, &[("code_verifier", "wrong")])
        .await;
    assert_eq!(json(r).await["error"], "invalid_grant");
    let code = t.code(&id, &pkce).await;
    token_of(
        t.exchange(&id, &secret, &code, &[("code_verifier", verifier)])
            .await,
    )
    .await;
    // A verifier for a code issued without a challenge is refused.
    let code = t.code(&id, &[("scope", "read:accounts")]).await;
    let r = t
        .exchange(&id, &secret, &code, &[("code_verifier", verifier)])
        .await;
    assert_eq!(json(r).await["error"], "invalid_grant");
    // plain is refused at authorize, on an HTML page.
    let r = t
        .authorize(
            &id,
            &[
                ("scope", "read:accounts"),
                ("code_challenge", verifier),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);

    let t = T::new(FakeConfig::new(Profile::Mastodon42));
    let (id, secret) = t.app("read:accounts").await;
    let code = t.code(&id, &pkce).await;
    // 4.2 stores no challenge: a wrong verifier still gets a token.
    token_of(
        t.exchange(&id, &secret, &code, &[("code_verifier", "wrong")])
            .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_refuses_without_redirecting() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, _) = t.app("read:accounts").await;
    // `profile` is not among the app's scopes; no hierarchy either.
    let r = t
        .authorize(&id, &[("scope", "read:accounts profile")])
        .await;
    assert_eq!(r.status(), 400);
    assert!(location(&r).is_none());
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The requested scope is invalid")
    );
    let r = t.authorize(&id, &[("scope", "read")]).await;
    assert_eq!(r.status(), 400);
    let r = t
        .http
        .get(t.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", "http://evil.test/cb"),
            ("scope", "read:accounts"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(location(&r).is_none());
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The redirect uri included is not valid.")
    );
    let r = t.authorize("nope", &[("scope", "read:accounts")]).await;
    assert_eq!(r.status(), 401);
    // Default scope is `read`, which this app lacks.
    assert_eq!(t.authorize(&id, &[]).await.status(), 400);
    // 4.2 renders the same errors with status 200.
    let t = T::new(FakeConfig::new(Profile::Mastodon42));
    let (id, _) = t.app("read:accounts").await;
    let r = t.authorize(&id, &[("scope", "read")]).await;
    assert_eq!(r.status(), 200);
    assert!(location(&r).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_form_signs_in_approves_and_denies() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44).interactive());
    let (id, _) = t.app("profile").await;
    let r = t.authorize(&id, &[("scope", "profile")]).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    for needle in [
        "name=\"username\"",
        "name=\"password\"",
        "value=\"approve\"",
        "value=\"deny\"",
        "value=\"st4te\"",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    let form = |decision: &'static str, password: &'static str| {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", id.clone()),
            ("redirect_uri", CB.to_owned()),
            ("scope", "profile".to_owned()),
            ("state", "st4te".to_owned()),
            ("username", "alice".to_owned()),
            ("password", password.to_owned()),
            ("decision", decision.to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            t.http
                .post(t.url("/oauth/authorize"))
                .form(&f)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(form("approve", "nope")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Invalid username or password.")
    );
    let r = post(form("approve", "password")).await;
    assert_eq!(r.status(), 302);
    assert!(query_of(&r, "code").is_some());
    let r = post(form("deny", "")).await;
    assert_eq!(query_of(&r, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_of(&r, "state").as_deref(), Some("st4te"));

    // Auto-approve mode still shows the form for force_login=true.
    t.fake.set_login(LoginMode::AutoApprove("alice".into()));
    assert_eq!(
        t.authorize(&id, &[("scope", "profile")]).await.status(),
        302
    );
    let r = t
        .authorize(&id, &[("scope", "profile"), ("force_login", "true")])
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_mode_skips_consent_only_with_matching_token() {
    let t = T::new(
        FakeConfig::new(Profile::Mastodon44)
            .local_domain("local.test")
            .signed_in("alice"),
    );
    let (id, secret) = t.app("profile read:accounts").await;
    let r = t.authorize(&id, &[("scope", "profile")]).await;
    assert_eq!(r.status(), 200, "first time: consent page");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Signed in as @alice@local.test")
    );
    let r = t
        .post_form(
            "/oauth/authorize",
            &[
                ("response_type", "code"),
                ("client_id", &id),
                ("redirect_uri", CB),
                ("scope", "profile"),
                ("decision", "approve"),
            ],
        )
        .await;
    let code = query_of(&r, "code").expect("approved as the signed-in user");
    let token = token_of(t.exchange(&id, &secret, &code, &[]).await).await;
    assert_eq!(
        t.authorize(&id, &[("scope", "profile")]).await.status(),
        302
    );
    // A different scope set has no matching token.
    assert_eq!(
        t.authorize(&id, &[("scope", "read:accounts")])
            .await
            .status(),
        200
    );
    assert_eq!(
        t.authorize(&id, &[("scope", "profile"), ("force_login", "true")])
            .await
            .status(),
        200
    );
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
    assert_eq!(
        t.authorize(&id, &[("scope", "profile")]).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gotosocial_token_endpoint_differences() {
    let t = T::new(FakeConfig::new(Profile::GoToSocial));
    let (id, secret) = t.app("read").await;
    // No HTTP Basic on GoToSocial, and redirect_uri is always required.
    let r = t
        .http
        .post(t.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("redirect_uri", CB)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    // Hierarchical scopes: `read` covers `read:accounts`.
    let code = t.code(&id, &[("scope", "read:accounts")]).await;
    let token = token_of(t.exchange(&id, &secret, &code, &[]).await).await;
    let v = json(
        t.get("/api/v1/accounts/verify_credentials", Some(&token))
            .await,
    )
    .await;
    assert!(v.get("uri").is_none(), "GoToSocial accounts have no uri");
}

#[tokio::test(flavor = "multi_thread")]
async fn version_specific_grants_userinfo_and_approval() {
    // Password grant: 4.3 yes (by e-mail), 4.4 no.
    let t = T::new(FakeConfig::new(Profile::Mastodon43));
    let (id, secret) = t.app("read:accounts").await;
    let pw = |id: String, secret: String| {
        vec![
            ("grant_type", "password".to_owned()),
            ("client_id", id),
            ("client_secret", secret),
            ("username", "alice@example.net".to_owned()),
            ("password", "password".to_owned()),
            ("scope", "read:accounts".to_owned()),
        ]
    };
    let r = t
        .http
        .post(t.url("/oauth/token"))
        .form(&pw(id.clone(), secret.clone()))
        .send()
        .await
        .unwrap();
    let token = token_of(r).await;
    // No /oauth/userinfo before 4.4.
    assert_eq!(t.get("/oauth/userinfo", Some(&token)).await.status(), 404);
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, secret) = t.app("read read:accounts").await;
    let r = t
        .http
        .post(t.url("/oauth/token"))
        .form(&pw(id.clone(), secret.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["error"], "unsupported_grant_type");
    assert_eq!(
        t.fake.last("POST", "/oauth/token").unwrap().status,
        Some(400)
    );
    // userinfo wants the literal `profile` scope.
    let code = t.code(&id, &[("scope", "read")]).await;
    let token = token_of(t.exchange(&id, &secret, &code, &[]).await).await;
    let r = t.get("/oauth/userinfo", Some(&token)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        json(r).await["error"],
        "This action is outside the authorized scopes"
    );

    // Approval-required sign-up: confirmed, then pending.
    t.fake.set_registrations(Registrations {
        approval_required: true,
        ..Registrations::default()
    });
    let (id, secret) = t.fake.seed_app(&[CB], "read write:accounts");
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
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .bearer_auth(&app_token)
        .json(&serde_json::json!({"username": "frank", "email": "f@example.org", "password": "long enough", "agreement": true, "locale": "en"}))
        .send()
        .await
        .unwrap();
    let user_token = token_of(r).await;
    let link = t.fake.confirmation_link("frank").unwrap();
    assert_eq!(t.http.get(link).send().await.unwrap().status(), 302);
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&user_token))
        .await;
    assert_eq!(
        json(r).await["error"],
        "Your login is currently pending approval"
    );
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["registrations"]["approval_required"], true);
}

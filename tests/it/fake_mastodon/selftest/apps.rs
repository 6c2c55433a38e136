//! App registration: per-version validation and shapes, the throttle, the 4.2 vacuum.

use super::*;

/// Doorkeeper splits on ASCII whitespace only: a literal `+` is part of a scope.
#[tokio::test(flavor = "multi_thread")]
async fn app_scopes_split_on_ascii_whitespace_only() {
    let t = T::new(FakeConfig::new(Profile::Mastodon43));
    let r = t
        .post_form(
            "/api/v1/apps",
            &[
                ("client_name", "B"),
                ("redirect_uris", CB),
                ("scopes", "read+write"),
            ],
        )
        .await;
    assert_eq!(
        json(r).await["error"],
        "Validation failed: Scopes doesn't match configured on the server."
    );
    let r = t
        .post_form(
            "/api/v1/apps",
            &[
                ("client_name", "B"),
                ("redirect_uris", CB),
                ("scopes", "read\u{3000}write  read"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "ideographic space is not ASCII whitespace");
    let v = json(
        t.post_form(
            "/api/v1/apps",
            &[
                ("client_name", "B"),
                ("redirect_uris", CB),
                ("scopes", "read  write read"),
            ],
        )
        .await,
    )
    .await;
    assert!(
        v["client_id"].is_string(),
        "runs of spaces and repeats are fine: {v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn app_registration_validation_by_version() {
    for (profile, status) in [
        (Profile::Mastodon42, 422),
        (Profile::Mastodon43, 200),
        (Profile::GoToSocial, 400),
    ] {
        let t = T::new(FakeConfig::new(profile));
        let r = t
            .http
            .post(t.url("/api/v1/apps"))
            .json(&serde_json::json!({"client_name": "B", "redirect_uris": [CB, "myapp://cb"], "scopes": "read"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{profile:?}");
        let v = json(r).await;
        match profile {
            Profile::Mastodon42 => {
                assert_eq!(v["error"], "Validation failed: Redirect URI can't be blank")
            }
            Profile::Mastodon43 => {
                assert_eq!(v["redirect_uri"], format!("{CB}\nmyapp://cb"));
                assert_eq!(v["redirect_uris"][1], "myapp://cb");
                assert!(v.get("client_secret_expires_at").is_none());
            }
            _ => assert!(v["error"].as_str().unwrap().starts_with("Bad Request")),
        }
    }
    let t = T::new(FakeConfig::new(Profile::Mastodon42));
    let r = t
        .post_form(
            "/api/v1/apps",
            &[
                ("client_name", "B"),
                ("redirect_uris", CB),
                ("scopes", "profile"),
            ],
        )
        .await;
    assert_eq!(
        json(r).await["error"],
        "Validation failed: Scopes doesn't match configured on the server."
    );
    let r = t
        .post_form("/api/v1/apps", &[("redirect_uris", "foo/bar")])
        .await;
    assert_eq!(
        json(r).await["error"],
        "Validation failed: Application name can't be blank, Redirect URI must be an absolute URI."
    );
    let r = t
        .post_form(
            "/api/v1/apps",
            &[
                ("client_name", "B"),
                ("redirect_uris", "https://a.test/cb#x"),
            ],
        )
        .await;
    assert_eq!(
        json(r).await["error"],
        "Validation failed: Redirect URI cannot contain a fragment."
    );
    let v = json(
        t.post_form(
            "/api/v1/apps",
            &[("client_name", "B"), ("redirect_uris", CB)],
        )
        .await,
    )
    .await;
    assert!(v.get("scopes").is_none(), "4.2 shape has no scopes");
    assert_eq!(v["redirect_uri"], CB);

    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let v = json(
        t.http
            .post(t.url("/api/v1/apps"))
            .json(&serde_json::json!({"client_name": "B", "redirect_uris": CB, "scopes": ["profile", "write"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        v["scopes"],
        serde_json::json!(["read"]),
        "array scopes fall back to read"
    );
    assert_eq!(v["client_secret_expires_at"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn app_registration_is_throttled_after_five() {
    // A fixed clock: a window boundary mid-test would reset the count.
    let clock = FixedClock::new(1_800_000_100);
    let t = T::new(FakeConfig::new(Profile::Mastodon44).clock(clock.clone()));
    for _ in 0..5 {
        t.app("read").await;
    }
    let r = t
        .post_form(
            "/api/v1/apps",
            &[("client_name", "B"), ("redirect_uris", CB)],
        )
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit"], "5");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    // The end of the fixed 10-minute window.
    assert_eq!(
        r.headers()["x-ratelimit-reset"],
        "2027-01-15T08:10:00.000000Z"
    );
    assert_eq!(
        json(r).await,
        serde_json::json!({"error": "Too many requests"})
    );
    // The next window starts afresh.
    clock.advance(500);
    t.app("read").await;
    t.fake.reset_apps_rate_limit();
    t.app("read").await;
    t.fake.set_apps_rate_limited(true);
    let r = t
        .post_form(
            "/api/v1/apps",
            &[("client_name", "B"), ("redirect_uris", CB)],
        )
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(t.fake.count("POST", "/api/v1/apps"), 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn vacuum_deletes_unused_apps_only() {
    let clock = FixedClock::new(1_800_000_000);
    let t = T::new(FakeConfig::new(Profile::Mastodon42).clock(clock.clone()));
    let (unused, unused_secret) = t.app("read").await;
    let (kept, kept_secret) = t.app("read").await;
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &kept),
                ("client_secret", &kept_secret),
            ],
        )
        .await;
    token_of(r).await;
    t.fake.run_vacuum();
    assert_eq!(t.fake.apps().len(), 2, "younger than a day");
    clock.advance(86_400);
    t.fake.run_vacuum();
    let r = t
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &unused),
                ("client_secret", &unused_secret),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(t.fake.apps().len(), 1);
    assert_eq!(t.fake.apps()[0].client_id, kept);
}

//! Self-tests: the fake answers like the real server and, above all, refuses
//! what the real server refuses. Plain reqwest with a DNS override in the
//! test client only; nothing leaves loopback.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mastodon_oidc::clock::FixedClock;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AccountState, FakeConfig, FakeMastodon, FakeUser, Profile, Registrations};

const CB: &str = "http://127.0.0.1:9/callback";

fn client(fake: &FakeMastodon) -> reqwest::Client {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for (name, addr) in fake.host_overrides() {
        b = b.resolve(&name, addr);
    }
    b.build().expect("client")
}

struct T {
    fake: FakeMastodon,
    http: reqwest::Client,
    base: String,
}

impl T {
    fn new(config: FakeConfig) -> T {
        let fake = FakeMastodon::start(config);
        let http = client(&fake);
        let base = fake.base_url();
        T { fake, http, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("post")
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("get")
    }

    /// Registers an app; returns (client_id, client_secret).
    async fn app(&self, scopes: &str) -> (String, String) {
        let r = self
            .post_form(
                "/api/v1/apps",
                &[
                    ("client_name", "Bridge"),
                    ("redirect_uris", CB),
                    ("scopes", scopes),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        (
            v["client_id"].as_str().expect("id").to_owned(),
            v["client_secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Runs `/oauth/authorize`; returns the response (no redirects followed).
    async fn authorize(&self, client_id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut q = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CB),
            ("state", "st4te"),
        ];
        q.extend_from_slice(extra);
        self.http
            .get(self.url("/oauth/authorize"))
            .query(&q)
            .send()
            .await
            .expect("authorize")
    }

    async fn code(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let r = self.authorize(client_id, extra).await;
        assert_eq!(r.status(), 302);
        query_of(&r, "code").expect("code in redirect")
    }

    async fn exchange(
        &self,
        id: &str,
        secret: &str,
        code: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", CB),
        ];
        f.extend_from_slice(extra);
        self.post_form("/oauth/token", &f).await
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn query_of(r: &reqwest::Response, key: &str) -> Option<String> {
    let loc = url::Url::parse(&location(r)?).ok()?;
    loc.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn json(r: reqwest::Response) -> Value {
    r.json().await.expect("json body")
}

async fn token_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    json(r).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_webfinger_nodeinfo_metadata() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let r = t
        .get(
            "/.well-known/webfinger?resource=acct:alice@social.test",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jrd+json")
    );
    let v = json(r).await;
    assert_eq!(v["subject"], "acct:alice@social.test");
    let links = v["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == "http://social.test/users/alice")
    );
    let r = t
        .get("/.well-known/webfinger?resource=acct:bob@social.test", None)
        .await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(t.get("/.well-known/webfinger", None).await.status(), 400);
    assert_eq!(
        t.get(
            "/.well-known/webfinger?resource=acct:alice@other.test",
            None
        )
        .await
        .status(),
        404
    );
    let v = json(t.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["name"], "mastodon");
    let v = json(t.get("/.well-known/oauth-authorization-server", None).await).await;
    assert_eq!(v["issuer"], "http://social.test/");
    assert_eq!(v["scopes_supported"][1], "profile");
    assert_eq!(v["userinfo_endpoint"], "http://social.test/oauth/userinfo");
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["domain"], "social.test");
    assert_eq!(v["registrations"]["enabled"], true);
    assert_eq!(t.fake.count("GET", "/.well-known/webfinger"), 4);
    let ua = t.fake.last("GET", "/nodeinfo/2.0").unwrap();
    assert_eq!(ua.host(), "social.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_userinfo_depend_on_version() {
    let t42 = T::new(FakeConfig::new(Profile::Mastodon42));
    assert_eq!(
        t42.get("/.well-known/oauth-authorization-server", None)
            .await
            .status(),
        404
    );
    let v = json(t42.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["version"], "4.2.10");
    let t43 = T::new(FakeConfig::new(Profile::Mastodon43));
    let v = json(
        t43.get("/.well-known/oauth-authorization-server", None)
            .await,
    )
    .await;
    assert!(v.get("userinfo_endpoint").is_none());
    assert!(
        v["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "password")
    );
    let gts = T::new(FakeConfig::new(Profile::GoToSocial));
    assert_eq!(
        gts.get("/.well-known/oauth-authorization-server", None)
            .await
            .status(),
        404
    );
    let v = json(gts.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["name"], "gotosocial");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_domain_handles_and_webfinger_redirect() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44).local_domain("local.test"));
    let r = t
        .http
        .get("http://local.test/.well-known/webfinger?resource=acct:alice@local.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    let loc = location(&r).unwrap();
    assert!(loc.starts_with("http://social.test/.well-known/webfinger?resource=acct"));
    let v = json(t.http.get(loc).send().await.unwrap()).await;
    assert_eq!(v["subject"], "acct:alice@local.test");
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["domain"], "local.test");
}

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
    assert_eq!(v["id"], super::ALICE_ID);
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
    t.fake
        .set_login(super::LoginMode::AutoApprove("alice".into()));
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
async fn knobs_down_garbage_forced_and_delay() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    t.fake.set_down(true);
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 503);
    t.fake.set_down(false);
    t.fake.set_html_garbage(true);
    let r = t.get("/api/v2/instance", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    t.fake.set_html_garbage(false);
    t.fake.force_response(
        "GET",
        "/api/v2/instance",
        500,
        "application/json",
        "{}",
        Some(1),
    );
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 500);
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 200);
    t.fake.set_delay(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    t.get("/api/v1/instance", None).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let c = t.fake.last("GET", "/api/v1/instance").unwrap();
    assert_eq!(c.host(), "social.test");
    assert_eq!(t.fake.count("GET", "/api/v2/instance"), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn recorder_keeps_bodies_and_headers() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    t.http
        .post(t.url("/api/v1/apps"))
        .header("user-agent", "bridge-test/1")
        .json(&serde_json::json!({"client_name": "B", "redirect_uris": [CB], "scopes": "read"}))
        .send()
        .await
        .unwrap();
    let c = t.fake.last("POST", "/api/v1/apps").unwrap();
    assert_eq!(c.user_agent(), Some("bridge-test/1"));
    assert_eq!(c.body_param("client_name"), Some("B"));
    assert_eq!(c.array("redirect_uris"), Some(vec![CB.to_owned()]));
    assert!(c.json.is_some());
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
    assert_eq!(t.fake.apps()[0].0, kept);
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
async fn numeric_actor_uris_and_avatar() {
    let mut alice = FakeUser::new(super::ALICE_ID, "alice");
    alice.avatar = Some("http://social.test/system/a.png".into());
    let mut config = FakeConfig::new(Profile::Mastodon44).users(vec![alice]);
    config.numeric_actor_uris = true;
    let t = T::new(config);
    let v = json(
        t.get(
            "/.well-known/webfinger?resource=acct:alice@social.test",
            None,
        )
        .await,
    )
    .await;
    let links = v["links"].as_array().unwrap();
    let self_href = format!("http://social.test/ap/users/{}", super::ALICE_ID);
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == self_href)
    );
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "http://webfinger.net/rel/avatar")
    );
    let r = t.get("/.well-known/host-meta", None).await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("http://social.test/.well-known/webfinger?resource={uri}")
    );
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
async fn unreachable_refuses_connections_then_recovers() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, _) = t.app("read").await;
    t.fake.set_unreachable(true);
    // A fresh client: pooled keep-alive connections were cut, new ones refused.
    let fresh = client(&t.fake);
    let err = fresh
        .get(t.url("/api/v2/instance"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    t.fake.set_unreachable(false);
    let r = fresh.get(t.url("/api/v2/instance")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // State survives the outage.
    assert_eq!(t.fake.apps()[0].0, id);
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

//! Self-tests: the fake answers like the real server and, above all, refuses
//! what the real server refuses. Plain reqwest with a DNS override in the
//! test client only; nothing leaves loopback. Shared helpers live here.

mod accounts;
mod apps;
mod discovery;
mod knobs;
mod oauth;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mastodon_oidc::clock::FixedClock;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    ALICE_ID, AccountState, FakeConfig, FakeMastodon, FakeUser, LoginMode, Profile, Registrations,
};

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

//! What every conformance module shares: the provider with the fake Mastodon
//! behind it, a relying party built by `openidconnect` from discovery, the
//! browser leg (handle page → Mastodon's authorize page → callback) and the
//! checks the suite makes of every token response.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims,
    CoreProviderMetadata, CoreResponseType, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, AuthorizationRequest, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use url::Url;

use mastodon_oidc::clock::Clock;
use mastodon_oidc::config::ClientConfig;

use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::seed::{self, REDIRECT, SECRET};
use crate::support::browser::{Browser, Page, query};
use crate::support::{TestApp, TestDb, rp};

pub const HANDLE: &str = "@alice@social.test";

/// The relying party as `openidconnect` builds it from provider metadata.
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub type Request<'a> = AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>;

/// One authorization request as sent: where to, and what the RP must remember.
pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: Option<PkceCodeVerifier>,
}

impl Started {
    /// The same request with `name` removed (what the library always sends).
    pub fn without(mut self, name: &str) -> Self {
        let mut u = Url::parse(&self.url).unwrap();
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != name)
            .collect();
        u.query_pairs_mut().clear().extend_pairs(kept);
        self.url = u.to_string();
        self
    }
}

pub struct Suite {
    pub app: TestApp,
    pub fake: FakeMastodon,
    pub meta: CoreProviderMetadata,
    pub b: Browser,
}

impl Suite {
    /// The provider with client `rp` (`login::seed`) and a Mastodon 4.4 fake.
    pub async fn start(db: &TestDb) -> Self {
        Self::with_clients(db, vec![seed::client("rp")]).await
    }

    pub async fn with_clients(db: &TestDb, clients: Vec<ClientConfig>) -> Self {
        let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
        let overrides = fake.override_map();
        let app = TestApp::spawn_with(db, move |c| {
            c.clients = clients;
            c.upstream.host_overrides = overrides;
        })
        .await;
        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.issuer.clone()).unwrap(),
            &rp::http_client,
        )
        .await
        .expect("openidconnect discovers the provider");
        Self {
            app,
            fake,
            meta,
            b: Browser::default(),
        }
    }

    /// Client `rp` with client_secret_basic (the library's default).
    pub fn rp(&self) -> Rp {
        self.rp_as("rp", Some(SECRET), REDIRECT)
    }

    pub fn rp_as(&self, id: &str, secret: Option<&str>, redirect: &str) -> Rp {
        let client = CoreClient::from_provider_metadata(
            self.meta.clone(),
            ClientId::new(id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
        match secret {
            Some(_) => client,
            // A public client sends its id in the body, with no secret.
            None => client.set_auth_type(AuthType::RequestBody),
        }
    }

    /// A code-flow request with state, nonce and PKCE S256, shaped by `tweak`.
    pub fn request<'a>(rp: &'a Rp, tweak: impl FnOnce(Request<'a>) -> Request<'a>) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let req = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        let (url, state, nonce) = tweak(req).url();
        Started {
            url: url.to_string(),
            state,
            nonce,
            verifier: Some(verifier),
        }
    }

    /// The whole interactive login; the redirect back to the client, checked
    /// for `state` and `iss` (RFC 9207).
    pub async fn log_in(&mut self, started: &Started) -> Url {
        let page = self.b.get(&started.url).await;
        assert_eq!(page.status, 200, "the handle page: {}", page.body);
        let up = self
            .app
            .submit_handle(&mut self.b, &page.input("request"), HANDLE)
            .await;
        let back = self.through_mastodon(&up).await;
        self.redirect_back(&back, started)
    }

    /// From the bridge's redirect to Mastodon, through its authorize page
    /// (signing in when it asks), to the bridge's answer at the callback.
    pub async fn through_mastodon(&mut self, up: &Page) -> Page {
        assert_eq!(up.status, 303, "to the server: {}", up.body);
        let to = up.location();
        assert_eq!(to.host_str(), Some(self.fake.web_domain().as_str()), "{to}");
        let mut at = self.b.get(&self.fake.at_ip(&to)).await;
        if at.status == 200 {
            // Mastodon's sign-in form (force_login): sign in and authorize.
            let (_, mut fields) = at.form();
            fields.retain(|(k, _)| k != "username" && k != "password");
            fields.extend([
                ("username".into(), "alice".into()),
                ("password".into(), "password".into()),
                ("decision".into(), "approve".into()),
            ]);
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let action = format!("{}/oauth/authorize", self.fake.ip_url());
            at = self.b.post(&action, &pairs).await;
        }
        assert_eq!(at.status, 302, "Mastodon approves: {}", at.body);
        let callback = at.location();
        assert_eq!(
            callback.path(),
            format!("/callback/{}", self.fake.web_domain())
        );
        self.b.get(callback.as_str()).await
    }

    /// The authorization response of `page` for `started`: 303 to the
    /// registered redirect URI with the same `state` and our `iss`.
    pub fn redirect_back(&self, page: &Page, started: &Started) -> Url {
        assert_eq!(page.status, 303, "back to the client: {}", page.body);
        let loc = page.location();
        assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
        assert_eq!(
            query(&loc, "state").as_deref(),
            Some(started.state.secret().as_str()),
            "state echoed"
        );
        assert_eq!(
            query(&loc, "iss").as_deref(),
            Some(self.app.issuer.as_str())
        );
        loc
    }

    /// Redeem the code in `loc` with the library.
    pub async fn exchange(&self, rp: &Rp, loc: &Url, started: Started) -> CoreTokenResponse {
        let code = query(loc, "code").unwrap_or_else(|| panic!("a code in {loc}"));
        self.redeem(rp, code, started).await
    }

    pub async fn redeem(&self, rp: &Rp, code: String, started: Started) -> CoreTokenResponse {
        let mut req = rp
            .exchange_code(AuthorizationCode::new(code))
            .expect("a token endpoint");
        if let Some(v) = started.verifier {
            req = req.set_pkce_verifier(v);
        }
        req.request_async(&rp::http_client)
            .await
            .expect("a token response")
    }

    /// The suite's checks of an ID token: signature by a key of the
    /// discovered JWKS named by `kid`, iss, aud, exp, iat now, nonce (when
    /// one was sent), at_hash of the access token; returns its claims.
    pub fn verify(
        &self,
        rp: &Rp,
        res: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> CoreIdTokenClaims {
        let now = self.app.clock.now();
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap();
        let verifier = rp.id_token_verifier().set_time_fn(move || at);
        let token = res.id_token().expect("an ID token");
        let claims = match nonce {
            Some(n) => token.claims(&verifier, n),
            None => token.claims(&verifier, |n: Option<&Nonce>| match n {
                None => Ok(()),
                Some(_) => Err("a nonce nobody sent".to_string()),
            }),
        }
        .expect("a valid ID token")
        .clone();
        let kid = header(&token.to_string())["kid"]
            .as_str()
            .expect("a kid")
            .to_string();
        assert!(
            self.meta
                .jwks()
                .keys()
                .iter()
                .any(|k| k.key_id().map(|id| id.as_str()) == Some(kid.as_str())),
            "kid {kid} is in the discovered JWKS"
        );
        let expected = AccessTokenHash::from_token(
            res.access_token(),
            token.signing_alg().unwrap(),
            token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
        assert_eq!(claims.issue_time().timestamp(), now, "iat is now");
        assert!(claims.expiration().timestamp() > now);
        assert!(
            claims.audiences().iter().any(|a| **a == **rp.client_id()),
            "aud"
        );
        assert!(!claims.subject().as_str().is_empty());
        let auth_time = claims.auth_time().expect("auth_time").timestamp();
        assert!(
            auth_time <= now,
            "auth_time {auth_time} is not in the future"
        );
        claims
    }
}

/// The JOSE header of a compact JWT.
pub fn header(jwt: &str) -> serde_json::Value {
    let first = jwt.split('.').next().unwrap();
    serde_json::from_slice(&mastodon_oidc::crypto::decode_base64(first).unwrap()).unwrap()
}

/// The whole basic flow for `rp` with `tweak`: (claims, token response).
pub async fn basic_flow<'a>(
    s: &mut Suite,
    rp: &'a Rp,
    tweak: impl FnOnce(Request<'a>) -> Request<'a>,
) -> (CoreIdTokenClaims, CoreTokenResponse) {
    let started = Suite::request(rp, tweak);
    let loc = s.log_in(&started).await;
    let nonce = started.nonce.clone();
    let res = s.exchange(rp, &loc, started).await;
    assert_eq!(res.token_type().as_ref(), "bearer");
    (s.verify(rp, &res, Some(&nonce)), res)
}

//! The upstream leg against the fake Mastodon, per version profile and on
//! both storage backends: `MastodonUpstream::begin`, the browser's trip to
//! the fake's authorize endpoint (auto-approved), then `complete`.

mod apps;
mod deadline;
mod flows;
mod handles;
mod instance;
mod refusals;
mod signup;

use std::sync::Arc;

use mastodon_oidc::clock::{FixedClock, SharedClock};
use mastodon_oidc::config::UpstreamConfig;
use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::mastodon::MastodonUpstream;
use mastodon_oidc::store::Store;
use mastodon_oidc::upstream::{
    CallbackQuery, Identity, LoginInput, Upstream, UpstreamError, Verified,
};

use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::support::{T0, TestDb, test_config};

pub const ISSUER: &str = "http://id.test";
pub const ALL: [Profile; 4] = [
    Profile::Mastodon42,
    Profile::Mastodon43,
    Profile::Mastodon44,
    Profile::GoToSocial,
];

/// A fake server, our upstream pointed at it, and the shared store and clock.
pub struct Leg {
    pub fake: FakeMastodon,
    pub up: MastodonUpstream,
    pub store: Store,
    pub clock: Arc<FixedClock>,
    pub sealer: Arc<Sealer>,
    pub config: UpstreamConfig,
}

pub fn upstream_config(db: &TestDb, fake: &FakeMastodon) -> UpstreamConfig {
    let mut cfg = test_config(db).upstream;
    assert!(cfg.allow_insecure);
    cfg.host_overrides = fake.override_map();
    cfg
}

impl Leg {
    pub fn start(db: &TestDb, fake: FakeConfig) -> Leg {
        Leg::start_with(db, fake, |_| {})
    }

    pub fn start_with(
        db: &TestDb,
        fake: FakeConfig,
        tweak: impl FnOnce(&mut UpstreamConfig),
    ) -> Leg {
        let clock = FixedClock::new(T0);
        let shared: SharedClock = clock.clone();
        let fake = FakeMastodon::start(fake.clock(shared));
        let mut config = upstream_config(db, &fake);
        tweak(&mut config);
        let store = db.store();
        let sealer = Arc::new(Sealer::for_tests());
        let up = Leg::upstream(&config, &store, &sealer, &clock);
        Leg {
            fake,
            up,
            store,
            clock,
            sealer,
            config,
        }
    }

    /// Another instance on the same store (another replica).
    pub fn upstream(
        config: &UpstreamConfig,
        store: &Store,
        sealer: &Arc<Sealer>,
        clock: &Arc<FixedClock>,
    ) -> MastodonUpstream {
        let shared: SharedClock = clock.clone();
        MastodonUpstream::from_config(
            config.clone(),
            store.clone(),
            sealer.clone(),
            shared,
            ISSUER,
        )
        .expect("upstream")
    }

    pub fn apps_posts(&self) -> usize {
        self.fake.count("POST", "/api/v1/apps")
    }

    /// What the browser does: GET the authorize URL at the fake (by IP with
    /// the server's name as Host) and read the callback it redirects to.
    pub async fn authorize(&self, url: &url::Url) -> CallbackQuery {
        let mut direct = url.clone();
        direct.set_host(Some("127.0.0.1")).expect("host");
        direct.set_port(Some(self.fake.port())).expect("port");
        let host = url.host_str().expect("host").to_string();
        let resp = crate::support::http()
            .get(direct)
            .header("Host", host)
            .send()
            .await
            .expect("authorize request");
        assert_eq!(
            resp.status().as_u16(),
            302,
            "authorize should redirect back"
        );
        let loc = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .expect("location")
            .to_string();
        let loc = url::Url::parse(&loc).expect("callback url");
        let callback = format!("{ISSUER}/callback/{}", self.fake.web_domain());
        assert!(loc.as_str().starts_with(&callback), "callback {loc}");
        serde_urlencoded::from_str(loc.query().unwrap_or_default()).expect("callback query")
    }

    /// The whole leg for `typed`; the account.
    pub async fn login(&self, typed: &str) -> Result<Identity, UpstreamError> {
        self.login_verified(typed).await.map(|v| v.identity)
    }

    /// The whole leg for `typed`.
    pub async fn login_verified(&self, typed: &str) -> Result<Verified, UpstreamError> {
        let input = LoginInput {
            typed: typed.into(),
            ..Default::default()
        };
        let begin = self.up.begin(&input, "st-123").await?;
        let query = self.authorize(&begin.redirect_to).await;
        assert_eq!(query.state.as_deref(), Some("st-123"));
        self.up
            .complete(&begin.server_host, &begin.stored, &query)
            .await
    }
}

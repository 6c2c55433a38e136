//! Test helpers: databases on both backends and the service on port 0.

pub mod browser;
pub mod dump;
pub mod logs;
pub mod mock_upstream;
pub mod pg;
pub mod plug;
pub mod receiver;
pub mod rp;

use std::sync::Arc;
use std::time::Duration;

use mastodon_oidc::app::{self, AppState, Running};
use mastodon_oidc::clock::{FixedClock, SharedClock};
use mastodon_oidc::config::Config;
use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::store::Store;
use mastodon_oidc::upstream::Upstream;

/// A message the test harness does not capture: it shows even when the
/// test passes (`eprintln!` output of passing tests is swallowed).
pub fn loud(message: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{message}");
    let _ = err.flush();
}

/// Which storage backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test; removed when dropped.
pub enum TestDb {
    /// The directory is held only to delete it on drop.
    Sqlite(#[allow(dead_code)] tempfile::TempDir, String),
    Postgres(pg::PgDatabase),
}

impl TestDb {
    /// None when PostgreSQL is unavailable outside CI (already reported loudly).
    pub fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                Some(TestDb::Sqlite(dir, url))
            }
            Backend::Postgres => pg::database().map(TestDb::Postgres),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite(_, url) => url,
            TestDb::Postgres(db) => &db.url,
        }
    }

    pub fn store(&self) -> Store {
        Store::connect(self.url(), 8, Duration::from_secs(10), true).expect("test store")
    }
}

/// Runs an async test body once per backend: `backend_tests!(name => body_fn);`
/// expands to `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident => $body:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::support::TestDb::new($crate::support::Backend::Sqlite) {
                    super::$body(db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::support::TestDb::new($crate::support::Backend::Postgres) {
                    super::$body(db).await;
                }
            }
        }
    )*};
}

/// A test configuration: development mode, loopback issuer set later.
pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::load(None, Vec::<(String, String)>::new()).expect("default config");
    config.database.url = Some(mastodon_oidc::config::Secret::new(db.url()));
    config.workers = Some(1);
    config.upstream.allow_insecure = true;
    // The fixed clock never refills a bucket; the limits have their own
    // tests (`production/limits.rs`), which turn them back on.
    config.limits = mastodon_oidc::config::LimitsConfig::unlimited();
    // Tests look at the upstream token right after a login; the delay has
    // its own test (`production::upstream_tokens`).
    config.upstream.revoke_delay_secs = 0;
    config
}

/// The service running on 127.0.0.1 port 0 with a fixed, settable clock.
#[allow(dead_code)] // fields used by later test modules
pub struct TestApp {
    pub issuer: String,
    /// Where the server answers: the issuer, or its plain-http address when
    /// the issuer is https (TLS ends at a proxy in production).
    pub base: String,
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    running: Option<Running>,
}

pub const T0: i64 = 1_800_000_000;

/// Bind `addr`, retrying briefly while a stopped server's socket lets go.
fn bind(addr: &str) -> std::net::TcpListener {
    for _ in 0..50 {
        if let Ok(l) = std::net::TcpListener::bind(addr) {
            return l;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("cannot bind {addr}")
}

impl TestApp {
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(db, tweak, None).await
    }

    /// With an https issuer (so `__Host-` cookies and HSTS) and `upstream`;
    /// still served over plain http on loopback, at `base`.
    pub async fn spawn_https(
        db: &TestDb,
        tweak: impl FnOnce(&mut Config),
        upstream: Option<Arc<dyn Upstream + Send + Sync>>,
    ) -> Self {
        let https = |c: &mut Config| {
            c.issuer = c
                .issuer
                .as_ref()
                .map(|i| i.replacen("http://", "https://", 1));
            tweak(c);
        };
        Self::spawn_full(db, https, upstream).await
    }

    /// With a replacement upstream (a mock) instead of the Mastodon one.
    pub async fn spawn_full(
        db: &TestDb,
        tweak: impl FnOnce(&mut Config),
        upstream: Option<Arc<dyn Upstream + Send + Sync>>,
    ) -> Self {
        Self::spawn_on(db, db.store(), tweak, upstream).await
    }

    /// On a store of the test's own making (another URL to the same database).
    /// Listening on `addr` (a restart on the same issuer).
    pub async fn spawn_at(db: &TestDb, addr: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_bound(db, addr, db.store(), tweak, None).await
    }

    pub async fn spawn_on(
        db: &TestDb,
        store: Store,
        tweak: impl FnOnce(&mut Config),
        upstream: Option<Arc<dyn Upstream + Send + Sync>>,
    ) -> Self {
        Self::spawn_bound(db, "127.0.0.1:0", store, tweak, upstream).await
    }

    async fn spawn_bound(
        db: &TestDb,
        addr: &str,
        store: Store,
        tweak: impl FnOnce(&mut Config),
        upstream: Option<Arc<dyn Upstream + Send + Sync>>,
    ) -> Self {
        let listener = bind(addr);
        let addr = listener.local_addr().expect("addr");
        let mut config = test_config(db);
        config.issuer = Some(format!("http://{addr}"));
        config.listen = addr.to_string();
        tweak(&mut config);
        let clock = FixedClock::new(T0);
        let shared: SharedClock = clock.clone();
        let mut state = app::build_state_with(config, shared, store, Arc::new(Sealer::for_tests()))
            .await
            .expect("build state");
        if let Some(u) = upstream {
            state.upstream = u;
        }
        let running = app::start(state.clone(), listener).expect("start");
        TestApp {
            base: format!("http://{addr}"),
            issuer: state.issuer.clone(),
            state,
            clock,
            running: Some(running),
        }
    }

    /// `path` below the issuer (one slash between, as the service joins them).
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}{path}",
            self.base,
            mastodon_oidc::oidc::discovery::base_path(&self.issuer)
        )
    }

    /// Type `handle` into the handle page whose sealed request is `request`.
    pub async fn submit_handle(
        &self,
        b: &mut browser::Browser,
        request: &str,
        handle: &str,
    ) -> browser::Page {
        b.post(
            &self.url("/login"),
            &[("request", request), ("handle", handle)],
        )
        .await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        http()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            // Not awaited: the test is over; stop accepting right away.
            drop(r.handle.stop(false));
        }
    }
}

/// A plain HTTP client for tests (no redirects followed).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

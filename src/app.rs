//! Application state and the one route table: every URL of the service is
//! listed in [`routes`]. `build_state` wires configuration, storage, keys and
//! the upstream; `start` binds and runs the HTTP server plus background tasks.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use anyhow::Context;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{Sealer, sha256_b64url};
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::oidc::clients::{Client, Registry};
use crate::oidc::discovery::{self, Features, paths};
use crate::oidc::session::Cookies;
use crate::store::Store;
use crate::upstream::Upstream;
use crate::{oidc, web as pages};

/// Bytes prepared once and served as they are.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub json: bytes::Bytes,
    pub etag: String,
}

impl Prepared {
    pub fn new(json: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", &sha256_b64url(&json)[..22]);
        Self {
            json: json.into(),
            etag,
        }
    }
}

/// Shared by every request handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The issuer exactly as configured, byte for byte as in `iss`; build
    /// URLs below it with [`AppState::url`].
    pub issuer: String,
    /// The issuer's path (`""` at the root); routes answer below it too.
    pub base_path: String,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub sealer: Arc<Sealer>,
    pub clock: SharedClock,
    pub clients: Arc<Registry>,
    pub discovery: Prepared,
    pub metrics: Arc<Metrics>,
    /// Per-IP rate limits of this replica.
    pub limits: Arc<crate::ratelimit::Limits>,
    /// The identity source (Mastodon), behind the seam.
    pub upstream: Arc<dyn Upstream + Send + Sync>,
    pub cookies: Cookies,
}

impl AppState {
    /// The absolute URL of one of our paths (`/token`, `/demo/callback`).
    pub fn url(&self, path: &str) -> String {
        discovery::endpoint(&self.issuer, path)
    }

    /// A relying party by id, from configuration or the database.
    pub async fn client(&self, id: &str) -> crate::store::StoreResult<Option<Client>> {
        // Configured clients answer without a trip to the blocking pool.
        if let Some(c) = self.clients.configured_client(id) {
            return Ok(Some(c));
        }
        let (registry, id) = (self.clients.clone(), id.to_string());
        self.store.run(move |c| registry.lookup(c, &id)).await
    }
}

/// What this build implements; discovery advertises exactly this.
pub fn features(config: &Config) -> Features {
    let mut claims = vec!["iss", "aud", "exp", "iat", "azp", "at_hash"];
    claims.extend(oidc::claims::SUPPORTED);
    Features {
        authorize: true,
        token: true,
        userinfo: true,
        revocation: true,
        introspection: true,
        end_session: true,
        refresh_tokens: true,
        signup: config.upstream.signup_enabled,
        claims_supported: claims,
        scopes_supported: vec!["openid", "profile", "email", "offline_access"],
    }
}

/// The master secret: configured, from a file, or (development only)
/// generated once into the data directory.
pub fn load_sealer(config: &Config) -> anyhow::Result<Sealer> {
    if let Some(s) = &config.master_secret {
        return Sealer::from_base64(s.expose()).context("master_secret");
    }
    if let Some(path) = &config.master_secret_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read master_secret_file {}", path.display()))?;
        return Sealer::from_base64(&text).context("master_secret_file");
    }
    let path = config.data_dir.join("master.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Sealer::from_base64(&text).with_context(|| format!("{}", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let mut raw = [0u8; 32];
    crate::crypto::fill_random(&mut raw);
    let text = crate::crypto::b64url(&raw);
    write_private_file(&path, &text)?;
    tracing::warn!(path = %path.display(), "generated a development master secret");
    Sealer::new(&raw).context("generated master secret")
}

fn write_private_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// The store of a one-shot command: no idle connections kept (see
/// [`Store::connect_with`]).
pub fn open_store_for_command(config: &Config) -> anyhow::Result<Store> {
    open_store_sized(config, config.database.pool_size.min(2), 0)
}

pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    open_store_sized(config, config.database.pool_size, 1)
}

fn open_store_sized(config: &Config, pool_size: u32, min_idle: u32) -> anyhow::Result<Store> {
    Store::connect_with(
        &config.database_url(),
        pool_size,
        min_idle,
        Duration::from_secs(config.database.connect_timeout_secs),
        config.database.run_migrations,
    )
    .context("cannot open the database")
}

/// Wire everything a running service needs.
pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let sealer = Arc::new(load_sealer(&config)?);
    let cfg = config.clone();
    let store = tokio::task::spawn_blocking(move || open_store(&cfg)).await??;
    if !config.database.run_migrations {
        // Say so, rather than fail on the first missing table.
        let s = store.clone();
        let pending = tokio::task::spawn_blocking(move || s.pending_migrations()).await??;
        if pending > 0 {
            anyhow::bail!(
                "the database lacks {pending} migration(s) and database.run_migrations is false: run `mastodon-oidc migrate` first"
            );
        }
    }
    build_state_with(config, clock, store, sealer).await
}

pub async fn build_state_with(
    config: Config,
    clock: SharedClock,
    store: Store,
    sealer: Arc<Sealer>,
) -> anyhow::Result<AppState> {
    let keys = KeyRing::load(store.clone(), sealer.clone(), clock.clone())
        .await
        .context("cannot load signing keys")?;
    let issuer = config.issuer();
    let alg = config.signing.algorithm;
    let mut clients = Registry::new(
        config
            .clients
            .iter()
            .map(|c| Client::from_config(c, alg))
            .collect(),
    );
    if config.is_development() {
        clients.add_configured(pages::demo::client(&issuer, alg));
    }
    let doc = discovery::document(&issuer, &features(&config));
    let metrics = Arc::new(Metrics::new());
    let limits = Arc::new(crate::ratelimit::Limits::new(&config.limits));
    let upstream = default_upstream(&config, &store, &sealer, &clock, &issuer, &metrics, &limits)?;
    Ok(AppState {
        limits,
        upstream,
        cookies: Cookies::for_issuer(&issuer),
        discovery: Prepared::new(serde_json::to_vec(&doc)?),
        config: Arc::new(config),
        base_path: discovery::base_path(&issuer),
        issuer,
        store,
        keys: Arc::new(keys),
        sealer,
        clock,
        clients: Arc::new(clients),
        metrics,
    })
}

/// The Mastodon upstream for this configuration.
pub fn default_upstream(
    config: &Config,
    store: &Store,
    sealer: &Arc<Sealer>,
    clock: &SharedClock,
    issuer: &str,
    metrics: &Arc<Metrics>,
    limits: &Arc<crate::ratelimit::Limits>,
) -> anyhow::Result<Arc<dyn Upstream + Send + Sync>> {
    let upstream = mastodon_upstream(config, store, sealer, clock, issuer)?
        .observed(metrics.clone(), limits.clone());
    Ok(Arc::new(upstream))
}

/// The Mastodon client itself (also used by `servers reregister`).
pub fn mastodon_upstream(
    config: &Config,
    store: &Store,
    sealer: &Arc<Sealer>,
    clock: &SharedClock,
    issuer: &str,
) -> anyhow::Result<crate::mastodon::MastodonUpstream> {
    let mut upstream_config = config.upstream.clone();
    // Server admins see who is calling and where to find the operator.
    upstream_config
        .user_agent
        .get_or_insert_with(|| format!("mastodon-oidc/{} (+{issuer})", env!("CARGO_PKG_VERSION")));
    crate::mastodon::MastodonUpstream::from_config(
        upstream_config,
        store.clone(),
        sealer.clone(),
        clock.clone(),
        issuer,
    )
    .map_err(|e| anyhow::anyhow!("cannot build the upstream client: {e}"))
}

/// Every URL of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::DISCOVERY, web::get().to(oidc::jwks::discovery))
        .route(paths::AS_METADATA, web::get().to(oidc::jwks::discovery))
        .route(paths::JWKS, web::get().to(oidc::jwks::jwks))
        .route(
            paths::AUTHORIZE,
            web::get().to(oidc::authorize::endpoint::get),
        )
        .route(
            paths::AUTHORIZE,
            web::post().to(oidc::authorize::endpoint::post),
        )
        .route("/login", web::post().to(pages::login::submit))
        .route("/signup", web::post().to(pages::signup::choose::submit))
        .service(
            // The form carries the server's rules, sealed: more than the default 16 KiB.
            web::resource("/signup/account")
                .app_data(web::FormConfig::default().limit(256 * 1024))
                .route(web::post().to(pages::signup::form::submit)),
        )
        .route(
            "/signup/pending",
            web::get().to(pages::signup::pending::show),
        )
        .route(
            "/signup/resend",
            web::post().to(pages::signup::pending::resend),
        )
        .route(
            "/signup/cancel",
            web::post().to(pages::signup::pending::cancel),
        )
        // Also the landing of a confirmed sign-up (no query at all).
        .route("/callback/{host}", web::get().to(oidc::callback::callback))
        .route(paths::END_SESSION, web::get().to(oidc::logout::get))
        .route(paths::END_SESSION, web::post().to(oidc::logout::post))
        // Browser-based clients (public, PKCE) call these cross-origin; they
        // take no cookies, so any origin may read the answers. Not /authorize.
        .service(cors(web::resource(paths::TOKEN)).route(web::post().to(oidc::token::token)))
        .service(
            cors(web::resource(paths::USERINFO))
                .route(web::get().to(oidc::userinfo::userinfo))
                .route(web::post().to(oidc::userinfo::userinfo)),
        )
        .service(cors(web::resource(paths::REVOKE)).route(web::post().to(oidc::revoke::revoke)))
        .service(
            cors(web::resource(paths::INTROSPECT))
                .route(web::post().to(oidc::introspect::introspect)),
        )
        .route("/", web::get().to(pages::home::home))
        .route("/static/site.css", web::get().to(pages::home::stylesheet))
        .route(
            "/static/form_post.js",
            web::get().to(pages::pages::form_post_js),
        )
        .route("/demo/start", web::get().to(pages::demo::start))
        .route("/demo/callback", web::get().to(pages::demo::callback))
        .route("/metrics", web::get().to(pages::health::metrics))
        .route("/healthz", web::get().to(pages::health::healthz))
        .route("/readyz", web::get().to(pages::health::readyz));
}

/// CORS for a back-channel resource: the answer headers and the preflight.
fn cors(
    resource: actix_web::Resource,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource
        .wrap(
            actix_web::middleware::DefaultHeaders::new()
                .add(("Access-Control-Allow-Origin", "*"))
                .add(("Access-Control-Expose-Headers", "WWW-Authenticate")),
        )
        .route(web::method(actix_web::http::Method::OPTIONS).to(preflight))
}

async fn preflight() -> actix_web::HttpResponse {
    actix_web::HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Methods", "GET, POST"))
        .insert_header((
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type",
        ))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

/// A running server: its address and a handle to stop it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stop accepting, finish in-flight requests, stop background tasks.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        for t in self.background {
            t.abort();
        }
        let _ = self.task.await;
    }
}

/// Serve on `listener` until stopped (or until a signal, for the binary).
pub fn start(state: AppState, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let workers = state.config.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let data = web::Data::new(state.clone());
    let base = state.base_path.clone();
    // HSTS only where the issuer is https: a plain-http development issuer
    // has no TLS to insist on.
    let https = state.issuer.starts_with("https://");
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(pages::prefix::prefix))
            .wrap(actix_web::middleware::Condition::new(
                https,
                actix_web::middleware::DefaultHeaders::new().add((
                    actix_web::http::header::STRICT_TRANSPORT_SECURITY,
                    pages::HSTS,
                )),
            ))
            .wrap(actix_web::middleware::from_fn(pages::observe::observe));
        if !base.is_empty() {
            app = app.service(web::scope(&base).configure(routes));
        }
        app.configure(routes)
    })
    .workers(workers)
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    let background = vec![
        spawn_key_refresh(state.clone()),
        crate::housekeeping::spawn(state, Duration::from_secs(60)),
    ];
    Ok(Running {
        addr,
        handle,
        task,
        background,
    })
}

fn spawn_key_refresh(state: AppState) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.config.signing.reload_interval_secs);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match state.keys.refresh().await {
                Ok(true) => {
                    tracing::info!(kids = ?state.keys.snapshot().kids(), "signing keys changed")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot refresh signing keys"),
            }
        }
    })
}

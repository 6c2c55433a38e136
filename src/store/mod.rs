//! Persistence. One `MultiConnection` over PostgreSQL and SQLite, an r2d2
//! pool, embedded migrations per backend. One file per aggregate; every
//! function takes a connection and, where time matters, `now` (unix seconds).
//! Queries are written once; where SQL must differ (upserts) the difference
//! lives in one `match` on the connection, via [`per_backend!`]. One
//! statement is PostgreSQL's alone: `redeem`, the token endpoint's fast
//! path, which the portable code in `codes` backs and explains.
//! `pg_url` decides how the pool reaches PostgreSQL (no TLS on loopback
//! unless the URL asks for it).

pub mod accounts;
pub mod auth_requests;
pub mod clients;
pub mod codes;
pub mod grants;
pub mod keys;
mod pg_url;
pub mod redeem;
pub mod schema;
pub mod servers;
pub mod sessions;
pub mod signups;
pub mod tokens;
pub mod unit;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL advisory lock replicas take to migrate one at a time
/// (`keys.rs` uses another for key creation).
const MIGRATION_LOCK: i64 = 7_391_020_232;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Run the same diesel code against the concrete connection of each backend,
/// for the few statements `MultiBackend` cannot express (ON CONFLICT).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::AnyConnection::Postgresql($c) => $body,
            $crate::store::AnyConnection::Sqlite($c) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Connects by URL scheme, so connection errors are the real ones, and sets
/// the SQLite pragmas on every new connection.
#[derive(Debug, Clone)]
pub struct AnyManager {
    url: String,
    backend: Backend,
}

impl AnyManager {
    pub fn new(url: &str) -> StoreResult<Self> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite://") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Unavailable(
                "database URL must start with sqlite:// or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Postgres => pg_url::effective(url),
            Backend::Sqlite => url.to_string(),
        };
        Ok(Self { url, backend })
    }
}

/// How long a PostgreSQL connection may sit idle before it is pinged at
/// checkout. Busy connections skip the round trip (one per checkout); one
/// idle longer may have lost its server.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// A pooled connection, with when it was last checked out.
pub struct Pooled {
    conn: AnyConnection,
    last_used: Instant,
    broken: bool,
}

impl std::ops::Deref for Pooled {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl r2d2::ManageConnection for AnyManager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, diesel::ConnectionError> {
        let conn = self.open()?;
        Ok(Pooled {
            conn,
            last_used: Instant::now(),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), diesel::ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        // A transaction left open by a failed commit poisons the connection.
        conn.broken || diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

impl AnyManager {
    fn open(&self) -> Result<AnyConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(AnyConnection::Postgresql),
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut c = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; busy_timeout makes
                // writers queue instead of failing; NORMAL sync is durable in WAL
                // except for the last commits on power loss (flows are short-lived).
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }
}

pub type Pool = r2d2::Pool<AnyManager>;

/// r2d2 reports every failed connection attempt here: from then on
/// checkouts fail fast until one succeeds.
#[derive(Debug)]
struct MarkDown(Arc<std::sync::atomic::AtomicBool>);

impl r2d2::HandleError<diesel::ConnectionError> for MarkDown {
    fn handle_error(&self, error: diesel::ConnectionError) {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, "cannot connect to the database; failing fast until it answers");
        }
    }
}

/// How long a checkout waits while the database is known to be down.
pub const DOWN_WAIT: Duration = Duration::from_millis(300);

struct Inner {
    pool: Pool,
    backend: Backend,
    commits: AtomicU64,
    /// SQLite takes one writer at a time; queueing writers here wakes the
    /// next one the moment the lock is free, where SQLite's busy handler
    /// would sleep and poll (wasted wall time, and CPU on context switches).
    writer: std::sync::Mutex<()>,
    /// The last checkout failed: the database is probably down, so wait
    /// only briefly for a connection until one succeeds again.
    down: Arc<std::sync::atomic::AtomicBool>,
    /// A throwaway SQLite file removed when the store is dropped (tests).
    cleanup: Option<PathBuf>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(path) = &self.cleanup {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// The database handle shared by request handlers. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.inner.backend)
    }
}

impl Store {
    /// Connect a pool; with `migrate`, apply pending migrations first.
    pub fn connect(
        url: &str,
        pool_size: u32,
        timeout: Duration,
        migrate: bool,
    ) -> StoreResult<Self> {
        Self::connect_with(url, pool_size, 1, timeout, migrate)
    }

    /// With `min_idle` connections kept open. A short-lived command wants 0:
    /// r2d2 refills the idle set on background threads, and one still
    /// connecting (TLS to PostgreSQL) when the process exits races the
    /// library cleanup at exit and can crash it.
    pub fn connect_with(
        url: &str,
        pool_size: u32,
        min_idle: u32,
        timeout: Duration,
        migrate: bool,
    ) -> StoreResult<Self> {
        let manager = AnyManager::new(url)?;
        let backend = manager.backend;
        if backend == Backend::Sqlite {
            let path = PathBuf::from(url.trim_start_matches("sqlite://"));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pool = r2d2::Pool::builder()
            .error_handler(Box::new(MarkDown(down.clone())))
            .max_size(pool_size)
            .min_idle(Some(min_idle))
            // Checked in `conn` instead, only after REVALIDATE_AFTER idle.
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .build(manager)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                backend,
                commits: AtomicU64::new(0),
                writer: Default::default(),
                down,
                cleanup: None,
            }),
        };
        if migrate {
            store.migrate_blocking()?;
        }
        Ok(store)
    }

    /// A fresh, migrated SQLite database in the temp directory, deleted on drop.
    pub fn open_for_tests_sqlite() -> Self {
        let path = std::env::temp_dir().join(format!(
            "mastodon-oidc-test-{}.sqlite3",
            crate::crypto::random_token(12)
        ));
        let mut store = Self::connect(
            &format!("sqlite://{}", path.display()),
            4,
            Duration::from_secs(5),
            true,
        )
        .expect("temporary SQLite database");
        Arc::get_mut(&mut store.inner).expect("sole owner").cleanup = Some(path);
        store
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Durable commits made through [`Store::write`] since start.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    pub fn pool_state(&self) -> r2d2::State {
        self.inner.pool.state()
    }

    /// A pooled connection. While the database is down each caller waits
    /// at most [`DOWN_WAIT`], so requests get their 503 quickly instead of
    /// queueing for the full connect timeout; the first success clears it.
    pub fn conn(&self) -> StoreResult<r2d2::PooledConnection<AnyManager>> {
        // A SQLite file cannot lose its server; a PostgreSQL connection idle
        // for a while is pinged, and one that fails is dropped for the next.
        for _ in 0..3 {
            let suspect = self.inner.down.load(Ordering::Relaxed);
            let mut c = self.checkout()?;
            let stale = suspect || c.last_used.elapsed() >= REVALIDATE_AFTER;
            if self.inner.backend == Backend::Postgres
                && stale
                && c.batch_execute("SELECT 1").is_err()
            {
                c.broken = true;
                self.inner.down.store(true, Ordering::Relaxed);
                continue;
            }
            c.last_used = Instant::now();
            return Ok(c);
        }
        Err(StoreError::Unavailable(
            "no pooled connection answered".into(),
        ))
    }

    fn checkout(&self) -> StoreResult<r2d2::PooledConnection<AnyManager>> {
        let down = self.inner.down.load(Ordering::Relaxed);
        let got = if down {
            self.inner.pool.get_timeout(DOWN_WAIT)
        } else {
            self.inner.pool.get()
        };
        match got {
            Ok(c) => {
                if down {
                    self.inner.down.store(false, Ordering::Relaxed);
                    tracing::info!("database reachable again");
                }
                Ok(c)
            }
            Err(e) => {
                if !self.inner.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %e, "database unreachable; failing fast until it answers");
                }
                Err(StoreError::Unavailable(e.to_string()))
            }
        }
    }

    /// Apply pending migrations; returns the versions applied. Replicas
    /// starting together take turns: on PostgreSQL behind an advisory lock,
    /// on SQLite inside one IMMEDIATE transaction. The next in line finds
    /// nothing left to do.
    pub fn migrate_blocking(&self) -> StoreResult<Vec<String>> {
        fn names(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
            v.iter().map(|m| m.to_string()).collect()
        }
        let failed =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let mut conn = self.conn()?;
        match &mut **conn {
            AnyConnection::Postgresql(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let applied = c.run_pending_migrations(PG_MIGRATIONS).map(names);
                let unlocked =
                    c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
                let applied = applied.map_err(failed)?;
                unlocked?;
                Ok(applied)
            }
            AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(names)
                    .map_err(failed)
            }),
        }
    }

    /// How many migrations the database lacks, without touching it (asking
    /// diesel would create its bookkeeping table).
    pub fn pending_migrations(&self) -> StoreResult<usize> {
        use diesel::migration::MigrationSource;
        let mut conn = self.conn()?;
        let bookkept = conn
            .batch_execute("SELECT 1 FROM __diesel_schema_migrations LIMIT 0")
            .is_ok();
        let pending = match &mut **conn {
            AnyConnection::Postgresql(c) if bookkept => {
                c.pending_migrations(PG_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Sqlite(c) if bookkept => {
                c.pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Postgresql(_) => {
                MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Sqlite(_) => {
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                    .map(|v| v.len())
            }
        };
        pending.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Revert every migration (tests of the down scripts).
    pub fn revert_all_blocking(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let result = match &mut **conn {
            AnyConnection::Postgresql(c) => c.revert_all_migrations(PG_MIGRATIONS).map(|_| ()),
            AnyConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Run read-only work (or single autocommit statements) on a pooled
    /// connection, off the async workers.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn()?;
            store.settle(f(&mut conn))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Run writes in one transaction: one durable commit, counted.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// A write transaction, then `after` on its result, in one trip to the
    /// blocking pool: work that must follow the commit (signing) runs
    /// without holding the transaction open and without a second hop.
    pub async fn write_then<T, U, F, G>(&self, f: F, after: G) -> StoreResult<U>
    where
        U: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        G: FnOnce(T) -> U + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f).map(after))
            .await
            .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    pub fn write_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T>,
    {
        self.unit_blocking(|u| u.transaction(f))
    }

    /// On SQLite, wait for our turn to write (see `Inner::writer`).
    fn queue_writer(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        matches!(self.inner.backend, Backend::Sqlite)
            .then(|| self.inner.writer.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count_commit(&self) {
        self.inner.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Is the database answering? (readiness)
    pub async fn ping(&self) -> bool {
        self.run(|c| c.batch_execute("SELECT 1").map_err(StoreError::from))
            .await
            .is_ok()
    }
}

/// A transaction; on SQLite an IMMEDIATE one, so two writers queue on the
/// busy timeout instead of failing to upgrade a read lock.
pub fn transaction<T, F>(conn: &mut AnyConnection, f: F) -> StoreResult<T>
where
    F: FnOnce(&mut AnyConnection) -> StoreResult<T>,
{
    let is_sqlite = matches!(conn, AnyConnection::Sqlite(_));
    if is_sqlite {
        conn.batch_execute("BEGIN IMMEDIATE")?;
        match f(conn) {
            Ok(v) => {
                conn.batch_execute("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    } else {
        conn.transaction(|c| f(c))
    }
}

/// Serialise a list for a TEXT column.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// [`Store::run`] for callers already on a blocking thread (CLI, start-up).
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        self.settle(f(&mut conn))
    }

    /// A connection lost mid-use means the database is probably down: say
    /// so (fail fast from now on, see [`Store::conn`]) and report it as
    /// unavailable, not as a query error.
    pub(crate) fn settle<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        use diesel::result::{DatabaseErrorKind, Error};
        match r {
            Err(StoreError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                info,
            ))) => {
                if !self.inner.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %info.message(), "database connection lost; failing fast until it answers");
                }
                Err(StoreError::Unavailable(info.message().to_string()))
            }
            other => other,
        }
    }
}

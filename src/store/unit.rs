//! A unit of work that reads before it decides what to write: reads run on
//! the connection without any lock, and each write is its own counted
//! durable commit. The token endpoint uses it so that a code exchange that
//! writes one row costs one statement, not a transaction around reads.

use r2d2::PooledConnection;

use super::{AnyConnection, AnyManager, Store, StoreError, StoreResult, transaction};

pub struct Unit<'a> {
    store: &'a Store,
    conn: PooledConnection<AnyManager>,
}

impl Unit<'_> {
    /// The connection, for reads (autocommit, no write lock taken).
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// One write statement in its own implicit transaction: one commit.
    /// `f` must make a single statement, or the writes are not atomic.
    pub fn commit_one<T>(
        &mut self,
        f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _queued = self.store.queue_writer();
        let v = f(&mut self.conn)?;
        self.store.count_commit();
        Ok(v)
    }

    /// Several writes in one transaction: one commit. The connection is
    /// already held when the writer queue is joined, so a writer holding the
    /// queue never waits for the pool: writers cannot deadlock on it.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _queued = self.store.queue_writer();
        let v = transaction(&mut self.conn, f)?;
        self.store.count_commit();
        Ok(v)
    }
}

impl Store {
    /// Run `f` as a [`Unit`] on a pooled connection, then `after` on its
    /// result, in one trip to the blocking pool (see [`Store::write_then`]).
    pub async fn unit_then<T, U, F, G>(&self, f: F, after: G) -> StoreResult<U>
    where
        U: Send + 'static,
        F: FnOnce(&mut Unit<'_>) -> StoreResult<T> + Send + 'static,
        G: FnOnce(T) -> U + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.conn()?;
            let mut unit = Unit {
                store: &store,
                conn,
            };
            store.settle(f(&mut unit)).map(after)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// [`Store::unit_then`] for callers already on a blocking thread.
    pub fn unit_blocking<T>(
        &self,
        f: impl FnOnce(&mut Unit<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let conn = self.conn()?;
        self.settle(f(&mut Unit { store: self, conn }))
    }
}

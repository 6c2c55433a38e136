//! Removes expired rows in the background: authorization requests, codes,
//! tokens, grants, sessions, sign-ups past their wait, server rows that
//! never became useful, retired keys. Deletes run in batches of [`BATCH`],
//! each its own short transaction, so requests never wait behind a long
//! delete (on SQLite every write waits for the one writer).

use std::time::Duration;

use crate::config::TokenConfig;
use crate::store::{self, Store, StoreResult};

/// Used codes are kept this long past expiry, so a late replay is still
/// recognised and revokes what the code issued.
pub const CODE_REPLAY_WINDOW_SECS: i64 = 3600;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub auth_requests: usize,
    pub codes: usize,
    pub tokens: usize,
    pub grants: usize,
    pub sessions: usize,
    pub signups: usize,
    pub servers: usize,
    pub keys: usize,
}

impl Swept {
    pub fn total(&self) -> usize {
        self.auth_requests
            + self.codes
            + self.tokens
            + self.grants
            + self.sessions
            + self.signups
            + self.servers
            + self.keys
    }
}

/// Rows deleted per transaction: small enough that a writer waiting behind
/// a batch waits milliseconds, not seconds.
pub const BATCH: i64 = 500;
/// Server rows that never got an app or a success are kept this long.
pub const STALE_SERVER_SECS: i64 = 7 * 86_400;

pub async fn sweep(store: &Store, now: i64, _tokens: &TokenConfig) -> StoreResult<Swept> {
    Ok(Swept {
        auth_requests: batches(store, move |c| {
            store::auth_requests::delete_expired(c, now, BATCH)
        })
        .await?,
        codes: batches(store, move |c| {
            store::codes::delete_expired(c, now - CODE_REPLAY_WINDOW_SECS, BATCH)
        })
        .await?,
        tokens: batches(store, move |c| store::tokens::delete_expired(c, now, BATCH)).await?,
        grants: batches(store, move |c| store::grants::delete_expired(c, now, BATCH)).await?,
        sessions: batches(store, move |c| {
            store::sessions::delete_expired(c, now, BATCH)
        })
        .await?,
        signups: batches(store, move |c| {
            store::signups::delete_expired(c, now, BATCH)
        })
        .await?,
        servers: batches(store, move |c| {
            store::servers::delete_stale(c, now - STALE_SERVER_SECS, BATCH)
        })
        .await?,
        keys: store
            .write(move |c| store::keys::delete_expired(c, now))
            .await?,
    })
}

/// Run one batch delete per transaction until a batch comes back short.
async fn batches<F>(store: &Store, f: F) -> StoreResult<usize>
where
    F: Fn(&mut store::AnyConnection) -> StoreResult<usize> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let n = store.write(f.clone()).await?;
        total += n;
        if (n as i64) < BATCH {
            return Ok(total);
        }
        // Let requests that queued behind this batch go first.
        tokio::task::yield_now().await;
    }
}

/// Sweep every `every` until the task is aborted.
pub fn spawn(state: crate::app::AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let now = state.clock.now();
            match sweep(&state.store, now, &state.config.tokens).await {
                Ok(s) if s.total() > 0 => tracing::info!(?s, "removed expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
            }
        }
    })
}

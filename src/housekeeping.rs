//! Removes expired rows in the background: authorization requests, codes,
//! tokens, grants, sessions, sign-ups past their wait, retired keys. Each table is swept in its own
//! short transaction, so requests never wait behind a long delete.

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
            + self.keys
    }
}

pub async fn sweep(store: &Store, now: i64, _tokens: &TokenConfig) -> StoreResult<Swept> {
    Ok(Swept {
        auth_requests: store
            .write(move |c| store::auth_requests::delete_expired(c, now))
            .await?,
        codes: store
            .write(move |c| store::codes::delete_expired(c, now - CODE_REPLAY_WINDOW_SECS))
            .await?,
        tokens: store
            .write(move |c| store::tokens::delete_expired(c, now))
            .await?,
        grants: store
            .write(move |c| store::grants::delete_expired(c, now))
            .await?,
        sessions: store
            .write(move |c| store::sessions::delete_expired(c, now))
            .await?,
        signups: store
            .write(move |c| store::signups::delete_expired(c, now))
            .await?,
        keys: store
            .write(move |c| store::keys::delete_expired(c, now))
            .await?,
    })
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

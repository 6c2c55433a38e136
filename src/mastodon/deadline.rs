//! The overall deadline of a login's upstream leg (`upstream.login_deadline_secs`).
//! Each request has its own timeout, but `begin` makes several in a row and
//! may queue behind another login's first contact; the person waits no
//! longer than the deadline. Work that must not be cut off half-way (a
//! registration the server made, a token to revoke) finishes in a task of
//! its own.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::MastodonUpstream;
use crate::upstream::UpstreamError;

/// What people read when a server (or the leg as a whole) was too slow.
pub(crate) const TIMED_OUT: &str =
    "The server did not answer in time. It may be down or overloaded; try again later.";

impl MastodonUpstream {
    /// When a leg starting now must be done.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.config.login_deadline_secs)
    }
}

/// `fut`, unless `deadline` passes first.
pub(crate) async fn within<T>(
    deadline: Instant,
    fut: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    tokio::time::timeout_at(deadline, fut)
        .await
        .unwrap_or_else(|_| {
            tracing::warn!("the upstream leg ran out of time");
            Err(UpstreamError::Unavailable(TIMED_OUT.into()))
        })
}

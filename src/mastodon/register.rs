//! First contact with a server: our app registered once. Serialised by an
//! in-process mutex per host and the store's lease across replicas, so a
//! burst of first logins makes one registration; a 429 blocks the server
//! until its window ends instead of being retried.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use super::apps::{App, Check, SECRET_PURPOSE};
use super::{MastodonUpstream, http_error, store_error};
use crate::store::servers;
use crate::upstream::UpstreamError;

/// Above this many first-contact locks, idle ones are dropped.
const MAX_LOCKS: usize = 1024;
/// How long a replica may hold the first-contact lease.
const LEASE_SECS: i64 = 30;
/// Waiters poll for the other replica's registration this often, this long.
const POLL: Duration = Duration::from_millis(200);
const POLL_ROUNDS: u32 = 175; // outlasts a dead replica's lease; the deadline ends it sooner
/// Back-off after a 429 without usable headers (the throttle window).
const DEFAULT_BLOCK_SECS: u64 = 600;

impl MastodonUpstream {
    pub(crate) fn host_lock(&self, host: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_LOCKS && !map.contains_key(host) {
            // Hosts are typed by strangers: drop the locks nobody holds.
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(host.to_string()).or_default().clone()
    }

    /// Waiting (for the lock, for another replica) ends with the login's
    /// deadline; a registration under way does not.
    pub(super) async fn register_serialised(
        &self,
        host: &str,
        scopes: &str,
    ) -> Result<App, UpstreamError> {
        let guard = self.host_lock(host).lock_owned().await;
        // Someone in this process may have registered while we waited.
        if let Some(app) = self.stored_app(host, scopes).await? {
            return Ok(app);
        }
        for _ in 0..POLL_ROUNDS {
            self.refuse_if_blocked(host).await?;
            let (h, owner, now) = (host.to_string(), self.replica.clone(), self.clock.now());
            let leased = self
                .store
                .write(move |c| servers::try_lease(c, &h, &owner, now, now + LEASE_SECS))
                .await
                .map_err(store_error)?;
            if leased {
                // A task of its own, holding the lock: an app the server
                // registered but we never stored would cost one of its few
                // registrations, if the person stopped waiting half-way.
                let (me, h, sc) = (self.clone(), host.to_string(), scopes.to_string());
                let task = tokio::spawn(async move {
                    let _guard = guard;
                    me.register_leased(&h, &sc).await
                });
                return task.await.unwrap_or_else(|e| {
                    Err(UpstreamError::Internal(format!("registration task: {e}")))
                });
            }
            // Another replica is registering: wait for its result.
            tokio::time::sleep(POLL).await;
            if let Some(app) = self.stored_app(host, scopes).await? {
                return Ok(app);
            }
        }
        Err(UpstreamError::Unavailable(format!(
            "Setting up {host} is taking too long; please try again."
        )))
    }

    /// Under the lease: register unless the holder before us just did, then
    /// release the lease.
    async fn register_leased(&self, host: &str, scopes: &str) -> Result<App, UpstreamError> {
        // The holder before us may have stored its app and released the
        // lease between our last look and now.
        let result = match self.stored_app(host, scopes).await {
            Ok(Some(app)) => Ok(app),
            Ok(None) => self.register(host, scopes).await,
            Err(e) => Err(e),
        };
        let (h, owner) = (host.to_string(), self.replica.clone());
        let released = self
            .store
            .write(move |c| servers::release_lease(c, &h, &owner))
            .await;
        if let Err(e) = released {
            tracing::warn!(host, error = %e, "could not release the lease");
        }
        result
    }

    async fn refuse_if_blocked(&self, host: &str) -> Result<(), UpstreamError> {
        let (h, now) = (host.to_string(), self.clock.now());
        let row = self
            .store
            .run(move |c| servers::get(c, &h))
            .await
            .map_err(store_error)?;
        match row.and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err(UpstreamError::RateLimited {
                retry_after_secs: (until - now) as u64,
            }),
            _ => Ok(()),
        }
    }

    /// Register, within the first-contact limit, counted by outcome.
    async fn register(&self, host: &str, scopes: &str) -> Result<App, UpstreamError> {
        self.first_contact_allowed(host)?;
        let result = self.register_once(host, scopes).await;
        if let Some(m) = &self.metrics {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(UpstreamError::RateLimited { .. }) => "rate_limited",
                Err(UpstreamError::Unavailable(_)) => "failed",
                Err(_) => "error",
            };
            m.app_registrations.with_label_values(&[outcome]).inc();
        }
        result
    }

    /// `POST /api/v1/apps`, then a client-credentials token, then store it.
    async fn register_once(&self, host: &str, scopes: &str) -> Result<App, UpstreamError> {
        // The only redirect URI, so also the first: Mastodon sends people who
        // confirm a sign-up there, without parameters (spec §5, §9.1).
        let redirect = self.redirect_uri(host);
        let mut form = vec![
            ("client_name", self.config.client_name.clone()),
            ("redirect_uris", redirect),
            ("scopes", scopes.to_string()),
        ];
        if let Some(w) = &self.config.website {
            form.push(("website", w.clone()));
        }
        let url = self.url(host, "/api/v1/apps")?;
        let rb = self.http.request(Method::POST, url).form(&form);
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        if resp.status == 429 {
            let now = self.clock.now();
            let secs = retry_after(&resp, now).unwrap_or(DEFAULT_BLOCK_SECS);
            let (h, until) = (host.to_string(), now + secs as i64);
            self.store
                .write(move |c| servers::set_blocked_until(c, &h, Some(until), now))
                .await
                .map_err(store_error)?;
            tracing::warn!(host, secs, "app registration rate limited");
            return Err(UpstreamError::RateLimited {
                retry_after_secs: secs,
            });
        }
        if resp.status != 200 {
            tracing::warn!(host, status = resp.status, body = %String::from_utf8_lossy(&resp.body), "app registration refused");
            return Err(UpstreamError::Unavailable(format!(
                "{host} refused to register this service. Try again later, or ask its moderators."
            )));
        }
        let v: serde_json::Value = resp.json().map_err(http_error)?;
        let (Some(id), Some(secret)) = (v["client_id"].as_str(), v["client_secret"].as_str())
        else {
            return Err(UpstreamError::Unavailable(format!(
                "{host} answered the app registration without credentials."
            )));
        };
        let mut app = App {
            client_id: id.to_string(),
            client_secret: secret.to_string(),
            scopes: scopes.to_string(),
            token: None,
        };
        // Keeps the app alive on 4.2.0–4.2.8 (spec §1.5); failure is not fatal.
        match self.check_app(host, &app).await {
            Ok(Check::Alive(token)) => {
                self.checked.seen(host, &app.client_id, self.clock.now());
                app.token = token
            }
            Ok(Check::Gone) => {
                tracing::warn!(
                    host,
                    "client-credentials token refused right after registration"
                )
            }
            Err(e) => {
                tracing::warn!(host, error = %e, "client-credentials token after registration failed")
            }
        }
        let sealed = self
            .sealer
            .seal(SECRET_PURPOSE, app.client_secret.as_bytes());
        let (h, id, sc, now) = (
            host.to_string(),
            app.client_id.clone(),
            app.scopes.clone(),
            self.clock.now(),
        );
        self.store
            .write(move |c| {
                servers::save_app(c, &h, &id, &sealed, &sc, now)?;
                servers::set_blocked_until(c, &h, None, now)
            })
            .await
            .map_err(store_error)?;
        tracing::info!(host, "registered our app");
        Ok(app)
    }
}

/// `Retry-After`, else `X-RateLimit-Reset` (an RFC 3339 time), in seconds from now.
pub(crate) fn retry_after(resp: &crate::http::Fetched, now: i64) -> Option<u64> {
    if let Some(s) = resp.retry_after_secs() {
        return Some(s.max(1));
    }
    let reset = resp.headers.get("x-ratelimit-reset")?.to_str().ok()?;
    let at = chrono::DateTime::parse_from_rfc3339(reset.trim())
        .ok()?
        .timestamp();
    Some((at - now).max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(headers: &[(&'static str, &str)]) -> crate::http::Fetched {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        crate::http::Fetched {
            status: 429,
            headers: map,
            body: bytes::Bytes::new(),
            url: url::Url::parse("https://h.example/api/v1/apps").unwrap(),
        }
    }

    #[test]
    fn retry_after_from_either_header() {
        let now = 1_800_000_000;
        assert_eq!(
            retry_after(&fetched(&[("retry-after", "120")]), now),
            Some(120)
        );
        let reset = "2027-01-15T08:10:00.000000Z";
        let at = chrono::DateTime::parse_from_rfc3339(reset)
            .unwrap()
            .timestamp();
        assert_eq!(
            retry_after(&fetched(&[("x-ratelimit-reset", reset)]), at - 300),
            Some(300)
        );
        // A reset in the past still backs off a little.
        assert_eq!(
            retry_after(&fetched(&[("x-ratelimit-reset", reset)]), at + 5),
            Some(1)
        );
        assert_eq!(retry_after(&fetched(&[]), now), None);
        assert_eq!(
            retry_after(&fetched(&[("x-ratelimit-reset", "soon")]), now),
            None
        );
    }
}

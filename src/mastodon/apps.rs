//! Our app on each server: registered once (never per login), secret sealed
//! in the `servers` row, kept alive with a client-credentials token, and
//! re-registered once when the server forgot it. First contact is
//! serialised by an in-process mutex per host and the store's lease across
//! replicas, so a burst of first logins makes one registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;

use super::discover::Capabilities;
use super::{MastodonUpstream, http_error, server_error, store_error};
use crate::store::servers;
use crate::upstream::UpstreamError;

const SECRET_PURPOSE: &str = "mastodon-app-secret";
/// Above this many first-contact locks, idle ones are dropped.
const MAX_LOCKS: usize = 1024;
/// How long a replica may hold the first-contact lease.
const LEASE_SECS: i64 = 30;
/// Waiters poll for the other replica's registration this often, this long.
const POLL: Duration = Duration::from_millis(200);
const POLL_ROUNDS: u32 = 175; // outlasts a dead replica's lease; the deadline ends it sooner
/// Back-off after a 429 without usable headers (the throttle window).
const DEFAULT_BLOCK_SECS: u64 = 600;
/// An app seen working (registered, checked, or a code exchanged) is not
/// checked again for this long. A deletion in between shows at the code
/// exchange (forgotten there), or at the server's authorize page, where
/// nobody comes back to tell us: this is how long logins can fail there.
const CHECK_EVERY_SECS: i64 = 900;

/// A registered app.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    /// The scopes it was registered with (space-separated, as stored).
    pub scopes: String,
    /// The client-credentials token from the last check, if any (not stored).
    pub token: Option<String>,
}

/// The narrowest scope that lets us read the account (spec §3.7, §9.2).
pub fn choose_scope(caps: &Capabilities) -> &'static str {
    if caps.software.as_deref() == Some("pixelfed") {
        "read"
    } else if caps.scopes_supported.iter().any(|s| s == "profile") {
        "profile"
    } else {
        "read:accounts"
    }
}

/// The scopes our app on a server is registered with: what logins need,
/// plus `write:accounts` where sign-up is offered. A function of the
/// configuration, never of the current request, so logins and sign-ups share
/// one app (Mastodon compares scope sets exactly, spec §3.7, §9.2).
pub fn app_scopes(caps: &Capabilities, signup: bool) -> String {
    match choose_scope(caps) {
        // Pixelfed ignores scopes and has no sign-up API.
        "read" => "read".into(),
        login if signup => format!("{login} write:accounts"),
        login => login.into(),
    }
}

/// When each server's app (by client id) was last seen working, per process.
#[derive(Debug, Default)]
pub(crate) struct Checked(Mutex<HashMap<String, (String, i64)>>);

impl Checked {
    fn fresh(&self, host: &str, client_id: &str, now: i64) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(host)
            .is_some_and(|(id, at)| id == client_id && now - at < CHECK_EVERY_SECS)
    }

    pub(crate) fn seen(&self, host: &str, client_id: &str, now: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_LOCKS && !map.contains_key(host) {
            map.retain(|_, (_, at)| now - *at < CHECK_EVERY_SECS);
        }
        map.insert(host.to_string(), (client_id.to_string(), now));
    }
}

/// Outcome of checking an app with a client-credentials token.
enum Check {
    /// With the token when the server issued one.
    Alive(Option<String>),
    Gone,
}

impl MastodonUpstream {
    /// Our per-server callback, registered as the app's only redirect URI.
    pub fn redirect_uri(&self, host: &str) -> String {
        format!("{}/callback/{host}", self.issuer.trim_end_matches('/'))
    }

    /// The app on `host`, registering it if needed; checked to be alive
    /// unless it was seen working in the last [`CHECK_EVERY_SECS`].
    pub(crate) async fn ensure_app(
        &self,
        host: &str,
        caps: &Capabilities,
    ) -> Result<App, UpstreamError> {
        let scopes = app_scopes(caps, self.config.signup_allowed(host));
        if let Some(mut app) = self.stored_app(host, &scopes).await? {
            if self.checked.fresh(host, &app.client_id, self.clock.now()) {
                return Ok(app);
            }
            match self.check_app(host, &app).await? {
                Check::Alive(token) => {
                    self.checked.seen(host, &app.client_id, self.clock.now());
                    app.token = token;
                    return Ok(app);
                }
                Check::Gone => {
                    tracing::warn!(host, "server forgot our app; registering again");
                    self.forget_app(host, &app.client_id).await?;
                }
            }
        }
        self.register_serialised(host, &scopes).await
    }

    /// For `servers reregister`: learn the server afresh (it may have been
    /// upgraded) and register a new app in place of the stored one.
    /// Returns the new app's client id.
    pub async fn reregister(&self, host: &str) -> Result<String, UpstreamError> {
        let (h, now) = (host.to_string(), self.clock.now());
        self.store
            .write(move |c| {
                servers::expire_capabilities(c, &h, now)?;
                servers::clear_app(c, &h, now)
            })
            .await
            .map_err(store_error)?;
        let caps = self.capabilities(host).await?;
        let scopes = app_scopes(&caps, self.config.signup_allowed(host));
        Ok(self.register_serialised(host, &scopes).await?.client_id)
    }

    /// A client-credentials token of `app` (with all its scopes).
    pub(crate) async fn app_token(&self, host: &str, app: &App) -> Result<String, UpstreamError> {
        if let Some(t) = &app.token {
            return Ok(t.clone());
        }
        match self.check_app(host, app).await? {
            Check::Alive(Some(t)) => Ok(t),
            Check::Alive(None) => Err(UpstreamError::Unavailable(format!(
                "{host} did not give this service an app token."
            ))),
            Check::Gone => {
                self.forget_app(host, &app.client_id).await?;
                Err(UpstreamError::Unavailable(format!(
                    "{host} no longer knows this service; please try again."
                )))
            }
        }
    }

    /// The stored app for `host` if it was registered with exactly `scopes`.
    pub(crate) async fn stored_app(
        &self,
        host: &str,
        scopes: &str,
    ) -> Result<Option<App>, UpstreamError> {
        Ok(self.load_app(host).await?.filter(|a| a.scopes == scopes))
    }

    /// The stored app for `host`, whatever its scopes.
    pub(crate) async fn load_app(&self, host: &str) -> Result<Option<App>, UpstreamError> {
        let h = host.to_string();
        let row = self
            .store
            .run(move |c| servers::get(c, &h))
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let (Some(id), Some(sealed), Some(scopes)) =
            (row.app_client_id, row.app_secret, row.app_scopes)
        else {
            return Ok(None);
        };
        let secret = self
            .sealer
            .open(SECRET_PURPOSE, &sealed)
            .map_err(|e| UpstreamError::Internal(format!("app secret: {e}")))?;
        let secret = String::from_utf8(secret)
            .map_err(|_| UpstreamError::Internal("app secret is not UTF-8".into()))?;
        Ok(Some(App {
            client_id: id,
            client_secret: secret,
            scopes,
            token: None,
        }))
    }

    /// Clear the app, but only if it is still the one that failed (another
    /// task may already have replaced it).
    pub(crate) async fn forget_app(
        &self,
        host: &str,
        client_id: &str,
    ) -> Result<(), UpstreamError> {
        let (h, id, now) = (host.to_string(), client_id.to_string(), self.clock.now());
        self.store
            .write(move |c| {
                let row = servers::get(c, &h)?;
                if row.and_then(|r| r.app_client_id).as_deref() == Some(id.as_str()) {
                    servers::clear_app(c, &h, now)?;
                }
                Ok(())
            })
            .await
            .map_err(store_error)
    }

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
    async fn register_serialised(&self, host: &str, scopes: &str) -> Result<App, UpstreamError> {
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

    /// A client-credentials token (the same one each time: Mastodon reuses
    /// tokens). 401 `invalid_client` means the server forgot the app.
    async fn check_app(&self, host: &str, app: &App) -> Result<Check, UpstreamError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("redirect_uri", &self.redirect_uri(host)),
            ("scope", app.scopes.as_str()),
        ];
        let url = self.url(host, "/oauth/token")?;
        let rb = self.http.request(Method::POST, url).form(&form);
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => Ok(Check::Alive(
                resp.json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v["access_token"].as_str().map(str::to_string))
                    .filter(|t| !t.is_empty()),
            )),
            401 => Ok(Check::Gone),
            400 if is_invalid_client(&resp.body) => Ok(Check::Gone),
            s if s >= 500 => {
                tracing::warn!(host, status = s, "client-credentials check failed");
                Err(server_error(host))
            }
            s => {
                // Not proof the app is gone (e.g. a server without the grant).
                tracing::warn!(host, status = s, "client-credentials check inconclusive");
                Ok(Check::Alive(None))
            }
        }
    }
}

pub(crate) fn is_invalid_client(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v["error"] == "invalid_client")
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

    #[test]
    fn scope_is_the_narrowest_supported() {
        let mut caps = Capabilities::default();
        assert_eq!(choose_scope(&caps), "read:accounts");
        caps.scopes_supported = vec!["read".into(), "profile".into()];
        assert_eq!(choose_scope(&caps), "profile");
        caps.scopes_supported = vec!["read".into(), "read:accounts".into()];
        assert_eq!(choose_scope(&caps), "read:accounts");
        caps.software = Some("pixelfed".into());
        caps.scopes_supported = vec!["profile".into()];
        assert_eq!(choose_scope(&caps), "read");
    }

    #[test]
    fn app_scopes_add_write_accounts_only_for_signup() {
        let mut caps = Capabilities {
            scopes_supported: vec!["read".into(), "profile".into()],
            ..Default::default()
        };
        assert_eq!(app_scopes(&caps, false), "profile");
        assert_eq!(app_scopes(&caps, true), "profile write:accounts");
        caps.scopes_supported.clear();
        assert_eq!(app_scopes(&caps, true), "read:accounts write:accounts");
        caps.software = Some("pixelfed".into());
        assert_eq!(app_scopes(&caps, true), "read");
    }

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

    #[test]
    fn an_app_seen_working_is_trusted_for_a_while() {
        let c = Checked::default();
        assert!(!c.fresh("h.example", "id", 0));
        c.seen("h.example", "id", 100);
        assert!(c.fresh("h.example", "id", 100 + CHECK_EVERY_SECS - 1));
        assert!(!c.fresh("h.example", "id", 100 + CHECK_EVERY_SECS));
        // Another app (registered again) is checked.
        assert!(!c.fresh("h.example", "other", 101));
        assert!(!c.fresh("x.example", "id", 101));
    }

    #[test]
    fn invalid_client_is_recognised() {
        assert!(is_invalid_client(
            br#"{"error":"invalid_client","error_description":"x"}"#
        ));
        assert!(!is_invalid_client(br#"{"error":"invalid_grant"}"#));
        assert!(!is_invalid_client(b"<html>"));
    }
}

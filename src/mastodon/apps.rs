//! Our app on each server: registered once (never per login, `register`),
//! secret sealed in the `servers` row, kept alive with a client-credentials
//! token, checked now and then, and re-registered once when the server
//! forgot it.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::Method;

use super::discover::Capabilities;
use super::{MastodonUpstream, http_error, server_error, store_error};
use crate::store::servers;
use crate::upstream::UpstreamError;

pub(super) const SECRET_PURPOSE: &str = "mastodon-app-secret";
/// An app seen working (registered, checked, or a code exchanged) is not
/// checked again for this long. A deletion in between shows at the code
/// exchange (forgotten there), or at the server's authorize page, where
/// nobody comes back to tell us: this is how long logins can fail there.
const CHECK_EVERY_SECS: i64 = 900;
/// Above this many servers, apps not seen lately are forgotten here.
const MAX_TRACKED: usize = 1024;

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
        if map.len() >= MAX_TRACKED && !map.contains_key(host) {
            map.retain(|_, (_, at)| now - *at < CHECK_EVERY_SECS);
        }
        map.insert(host.to_string(), (client_id.to_string(), now));
    }
}

/// Outcome of checking an app with a client-credentials token.
pub(super) enum Check {
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

    /// A client-credentials token (the same one each time: Mastodon reuses
    /// tokens). 401 `invalid_client` means the server forgot the app.
    pub(super) async fn check_app(&self, host: &str, app: &App) -> Result<Check, UpstreamError> {
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

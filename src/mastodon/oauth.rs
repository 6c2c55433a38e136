//! The server's authorization-code flow: the authorize URL (state, scope,
//! PKCE S256 only where advertised, force_login, lang), the code exchange
//! with `client_secret_post`, and revoking the token afterwards.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use url::Url;

use super::apps::{App, is_invalid_client};
use super::discover::Described;
use super::{MastodonUpstream, http_error, server_error};
use crate::crypto;
use crate::upstream::UpstreamError;

/// Seal of an account token kept for later re-verification (`keep_upstream_tokens`).
pub const TOKEN_SEAL: &str = "mastodon-account-token";

/// What `begin` hands the provider to keep (opaque to it) for `complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub host: String,
    pub client_id: String,
    pub scope: String,
    pub code_verifier: Option<String>,
    /// LOCAL_DOMAIN learned from WebFinger (or the instance API): a hint
    /// that `settle_handle` checks against the API host's WebFinger.
    pub handle_domain: Option<String>,
    /// The account WebFinger at `handle_domain` described during `begin`.
    #[serde(default)]
    pub described: Option<Described>,
}

impl Stored {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, UpstreamError> {
        serde_json::from_slice(b)
            .map_err(|_| UpstreamError::InvalidCallback("unreadable login state".into()))
    }
}

/// Inputs of the authorize URL.
pub struct AuthorizeParams<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub state: &'a str,
    pub code_challenge: Option<&'a str>,
    pub force_login: bool,
    pub lang: Option<&'a str>,
}

/// `{base}oauth/authorize?response_type=code&…`.
pub fn authorize_url(base: &Url, p: &AuthorizeParams<'_>) -> Result<Url, UpstreamError> {
    let mut url = base
        .join("oauth/authorize")
        .map_err(|e| UpstreamError::Internal(format!("authorize url: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", p.client_id)
            .append_pair("redirect_uri", p.redirect_uri)
            .append_pair("scope", p.scope)
            .append_pair("state", p.state);
        if let Some(ch) = p.code_challenge {
            q.append_pair("code_challenge", ch)
                .append_pair("code_challenge_method", "S256");
        }
        if p.force_login {
            q.append_pair("force_login", "true");
        }
        if let Some(l) = p.lang {
            q.append_pair("lang", l);
        }
    }
    Ok(url)
}

/// The first language tag of a locale list, if it looks like one (`de`, `pt-BR`).
pub fn lang_of(locale: Option<&str>) -> Option<String> {
    let first = locale?.split([' ', ',']).find(|s| !s.is_empty())?;
    let ok = (2..=12).contains(&first.len())
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && first.chars().take(2).all(|c| c.is_ascii_alphabetic());
    ok.then(|| first.replace('_', "-"))
}

/// A fresh PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = crypto::random_token(32);
    let challenge = crypto::sha256_b64url(verifier.as_bytes());
    (verifier, challenge)
}

impl MastodonUpstream {
    /// Exchange the code for an access token.
    pub(crate) async fn exchange_code(
        &self,
        host: &str,
        app: &App,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<String, UpstreamError> {
        let redirect = self.redirect_uri(host);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let url = self.url(host, "/oauth/token")?;
        let resp = self
            .http
            .execute(self.http.request(Method::POST, url).form(&form))
            .await
            .map_err(http_error)?;
        match resp.status {
            200 => {
                // Proof the app is alive: no check needed for a while.
                self.checked.seen(host, &app.client_id, self.clock.now());
                let v: serde_json::Value = resp.json().map_err(http_error)?;
                v["access_token"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        UpstreamError::Unavailable(format!("{host} returned no access token."))
                    })
            }
            401 => {
                self.forget_app(host, &app.client_id).await?;
                Err(UpstreamError::Unavailable(format!(
                    "{host} no longer knows this service; please log in again."
                )))
            }
            400 if is_invalid_client(&resp.body) => {
                self.forget_app(host, &app.client_id).await?;
                Err(UpstreamError::Unavailable(format!(
                    "{host} no longer knows this service; please log in again."
                )))
            }
            400 => {
                tracing::warn!(host, body = %String::from_utf8_lossy(&resp.body), "code exchange refused");
                Err(UpstreamError::InvalidCallback(
                    "the server did not accept the login code".into(),
                ))
            }
            s => {
                tracing::warn!(host, status = s, "code exchange failed");
                Err(server_error(host))
            }
        }
    }

    /// The token sealed for the provider to store, when configured to keep it.
    pub(crate) fn kept(&self, token: &str) -> Option<Vec<u8>> {
        self.config
            .keep_upstream_tokens
            .then(|| self.sealer.seal(TOKEN_SEAL, token.as_bytes()))
    }

    /// We are done with an account token: revoke it, `revoke_delay_secs`
    /// later. Mastodon (Doorkeeper) hands the same token to every code
    /// exchange of one account and app while it is live, so revoking at
    /// once can pull it from under a concurrent login of the same person
    /// that has exchanged its code but not yet read the account. A delayed
    /// revocation lost to a restart leaves a read-only token to expire.
    /// Without a delay it is revoked at once if that fits before
    /// `deadline`, else in the background.
    pub(crate) async fn release_token(
        &self,
        host: &str,
        app: &App,
        token: &str,
        deadline: Instant,
    ) {
        let delay = self.config.revoke_delay_secs;
        if delay == 0
            && Instant::now() < deadline
            && tokio::time::timeout_at(deadline, self.revoke(host, app, token))
                .await
                .is_ok()
        {
            return;
        }
        let (me, host, app, token) = (
            self.clone(),
            host.to_string(),
            app.clone(),
            token.to_string(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
            me.revoke(&host, &app, &token).await;
        });
    }

    /// Best effort: a failed revocation is logged, not shown.
    pub(crate) async fn revoke(&self, host: &str, app: &App, token: &str) {
        let form = [
            ("token", token),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
        ];
        let Ok(url) = self.url(host, "/oauth/revoke") else {
            return;
        };
        match self
            .http
            .execute(self.http.request(Method::POST, url).form(&form))
            .await
        {
            Ok(r) if r.status == 200 => {}
            Ok(r) => tracing::warn!(host, status = r.status, "token revocation refused"),
            Err(e) => tracing::warn!(host, error = %e, "token revocation failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(u: &Url) -> Vec<(String, String)> {
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn authorize_url_has_exactly_the_parameters() {
        let base = Url::parse("https://social.example/").unwrap();
        let p = AuthorizeParams {
            client_id: "cid",
            redirect_uri: "https://id.example/callback/social.example",
            scope: "profile",
            state: "st4te",
            code_challenge: Some("chal"),
            force_login: true,
            lang: Some("de"),
        };
        let u = authorize_url(&base, &p).unwrap();
        assert_eq!(u.path(), "/oauth/authorize");
        let q = params(&u);
        let want = [
            ("response_type", "code"),
            ("client_id", "cid"),
            ("redirect_uri", "https://id.example/callback/social.example"),
            ("scope", "profile"),
            ("state", "st4te"),
            ("code_challenge", "chal"),
            ("code_challenge_method", "S256"),
            ("force_login", "true"),
            ("lang", "de"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(q, want);
    }

    #[test]
    fn authorize_url_without_pkce_or_extras() {
        let base = Url::parse("http://social.test/").unwrap();
        let p = AuthorizeParams {
            client_id: "cid",
            redirect_uri: "r",
            scope: "read:accounts",
            state: "s",
            code_challenge: None,
            force_login: false,
            lang: None,
        };
        let u = authorize_url(&base, &p).unwrap();
        let keys: Vec<String> = params(&u).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state"
            ]
        );
    }

    #[test]
    fn lang_is_sanitised() {
        assert_eq!(lang_of(Some("pt_BR en")).as_deref(), Some("pt-BR"));
        assert_eq!(lang_of(Some("de")).as_deref(), Some("de"));
        assert_eq!(lang_of(Some("<script>")), None);
        assert_eq!(lang_of(Some("")), None);
        assert_eq!(lang_of(None), None);
    }

    #[test]
    fn pkce_challenge_is_s256_of_verifier() {
        let (v, c) = pkce_pair();
        assert!(v.len() >= 43);
        assert_eq!(c, crypto::sha256_b64url(v.as_bytes()));
        assert_ne!(pkce_pair().0, v);
    }

    #[test]
    fn stored_round_trips_and_rejects_garbage() {
        let s = Stored {
            host: "h.example".into(),
            client_id: "c".into(),
            scope: "profile".into(),
            code_verifier: Some("v".into()),
            handle_domain: Some("d.example".into()),
            described: Some(Described {
                api_host: "h.example".into(),
                actor: Some("https://h.example/users/a".into()),
            }),
        };
        assert_eq!(Stored::from_bytes(&s.to_bytes()).unwrap(), s);
        assert!(Stored::from_bytes(b"junk").is_err());
    }
}

//! `GET /api/v1/accounts/verify_credentials` with the person's token, turned
//! into an [`Identity`]; the server's 403 messages become [`AccountRefusal`]s.

use reqwest::Method;

use super::{MastodonUpstream, http_error};
use crate::upstream::{AccountRefusal, Identity, UpstreamError};

/// Map a 403 `error` string (spec §4) to a refusal.
pub fn refusal_of(message: &str) -> Option<AccountRefusal> {
    let m = message.to_ascii_lowercase();
    if m.contains("confirmed e-mail") || m.contains("unconfirmed") {
        Some(AccountRefusal::Unconfirmed)
    } else if m.contains("pending approval") {
        Some(AccountRefusal::PendingApproval)
    } else if m.contains("suspended") {
        Some(AccountRefusal::Suspended)
    } else if m.contains("moved") {
        Some(AccountRefusal::Moved)
    } else if m.contains("currently disabled") || m.contains("disabled") {
        // Mastodon says this for suspended, disabled and moved alike.
        Some(AccountRefusal::Disabled)
    } else {
        None
    }
}

fn opt_str(v: &serde_json::Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Build the Identity from a CredentialAccount document.
pub fn identity_of(
    host: &str,
    handle_domain: &str,
    v: &serde_json::Value,
) -> Result<Identity, UpstreamError> {
    let bad = || UpstreamError::Unavailable(format!("{host} returned an unusable account."));
    // Ids are strings on Mastodon; tolerate numbers from other servers.
    let id = match &v["id"] {
        serde_json::Value::String(s) if !s.is_empty() => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(bad()),
    };
    let username = opt_str(&v["username"]).ok_or_else(bad)?;
    if v["suspended"].as_bool() == Some(true) {
        return Err(UpstreamError::AccountRefused(AccountRefusal::Suspended));
    }
    if v["moved"].is_object() {
        return Err(UpstreamError::AccountRefused(AccountRefusal::Moved));
    }
    let role = opt_str(&v["role"]["name"]);
    Ok(Identity {
        server_host: host.to_string(),
        account_id: id,
        handle: format!("{username}@{handle_domain}"),
        username,
        actor_uri: opt_str(&v["uri"]),
        display_name: opt_str(&v["display_name"]),
        avatar: opt_str(&v["avatar"]),
        profile_url: opt_str(&v["url"]),
        locale: opt_str(&v["source"]["language"]),
        bot: v["bot"].as_bool().unwrap_or(false),
        locked: v["locked"].as_bool().unwrap_or(false),
        created_at: opt_str(&v["created_at"]),
        role,
    })
}

impl MastodonUpstream {
    pub(crate) async fn verify_credentials(
        &self,
        host: &str,
        handle_domain: &str,
        token: &str,
    ) -> Result<Identity, UpstreamError> {
        let url = self.url(host, "/api/v1/accounts/verify_credentials")?;
        let rb = self.http.request(Method::GET, url).bearer_auth(token);
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => {
                let v: serde_json::Value = resp.json().map_err(http_error)?;
                identity_of(host, handle_domain, &v)
            }
            // The token is unknown or revoked: the account (or our access) is gone.
            401 => Err(UpstreamError::AccountRefused(AccountRefusal::Gone)),
            403 => {
                let v: serde_json::Value = resp.json().unwrap_or_default();
                let msg = v["error"].as_str().unwrap_or_default();
                match refusal_of(msg) {
                    Some(r) => Err(UpstreamError::AccountRefused(r)),
                    None => {
                        tracing::warn!(host, error = msg, "verify_credentials forbidden");
                        Err(UpstreamError::Unavailable(format!(
                            "{host} did not let us read the account."
                        )))
                    }
                }
            }
            s => {
                tracing::warn!(host, status = s, "verify_credentials failed");
                Err(UpstreamError::Unavailable(format!(
                    "{host} did not let us read the account."
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_from_messages() {
        use AccountRefusal::*;
        let cases = [
            ("Your login is currently disabled", Some(Disabled)),
            (
                "Your login is missing a confirmed e-mail address",
                Some(Unconfirmed),
            ),
            (
                "Your login is currently pending approval",
                Some(PendingApproval),
            ),
            ("Your account is suspended", Some(Suspended)),
            ("This account has moved", Some(Moved)),
            ("This action is outside the authorized scopes", None),
        ];
        for (m, want) in cases {
            assert_eq!(refusal_of(m), want, "{m}");
        }
    }

    #[test]
    fn identity_from_account() {
        let v = serde_json::json!({
            "id": "42", "username": "alice", "acct": "alice", "display_name": "",
            "locked": true, "bot": false, "created_at": "2022-11-15T00:00:00.000Z",
            "url": "https://w.example/@alice", "uri": "https://w.example/users/alice",
            "avatar": "https://w.example/a.png",
            "source": {"language": "de"}, "role": {"name": "Admin"}
        });
        let id = identity_of("w.example", "example.com", &v).unwrap();
        assert_eq!(id.handle, "alice@example.com");
        assert_eq!(id.account_id, "42");
        assert_eq!(id.display_name, None);
        assert!(id.locked);
        assert_eq!(id.locale.as_deref(), Some("de"));
        assert_eq!(id.role.as_deref(), Some("Admin"));
        let moved = serde_json::json!({"id": "1", "username": "a", "moved": {"id": "2"}});
        assert!(matches!(
            identity_of("h", "h", &moved),
            Err(UpstreamError::AccountRefused(AccountRefusal::Moved))
        ));
        assert!(identity_of("h", "h", &serde_json::json!({"username": "a"})).is_err());
    }
}

//! Issuing an authorization code: a grant plus a single-use code bound to
//! client, redirect URI, PKCE challenge, nonce and auth_time, written by the
//! caller's transaction (SSO answer or callback).

use super::authorize::AuthRequest;
use crate::crypto::{random_token, sha256_b64url};
use crate::store::codes::CodeRow;
use crate::store::grants::GrantRow;
use crate::store::{self, AnyConnection, StoreResult};

/// Insert the grant and the code; returns the code to send to the client.
pub fn issue(
    conn: &mut AnyConnection,
    req: &AuthRequest,
    sub: &str,
    auth_time: i64,
    session_id: Option<String>,
    now: i64,
    ttl: &crate::config::TokenConfig,
) -> StoreResult<String> {
    let grant_id = random_token(16);
    let scope = req.scopes.join(" ");
    let claims = req.requested_claims.to_column();
    store::grants::insert(
        conn,
        &GrantRow {
            id: grant_id.clone(),
            client_id: req.client_id.clone(),
            sub: sub.to_string(),
            scope: scope.clone(),
            auth_time,
            session_id,
            created_at: now,
            expires_at: now + ttl.refresh_token_ttl_secs,
            revoked_at: None,
            claims: claims.clone(),
        },
    )?;
    let code = random_token(32);
    store::codes::insert(
        conn,
        &CodeRow {
            hash: sha256_b64url(code.as_bytes()),
            grant_id,
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            scope,
            claims,
            auth_time,
            created_at: now,
            expires_at: now + ttl.code_ttl_secs,
            redeemed_at: None,
        },
    )?;
    Ok(code)
}

/// Parameters of a successful authorization response.
pub fn success_params(
    code: String,
    state: Option<&str>,
    issuer: &str,
) -> Vec<(&'static str, String)> {
    let mut p = vec![("code", code)];
    if let Some(s) = state {
        p.push(("state", s.to_string()));
    }
    p.push(("iss", issuer.to_string()));
    p
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// RFC 9700 §4.1.2 / the checklist: codes live at most 60 s.
    #[test]
    fn codes_live_at_most_a_minute() {
        let load = |ttl: &str| {
            let env = [("MASTODON_OIDC_TOKENS__CODE_TTL_SECS", ttl)];
            Config::load(None, env.map(|(k, v)| (k.to_string(), v.to_string())))
        };
        assert_eq!(load("60").unwrap().tokens.code_ttl_secs, 60);
        let err = load("61").unwrap_err().to_string();
        assert!(
            err.contains("code_ttl_secs must be between 1 and 60"),
            "{err}"
        );
    }
}

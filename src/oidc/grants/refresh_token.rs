//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every use spends
//! the token and returns a new one; a second use of a spent token revokes the
//! whole grant (RFC 9700 §4.14.2). Bound to the client it was issued to.

use super::issue::{Extra, Unsigned, issue};
use super::{Issuer, invalid_grant};
use crate::crypto::sha256_b64url;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::store::tokens::{REFRESH, Rotate};
use crate::store::{self, AnyConnection, StoreResult};

pub struct RefreshGrant {
    pub refresh_token: String,
    pub scope: Option<String>,
}

pub fn refresh(
    conn: &mut AnyConnection,
    ctx: &Issuer,
    client: &Client,
    g: &RefreshGrant,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let hash = sha256_b64url(g.refresh_token.as_bytes());
    // Check the binding before spending: another client must not burn it.
    match store::tokens::get(conn, &hash)? {
        Some(t) if t.kind == REFRESH && t.client_id == client.id => {}
        Some(t) if t.kind == REFRESH => {
            return Ok(Err(invalid_grant(
                "the refresh token was issued to another client",
            )));
        }
        _ => return Ok(Err(invalid_grant("unknown refresh token"))),
    }
    let row = match store::tokens::use_refresh(conn, &hash, now)? {
        Rotate::Fresh(row) => row,
        Rotate::Reused(row) => {
            store::grants::revoke(conn, &row.grant_id, now)?;
            tracing::warn!(client = %row.client_id, "refresh token reused; grant revoked");
            return Ok(Err(invalid_grant("the refresh token was already used")));
        }
        Rotate::Expired => return Ok(Err(invalid_grant("the refresh token has expired"))),
        Rotate::Unknown => return Ok(Err(invalid_grant("unknown refresh token"))),
    };
    let Some(grant) = store::grants::get_live(conn, &row.grant_id, now)? else {
        return Ok(Err(invalid_grant("the grant was revoked")));
    };
    let scope = match &g.scope {
        None => grant.scope.clone(),
        Some(asked) => {
            let granted: Vec<&str> = grant.scope.split(' ').collect();
            if !asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .all(|s| granted.contains(&s))
            {
                return Ok(Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "scope exceeds the original grant",
                )));
            }
            asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    // The ID token of a refresh answers the same `claims` request.
    let requested = RequestedClaims::from_column(grant.claims.as_deref())?;
    issue(
        conn,
        ctx,
        client,
        &grant,
        &Extra {
            nonce: None,
            requested: &requested.id_token,
            scope: &scope,
        },
        now,
    )
}

//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every use spends
//! the token and returns a new one; a second use of a spent token revokes the
//! whole grant (RFC 9700 §4.14.2). Bound to the client it was issued to.

use super::issue::{Extra, Unsigned, mint, offline, refresh_token, signable};
use super::{Issuer, invalid_grant};
use crate::crypto::sha256_b64url;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::store::accounts::AccountRow;
use crate::store::grants::GrantRow;
use crate::store::tokens::{REFRESH, Rotate};
use crate::store::unit::Unit;
use crate::store::{self, AnyConnection, StoreResult};

pub struct RefreshGrant {
    pub refresh_token: String,
    pub scope: Option<String>,
}

pub fn refresh(
    unit: &mut Unit<'_>,
    ctx: &Issuer,
    client: &Client,
    g: &RefreshGrant,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let hash = sha256_b64url(g.refresh_token.as_bytes());
    // Check the binding and the scope before spending: neither another
    // client nor a malformed request may burn it. The token carries its
    // grant's scope.
    match store::tokens::get(unit.conn(), &hash)? {
        Some(t) if t.kind == REFRESH && t.client_id == client.id => {
            if let Err(e) = narrowed(&t.scope, g.scope.as_deref()) {
                return Ok(Err(e));
            }
        }
        Some(t) if t.kind == REFRESH => {
            return Ok(Err(invalid_grant(
                "the refresh token was issued to another client",
            )));
        }
        _ => return Ok(Err(invalid_grant("unknown refresh token"))),
    }
    if let Err(e) = signable(ctx, client) {
        return Ok(Err(e));
    }
    // Spending the old token and storing the new one commit together.
    let rotated = unit.transaction(|c| rotate(c, ctx, client, g, &hash, now))?;
    let (grant, account, scope, refresh) = match rotated {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    // The ID token of a refresh answers the same `claims` request.
    let requested = RequestedClaims::from_column(grant.claims.as_deref())?;
    let extra = Extra {
        nonce: None,
        requested: &requested.id_token,
        scope: &scope,
    };
    Ok(Ok(mint(
        ctx, client, &grant, &account, &extra, refresh, now,
    )?))
}

type Rotated = (GrantRow, AccountRow, String, Option<String>);

fn rotate(
    conn: &mut AnyConnection,
    ctx: &Issuer,
    client: &Client,
    g: &RefreshGrant,
    hash: &str,
    now: i64,
) -> StoreResult<Result<Rotated, OAuthError>> {
    let row = match store::tokens::use_refresh(conn, hash, now)? {
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
    let scope = match narrowed(&grant.scope, g.scope.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let Some(account) = store::accounts::get(conn, &grant.sub)? else {
        return Ok(Err(invalid_grant("the account is gone")));
    };
    let refresh = if offline(&grant, client) {
        let (value, token) = refresh_token(ctx, client, &grant, now);
        store::tokens::insert(conn, &token)?;
        Some(value)
    } else {
        None
    };
    Ok(Ok((grant, account, scope, refresh)))
}

/// The scope of the new access token: the grant's, or a narrower one asked for.
fn narrowed(granted: &str, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted.to_string());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if !asked.iter().all(|s| granted.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope exceeds the original grant",
        ));
    }
    Ok(asked.join(" "))
}

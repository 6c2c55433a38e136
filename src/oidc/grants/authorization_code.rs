//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6). The code
//! is spent atomically; a replay revokes everything issued from it.

use super::issue::{Extra, Unsigned, issue};
use super::{Issuer, invalid_grant};
use crate::crypto::sha256_b64url;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::clients::Client;
use crate::oidc::error::OAuthError;
use crate::oidc::pkce::verify_s256;
use crate::store::codes::Redeem;
use crate::store::{self, AnyConnection, StoreResult};

/// The grant's own parameters.
pub struct CodeGrant {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

pub fn exchange(
    conn: &mut AnyConnection,
    ctx: &Issuer,
    client: &Client,
    g: &CodeGrant,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let row = match store::codes::redeem(conn, &sha256_b64url(g.code.as_bytes()), now)? {
        Redeem::Fresh(row) => row,
        Redeem::Replayed(row) => {
            let revoked = store::grants::revoke(conn, &row.grant_id, now)?;
            tracing::warn!(client = %row.client_id, tokens_revoked = revoked, "authorization code replayed; grant revoked");
            return Ok(Err(invalid_grant("the code was already used")));
        }
        Redeem::Expired => return Ok(Err(invalid_grant("the code has expired"))),
        Redeem::Unknown => return Ok(Err(invalid_grant("unknown code"))),
    };
    if row.client_id != client.id {
        return Ok(Err(invalid_grant("the code was issued to another client")));
    }
    // Required when the authorization request carried it; with a single
    // registered URI the request may have left it out.
    match &g.redirect_uri {
        Some(uri) if *uri != row.redirect_uri => {
            return Ok(Err(invalid_grant(
                "redirect_uri differs from the authorization request",
            )));
        }
        None if client.redirect_uris.len() != 1 => {
            return Ok(Err(OAuthError::invalid_request("redirect_uri is required")));
        }
        _ => {}
    }
    match (&row.code_challenge, &g.code_verifier) {
        (Some(challenge), Some(verifier)) if verify_s256(verifier, challenge) => {}
        (Some(_), Some(_)) => return Ok(Err(invalid_grant("code_verifier does not match"))),
        (Some(_), None) => return Ok(Err(invalid_grant("code_verifier is required"))),
        // A verifier without a challenge is a PKCE downgrade attempt (RFC 9700 §4.8.2).
        (None, Some(_)) => {
            return Ok(Err(invalid_grant(
                "no code_challenge was sent for this code",
            )));
        }
        (None, None) => {}
    }
    let Some(grant) = store::grants::get_live(conn, &row.grant_id, now)? else {
        return Ok(Err(invalid_grant("the grant was revoked")));
    };
    let requested = RequestedClaims::from_column(row.claims.as_deref())?;
    issue(
        conn,
        ctx,
        client,
        &grant,
        &Extra {
            nonce: row.nonce.as_deref(),
            requested: &requested.id_token,
            scope: &row.scope,
        },
        now,
    )
}

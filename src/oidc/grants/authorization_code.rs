//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6). The code
//! is spent atomically once every check passes; a replay revokes everything
//! issued from it. On PostgreSQL a valid code is checked and spent in one
//! statement (`store::redeem`); anything it refuses takes the general path,
//! which is also the one SQLite takes, and which explains the refusal.

use super::issue::{Extra, Unsigned, mint, offline, refresh_token, signable};
use super::{Issuer, invalid_grant};
use crate::crypto::random_token;
use crate::crypto::sha256_b64url;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::clients::Client;
use crate::oidc::error::OAuthError;
use crate::oidc::pkce::{verify_s256, well_formed};
use crate::store::accounts::AccountRow;
use crate::store::codes::CodeRow;
use crate::store::grants::GrantRow;
use crate::store::redeem::{Redeem, redeem};
use crate::store::unit::Unit;
use crate::store::{self, AnyConnection, StoreResult};

/// The grant's own parameters.
pub struct CodeGrant {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// Read the code with its grant, check everything, then spend it: a code is
/// spent only by a request that passes every check, so a stolen code sent
/// without its verifier cannot burn the rightful client's login. Without a
/// refresh token the spend is the only write: one statement, one commit.
pub fn exchange(
    unit: &mut Unit<'_>,
    ctx: &Issuer,
    client: &Client,
    g: &CodeGrant,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let hash = sha256_b64url(g.code.as_bytes());
    if let Some(done) = one_statement(unit, ctx, client, g, &hash, now)? {
        return Ok(done);
    }
    let Some(found) = store::codes::find(unit.conn(), &hash)? else {
        return Ok(Err(invalid_grant("unknown code")));
    };
    let row = &found.code;
    if row.redeemed_at.is_some() {
        return replayed(unit, row, now);
    }
    if row.expires_at <= now {
        return Ok(Err(invalid_grant("the code has expired")));
    }
    if let Err(e) = check(row, client, g).and_then(|()| signable(ctx, client)) {
        return Ok(Err(e));
    }
    let Some(grant) = found.grant.as_ref().filter(|gr| gr.is_live(now)) else {
        return Ok(Err(invalid_grant("the grant was revoked")));
    };
    let Some(account) = &found.account else {
        return Ok(Err(invalid_grant("the account is gone")));
    };
    let refresh = offline(grant, client).then(|| refresh_token(ctx, client, grant, now));
    let won = match &refresh {
        Some((_, token)) => unit.transaction(|c| {
            let won = store::codes::spend(c, &hash, now)?;
            if won {
                store::tokens::insert(c, token)?;
            }
            Ok(won)
        })?,
        None => unit.commit_one(|c| store::codes::spend(c, &hash, now))?,
    };
    if !won {
        // A concurrent redemption spent it between the read and the spend.
        return replayed(unit, row, now);
    }
    let refresh = refresh.map(|(value, _)| value);
    respond(ctx, client, row, grant, account, refresh, now)
}

/// PostgreSQL: check, spend and (offline) store the refresh token in one
/// statement. `None` when it cannot decide (SQLite, or a request it would
/// refuse): the general path then runs and says why.
fn one_statement(
    unit: &mut Unit<'_>,
    ctx: &Issuer,
    client: &Client,
    g: &CodeGrant,
    hash: &str,
    now: i64,
) -> StoreResult<Option<Result<Unsigned, OAuthError>>> {
    let challenge = match &g.code_verifier {
        Some(v) if well_formed(v) => Some(sha256_b64url(v.as_bytes())),
        Some(_) => return Ok(None),
        None => None,
    };
    let redirect_ok = g.redirect_uri.is_some() || client.redirect_uris.len() == 1;
    if !matches!(unit.conn(), AnyConnection::Postgresql(_))
        || !redirect_ok
        // Checked quietly: the general path reports it.
        || ctx.keys.signer(client.settings.id_token_signed_response_alg).is_err()
    {
        return Ok(None);
    }
    let value = random_token(32);
    let refresh_hash = sha256_b64url(value.as_bytes());
    let r = Redeem {
        hash,
        now,
        client_id: &client.id,
        redirect_uri: g.redirect_uri.as_deref(),
        challenge: challenge.as_deref(),
        refresh_hash: &refresh_hash,
        refresh_until: now + ctx.ttl.refresh_token_ttl_secs,
        always_refresh: client.settings.refresh_tokens,
    };
    let spent = unit.commit_one(|c| match c {
        AnyConnection::Postgresql(pg) => redeem(pg, &r),
        AnyConnection::Sqlite(_) => Ok(None),
    })?;
    let Some(s) = spent else {
        return Ok(None);
    };
    debug_assert_eq!(s.refreshed, offline(&s.grant, client));
    let refresh = s.refreshed.then_some(value);
    respond(ctx, client, &s.code, &s.grant, &s.account, refresh, now).map(Some)
}

/// The token response of a spent code, for the caller to sign.
fn respond(
    ctx: &Issuer,
    client: &Client,
    row: &CodeRow,
    grant: &GrantRow,
    account: &AccountRow,
    refresh: Option<String>,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let requested = RequestedClaims::from_column(row.claims.as_deref())?;
    let extra = Extra {
        nonce: row.nonce.as_deref(),
        requested: &requested.id_token,
        scope: &row.scope,
    };
    Ok(Ok(mint(ctx, client, grant, account, &extra, refresh, now)?))
}

/// A second use of a code revokes everything issued from it (RFC 6749 §4.1.2).
fn replayed(
    unit: &mut Unit<'_>,
    row: &CodeRow,
    now: i64,
) -> StoreResult<Result<Unsigned, OAuthError>> {
    let revoked = unit.transaction(|c| store::grants::revoke(c, &row.grant_id, now))?;
    tracing::warn!(client = %row.client_id, tokens_revoked = revoked, "authorization code replayed; grant revoked");
    Ok(Err(invalid_grant("the code was already used")))
}

/// The code's bindings: client, redirect URI and PKCE.
fn check(row: &CodeRow, client: &Client, g: &CodeGrant) -> Result<(), OAuthError> {
    if row.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    // Required when the authorization request carried it; with a single
    // registered URI the request may have left it out.
    match &g.redirect_uri {
        Some(uri) if *uri != row.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        None if client.redirect_uris.len() != 1 => {
            return Err(OAuthError::invalid_request("redirect_uri is required"));
        }
        _ => {}
    }
    match (&row.code_challenge, &g.code_verifier) {
        (Some(challenge), Some(verifier)) if verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_grant("code_verifier does not match")),
        (Some(_), None) => Err(invalid_grant("code_verifier is required")),
        // A verifier without a challenge is a PKCE downgrade attempt (RFC 9700 §4.8.2).
        (None, Some(_)) => Err(invalid_grant("no code_challenge was sent for this code")),
        (None, None) => Ok(()),
    }
}

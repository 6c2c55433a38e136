//! Mint the token response for a live grant: a sealed access token
//! (`access_token.rs`; nothing stored), a rotated refresh token where the
//! grant allows one (stored hashed by the grant module), and the claims of
//! an ID token. The ID token is signed after the commit ([`Unsigned::sign`])
//! so no write waits on a signature.

use serde_json::{Map, Value, json};

use super::Issuer;
use crate::crypto::{random_token, sha256_b64url};
use crate::keys::{Algorithm, KeyRing};
use crate::oidc::access_token::{self, Sealed};
use crate::oidc::claims::{ClaimRequest, client_subject, user_claims};
use crate::oidc::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::id_token::{IdTokenInput, claims, sign};
use crate::store::accounts::AccountRow;
use crate::store::grants::GrantRow;
use crate::store::tokens::{REFRESH, TokenRow};
use crate::store::{self, StoreResult};
use crate::upstream::Identity;

/// Per response: what the ID token adds beyond the grant.
pub struct Extra<'a> {
    pub nonce: Option<&'a str>,
    pub requested: &'a std::collections::BTreeSet<String>,
    /// The scope of this access token (may be narrower than the grant's on refresh).
    pub scope: &'a str,
}

/// A token response waiting for its ID token's signature.
pub struct Unsigned {
    body: Value,
    alg: Algorithm,
    claims: Map<String, Value>,
}

impl Unsigned {
    /// The JSON body of RFC 6749 §5.1 with the signed ID token in it.
    pub fn sign(mut self, keys: &KeyRing) -> Result<Value, OAuthError> {
        match sign(keys, self.alg, &self.claims) {
            Ok(t) => {
                self.body["id_token"] = t.into();
                Ok(self.body)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot sign an ID token");
                Err(cannot_sign())
            }
        }
    }
}

fn cannot_sign() -> OAuthError {
    OAuthError::new(ErrorCode::ServerError, "cannot sign the ID token")
}

/// Refuse before spending anything if no key can sign for this client.
pub fn signable(ctx: &Issuer, client: &Client) -> Result<(), OAuthError> {
    ctx.keys
        .signer(client.settings.id_token_signed_response_alg)
        .map(|_| ())
        .map_err(|e| {
            tracing::error!(error = %e, "no signing key for the client's algorithm");
            cannot_sign()
        })
}

/// Whether this grant gets refresh tokens.
pub fn offline(grant: &GrantRow, client: &Client) -> bool {
    grant.scope.split(' ').any(|s| s == "offline_access") || client.settings.refresh_tokens
}

/// A new refresh token of `grant` and its row (stored hashed).
pub fn refresh_token(
    ctx: &Issuer,
    client: &Client,
    grant: &GrantRow,
    now: i64,
) -> (String, TokenRow) {
    let value = random_token(32);
    // A refresh token never outlives its grant.
    let ttl = ctx.ttl.refresh_token_ttl_secs.min(grant.expires_at - now);
    let row = TokenRow {
        hash: sha256_b64url(value.as_bytes()),
        kind: REFRESH.into(),
        grant_id: grant.id.clone(),
        client_id: client.id.clone(),
        sub: grant.sub.clone(),
        scope: grant.scope.clone(),
        created_at: now,
        expires_at: now + ttl,
        revoked_at: None,
        used_at: None,
    };
    (value, row)
}

/// Prepare the response for a grant whose writes are committed: a sealed
/// access token (nothing to store), the refresh token the caller stored,
/// and the ID token's claims; the caller signs it.
pub fn mint(
    ctx: &Issuer,
    client: &Client,
    grant: &GrantRow,
    account: &AccountRow,
    extra: &Extra<'_>,
    refresh: Option<String>,
    now: i64,
) -> StoreResult<Unsigned> {
    let identity: Identity = store::from_json(&account.profile)?;
    let access = access_token::mint(
        &ctx.sealer,
        &Sealed {
            grant_id: grant.id.clone(),
            scope: extra.scope.to_string(),
            iat: now,
            exp: now + ctx.ttl.access_token_ttl_secs,
        },
    );
    let scopes: Vec<String> = extra.scope.split(' ').map(str::to_string).collect();
    let user = user_claims(
        &client_subject(&grant.sub, client, &ctx.sealer),
        &identity,
        client,
        &ClaimRequest {
            scopes: &scopes,
            requested: extra.requested,
        },
        account.updated_at,
    );
    let input = IdTokenInput {
        issuer: &ctx.issuer,
        client_id: &client.id,
        alg: client.settings.id_token_signed_response_alg,
        now,
        ttl_secs: ctx.ttl.id_token_ttl_secs,
        auth_time: grant.auth_time,
        nonce: extra.nonce,
        access_token: Some(&access),
    };
    let (alg, claims) = (input.alg, claims(&input, user));
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ctx.ttl.access_token_ttl_secs,
        "scope": extra.scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
    }
    Ok(Unsigned { body, alg, claims })
}

//! `POST /revoke` (RFC 7009). The client authenticates; a token of its own is
//! revoked (a refresh token takes its whole grant along, §2.1; an access
//! token gets a revocation row until it expires); anything else, including
//! another client's token, is answered 200 without effect.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::OAuthError;
use super::respond::oauth_error;
use super::token::{back_channel, unavailable};
use crate::app::AppState;
use crate::crypto::sha256_b64url;
use crate::oidc::access_token;
use crate::store::{self, tokens::REFRESH};

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let (params, client) = match back_channel(&req, &state, &body).await {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let Some(token) = params.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is required"), false);
    };
    let hash = sha256_b64url(token.as_bytes());
    let sealed = access_token::open(&state.sealer, token);
    let now = state.clock.now();
    let result = state
        .store
        .write(move |c| {
            if let Some(sealed) = sealed {
                // Its grant says whose it is; the row marks this one token dead.
                let grant = store::grants::get(c, &sealed.grant_id)?;
                let Some(grant) = grant.filter(|g| g.client_id == client.id) else {
                    return Ok(());
                };
                if sealed.exp > now {
                    let row = access_token::row_of(&hash, &sealed, &grant, Some(now));
                    store::tokens::insert_new(c, &row)?;
                }
                return Ok(());
            }
            let Some(t) = store::tokens::get(c, &hash)?.filter(|t| t.client_id == client.id) else {
                return Ok(());
            };
            if t.kind == REFRESH {
                store::grants::revoke(c, &t.grant_id, now)?;
            } else {
                store::tokens::revoke(c, &hash, now)?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => oauth_error(&unavailable(&e), false),
    }
}

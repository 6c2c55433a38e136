//! `POST /revoke` (RFC 7009). The client authenticates; a token of its own is
//! revoked (a refresh token takes its whole grant along, §2.1); anything else,
//! including another client's token, is answered 200 without effect.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::OAuthError;
use super::respond::oauth_error;
use super::token::{back_channel, unavailable};
use crate::app::AppState;
use crate::crypto::sha256_b64url;
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
    let now = state.clock.now();
    let result = state
        .store
        .write(move |c| {
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

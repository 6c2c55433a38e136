//! `POST /introspect` (RFC 7662). Only confidential clients may ask, and only
//! about tokens issued to themselves: to anyone else every token is inactive,
//! so introspection cannot be used to probe other clients' tokens.

use crate::oidc::claims::client_subject;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::error::{ErrorCode, OAuthError};
use super::respond::{no_store_json, oauth_error};
use super::token::{back_channel, unavailable};
use crate::app::AppState;
use crate::oidc::access_token;
use crate::store;

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let (params, client) = match back_channel(&req, &state, &body).await {
        Ok(v) => v,
        Err(res) => return *res,
    };
    if client.public {
        return oauth_error(
            &OAuthError::new(
                ErrorCode::InvalidClient,
                "public clients may not introspect",
            ),
            false,
        );
    }
    let Some(token) = params.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is required"), false);
    };
    let (token, now, sealer) = (token.to_string(), state.clock.now(), state.sealer.clone());
    let found = state
        .store
        .run(move |c| access_token::resolve(c, &sealer, &token, now))
        .await
        .map(|live| live.map(|l| l.token));
    match found {
        Ok(Some(t)) if t.client_id == client.id => no_store_json(&json!({
            "active": true,
            "scope": t.scope,
            "client_id": t.client_id,
            "sub": client_subject(&t.sub, &client, &state.sealer),
            "exp": t.expires_at,
            "iat": t.created_at,
            "iss": state.issuer,
            "aud": t.client_id,
            "token_type": if t.kind == store::tokens::REFRESH { "refresh_token" } else { "Bearer" },
        })),
        Ok(_) => no_store_json(&json!({ "active": false })),
        Err(e) => oauth_error(&unavailable(&e), false),
    }
}

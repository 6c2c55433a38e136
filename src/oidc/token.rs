//! `POST /token`: parse the form once, authenticate the client, then hand
//! over to one grant module inside one transaction (`grants/`).

use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::Params;
use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::grants::Issuer;
use super::grants::authorization_code::{CodeGrant, exchange};
use super::grants::issue::Unsigned;
use super::grants::refresh_token::{RefreshGrant, refresh};
use super::respond::{no_store_json, oauth_error};
use crate::app::AppState;
use crate::oidc::clients::Client;
use crate::store::StoreError;
use crate::web::throttle::{self, Limit};

/// Parse an `application/x-www-form-urlencoded` body, rejecting repeats.
pub fn form_params(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("malformed form body"))?;
    let params = Params::from_pairs(pairs);
    if let Some(name) = params.duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    Ok(params)
}

/// Authenticate the client of a back-channel request (token, revoke, introspect).
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    params: &Params,
) -> Result<Client, (OAuthError, bool)> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let presented =
        client_auth::presented(header, params.get("client_id"), params.get("client_secret"))
            .map_err(|e| (e, header.is_some()))?;
    let found = state
        .client(&presented.client_id)
        .await
        .map_err(|e| (unavailable(&e), false))?;
    client_auth::verify(found, &presented).map_err(|e| (e, presented.basic))
}

/// The shared first steps of `/token`, `/revoke` and `/introspect`: parse the
/// form, authenticate the client; or the error response to send.
pub async fn back_channel(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(Params, Client), Box<HttpResponse>> {
    let params = form_params(req, body).map_err(|e| Box::new(oauth_error(&e, false)))?;
    let client = authenticate(state, req, &params)
        .await
        .map_err(|(e, basic)| Box::new(oauth_error(&e, basic)))?;
    Ok((params, client))
}

/// A database failure toward a client: retryable, never a bare 500.
pub fn unavailable(e: &StoreError) -> OAuthError {
    tracing::error!(error = %e, "database unavailable");
    OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the service is temporarily unavailable",
    )
}

pub async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    if let Err(secs) = throttle::check(&state, &req, Limit::Token) {
        return throttle::json(secs);
    }
    let (params, client) = match back_channel(&req, &state, &body).await {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let ctx = Issuer {
        issuer: state.issuer.clone(),
        keys: state.keys.clone(),
        sealer: state.sealer.clone(),
        ttl: state.config.tokens.clone(),
    };
    let keys = state.keys.clone();
    let sign = move |r: Result<Unsigned, OAuthError>| r.and_then(|u| u.sign(&keys));
    let now = state.clock.now();
    let result = match params.get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = params.get("code") else {
                return oauth_error(&OAuthError::invalid_request("code is required"), false);
            };
            let g = CodeGrant {
                code: code.to_string(),
                redirect_uri: params.get("redirect_uri").map(str::to_string),
                code_verifier: params.get("code_verifier").map(str::to_string),
            };
            state
                .store
                .unit_then(move |u| exchange(u, &ctx, &client, &g, now), sign)
                .await
        }
        Some("refresh_token") => {
            let Some(token) = params.get("refresh_token") else {
                return oauth_error(
                    &OAuthError::invalid_request("refresh_token is required"),
                    false,
                );
            };
            let g = RefreshGrant {
                refresh_token: token.to_string(),
                scope: params.get("scope").map(str::to_string),
            };
            state
                .store
                .unit_then(move |u| refresh(u, &ctx, &client, &g, now), sign)
                .await
        }
        None => {
            return oauth_error(
                &OAuthError::invalid_request("grant_type is required"),
                false,
            );
        }
        Some(_) => {
            return oauth_error(
                &OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "supported: authorization_code, refresh_token",
                ),
                false,
            );
        }
    };
    match result {
        Ok(Ok(body)) => no_store_json(&body),
        Ok(Err(e)) => oauth_error(&e, false),
        Err(e) => oauth_error(&unavailable(&e), false),
    }
}

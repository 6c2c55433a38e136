//! `GET|POST /userinfo` (OIDC Core §5.3): the access token from the
//! `Authorization: Bearer` header or, on POST, the form body (RFC 6750 §2.2),
//! never both. Revoked or expired tokens get 401 `invalid_token`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::access_token;
use super::claims::{ClaimRequest, RequestedClaims, client_subject, user_claims};
use super::error::{ErrorCode, OAuthError};
use super::respond::{bearer_error, no_store_json};
use crate::app::AppState;
use crate::store::{self, tokens::ACCESS};
use crate::upstream::Identity;

/// The bearer token of a request; `Err(None)` when there is no credential at all.
fn bearer(req: &HttpRequest, body: &[u8]) -> Result<String, Option<OAuthError>> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let from_header = header.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    });
    let from_body = if req.method() == actix_web::http::Method::POST && !body.is_empty() {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()
            .and_then(|p| {
                p.into_iter()
                    .find(|(k, _)| k == "access_token")
                    .map(|(_, v)| v)
            })
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(Some(OAuthError::invalid_request("send the token once"))),
        (Some(t), None) => Ok(t.trim().to_string()),
        (None, Some(t)) => Ok(t),
        (None, None) => Err(None),
    }
}

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let token = match bearer(&req, &body) {
        Ok(t) => t,
        Err(Some(e)) => return bearer_error(&e),
        // No credentials at all: a bare challenge (RFC 6750 §3.1).
        Err(None) => {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .insert_header(("Cache-Control", "no-store"))
                .finish();
        }
    };
    let now = state.clock.now();
    let (registry, sealer) = (state.clients.clone(), state.sealer.clone());
    let found = state
        .store
        .run(move |c| {
            let Some(live) = access_token::resolve(c, &sealer, &token, now)? else {
                return Ok(None);
            };
            let t = live.token;
            if t.kind != ACCESS {
                return Ok(None);
            }
            // The grant's `claims` request names what userinfo adds.
            let grant = match live.grant {
                Some(g) => g,
                None => match store::grants::get_live(c, &t.grant_id, now)? {
                    Some(g) => g,
                    None => return Ok(None),
                },
            };
            let asked = RequestedClaims::from_column(grant.claims.as_deref())?;
            let account = store::accounts::get(c, &t.sub)?;
            let client = registry.lookup(c, &t.client_id)?;
            Ok(account.zip(client).map(|(a, cl)| (t, a, cl, asked)))
        })
        .await;
    let (t, account, client, asked) = match found {
        Ok(Some(v)) => v,
        Ok(None) => {
            return bearer_error(&OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is not valid",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "database unavailable");
            return HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "5"))
                .finish();
        }
    };
    let identity: Identity = match store::from_json(&account.profile) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "corrupt account profile");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let scopes: Vec<String> = t.scope.split(' ').map(str::to_string).collect();
    let claims = user_claims(
        &client_subject(&t.sub, &client, &state.sealer),
        &identity,
        &client,
        &ClaimRequest {
            scopes: &scopes,
            requested: &asked.userinfo,
        },
        account.updated_at,
    );
    no_store_json(&serde_json::Value::Object(claims))
}

//! `GET /callback/{host}`: the upstream server sends the person back. Resume
//! the stored request (bound to this server and this browser), let the
//! upstream verify the account, then [`complete::finish`] the request.
//! Without `code`, `error` or `state` it is the landing of a confirmed
//! sign-up (Mastodon sends people to the app's first redirect URI, bare):
//! [`crate::web::signup::landing`] takes it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::endpoint::unavailable_page;
use super::complete::{self, restart};
use super::error::{ErrorCode, OAuthError};
use super::pending::Stored;
use super::respond::{error_link, error_to_client};
use super::session::FLOW;
use crate::app::AppState;
use crate::crypto::sha256_b64url;
use crate::store;
use crate::upstream::{CallbackQuery, UpstreamError};
use crate::web::login::{UPSTREAM_SEAL, explain, reason};
use crate::web::pages;

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    host: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let host = host.into_inner();
    if query.code.is_none() && query.error.is_none() && query.state.is_none() {
        return crate::web::signup::landing::land(&req, &state, &host).await;
    }
    let Some(upstream_state) = query.state.clone() else {
        return restart(
            "The server's answer has no state. Go back to the application and start again.",
        );
    };
    let id = sha256_b64url(upstream_state.as_bytes());
    let now = state.clock.now();
    let found = state
        .store
        .run(move |c| store::auth_requests::get(c, &id, now))
        .await;
    let row = match found {
        Ok(Some(row)) => row,
        Ok(None) => {
            return restart(
                "This login has expired or was already finished. Go back to the application and start again.",
            );
        }
        Err(e) => return unavailable_page(&e),
    };
    // Mix-up defence: the answer must come back on the path of the server we sent the person to.
    if row.server_host.as_deref() != Some(host.as_str()) {
        return restart("The answer came from another server than the one this login went to.");
    }
    let stored: Stored = match store::from_json(&row.request) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "corrupt stored authorization request");
            return restart("This login's data is damaged. Start again from the application.");
        }
    };
    if state.cookies.read(&req, FLOW).as_deref() != Some(stored.binding.as_str()) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "This login belongs to another browser",
            "A login can only be finished in the browser that started it. Go back to the application and start again.",
            None,
        );
    }
    let r = stored.req.clone();
    let to_rp = |code: ErrorCode, why: &str| {
        error_to_client(
            &r.redirect_uri,
            r.response_mode,
            r.state.as_deref(),
            &state.issuer,
            &OAuthError::new(code, why),
        )
    };
    let upstream_data = row
        .upstream_data
        .as_deref()
        .and_then(|d| state.sealer.open(UPSTREAM_SEAL, d).ok())
        .unwrap_or_default();
    let verified = match state.upstream.complete(&host, &upstream_data, &query).await {
        Ok(v) => v,
        Err(UpstreamError::Denied) => {
            state.metrics.login_failed("denied");
            return to_rp(
                ErrorCode::AccessDenied,
                "the person declined at their server",
            );
        }
        Err(e) => {
            tracing::info!(error = %e, server = %host, "upstream login failed");
            state.metrics.login_failed(reason(&e));
            let (status, message) = explain(&e);
            let code = match e {
                UpstreamError::Unavailable(_)
                | UpstreamError::RateLimited { .. }
                | UpstreamError::StorageUnavailable(_) => ErrorCode::TemporarilyUnavailable,
                UpstreamError::Internal(_) => ErrorCode::ServerError,
                _ => ErrorCode::AccessDenied,
            };
            let back = OAuthError::new(code, "the login at the upstream server failed");
            let back_url = error_link(&r.redirect_uri, &back, r.state.as_deref(), &state.issuer);
            return pages::error(
                status,
                "The login did not work",
                &message,
                back_url
                    .as_deref()
                    .map(|u| ("Return to the application", u)),
            );
        }
    };
    let request_id = row.id.clone();
    complete::finish(
        &state,
        &req,
        &r,
        &verified,
        move |c| Ok(store::auth_requests::take(c, &request_id, now)?.is_some()),
        &[FLOW],
    )
    .await
    .unwrap_or_else(|res| res)
}

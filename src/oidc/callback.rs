//! `GET /callback/{host}`: the upstream server sends the person back. Resume
//! the stored request (bound to this server and this browser), let the
//! upstream verify the account, then in ONE transaction consume the request,
//! upsert the account, start the session and issue the code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::endpoint::unavailable_page;
use super::claims::subject;
use super::code::{issue, success_params};
use super::error::{ErrorCode, OAuthError};
use super::pending::Stored;
use super::respond::{error_to_client, to_client};
use super::session::{FLOW, SESSION, row_id};
use crate::app::AppState;
use crate::crypto::{random_token, sha256_b64url};
use crate::store::accounts::AccountRow;
use crate::store::sessions::SessionRow;
use crate::store::{self, StoreResult};
use crate::upstream::{CallbackQuery, UpstreamError};
use crate::web::login::{UPSTREAM_SEAL, explain, reason};
use crate::web::pages;

fn restart(message: &str) -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This login cannot be finished",
        message,
        None,
    )
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    host: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let host = host.into_inner();
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
    let identity = match state.upstream.complete(&host, &upstream_data, &query).await {
        Ok(i) => i,
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
            let params = back.redirect_params(r.state.as_deref(), &state.issuer);
            let back_url = back_link(&r.redirect_uri, &params);
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
    let client = match state.client(&r.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return restart("The application is no longer registered."),
        Err(e) => return unavailable_page(&e),
    };
    if !client.allows_server(&identity.server_host) {
        state.metrics.login_failed("policy");
        return to_rp(
            ErrorCode::AccessDenied,
            "accounts of this server may not log in to this client",
        );
    }
    let sub = subject(&identity.server_host, &identity.account_id);
    let cookie = random_token(32);
    let old_session = state.cookies.read(&req, SESSION).map(|c| row_id(&c));
    let (req2, ttl, row_id_new) = (r.clone(), state.config.tokens.clone(), row_id(&cookie));
    let request_id = row.id.clone();
    let account = AccountRow {
        sub: sub.clone(),
        server_host: identity.server_host.clone(),
        account_id: identity.account_id.clone(),
        handle: identity.handle.clone(),
        profile: store::to_json(&identity),
        upstream_token: None,
        created_at: now,
        updated_at: now,
    };
    let written: StoreResult<Option<String>> = state
        .store
        .write(move |c| {
            // Only the first callback for this request may finish it.
            if store::auth_requests::take(c, &request_id, now)?.is_none() {
                return Ok(None);
            }
            store::accounts::upsert(c, &account)?;
            if let Some(old) = old_session {
                store::sessions::delete(c, &old)?;
            }
            store::sessions::insert(
                c,
                &SessionRow {
                    id: row_id_new.clone(),
                    sub: sub.clone(),
                    auth_time: now,
                    created_at: now,
                    expires_at: now + ttl.session_ttl_secs,
                },
            )?;
            issue(c, &req2, &sub, now, Some(row_id_new), now, &ttl).map(Some)
        })
        .await;
    let code = match written {
        Ok(Some(code)) => code,
        Ok(None) => return restart("This login was already finished. Go back to the application."),
        Err(e) => return unavailable_page(&e),
    };
    state.metrics.login_completed();
    let params = success_params(code, r.state.as_deref(), &state.issuer);
    let mut res = to_client(&r.redirect_uri, r.response_mode, &params);
    let _ = res.add_cookie(&state.cookies.make(
        SESSION,
        cookie,
        Some(state.config.tokens.session_ttl_secs),
    ));
    let _ = res.add_cookie(&state.cookies.removal(FLOW));
    res
}

/// The error redirect as a link a person can follow (query mode).
fn back_link(redirect_uri: &str, params: &[(&str, String)]) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    Some(url.to_string())
}

//! The end of every interactive login: a [`Verified`] account completes the
//! relying party's authorization request. In ONE transaction: consume what
//! resumed the request (the auth request of a login, or a pending sign-up),
//! upsert the account (with the sealed upstream token when the upstream
//! keeps one), replace the browser's session and issue the code;
//! then 303 (or form_post) to the client with `code`, `state` and `iss`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::authorize::AuthRequest;
use super::authorize::endpoint::unavailable_page;
use super::claims::subject;
use super::code::{issue, success_params};
use super::error::{ErrorCode, OAuthError};
use super::respond::{error_to_client, to_client};
use super::session::{SESSION, row_id};
use crate::app::AppState;
use crate::crypto::random_token;
use crate::store::accounts::AccountRow;
use crate::store::sessions::SessionRow;
use crate::store::{self, AnyConnection, StoreResult};
use crate::upstream::Verified;
use crate::web::pages;

/// Finish `r` for `verified`. `consume` runs first in the transaction and
/// returns false when another request already finished this flow; the
/// cookies named in `spent` are removed from the browser. `Ok` is the
/// response of a completed login, `Err` one that did not complete.
pub async fn finish<F>(
    state: &AppState,
    req: &HttpRequest,
    r: &AuthRequest,
    verified: &Verified,
    consume: F,
    spent: &[&str],
) -> Result<HttpResponse, HttpResponse>
where
    F: FnOnce(&mut AnyConnection) -> StoreResult<bool> + Send + 'static,
{
    let identity = &verified.identity;
    let client = match state.client(&r.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(restart("The application is no longer registered.")),
        Err(e) => return Err(unavailable_page(&e)),
    };
    if !client.allows_server(&identity.server_host) {
        state.metrics.login_failed("policy");
        return Err(error_to_client(
            &r.redirect_uri,
            r.response_mode,
            r.state.as_deref(),
            &state.issuer,
            &OAuthError::new(
                ErrorCode::AccessDenied,
                "accounts of this server may not log in to this client",
            ),
        ));
    }
    let now = state.clock.now();
    let sub = subject(&identity.server_host, &identity.account_id);
    let cookie = random_token(32);
    let old_session = state.cookies.read(req, SESSION).map(|c| row_id(&c));
    let (req2, ttl, row_id_new) = (r.clone(), state.config.tokens.clone(), row_id(&cookie));
    let account = AccountRow {
        sub: sub.clone(),
        server_host: identity.server_host.clone(),
        account_id: identity.account_id.clone(),
        handle: identity.handle.clone(),
        profile: store::to_json(identity),
        upstream_token: verified.sealed_token.clone(),
        created_at: now,
        updated_at: now,
    };
    let written: StoreResult<Option<String>> = state
        .store
        .write(move |c| {
            // Only the first to consume the flow may finish it.
            if !consume(c)? {
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
        Ok(None) => {
            return Err(restart(
                "This login was already finished. Go back to the application.",
            ));
        }
        Err(e) => return Err(unavailable_page(&e)),
    };
    state.metrics.login_completed();
    let params = success_params(code, r.state.as_deref(), &state.issuer);
    let mut res = to_client(&r.redirect_uri, r.response_mode, &params);
    let _ = res.add_cookie(&state.cookies.make(
        SESSION,
        cookie,
        Some(state.config.tokens.session_ttl_secs),
    ));
    for name in spent {
        let _ = res.add_cookie(&state.cookies.removal(name));
    }
    Ok(res)
}

pub fn restart(message: &str) -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This login cannot be finished",
        message,
        None,
    )
}

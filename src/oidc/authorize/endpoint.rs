//! `GET|POST /authorize`: validate, then answer from the bridge's own session
//! (single sign-on, `prompt=none`) or show the handle page (the server
//! chooser of a sign-up for `prompt=create`). Errors before the
//! redirect URI is trusted are pages; after, redirects with `state` and `iss`.

use crate::oidc::claims::client_subject;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AuthRequest, AuthorizeError, Params, client_id, validate};
use crate::app::AppState;
use crate::oidc::clients::Client;
use crate::oidc::code::{issue, success_params};
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::hint;
use crate::oidc::pending::Pending;
use crate::oidc::respond::{error_to_client, to_client};
use crate::oidc::session::{FLOW, SESSION, live};
use crate::store::{self, StoreError};
use crate::web::pages;
use crate::web::throttle::{self, Limit};

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(secs) = throttle::check(&state, &req, Limit::Authorize) {
        return throttle::page(secs);
    }
    match serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()) {
        Ok(pairs) => authorize(&req, &state, Params::from_pairs(pairs)).await,
        Err(_) => bad_request("The address of this login is malformed."),
    }
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    if let Err(secs) = throttle::check(&state, &req, Limit::Authorize) {
        return throttle::page(secs);
    }
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(pairs) => authorize(&req, &state, Params::from_pairs(pairs)).await,
        Err(_) => bad_request("The login request is malformed."),
    }
}

fn bad_request(message: &str) -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This login cannot start",
        message,
        None,
    )
}

/// What people read while the database is down, and when to come back.
pub const DATABASE_DOWN: &str =
    "The login service cannot reach its database right now. Please try again in a minute.";
pub const DATABASE_RETRY_SECS: u64 = 30;

pub fn unavailable_page(e: &StoreError) -> HttpResponse {
    tracing::error!(error = %e, "database unavailable");
    let mut res = pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        DATABASE_DOWN,
        None,
    );
    crate::web::retry_after(&mut res, DATABASE_RETRY_SECS);
    res
}

async fn authorize(req: &HttpRequest, state: &AppState, params: Params) -> HttpResponse {
    let id = match client_id(&params) {
        Ok(id) => id.to_string(),
        Err(AuthorizeError::Page(m)) => return bad_request(&m),
        Err(_) => return bad_request("The login request is malformed."),
    };
    let client = match state.client(&id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return bad_request(
                "The application that sent you here is not registered with this login service.",
            );
        }
        Err(e) => return unavailable_page(&e),
    };
    // prompt=create only where sign-up is offered (else invalid_request).
    let signup = crate::web::signup::offered(state, &client);
    let request = match validate(&params, &client, signup) {
        Ok(r) => r,
        Err(AuthorizeError::Page(m)) => return bad_request(&m),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state: st,
            error,
        }) => {
            return error_to_client(
                &redirect_uri,
                response_mode,
                st.as_deref(),
                &state.issuer,
                &error,
            );
        }
    };
    let fail = |code: ErrorCode, why: &str| {
        error_to_client(
            &request.redirect_uri,
            request.response_mode,
            request.state.as_deref(),
            &state.issuer,
            &OAuthError::new(code, why),
        )
    };
    match single_sign_on(req, state, &client, &request).await {
        Ok(Some(res)) => return res,
        Ok(None) if request.prompt.none => {
            return fail(
                ErrorCode::LoginRequired,
                "no current login satisfies the request",
            );
        }
        Ok(None) => {}
        Err(e) => return unavailable_page(&e),
    }
    // A login begins: bind it to this browser.
    let binding = state
        .cookies
        .read(req, FLOW)
        .filter(|b| b.len() == 22)
        .unwrap_or_else(|| crate::crypto::random_token(16));
    let pending = Pending {
        req: request.clone(),
        binding: binding.clone(),
        issued_at: state.clock.now(),
    };
    let mut res = match request.login_hint.clone() {
        _ if request.prompt.create => {
            let typed = crate::web::signup::choose::hinted_server(request.login_hint.as_deref());
            crate::web::signup::choose::page(state, &client, &pending, &typed, None)
        }
        Some(hint) => crate::web::login::start_limited(req, state, &client, pending, &hint).await,
        None => {
            let typed = state
                .cookies
                .read(req, crate::oidc::session::LAST_SERVER)
                .unwrap_or_default();
            crate::web::login::page(state, &client, &pending, &typed, None, StatusCode::OK)
        }
    };
    let _ = res.add_cookie(&state.cookies.make(FLOW, binding, None));
    res
}

/// Answer at once from a live session when the request allows it.
async fn single_sign_on(
    req: &HttpRequest,
    state: &AppState,
    client: &Client,
    request: &AuthRequest,
) -> Result<Option<HttpResponse>, StoreError> {
    let p = &request.prompt;
    // consent and select_account need a page; the handle page is ours.
    if p.login || p.select_account || p.create || p.consent {
        return Ok(None);
    }
    let Some(cookie) = state.cookies.read(req, SESSION) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let found = state
        .store
        .run(move |c| {
            let Some(s) = live(c, &cookie, now)? else {
                return Ok(None);
            };
            Ok(store::accounts::get(c, &s.sub)?.map(|a| (s, a)))
        })
        .await?;
    let Some((session, account)) = found else {
        return Ok(None);
    };
    if request
        .max_age
        .is_some_and(|m| now - session.auth_time > m as i64)
    {
        return Ok(None);
    }
    if !client.allows_server(&account.server_host) {
        return Ok(None);
    }
    if let Some(raw) = &request.id_token_hint {
        // The hint names who the client expects; another person means no silent login.
        match hint::verify(state, raw) {
            Some(claims)
                if claims["sub"].as_str()
                    == Some(client_subject(&session.sub, client, &state.sealer).as_str()) => {}
            _ => return Ok(None),
        }
    }
    let (req2, ttl) = (request.clone(), state.config.tokens.clone());
    let code = state
        .store
        .write(move |c| {
            issue(
                c,
                &req2,
                &session.sub,
                session.auth_time,
                Some(session.id.clone()),
                now,
                &ttl,
            )
        })
        .await?;
    state.metrics.login_completed();
    let params = success_params(code, request.state.as_deref(), &state.issuer);
    Ok(Some(to_client(
        &request.redirect_uri,
        request.response_mode,
        &params,
    )))
}

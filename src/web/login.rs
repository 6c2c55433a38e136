//! The handle page: who are you on the fediverse? Server-rendered, no
//! JavaScript, errors explained in place with the typed value kept. Its form
//! posts to `/login`, which starts the upstream leg through the `Upstream`
//! seam and stores the flow (the first durable write of a login).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::{random_token, sha256_b64url};
use crate::oidc::authorize::endpoint::{DATABASE_DOWN, DATABASE_RETRY_SECS, unavailable_page};
use crate::oidc::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::pending::{Pending, Stored};
use crate::oidc::respond::{error_link, error_to_client};
use crate::oidc::session::{FLOW, LAST_SERVER};
use crate::store::{self, auth_requests::AuthRequestRow};
use crate::upstream::{AccountRefusal, LoginInput, UpstreamError};
use crate::web::throttle::{self, Limit};

pub const UPSTREAM_SEAL: &str = "upstream-flow";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: &'a str,
    client_name: &'a str,
    request: &'a str,
    typed: &'a str,
    error: Option<&'a str>,
    /// Offer "Create an account" (sign-up through the bridge).
    signup: bool,
}

/// The `lang` of a page for this request: its first `ui_locales` tag.
pub fn page_lang(pending: &Pending) -> &str {
    pending
        .req
        .ui_locales
        .first()
        .filter(|l| l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(String::as_str)
        .unwrap_or("en")
}

/// Render the handle page for a pending login.
pub fn page(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    typed: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let sealed = pending.seal(&state.sealer);
    let page = LoginPage {
        lang: page_lang(pending),
        client_name: &client.name,
        request: &sealed,
        typed,
        error,
        signup: super::signup::offered(state, client),
    };
    let mut res = super::html(page.render());
    *res.status_mut() = status;
    res
}

/// What a person reads for an upstream failure, and the status of the page.
pub fn explain(e: &UpstreamError) -> (StatusCode, String) {
    use UpstreamError::*;
    match e {
        InvalidInput(m) => (StatusCode::BAD_REQUEST, m.clone()),
        NotFound(_) => (
            StatusCode::BAD_REQUEST,
            "No account or fediverse server was found at that name. Check the spelling.".into(),
        ),
        // The upstream side words these for people (never an upstream body).
        Unavailable(m) => (StatusCode::BAD_GATEWAY, m.clone()),
        RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Logins to that server are paused for a moment: too many at once. Try again in {} minute(s).",
                retry_after_secs.div_ceil(60).max(1)
            ),
        ),
        Denied => (StatusCode::FORBIDDEN, "You declined the login at your server.".into()),
        AccountRefused(r) => (StatusCode::FORBIDDEN, refusal(*r).into()),
        InvalidCallback(_) => (
            StatusCode::BAD_REQUEST,
            "This login does not match one started in this browser. Start again from the application.".into(),
        ),
        NotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "Accounts on that server cannot log in here.".into(),
        ),
        StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, DATABASE_DOWN.into()),
        Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again.".into(),
        ),
    }
}

fn refusal(r: AccountRefusal) -> &'static str {
    match r {
        AccountRefusal::Suspended => {
            "Your account is suspended on its server, so it cannot log in."
        }
        AccountRefusal::Disabled => "Your account is disabled on its server, so it cannot log in.",
        AccountRefusal::Moved => {
            "Your account has moved to another server. Log in with your new account."
        }
        AccountRefusal::Unconfirmed => {
            "Your account's email address is not confirmed yet. Confirm it, then log in again."
        }
        AccountRefusal::PendingApproval => {
            "Your account is still waiting for approval by its server's moderators."
        }
        AccountRefusal::Gone => {
            "Your server no longer knows this account (or this service's access to it). Log in again."
        }
    }
}

/// Start the upstream leg for `typed`; on failure show the handle page again.
pub async fn start(
    state: &AppState,
    client: &Client,
    pending: Pending,
    typed: &str,
) -> HttpResponse {
    state.metrics.login_started();
    let upstream_state = random_token(16);
    let req = &pending.req;
    let input = LoginInput {
        typed: typed.to_string(),
        force_login: req.prompt.login || req.max_age.is_some(),
        locale: req.ui_locales.first().cloned(),
    };
    let begin = match state.upstream.begin(&input, &upstream_state).await {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(error = %e, "login could not start");
            state.metrics.login_failed(reason(&e));
            let (status, message) = explain(&e);
            let mut res = page(state, client, &pending, typed, Some(&message), status);
            let retry = match e {
                UpstreamError::RateLimited { retry_after_secs } => Some(retry_after_secs),
                UpstreamError::StorageUnavailable(_) => Some(DATABASE_RETRY_SECS),
                _ => None,
            };
            if let Some(secs) = retry {
                super::retry_after(&mut res, secs);
            }
            return res;
        }
    };
    if !client.allows_server(&begin.server_host) {
        state.metrics.login_failed("policy");
        let message = format!(
            "{} does not accept accounts from {}.",
            client.name, begin.server_host
        );
        return page(
            state,
            client,
            &pending,
            typed,
            Some(&message),
            StatusCode::FORBIDDEN,
        );
    }
    let now = state.clock.now();
    let row = AuthRequestRow {
        id: sha256_b64url(upstream_state.as_bytes()),
        client_id: client.id.clone(),
        request: store::to_json(&Stored {
            req: pending.req.clone(),
            binding: pending.binding.clone(),
        }),
        server_host: Some(begin.server_host.clone()),
        upstream_data: Some(state.sealer.seal(UPSTREAM_SEAL, &begin.stored)),
        created_at: now,
        expires_at: now + state.config.tokens.auth_request_ttl_secs,
    };
    if let Err(e) = state
        .store
        .write(move |c| store::auth_requests::insert(c, &row))
        .await
    {
        return unavailable_page(&e);
    }
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", begin.redirect_to.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    let _ = res.add_cookie(
        &state
            .cookies
            .make(LAST_SERVER, begin.server_host, Some(365 * 86_400)),
    );
    res
}

/// A short label for the failure metric.
pub fn reason(e: &UpstreamError) -> &'static str {
    use UpstreamError::*;
    match e {
        InvalidInput(_) => "invalid_input",
        NotFound(_) => "not_found",
        Unavailable(_) => "upstream_unavailable",
        RateLimited { .. } => "rate_limited",
        Denied => "denied",
        AccountRefused(_) => "account_refused",
        InvalidCallback(_) => "invalid_callback",
        NotAllowed(_) => "not_allowed",
        StorageUnavailable(_) => "storage",
        Internal(_) => "internal",
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    request: String,
    #[serde(default)]
    handle: String,
    cancel: Option<String>,
}

/// `POST /login`: the handle page's form.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let (pending, client) = match resume(&req, &state, &form.request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if form.cancel.is_some() {
        return cancelled(&state, &pending);
    }
    let typed = form.handle.trim();
    if typed.is_empty() {
        let msg = "Type your handle, like @alice@example.social, or your server's name.";
        return page(
            &state,
            &client,
            &pending,
            "",
            Some(msg),
            StatusCode::BAD_REQUEST,
        );
    }
    start_limited(&req, &state, &client, pending, typed).await
}

/// [`start`] within the per-IP handle-form limit: both the form and a
/// `login_hint` make the bridge contact the server someone typed.
pub async fn start_limited(
    req: &HttpRequest,
    state: &AppState,
    client: &Client,
    pending: Pending,
    typed: &str,
) -> HttpResponse {
    if let Err(secs) = throttle::check(state, req, Limit::HandleForm) {
        let msg = format!(
            "Too many login attempts from your network. Wait {secs} seconds, then try again."
        );
        let mut res = page(
            state,
            client,
            &pending,
            typed,
            Some(&msg),
            StatusCode::TOO_MANY_REQUESTS,
        );
        super::retry_after(&mut res, secs);
        return res;
    }
    start(state, client, pending, typed).await
}

/// A pending login from a page's sealed `request` field, checked to come
/// from the browser it started in (the CSRF defence of every flow form),
/// with its client; or the page explaining why not.
pub async fn resume(
    req: &HttpRequest,
    state: &AppState,
    sealed: &str,
) -> Result<(Pending, Client), HttpResponse> {
    let now = state.clock.now();
    let Some(pending) = Pending::open(
        &state.sealer,
        sealed,
        now,
        state.config.tokens.auth_request_ttl_secs,
    ) else {
        // A genuine but old login still knows where it came from: offer the
        // way back, so the application can start a fresh one.
        let back = Pending::open_any_age(&state.sealer, sealed).and_then(|p| {
            let err = OAuthError::new(ErrorCode::AccessDenied, "the login expired");
            error_link(
                &p.req.redirect_uri,
                &err,
                p.req.state.as_deref(),
                &state.issuer,
            )
        });
        return Err(super::pages::error(
            StatusCode::BAD_REQUEST,
            "This login has expired",
            "Go back to the application and start the login again.",
            back.as_deref()
                .map(|u| ("Start again at the application", u)),
        ));
    };
    if state.cookies.read(req, FLOW).as_deref() != Some(pending.binding.as_str()) {
        return Err(super::pages::error(
            StatusCode::FORBIDDEN,
            "This login belongs to another browser",
            "For your safety, a login can only be finished in the browser that started it. Go back to the application and start again.",
            None,
        ));
    }
    match state.client(&pending.req.client_id).await {
        Ok(Some(c)) => Ok((pending, c)),
        Ok(None) => Err(super::pages::error(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "The application is no longer registered.",
            None,
        )),
        Err(e) => Err(unavailable_page(&e)),
    }
}

/// The person gave up: `access_denied` back to the client.
pub fn cancelled(state: &AppState, pending: &Pending) -> HttpResponse {
    state.metrics.login_failed("cancelled");
    let r = &pending.req;
    let err = OAuthError::new(ErrorCode::AccessDenied, "the person cancelled the login");
    error_to_client(
        &r.redirect_uri,
        r.response_mode,
        r.state.as_deref(),
        &state.issuer,
        &err,
    )
}

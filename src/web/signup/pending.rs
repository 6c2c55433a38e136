//! A sign-up waiting for its confirmation: `GET /signup/pending` ("check
//! your e-mail"), `POST /signup/resend` and `POST /signup/cancel`. The
//! browser's `signup` cookie finds the row; the forms carry a token derived
//! from that cookie (a cross-site form cannot know it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::UPSTREAM_SEAL;
use super::messages::explain;
use crate::app::AppState;
use crate::crypto::{b64url, constant_time_eq, sha256_b64url};
use crate::oidc::authorize::AuthRequest;
use crate::oidc::authorize::endpoint::unavailable_page;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::respond::error_to_client;
use crate::oidc::session::SIGNUP;
use crate::store::{self, signups::SignupRow};
use crate::upstream::{AccountRefusal, Resent, UpstreamError};
use crate::web::pages;

/// Where the sign-up stands, as the page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Confirm,
    Approval,
}

#[derive(Template)]
#[template(path = "signup_pending.html")]
struct PendingPage<'a> {
    client_name: &'a str,
    host: &'a str,
    username: &'a str,
    email: &'a str,
    approval: bool,
    csrf: &'a str,
    notice: Option<&'a str>,
}

/// The browser's pending sign-up: its cookie value and row.
pub struct Found {
    pub cookie: String,
    pub row: SignupRow,
}

impl Found {
    pub fn id(&self) -> String {
        sha256_b64url(self.cookie.as_bytes())
    }

    /// The upstream data, opened.
    pub fn upstream_data(&self, state: &AppState) -> Option<Vec<u8>> {
        state
            .sealer
            .open(UPSTREAM_SEAL, &self.row.upstream_data)
            .ok()
    }

    pub fn request(&self) -> Option<AuthRequest> {
        store::from_json(&self.row.request).ok()
    }
}

/// The pending sign-up of this browser, if any is live.
pub async fn find(req: &HttpRequest, state: &AppState) -> Result<Option<Found>, HttpResponse> {
    let Some(cookie) = state.cookies.read(req, SIGNUP) else {
        return Ok(None);
    };
    let (id, now) = (sha256_b64url(cookie.as_bytes()), state.clock.now());
    match state
        .store
        .run(move |c| store::signups::get(c, &id, now))
        .await
    {
        Ok(row) => Ok(row.map(|row| Found { cookie, row })),
        Err(e) => Err(unavailable_page(&e)),
    }
}

fn csrf(state: &AppState, cookie: &str) -> String {
    b64url(&state.sealer.mac("signup-csrf", cookie.as_bytes()))
}

/// "Check your e-mail" or "waiting for approval".
pub async fn page(
    state: &AppState,
    found: &Found,
    stage: Stage,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let client_name = match state.client(&found.row.client_id).await {
        Ok(Some(c)) => c.name,
        Ok(None) => "the application".into(),
        Err(e) => return unavailable_page(&e),
    };
    let token = csrf(state, &found.cookie);
    let page = PendingPage {
        client_name: &client_name,
        host: &found.row.server_host,
        username: &found.row.username,
        email: &found.row.email,
        approval: stage == Stage::Approval,
        csrf: &token,
        notice,
    };
    let mut res = crate::web::html(page.render());
    *res.status_mut() = status;
    res
}

/// No live sign-up in this browser.
pub fn none_here() -> HttpResponse {
    pages::error(
        StatusCode::NOT_FOUND,
        "No sign-up is waiting in this browser",
        "It may have expired (after a week), been finished or cancelled, or been started in another browser. If your new account is active, log in to the application with it.",
        None,
    )
}

/// The account is gone from the server: forget the sign-up too.
pub async fn gone(state: &AppState, found: &Found) -> HttpResponse {
    let id = found.id();
    if let Err(e) = state
        .store
        .write(move |c| store::signups::delete(c, &id))
        .await
    {
        tracing::warn!(error = %e, "cannot forget a vanished sign-up");
    }
    state.metrics.signup("expired");
    let mut res = pages::error(
        StatusCode::GONE,
        "This sign-up no longer exists",
        &format!(
            "{} no longer knows the account. Unconfirmed accounts are deleted after a week, and moderators may decline sign-ups. Go back to the application to start again.",
            found.row.server_host
        ),
        None,
    );
    let _ = res.add_cookie(&state.cookies.removal(SIGNUP));
    res
}

/// `GET /signup/pending`.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match find(&req, &state).await {
        Ok(Some(found)) => page(&state, &found, Stage::Confirm, None, StatusCode::OK).await,
        Ok(None) => none_here(),
        Err(res) => res,
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// The browser's sign-up, if the form's token belongs to it.
async fn checked(
    req: &HttpRequest,
    state: &AppState,
    form: &TokenForm,
) -> Result<Found, HttpResponse> {
    let found = find(req, state).await?.ok_or_else(none_here)?;
    if !constant_time_eq(form.csrf.as_bytes(), csrf(state, &found.cookie).as_bytes()) {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "This form did not come from this page",
            "For your safety it was refused. Open the sign-up page again and use its buttons.",
            Some(("Back to the sign-up", "/signup/pending")),
        ));
    }
    Ok(found)
}

/// `POST /signup/resend`: the server sends the confirmation link again.
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let found = match checked(&req, &state, &form).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let Some(data) = found.upstream_data(&state) else {
        return gone(&state, &found).await;
    };
    let host = found.row.server_host.clone();
    match state.upstream.resend_confirmation(&host, &data).await {
        Ok(Resent::Sent) => {
            let msg = format!("{host} sent the link again to {}.", found.row.email);
            page(&state, &found, Stage::Confirm, Some(&msg), StatusCode::OK).await
        }
        // Nothing to send: see where the account stands.
        Ok(Resent::AlreadyConfirmed) => HttpResponse::SeeOther()
            .insert_header(("Location", format!("/callback/{host}")))
            .finish(),
        Err(UpstreamError::AccountRefused(AccountRefusal::Gone)) => gone(&state, &found).await,
        Err(e) => {
            tracing::info!(error = %e, host, "resend failed");
            let (status, msg) = explain(&e);
            page(&state, &found, Stage::Confirm, Some(&msg), status).await
        }
    }
}

/// `POST /signup/cancel`: give up; the client hears `access_denied`.
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let found = match checked(&req, &state, &form).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let id = found.id();
    if let Err(e) = state
        .store
        .write(move |c| store::signups::delete(c, &id))
        .await
    {
        return unavailable_page(&e);
    }
    state.metrics.signup("cancelled");
    let mut res = match found.request() {
        Some(r) => error_to_client(
            &r.redirect_uri,
            r.response_mode,
            r.state.as_deref(),
            &state.issuer,
            &OAuthError::new(ErrorCode::AccessDenied, "the person cancelled the sign-up"),
        ),
        None => pages::error(
            StatusCode::OK,
            "Sign-up cancelled",
            "You can close this page.",
            None,
        ),
    };
    let _ = res.add_cookie(&state.cookies.removal(SIGNUP));
    res
}

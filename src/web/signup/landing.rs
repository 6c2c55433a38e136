//! The confirmation landing: Mastodon sends a person who confirmed their
//! e-mail to our app's first redirect URI, `/callback/{host}`, with no query
//! (spec §5). The page buttons come here too. The browser's sign-up cookie
//! finds the sign-up; the new account's own token tells where it stands;
//! once it is active the original authorization request is completed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::messages::explain;
use super::pending::{self, Found, Stage};
use crate::app::AppState;
use crate::oidc::complete;
use crate::oidc::session::SIGNUP;
use crate::store;
use crate::upstream::{AccountRefusal, SignupStatus, UpstreamError};
use crate::web::pages;

/// Confirmed in a browser that did not start the sign-up (another device).
fn elsewhere(host: &str) -> HttpResponse {
    pages::error(
        StatusCode::OK,
        "Your e-mail address is confirmed",
        &format!(
            "If you created an account on {host} through this service, it is now confirmed. Go back to the browser where you signed up to continue, or log in to the application with your new account."
        ),
        None,
    )
}

pub async fn land(req: &HttpRequest, state: &AppState, host: &str) -> HttpResponse {
    let found = match pending::find(req, state).await {
        Ok(Some(f)) if f.row.server_host == host => f,
        Ok(_) => return elsewhere(host),
        Err(res) => return res,
    };
    let Some(data) = found.upstream_data(state) else {
        tracing::error!(host, "a pending sign-up cannot be opened");
        return pending::gone(state, &found).await;
    };
    match state.upstream.signup_status(host, &data).await {
        Ok(SignupStatus::AwaitingConfirmation) => {
            let msg = format!(
                "{host} does not have your confirmation yet. Open the link in the e-mail, then try again."
            );
            pending::page(state, &found, Stage::Confirm, Some(&msg), StatusCode::OK).await
        }
        Ok(SignupStatus::AwaitingApproval) => {
            wait_longer(state, &found).await;
            pending::page(state, &found, Stage::Approval, None, StatusCode::OK).await
        }
        Ok(SignupStatus::Active(verified)) => {
            let Some(r) = found.request() else {
                tracing::error!(host, "a pending sign-up's request is unreadable");
                return pending::gone(state, &found).await;
            };
            let (id, now) = (found.id(), state.clock.now());
            let done = complete::finish(
                state,
                req,
                &r,
                &verified,
                move |c| store::signups::take(c, &id, now),
                &[SIGNUP],
            )
            .await;
            match done {
                Ok(res) => {
                    state.metrics.signup("completed");
                    state.upstream.end_signup(host, &data).await;
                    res
                }
                Err(res) => res,
            }
        }
        Err(UpstreamError::AccountRefused(AccountRefusal::Gone)) => {
            pending::gone(state, &found).await
        }
        Err(e) => {
            tracing::info!(error = %e, host, "sign-up status unavailable");
            let (status, msg) = explain(&e);
            pages::error(
                status,
                "The sign-up cannot continue right now",
                &msg,
                Some(("Try again", &format!("/callback/{host}"))),
            )
        }
    }
}

/// Approval can take longer than the confirmation window: keep the sign-up
/// for another full wait from now.
async fn wait_longer(state: &AppState, found: &Found) {
    let (id, now) = (found.id(), state.clock.now());
    let until = now + state.config.tokens.signup_ttl_secs;
    if let Err(e) = state
        .store
        .write(move |c| store::signups::extend(c, &id, until, now))
        .await
    {
        tracing::warn!(error = %e, "cannot extend a pending sign-up");
    }
}

//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/logout`.
//! `post_logout_redirect_uri` must match one registered for the client named
//! by `client_id` or by the `id_token_hint`'s audience, exactly; otherwise a
//! page, never a redirect. The session ends at once only when the hint names
//! the person of this browser's session (as its client sees them: pairwise
//! subjects compare per client); any other genuine ID token, of anybody and
//! however old, cannot log a browser out unasked. Otherwise the person
//! confirms, with a form carrying a token derived from the session id, so a
//! forged POST (even same-site, where SameSite=Lax does not help) is refused.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::authorize::Params;
use super::authorize::endpoint::unavailable_page;
use super::claims::client_subject;
use super::hint;
use super::session::{SESSION, live};
use crate::app::AppState;
use crate::crypto::{b64url, constant_time_eq};
use crate::store::{self, sessions::SessionRow};
use crate::web::pages;

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LogoutPage<'a> {
    title: &'a str,
    confirm: bool,
    fields: Vec<(&'a str, String)>,
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    logout(&req, &state, Params::from_pairs(pairs)).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    logout(&req, &state, Params::from_pairs(pairs)).await
}

fn refuse(message: &str) -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "Logout request not accepted",
        message,
        None,
    )
}

async fn logout(req: &HttpRequest, state: &AppState, p: Params) -> HttpResponse {
    let hint_claims = match p.get("id_token_hint") {
        Some(raw) => match hint::verify(state, raw) {
            Some(c) => Some(c),
            None => {
                return refuse(
                    "The logout request carries an ID token this service did not issue.",
                );
            }
        },
        None => None,
    };
    let hint_aud = hint_claims.as_ref().and_then(|c| match &c["aud"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(String::from),
        _ => None,
    });
    let client_id = match (p.get("client_id"), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return refuse("client_id and id_token_hint name different applications.");
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(String::from),
    };
    let redirect = p.get("post_logout_redirect_uri").map(String::from);
    if let Some(uri) = &redirect {
        let Some(id) = client_id.clone() else {
            return refuse("A return address needs client_id or id_token_hint.");
        };
        let client = match state.client(&id).await {
            Ok(c) => c,
            Err(e) => return unavailable_page(&e),
        };
        if !client.is_some_and(|c| c.has_post_logout_redirect_uri(uri)) {
            return refuse("The return address is not registered for this application.");
        }
    }
    let now = state.clock.now();
    let session = match state.cookies.read(req, SESSION) {
        Some(cookie) => match state.store.run(move |c| live(c, &cookie, now)).await {
            Ok(s) => s,
            Err(e) => return unavailable_page(&e),
        },
        None => None,
    };
    // Without a live session there is nothing to end, so nothing to ask.
    if let Some(session) = &session {
        let named = match (&hint_claims, hint_aud.as_deref()) {
            (Some(claims), Some(aud)) => hint_names(state, claims, aud, session).await,
            _ => false,
        };
        let posted = req.method() == actix_web::http::Method::POST && p.get("confirm") == Some("1");
        if posted && !csrf_matches(state, session, p.get("csrf")) {
            return pages::error(
                StatusCode::FORBIDDEN,
                "Logout request not accepted",
                "This logout form did not come from this browser's login. Nothing changed.",
                None,
            );
        }
        if !named && !posted {
            return confirmation(state, session, client_id, &p);
        }
        // Ending the session also ends every grant made under it.
        let id = session.id.clone();
        let done = state
            .store
            .write(move |c| {
                store::grants::revoke_for_session(c, &id, now)?;
                store::sessions::delete(c, &id)
            })
            .await;
        if let Err(e) = done {
            return unavailable_page(&e);
        }
    }
    let mut res = match redirect {
        Some(uri) => {
            let mut url = match url::Url::parse(&uri) {
                Ok(u) => u,
                Err(_) => return refuse("The return address is malformed."),
            };
            if let Some(s) = p.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::SeeOther()
                .insert_header(("Location", url.to_string()))
                .finish()
        }
        None => crate::web::html(
            LogoutPage {
                title: "Logged out",
                confirm: false,
                fields: vec![],
            }
            .render(),
        ),
    };
    let _ = res.add_removal_cookie(&state.cookies.removal(SESSION));
    res
}

/// Whether the hint's `sub` is the session's person, as its client `aud` sees them.
async fn hint_names(
    state: &AppState,
    claims: &serde_json::Value,
    aud: &str,
    session: &SessionRow,
) -> bool {
    match state.client(aud).await {
        Ok(Some(client)) => {
            claims["sub"].as_str()
                == Some(client_subject(&session.sub, &client, &state.sealer).as_str())
        }
        _ => false,
    }
}

/// The confirmation form's token: bound to this session, useless elsewhere.
fn csrf_token(state: &AppState, session: &SessionRow) -> String {
    b64url(&state.sealer.derive("logout-csrf", session.id.as_bytes()))
}

fn csrf_matches(state: &AppState, session: &SessionRow, presented: Option<&str>) -> bool {
    presented.is_some_and(|t| constant_time_eq(t.as_bytes(), csrf_token(state, session).as_bytes()))
}

/// "Do you want to log out?", with what the POST needs to finish the request.
fn confirmation(
    state: &AppState,
    session: &SessionRow,
    client_id: Option<String>,
    p: &Params,
) -> HttpResponse {
    let mut fields = vec![
        ("confirm", "1".to_string()),
        ("csrf", csrf_token(state, session)),
    ];
    // The hint's client, so its return address still checks out without the hint.
    if let Some(id) = client_id {
        fields.push(("client_id", id));
    }
    for name in ["post_logout_redirect_uri", "state"] {
        if let Some(v) = p.get(name) {
            fields.push((name, v.to_string()));
        }
    }
    crate::web::html(
        LogoutPage {
            title: "Log out",
            confirm: true,
            fields,
        }
        .render(),
    )
}

//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/logout`.
//! `post_logout_redirect_uri` must match one registered for the client named
//! by `client_id` or by the `id_token_hint`'s audience, exactly; otherwise a
//! page, never a redirect. With a genuine hint the session ends at once;
//! without one the person confirms (a cross-site POST carries no SameSite=Lax
//! cookie, so the confirmation cannot be forged).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::authorize::Params;
use super::authorize::endpoint::unavailable_page;
use super::hint;
use super::session::{SESSION, row_id};
use crate::app::AppState;
use crate::store;
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
    let confirmed = hint_claims.is_some()
        || (req.method() == actix_web::http::Method::POST && p.get("confirm") == Some("1"));
    if !confirmed {
        let mut fields = vec![("confirm", "1".to_string())];
        for name in ["client_id", "post_logout_redirect_uri", "state"] {
            if let Some(v) = p.get(name) {
                fields.push((name, v.to_string()));
            }
        }
        let page = LogoutPage {
            title: "Log out",
            confirm: true,
            fields,
        };
        return crate::web::html(page.render());
    }
    if let Some(cookie) = state.cookies.read(req, SESSION) {
        let id = row_id(&cookie);
        let now = state.clock.now();
        // Ending the session also ends every grant made under it.
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

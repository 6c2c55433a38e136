//! `POST /signup`: choose the server to sign up on. Reached from the handle
//! page's "Create an account" (its form, posted here) or from `/authorize`
//! with `prompt=create`. A chosen server's rules are fetched through the
//! seam: open servers get the form, closed ones an explanation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::messages::explain;
use super::{form, offered, offered_on};
use crate::app::AppState;
use crate::oidc::clients::Client;
use crate::oidc::pending::Pending;
use crate::upstream::{Registrations, SignupRules};
use crate::web::login::{cancelled, page_lang, resume};
use crate::web::pages;

/// A server that does not take sign-ups from here.
pub struct Closed {
    pub host: String,
    pub message: Option<String>,
    pub url: Option<String>,
}

#[derive(Template)]
#[template(path = "signup_server.html")]
struct ChoosePage<'a> {
    lang: &'a str,
    client_name: &'a str,
    request: &'a str,
    typed: &'a str,
    /// The configured servers, when sign-up is limited to them.
    servers: &'a [String],
    error: Option<&'a str>,
    closed: Option<&'a Closed>,
}

/// The chooser for a pending login.
pub fn page(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    typed: &str,
    error: Option<(StatusCode, &str, Option<&Closed>)>,
) -> HttpResponse {
    let sealed = pending.seal(&state.sealer);
    let servers = &state.config.upstream.signup_servers;
    let page = ChoosePage {
        lang: page_lang(pending),
        client_name: &client.name,
        request: &sealed,
        typed: if typed.is_empty() && servers.len() == 1 {
            &servers[0]
        } else {
            typed
        },
        servers,
        error: error.map(|e| e.1),
        closed: error.and_then(|e| e.2),
    };
    let mut res = crate::web::html(page.render());
    *res.status_mut() = error.map_or(StatusCode::OK, |e| e.0);
    res
}

/// The server part of a `login_hint` (a handle or a server name).
pub fn hinted_server(hint: Option<&str>) -> String {
    let hint = hint.unwrap_or_default().trim();
    let server = hint.rsplit('@').next().unwrap_or_default();
    if server.len() <= 253 && !server.contains(['/', ':', ' ']) {
        server.to_ascii_lowercase()
    } else {
        String::new()
    }
}

#[derive(Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    request: String,
    /// Absent when coming from the handle page.
    server: Option<String>,
    /// The handle page's field, when coming from there.
    handle: Option<String>,
    login: Option<String>,
    cancel: Option<String>,
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ChooseForm>,
) -> HttpResponse {
    let (pending, client) = match resume(&req, &state, &form.request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if !offered(&state, &client) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Sign-up is not available",
            &format!("{} does not offer creating an account here.", client.name),
            None,
        );
    }
    if form.cancel.is_some() {
        return cancelled(&state, &pending);
    }
    if form.login.is_some() {
        return crate::web::login::page(&state, &client, &pending, "", None, StatusCode::OK);
    }
    let Some(typed) = form.server.as_deref().map(str::trim) else {
        let typed = hinted_server(form.handle.as_deref());
        return page(&state, &client, &pending, &typed, None);
    };
    if typed.is_empty() {
        let msg =
            "Type the name of the server where your account should live, like example.social.";
        return page(
            &state,
            &client,
            &pending,
            "",
            Some((StatusCode::BAD_REQUEST, msg, None)),
        );
    }
    let rules = match state.upstream.signup_rules(typed).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "sign-up rules unavailable");
            let (status, msg) = explain(&e);
            return page(&state, &client, &pending, typed, Some((status, &msg, None)));
        }
    };
    show_rules(&state, &client, &pending, rules)
}

/// The form for an open server; the chooser, with the server's canonical
/// name and the reason, otherwise.
fn show_rules(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    rules: SignupRules,
) -> HttpResponse {
    let host = rules.server_host.clone();
    if let Some(refused) = refused_by_policy(state, client, pending, &host) {
        return refused;
    }
    match rules.registrations {
        Registrations::Open => {
            let view = form::View {
                typed: &form::Typed::default(),
                problems: &[],
                notice: None,
                status: StatusCode::OK,
            };
            form::page(state, client, pending, &rules, &view)
        }
        Registrations::Closed { message, url } => {
            let c = Closed { host, message, url };
            closed(state, client, pending, &c, false)
        }
        Registrations::Unsupported => {
            let c = Closed {
                host,
                message: None,
                url: rules.about_url,
            };
            closed(state, client, pending, &c, true)
        }
    }
}

/// The chooser saying that this client takes no accounts from `host`, if so.
pub fn refused_by_policy(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    host: &str,
) -> Option<HttpResponse> {
    if offered_on(state, client, host) {
        return None;
    }
    let msg = format!("{} does not accept accounts from {host}.", client.name);
    let error = Some((StatusCode::FORBIDDEN, msg.as_str(), None));
    Some(page(state, client, pending, host, error))
}

/// The chooser explaining that the server takes no sign-ups from here.
pub fn closed(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    c: &Closed,
    unsupported: bool,
) -> HttpResponse {
    let host = &c.host;
    let msg = if unsupported {
        format!(
            "{host} does not let apps create accounts. Create your account on its website, then log in."
        )
    } else {
        format!("{host} does not accept new accounts at the moment. Choose another server.")
    };
    let error = Some((StatusCode::FORBIDDEN, msg.as_str(), Some(c)));
    page(state, client, pending, host, error)
}

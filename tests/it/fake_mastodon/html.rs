//! The HTML pages: the combined sign-in and consent form (plain forms, no
//! JavaScript, so a test can drive it with an HTTP client) and the
//! pre-authorization error page, which Mastodon never redirects back.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::oauth::PreAuth;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: u16, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n{body}\n</body></html>\n",
            escape(title)
        ))
}

/// Sign-in fields plus Authorize / Deny buttons posting to `/oauth/authorize`.
/// `signed_in`: shown as "Signed in as @user@domain"; the credentials may
/// then be left blank to approve as that user.
pub fn authorize_form(
    pre: &PreAuth,
    signed_in: Option<&str>,
    local_domain: &str,
    error: Option<&str>,
) -> HttpResponse {
    let hidden: String = [
        ("client_id", &pre.client_id),
        ("redirect_uri", &pre.redirect_uri),
        ("response_type", &pre.response_type),
        ("scope", &pre.scopes.join(" ")),
        ("state", &pre.state),
        ("code_challenge", &pre.code_challenge),
        ("code_challenge_method", &pre.code_challenge_method),
    ]
    .iter()
    .map(|(k, v)| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">\n",
            escape(v)
        )
    })
    .collect();
    let error = error
        .map(|e| format!("<p class=\"flash-message alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let who = signed_in
        .map(|u| {
            format!(
                "<p class=\"signed-in\">Signed in as @{}@{}</p>\n",
                escape(u),
                escape(local_domain)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Authorization required</h1>\n{who}{error}<p><strong>{}</strong> would like permission to access your account: {}</p>\n\
<form method=\"post\" action=\"/oauth/authorize\">\n{hidden}\
<label>Username or e-mail <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
<button type=\"submit\" name=\"decision\" value=\"approve\">Authorize</button>\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>",
        escape(&pre.app_name),
        escape(&pre.scopes.join(" "))
    );
    page(200, "Authorization required", &body)
}

/// Doorkeeper's error page: shows the description, never redirects.
pub fn error_page(status: u16, error: &str, description: &str) -> HttpResponse {
    let body = format!(
        "<h1>An error has occurred</h1>\n<pre data-error=\"{}\">{}</pre>",
        escape(error),
        escape(description)
    );
    page(status, "An error has occurred", &body)
}

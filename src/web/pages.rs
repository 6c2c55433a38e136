//! Shared pages: the error page people see (never a bare status), the
//! OAuth form_post page, and the static script it uses.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    back_url: Option<&'a str>,
    back_label: &'a str,
}

/// A helpful page with a status; `back` offers a way on (label, URL).
pub fn error(
    status: StatusCode,
    title: &str,
    message: &str,
    back: Option<(&str, &str)>,
) -> HttpResponse {
    let page = ErrorPage {
        title,
        message,
        back_url: back.map(|b| b.1),
        back_label: back.map(|b| b.0).unwrap_or(""),
    };
    let mut res = super::html(page.render());
    *res.status_mut() = status;
    res
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    action: &'a str,
    fields: &'a [(&'a str, String)],
}

/// CSP for the form_post page: its one external script may run.
const FORM_POST_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; form-action https: http:; frame-ancestors 'none'; base-uri 'none'";

/// OAuth 2.0 Form Post Response Mode: the parameters as an auto-submitted form.
pub fn form_post(action: &str, fields: &[(&str, String)]) -> HttpResponse {
    let mut res = super::html(FormPost { action, fields }.render());
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(FORM_POST_CSP),
    );
    res
}

pub async fn form_post_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(include_str!("../../static/form_post.js"))
}

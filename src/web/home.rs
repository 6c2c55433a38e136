//! The home page: what the service is and its discovery URL; in development
//! it also offers the built-in demo relying party.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    title: &'a str,
    discovery: String,
    demo: bool,
}

pub async fn home(state: web::Data<AppState>) -> HttpResponse {
    let page = Home {
        title: &state.config.upstream.client_name,
        discovery: state.url(crate::oidc::discovery::paths::DISCOVERY),
        demo: state.config.is_development(),
    };
    super::html(page.render())
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(include_str!("../../static/site.css"))
}

//! The HTTP side: the actix server thread, the entry point that records
//! every request and applies the knobs, and the route table.

use std::net::TcpListener;

use actix_web::{HttpRequest, HttpResponse, web};

use super::model::State;
use super::request::Call;
use super::{Shared, absolute, accounts, apps, html, instance, oauth, reply, webfinger};

/// Runs the actix server for `state` on `listener` in its own thread and
/// actix System, so it works beside any tokio runtime.
pub(super) fn serve(listener: TcpListener, state: Shared) -> actix_web::dev::ServerHandle {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(web::Data::new(state.clone()))
                    .app_data(web::PayloadConfig::new(1 << 20))
                    .default_service(web::to(entry))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("fake mastodon listen")
            .run();
            let _ = tx.send(server.handle());
            let _ = server.await;
        });
    });
    rx.recv().expect("fake mastodon started")
}

async fn entry(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let mut call = Call::from_request(&req, &body);
    let delay = {
        let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
        st.next_seq += 1;
        call.seq = st.next_seq;
        st.calls.push(call.clone());
        st.delay
    };
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
    let response = route(&mut st, &call);
    if let Some(c) = st.calls.iter_mut().rev().find(|c| c.seq == call.seq) {
        c.status = Some(response.status().as_u16());
    }
    response
}

fn route(st: &mut State, call: &Call) -> HttpResponse {
    if st.down {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/html; charset=utf-8")
            .body("<html><body><h1>503 Service Unavailable</h1></body></html>");
    }
    let key = (call.method.clone(), call.path.clone());
    if let Some(f) = st.forced.get_mut(&key) {
        let r = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(f.status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type(f.content_type.clone())
        .body(f.body.clone());
        if let Some(n) = f.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.forced.remove(&key);
            }
        }
        return r;
    }
    let html_pages = call.path.starts_with("/auth/") || call.path == "/oauth/authorize";
    if st.html_garbage && !html_pages {
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>");
    }
    let c = &st.config;
    if c.webfinger_echo.as_deref() == Some(call.host().as_str())
        && call.path == "/.well-known/webfinger"
    {
        return webfinger::echo(st, call);
    }
    // A LOCAL_DOMAIN web server 301s WebFinger to WEB_DOMAIN.
    if c.local_domain != c.web_domain
        && call.host() == c.local_domain
        && call.path == "/.well-known/webfinger"
    {
        if let Some(user) = &c.webfinger_catch_all {
            return webfinger::catch_all(st, call, user);
        }
        let q = serde_urlencoded::to_string(&call.query).unwrap_or_default();
        return reply::redirect(301, &absolute(c, &format!("/.well-known/webfinger?{q}")));
    }
    match (call.method.as_str(), call.path.as_str()) {
        ("POST", "/api/v1/apps") => apps::create(st, call),
        ("GET", "/api/v1/apps/verify_credentials") => apps::verify_credentials(st, call),
        ("GET", "/oauth/authorize") => oauth::authorize_get(st, call),
        ("POST" | "DELETE", "/oauth/authorize") => oauth::authorize_post(st, call),
        ("POST", "/oauth/token") => oauth::token(st, call),
        ("POST", "/oauth/revoke") => oauth::revoke(st, call),
        ("GET" | "POST", "/oauth/userinfo") => oauth::userinfo(st, call),
        ("GET", "/.well-known/oauth-authorization-server") => oauth::metadata(st),
        ("GET", "/api/v1/accounts/verify_credentials") => accounts::verify_credentials(st, call),
        ("POST", "/api/v1/accounts") => accounts::sign_up(st, call),
        ("POST", "/api/v1/emails/confirmations") => accounts::resend_confirmation(st, call),
        ("GET", "/api/v1/emails/check_confirmation") => accounts::check_confirmation(st, call),
        ("GET", "/auth/confirmation") => accounts::confirm_link(st, call),
        ("GET", "/api/v1/instance") => instance::v1(&st.config),
        ("GET", "/api/v2/instance") => instance::v2(&st.config),
        ("GET", "/api/v1/instance/rules") => instance::rules_list(&st.config),
        ("GET", "/.well-known/webfinger") => webfinger::webfinger(st, call),
        ("GET", "/.well-known/host-meta") => webfinger::host_meta(st, call),
        ("GET", "/.well-known/nodeinfo") => instance::nodeinfo_links(&st.config),
        ("GET", "/nodeinfo/2.0") => instance::nodeinfo(&st.config),
        ("GET", p) if p.starts_with("/_fake/outbox/") => {
            accounts::outbox(st, &p["/_fake/outbox/".len()..])
        }
        _ if call.path.starts_with("/api/") => reply::not_found(),
        _ => html::error_page(
            404,
            "not_found",
            "The page you were looking for doesn't exist.",
        ),
    }
}

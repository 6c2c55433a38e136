//! `/healthz`: the process answers. `/readyz`: the database answers and
//! signing keys are loaded, so a load balancer may send traffic here.
//! `/metrics`: Prometheus metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::keys::Algorithm;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping())
        .await
        .unwrap_or(false);
    let keys = state.keys.signer(Algorithm::RS256).is_ok();
    let body = json!({
        "status": if database && keys { "ready" } else { "not ready" },
        "database": database,
        "keys": keys,
    });
    let mut res = if database && keys {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}

/// Prometheus text format. Restrict it at the proxy if it must not be public.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let body = state
        .metrics
        .render(state.store.pool_state(), state.config.database.pool_size);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

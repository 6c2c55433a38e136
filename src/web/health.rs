//! `/healthz`: the process answers. `/readyz`: the database answers and
//! signing keys are loaded, so a load balancer may send traffic here.

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

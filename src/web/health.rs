//! `/healthz`: the process answers. `/readyz`: the database answers and
//! every algorithm a client signs with has a key, so a load balancer may
//! send traffic here. `/metrics`: Prometheus metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::keys::Algorithm;
use crate::oidc::clients::Client;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // Reading the database clients also proves the database answers.
    let stored = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.store.run(crate::store::clients::list),
    )
    .await
    .ok()
    .and_then(Result::ok);
    let database = stored.is_some();
    let mut used: Vec<Algorithm> = state
        .clients
        .configured()
        .iter()
        .map(|c| c.settings.id_token_signed_response_alg)
        .collect();
    used.push(state.config.signing.algorithm);
    used.extend(
        stored
            .iter()
            .flatten()
            .filter_map(|row| Client::from_row(row).ok())
            .map(|c| c.settings.id_token_signed_response_alg),
    );
    let missing: Vec<&str> = Algorithm::ALL
        .into_iter()
        .filter(|a| used.contains(a) && state.keys.signer(*a).is_err())
        .map(Algorithm::as_str)
        .collect();
    let keys = missing.is_empty();
    let body = json!({
        "status": if database && keys { "ready" } else { "not ready" },
        "database": database,
        "keys": keys,
        "missing_keys": missing,
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

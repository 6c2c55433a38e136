//! Request middleware: a request id, one structured log line per request
//! (route pattern, never the query: it may hold codes), and the metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use crate::app::AppState;

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let id = crate::crypto::random_token(9);
    let method = req.method().as_str().to_string();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    // Every log line a handler writes carries the request id.
    let span = tracing::info_span!("request", id = %id);
    let mut res = next.call(req).instrument(span).await?;
    let endpoint = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    if let Some(m) = metrics {
        m.http_requests
            .with_label_values(&[&endpoint, &method, &status.to_string()])
            .inc();
        m.http_latency
            .with_label_values(&[&endpoint])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "http",
        request_id = %id,
        method = %method,
        endpoint = %endpoint,
        status,
        ms = elapsed.as_secs_f64() * 1000.0,
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

//! Applying the per-IP rate limits (`ratelimit.rs`) to a request, and the
//! two shapes of refusal: a page for people, JSON for relying parties. Both
//! are 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::ratelimit::Limiter;

/// Which limit, by name (metrics label and log field).
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Authorize,
    HandleForm,
    SignupForm,
    Token,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Authorize => "authorize",
            Limit::HandleForm => "handle_form",
            Limit::SignupForm => "signup_form",
            Limit::Token => "token",
        }
    }

    fn limiter(self, state: &AppState) -> &Limiter {
        let l = &state.limits;
        match self {
            Limit::Authorize => &l.authorize,
            Limit::HandleForm => &l.handle_form,
            Limit::SignupForm => &l.signup_form,
            Limit::Token => &l.token,
        }
    }
}

/// Ok, or the seconds the client must wait. Counted in the metrics.
pub fn check(state: &AppState, req: &HttpRequest, limit: Limit) -> Result<(), u64> {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let Some(ip) = state
        .limits
        .client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
    else {
        return Ok(());
    };
    let result = limit
        .limiter(state)
        .check(&ip.to_string(), state.clock.now_ms());
    if let Err(secs) = result {
        state
            .metrics
            .rate_limited
            .with_label_values(&[limit.name()])
            .inc();
        tracing::warn!(limit = limit.name(), %ip, retry_after = secs, "rate limited");
    }
    result
}

/// The page people see.
pub fn page(secs: u64) -> HttpResponse {
    let message = format!(
        "Too many attempts from your network. Please wait {} and try again.",
        wait_text(secs)
    );
    let mut res = super::pages::error(
        StatusCode::TOO_MANY_REQUESTS,
        "Slow down, please",
        &message,
        None,
    );
    super::retry_after(&mut res, secs);
    res
}

/// The JSON a relying party sees (RFC 6749 §5.2 shape).
pub fn json(secs: u64) -> HttpResponse {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": format!("too many requests; retry after {secs} s"),
    });
    let mut res = HttpResponse::TooManyRequests()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("application/json")
        .body(body.to_string());
    super::retry_after(&mut res, secs);
    res
}

fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait_text(1), "a second");
        assert_eq!(wait_text(30), "30 seconds");
        assert_eq!(wait_text(600), "10 minutes");
    }
}

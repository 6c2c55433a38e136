//! Rack::Attack-style fixed-window throttles (spec §1.4): app registration
//! 5 / 10 min and sign-up 5 / 30 min. All callers are on loopback, so one IP.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};

#[derive(Debug, Clone)]
pub struct Throttle {
    /// `None` disables the throttle.
    pub limit: Option<usize>,
    pub period: i64,
    hits: Vec<i64>,
}

/// The window a request was counted in, for the X-RateLimit headers.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    limit: usize,
    remaining: usize,
    reset_at: i64,
}

impl Throttle {
    pub fn new(limit: Option<usize>, period: i64) -> Self {
        Throttle {
            limit,
            period,
            hits: Vec::new(),
        }
    }

    pub fn reset(&mut self) {
        self.hits.clear();
    }

    /// Counts a request; `Err` is the 429 to send.
    pub fn hit(&mut self, now: i64) -> Result<Option<Window>, HttpResponse> {
        let Some(limit) = self.limit else {
            return Ok(None);
        };
        let start = now - now.rem_euclid(self.period);
        self.hits.retain(|t| *t >= start);
        let reset_at = start + self.period;
        if self.hits.len() >= limit {
            return Err(throttled(limit, reset_at));
        }
        self.hits.push(now);
        Ok(Some(Window {
            limit,
            remaining: limit - self.hits.len(),
            reset_at,
        }))
    }
}

fn iso_micros(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// Adds the X-RateLimit headers successful throttled responses carry.
pub fn with_headers(mut r: HttpResponse, w: Option<Window>) -> HttpResponse {
    if let Some(w) = w {
        let h = r.headers_mut();
        for (k, v) in [
            ("x-ratelimit-limit", w.limit.to_string()),
            ("x-ratelimit-remaining", w.remaining.to_string()),
            ("x-ratelimit-reset", iso_micros(w.reset_at)),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(k), v);
            }
        }
    }
    r
}

/// 429 exactly as Rack::Attack's `throttled_responder` renders it.
fn throttled(limit: usize, reset_at: i64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .content_type("application/json")
        .insert_header(("X-RateLimit-Limit", limit.to_string()))
        .insert_header(("X-RateLimit-Remaining", "0"))
        .insert_header(("X-RateLimit-Reset", iso_micros(reset_at)))
        .body(r#"{"error":"Too many requests"}"#)
}

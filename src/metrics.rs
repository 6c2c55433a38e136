//! Prometheus metrics for `/metrics`. Label values are bounded: endpoints are
//! route patterns (never raw paths), login failures are reason codes, and
//! upstream servers are the hosts we actually talk to.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub logins: IntCounterVec,
    pub signups: IntCounterVec,
    pub upstream_calls: IntCounterVec,
    pub app_registrations: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub db_pool_idle: IntGauge,
    pub db_pool_in_use: IntGauge,
    pub db_pool_max: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new_custom(Some("mastodon_oidc".into()), None).expect("registry");
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Request latency by endpoint",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["endpoint"],
        )
        .expect("valid metric");
        r.register(Box::new(http_latency.clone()))
            .expect("unique metric");
        Self {
            http_requests: counter(
                &r,
                "http_requests_total",
                "Requests by endpoint, method and status",
                &["endpoint", "method", "status"],
            ),
            http_latency,
            logins: counter(
                &r,
                "logins_total",
                "Logins by event (started, completed, failed) and reason",
                &["event", "reason"],
            ),
            signups: counter(
                &r,
                "signups_total",
                "Sign-ups by event (created, completed, rejected, closed, rate_limited, failed, expired)",
                &["event"],
            ),
            upstream_calls: counter(
                &r,
                "upstream_calls_total",
                "Calls to Mastodon servers by server and outcome",
                &["server", "outcome"],
            ),
            app_registrations: counter(
                &r,
                "app_registrations_total",
                "App registrations on Mastodon servers by outcome",
                &["outcome"],
            ),
            rate_limited: counter(
                &r,
                "rate_limited_total",
                "Requests refused by a rate limit",
                &["limit"],
            ),
            db_pool_idle: gauge(&r, "db_pool_idle_connections", "Idle pooled connections"),
            db_pool_in_use: gauge(&r, "db_pool_in_use_connections", "Connections in use"),
            db_pool_max: gauge(&r, "db_pool_max_connections", "Pool size"),
            registry: r,
        }
    }

    pub fn login_started(&self) {
        self.logins.with_label_values(&["started", ""]).inc();
    }

    pub fn login_completed(&self) {
        self.logins.with_label_values(&["completed", ""]).inc();
    }

    pub fn login_failed(&self, reason: &str) {
        self.logins.with_label_values(&["failed", reason]).inc();
    }

    pub fn signup(&self, event: &str) {
        self.signups.with_label_values(&[event]).inc();
    }

    pub fn upstream_call(&self, server: &str, outcome: &str) {
        self.upstream_calls
            .with_label_values(&[server, outcome])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self, pool: r2d2::State, pool_max: u32) -> String {
        self.db_pool_idle.set(pool.idle_connections as i64);
        self.db_pool_in_use
            .set(pool.connections.saturating_sub(pool.idle_connections) as i64);
        self.db_pool_max.set(pool_max as i64);
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

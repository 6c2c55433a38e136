//! The ONE outbound HTTP client. Every request to a Mastodon server goes
//! through [`Outbound`]: https only (port 443), special-purpose addresses
//! refused after DNS resolution with the checked address pinned
//! (`resolve.rs`), IP literals and local-only names refused before the
//! request and on every redirect hop (`addr.rs`), at most 2 redirects,
//! bodies capped (also after gzip decoding), connect and total timeouts, a
//! descriptive User-Agent, and per-host plus global concurrency limits.
//!
//! `upstream.allow_insecure` (tests and local development only) relaxes
//! exactly two things: plain http, and loopback addresses (127.0.0.0/8,
//! ::1) as literals or when resolved. It also enables the test-only
//! `upstream.host_overrides`, answered by the guarded resolver. Private,
//! link-local and metadata addresses stay refused in every mode.
//!
//! Always send with [`Outbound::execute`]: `RequestBuilder::send` would skip
//! the IP-literal check and the body cap (the resolver and the redirect
//! policy still apply, they are part of the client).

pub mod addr;
pub mod breaker;
pub mod resolve;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, header::HeaderMap};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::UpstreamConfig;
use addr::Policy;
use resolve::{Blocked, GuardedResolver, Lookup, SystemDns};

/// Redirect hops followed at most (Mastodon's own `follow(max_hops: 2)`).
pub const MAX_REDIRECTS: usize = 2;
/// Requests in flight across all hosts, so we are not a DoS amplifier.
pub const GLOBAL_CONCURRENCY: usize = 64;
/// Above this many tracked hosts, idle per-host semaphores are dropped.
const MAX_TRACKED_HOSTS: usize = 1024;

/// Why an outbound request did not produce a response. Never shown to people
/// as is; the upstream side maps it to `UpstreamError`.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL or the address it resolves to is not allowed (SSRF guard).
    #[error("refused: {0}")]
    Refused(String),
    /// The connect or the total timeout (`upstream.*_timeout_secs`) expired.
    #[error("timed out")]
    Timeout,
    /// No connection (refused, reset, DNS name not found, TLS failure).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The body exceeded `upstream.max_body_bytes` (before or after decompression).
    #[error("response body too large")]
    TooLarge,
    /// Anything else: bad redirect, malformed response, undecodable JSON.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The host failed repeatedly; no request is sent for this many seconds.
    #[error("circuit open for {0}s")]
    CircuitOpen(u64),
}

/// A complete response with its body read (and capped).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The final URL after redirects.
    pub url: Url,
}

impl Fetched {
    /// Decode the body as JSON; garbage or HTML becomes `HttpError::Protocol`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::Protocol(format!("invalid JSON from {}: {e}", self.url)))
    }

    /// `Retry-After` in seconds, when present and numeric.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// The redirect policy's error for a chain longer than [`MAX_REDIRECTS`].
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

/// The guarded client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
    max_body: usize,
    per_host: usize,
    total_timeout: Duration,
    limits: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    global: Arc<Semaphore>,
    breakers: Arc<breaker::Breakers>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The User-Agent sent when `upstream.user_agent` is not set.
pub fn default_user_agent() -> String {
    format!(
        "mastodon-oidc/{} (+https://github.com/mastodon-oidc)",
        env!("CARGO_PKG_VERSION")
    )
}

impl Outbound {
    /// Build the guarded client. Fails on a malformed `host_overrides` entry.
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, HttpError> {
        Self::with_dns(cfg, Arc::new(SystemDns))
    }

    /// The same client with names looked up by `dns` (tests: no real DNS).
    pub fn with_dns(cfg: &UpstreamConfig, dns: Arc<dyn Lookup>) -> Result<Self, HttpError> {
        let policy = Arc::new(Policy {
            insecure: cfg.allow_insecure,
            overrides: parse_overrides(cfg)?,
        });
        let ua = cfg.user_agent.clone().unwrap_or_else(default_user_agent);
        let total_timeout = Duration::from_secs(cfg.request_timeout_secs);
        let hops = policy.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds every URL requested so far, the original included.
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(TooManyRedirects);
            }
            match hops.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => {
                    let why = format!("redirect to {}: {why}", attempt.url());
                    attempt.error(Blocked(why))
                }
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(ua)
            // With a proxy, the proxy would resolve the name, not our resolver.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone(), dns)))
            .https_only(!cfg.allow_insecure)
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .timeout(total_timeout)
            .redirect(redirect)
            .referer(false)
            // Decoded bodies go through the same cap in `fetch`.
            .gzip(true)
            .build()
            .map_err(|e| HttpError::Protocol(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            client,
            policy,
            max_body: cfg.max_body_bytes,
            per_host: cfg.per_server_concurrency.max(1),
            total_timeout,
            limits: Arc::default(),
            global: Arc::new(Semaphore::new(GLOBAL_CONCURRENCY)),
            breakers: Arc::new(breaker::Breakers::new(
                cfg.breaker_failures,
                Duration::from_secs(cfg.breaker_open_secs),
            )),
            metrics: None,
        })
    }

    /// Count every call in `upstream_calls_total{server, outcome}`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// `https://{host}/` (plain `http` only with `allow_insecure`). `host` is
    /// an already normalised host name (with a port only in insecure mode).
    /// Refused when the result would not pass [`Outbound::check_url`].
    pub fn base_url(&self, host: &str) -> Result<Url, HttpError> {
        let scheme = if self.policy.insecure {
            "http"
        } else {
            "https"
        };
        let url = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| HttpError::Refused(format!("bad host {host:?}: {e}")))?;
        // A "host" smuggling a path, query or fragment is not a host.
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(HttpError::Refused(format!("bad host {host:?}")));
        }
        self.check_url(&url)?;
        Ok(url)
    }

    /// The pre-request URL check (scheme, userinfo, IP literals, port,
    /// local-only names), for callers that want to refuse input early.
    /// [`Outbound::execute`] and every redirect hop apply it anyway.
    pub fn check_url(&self, url: &Url) -> Result<(), HttpError> {
        self.policy.check_url(url).map_err(HttpError::Refused)
    }

    /// Start a request; send it with [`Outbound::execute`].
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Send a request built with [`Outbound::request`] and read its capped body.
    pub async fn execute(&self, rb: RequestBuilder) -> Result<Fetched, HttpError> {
        let req = rb.build().map_err(|e| HttpError::Protocol(e.to_string()))?;
        // hyper never asks the resolver about IP literals: check them here.
        self.check_url(req.url())?;
        let host = req
            .url()
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Err(secs) = self.breakers.admit(&host) {
            self.count(&host, "circuit_open");
            return Err(HttpError::CircuitOpen(secs));
        }
        let result = self.send(&host, req).await;
        let outcome = match &result {
            Ok(f) if f.status == 429 => "429",
            Ok(f) if f.status >= 500 => "5xx",
            Ok(f) if f.status >= 400 => "4xx",
            Ok(_) => "ok",
            Err(HttpError::Timeout) => "timeout",
            Err(HttpError::Connect(_)) => "connect",
            Err(HttpError::Refused(_)) => "refused",
            Err(_) => "protocol",
        };
        self.count(&host, outcome);
        // A server that answers, even with an error of ours, is up.
        let down = matches!(outcome, "5xx" | "timeout" | "connect" | "protocol");
        if self.breakers.record(&host, !down) {
            tracing::warn!(host, "server keeps failing; pausing requests to it");
        }
        result
    }

    fn count(&self, host: &str, outcome: &str) {
        if let Some(m) = &self.metrics {
            m.upstream_call(host, outcome);
        }
    }

    async fn send(&self, host: &str, req: reqwest::Request) -> Result<Fetched, HttpError> {
        // Waiting for a permit counts: a queue behind a slow server must not
        // stretch a request past its timeout. reqwest's own timeout (body
        // included) starts later, at the request.
        tokio::time::timeout(self.total_timeout, async {
            // Per host first, so a slow host's queue holds no global permits.
            // Both permits live until the body has been read.
            let _host = self
                .semaphore(host)
                .acquire_owned()
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let _global = self
                .global
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            self.fetch(req).await
        })
        .await
        .unwrap_or(Err(HttpError::Timeout))
    }

    async fn fetch(&self, req: reqwest::Request) -> Result<Fetched, HttpError> {
        let mut resp = self.client.execute(req).await.map_err(map_err)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        if resp
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(HttpError::TooLarge);
        }
        // `chunk` yields decoded bytes, so a gzip bomb stops at the cap too.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
            if chunk.len() > self.max_body - body.len() {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body: body.into(),
            url,
        })
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED_HOSTS && !map.contains_key(host) {
            // Attacker-chosen hosts must not grow the map forever; a
            // semaphore nobody holds a clone of is idle and can go.
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

/// `upstream.host_overrides` as socket addresses; ignored unless insecure
/// (config validation reports that combination).
fn parse_overrides(
    cfg: &UpstreamConfig,
) -> Result<std::collections::BTreeMap<String, SocketAddr>, HttpError> {
    if !cfg.allow_insecure {
        return Ok(Default::default());
    }
    cfg.host_overrides
        .iter()
        .map(|(host, addr)| {
            let parsed = addr.parse::<SocketAddr>().map_err(|_| {
                HttpError::Protocol(format!(
                    "upstream.host_overrides: {host} -> {addr:?} is not ip:port"
                ))
            })?;
            Ok((host.trim_end_matches('.').to_ascii_lowercase(), parsed))
        })
        .collect()
}

fn map_err(e: reqwest::Error) -> HttpError {
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return HttpError::Refused(b.0.clone());
        }
        if s.downcast_ref::<TooManyRedirects>().is_some() {
            return HttpError::Protocol(TooManyRedirects.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::Connect(e.to_string())
    } else {
        HttpError::Protocol(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_host_semaphores_are_dropped_past_the_limit() {
        let out = Outbound::new(&UpstreamConfig::default()).expect("client");
        let held = out.semaphore("busy.example");
        for i in 0..(MAX_TRACKED_HOSTS + 10) {
            drop(out.semaphore(&format!("h{i}.example")));
        }
        let map = out.limits.lock().expect("limits");
        assert!(map.len() <= MAX_TRACKED_HOSTS, "{}", map.len());
        // A semaphore still in use survives the clean-up.
        assert!(Arc::ptr_eq(&map["busy.example"], &held));
    }

    #[test]
    fn default_user_agent_names_project_and_version() {
        let ua = default_user_agent();
        assert!(ua.starts_with(&format!("mastodon-oidc/{}", env!("CARGO_PKG_VERSION"))));
    }
}

//! The ONE outbound HTTP client. Every request to a Mastodon server goes
//! through [`Outbound`]: https only, special-purpose addresses refused after
//! DNS resolution (and IP literals before the request), redirects re-checked,
//! bodies capped, timeouts, a descriptive User-Agent and a per-host
//! concurrency limit. `upstream.allow_insecure` (tests and local development
//! only) relaxes exactly two things: plain http and loopback addresses.
//!
//! SKELETON: the SSRF guard is being written; the API below is fixed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, header::HeaderMap};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::UpstreamConfig;

/// Why an outbound request did not produce a response. Never shown to people
/// as is; the upstream side maps it to `UpstreamError`.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL or the address it resolves to is not allowed (SSRF guard).
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The body exceeded `upstream.max_body_bytes` (before or after decompression).
    #[error("response body too large")]
    TooLarge,
    /// Anything else: bad redirect, malformed response, undecodable JSON.
    #[error("protocol error: {0}")]
    Protocol(String),
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

/// The guarded client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    insecure: bool,
    max_body: usize,
    per_host: usize,
    limits: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Outbound {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, HttpError> {
        let ua = cfg.user_agent.clone().unwrap_or_else(|| {
            format!(
                "mastodon-oidc/{} (+https://github.com/mastodon-oidc)",
                env!("CARGO_PKG_VERSION")
            )
        });
        let client = reqwest::Client::builder()
            .user_agent(ua)
            .no_proxy()
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .timeout(Duration::from_secs(cfg.request_timeout_secs))
            .redirect(reqwest::redirect::Policy::limited(2))
            .build()
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        Ok(Self {
            client,
            insecure: cfg.allow_insecure,
            max_body: cfg.max_body_bytes,
            per_host: cfg.per_server_concurrency,
            limits: Arc::default(),
        })
    }

    /// `https://{host}/` (plain `http` only with `allow_insecure`). `host` is
    /// an already normalised host name (with a port only in insecure mode).
    pub fn base_url(&self, host: &str) -> Result<Url, HttpError> {
        let scheme = if self.insecure { "http" } else { "https" };
        Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| HttpError::Refused(format!("bad host {host:?}: {e}")))
    }

    /// Start a request; send it with [`Outbound::execute`].
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Send a request built with [`Outbound::request`] and read its capped body.
    pub async fn execute(&self, rb: RequestBuilder) -> Result<Fetched, HttpError> {
        let req = rb.build().map_err(|e| HttpError::Protocol(e.to_string()))?;
        let host = req.url().host_str().unwrap_or_default().to_string();
        let permit = self.semaphore(&host).acquire_owned().await;
        let mut resp = self.client.execute(req).await.map_err(map_err)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        drop(permit);
        Ok(Fetched {
            status,
            headers,
            body: body.into(),
            url,
        })
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

fn map_err(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::Connect(e.to_string())
    } else {
        HttpError::Protocol(e.to_string())
    }
}

//! Settings for talking to Mastodon servers (owned by the upstream side).

use std::collections::BTreeMap;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name of the app registered on each Mastodon server (shown on its consent page).
    pub client_name: String,
    /// Website of the app registered on each server.
    pub website: Option<String>,
    /// Allow plain http and loopback upstream addresses (127.0.0.0/8, ::1);
    /// private, link-local and metadata addresses stay refused. Tests and local
    /// development against a fake server only; refused in production mode.
    pub allow_insecure: bool,
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    /// The whole upstream leg of a login (starting it, or finishing it at
    /// the callback) gives up after this long, however many requests,
    /// queues and first-contact waits it involves.
    pub login_deadline_secs: u64,
    pub max_body_bytes: usize,
    /// Concurrent requests to one server at most.
    pub per_server_concurrency: usize,
    /// Consecutive failures (timeouts, refused connections, 5xx) after which
    /// requests to a server stop for `breaker_open_secs`; 0 disables.
    pub breaker_failures: u32,
    pub breaker_open_secs: u64,
    /// How long a server's learned capabilities are trusted.
    pub capabilities_ttl_secs: i64,
    /// Keep the upstream access token instead of revoking it after login,
    /// sealed in the account's row (`accounts.upstream_token`).
    pub keep_upstream_tokens: bool,
    /// Revoke the upstream token this long after the login (0: at once);
    /// see `mastodon::oauth::release_token` for why not at once.
    pub revoke_delay_secs: u64,
    pub user_agent: Option<String>,
    /// Offer account creation on servers with open registrations (prompt=create).
    pub signup_enabled: bool,
    /// Offer sign-up only on these servers (API host names); empty: any server.
    pub signup_servers: Vec<String>,
    /// Test-only host → "ip:port" map, honoured only with `allow_insecure`.
    pub host_overrides: BTreeMap<String, String>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            client_name: "mastodon-oidc".into(),
            website: None,
            allow_insecure: false,
            connect_timeout_secs: 5,
            request_timeout_secs: 10,
            login_deadline_secs: 20,
            max_body_bytes: 1 << 20,
            per_server_concurrency: 4,
            breaker_failures: 5,
            breaker_open_secs: 30,
            capabilities_ttl_secs: 86_400,
            keep_upstream_tokens: false,
            revoke_delay_secs: 30,
            user_agent: None,
            signup_enabled: true,
            signup_servers: Vec::new(),
            host_overrides: BTreeMap::new(),
        }
    }
}

impl UpstreamConfig {
    pub fn validate(&self, production: bool, problems: &mut Vec<String>) {
        if self.client_name.trim().is_empty() || self.client_name.chars().count() > 60 {
            problems
                .push("upstream.client_name must be 1 to 60 characters (Mastodon's limit)".into());
        }
        if let Some(w) = &self.website {
            match url::Url::parse(w) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => problems.push(format!("upstream.website is not an http(s) URL: {w}")),
            }
        }
        if production && self.allow_insecure {
            problems.push("upstream.allow_insecure is for development and tests only; it is refused in production mode".into());
        }
        if !self.allow_insecure && !self.host_overrides.is_empty() {
            problems
                .push("upstream.host_overrides needs upstream.allow_insecure (tests only)".into());
        }
        if self.connect_timeout_secs == 0
            || self.request_timeout_secs == 0
            || self.login_deadline_secs == 0
        {
            problems.push("upstream timeouts must be at least 1 second".into());
        }
        if self.max_body_bytes < 4096 {
            problems.push("upstream.max_body_bytes must be at least 4096".into());
        }
        for host in &self.signup_servers {
            let plain = !host.is_empty()
                && host == &host.to_ascii_lowercase()
                && !host.contains(['/', ':', '@', ' ']);
            if !plain {
                problems.push(format!(
                    "upstream.signup_servers: {host:?} must be a lower-case host name, like mastodon.example"
                ));
            }
        }
        if self.per_server_concurrency == 0 {
            problems.push("upstream.per_server_concurrency must be at least 1".into());
        }
    }
}

impl UpstreamConfig {
    /// Whether sign-up may be offered on `host` (any client's own policy aside).
    pub fn signup_allowed(&self, host: &str) -> bool {
        self.signup_enabled
            && (self.signup_servers.is_empty() || self.signup_servers.iter().any(|s| s == host))
    }
}

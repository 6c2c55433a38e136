//! Abuse limits: per client IP on the pages and endpoints people and clients
//! hit, and per upstream server on first contact. 0 disables a limit.

use crate::ratelimit::Limit;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// `/authorize` requests per client IP.
    pub authorize: Limit,
    /// Handle-form submissions per client IP.
    pub handle_form: Limit,
    /// Sign-up form submissions per client IP.
    pub signup_form: Limit,
    /// `/token` requests per client IP.
    pub token: Limit,
    /// First contacts (discovery + app registration) per upstream server.
    pub first_contact_per_server: Limit,
    /// Take the client IP from the last `X-Forwarded-For` hop added by these
    /// proxies (exact addresses). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            authorize: Limit::new(120, 30),
            handle_form: Limit::new(30, 10),
            signup_form: Limit::new(6, 3),
            token: Limit::new(600, 100),
            first_contact_per_server: Limit::new(6, 3),
            trusted_proxies: vec![],
        }
    }
}

impl LimitsConfig {
    /// Every limit off (0), proxies as configured.
    pub fn unlimited() -> Self {
        let off = Limit::new(0, 0);
        Self {
            authorize: off,
            handle_form: off,
            signup_form: off,
            token: off,
            first_contact_per_server: off,
            trusted_proxies: vec![],
        }
    }
}

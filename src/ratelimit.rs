//! Rate limits per client IP (and per upstream server), GCRA in memory.
//!
//! Per replica by design: keeping the counters in PostgreSQL would cost a
//! durable write per request, more than the requests they protect. With N
//! replicas behind a load balancer, a client gets at most N times the limit;
//! set the limits for one replica accordingly (see docs/replicas.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::LimitsConfig;

/// A limit: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Limit {
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }
}

/// GCRA state per key: the theoretical arrival time, in milliseconds.
#[derive(Debug)]
pub struct Limiter {
    limit: Limit,
    tat: Mutex<HashMap<String, i64>>,
}

impl Limiter {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            tat: Mutex::new(HashMap::new()),
        }
    }

    fn interval_ms(&self) -> i64 {
        60_000 / i64::from(self.limit.per_minute.max(1))
    }

    /// Ok, or the number of seconds to wait (for `Retry-After`).
    pub fn check(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        if self.limit.per_minute == 0 {
            return Ok(());
        }
        let interval = self.interval_ms();
        let tolerance = interval * i64::from(self.limit.burst.max(1).saturating_sub(1));
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        // Bound memory: forget keys whose bucket is full again.
        if map.len() > 100_000 {
            map.retain(|_, t| *t > now_ms);
        }
        let tat = map.get(key).copied().unwrap_or(now_ms).max(now_ms);
        let allow_at = tat - tolerance;
        if now_ms < allow_at {
            let wait_ms = allow_at - now_ms;
            return Err(((wait_ms + 999) / 1000).max(1) as u64);
        }
        map.insert(key.to_string(), tat + interval);
        Ok(())
    }
}

/// The limiters of one replica, one per protected endpoint.
#[derive(Debug)]
pub struct Limits {
    pub authorize: Limiter,
    pub handle_form: Limiter,
    pub signup_form: Limiter,
    pub token: Limiter,
    /// First contact and app registration, keyed by upstream server.
    pub first_contact: Limiter,
    trusted_proxies: Vec<IpAddr>,
}

impl Limits {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            authorize: Limiter::new(cfg.authorize),
            handle_form: Limiter::new(cfg.handle_form),
            signup_form: Limiter::new(cfg.signup_form),
            token: Limiter::new(cfg.token),
            first_contact: Limiter::new(cfg.first_contact_per_server),
            trusted_proxies: cfg.trusted_proxies.clone(),
        }
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` entry that is not one (the
    /// entries left of it are the client's own claims, and forgeable).
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let hops = forwarded_for.unwrap_or("").split(',').rev();
        for hop in hops {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if self.trusted_proxies.contains(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => break,
            }
        }
        Some(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_the_wait() {
        let l = Limiter::new(Limit::new(60, 3));
        for _ in 0..3 {
            assert!(l.check("1.2.3.4", 0).is_ok());
        }
        assert_eq!(l.check("1.2.3.4", 0), Err(1));
        assert!(l.check("5.6.7.8", 0).is_ok(), "keys are independent");
        assert!(
            l.check("1.2.3.4", 1000).is_ok(),
            "refilled after one interval"
        );
        assert!(l.check("1.2.3.4", 1000).is_err());
    }

    #[test]
    fn long_waits_are_rounded_up_to_seconds() {
        let l = Limiter::new(Limit::new(1, 1));
        assert!(l.check("k", 0).is_ok());
        assert_eq!(l.check("k", 0), Err(60));
        assert_eq!(l.check("k", 59_500), Err(1));
        assert!(l.check("k", 60_000).is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let cfg = LimitsConfig {
            trusted_proxies: vec![proxy],
            ..Default::default()
        };
        let l = Limits::new(&cfg);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        // Direct: the header is ignored.
        assert_eq!(l.client_ip(Some(other), Some("203.0.113.7")), Some(other));
        // Through the proxy: the right-most untrusted hop, not a forged left one.
        assert_eq!(
            l.client_ip(Some(proxy), Some("1.1.1.1, 203.0.113.7, 10.0.0.1")),
            Some(client)
        );
        assert_eq!(l.client_ip(Some(proxy), None), Some(proxy));
        assert_eq!(l.client_ip(Some(proxy), Some("garbage")), Some(proxy));
    }

    #[test]
    fn zero_means_unlimited() {
        let l = Limiter::new(Limit::new(0, 0));
        for _ in 0..1000 {
            assert!(l.check("k", 0).is_ok());
        }
    }
}

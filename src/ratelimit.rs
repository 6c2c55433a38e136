//! Rate limits per client IP (and per upstream server), GCRA in memory.
//!
//! Per replica by design: keeping the counters in PostgreSQL would cost a
//! durable write per request, more than the requests they protect. With N
//! replicas behind a load balancer, a client gets at most N times the limit;
//! set the limits for one replica accordingly (see docs/replicas.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

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

/// The client's address: the TCP peer, or the last `X-Forwarded-For` hop
/// when the peer is a trusted proxy (the hop it added; earlier ones are the
/// client's own claims).
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    forwarded
        .and_then(|f| f.rsplit(',').next())
        .and_then(|hop| hop.trim().parse().ok())
        .or(Some(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_trusts_forwarded_only_from_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let header = Some("198.51.100.1, 203.0.113.7");
        assert_eq!(client_ip(Some(proxy), header, &[proxy]), Some(client));
        assert_eq!(
            client_ip(Some(client), header, &[proxy]),
            Some(client),
            "an untrusted peer cannot claim another address"
        );
        assert_eq!(client_ip(Some(proxy), Some("junk"), &[proxy]), Some(proxy));
        assert_eq!(client_ip(Some(proxy), None, &[proxy]), Some(proxy));
        assert_eq!(client_ip(None, header, &[proxy]), None);
    }

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
    fn zero_means_unlimited() {
        let l = Limiter::new(Limit::new(0, 0));
        for _ in 0..1000 {
            assert!(l.check("k", 0).is_ok());
        }
    }
}

//! A circuit breaker per upstream host, so a dead or hanging server costs
//! the people logging in to it one timeout each at most a few times, then
//! fails fast, and never ties up connections or permits meant for healthy
//! servers. Closed → `threshold` consecutive failures → open for
//! `open_for` → one probe (half-open): a success closes it, a failure opens
//! it again. Monotonic time: this is about the network, not about tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked hosts, closed circuits without failures are dropped.
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Default)]
struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
    /// A half-open probe is in flight.
    probing: bool,
}

#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    open_for: Duration,
    map: Mutex<HashMap<String, Circuit>>,
}

impl Breakers {
    /// `threshold` 0 disables the breaker.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// May a request to `host` go out now? `Err` carries the seconds until
    /// the next probe.
    pub fn admit(&self, host: &str) -> Result<(), u64> {
        if self.threshold == 0 {
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(c) = map.get_mut(host) else {
            return Ok(());
        };
        match c.open_until {
            None => Ok(()),
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Err((until - now).as_secs().max(1))
                } else if c.probing {
                    // One probe at a time; the others wait for its verdict.
                    Err(1)
                } else {
                    c.probing = true;
                    Ok(())
                }
            }
        }
    }

    /// Record the outcome of an admitted request. Returns true when this
    /// failure opened the circuit (for the log).
    pub fn record(&self, host: &str, ok: bool) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            map.remove(host);
            return false;
        }
        if map.len() >= MAX_TRACKED && !map.contains_key(host) {
            map.retain(|_, c| c.open_until.is_some() || c.failures > 1);
        }
        let c = map.entry(host.to_string()).or_default();
        c.failures += 1;
        let was_probe = std::mem::take(&mut c.probing);
        if was_probe || c.failures >= self.threshold {
            let opened = c.open_until.is_none() || was_probe;
            c.open_until = Some(Instant::now() + self.open_for);
            return opened;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once() {
        let b = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            assert!(b.admit("dead.example").is_ok());
            assert!(!b.record("dead.example", false));
        }
        assert!(b.admit("dead.example").is_ok());
        assert!(b.record("dead.example", false), "third failure opens");
        assert!(b.admit("dead.example").is_err());
        assert!(b.admit("alive.example").is_ok(), "other hosts unaffected");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit("dead.example").is_ok(), "one probe");
        assert!(b.admit("dead.example").is_err(), "only one");
        assert!(b.record("dead.example", false), "failed probe reopens");
        assert!(b.admit("dead.example").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit("dead.example").is_ok());
        b.record("dead.example", true);
        assert!(b.admit("dead.example").is_ok(), "closed again");
        assert!(b.admit("dead.example").is_ok());
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breakers::new(2, Duration::from_secs(60));
        b.record("h", false);
        b.record("h", true);
        b.record("h", false);
        assert!(b.admit("h").is_ok());
    }

    #[test]
    fn zero_disables() {
        let b = Breakers::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            b.record("h", false);
        }
        assert!(b.admit("h").is_ok());
    }
}

//! The guarded DNS resolver installed with `ClientBuilder::dns_resolver`.
//! It resolves, drops every address [`ip_allowed`] refuses and fails when
//! none is left. hyper connects only to what it returns, so the checked
//! address is the one used (no DNS-rebinding window). Test host overrides
//! live here too, so they pass the same filter. The lookup itself is the
//! system resolver, or a stub ([`Lookup`]) so tests never query real DNS.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::addr::{Policy, ip_allowed};

/// Why the guard refused: found in a `reqwest::Error`'s source chain and
/// mapped to `HttpError::Refused`.
#[derive(Debug, thiserror::Error)]
#[error("ssrf guard: {0}")]
pub struct Blocked(pub String);

/// A failed lookup: refused by the guard, or the name did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Blocked(#[from] Blocked),
    #[error("cannot resolve {0}: {1}")]
    Dns(String, std::io::Error),
}

/// A name's addresses, before the filter.
pub type Found = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// Where names are looked up. Whatever it answers still goes through the
/// address filter, so a stub cannot open a way around it.
pub trait Lookup: Send + Sync {
    fn lookup(&self, name: &str) -> Found;
}

/// The system resolver (`tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemDns;

impl Lookup for SystemDns {
    fn lookup(&self, name: &str) -> Found {
        let name = name.to_string();
        Box::pin(async move { Ok(tokio::net::lookup_host((name, 0)).await?.collect()) })
    }
}

/// Resolves through `dns` and keeps only allowed addresses.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
    dns: Arc<dyn Lookup>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<Policy>, dns: Arc<dyn Lookup>) -> Self {
        Self { policy, dns }
    }

    /// Resolve `name` to the addresses the client may connect to. A port of
    /// 0 means "the scheme's default"; an override's port is kept by hyper
    /// when the URL has no explicit port.
    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, LookupError> {
        let allow_loopback = self.policy.insecure;
        let found: Vec<SocketAddr> = match self.policy.override_for(name) {
            Some(addr) => vec![addr],
            None => self
                .dns
                .lookup(name)
                .await
                .map_err(|e| LookupError::Dns(name.to_string(), e))?,
        };
        let kept: Vec<SocketAddr> = found
            .iter()
            .copied()
            .filter(|a| ip_allowed(a.ip(), allow_loopback))
            .collect();
        if kept.is_empty() {
            let ips: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
            return Err(Blocked(format!(
                "{name} resolves only to blocked addresses [{}]",
                ips.join(", ")
            ))
            .into());
        }
        Ok(kept)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            match this.lookup(&name).await {
                Ok(addrs) => {
                    let addrs: Addrs = Box::new(addrs.into_iter());
                    Ok(addrs)
                }
                // Boxed unwrapped, so `Blocked` can be found by downcasting.
                Err(LookupError::Blocked(b)) => Err(b.into()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

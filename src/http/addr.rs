//! The SSRF address and URL filter: which IP addresses and which URLs the
//! outbound client may contact. Pure classification, no I/O; the resolver
//! (`resolve.rs`) and the client (`mod.rs`) apply it.
//!
//! The denylist follows the IANA IPv4 and IPv6 special-purpose address
//! registries (checklist 2c), not a hand-picked list: a hand-picked list is
//! how Fedify's CVE-2026-50131 happened. IPv4 embedded in IPv6 (IPv4-mapped,
//! NAT64, 6to4) is judged by the IPv4 rules.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// IPv4 special-purpose blocks: (network, prefix length).
const V4_BLOCKED: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10/8 private
    (0x6440_0000, 10), // 100.64/10 CGNAT
    (0x7f00_0000, 8),  // 127/8 loopback
    (0xa9fe_0000, 16), // 169.254/16 link-local, incl. 169.254.169.254 metadata
    (0xac10_0000, 12), // 172.16/12 private
    (0xc000_0000, 24), // 192.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2/24 TEST-NET-1
    (0xc058_6300, 24), // 192.88.99/24 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168/16 private
    (0xc612_0000, 15), // 198.18/15 benchmarking
    (0xc633_6400, 24), // 198.51.100/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113/24 TEST-NET-3
    (0xe000_0000, 4),  // 224/4 multicast
    (0xf000_0000, 4),  // 240/4 reserved, incl. 255.255.255.255 broadcast
];

/// IPv6 special-purpose blocks that are refused whole: (network, prefix length).
/// The prefixes with an embedded IPv4 address are handled in [`ip_allowed`].
const V6_BLOCKED: &[(u128, u8)] = &[
    (0, 96),                                         // ::/96: ::, ::1, deprecated IPv4-compatible
    (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96), // ::ffff:0:0:0/96 IPv4-translated (SIIT)
    (0x0064_ff9b_0001 << 80, 48),                    // 64:ff9b:1::/48 local-use NAT64
    (0x0100 << 112, 64),                             // 100::/64 discard-only
    (0x2001 << 112, 23), // 2001::/23 IETF, incl. Teredo 2001::/32, benchmarking
    (0x2001_0db8 << 96, 32), // 2001:db8::/32 documentation
    (0x3fff << 112, 20), // 3fff::/20 documentation (RFC 9637)
    (0x5f00 << 112, 16), // 5f00::/16 SRv6 SIDs (RFC 9602)
    (0xfc00 << 112, 7),  // fc00::/7 ULA, incl. AWS IMDS fd00:ec2::254
    (0xfe80 << 112, 10), // fe80::/10 link-local
    (0xfec0 << 112, 10), // fec0::/10 site-local (deprecated)
    (0xff00 << 112, 8),  // ff00::/8 multicast
];

/// Name suffixes that never point at a public Mastodon server.
const BLOCKED_SUFFIXES: &[&str] = &[
    "localhost",
    "local",
    "internal",
    "onion",
    "i2p",
    "localdomain",
    "home.arpa",
];

fn in_v4(ip: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    ip & mask == net & mask
}

fn in_v6(ip: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    ip & mask == net & mask
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if allow_loopback && ip.is_loopback() {
        return true;
    }
    let bits = u32::from(ip);
    !V4_BLOCKED.iter().any(|&(net, len)| in_v4(bits, net, len))
}

/// The IPv4 address embedded in an IPv4-mapped, NAT64 (64:ff9b::/96) or
/// 6to4 (2002::/16) address, which is where a packet actually ends up.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    if in_v6(bits, 0xffff << 32, 96) || in_v6(bits, 0x0064_ff9b << 96, 96) {
        // Truncation is the point: the low 32 bits are the IPv4 address.
        return Some(Ipv4Addr::from(bits as u32));
    }
    if in_v6(bits, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

/// Whether the outbound client may connect to `ip`. `allow_loopback`
/// (`upstream.allow_insecure`) admits 127.0.0.0/8 and ::1 and nothing else.
pub fn ip_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if allow_loopback && v6.is_loopback() {
                return true;
            }
            if let Some(v4) = embedded_v4(v6) {
                return v4_allowed(v4, allow_loopback);
            }
            let bits = u128::from(v6);
            !V6_BLOCKED.iter().any(|&(net, len)| in_v6(bits, net, len))
        }
    }
}

/// What the client may contact: shared by the resolver and the redirect policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `upstream.allow_insecure`: plain http and loopback.
    pub insecure: bool,
    /// Test-only name → address map (empty unless `insecure`).
    pub overrides: BTreeMap<String, SocketAddr>,
}

impl Policy {
    /// The override for `name` (insecure mode only), matched without a trailing dot.
    pub fn override_for(&self, name: &str) -> Option<SocketAddr> {
        if !self.insecure {
            return None;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.overrides.get(&name).copied()
    }

    /// Refuse a URL before any request or redirect: wrong scheme, userinfo,
    /// IP literals (hyper does not ask the resolver about them), non-443
    /// ports, single-label and local-only names. `Err` carries the reason.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        match url.scheme() {
            "https" => {}
            "http" if self.insecure => {}
            other => return Err(format!("scheme {other:?} not allowed")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("userinfo in URL".into());
        }
        match url.host() {
            None => Err("URL without host".into()),
            Some(Host::Ipv4(ip)) => self.check_literal(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_literal(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                if self.override_for(name).is_some() {
                    return Ok(());
                }
                check_name(name)?;
                if !self.insecure && url.port_or_known_default() != Some(443) {
                    return Err("only port 443 is allowed".into());
                }
                Ok(())
            }
        }
    }

    fn check_literal(&self, ip: IpAddr) -> Result<(), String> {
        // Secure mode refuses every literal: a Mastodon server has a name,
        // and the name is what its TLS certificate and our `sub` are bound to.
        if self.insecure && ip_is_loopback(ip) {
            Ok(())
        } else {
            Err(format!("IP literal {ip} not allowed"))
        }
    }
}

fn ip_is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// Host-name rules: at least two labels and no local-only suffix.
fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || !name.contains('.') {
        return Err(format!("single-label host {name:?} not allowed"));
    }
    if name.split('.').any(str::is_empty) {
        return Err(format!("empty label in host {name:?}"));
    }
    // A name the url crate left as a domain but that still parses as an IP
    // (it should not exist after WHATWG parsing) is refused all the same.
    if name.parse::<IpAddr>().is_ok() {
        return Err(format!("IP literal {name} not allowed"));
    }
    for suffix in BLOCKED_SUFFIXES {
        if name == *suffix || name.ends_with(&format!(".{suffix}")) {
            return Err(format!("local-only host {name:?} not allowed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! The PostgreSQL URL the pool connects with. libpq's default,
//! `sslmode=prefer`, negotiates TLS even to a loopback address, where it
//! protects nothing (only root reads loopback traffic, and `prefer` checks
//! no certificate anyway) and costs CPU on both ends of every round trip
//! (the service's share alone: 0.024 ms per code exchange in
//! `benches/login_load.rs`). So a URL to a loopback host that says nothing
//! about TLS gets `sslmode=disable`; what the operator states (any `ssl*`
//! parameter, `PGSSLMODE`, another host) is kept as it is.

use std::net::IpAddr;

pub(super) fn effective(url: &str) -> String {
    if std::env::var_os("PGSSLMODE").is_some() {
        return url.to_string();
    }
    loopback_default(url)
}

fn loopback_default(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    // Outside the special schemes the url crate leaves IPv4 hosts as text.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
        }
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    // `host`/`hostaddr` in the query override the URL's host.
    let stated = parsed
        .query_pairs()
        .any(|(k, _)| k.starts_with("ssl") || k == "requiressl" || k == "host" || k == "hostaddr");
    if !loopback || stated || parsed.fragment().is_some() {
        return url.to_string();
    }
    // Appended to the text as given, so nothing else in it is re-encoded.
    let sep = match parsed.query() {
        None => "?",
        Some("") => "",
        Some(_) => "&",
    };
    format!("{url}{sep}sslmode=disable")
}

#[cfg(test)]
mod tests {
    use super::loopback_default as url;

    #[test]
    fn a_loopback_host_without_tls_settings_skips_tls() {
        for (given, want) in [
            (
                "postgres://u:p@127.0.0.1/db",
                "postgres://u:p@127.0.0.1/db?sslmode=disable",
            ),
            (
                "postgresql://localhost:5433/db",
                "postgresql://localhost:5433/db?sslmode=disable",
            ),
            (
                "postgres://[::1]/db?application_name=x",
                "postgres://[::1]/db?application_name=x&sslmode=disable",
            ),
            (
                "postgres://127.0.0.2/db?",
                "postgres://127.0.0.2/db?sslmode=disable",
            ),
        ] {
            assert_eq!(url(given), want, "{given}");
        }
    }

    #[test]
    fn anything_the_operator_stated_is_kept() {
        for given in [
            "postgres://db.internal/db",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?sslmode=require",
            "postgres://localhost/db?sslrootcert=/ca.pem",
            "postgres://localhost/db?host=/var/run/postgresql",
            "postgres:///db?host=/var/run/postgresql",
            "host=127.0.0.1 dbname=db",
            "postgres://h1,h2/db",
        ] {
            assert_eq!(url(given), given);
        }
    }
}

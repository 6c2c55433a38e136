//! `healthcheck [--url URL]`: GET `/healthz` on the listen address; exit 0 on
//! 200, 1 on anything else (Docker reserves 2). For container HEALTHCHECKs:
//! the runtime image has no curl. Plain HTTP/1.1 over TCP, no TLS: it asks
//! this process on its own address, not the public URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(3);

pub fn main(config: Option<&Path>, url: Option<&str>) -> ExitCode {
    let url = match url {
        Some(u) => u.to_string(),
        None => match Config::load(config, std::env::vars()) {
            Ok(c) => url_for_listen(&c.listen),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match check(&url, TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("unhealthy: {url}: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `/healthz` on the listen address; a wildcard address is asked on loopback.
pub fn url_for_listen(listen: &str) -> String {
    let addr = match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() && a.is_ipv4() => format!("127.0.0.1:{}", a.port()),
        Ok(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        _ => listen.to_string(),
    };
    format!("http://{addr}/healthz")
}

/// One GET; Ok on status 200.
pub fn check(url: &str, timeout: Duration) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    if u.scheme() != "http" {
        return Err("only http:// (the local listen address) is supported".into());
    }
    let host = u.host_str().ok_or("no host")?;
    let port = u.port().unwrap_or(80);
    let addr = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("the host has no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let path = &u[url::Position::BeforePath..url::Position::AfterQuery];
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: mastodon-oidc-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut status = String::new();
    BufReader::new(stream.take(1024))
        .read_line(&mut status)
        .map_err(|e| e.to_string())?;
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("status {code}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_asked_on_loopback() {
        assert_eq!(
            url_for_listen("0.0.0.0:8080"),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(url_for_listen("[::]:9"), "http://[::1]:9/healthz");
        assert_eq!(
            url_for_listen("127.0.0.1:80"),
            "http://127.0.0.1:80/healthz"
        );
    }
}

//! What people type, turned into a handle or a server name. Pure functions:
//! no I/O, so every accepted and refused form is unit tested.

use std::net::IpAddr;

use crate::upstream::UpstreamError;

/// Longest input we look at (a handle is at most ~64 + 253 characters).
const MAX_INPUT: usize = 320;

/// A parsed login input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// The local part of a handle, when one was typed.
    pub user: Option<String>,
    /// Normalised host: lower case, punycode, no trailing dot.
    pub domain: String,
}

fn invalid(msg: &str) -> UpstreamError {
    UpstreamError::InvalidInput(msg.to_string())
}

/// Parse `@alice@example.social`, `alice@example.social`,
/// `https://example.social/@alice`, `example.social` or `https://example.social/`.
pub fn parse(typed: &str) -> Result<Typed, UpstreamError> {
    let text = typed.trim();
    if text.is_empty() {
        return Err(invalid(
            "Please enter your handle, like @alice@example.social.",
        ));
    }
    if text.chars().count() > MAX_INPUT {
        return Err(invalid("That is too long to be a handle or a server name."));
    }
    if text.chars().any(is_hidden) {
        return Err(invalid(
            "A handle cannot contain spaces or invisible characters.",
        ));
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return parse_url(text);
    }
    if text.contains(':') {
        return Err(invalid(
            "Enter a handle like @alice@example.social or a server name like example.social; addresses with a scheme or a port are not accepted.",
        ));
    }
    if text.contains('/') {
        return Err(invalid(
            "Enter a handle like @alice@example.social or just the server name, without a path.",
        ));
    }
    let rest = text.strip_prefix('@').unwrap_or(text);
    match rest.split_once('@') {
        None if text.starts_with('@') => Err(invalid(
            "A handle needs the server too, like @alice@example.social.",
        )),
        None => Ok(Typed {
            user: None,
            domain: normalize_host(rest)?,
        }),
        Some((user, domain)) => {
            if domain.contains('@') {
                return Err(invalid(
                    "A handle has exactly one @ between the name and the server, like @alice@example.social.",
                ));
            }
            Ok(Typed {
                user: Some(normalize_user(user)?),
                domain: normalize_host(domain)?,
            })
        }
    }
}

/// Controls, spaces and invisible format characters (zero width, bidi).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

fn parse_url(text: &str) -> Result<Typed, UpstreamError> {
    let url = url::Url::parse(text).map_err(|_| invalid("That web address is not valid."))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "A server address cannot contain a user name or password.",
        ));
    }
    if url.port().is_some() {
        return Err(invalid("A server address cannot contain a port."));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "Enter your profile address like https://example.social/@alice, without extra parts.",
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(_) => return Err(invalid("Enter the server's name, not an IP address.")),
        None => return Err(invalid("That web address has no server name.")),
    };
    let domain = normalize_host(&host)?;
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        return Ok(Typed { user: None, domain });
    }
    match path.strip_prefix("/@") {
        Some(user) if !user.contains('/') && !user.contains('@') => Ok(Typed {
            user: Some(normalize_user(user)?),
            domain,
        }),
        _ => Err(invalid(
            "That does not look like a profile address; use https://example.social/@alice or your handle.",
        )),
    }
}

/// Mastodon usernames: letters, digits, underscores (other servers add `.`, `-`).
fn normalize_user(user: &str) -> Result<String, UpstreamError> {
    if user.is_empty() {
        return Err(invalid(
            "The name before the server is missing, like alice in @alice@example.social.",
        ));
    }
    if user.len() > 64
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            "A user name may only contain letters, digits, dots, dashes and underscores.",
        ));
    }
    Ok(user.to_string())
}

/// Lower case, IDN to punycode, one trailing dot dropped; refuses IP
/// literals, single-label names, `localhost` and malformed labels.
pub fn normalize_host(host: &str) -> Result<String, UpstreamError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(invalid("The server name is missing."));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Err(invalid("Enter the server's name, not an IP address."));
    }
    let ascii = idna::domain_to_ascii(host)
        .map_err(|_| invalid("That server name contains characters that are not allowed."))?;
    if ascii.is_empty() || ascii.len() > 253 {
        return Err(invalid("That server name is not valid."));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ldh
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(invalid("That server name is not valid."));
        }
    }
    let tld = labels.last().copied().unwrap_or_default();
    if labels.len() < 2 || tld == "localhost" {
        return Err(invalid("Enter the full server name, like example.social."));
    }
    if is_ipv4_number(tld) {
        return Err(invalid("Enter the server's name, not an IP address."));
    }
    Ok(ascii)
}

/// WHATWG's "ends in a number": a URL parser reads such a host as IPv4
/// (`1.0x7f`, `a.0177`, `x.0x`). Octal is all digits; hex is `0x` and hex digits.
fn is_ipv4_number(label: &str) -> bool {
    match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (Option<String>, String) {
        let t = parse(s).unwrap_or_else(|e| panic!("{s:?} refused: {e}"));
        (t.user, t.domain)
    }

    fn refused(s: &str) -> String {
        match parse(s) {
            Err(UpstreamError::InvalidInput(m)) => m,
            other => panic!("{s:?} not refused: {other:?}"),
        }
    }

    #[test]
    fn accepts_every_form() {
        let alice = (Some("alice".to_string()), "example.social".to_string());
        let server = (None, "example.social".to_string());
        assert_eq!(ok("@alice@example.social"), alice);
        assert_eq!(ok("alice@example.social"), alice);
        assert_eq!(ok("https://example.social/@alice"), alice);
        assert_eq!(ok("https://example.social/@alice/"), alice);
        assert_eq!(ok("  @alice@Example.Social.  "), alice);
        assert_eq!(ok("example.social"), server);
        assert_eq!(ok("https://example.social/"), server);
        assert_eq!(ok("HTTPS://EXAMPLE.SOCIAL"), server);
        assert_eq!(ok("example.social."), server);
        assert_eq!(ok("social.test"), (None, "social.test".to_string()));
    }

    #[test]
    fn idn_becomes_punycode() {
        assert_eq!(ok("bücher.example").1, "xn--bcher-kva.example");
        assert_eq!(ok("@bob@BÜCHER.example").1, "xn--bcher-kva.example");
        assert_eq!(ok("https://bücher.example/@bob").1, "xn--bcher-kva.example");
    }

    #[test]
    fn refuses_hostile_inputs() {
        for s in [
            "",
            "   ",
            "alice @example.social",
            "alice@exa\u{0}mple.social",
            "alice@exam\nple.social",
            "alice@example.social\u{202e}",
            "al\u{200b}ice@example.social",
            "@@example.social",
            "a@b@c",
            "@alice",
            "alice@",
            "javascript:alert(1)",
            "https://user:pw@example.social/",
            "https://user@example.social/",
            "https://example.social:8443/",
            "example.social:443",
            "example.social/about",
            "https://example.social/about",
            "https://example.social/@alice?x=1",
            "https://127.0.0.1/",
            "127.0.0.1",
            "alice@127.0.0.1",
            "alice@[::1]",
            "https://[::1]/",
            "localhost",
            "alice@localhost",
            "foo.localhost",
            "intranet",
            "ex_ample.social",
            "-bad.example",
            "al/ice@example.social",
            "ftp://example.social",
        ] {
            let m = refused(s);
            assert!(m.ends_with('.'), "{s:?}: message should be a sentence: {m}");
        }
        let label = "a".repeat(300);
        refused(&format!("{label}.example"));
        refused(&format!("alice@{}.example", "b".repeat(64)));
        refused(&"x".repeat(400));
    }

    #[test]
    fn messages_are_specific() {
        assert!(refused("https://example.social:8443/").contains("port"));
        assert!(refused("127.0.0.1").contains("IP address"));
        for numeric in [
            "example.0x7f",
            "alice@example.0X7F",
            "a.0x",
            "a.0177",
            "1.2.3.08",
        ] {
            assert!(refused(numeric).contains("IP address"), "{numeric}");
        }
        // Hex-looking, but not a number: an ordinary label.
        assert_eq!(ok("example.0xg").1, "example.0xg");
        assert!(refused("a@b@c.example").contains("one @"));
        assert!(refused("https://u:p@example.social/").contains("password"));
    }
}

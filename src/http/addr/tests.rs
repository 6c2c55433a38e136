//! Classification only: these tests never connect.

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn secure() -> Policy {
    Policy::default()
}

fn insecure() -> Policy {
    Policy {
        insecure: true,
        overrides: [(
            "social.test".to_string(),
            "127.0.0.1:4000".parse().expect("addr"),
        )]
        .into_iter()
        .collect(),
    }
}

fn url_ok(p: &Policy, s: &str) -> bool {
    let url = Url::parse(s).expect("test URL");
    p.check_url(&url).is_ok()
}

#[test]
fn special_purpose_ipv4_is_blocked() {
    for s in [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.1.2.3",
        "169.254.169.254",
        "169.254.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.1",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
    ] {
        assert!(!ip_allowed(ip(s), false), "{s} must be blocked");
    }
}

#[test]
fn special_purpose_ipv6_is_blocked() {
    for s in [
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:0:a00:1",
        "100::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "2001:db8::1",
        "3fff::1",
        "5f00::1",
        "fc00::1",
        "fd00::1",
        "fd00:ec2::254",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "ff05::1:3",
        "64:ff9b:1::1",
    ] {
        assert!(!ip_allowed(ip(s), false), "{s} must be blocked");
    }
}

#[test]
fn embedded_ipv4_is_judged_as_ipv4() {
    for s in [
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::10.1.2.3",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2002:c0a8:101::",
    ] {
        assert!(!ip_allowed(ip(s), false), "{s} must be blocked");
    }
    for s in ["::ffff:1.1.1.1", "64:ff9b::1.1.1.1", "2002:101:101::1"] {
        assert!(ip_allowed(ip(s), false), "{s} embeds a public address");
    }
}

#[test]
fn public_addresses_are_allowed() {
    for s in [
        "1.1.1.1",
        "8.8.8.8",
        "9.9.9.9",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "198.17.255.255",
        "223.255.255.255",
        "2606:4700::1111",
        "2a00:1450:4001:80e::200e",
        "2001:4860:4860::8888",
    ] {
        assert!(ip_allowed(ip(s), false), "{s} must be allowed");
    }
}

#[test]
fn insecure_mode_admits_loopback_only() {
    for s in ["127.0.0.1", "127.9.9.9", "::1"] {
        assert!(ip_allowed(ip(s), true), "{s} allowed in insecure mode");
    }
    for s in [
        "10.0.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "fe80::1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
    ] {
        assert!(
            !ip_allowed(ip(s), true),
            "{s} stays blocked in insecure mode"
        );
    }
}

#[test]
fn ip_literals_in_every_form_are_refused() {
    for s in [
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://017700000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "https://[fd00:ec2::254]/",
        "https://169.254.169.254/",
        "https://0.0.0.0/",
        "https://[::]/",
        "https://1.1.1.1/",
        "https://[2606:4700::1111]/",
    ] {
        assert!(!url_ok(&secure(), s), "{s} must be refused");
    }
}

#[test]
fn insecure_mode_admits_loopback_literals_only() {
    let p = insecure();
    for s in [
        "http://127.0.0.1:8080/",
        "http://[::1]:8080/",
        "https://127.0.0.1/",
    ] {
        assert!(url_ok(&p, s), "{s} allowed in insecure mode");
    }
    for s in [
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://1.1.1.1/",
    ] {
        let allowed = url_ok(&p, s);
        // 2130706433 and 0x7f.1 are 127.0.0.1, which insecure mode admits.
        let loopback = s.contains("2130706433") || s.contains("0x7f.1");
        assert_eq!(allowed, loopback, "{s}");
    }
}

#[test]
fn local_only_names_are_refused() {
    for s in [
        "https://localhost/",
        "https://LOCALHOST./",
        "https://foo.localhost/",
        "https://printer.local/",
        "https://metadata.google.internal/",
        "https://abc.onion/",
        "https://abc.i2p/",
        "https://router.home.arpa/",
        "https://intranet/",
        "https://mastodon/",
    ] {
        assert!(!url_ok(&secure(), s), "{s} must be refused");
        assert!(!url_ok(&insecure(), s), "{s} refused in insecure mode too");
    }
}

#[test]
fn scheme_userinfo_and_port_rules() {
    let p = secure();
    assert!(url_ok(&p, "https://mastodon.social/api/v1/instance"));
    assert!(url_ok(&p, "https://mastodon.social:443/"));
    assert!(url_ok(&p, "https://mastodon.social./"));
    assert!(!url_ok(&p, "http://mastodon.social/"));
    assert!(!url_ok(&p, "ftp://mastodon.social/"));
    assert!(!url_ok(&p, "https://user@mastodon.social/"));
    assert!(!url_ok(&p, "https://user:pw@mastodon.social/"));
    assert!(!url_ok(&p, "https://:pw@mastodon.social/"));
    assert!(!url_ok(&p, "https://mastodon.social:8443/"));
    assert!(!url_ok(&p, "file:///etc/passwd"));
    let i = insecure();
    assert!(url_ok(&i, "http://mastodon.social/"));
    assert!(url_ok(&i, "http://social.test/"));
    assert!(url_ok(&i, "http://social.test:4000/"));
    assert!(!url_ok(&i, "http://user@social.test/"));
    assert!(!url_ok(&i, "gopher://social.test/"));
}

#[test]
fn overrides_only_in_insecure_mode() {
    let p = insecure();
    assert_eq!(
        p.override_for("SOCIAL.test."),
        Some("127.0.0.1:4000".parse().expect("addr"))
    );
    let off = Policy {
        insecure: false,
        overrides: p.overrides.clone(),
    };
    assert_eq!(off.override_for("social.test"), None);
}

#[test]
fn url_parsing_turns_odd_ipv4_forms_into_literals() {
    // The literal check relies on WHATWG parsing: these must not stay names.
    for s in [
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://017700000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://%31%32%37.0.0.1/",
        "https://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
    ] {
        let url = Url::parse(s).expect("test URL");
        assert_eq!(
            url.host(),
            Some(Host::Ipv4(std::net::Ipv4Addr::LOCALHOST)),
            "{s}"
        );
        assert!(!url_ok(&secure(), s), "{s} must be refused");
    }
}

#[test]
fn unicode_lookalikes_of_local_names_are_refused() {
    // IDNA maps these to `localhost` / `printer.local` before the name check.
    for s in [
        "https://\u{24db}\u{24de}\u{24d2}\u{24d0}\u{24db}\u{24d7}\u{24de}\u{24e2}\u{24e3}/",
        "https://LocalHost/",
        "https://printer.\u{ff4c}ocal/",
    ] {
        assert!(!url_ok(&secure(), s), "{s} must be refused");
    }
}

#[test]
fn odd_urls_are_refused_without_panicking() {
    for s in [
        "data:text/plain,hi",
        "file:///etc/passwd",
        "https://a..b/",
        "https://./",
        "mailto:a@b.example",
        "javascript:alert(1)",
    ] {
        if let Ok(url) = Url::parse(s) {
            assert!(secure().check_url(&url).is_err(), "{s}");
            assert!(insecure().check_url(&url).is_err(), "{s}");
        }
    }
}

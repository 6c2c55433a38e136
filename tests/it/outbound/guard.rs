//! The SSRF guard end to end: literals, redirects and resolved addresses.

use mastodon_oidc::http::addr::Policy;
use mastodon_oidc::http::resolve::{GuardedResolver, Lookup, LookupError, SystemDns};
use mastodon_oidc::http::{HttpError, Outbound};
use reqwest::Method;
use std::sync::Arc;

use super::server::{StubDns, client, config, ok, redirect, serve};

async fn get(out: &Outbound, url: &str) -> Result<mastodon_oidc::http::Fetched, HttpError> {
    let url = url::Url::parse(url).expect("test URL");
    out.execute(out.request(Method::GET, url)).await
}

#[tokio::test]
async fn loopback_server_is_reached_in_insecure_mode() {
    let srv = serve(|_| ok("hello")).await;
    let out = client(&config(true));
    let got = out
        .execute(out.request(Method::GET, srv.url("/x")))
        .await
        .expect("loopback allowed in insecure mode");
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], b"hello");
    assert_eq!(got.url, srv.url("/x"));
    assert_eq!(srv.connections(), 1);
}

#[tokio::test]
async fn secure_mode_refuses_loopback_literals_without_connecting() {
    let srv = serve(|_| ok("must not be reached")).await;
    let out = client(&config(false));
    let port = srv.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        "https://127.0.0.1/".to_string(),
        format!("https://[::1]:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://2130706433:{port}/"),
        format!("https://0x7f.1:{port}/"),
        format!("https://017700000001:{port}/"),
        "https://localhost/".to_string(),
    ] {
        let res = get(&out, &url).await;
        assert!(matches!(res, Err(HttpError::Refused(_))), "{url}: {res:?}");
    }
    // Give a stray connection time to show up before asserting there was none.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(srv.connections(), 0, "a refused request connected");
}

#[tokio::test]
async fn redirect_to_private_or_metadata_address_is_refused_even_in_insecure_mode() {
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[fd00:ec2::254]/",
        "http://2852039166/",
    ] {
        let to = target.to_string();
        let srv = serve(move |_| redirect(&to)).await;
        let out = client(&config(true));
        let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
        assert!(
            matches!(res, Err(HttpError::Refused(_))),
            "{target}: {res:?}"
        );
    }
}

#[tokio::test]
async fn two_redirects_are_followed_three_are_refused() {
    let srv = serve(|head| {
        let path = head.split_whitespace().nth(1).unwrap_or("/");
        match path {
            "/r3" => redirect("/r2"),
            "/r2" => redirect("/r1"),
            "/r1" => redirect("/final"),
            _ => ok("final"),
        }
    })
    .await;
    let out = client(&config(true));

    let got = out
        .execute(out.request(Method::GET, srv.url("/r2")))
        .await
        .expect("two redirects are fine");
    assert_eq!(&got.body[..], b"final");
    assert_eq!(got.url, srv.url("/final"));

    let before = srv.paths().len();
    let res = out.execute(out.request(Method::GET, srv.url("/r3"))).await;
    assert!(matches!(res, Err(HttpError::Protocol(_))), "{res:?}");
    let paths = srv.paths()[before..].to_vec();
    assert_eq!(
        paths,
        ["/r3", "/r2", "/r1"],
        "the third hop must not be requested"
    );
}

#[tokio::test]
async fn redirect_to_a_blocked_name_is_refused() {
    let srv = serve(|_| redirect("http://metadata.google.internal/computeMetadata/v1/")).await;
    let out = client(&config(true));
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::Refused(_))), "{res:?}");
}

#[tokio::test]
async fn name_resolving_to_a_private_address_is_refused_by_the_resolver() {
    // The override stands in for DNS: the name passes the URL check, and
    // only the resolver's address filter can stop it.
    let mut cfg = config(true);
    for (name, addr) in [
        ("private.test", "10.0.0.1:80"),
        ("metadata.test", "169.254.169.254:80"),
        ("ula.test", "[fd00:ec2::254]:80"),
        ("mapped.test", "[::ffff:192.168.0.1]:80"),
    ] {
        cfg.host_overrides.insert(name.into(), addr.into());
    }
    let out = client(&cfg);
    for url in [
        "http://private.test/",
        "http://metadata.test/",
        "http://ula.test/",
        "http://mapped.test/",
    ] {
        let res = get(&out, url).await;
        match res {
            Err(HttpError::Refused(why)) => assert!(why.contains("blocked"), "{url}: {why}"),
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn redirect_to_a_name_resolving_to_metadata_is_refused() {
    let mut cfg = config(true);
    cfg.host_overrides
        .insert("rebind.test".into(), "169.254.169.254:80".into());
    let srv = serve(|_| redirect("http://rebind.test/latest/meta-data/")).await;
    let out = client(&cfg);
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::Refused(_))), "{res:?}");
}

#[tokio::test]
async fn resolver_drops_blocked_dns_answers() {
    // `localhost` comes from /etc/hosts: a real lookup without the network.
    let system: Arc<dyn Lookup> = Arc::new(SystemDns);
    let secure = GuardedResolver::new(Arc::new(Policy::default()), system.clone());
    match secure.lookup("localhost").await {
        Err(LookupError::Blocked(b)) => assert!(b.0.contains("blocked"), "{b}"),
        other => panic!("loopback answers must be dropped: {other:?}"),
    }
    let insecure = GuardedResolver::new(
        Arc::new(Policy {
            insecure: true,
            ..Policy::default()
        }),
        system,
    );
    let addrs = insecure
        .lookup("localhost")
        .await
        .expect("loopback allowed");
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    // A mixed answer keeps only what may be reached.
    let mixed = StubDns::new(&["10.0.0.1:0", "192.0.2.1:0", "93.184.216.34:0"]);
    let secure = GuardedResolver::new(Arc::new(Policy::default()), mixed.clone());
    let kept = secure.lookup("mixed.example").await.expect("one is public");
    assert_eq!(kept, ["93.184.216.34:0".parse().unwrap()]);
    assert_eq!(mixed.asked(), ["mixed.example"]);
}

#[tokio::test]
async fn base_url_refuses_what_execute_would_refuse() {
    let secure = client(&config(false));
    assert_eq!(
        secure
            .base_url("mastodon.social")
            .expect("public name")
            .as_str(),
        "https://mastodon.social/"
    );
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "localhost",
        "mastodon",
        "evil.example/x?",
        "user@mastodon.social",
        "mastodon.social:8443",
        "",
    ] {
        let res = secure.base_url(host);
        assert!(
            matches!(res, Err(HttpError::Refused(_))),
            "{host:?}: {res:?}"
        );
    }
    let insecure = client(&config(true));
    assert_eq!(
        insecure
            .base_url("127.0.0.1:8080")
            .expect("loopback")
            .as_str(),
        "http://127.0.0.1:8080/"
    );
    assert!(matches!(
        insecure.base_url("10.0.0.1:8080"),
        Err(HttpError::Refused(_))
    ));
}

#[test]
fn malformed_host_override_is_rejected() {
    let mut cfg = config(true);
    cfg.host_overrides
        .insert("social.test".into(), "not-an-address".into());
    assert!(Outbound::new(&cfg).is_err());
}

//! Host overrides, User-Agent, connection errors and concurrency limits.

use std::time::Duration;

use mastodon_oidc::http::{HttpError, Outbound};
use reqwest::Method;

use super::server::{Reply, StubDns, client, config, header, ok, response, serve};

#[tokio::test]
async fn host_override_routes_a_name_to_the_loopback_port() {
    let srv = serve(|_| ok("fake mastodon")).await;
    let mut cfg = config(true);
    cfg.host_overrides
        .insert("social.test".into(), srv.addr.to_string());
    let out = client(&cfg);
    // No port in the URL: hyper keeps the resolver's port.
    let url = out.base_url("social.test").expect("base URL");
    assert_eq!(url.as_str(), "http://social.test/");
    let got = out
        .execute(out.request(Method::GET, url.join("api/v1/instance").expect("join")))
        .await
        .expect("override reaches the test server");
    assert_eq!(&got.body[..], b"fake mastodon");
    let heads = srv.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(header(&heads[0], "host"), Some("social.test"));
    assert!(
        heads[0].starts_with("GET /api/v1/instance "),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn host_overrides_are_ignored_in_secure_mode() {
    let srv = serve(|_| ok("must not be reached")).await;
    let mut cfg = config(false);
    cfg.host_overrides
        .insert("social.test".into(), srv.addr.to_string());
    // The name goes to the (stub) resolver, not the override; its loopback
    // answer is then refused as in production.
    let dns = StubDns::new(&[&srv.addr.to_string()]);
    let out = Outbound::with_dns(&cfg, dns.clone()).expect("client");
    let url = url::Url::parse("https://social.test/").expect("URL");
    let res = out.execute(out.request(Method::GET, url)).await;
    assert!(matches!(res, Err(HttpError::Refused(_))), "{res:?}");
    assert_eq!(dns.asked(), ["social.test"]);
    assert_eq!(srv.connections(), 0);
}

#[tokio::test]
async fn default_user_agent_names_the_project() {
    let srv = serve(|_| ok("")).await;
    let out = client(&config(true));
    out.execute(out.request(Method::GET, srv.url("/")))
        .await
        .expect("request");
    let ua = header(&srv.heads()[0], "user-agent")
        .unwrap_or_default()
        .to_string();
    assert!(
        ua.starts_with(&format!("mastodon-oidc/{}", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
}

#[tokio::test]
async fn configured_user_agent_is_sent() {
    let srv = serve(|_| ok("")).await;
    let mut cfg = config(true);
    cfg.user_agent = Some("example-oidc/9 (+https://login.example)".into());
    let out = client(&cfg);
    out.execute(out.request(Method::GET, srv.url("/")))
        .await
        .expect("request");
    assert_eq!(
        header(&srv.heads()[0], "user-agent"),
        Some("example-oidc/9 (+https://login.example)")
    );
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let out = client(&config(true));
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).expect("URL");
    let res = out.execute(out.request(Method::GET, url)).await;
    assert!(matches!(res, Err(HttpError::Connect(_))), "{res:?}");
}

async fn max_parallel_with(limit: usize) -> usize {
    let srv =
        serve(|_| Reply::After(Duration::from_millis(300), response("200 OK", "", b"slow"))).await;
    let mut cfg = config(true);
    cfg.per_server_concurrency = limit;
    let out = client(&cfg);
    let run = |out: Outbound, url: url::Url| async move {
        out.execute(out.request(Method::GET, url)).await
    };
    let (a, b, c) = tokio::join!(
        run(out.clone(), srv.url("/a")),
        run(out.clone(), srv.url("/b")),
        run(out.clone(), srv.url("/c")),
    );
    for r in [a, b, c] {
        assert_eq!(&r.expect("request").body[..], b"slow");
    }
    assert_eq!(srv.paths().len(), 3);
    srv.max_parallel.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn per_host_concurrency_is_limited() {
    assert_eq!(max_parallel_with(1).await, 1);
    // The measurement can see parallel requests when the limit allows them.
    assert!(max_parallel_with(3).await >= 2);
}

#[tokio::test]
async fn waiting_for_a_slot_counts_toward_the_timeout() {
    let srv =
        serve(|_| Reply::After(Duration::from_millis(700), response("200 OK", "", b"slow"))).await;
    let mut cfg = config(true);
    cfg.per_server_concurrency = 1;
    cfg.request_timeout_secs = 1;
    let out = client(&cfg);
    let run = |out: Outbound, url: url::Url| async move {
        out.execute(out.request(Method::GET, url)).await
    };
    let (a, b) = tokio::join!(
        run(out.clone(), srv.url("/a")),
        run(out.clone(), srv.url("/b"))
    );
    // One had the slot; the other waited 0.7 s for it and would need 0.7 s more.
    let (done, late): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!(done.len(), 1, "{late:?}");
    assert!(matches!(late[..], [Err(HttpError::Timeout)]), "{late:?}");
}

//! No proxy from the environment: a proxy would resolve names itself,
//! around the guarded resolver. Proxy variables are process-wide, so the
//! check runs in a child process of this test binary (only that one test,
//! its variables set by us), never beside other tests.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;

use super::server::{client, config, ok, serve};

/// Set only for the child: tells its test to run.
const CHILD: &str = "MASTODON_OIDC_TEST_PROXY_CHILD";
const CHILD_TEST: &str = "outbound::proxy::child_sends_nothing_to_the_proxy";

/// A "proxy" on loopback: counts connections, answers 502 with a marker.
fn fake_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = stream.read(&mut [0u8; 4096]);
            let _ = stream.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nX-Test-Proxy: yes\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, hits)
}

#[test]
fn proxy_variables_are_ignored() {
    let (proxy, hits) = fake_proxy();
    let mut child = Command::new(std::env::current_exe().expect("test binary"));
    child.args([CHILD_TEST, "--exact", "--ignored", "--test-threads=1"]);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        child.env(var, &proxy).env(var.to_ascii_lowercase(), &proxy);
    }
    for var in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        child.env_remove(var);
    }
    let out = child.env(CHILD, "1").output().expect("run the child");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran its test: {text}");
    // Only the child's control client (plain reqwest) went to the proxy.
    assert_eq!(hits.load(Ordering::SeqCst), 1, "{text}");
}

#[tokio::test]
#[ignore = "run by proxy_variables_are_ignored in a child process"]
async fn child_sends_nothing_to_the_proxy() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let srv = serve(|_| ok("direct")).await;
    let mut cfg = config(true);
    cfg.host_overrides
        .insert("social.test".into(), srv.addr.to_string());
    let out = client(&cfg);
    for url in [
        srv.url("/"),
        url::Url::parse("http://social.test/").unwrap(),
    ] {
        let got = out
            .execute(out.request(Method::GET, url.clone()))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(&got.body[..], b"direct", "{url}");
    }
    // https to a plain-http server fails, but directly (no CONNECT to the proxy).
    let tls = url::Url::parse("https://social.test/").unwrap();
    assert!(out.execute(out.request(Method::GET, tls)).await.is_err());
    assert_eq!(srv.connections(), 3);
    // Control: a default client does use the variables here.
    let plain = reqwest::Client::new().get(srv.url("/")).send().await;
    let plain = plain.expect("the proxy answers");
    assert_eq!(plain.status().as_u16(), 502);
    assert!(plain.headers().contains_key("x-test-proxy"));
}

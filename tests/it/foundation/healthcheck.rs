//! `mastodon-oidc healthcheck`, the container HEALTHCHECK: 0 while the
//! service answers /healthz, 1 when nothing listens or it is not healthy.

use std::io::{Read, Write};
use std::process::{Command, Output};

use crate::support::{Backend, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_mastodon-oidc");

async fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("healthcheck").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("MASTODON_OIDC_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_asks_the_running_service() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = TestApp::spawn(&db).await;
    let out = healthcheck(&["--url", &app.url("/healthz")], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Without --url: /healthz on the configured listen address.
    let listen = app.state.config.listen.clone();
    let out = healthcheck(&[], &[("MASTODON_OIDC_LISTEN", &listen)]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A path that is not 200.
    let out = healthcheck(&["--url", &app.url("/no-such-page")], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("status 404"));
    app.stop().await;
}

#[tokio::test]
async fn healthcheck_fails_on_a_closed_port_or_an_unhealthy_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let out = healthcheck(&["--url", &format!("http://{addr}/healthz")], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Something that answers 503.
    let sick = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = sick.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = sick.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let out = healthcheck(&["--url", &format!("http://{addr}/healthz")], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // An invalid configuration is unhealthy too, not Docker's reserved 2.
    let out = healthcheck(&[], &[("MASTODON_OIDC_LISTEN", "nowhere")]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

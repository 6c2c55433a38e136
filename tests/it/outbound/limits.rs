//! Body caps (declared, streamed, decompressed) and timeouts.

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use mastodon_oidc::http::HttpError;
use reqwest::Method;

use super::server::{CAP, Reply, client, config, response, serve};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn chunked(total: usize) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let piece = vec![b'x'; 8192];
    let mut sent = 0;
    while sent < total {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(&piece);
        out.extend_from_slice(b"\r\n");
        sent += piece.len();
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn body_at_the_cap_is_accepted() {
    let body = vec![b'a'; CAP];
    let srv = serve(move |_| Reply::Send(response("200 OK", "", &body))).await;
    let out = client(&config(true));
    let got = out
        .execute(out.request(Method::GET, srv.url("/")))
        .await
        .expect("a body of exactly the cap is fine");
    assert_eq!(got.body.len(), CAP);
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_reading() {
    // Only the header is sent: waiting for the body would end in Timeout.
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        50 * 1024 * 1024
    );
    let srv = serve(move |_| Reply::SendAndHold(head.clone().into_bytes())).await;
    let out = client(&config(true));
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::TooLarge)), "{res:?}");
}

#[tokio::test]
async fn oversized_body_with_content_length_is_too_large() {
    let body = vec![b'a'; CAP + 1];
    let srv = serve(move |_| Reply::Send(response("200 OK", "", &body))).await;
    let out = client(&config(true));
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::TooLarge)), "{res:?}");
}

#[tokio::test]
async fn oversized_chunked_body_is_too_large() {
    let raw = chunked(4 * CAP);
    let srv = serve(move |_| Reply::Send(raw.clone())).await;
    let out = client(&config(true));
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::TooLarge)), "{res:?}");
}

#[tokio::test]
async fn small_chunked_body_is_read() {
    let raw = chunked(CAP / 2);
    let srv = serve(move |_| Reply::Send(raw.clone())).await;
    let out = client(&config(true));
    let got = out
        .execute(out.request(Method::GET, srv.url("/")))
        .await
        .expect("under the cap");
    assert_eq!(got.body.len(), CAP / 2);
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    let packed = gzip(&vec![b'z'; CAP / 2]);
    let srv =
        serve(move |_| Reply::Send(response("200 OK", "Content-Encoding: gzip\r\n", &packed)))
            .await;
    let out = client(&config(true));
    let got = out
        .execute(out.request(Method::GET, srv.url("/")))
        .await
        .expect("decoded");
    assert_eq!(got.body.len(), CAP / 2);
    assert!(got.body.iter().all(|&b| b == b'z'));
}

#[tokio::test]
async fn gzip_bomb_is_too_large() {
    // 8 MiB of zeros packs into a few KiB: far under the cap on the wire.
    let bomb = gzip(&vec![0u8; 8 * 1024 * 1024]);
    assert!(bomb.len() < CAP / 4, "bomb is {} bytes", bomb.len());
    let srv =
        serve(move |_| Reply::Send(response("200 OK", "Content-Encoding: gzip\r\n", &bomb))).await;
    let out = client(&config(true));
    let started = Instant::now();
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::TooLarge)), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let head = srv.heads().pop().unwrap_or_default();
    assert!(
        head.to_ascii_lowercase().contains("accept-encoding: gzip"),
        "{head}"
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let srv = serve(|_| Reply::Silent).await;
    let mut cfg = config(true);
    cfg.request_timeout_secs = 1;
    let out = client(&cfg);
    let started = Instant::now();
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::Timeout)), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(srv.connections(), 1);
}

#[tokio::test]
async fn stalled_body_times_out() {
    // Headers arrive, the body never does: the total timeout covers the body.
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc";
    let srv = serve(move |_| Reply::SendAndHold(head.as_bytes().to_vec())).await;
    let mut cfg = config(true);
    cfg.request_timeout_secs = 1;
    let out = client(&cfg);
    let started = Instant::now();
    let res = out.execute(out.request(Method::GET, srv.url("/"))).await;
    assert!(matches!(res, Err(HttpError::Timeout)), "{res:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

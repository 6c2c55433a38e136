//! A tiny HTTP/1.1 server on 127.0.0.1:0 with scripted raw replies. Every
//! reply closes the connection, so each request is one counted connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mastodon_oidc::config::UpstreamConfig;
use mastodon_oidc::http::Outbound;
use mastodon_oidc::http::resolve::{Found, Lookup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server does with one request.
pub enum Reply {
    /// Write these bytes and close.
    Send(Vec<u8>),
    /// Wait, then write and close (for concurrency tests).
    After(Duration, Vec<u8>),
    /// Write these bytes (headers only, say) and keep the connection open.
    SendAndHold(Vec<u8>),
    /// Accept, read the request, never answer.
    Silent,
}

type Handler = dyn Fn(&str) -> Reply + Send + Sync;

pub struct TestServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    /// Highest number of connections open at the same time.
    pub max_parallel: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).expect("test URL")
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request heads received so far, in order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }

    /// The request paths received so far.
    pub fn paths(&self) -> Vec<String> {
        self.heads()
            .iter()
            .filter_map(|h| h.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }
}

pub async fn serve(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handler: Arc<Handler> = Arc::new(handler);
    let connections = Arc::new(AtomicUsize::new(0));
    let max_parallel = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let server = TestServer {
        addr,
        connections: connections.clone(),
        max_parallel: max_parallel.clone(),
        heads: heads.clone(),
    };
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            connections.fetch_add(1, Ordering::SeqCst);
            let (handler, heads, open) = (handler.clone(), heads.clone(), open.clone());
            let max_parallel = max_parallel.clone();
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                heads.lock().expect("heads").push(head.clone());
                // In flight from request to response: the client cannot send
                // its next request on a closed connection before this reply.
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                max_parallel.fetch_max(now, Ordering::SeqCst);
                let reply = handler(&head);
                if let Reply::After(wait, _) = &reply {
                    tokio::time::sleep(*wait).await;
                }
                open.fetch_sub(1, Ordering::SeqCst);
                match reply {
                    Reply::Send(bytes) | Reply::After(_, bytes) => {
                        let _ = stream.write_all(&bytes).await;
                    }
                    Reply::SendAndHold(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Reply::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    server
}

async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A complete response with a Content-Length.
pub fn response(status: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

pub fn ok(body: &str) -> Reply {
    Reply::Send(response("200 OK", "", body.as_bytes()))
}

pub fn redirect(location: &str) -> Reply {
    Reply::Send(response(
        "302 Found",
        &format!("Location: {location}\r\n"),
        b"",
    ))
}

/// The header of `name` in a request head, if present.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Test settings: short timeouts, a 64 KiB body cap.
pub fn config(insecure: bool) -> UpstreamConfig {
    UpstreamConfig {
        allow_insecure: insecure,
        connect_timeout_secs: 1,
        request_timeout_secs: 2,
        max_body_bytes: CAP,
        ..UpstreamConfig::default()
    }
}

pub const CAP: usize = 64 * 1024;

pub fn client(cfg: &UpstreamConfig) -> Outbound {
    Outbound::new(cfg).expect("outbound client")
}

/// A resolver that answers every name with fixed addresses and records the
/// names it was asked: no query reaches real DNS.
pub struct StubDns {
    answer: Vec<SocketAddr>,
    asked: Mutex<Vec<String>>,
}

impl StubDns {
    pub fn new(answer: &[&str]) -> Arc<Self> {
        Arc::new(StubDns {
            answer: answer.iter().map(|a| a.parse().expect("ip:port")).collect(),
            asked: Mutex::default(),
        })
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("asked").clone()
    }
}

impl Lookup for StubDns {
    fn lookup(&self, name: &str) -> Found {
        self.asked.lock().expect("asked").push(name.to_string());
        let answer = self.answer.clone();
        Box::pin(async move { Ok(answer) })
    }
}

//! Everything the process logs, captured in memory: a global subscriber at
//! `trace` for this crate and `debug` for the rest, installed by the first
//! test that asks. Tests look for their own unique values in it, so other
//! tests logging at the same time do no harm.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Start capturing (once per process).
pub fn capture() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,mastodon_oidc=trace,it=trace",
            ))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only global subscriber");
        buf
    });
}

/// Everything captured so far.
pub fn text() -> String {
    let buf = LOGS.get().expect("capture() first");
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

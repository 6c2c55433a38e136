//! One recorded request, parsed once: query, form or JSON body as key/value
//! pairs (arrays as repeated `key[]`), and headers. Tests read these back.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Form or JSON body; JSON arrays flatten to repeated `key[]` entries.
    pub body: Vec<(String, String)>,
    /// The JSON body as sent, when it was JSON.
    pub json: Option<serde_json::Value>,
    /// The body as text (lossy UTF-8).
    pub raw_body: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub peer_ip: String,
    /// The status the fake answered with (`None` while in flight).
    pub status: Option<u16>,
    /// Arrival number, unique per fake.
    pub seq: u64,
}

impl Call {
    pub fn from_request(req: &HttpRequest, raw: &[u8]) -> Self {
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let (body, json) = if content_type.contains("json") {
            match serde_json::from_slice::<serde_json::Value>(raw) {
                Ok(v) => (flatten(&v), Some(v)),
                Err(_) => (Vec::new(), None),
            }
        } else {
            (serde_urlencoded::from_bytes(raw).unwrap_or_default(), None)
        };
        Call {
            method: req.method().as_str().to_owned(),
            path: req.path().to_owned(),
            query,
            body,
            json,
            raw_body: String::from_utf8_lossy(raw).into_owned(),
            headers,
            peer_ip: req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            status: None,
            seq: 0,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Host` header without a port.
    pub fn host(&self) -> String {
        let h = self.header("host").unwrap_or_default();
        h.rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map_or(h, |(n, _)| n)
            .to_ascii_lowercase()
    }

    /// The query string's value, else the body's.
    pub fn query_or_body(&self, key: &str) -> Option<&str> {
        self.query_param(key).or_else(|| self.body_param(key))
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    pub fn query_param(&self, key: &str) -> Option<&str> {
        find(&self.query, key)
    }

    pub fn body_param(&self, key: &str) -> Option<&str> {
        find(&self.body, key)
    }

    /// A scalar parameter, body first then query (Rails `params`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.body_param(key).or_else(|| self.query_param(key))
    }

    /// A parameter sent as an array (`key[]=…` or a JSON array).
    pub fn array(&self, key: &str) -> Option<Vec<String>> {
        let k = format!("{key}[]");
        let items: Vec<String> = self
            .body
            .iter()
            .chain(self.query.iter())
            .filter(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .collect();
        (!items.is_empty() || self.json_array_present(key)).then_some(items)
    }

    fn json_array_present(&self, key: &str) -> bool {
        self.json
            .as_ref()
            .and_then(|j| j.get(key))
            .is_some_and(|v| v.is_array())
    }

    pub fn bearer(&self) -> Option<&str> {
        let h = self.header("authorization")?;
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .map(str::trim)
    }

    /// HTTP Basic credentials (client_id, client_secret).
    pub fn basic(&self) -> Option<(String, String)> {
        let h = self.header("authorization")?;
        let b64 = h.strip_prefix("Basic ")?;
        let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
        let (id, secret) = raw.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    }
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    // Rails keeps the last of repeated keys.
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
    let Some(obj) = v.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::Array(items) => {
                for i in items {
                    out.push((format!("{k}[]"), scalar(i)));
                }
            }
            serde_json::Value::Null => {}
            other => out.push((k.clone(), scalar(other))),
        }
    }
    out
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

//! A login in progress. While the person is on the handle page it lives
//! sealed in the page itself ([`Pending`], no database write); once the
//! upstream leg starts it is stored as an `auth_requests` row ([`Stored`]),
//! keyed by the hash of the upstream `state`, so any replica can finish it.

use serde::{Deserialize, Serialize};

use super::authorize::AuthRequest;
use crate::crypto::{Sealer, b64url, decode_base64};

const SEAL: &str = "pending-authorize";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub req: AuthRequest,
    /// Equals the flow cookie of the browser that started the login.
    pub binding: String,
    pub issued_at: i64,
}

impl Pending {
    pub fn seal(&self, sealer: &Sealer) -> String {
        b64url(&sealer.seal(SEAL, &serde_json::to_vec(self).unwrap_or_default()))
    }

    /// The pending login if genuine, however old: enough to send the person
    /// back to the application it came from.
    pub fn open_any_age(sealer: &Sealer, text: &str) -> Option<Self> {
        let bytes = sealer.open(SEAL, &decode_base64(text)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The pending login, if genuine and younger than `ttl_secs`.
    pub fn open(sealer: &Sealer, text: &str, now: i64, ttl_secs: i64) -> Option<Self> {
        let bytes = sealer.open(SEAL, &decode_base64(text)?).ok()?;
        let p: Pending = serde_json::from_slice(&bytes).ok()?;
        (now - p.issued_at <= ttl_secs && p.issued_at <= now + 60).then_some(p)
    }
}

/// The JSON in `auth_requests.request`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub req: AuthRequest,
    pub binding: String,
}

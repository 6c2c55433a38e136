//! Access tokens: sealed, not stored. A token is its grant's id, scope and
//! lifetime sealed with AES-256-GCM under a key only the bridge holds, so it
//! is opaque to clients and cannot be forged or altered, and issuing one
//! writes nothing. It is live while it has not expired, its grant is live
//! (revoking the grant, on logout, code replay or refresh-token reuse, kills
//! every access token at once) and no revocation row carries its hash
//! (RFC 7009 revocation of this one token).
//!
//! Tokens issued before this format were stored rows; those still work
//! until they expire.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::crypto::{Sealer, sha256_b64url};
use crate::store::grants::GrantRow;
use crate::store::tokens::{ACCESS, TokenRow};
use crate::store::{self, AnyConnection, StoreResult};

const PURPOSE: &str = "access-token";

/// What an access token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(rename = "g")]
    pub grant_id: String,
    #[serde(rename = "s")]
    pub scope: String,
    #[serde(rename = "i")]
    pub iat: i64,
    #[serde(rename = "e")]
    pub exp: i64,
}

/// The token a client is given. Each sealing has a fresh random nonce, so
/// two tokens of one grant in one second still differ.
pub fn mint(sealer: &Sealer, token: &Sealed) -> String {
    let json = serde_json::to_vec(token).expect("plain struct");
    URL_SAFE_NO_PAD.encode(sealer.seal(PURPOSE, &json))
}

/// The contents of a token this bridge sealed, or `None` for anything else.
pub fn open(sealer: &Sealer, token: &str) -> Option<Sealed> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let plain = sealer.open(PURPOSE, &bytes).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// A live token presented to userinfo or introspection, in the shape of a
/// stored row, with its grant when one was read.
pub struct Live {
    pub token: TokenRow,
    pub grant: Option<GrantRow>,
}

/// Resolve a presented token (access, or a stored refresh token) to a live
/// one; `None` when it is unknown, expired or revoked.
pub fn resolve(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    token: &str,
    now: i64,
) -> StoreResult<Option<Live>> {
    let hash = sha256_b64url(token.as_bytes());
    let row = store::tokens::get(conn, &hash)?;
    let Some(sealed) = open(sealer, token) else {
        let live = row.filter(|r| r.is_live(now));
        return Ok(live.map(|token| Live { token, grant: None }));
    };
    // A sealed token has a row only once it has been revoked.
    if row.is_some() || sealed.exp <= now {
        return Ok(None);
    }
    let Some(grant) = store::grants::get_live(conn, &sealed.grant_id, now)? else {
        return Ok(None);
    };
    Ok(Some(Live {
        token: row_of(&hash, &sealed, &grant, None),
        grant: Some(grant),
    }))
}

/// The row that records a sealed token's revocation (kept until it expires).
pub fn row_of(hash: &str, sealed: &Sealed, grant: &GrantRow, revoked_at: Option<i64>) -> TokenRow {
    TokenRow {
        hash: hash.to_string(),
        kind: ACCESS.into(),
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        sub: grant.sub.clone(),
        scope: sealed.scope.clone(),
        created_at: sealed.iat,
        expires_at: sealed.exp,
        revoked_at,
        used_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sealed {
        Sealed {
            grant_id: "g1".into(),
            scope: "openid profile".into(),
            iat: 100,
            exp: 3700,
        }
    }

    #[test]
    fn a_minted_token_opens_to_what_was_sealed() {
        let s = Sealer::for_tests();
        let t = mint(&s, &sample());
        assert_eq!(open(&s, &t), Some(sample()));
        assert_ne!(t, mint(&s, &sample()), "fresh nonce each time");
        assert!(!t.contains("g1") && !t.contains("openid"), "opaque: {t}");
    }

    #[test]
    fn altered_or_foreign_tokens_do_not_open() {
        let s = Sealer::for_tests();
        let t = mint(&s, &sample());
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open(&s, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        let other = Sealer::new(&[9u8; 32]).unwrap();
        assert_eq!(open(&other, &t), None, "another master secret");
        // A value sealed for another purpose is not an access token.
        let json = serde_json::to_vec(&sample()).unwrap();
        let foreign = URL_SAFE_NO_PAD.encode(s.seal("upstream-token", &json));
        assert_eq!(open(&s, &foreign), None);
        assert_eq!(open(&s, "not base64 !"), None);
    }
}

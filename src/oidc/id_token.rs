//! Minting ID tokens (OIDC Core §2, §3.1.3.6): the registered claims, the
//! person's claims from `claims.rs`, and `at_hash`, signed with the client's
//! algorithm by a key that is in the JWKS.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::crypto::b64url;
use crate::keys::{Algorithm, KeyError, KeyRing};

/// Everything an ID token says besides the person's claims.
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub alg: Algorithm,
    pub now: i64,
    pub ttl_secs: i64,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
}

/// Sign an ID token carrying `user` (which holds `sub` and the profile claims).
pub fn mint(
    keys: &KeyRing,
    input: &IdTokenInput<'_>,
    user: Map<String, Value>,
) -> Result<String, KeyError> {
    sign(keys, input.alg, &claims(input, user))
}

/// Sign finished claims with the current key for `alg`.
pub fn sign(
    keys: &KeyRing,
    alg: Algorithm,
    claims: &Map<String, Value>,
) -> Result<String, KeyError> {
    keys.signer(alg)?.sign_jwt(claims, "JWT")
}

/// The whole claim set: the registered claims added to `user`.
pub fn claims(input: &IdTokenInput<'_>, user: Map<String, Value>) -> Map<String, Value> {
    let mut claims = user;
    claims.insert("iss".into(), input.issuer.into());
    claims.insert("aud".into(), input.client_id.into());
    claims.insert("azp".into(), input.client_id.into());
    claims.insert("iat".into(), input.now.into());
    claims.insert("exp".into(), (input.now + input.ttl_secs).into());
    claims.insert("auth_time".into(), input.auth_time.into());
    if let Some(n) = input.nonce {
        claims.insert("nonce".into(), n.into());
    }
    if let Some(at) = input.access_token {
        claims.insert("at_hash".into(), token_hash(input.alg, at).into());
    }
    claims
}

/// `at_hash` / `c_hash`: the left half of the hash that goes with the signing
/// algorithm (SHA-256 for RS256 and ES256, SHA-512 for Ed25519), base64url.
pub fn token_hash(alg: Algorithm, token: &str) -> String {
    match alg {
        Algorithm::RS256 | Algorithm::ES256 => {
            let h = Sha256::digest(token.as_bytes());
            b64url(&h[..16])
        }
        Algorithm::EdDSA => {
            let h = Sha512::digest(token.as_bytes());
            b64url(&h[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core Appendix A.3: access token and at_hash of an RS256 ID token.
        assert_eq!(
            token_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(token_hash(Algorithm::EdDSA, "x").len(), 43);
    }
}

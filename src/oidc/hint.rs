//! `id_token_hint` (authorize and logout): an ID token we issued, possibly
//! expired. Verified against our own published keys and issuer; only ever
//! used to refuse or to pick the client, never to grant anything.

use serde_json::Value;

use crate::app::AppState;

/// Claims of a genuine ID token from this issuer (expiry not checked).
pub fn verify(state: &AppState, raw: &str) -> Option<Value> {
    let header = jsonwebtoken::decode_header(raw).ok()?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(&state.keys.snapshot().jwks_json).ok()?;
    let jwk = jwks.find(header.kid.as_deref()?)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[&state.issuer]);
    jsonwebtoken::decode::<Value>(raw, &key, &v)
        .ok()
        .map(|d| d.claims)
}

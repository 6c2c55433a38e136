//! Secrets at rest and random values. One master secret (from configuration)
//! derives a separate AES-256-GCM key per purpose, so a value sealed for one
//! use can never be opened as another. Token and secret hashes are SHA-256:
//! the values are 256-bit random, so a slow hash would add cost and no safety.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed value is malformed or was sealed with another key or purpose")]
    Open,
    #[error("the master secret must decode (base64) to at least 32 bytes")]
    MasterSecret,
}

/// Seals and opens secrets at rest (upstream app secrets, signing keys, tokens).
pub struct Sealer {
    root: hmac::Key,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// From the raw master secret bytes (at least 32).
    pub fn new(master: &[u8]) -> Result<Self, CryptoError> {
        if master.len() < 32 {
            return Err(CryptoError::MasterSecret);
        }
        Ok(Self {
            root: hmac::Key::new(hmac::HMAC_SHA256, master),
        })
    }

    /// From the configured text form (standard or URL-safe base64).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Self::new(&decode_base64(text.trim()).ok_or(CryptoError::MasterSecret)?)
    }

    /// A fixed key for tests only.
    pub fn for_tests() -> Self {
        Self::new(&[7u8; 32]).expect("32 bytes")
    }

    /// A 256-bit value derived from the master secret for `purpose` and
    /// `data` (HMAC-SHA256): stable for a given secret, unguessable without it.
    pub fn derive(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.root);
        ctx.update(format!("mastodon-oidc/derive/v1/{purpose}\0").as_bytes());
        ctx.update(data);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn key(&self, purpose: &str) -> LessSafeKey {
        let tag = hmac::sign(
            &self.root,
            format!("mastodon-oidc/seal/v1/{purpose}").as_bytes(),
        );
        let unbound = UnboundKey::new(&AES_256_GCM, tag.as_ref()).expect("32-byte key");
        LessSafeKey::new(unbound)
    }

    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut buf = plaintext.to_vec();
        self.key(purpose)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out
    }

    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(CryptoError::Open);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| CryptoError::Open)?;
        let mut buf = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key(purpose)
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }

    /// A keyed hash for values that must be looked up but never stored in the clear
    /// and whose space is small enough to guess (e.g. pairwise subject input).
    pub fn mac(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(
                &self.root,
                format!("mastodon-oidc/mac/v1/{purpose}").as_bytes(),
            )
            .as_ref(),
        );
        hmac::sign(&key, data).as_ref().to_vec()
    }
}

pub fn fill_random(buf: &mut [u8]) {
    aws_lc_rs::rand::fill(buf).expect("the system random source failed");
}

/// `n_bytes` of randomness, base64url without padding.
pub fn random_token(n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256(data))
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Constant-time equality for secrets and their hashes.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Accepts standard or URL-safe base64, with or without padding.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_purpose() {
        let s = Sealer::for_tests();
        let sealed = s.seal("app-secret", b"hunter2");
        assert_eq!(s.open("app-secret", &sealed).unwrap(), b"hunter2");
        assert_eq!(s.open("signing-key", &sealed), Err(CryptoError::Open));
        let other = Sealer::new(&[8u8; 32]).unwrap();
        assert_eq!(other.open("app-secret", &sealed), Err(CryptoError::Open));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(s.open("app-secret", &tampered), Err(CryptoError::Open));
        assert_eq!(s.open("app-secret", &[1, 2]), Err(CryptoError::Open));
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let s = Sealer::for_tests();
        assert_ne!(s.seal("p", b"x"), s.seal("p", b"x"));
    }

    #[test]
    fn short_master_secret_is_refused() {
        assert_eq!(
            Sealer::new(&[0u8; 31]).unwrap_err(),
            CryptoError::MasterSecret
        );
        assert!(Sealer::from_base64("not base64!").is_err());
        assert!(Sealer::from_base64(&b64url(&[1u8; 32])).is_ok());
    }

    #[test]
    fn random_tokens_have_the_requested_entropy() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token(32));
    }
}

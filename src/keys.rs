//! Signing keys: generate, store sealed, parse once into aws-lc-rs key pairs,
//! sign JWTs, publish the JWKS, rotate. Signing never goes through the `rsa`
//! crate (RUSTSEC-2023-0071); `rsa` only reads public parameters at generation.
//!
//! Rotation: a new key is published `publish_before_use_secs` before it signs,
//! so every replica (they re-read the table every `reload_interval_secs`) and
//! every relying party's JWKS cache has it first. A superseded key stays
//! published for the longest token lifetime plus clock skew.

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use serde_json::{Value, json};

use crate::clock::SharedClock;
use crate::crypto::{Sealer, b64url, sha256_b64url};
use crate::store::{self, AnyConnection, Store, StoreError, keys::KeyRow};

const SEAL_PURPOSE: &str = "signing-key";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize, serde::Serialize,
)]
pub enum Algorithm {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("key {0} cannot be opened with this master secret")]
    Unseal(String),
    #[error("key {0} is malformed: {1}")]
    Malformed(String, String),
    #[error("no signing key for {0}")]
    NoKey(Algorithm),
    #[error("key generation failed")]
    Generate,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A key parsed once, ready to sign.
pub struct LoadedKey {
    pub kid: String,
    pub alg: Algorithm,
    pub active_at: i64,
    pub retired_at: Option<i64>,
    pub expires_at: Option<i64>,
    signer: Signer,
}

impl LoadedKey {
    fn signs_at(&self, now: i64) -> bool {
        self.active_at <= now && self.retired_at.is_none_or(|r| r > now)
    }

    fn published_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Generate)?;
                Ok(sig)
            }
            Signer::Ec(kp) => Ok(kp
                .sign(&rng, message)
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec()),
            Signer::Ed(kp) => Ok(kp.sign(message).as_ref().to_vec()),
        }
    }

    /// A compact JWS of `claims` with this key's `alg` and `kid`.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize, typ: &str) -> Result<String, KeyError> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let mut out = b64url(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&b64url(
            &serde_json::to_vec(claims)
                .map_err(|e| KeyError::Malformed(self.kid.clone(), e.to_string()))?,
        ));
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }
}

/// The keys in force, the JWKS bytes prepared from them, and until when
/// this view is right.
pub struct KeySnapshot {
    keys: Vec<Arc<LoadedKey>>,
    pub jwks_json: bytes::Bytes,
    pub etag: String,
    fingerprint: (i64, Option<i64>, Option<i64>),
    /// The next time a key starts or stops signing or leaves the JWKS.
    next_change: i64,
}

impl KeySnapshot {
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// The key that signs `alg` at `now`: the most recently activated one.
    pub fn signer(&self, alg: Algorithm, now: i64) -> Option<Arc<LoadedKey>> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg && k.signs_at(now))
            .max_by(|a, b| a.active_at.cmp(&b.active_at).then(b.kid.cmp(&a.kid)))
            .cloned()
    }
}

/// Key pairs shared by all requests; refreshed from the database in the background.
pub struct KeyRing {
    store: Store,
    sealer: Arc<Sealer>,
    clock: SharedClock,
    current: RwLock<Arc<KeySnapshot>>,
}

impl KeyRing {
    /// Make sure a key of every algorithm exists (generating on first start),
    /// then parse them all.
    pub async fn load(
        store: Store,
        sealer: Arc<Sealer>,
        clock: SharedClock,
    ) -> Result<Self, KeyError> {
        let now = clock.now();
        {
            let (store, sealer) = (store.clone(), sealer.clone());
            tokio::task::spawn_blocking(move || ensure_keys(&store, &sealer, now))
                .await
                .map_err(|_| KeyError::Generate)??;
        }
        let snapshot = Self::read_snapshot(&store, &sealer, now).await?;
        Ok(Self {
            store,
            sealer,
            clock,
            current: RwLock::new(Arc::new(snapshot)),
        })
    }

    async fn read_snapshot(
        store: &Store,
        sealer: &Arc<Sealer>,
        now: i64,
    ) -> Result<KeySnapshot, KeyError> {
        let (fingerprint, rows) = store
            .run(move |c| {
                Ok((
                    store::keys::fingerprint(c)?,
                    store::keys::list_published(c, now)?,
                ))
            })
            .await?;
        build_snapshot(sealer, rows, fingerprint, now)
    }

    pub fn snapshot(&self) -> Arc<KeySnapshot> {
        self.current
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn signer(&self, alg: Algorithm) -> Result<Arc<LoadedKey>, KeyError> {
        self.snapshot()
            .signer(alg, self.clock.now())
            .ok_or(KeyError::NoKey(alg))
    }

    /// Re-read the table if it changed or a key's time came; true if the view changed.
    pub async fn refresh(&self) -> Result<bool, KeyError> {
        let now = self.clock.now();
        let old = self.snapshot();
        let fp = self.store.run(store::keys::fingerprint).await?;
        if fp == old.fingerprint && now < old.next_change {
            return Ok(false);
        }
        let snapshot = Self::read_snapshot(&self.store, &self.sealer, now).await?;
        let changed = snapshot.etag != old.etag;
        if let Ok(mut g) = self.current.write() {
            *g = Arc::new(snapshot);
        }
        Ok(changed)
    }
}

fn build_snapshot(
    sealer: &Sealer,
    rows: Vec<KeyRow>,
    fingerprint: (i64, Option<i64>, Option<i64>),
    now: i64,
) -> Result<KeySnapshot, KeyError> {
    let mut keys = Vec::with_capacity(rows.len());
    let mut jwks = Vec::with_capacity(rows.len());
    let mut next_change = i64::MAX;
    for row in rows {
        for t in [Some(row.active_at), row.retired_at, row.expires_at]
            .into_iter()
            .flatten()
        {
            if t > now {
                next_change = next_change.min(t);
            }
        }
        let key = parse_row(sealer, &row)?;
        if !key.published_at(now) {
            continue;
        }
        jwks.push(
            serde_json::from_str::<Value>(&row.public_jwk)
                .map_err(|e| KeyError::Malformed(row.kid.clone(), e.to_string()))?,
        );
        keys.push(Arc::new(key));
    }
    let jwks_json = bytes::Bytes::from(json!({ "keys": jwks }).to_string().into_bytes());
    let etag = format!("\"{}\"", &sha256_b64url(&jwks_json)[..22]);
    Ok(KeySnapshot {
        keys,
        jwks_json,
        etag,
        fingerprint,
        next_change,
    })
}

fn parse_row(sealer: &Sealer, row: &KeyRow) -> Result<LoadedKey, KeyError> {
    let der = sealer
        .open(SEAL_PURPOSE, &row.private_key)
        .map_err(|_| KeyError::Unseal(row.kid.clone()))?;
    let bad = |e: String| KeyError::Malformed(row.kid.clone(), e);
    let alg = Algorithm::parse(&row.alg).ok_or_else(|| bad(format!("unknown alg {}", row.alg)))?;
    let signer = match alg {
        Algorithm::RS256 => {
            Signer::Rsa(RsaKeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?)
        }
        Algorithm::ES256 => Signer::Ec(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .map_err(|e| bad(e.to_string()))?,
        ),
        Algorithm::EdDSA => {
            Signer::Ed(Ed25519KeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?)
        }
    };
    Ok(LoadedKey {
        kid: row.kid.clone(),
        alg,
        active_at: row.active_at,
        retired_at: row.retired_at,
        expires_at: row.expires_at,
        signer,
    })
}

/// A new key pair: (PKCS#8 DER, public JWK with kid = RFC 7638 thumbprint).
pub fn generate(alg: Algorithm) -> Result<(Vec<u8>, Value), KeyError> {
    let rng = SystemRandom::new();
    let (der, mut jwk, thumb_input) = match alg {
        Algorithm::RS256 => {
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Generate)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der =
                kp.as_der().map_err(|_| KeyError::Generate)?;
            let der = der.as_ref().to_vec();
            // Public parameters only; no private-key operation goes through `rsa`.
            let public =
                rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| KeyError::Generate)?;
            let (n, e) = (
                b64url(&public.n().to_bytes_be()),
                b64url(&public.e().to_bytes_be()),
            );
            let thumb = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            (der, json!({"kty": "RSA", "n": n, "e": e}), thumb)
        }
        Algorithm::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?;
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| KeyError::Generate)?;
            let point = kp.public_key().as_ref(); // 0x04 || x || y
            let (x, y) = (b64url(&point[1..33]), b64url(&point[33..65]));
            let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            (
                doc.as_ref().to_vec(),
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                thumb,
            )
        }
        Algorithm::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
            let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?;
            let x = b64url(kp.public_key().as_ref());
            let thumb = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            (
                doc.as_ref().to_vec(),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                thumb,
            )
        }
    };
    let kid = sha256_b64url(thumb_input.as_bytes());
    let obj = jwk.as_object_mut().expect("object");
    obj.insert("kid".into(), kid.into());
    obj.insert("alg".into(), alg.as_str().into());
    obj.insert("use".into(), "sig".into());
    Ok((der, jwk))
}

fn new_row(sealer: &Sealer, alg: Algorithm, now: i64, active_at: i64) -> Result<KeyRow, KeyError> {
    let (der, jwk) = generate(alg)?;
    Ok(KeyRow {
        kid: jwk["kid"].as_str().unwrap_or_default().to_string(),
        alg: alg.as_str().to_string(),
        private_key: sealer.seal(SEAL_PURPOSE, &der),
        public_jwk: jwk.to_string(),
        created_at: now,
        active_at,
        retired_at: None,
        expires_at: None,
    })
}

/// Serialise key creation across replicas sharing one PostgreSQL.
fn lock_keys(conn: &mut AnyConnection) -> Result<(), StoreError> {
    use diesel::RunQueryDsl;
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7391020231)").execute(c)?;
    }
    Ok(())
}

fn signs_now(k: &KeyRow, alg: Algorithm, now: i64) -> bool {
    k.alg == alg.as_str() && k.active_at <= now && k.retired_at.is_none_or(|r| r > now)
}

/// Create a key for every algorithm that has none able to sign now.
pub fn ensure_keys(store: &Store, sealer: &Sealer, now: i64) -> Result<Vec<String>, KeyError> {
    // Generate outside the transaction (RSA takes tens of milliseconds), then
    // insert only what is still missing once we hold the lock.
    let existing = store.run_blocking(|c| store::keys::list_published(c, now))?;
    let missing: Vec<Algorithm> = Algorithm::ALL
        .into_iter()
        .filter(|a| !existing.iter().any(|k| signs_now(k, *a, now)))
        .collect();
    if missing.is_empty() {
        return Ok(vec![]);
    }
    let rows = missing
        .into_iter()
        .map(|a| new_row(sealer, a, now, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(store.write_blocking(move |c| {
        lock_keys(c)?;
        let existing = store::keys::list_published(c, now)?;
        let mut created = vec![];
        for row in rows {
            if !existing.iter().any(|k| {
                k.alg == row.alg && k.active_at <= now && k.retired_at.is_none_or(|r| r > now)
            }) {
                store::keys::insert(c, &row)?;
                created.push(row.kid);
            }
        }
        Ok(created)
    })?)
}

/// Add a new key for `alg`; it signs after `publish_before_use_secs` (or at
/// once with `immediately`); the previous one stays published `keep_secs` after that.
pub fn rotate(
    store: &Store,
    sealer: &Sealer,
    alg: Algorithm,
    now: i64,
    publish_before_use_secs: i64,
    keep_secs: i64,
    immediately: bool,
) -> Result<KeyRow, KeyError> {
    let active_at = if immediately {
        now
    } else {
        now + publish_before_use_secs
    };
    let row = new_row(sealer, alg, now, active_at)?;
    let inserted = row.clone();
    store.write_blocking(move |c| {
        lock_keys(c)?;
        store::keys::retire_current(c, alg.as_str(), active_at, active_at + keep_secs)?;
        store::keys::insert(c, &row)?;
        Ok(())
    })?;
    Ok(inserted)
}

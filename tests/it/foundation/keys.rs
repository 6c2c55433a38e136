//! Signing keys: generated once and reused, shared by replicas, rotated with
//! publish-before-use, and tokens verified by an independent implementation.

use std::sync::Arc;

use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use mastodon_oidc::clock::{FixedClock, SharedClock};
use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::keys::{self, Algorithm, KeyError, KeyRing};

use crate::backend_tests;
use crate::login::seed;
use crate::support::{T0, TestApp, TestDb, http};

backend_tests! {
    keys_are_generated_once_and_shared_by_replicas => shared_by_replicas,
    rotation_publishes_before_signing_and_keeps_the_old_key => rotation,
    tokens_verify_with_jsonwebtoken_for_every_algorithm => verify_every_alg,
    signing_algorithm_signs_id_tokens_from_the_token_endpoint => configured_algorithm,
}

async fn ring(db: &TestDb, clock: &Arc<FixedClock>) -> KeyRing {
    let shared: SharedClock = clock.clone();
    KeyRing::load(db.store(), Arc::new(Sealer::for_tests()), shared)
        .await
        .unwrap()
}

async fn shared_by_replicas(db: TestDb) {
    let clock = FixedClock::new(T0);
    // Two replicas starting at once on an empty database.
    let (a, b) = tokio::join!(ring(&db, &clock), ring(&db, &clock));
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    assert_eq!(a.snapshot().kids(), b.snapshot().kids());
    assert_eq!(a.snapshot().kids().len(), 3, "one key per algorithm");
    let c = ring(&db, &clock).await;
    assert_eq!(
        c.snapshot().kids(),
        a.snapshot().kids(),
        "reused on restart"
    );
    for alg in Algorithm::ALL {
        assert_eq!(a.signer(alg).unwrap().kid, b.signer(alg).unwrap().kid);
    }
    // Another master secret cannot open them: a clear error, not garbage.
    let other = KeyRing::load(
        db.store(),
        Arc::new(Sealer::new(&[9; 32]).unwrap()),
        clock.clone(),
    )
    .await;
    assert!(matches!(other, Err(KeyError::Unseal(_))));
}

async fn rotation(db: TestDb) {
    let clock = FixedClock::new(T0);
    let ring = ring(&db, &clock).await;
    let old = ring.signer(Algorithm::RS256).unwrap().kid.clone();
    let store = db.store();
    let new = keys::rotate(
        &store,
        &Sealer::for_tests(),
        Algorithm::RS256,
        T0,
        3600,
        7200,
        false,
    )
    .unwrap();
    assert!(
        ring.refresh().await.unwrap(),
        "the replica sees the new key"
    );
    let published = ring.snapshot().kids();
    assert!(published.contains(&new.kid), "published before it signs");
    assert_eq!(
        ring.signer(Algorithm::RS256).unwrap().kid,
        old,
        "old key still signs"
    );
    clock.set(T0 + 3600);
    ring.refresh().await.unwrap();
    assert_eq!(
        ring.signer(Algorithm::RS256).unwrap().kid,
        new.kid,
        "new key signs on time"
    );
    assert!(
        ring.snapshot().kids().contains(&old),
        "old key stays published"
    );
    clock.set(T0 + 3600 + 7200);
    assert!(ring.refresh().await.unwrap());
    assert!(
        !ring.snapshot().kids().contains(&old),
        "old key leaves after the longest token lifetime"
    );
    assert_eq!(ring.signer(Algorithm::RS256).unwrap().kid, new.kid);
    // Emergency rotation signs at once.
    let urgent = keys::rotate(
        &store,
        &Sealer::for_tests(),
        Algorithm::RS256,
        T0 + 10_800,
        3600,
        7200,
        true,
    )
    .unwrap();
    ring.refresh().await.unwrap();
    assert_eq!(ring.signer(Algorithm::RS256).unwrap().kid, urgent.kid);
}

async fn verify_every_alg(db: TestDb) {
    let clock = FixedClock::new(T0);
    let ring = ring(&db, &clock).await;
    let jwks: JwkSet = serde_json::from_slice(&ring.snapshot().jwks_json).unwrap();
    for (alg, jalg) in [
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
    ] {
        let key = ring.signer(alg).unwrap();
        let claims = serde_json::json!({"sub": "s", "aud": "rp", "exp": 4_000_000_000u64});
        let jwt = key.sign_jwt(&claims, "JWT").unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        let jwk = jwks.find(&key.kid).expect("kid published");
        let mut v = Validation::new(jalg);
        v.set_audience(&["rp"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &v,
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims["sub"], "s");
        // A tampered payload fails.
        let mut parts: Vec<&str> = jwt.split('.').collect();
        let forged = mastodon_oidc::crypto::b64url(br#"{"sub":"x","aud":"rp","exp":4000000000}"#);
        parts[1] = &forged;
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &parts.join("."),
                &DecodingKey::from_jwk(jwk).unwrap(),
                &v
            )
            .is_err()
        );
    }
}

/// `signing.algorithm` (here from the environment) signs the ID tokens of
/// clients that name no algorithm; one that names its own keeps it.
async fn configured_algorithm(db: TestDb) {
    let env = [(
        "MASTODON_OIDC_SIGNING__ALGORITHM".to_string(),
        "ES256".to_string(),
    )];
    let signing = mastodon_oidc::config::Config::load(None, env)
        .unwrap()
        .signing;
    assert_eq!(signing.algorithm, Algorithm::ES256);
    let mut pinned = seed::client("pinned");
    pinned.id_token_signed_response_alg = Some(Algorithm::RS256);
    let app = TestApp::spawn_with(&db, |c| {
        c.signing = signing;
        c.clients = vec![seed::client("rp"), pinned];
    })
    .await;
    let jwks: JwkSet = http()
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid", Some("n-1"));
    let tokens = seed::redeem(&app, &code).await;
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the signing key is in the JWKS");
    let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["rp"]);
    v.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .expect("verifies with the published ES256 key");

    let (code, _, _) = seed::code(&app.state.store, "pinned", "openid", None);
    let res: serde_json::Value = http()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", seed::REDIRECT),
            ("code_verifier", seed::VERIFIER),
            ("client_id", "pinned"),
            ("client_secret", seed::SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(res["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::RS256,
        "the client's own choice"
    );
    app.stop().await;
}

//! `oidcc-discovery-endpoint-verification` (the Config OP plan): the
//! document's transport, its issuer, required and known members only, and
//! a JWKS the library can fetch.

use openidconnect::JsonWebKey;
use serde_json::Value;

use super::suite::Suite;
use crate::backend_tests;
use crate::support::{TestDb, http};

backend_tests! {
    oidcc_discovery_endpoint_verification => verification,
}

/// Provider metadata names registered by OpenID Connect Discovery 1.0,
/// RFC 8414, RFC 9207, RP-Initiated Logout and Initiating User Registration.
const KNOWN: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported",
    "request_object_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "authorization_response_iss_parameter_supported",
    "end_session_endpoint",
    "prompt_values_supported",
];

fn strings(doc: &Value, key: &str) -> Vec<String> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is a list"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn verification(db: TestDb) {
    // `Suite::start` has already run the library's discovery, which checks
    // that `issuer` equals the URL it asked and fetches the JWKS.
    let s = Suite::start(&db).await;
    let issuer = &s.app.issuer;
    let res = http()
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert!(!issuer.ends_with('/'));
    assert!(url::Url::parse(issuer).is_ok());
    let unexpected: Vec<&String> = doc
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "unexpected members {unexpected:?}");
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(doc[key], format!("{issuer}{path}"), "{key}");
    }
    // No dynamic registration, so none is advertised.
    assert!(doc.get("registration_endpoint").is_none());
    assert_eq!(strings(&doc, "response_types_supported"), ["code"]);
    assert!(strings(&doc, "subject_types_supported").contains(&"public".into()));
    let algs = strings(&doc, "id_token_signing_alg_values_supported");
    assert!(algs.contains(&"RS256".into()) && !algs.contains(&"none".into()));
    assert!(strings(&doc, "scopes_supported").contains(&"openid".into()));
    for claim in ["sub", "name", "preferred_username", "auth_time"] {
        assert!(strings(&doc, "claims_supported").contains(&claim.into()));
    }
    assert!(strings(&doc, "grant_types_supported").contains(&"authorization_code".into()));
    assert_eq!(
        strings(&doc, "response_modes_supported"),
        ["query", "form_post"]
    );
    assert!(
        strings(&doc, "token_endpoint_auth_methods_supported")
            .contains(&"client_secret_basic".into())
    );
    assert_eq!(doc["claims_parameter_supported"], true);
    // Request objects are refused, so no request-object algorithms are listed.
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert!(
        doc.get("request_object_signing_alg_values_supported")
            .is_none()
    );
    // Every key of the JWKS can sign, names its algorithm and has a kid.
    let keys = s.meta.jwks().keys();
    assert!(!keys.is_empty());
    for k in keys {
        assert!(k.key_id().is_some(), "kid");
        assert!(
            algs.iter()
                .any(|a| serde_json::to_value(k).unwrap()["alg"] == a.as_str()),
            "alg of {:?} advertised",
            k.key_id()
        );
    }
}

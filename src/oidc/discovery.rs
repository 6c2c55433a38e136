//! `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`:
//! what the service implements, and nothing it does not. Built once at start-up.

use serde_json::{Value, json};

use crate::keys::Algorithm;

/// Every endpoint path, relative to the issuer. The route table uses the same constants.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/jwks.json";
    pub const AUTHORIZE: &str = "/authorize";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const REVOKE: &str = "/revoke";
    pub const INTROSPECT: &str = "/introspect";
    pub const END_SESSION: &str = "/logout";
}

/// The features a build of the provider has; discovery advertises exactly these.
#[derive(Debug, Clone)]
pub struct Features {
    pub authorize: bool,
    pub token: bool,
    pub userinfo: bool,
    pub revocation: bool,
    pub introspection: bool,
    pub end_session: bool,
    pub refresh_tokens: bool,
    pub signup: bool,
    pub claims_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
}

/// `path` (from [`paths`]) below the issuer: one slash between them whether
/// or not the issuer ends in one.
pub fn endpoint(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// The path part of the issuer without its trailing slash (`""` at the root):
/// the routes are mounted below it as well as at `/`.
pub fn base_path(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default()
}

pub fn document(issuer: &str, f: &Features) -> Value {
    let url = |p: &str| endpoint(issuer, p);
    let mut doc = json!({
        "issuer": issuer,
        "jwks_uri": url(paths::JWKS),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": Algorithm::ALL.map(|a| a.as_str()),
        "scopes_supported": f.scopes_supported,
        "claims_supported": f.claims_supported,
        // The home page: what the service is, for developers of relying parties.
        "service_documentation": url("/"),
    });
    let o = doc.as_object_mut().expect("object");
    let mut add = |k: &str, v: Value| {
        o.insert(k.into(), v);
    };
    if f.authorize {
        add("authorization_endpoint", url(paths::AUTHORIZE).into());
        add("response_modes_supported", json!(["query", "form_post"]));
        add("code_challenge_methods_supported", json!(["S256"]));
        add(
            "authorization_response_iss_parameter_supported",
            true.into(),
        );
        add("claims_parameter_supported", true.into());
        add("request_parameter_supported", false.into());
        add("request_uri_parameter_supported", false.into());
        let mut prompts = vec!["none", "login", "consent", "select_account"];
        if f.signup {
            prompts.push("create");
        }
        add("prompt_values_supported", json!(prompts));
    }
    if f.token {
        add("token_endpoint", url(paths::TOKEN).into());
        let mut grants = vec!["authorization_code"];
        if f.refresh_tokens {
            grants.push("refresh_token");
        }
        add("grant_types_supported", json!(grants));
        add(
            "token_endpoint_auth_methods_supported",
            json!(["client_secret_basic", "client_secret_post", "none"]),
        );
    }
    if f.userinfo {
        add("userinfo_endpoint", url(paths::USERINFO).into());
    }
    if f.revocation {
        add("revocation_endpoint", url(paths::REVOKE).into());
        add(
            "revocation_endpoint_auth_methods_supported",
            json!(["client_secret_basic", "client_secret_post", "none"]),
        );
    }
    if f.introspection {
        add("introspection_endpoint", url(paths::INTROSPECT).into());
        add(
            "introspection_endpoint_auth_methods_supported",
            json!(["client_secret_basic", "client_secret_post"]),
        );
    }
    if f.end_session {
        add("end_session_endpoint", url(paths::END_SESSION).into());
    }
    doc
}

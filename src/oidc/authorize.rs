//! Parse and validate an authorization request (GET query or POST form) into
//! an [`AuthRequest`], once. Errors come in two kinds, as OpenID Connect
//! demands: before the client and redirect URI are known to be good, the
//! person gets a page ([`AuthorizeError::Page`]) and is never redirected;
//! after, the error goes back to the relying party ([`AuthorizeError::Redirect`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::claims::RequestedClaims;
use super::clients::Client;
use super::error::{ErrorCode, OAuthError};

pub mod endpoint;

/// How the response travels back (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

/// The `prompt` values we understand (OIDC Core §3.1.2.1, Initiating User Registration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
    pub create: bool,
}

/// A validated authorization request; stored with the flow while the person logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    /// Granted scopes in request order: what the client may have, `openid` first.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub ui_locales: Vec<String>,
    /// Claims asked for through the `claims` parameter, per target.
    pub requested_claims: RequestedClaims,
}

impl AuthRequest {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why an authorization request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Unknown client or unregistered redirect URI: a page, never a redirect.
    Page(String),
    /// Back to the (validated) redirect URI with `error`, `state` and `iss`.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Scopes this provider knows; anything else is ignored (RFC 6749 §3.3 lets
/// the server grant fewer scopes than asked, and relying parties such as
/// Grafana always ask for `email`).
pub const KNOWN_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 4096;

/// Raw parameters with duplicates detected (RFC 6749 §3.1: a parameter must
/// not appear more than once).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: HashMap<String, String>,
    duplicated: Option<String>,
}

impl Params {
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut p = Params::default();
        for (k, v) in pairs {
            let k = k.into();
            if p.map.contains_key(&k) && p.duplicated.is_none() {
                p.duplicated = Some(k.clone());
            }
            p.map.insert(k, v.into());
        }
        p
    }

    /// The first parameter that appeared twice, if any.
    pub fn duplicate(&self) -> Option<&str> {
        self.duplicated.as_deref()
    }

    /// A parameter; an empty value counts as absent (OIDC Core §3.1.2.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The client id, before the client is looked up.
pub fn client_id(params: &Params) -> Result<&str, AuthorizeError> {
    params.get("client_id").ok_or_else(|| {
        AuthorizeError::Page("The application did not say who it is (no client_id).".into())
    })
}

/// Validate everything else against the looked-up client. `signup` says
/// whether `prompt=create` is available to this client.
pub fn validate(
    params: &Params,
    client: &Client,
    signup: bool,
) -> Result<AuthRequest, AuthorizeError> {
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.has_redirect_uri(uri) => uri.to_string(),
        Some(_) => {
            return Err(AuthorizeError::Page(format!(
                "The redirect address is not registered for “{}”.",
                client.name
            )));
        }
        // Only an unambiguous registration may be omitted (OAuth 2.1 §2.3.2).
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(AuthorizeError::Page(format!(
                "“{}” did not say where to return (no redirect_uri).",
                client.name
            )));
        }
    };
    let state = params.get("state").map(str::to_string);
    let mode = match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err(format!("response_mode {other:?} is not supported")),
    };
    let response_mode = mode.clone().unwrap_or_default();
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone().filter(|s| s.len() <= MAX_STATE),
        error,
    };
    check(params, client, signup, mode.err(), state.as_deref())
        .map_err(fail)
        .map(|fields| AuthRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.clone(),
            response_mode,
            state: state.clone(),
            ..fields
        })
}

/// Every check that ends in an error redirect; returns the request without
/// client id, redirect URI, mode and state (filled in by the caller).
fn check(
    params: &Params,
    client: &Client,
    signup: bool,
    mode_error: Option<String>,
    state: Option<&str>,
) -> Result<AuthRequest, OAuthError> {
    use ErrorCode::*;
    if let Some(name) = &params.duplicated {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::new(
            RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if let Some(why) = mode_error {
        return Err(OAuthError::invalid_request(why));
    }
    match params.get("response_type") {
        None => return Err(OAuthError::invalid_request("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return Err(OAuthError::invalid_request("state is too long"));
    }
    let requested: Vec<&str> = params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !requested.contains(&"openid") {
        return Err(OAuthError::new(
            InvalidScope,
            "the openid scope is required",
        ));
    }
    let mut scopes = vec!["openid".to_string()];
    for s in requested {
        // `email` exists only as the synthetic address a client opted into.
        let allowed = KNOWN_SCOPES.contains(&s)
            && (client.scopes.iter().any(|c| c == s)
                || (s == "email" && client.settings.synthetic_email));
        if allowed && !scopes.iter().any(|g| g == s) {
            scopes.push(s.to_string());
        }
    }
    let nonce = params.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(OAuthError::invalid_request("nonce is too long"));
    }
    let code_challenge = pkce_challenge(params, client)?;
    let prompt = parse_prompt(params.get("prompt"), signup)?;
    let max_age =
        match params.get("max_age") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                OAuthError::invalid_request("max_age must be a non-negative integer")
            })?),
        };
    let hint = |name: &str| -> Result<Option<String>, OAuthError> {
        match params.get(name) {
            Some(v) if v.len() > MAX_HINT => {
                Err(OAuthError::invalid_request(format!("{name} is too long")))
            }
            v => Ok(v.map(str::to_string)),
        }
    };
    let ui_locales = params
        .get("ui_locales")
        .unwrap_or("")
        .split(' ')
        .filter(|l| !l.is_empty() && l.len() <= 35)
        .take(10)
        .map(str::to_string)
        .collect();
    Ok(AuthRequest {
        client_id: String::new(),
        redirect_uri: String::new(),
        response_mode: ResponseMode::Query,
        scopes,
        state: None,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: hint("login_hint")?,
        id_token_hint: hint("id_token_hint")?,
        ui_locales,
        requested_claims: parse_claims(params.get("claims"))?,
    })
}

/// PKCE (RFC 7636): S256 only; required where the client's settings say so.
fn pkce_challenge(params: &Params, client: &Client) -> Result<Option<String>, OAuthError> {
    let challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    match (challenge, method) {
        (None, None) if client.settings.require_pkce || client.public => {
            Err(OAuthError::invalid_request(
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ))
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        (Some(_), None | Some("plain")) => Err(OAuthError::invalid_request(
            "only code_challenge_method=S256 is supported",
        )),
        (Some(c), Some("S256")) if is_s256_challenge(c) => Ok(Some(c.to_string())),
        (Some(_), Some("S256")) => Err(OAuthError::invalid_request(
            "code_challenge must be 43 base64url characters (S256)",
        )),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "only code_challenge_method=S256 is supported",
        )),
    }
}

/// An S256 challenge is BASE64URL(SHA-256(verifier)) without padding: 43 characters.
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_prompt(value: Option<&str>, signup: bool) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    let Some(value) = value else { return Ok(p) };
    for v in value.split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => p.select_account = true,
            "create" if signup => p.create = true,
            "create" => {
                return Err(OAuthError::invalid_request(
                    "account creation is not available here",
                ));
            }
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unknown prompt value {other:?}"
                )));
            }
        }
    }
    if p.none && (p.login || p.consent || p.select_account || p.create) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// The `claims` parameter (OIDC Core §5.5): we honour the names asked for in
/// `id_token` and `userinfo`, each for its own target, essential or voluntary.
fn parse_claims(value: Option<&str>) -> Result<RequestedClaims, OAuthError> {
    let mut asked = RequestedClaims::default();
    let Some(text) = value else {
        return Ok(asked);
    };
    let bad = || OAuthError::invalid_request("claims must be a JSON object (OIDC Core 5.5)");
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let obj = v.as_object().ok_or_else(bad)?;
    for (target, names) in [
        ("id_token", &mut asked.id_token),
        ("userinfo", &mut asked.userinfo),
    ] {
        match obj.get(target) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(m)) => names.extend(m.keys().take(64).cloned()),
            Some(_) => return Err(bad()),
        }
    }
    Ok(asked)
}

#[cfg(test)]
mod tests;

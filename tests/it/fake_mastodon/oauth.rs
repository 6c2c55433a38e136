//! The OAuth server: `/oauth/authorize` (pre-authorization checks, automatic
//! approval, the HTML login-and-consent form), `/oauth/token`,
//! `/oauth/revoke`, `/oauth/userinfo` and RFC 8414 metadata (spec §3).

use actix_web::HttpResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::accounts::{actor_uri, avatar_url, profile_url};
use super::html;
use super::model::{
    AccountState, App, Code, FakeUser, State, Token, random_token, same_set, split_scopes,
};
use super::profile::Profile;
use super::reply;
use super::request::Call;
use super::{LoginMode, absolute};

const CODE_LIFETIME: i64 = 600;
const DENIED: &str = "The resource owner or authorization server denied the request.";

/// The validated authorization request (Doorkeeper's PreAuthorization).
#[derive(Debug, Clone)]
pub struct PreAuth {
    pub client_id: String,
    pub app_name: String,
    pub redirect_uri: String,
    pub response_type: String,
    pub scopes: Vec<String>,
    pub state: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
}

/// Runs the pre-authorization checks in Doorkeeper's order.
fn pre_authorize(st: &State, call: &Call) -> Result<PreAuth, HttpResponse> {
    let profile = st.config.profile;
    let fail = |error: &str, description: &str| {
        Err(html::error_page(
            profile.authorize_error_status(error),
            error,
            description,
        ))
    };
    let p = |k: &str| call.param(k).unwrap_or_default().to_owned();
    let client_id = p("client_id");
    if client_id.is_empty() {
        return fail("invalid_request", "Missing required parameter: client_id.");
    }
    let Some(app) = st.app(&client_id) else {
        return fail("invalid_client", reply::INVALID_CLIENT);
    };
    let redirect_uri = p("redirect_uri");
    if redirect_uri.is_empty() || !redirect_registered(profile, app, &redirect_uri) {
        return fail(
            "invalid_redirect_uri",
            "The redirect uri included is not valid.",
        );
    }
    let response_type = p("response_type");
    if response_type.is_empty() {
        return fail(
            "invalid_request",
            "Missing required parameter: response_type.",
        );
    }
    if response_type != "code" {
        return fail(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        );
    }
    let scopes = match call.param("scope") {
        Some(s) if !s.trim().is_empty() => scope_list(profile, s),
        // Default: Doorkeeper's default scope (`read`) if the app has it.
        _ => app
            .scopes
            .iter()
            .filter(|s| *s == "read")
            .cloned()
            .collect(),
    };
    let known = |s: &String| !profile.is_mastodon() || profile.scopes().contains(&s.as_str());
    if scopes.is_empty()
        || !scopes
            .iter()
            .all(|s| known(s) && profile.scope_covers(&app.scopes, s))
    {
        return fail("invalid_scope", reply::INVALID_SCOPE);
    }
    let mut pre = PreAuth {
        client_id,
        app_name: app.name.clone(),
        redirect_uri,
        response_type,
        scopes,
        state: p("state"),
        code_challenge: String::new(),
        code_challenge_method: String::new(),
    };
    if profile.supports_pkce() {
        pre.code_challenge = p("code_challenge");
        pre.code_challenge_method = p("code_challenge_method");
        if !pre.code_challenge.is_empty() && pre.code_challenge_method != "S256" {
            return fail(
                "invalid_code_challenge_method",
                "The code challenge method must be S256, plain is unsupported.",
            );
        }
    }
    Ok(pre)
}

/// Doorkeeper's URIChecker (GoToSocial: exact string match).
fn redirect_registered(profile: Profile, app: &App, requested: &str) -> bool {
    app.redirect_uris().iter().any(|reg| {
        if profile == Profile::GoToSocial {
            return reg == requested;
        }
        if reg == requested {
            return true;
        }
        let (Ok(r), Ok(q)) = (url::Url::parse(reg), url::Url::parse(requested)) else {
            return false;
        };
        let loopback_ip = matches!(r.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(r.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        let same_base = r.scheme() == q.scheme()
            && r.host() == q.host()
            && (loopback_ip || r.port_or_known_default() == q.port_or_known_default())
            && r.path() == q.path();
        let reg_pairs: Vec<(String, String)> = r.query_pairs().into_owned().collect();
        let req_pairs: Vec<(String, String)> = q.query_pairs().into_owned().collect();
        same_base && reg_pairs.iter().all(|p| req_pairs.contains(p))
    })
}

pub fn authorize_get(st: &mut State, call: &Call) -> HttpResponse {
    let pre = match pre_authorize(st, call) {
        Ok(p) => p,
        Err(page) => return page,
    };
    let force_login = matches!(call.param("force_login"), Some("true" | "1" | "on"));
    let signed_in = signed_in_user(st);
    let form = |who: Option<&str>| html::authorize_form(&pre, who, &st.config.local_domain, None);
    let Some(user) = signed_in else {
        return form(None);
    };
    // `require_functional!` runs before the consent logic.
    if user.state != AccountState::Active {
        return approve(st, &pre, &user.id, user.state);
    }
    let skip_consent = match st.config.login {
        LoginMode::AutoApprove(_) => !force_login,
        // Doorkeeper skips consent only for an existing matching token.
        LoginMode::SignedIn(_) => {
            !force_login
                && st.tokens.iter().any(|t| {
                    !t.revoked
                        && t.client_id == pre.client_id
                        && t.user_id.as_deref() == Some(user.id.as_str())
                        && same_set(&t.scopes, &pre.scopes)
                })
        }
        LoginMode::Interactive => false,
    };
    if skip_consent {
        approve(st, &pre, &user.id, user.state)
    } else {
        form(Some(&user.username))
    }
}

/// The user the browser is signed in as, if the login mode has one.
fn signed_in_user(st: &State) -> Option<FakeUser> {
    match &st.config.login {
        LoginMode::AutoApprove(name) | LoginMode::SignedIn(name) => st.user_by_name(name).cloned(),
        LoginMode::Interactive => None,
    }
}

/// The HTML form's POST (approve or deny) and `DELETE /oauth/authorize`.
pub fn authorize_post(st: &mut State, call: &Call) -> HttpResponse {
    let pre = match pre_authorize(st, call) {
        Ok(p) => p,
        Err(page) => return page,
    };
    let deny = call.method == "DELETE"
        || call.param("_method") == Some("delete")
        || call.param("decision") == Some("deny");
    if deny {
        let mut pairs = vec![
            ("error", "access_denied".to_owned()),
            ("error_description", DENIED.to_owned()),
        ];
        if !pre.state.is_empty() {
            pairs.push(("state", pre.state.clone()));
        }
        return reply::redirect(302, &with_query(&pre.redirect_uri, &pairs));
    }
    let username = call.param("username").unwrap_or_default();
    let password = call.param("password").unwrap_or_default();
    // Blank credentials mean "approve as the signed-in user" (consent page).
    let user = if username.is_empty() {
        signed_in_user(st)
    } else {
        st.users
            .iter()
            .find(|u| {
                (u.username.eq_ignore_ascii_case(username)
                    || u.email.eq_ignore_ascii_case(username))
                    && u.password == password
                    && !password.is_empty()
            })
            .cloned()
    };
    match user {
        Some(u) => approve(st, &pre, &u.id, u.state),
        None => html::authorize_form(
            &pre,
            signed_in_user(st).as_ref().map(|u| u.username.as_str()),
            &st.config.local_domain,
            Some("Invalid username or password."),
        ),
    }
}

/// Issues a code and redirects, unless the user is not functional, in which
/// case Mastodon keeps the browser on its own pages (no callback).
fn approve(st: &mut State, pre: &PreAuth, user_id: &str, state: AccountState) -> HttpResponse {
    match state {
        AccountState::Active => {}
        AccountState::Unconfirmed => {
            return reply::redirect(302, &absolute(&st.config, "/auth/setup"));
        }
        _ => return reply::redirect(302, &absolute(&st.config, "/auth/edit")),
    }
    let code = Code {
        code: random_token(),
        client_id: pre.client_id.clone(),
        user_id: user_id.to_owned(),
        redirect_uri: pre.redirect_uri.clone(),
        scopes: pre.scopes.clone(),
        challenge: (!pre.code_challenge.is_empty()).then(|| pre.code_challenge.clone()),
        created_at: st.now(),
        used: false,
    };
    let mut pairs = vec![("code", code.code.clone())];
    if !pre.state.is_empty() {
        pairs.push(("state", pre.state.clone()));
    }
    st.codes.push(code);
    reply::redirect(302, &with_query(&pre.redirect_uri, &pairs))
}

/// Appends parameters to a redirect URI, keeping its own query.
fn with_query(base: &str, pairs: &[(&str, String)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => {
            let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}{q}")
        }
    }
}

/// The authenticated client, from HTTP Basic (where allowed) or the body.
fn client<'a>(st: &'a State, call: &Call, allow_basic: bool) -> Option<&'a App> {
    let (id, secret) = match call.basic().filter(|_| allow_basic) {
        Some(c) => c,
        None => (
            call.param("client_id")?.to_owned(),
            call.param("client_secret")?.to_owned(),
        ),
    };
    st.app(&id).filter(|a| a.client_secret == secret)
}

pub fn token(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let grant_type = call.param("grant_type").unwrap_or_default().to_owned();
    if grant_type.is_empty() {
        return reply::missing_param("grant_type");
    }
    if !profile.grant_types().contains(&grant_type.as_str()) {
        return reply::oauth_error(400, "unsupported_grant_type", reply::UNSUPPORTED_GRANT);
    }
    // GoToSocial binds redirect_uri as required for every grant.
    if profile == Profile::GoToSocial && call.param("redirect_uri").is_none_or(str::is_empty) {
        return reply::missing_param("redirect_uri");
    }
    match grant_type.as_str() {
        "authorization_code" => code_grant(st, call),
        "client_credentials" => client_credentials(st, call),
        _ => password_grant(st, call),
    }
}

fn code_grant(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let now = st.now();
    let code_param = call.param("code").unwrap_or_default();
    let verifier = call.param("code_verifier").unwrap_or_default();
    let redirect_uri = call.param("redirect_uri").unwrap_or_default();
    let grant_idx = st.codes.iter().position(|c| c.code == code_param);
    let uses_pkce =
        profile.supports_pkce() && grant_idx.is_some_and(|i| st.codes[i].challenge.is_some());
    if uses_pkce && verifier.is_empty() {
        return reply::missing_param("code_verifier");
    }
    if redirect_uri.is_empty() {
        return reply::missing_param("redirect_uri");
    }
    let Some(app) = client(st, call, profile.token_accepts_basic()).cloned() else {
        return reply::oauth_error(401, "invalid_client", reply::INVALID_CLIENT);
    };
    let invalid_grant = || reply::oauth_error(400, "invalid_grant", reply::INVALID_GRANT);
    let Some(i) = grant_idx else {
        return invalid_grant();
    };
    let code = st.codes[i].clone();
    if code.used || code.client_id != app.client_id || now - code.created_at >= CODE_LIFETIME {
        return invalid_grant();
    }
    if code.redirect_uri != redirect_uri {
        return invalid_grant();
    }
    if profile.supports_pkce() {
        let ok = match &code.challenge {
            Some(ch) => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *ch,
            // A verifier for a code issued without a challenge is refused.
            None => verifier.is_empty(),
        };
        if !ok {
            return invalid_grant();
        }
    }
    st.codes[i].used = true;
    let t = st.find_or_create_token(&app.client_id, Some(&code.user_id), &code.scopes);
    token_response(&t)
}

fn client_credentials(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let Some(app) = client(st, call, profile.token_accepts_basic()).cloned() else {
        return reply::oauth_error(401, "invalid_client", reply::INVALID_CLIENT);
    };
    let scopes = match requested_scopes(profile, &app, call.param("scope")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = st.find_or_create_token(&app.client_id, None, &scopes);
    token_response(&t)
}

/// A `scope` parameter's scopes: GoToSocial reads a literal `+` as a space
/// (spec §7), Doorkeeper only whitespace.
fn scope_list(profile: Profile, s: &str) -> Vec<String> {
    if profile == Profile::GoToSocial {
        split_scopes(&s.replace('+', " "))
    } else {
        split_scopes(s)
    }
}

/// `scope` param (or the default `read`) checked against the app's scopes.
fn requested_scopes(
    profile: Profile,
    app: &App,
    scope: Option<&str>,
) -> Result<Vec<String>, HttpResponse> {
    let scopes = match scope {
        Some(s) if !s.trim().is_empty() => scope_list(profile, s),
        _ => app
            .scopes
            .iter()
            .filter(|s| *s == "read")
            .cloned()
            .collect(),
    };
    if scopes.is_empty() || !scopes.iter().all(|s| profile.scope_covers(&app.scopes, s)) {
        return Err(reply::oauth_error(
            400,
            "invalid_scope",
            reply::INVALID_SCOPE,
        ));
    }
    Ok(scopes)
}

/// Resource-owner password grant (Mastodon ≤ 4.3): e-mail + password.
fn password_grant(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let Some(app) = client(st, call, true).cloned() else {
        return reply::oauth_error(401, "invalid_client", reply::INVALID_CLIENT);
    };
    let username = call.param("username").unwrap_or_default();
    let password = call.param("password").unwrap_or_default();
    let Some(user) = st
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(username) && u.password == password)
        .cloned()
    else {
        return reply::oauth_error(400, "invalid_grant", reply::INVALID_GRANT);
    };
    let scopes = match requested_scopes(profile, &app, call.param("scope")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = st.find_or_create_token(&app.client_id, Some(&user.id), &scopes);
    token_response(&t)
}

fn token_response(t: &Token) -> HttpResponse {
    let mut r = reply::ok(json!({
        "access_token": t.token,
        "token_type": "Bearer",
        "scope": t.scopes.join(" "),
        "created_at": t.created_at,
    }));
    let h = r.headers_mut();
    h.insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(
        actix_web::http::header::PRAGMA,
        actix_web::http::header::HeaderValue::from_static("no-cache"),
    );
    r
}

pub fn revoke(st: &mut State, call: &Call) -> HttpResponse {
    let unauthorized = || {
        reply::oauth_error(
            403,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        )
    };
    let Some(app) = client(st, call, true).cloned() else {
        return unauthorized();
    };
    let token = call.param("token").unwrap_or_default();
    match st.tokens.iter_mut().find(|t| t.token == token) {
        None => reply::ok(json!({})),
        Some(t) if t.client_id != app.client_id => unauthorized(),
        Some(t) => {
            t.revoked = true;
            reply::ok(json!({}))
        }
    }
}

/// `/oauth/userinfo` (4.4+): needs the literal `profile` scope and a user.
pub fn userinfo(st: &State, call: &Call) -> HttpResponse {
    if !st.config.profile.has_userinfo() {
        return reply::not_found();
    }
    let (token, user) = match super::accounts::authenticate(st, call, &["profile"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let _ = token;
    reply::ok(json!({
        "iss": absolute(&st.config, "/"),
        "sub": actor_uri(&st.config, &user),
        "name": user.display_name,
        "preferred_username": user.username,
        "profile": profile_url(&st.config, &user),
        "picture": avatar_url(&st.config, &user),
    }))
}

/// RFC 8414 metadata (4.3+; 404 before and on GoToSocial).
pub fn metadata(st: &State) -> HttpResponse {
    let profile = st.config.profile;
    if !profile.has_oauth_metadata() {
        return reply::not_found();
    }
    let c = &st.config;
    let mut v: Value = json!({
        "issuer": absolute(c, "/"),
        "authorization_endpoint": absolute(c, "/oauth/authorize"),
        "token_endpoint": absolute(c, "/oauth/token"),
        "revocation_endpoint": absolute(c, "/oauth/revoke"),
        "scopes_supported": profile.scopes(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": profile.grant_types(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "service_documentation": "https://docs.joinmastodon.org/",
        "app_registration_endpoint": absolute(c, "/api/v1/apps"),
    });
    if profile.has_userinfo() {
        v["userinfo_endpoint"] = json!(absolute(c, "/oauth/userinfo"));
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}

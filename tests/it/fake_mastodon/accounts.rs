//! Accounts: bearer-token authentication with Mastodon's error precedence
//! (spec §4), `verify_credentials`, sign-up and e-mail confirmation (§5).

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::model::{AccountState, FakeUser, State, Token, random_token};
use super::profile::Profile;
use super::reply;
use super::request::Call;
use super::{FakeConfig, absolute};

pub fn actor_uri(c: &FakeConfig, u: &FakeUser) -> String {
    if c.numeric_actor_uris {
        absolute(c, &format!("/ap/users/{}", u.id))
    } else {
        absolute(c, &format!("/users/{}", u.username))
    }
}

pub fn profile_url(c: &FakeConfig, u: &FakeUser) -> String {
    absolute(c, &format!("/@{}", u.username))
}

pub fn avatar_url(c: &FakeConfig, u: &FakeUser) -> String {
    u.avatar
        .clone()
        .unwrap_or_else(|| absolute(c, "/avatars/original/missing.png"))
}

/// Unix seconds → `2022-11-15T00:00:00.000Z`.
pub fn iso_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Api::BaseController's checks in order: suspended owner first (even with
/// the wrong scope), then token validity, scope, user presence, functional.
pub fn authenticate(
    st: &State,
    call: &Call,
    any_of: &[&str],
) -> Result<(Token, FakeUser), HttpResponse> {
    let profile = st.config.profile;
    let found = call
        .bearer()
        .and_then(|t| st.token(t))
        .filter(|t| st.app(&t.client_id).is_some());
    let owner = found
        .and_then(|t| t.user_id.as_deref())
        .and_then(|id| st.user(id));
    if owner.is_some_and(|u| u.state == AccountState::Suspended) {
        return Err(reply::api_error(403, reply::LOGIN_DISABLED));
    }
    let Some(token) = found else {
        return Err(reply::invalid_token(false));
    };
    if token.revoked {
        return Err(reply::invalid_token(true));
    }
    if !any_of
        .iter()
        .any(|s| profile.scope_covers(&token.scopes, s))
    {
        return Err(reply::api_error(403, reply::OUTSIDE_SCOPES));
    }
    let Some(user) = owner else {
        return Err(reply::api_error(
            422,
            "This method requires an authenticated user",
        ));
    };
    let msg = match user.state {
        AccountState::Active => return Ok((token.clone(), user.clone())),
        AccountState::Unconfirmed => "Your login is missing a confirmed e-mail address",
        AccountState::Pending => "Your login is currently pending approval",
        _ => reply::LOGIN_DISABLED,
    };
    Err(reply::api_error(403, msg))
}

pub fn verify_credentials(st: &State, call: &Call) -> HttpResponse {
    let scopes = st.config.profile.verify_credentials_scopes();
    match authenticate(st, call, scopes) {
        Ok((_, user)) => reply::ok(account_json(&st.config, &user)),
        Err(r) => r,
    }
}

/// CredentialAccount as the profile's version serializes it.
pub fn account_json(c: &FakeConfig, u: &FakeUser) -> Value {
    let profile = c.profile;
    let avatar = avatar_url(c, u);
    let header = absolute(c, "/headers/original/missing.png");
    let mut source = json!({
        "privacy": "public", "sensitive": false, "language": "", "note": "",
        "fields": [], "follow_requests_count": 0,
        "hide_collections": false, "discoverable": true, "indexable": false,
    });
    let mut v = json!({
        "id": u.id, "username": u.username, "acct": u.username,
        "display_name": u.display_name, "locked": u.locked, "bot": u.bot,
        "discoverable": true, "group": false,
        "created_at": "2022-11-15T00:00:00.000Z",
        "note": "", "url": profile_url(c, u),
        "avatar": avatar, "avatar_static": avatar,
        "header": header, "header_static": header,
        "followers_count": 0, "following_count": 0, "statuses_count": 0,
        "last_status_at": null, "noindex": false,
        "emojis": [], "roles": [], "fields": [],
        "role": {"id": if u.role.is_empty() { "-99" } else { "3" }, "name": u.role,
                 "permissions": "65536", "color": "", "highlighted": false},
    });
    match profile {
        // GoToSocial's account entity has no `uri`.
        Profile::GoToSocial => {}
        _ => v["uri"] = json!(actor_uri(c, u)),
    }
    if profile.at_least_43() {
        v["indexable"] = json!(false);
        v["hide_collections"] = json!(false);
    }
    if profile == Profile::Mastodon44 {
        source["attribution_domains"] = json!([]);
    }
    v["source"] = source;
    v
}

fn signed_up_id(st: &State) -> String {
    format!("{}", 110_000_000_000_000_000u64 + st.next_id)
}

/// `POST /api/v1/accounts`, behind Rack::Attack's 5 / 30 min throttle.
pub fn sign_up(st: &mut State, call: &Call) -> HttpResponse {
    if !st.config.profile.is_mastodon() {
        return create_account(st, call);
    }
    let now = st.now();
    match st.signup_throttle.hit(now) {
        Ok(w) => super::throttle::with_headers(create_account(st, call), w),
        Err(r) => r,
    }
}

fn create_account(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let Some(token) = call.bearer().and_then(|t| st.token(t)).cloned() else {
        return reply::invalid_token(false);
    };
    if token.revoked {
        return reply::invalid_token(true);
    }
    let Some(app) = st.app(&token.client_id).cloned() else {
        return reply::invalid_token(false);
    };
    if !["write", "write:accounts"]
        .iter()
        .any(|s| profile.scope_covers(&token.scopes, s))
    {
        return reply::api_error(403, reply::OUTSIDE_SCOPES);
    }
    if profile.signup_requires_app_token() && token.user_id.is_some() {
        return reply::api_error(
            403,
            "This method requires an client credentials authentication",
        );
    }
    let reg = st.config.registrations.clone();
    if !reg.enabled {
        return reply::api_error(403, "Forbidden");
    }
    let p = |k: &str| call.param(k).unwrap_or_default().trim().to_owned();
    let (username, email, password) = (p("username"), p("email"), p("password"));
    let mut errors: Vec<(&str, &str, &str, String)> = Vec::new();
    let mut err = |field: &'static str, label: &'static str, code: &'static str, d: &str| {
        errors.push((field, label, code, d.to_owned()));
    };
    if email.is_empty() {
        err("email", "E-mail address", "ERR_BLANK", "can't be blank");
    } else if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        err("email", "E-mail address", "ERR_INVALID", "is invalid");
    } else if email.chars().count() > 320 {
        err(
            "email",
            "E-mail address",
            "ERR_TOO_LONG",
            "is too long (maximum is 320 characters)",
        );
    } else if st
        .users
        .iter()
        .any(|u| u.email.eq_ignore_ascii_case(&email))
    {
        err(
            "email",
            "E-mail address",
            "ERR_TAKEN",
            "has already been taken",
        );
    } else {
        let domain = email
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if st.config.blocked_email_domains.contains(&domain) {
            err(
                "email",
                "E-mail address",
                "ERR_BLOCKED",
                "uses a disallowed e-mail provider",
            );
        } else if domain.ends_with(".invalid") {
            // EmailMxValidator: no MX, A or AAAA record (RFC 2606 names never resolve).
            err(
                "email",
                "E-mail address",
                "ERR_UNREACHABLE",
                "does not seem to exist",
            );
        }
    }
    if password.is_empty() {
        err("password", "Password", "ERR_BLANK", "can't be blank");
    } else if password.chars().count() < 8 {
        err(
            "password",
            "Password",
            "ERR_TOO_SHORT",
            "is too short (minimum is 8 characters)",
        );
    } else if password.chars().count() > 72 {
        err(
            "password",
            "Password",
            "ERR_TOO_LONG",
            "is too long (maximum is 72 characters)",
        );
    }
    const RESERVED: &[&str] = &[
        "admin",
        "support",
        "help",
        "root",
        "webmaster",
        "administrator",
        "mod",
        "moderator",
    ];
    if username.is_empty() {
        err("username", "Username", "ERR_BLANK", "can't be blank");
    } else if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        err(
            "username",
            "Username",
            "ERR_INVALID",
            "must contain only letters, numbers and underscores",
        );
    } else if username.chars().count() > 30 {
        err(
            "username",
            "Username",
            "ERR_TOO_LONG",
            "is too long (maximum is 30 characters)",
        );
    } else if st.user_by_name(&username).is_some() {
        err(
            "username",
            "Username",
            "ERR_TAKEN",
            "has already been taken",
        );
    } else if RESERVED.contains(&username.to_ascii_lowercase().as_str()) {
        err("username", "Username", "ERR_RESERVED", "is reserved");
    }
    if !matches!(call.param("agreement"), Some("true" | "1")) {
        err(
            "agreement",
            "Service agreement",
            "ERR_ACCEPTED",
            "must be accepted",
        );
    }
    if reg.approval_required && reg.reason_required && p("reason").is_empty() {
        err("reason", "Reason", "ERR_BLANK", "can't be blank");
    } else if p("reason").chars().count() > 420 {
        err(
            "reason",
            "Reason",
            "ERR_TOO_LONG",
            "is too long (maximum is 420 characters)",
        );
    }
    // 4.4+ only: min_age and date_of_birth do not exist before.
    if let Some(min_age) = reg.min_age.filter(|_| profile == Profile::Mastodon44) {
        match birth_date(&p("date_of_birth")) {
            // Rails casts an unreadable date to nil: "can't be blank".
            None => err(
                "date_of_birth",
                "Date of birth",
                "ERR_BLANK",
                "can't be blank",
            ),
            Some(born) if age_at(born, st.now()) < min_age as i32 => err(
                "date_of_birth",
                "Date of birth",
                "ERR_BELOW_LIMIT",
                "is below the age limit",
            ),
            Some(_) => {}
        }
    }
    let locale = p("locale");
    if !locale.is_empty() && !st.config.ui_locales.contains(&locale) {
        err(
            "locale",
            "Locale",
            "ERR_INCLUSION",
            "is not included in the list",
        );
    }
    if !errors.is_empty() {
        if profile == Profile::GoToSocial {
            let (_, label, _, d) = &errors[0];
            return reply::api_error(400, &format!("Bad Request: {label} {d}"));
        }
        let full: Vec<String> = errors
            .iter()
            .map(|(_, label, _, d)| format!("{label} {d}"))
            .collect();
        let mut details = serde_json::Map::new();
        for (field, _, code, d) in &errors {
            let entry = details
                .entry(field.to_string())
                .or_insert_with(|| json!([]));
            if let Some(a) = entry.as_array_mut() {
                a.push(json!({ "error": code, "description": d }));
            }
        }
        return reply::json(
            422,
            json!({
                "error": format!("Validation failed: {}", full.join(", ")),
                "details": details,
            }),
        );
    }
    let id = signed_up_id(st);
    st.next_id += 1;
    let mut user = FakeUser::new(&id, &username).with_state(AccountState::Unconfirmed);
    user.email = email;
    user.password = password;
    st.users.push(user);
    st.created_by.insert(id.clone(), app.client_id.clone());
    st.needs_approval.insert(id.clone(), reg.approval_required);
    st.confirmations
        .insert(random_token(), (id.clone(), app.client_id.clone()));
    // The new user's token carries all of the app's scopes.
    let t = st.find_or_create_token(&app.client_id, Some(&id), &app.scopes);
    reply::ok(json!({
        "access_token": t.token, "token_type": "Bearer",
        "scope": t.scopes.join(" "), "created_at": t.created_at,
    }))
}

/// `YYYY-MM-DD` or `DD.MM.YYYY`, both accepted by Mastodon (spec §5).
fn birth_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .ok()
}

/// Whole years from `born` to the unix time `now`.
fn age_at(born: chrono::NaiveDate, now: i64) -> i32 {
    use chrono::Datelike;
    let Some(today) = chrono::DateTime::from_timestamp(now, 0).map(|d| d.date_naive()) else {
        return 0;
    };
    let mut years = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

/// Token → its unconfirmed-tolerant user (the e-mail endpoints skip
/// `require_functional!`).
fn email_user(st: &State, call: &Call) -> Result<(Token, FakeUser), HttpResponse> {
    let Some(token) = call.bearer().and_then(|t| st.token(t)).cloned() else {
        return Err(reply::invalid_token(false));
    };
    if token.revoked {
        return Err(reply::invalid_token(true));
    }
    let Some(user) = token.user_id.as_deref().and_then(|id| st.user(id)).cloned() else {
        return Err(reply::api_error(
            422,
            "This method requires an authenticated user",
        ));
    };
    Ok((token, user))
}

/// `POST /api/v1/emails/confirmations` (resend).
pub fn resend_confirmation(st: &mut State, call: &Call) -> HttpResponse {
    let (token, user) = match email_user(st, call) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !["write", "write:accounts"]
        .iter()
        .any(|s| st.config.profile.scope_covers(&token.scopes, s))
    {
        return reply::api_error(403, reply::OUTSIDE_SCOPES);
    }
    if st.created_by.get(&user.id) != Some(&token.client_id) {
        return reply::api_error(
            403,
            "This method is only available to the application the user originally signed-up with",
        );
    }
    if user.state != AccountState::Unconfirmed {
        return reply::api_error(
            403,
            "This method is only available while the e-mail is awaiting confirmation",
        );
    }
    if let Some(email) = call.param("email").filter(|e| !e.is_empty())
        && let Some(u) = st.users.iter_mut().find(|u| u.id == user.id)
    {
        u.email = email.to_owned();
    }
    reply::ok(json!({}))
}

/// `GET /api/v1/emails/check_confirmation` → bare `true` / `false`.
pub fn check_confirmation(st: &State, call: &Call) -> HttpResponse {
    match email_user(st, call) {
        Ok((_, user)) => reply::ok(json!(user.state != AccountState::Unconfirmed)),
        Err(r) => r,
    }
}

/// The e-mailed link: confirms, then 302 to the app's first redirect URI
/// (no query) when `redirect_to_app=true`.
pub fn confirm_link(st: &mut State, call: &Call) -> HttpResponse {
    let token = call.query_param("confirmation_token").unwrap_or_default();
    let Some((user_id, client_id)) = st.confirmations.remove(token) else {
        return super::html::error_page(200, "invalid", "Confirmation token is invalid");
    };
    let pending = st.needs_approval.get(&user_id).copied().unwrap_or(false);
    if let Some(u) = st.users.iter_mut().find(|u| u.id == user_id) {
        u.state = if pending {
            AccountState::Pending
        } else {
            AccountState::Active
        };
    }
    let first = st
        .app(&client_id)
        .and_then(|a| a.redirect_uri.lines().next().map(|l| l.trim().to_owned()));
    match first {
        Some(uri) if call.query_param("redirect_to_app") == Some("true") => {
            reply::redirect(302, &uri)
        }
        _ => reply::redirect(302, &absolute(&st.config, "/auth/sign_in")),
    }
}

/// The link of the confirmation e-mail a signed-up user got.
pub fn confirmation_link(st: &State, username: &str) -> Option<String> {
    let user = st.user_by_name(username)?;
    let (token, _) = st
        .confirmations
        .iter()
        .find(|(_, (id, _))| *id == user.id)?;
    Some(absolute(
        &st.config,
        &format!("/auth/confirmation?confirmation_token={token}&redirect_to_app=true"),
    ))
}

/// `GET /_fake/outbox/{username}`: the fake's mail catcher, for tests that
/// drive a browser and must "open the e-mail". Not a Mastodon route.
pub fn outbox(st: &State, username: &str) -> HttpResponse {
    match confirmation_link(st, username) {
        Some(link) => HttpResponse::Ok().content_type("text/plain").body(link),
        None => reply::not_found(),
    }
}

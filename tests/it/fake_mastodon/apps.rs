//! `POST /api/v1/apps` (validation, per-version shapes, 5 / 10 min throttle)
//! and `GET /api/v1/apps/verify_credentials` (spec §1, §2, §7).

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::model::{App, State, random_token, split_scopes};
use super::profile::Profile;
use super::reply;
use super::request::Call;
use super::throttle;

pub fn create(st: &mut State, call: &Call) -> HttpResponse {
    let profile = st.config.profile;
    let now = st.now();
    if profile == Profile::GoToSocial {
        return create_gts(st, call);
    }
    // Rejected (422) registrations count too: the throttle sees requests.
    let window = match st.apps_throttle.hit(now) {
        Ok(w) => w,
        Err(r) => return r,
    };
    throttle::with_headers(create_mastodon(st, call, now), window)
}

fn create_mastodon(st: &mut State, call: &Call, now: i64) -> HttpResponse {
    let profile = st.config.profile;

    let name = call.param("client_name").unwrap_or_default().to_owned();
    // `permit` keeps arrays only on 4.3+; on 4.2 they vanish → blank.
    let redirect_uri = match call.param("redirect_uris") {
        Some(s) => s.to_owned(),
        None if profile.accepts_array_redirect_uris() => call
            .array("redirect_uris")
            .map(|v| v.join("\n"))
            .unwrap_or_default(),
        None => String::new(),
    };
    // An array `scopes` is dropped by `permit` → default `read` (bug #30152).
    let scopes_raw = call.param("scopes").unwrap_or("read").to_owned();
    let scopes = split_scopes(&scopes_raw);
    let website = call.param("website").filter(|w| !w.is_empty());

    let mut errors: Vec<String> = Vec::new();
    if name.trim().is_empty() {
        errors.push("Application name can't be blank".into());
    }
    errors.extend(redirect_errors(&redirect_uri));
    if scopes_raw.contains(['\n', '\r', '\t'])
        || scopes
            .iter()
            .any(|s| !profile.scopes().contains(&s.as_str()))
    {
        let msg = "Scopes doesn't match configured on the server.";
        errors.push(msg.into());
    }
    if name.chars().count() > 60 {
        errors.push("Application name is too long (maximum is 60 characters)".into());
    }
    if redirect_uri.chars().count() > 2000 {
        errors.push("Redirect URI is too long (maximum is 2000 characters)".into());
    }
    if let Some(w) = website {
        let valid = url::Url::parse(w)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid {
            errors.push("Application website is not a valid URL".into());
        }
        if w.chars().count() > 2000 {
            errors.push("Application website is too long (maximum is 2000 characters)".into());
        }
    }
    if !errors.is_empty() {
        return reply::api_error(422, &format!("Validation failed: {}", errors.join(", ")));
    }

    let app = App {
        id: st.new_id(),
        name,
        website: website.map(str::to_owned),
        redirect_uri,
        scopes,
        client_id: random_token(),
        client_secret: random_token(),
        created_at: now,
    };
    st.apps.push(app.clone());
    reply::ok(credential_json(profile, &app))
}

/// Doorkeeper's RedirectUriValidator messages, once per failing kind.
fn redirect_errors(raw: &str) -> Vec<String> {
    let mut errs: Vec<&str> = Vec::new();
    if raw.trim().is_empty() {
        errs.push("can't be blank");
    }
    for uri in raw.split_whitespace() {
        if uri == "urn:ietf:wg:oauth:2.0:oob" {
            continue;
        }
        let msg = match url::Url::parse(uri) {
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                if uri.contains(':') {
                    "must specify a scheme."
                } else {
                    "must be an absolute URI."
                }
            }
            Err(_) => "must be a valid URI.",
            Ok(u) if matches!(u.scheme(), "data" | "vbscript" | "javascript") => {
                "is forbidden by the server."
            }
            Ok(u) if u.fragment().is_some() => "cannot contain a fragment.",
            Ok(u) if u.scheme() == "localhost" || u.cannot_be_a_base() => "must specify a scheme.",
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_none_or(str::is_empty) =>
            {
                "must be a valid URI."
            }
            Ok(_) => continue,
        };
        if !errs.contains(&msg) {
            errs.push(msg);
        }
    }
    errs.into_iter()
        .map(|m| format!("Redirect URI {m}"))
        .collect()
}

fn create_gts(st: &mut State, call: &Call) -> HttpResponse {
    if call.array("redirect_uris").is_some() {
        return reply::api_error(400, "Bad Request: redirect_uris must be a string");
    }
    let Some(name) = call.param("client_name").filter(|n| !n.trim().is_empty()) else {
        return reply::api_error(400, "Bad Request: client_name cannot be empty");
    };
    let raw = call
        .param("redirect_uris")
        .filter(|r| !r.trim().is_empty())
        .unwrap_or("urn:ietf:wg:oauth:2.0:oob");
    let mut uris: Vec<String> = Vec::new();
    for u in raw.split_whitespace() {
        if url::Url::parse(u).is_err() && u != "urn:ietf:wg:oauth:2.0:oob" {
            return reply::api_error(400, &format!("Bad Request: invalid redirect uri {u}"));
        }
        if !uris.iter().any(|x| x == u) {
            uris.push(u.to_owned());
        }
    }
    let app = App {
        id: st.new_id(),
        name: name.to_owned(),
        website: call
            .param("website")
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
        redirect_uri: uris.join("\n"),
        scopes: split_scopes(call.param("scopes").unwrap_or("read")),
        client_id: format!("01J{:023}", st.next_id + 1000),
        client_secret: uuidish(),
        created_at: st.now(),
    };
    st.apps.push(app.clone());
    reply::ok(credential_json(Profile::GoToSocial, &app))
}

fn uuidish() -> String {
    let t = random_token().to_ascii_lowercase().replace(['-', '_'], "0");
    format!(
        "{}-{}-{}-{}-{}",
        &t[0..8],
        &t[8..12],
        &t[12..16],
        &t[16..20],
        &t[20..32]
    )
}

/// The creation response (with credentials) for the profile.
pub fn credential_json(profile: Profile, app: &App) -> Value {
    let mut v = public_json(profile, app);
    v["client_id"] = json!(app.client_id);
    v["client_secret"] = json!(app.client_secret);
    match profile {
        Profile::Mastodon42 => {
            v["redirect_uri"] = json!(app.redirect_uri);
            if let Some(o) = v.as_object_mut() {
                o.remove("scopes");
                o.remove("redirect_uris");
            }
        }
        Profile::Mastodon44 => v["client_secret_expires_at"] = json!(0),
        Profile::GoToSocial => {
            v["created_at"] = json!(super::accounts::iso_time(app.created_at));
            if app.website.is_none()
                && let Some(o) = v.as_object_mut()
            {
                o.remove("website");
            }
        }
        Profile::Mastodon43 => {}
    }
    v
}

/// `REST::ApplicationSerializer` (4.3+ form).
fn public_json(_profile: Profile, app: &App) -> Value {
    json!({
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes,
        "redirect_uris": app.redirect_uris(),
        "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",
        "redirect_uri": app.redirect_uri,
    })
}

pub fn verify_credentials(st: &State, call: &Call) -> HttpResponse {
    let Some(token) = call.bearer().and_then(|t| st.token(t)) else {
        return reply::invalid_token(false);
    };
    if token.revoked {
        return reply::invalid_token(true);
    }
    let Some(app) = st.app(&token.client_id) else {
        return reply::invalid_token(false);
    };
    let profile = st.config.profile;
    if profile == Profile::Mastodon42 {
        if !token.scopes.iter().any(|s| s == "read") {
            return reply::api_error(403, reply::OUTSIDE_SCOPES);
        }
        let v = public_json(profile, app);
        return reply::ok(json!({
            "name": v["name"], "website": v["website"], "vapid_key": v["vapid_key"],
        }));
    }
    reply::ok(public_json(profile, app))
}

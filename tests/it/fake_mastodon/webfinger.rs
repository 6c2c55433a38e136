//! `/.well-known/webfinger` and `/.well-known/host-meta` (spec §6): subjects
//! use LOCAL_DOMAIN, every href uses WEB_DOMAIN; errors have empty bodies.

use actix_web::HttpResponse;
use serde_json::json;

use super::absolute;
use super::accounts::{actor_uri, avatar_url, profile_url};
use super::model::State;
use super::reply;
use super::request::Call;

pub fn webfinger(st: &State, call: &Call) -> HttpResponse {
    let c = &st.config;
    let Some(resource) = call.query_param("resource").filter(|r| !r.is_empty()) else {
        return reply::empty(400);
    };
    let ours =
        |h: &str| h.eq_ignore_ascii_case(&c.local_domain) || h.eq_ignore_ascii_case(&c.web_domain);
    let username = if let Some(rest) = resource
        .strip_prefix("http://")
        .or_else(|| resource.strip_prefix("https://"))
    {
        let Some((host, path)) = rest.split_once('/') else {
            return reply::empty(400);
        };
        if !ours(host) {
            return reply::empty(404);
        }
        match path
            .strip_prefix('@')
            .or_else(|| path.strip_prefix("users/"))
        {
            Some(u) => u.to_owned(),
            None => return reply::empty(404),
        }
    } else {
        let acct = resource.strip_prefix("acct:").unwrap_or(resource);
        let Some((user, host)) = acct.rsplit_once('@') else {
            return reply::empty(400);
        };
        if user.is_empty() || host.is_empty() {
            return reply::empty(400);
        }
        if !ours(host) {
            return reply::empty(404);
        }
        user.to_owned()
    };
    if c.deleted_usernames
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&username))
    {
        return reply::empty(410);
    }
    let Some(user) = st.user_by_name(&username) else {
        return reply::empty(404);
    };
    let subject = format!("acct:{}@{}", user.username, c.local_domain);
    document(c, user, &subject)
}

/// Any `resource` gets `username`'s links, with the asked resource as subject.
pub fn catch_all(st: &State, call: &Call, username: &str) -> HttpResponse {
    let (Some(resource), Some(user)) = (call.query_param("resource"), st.user_by_name(username))
    else {
        return reply::empty(404);
    };
    document(&st.config, user, resource)
}

/// `acct:{name}@{anything}` gets `name`'s links, with the asked resource as subject.
pub fn echo(st: &State, call: &Call) -> HttpResponse {
    let name = call
        .query_param("resource")
        .and_then(|r| r.strip_prefix("acct:"))
        .and_then(|a| a.rsplit_once('@'))
        .map(|(u, _)| u.to_owned());
    match name {
        Some(name) => catch_all(st, call, &name),
        None => reply::empty(404),
    }
}

fn document(c: &super::FakeConfig, user: &super::FakeUser, subject: &str) -> HttpResponse {
    let profile = profile_url(c, user);
    let actor = actor_uri(c, user);
    let mut links = vec![
        json!({"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile}),
        json!({"rel": "self", "type": "application/activity+json", "href": actor}),
        json!({"rel": "http://ostatus.org/schema/1.0/subscribe",
               "template": absolute(c, "/authorize_interaction?uri={uri}")}),
    ];
    if user.avatar.is_some() {
        links.push(
            json!({"rel": "http://webfinger.net/rel/avatar", "type": "image/png",
                          "href": avatar_url(c, user)}),
        );
    }
    let body = json!({
        "subject": subject,
        "aliases": [profile, actor],
        "links": links,
    });
    HttpResponse::Ok()
        .content_type("application/jrd+json; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=259200"))
        .body(body.to_string())
}

pub fn host_meta(st: &State, call: &Call) -> HttpResponse {
    let template = absolute(&st.config, "/.well-known/webfinger?resource={uri}");
    if call.query_param("format") == Some("json") {
        return reply::ok(json!({ "links": [{ "rel": "lrdd", "template": template }] }));
    }
    HttpResponse::Ok()
        .content_type("application/xrd+xml; charset=utf-8")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  <Link rel=\"lrdd\" template=\"{}\"/>\n</XRD>\n",
            super::html::escape(&template)
        ))
}

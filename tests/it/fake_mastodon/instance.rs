//! Instance discovery: `/api/v1/instance`, `/api/v2/instance`,
//! `/api/v1/instance/rules`, and NodeInfo (spec §5 instance signals, §6).

use actix_web::HttpResponse;
use serde_json::json;

use super::profile::Profile;
use super::reply;
use super::{FakeConfig, absolute};

fn version(c: &FakeConfig) -> String {
    let (_, v) = c.profile.software();
    match c.profile {
        // GoToSocial reports its version with a git suffix.
        Profile::GoToSocial => format!("{v} git-fake"),
        _ => v.to_owned(),
    }
}

fn rules(c: &FakeConfig) -> serde_json::Value {
    let rules: Vec<_> = c
        .rules
        .iter()
        .enumerate()
        .map(|(i, text)| {
            if c.profile == Profile::Mastodon42 {
                json!({ "id": (i + 1).to_string(), "text": text })
            } else {
                json!({ "id": (i + 1).to_string(), "text": text, "hint": "", "translations": {} })
            }
        })
        .collect();
    json!(rules)
}

pub fn rules_list(c: &FakeConfig) -> HttpResponse {
    reply::ok(rules(c))
}

pub fn v1(c: &FakeConfig) -> HttpResponse {
    let r = &c.registrations;
    reply::ok(json!({
        "uri": c.local_domain,
        "title": c.title,
        "short_description": "",
        "description": "",
        "email": format!("admin@{}", c.local_domain),
        "version": version(c),
        "urls": { "streaming_api": format!("ws://{}", c.web_domain) },
        "stats": { "user_count": c.users_count(), "status_count": 0, "domain_count": 1 },
        "thumbnail": absolute(c, "/packs/media/images/preview.png"),
        "languages": c.languages,
        "registrations": r.enabled,
        "approval_required": r.approval_required,
        "invites_enabled": false,
        "configuration": {},
        "contact_account": null,
        "rules": rules(c),
    }))
}

pub fn v2(c: &FakeConfig) -> HttpResponse {
    let r = &c.registrations;
    let mut registrations = json!({
        "enabled": r.enabled,
        "approval_required": r.approval_required,
        // Mastodon sends the message only while registrations are closed.
        "message": if r.enabled { None } else { r.message.clone() },
        "url": r.url,
    });
    let mut v = json!({
        "domain": c.local_domain,
        "title": c.title,
        "version": version(c),
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "",
        "usage": { "users": { "active_month": c.users_count() } },
        "thumbnail": { "url": absolute(c, "/packs/media/images/preview.png") },
        "languages": c.languages,
        "configuration": {
            "urls": { "streaming": format!("ws://{}", c.web_domain) },
            "accounts": { "max_featured_tags": 10 },
            "statuses": { "max_characters": 500 },
        },
        "contact": { "email": format!("admin@{}", c.local_domain), "account": null },
        "rules": rules(c),
    });
    if c.profile == Profile::Mastodon44 {
        registrations["reason_required"] = json!(r.reason_required);
        registrations["min_age"] = json!(r.min_age);
        v["configuration"]["urls"]["about"] = json!(absolute(c, "/about"));
        v["configuration"]["urls"]["privacy_policy"] = json!(absolute(c, "/privacy-policy"));
        v["configuration"]["urls"]["terms_of_service"] = if c.terms_of_service {
            json!(absolute(c, "/terms-of-service"))
        } else {
            json!(null)
        };
    }
    if let Some(api) = c.profile.api_version() {
        v["api_versions"] = json!({ "mastodon": api });
    }
    v["registrations"] = registrations;
    reply::ok(v)
}

pub fn nodeinfo_links(c: &FakeConfig) -> HttpResponse {
    reply::ok(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": absolute(c, "/nodeinfo/2.0"),
        }]
    }))
}

pub fn nodeinfo(c: &FakeConfig) -> HttpResponse {
    let (name, v) = c.profile.software();
    let n = c.users_count();
    reply::ok(json!({
        "version": "2.0",
        "software": { "name": name, "version": v },
        "protocols": ["activitypub"],
        "services": { "outbound": [], "inbound": [] },
        "usage": { "users": { "total": n, "activeMonth": n, "activeHalfyear": n }, "localPosts": 0 },
        "openRegistrations": c.registrations.enabled,
        "metadata": { "nodeName": c.title, "nodeDescription": "" },
    }))
}

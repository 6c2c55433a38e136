//! The sign-up API's documents, read: a server's rules from its instance
//! document and rules list, the 422 `details` as neutral field problems,
//! and the server's HTML message as text. Pure functions, unit tested.

use url::Url;

use super::super::discover::Capabilities;
use super::super::input::{self, normalize_host};
use crate::upstream::{
    FieldProblem, Problem, Registrations, ServerRule, SignupField, SignupRules, UpstreamError,
};

/// Software known to have no app sign-up API.
const NO_SIGNUP_API: &[&str] = &[
    "pixelfed",
    "misskey",
    "sharkey",
    "firefish",
    "iceshrimp",
    "calckey",
    "foundkey",
];
// Bounded so the rules fit the sealed sign-up form (256 KiB with room to spare).
const MAX_RULES: usize = 40;
const MAX_RULE_TEXT: usize = 1000;
const MAX_TEXT: usize = 2000;

/// The server named by what someone typed to sign up: a name, a handle, or
/// any page of the server's website (a sign-up has no account in it yet).
pub fn server_of(typed: &str) -> Result<String, UpstreamError> {
    let text = typed.trim();
    let lower = text.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && let Ok(url) = Url::parse(text)
        && let Some(host) = url.host_str()
        && url.port().is_none()
    {
        return Ok(input::parse(host)?.domain);
    }
    Ok(input::parse(text)?.domain)
}

pub(super) fn unsupported(caps: &Capabilities) -> bool {
    caps.software
        .as_deref()
        .is_some_and(|s| NO_SIGNUP_API.contains(&s))
}

/// The rules from an instance document (v2, or v1 for old servers) and the
/// rules endpoint; links only when they are http(s).
pub fn rules_of(
    host: &str,
    caps: &Capabilities,
    inst: &serde_json::Value,
    rules: Option<&serde_json::Value>,
    base: &Url,
) -> SignupRules {
    let reg = &inst["registrations"];
    let v2 = reg.is_object();
    let (open, approval) = if v2 {
        (
            reg["enabled"].as_bool().unwrap_or(false),
            reg["approval_required"].as_bool().unwrap_or(false),
        )
    } else {
        (
            reg.as_bool().unwrap_or(false),
            inst["approval_required"].as_bool().unwrap_or(false),
        )
    };
    let registrations = if unsupported(caps) {
        Registrations::Unsupported
    } else if open {
        Registrations::Open
    } else {
        Registrations::Closed {
            message: reg["message"]
                .as_str()
                .map(html_to_text)
                .filter(|m| !m.is_empty()),
            url: reg["url"].as_str().and_then(web_url),
        }
    };
    let domain = inst["domain"]
        .as_str()
        .or(inst["uri"].as_str())
        .and_then(|d| normalize_host(d).ok())
        .unwrap_or_else(|| host.to_string());
    let list = rules.filter(|r| r.is_array()).unwrap_or(&inst["rules"]);
    let rules = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let text = clip_to(r["text"].as_str()?.trim(), MAX_RULE_TEXT);
                    let hint = r["hint"].as_str().map(|h| clip_to(h.trim(), MAX_RULE_TEXT));
                    (!text.is_empty()).then(|| ServerRule {
                        text,
                        hint: hint.filter(|h| !h.is_empty()),
                    })
                })
                .take(MAX_RULES)
                .collect()
        })
        .unwrap_or_default();
    let urls = &inst["configuration"]["urls"];
    // 4.4+ names its documents; earlier servers have the fixed routes.
    let (terms_url, privacy_url, about_url) = if urls.get("privacy_policy").is_some() {
        (
            urls["terms_of_service"].as_str().and_then(web_url),
            urls["privacy_policy"].as_str().and_then(web_url),
            urls["about"].as_str().and_then(web_url),
        )
    } else {
        let at = |p: &str| base.join(p).ok().map(|u| u.to_string());
        (at("terms"), at("privacy-policy"), at("about"))
    };
    let mut locales: Vec<String> = inst["languages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str())
        .filter(|l| is_language_tag(l))
        .map(str::to_string)
        .collect();
    // English is every Mastodon server's default locale.
    locales.push("en".into());
    let mut seen = std::collections::HashSet::new();
    locales.retain(|l| seen.insert(l.clone()));
    SignupRules {
        server_host: host.to_string(),
        domain,
        title: inst["title"].as_str().map(clip).filter(|t| !t.is_empty()),
        registrations,
        approval_required: approval,
        reason_required: approval && reg["reason_required"].as_bool().unwrap_or(false),
        min_age: reg["min_age"]
            .as_u64()
            .filter(|a| (1..=150).contains(a))
            .map(|a| a as u32),
        rules,
        terms_url,
        privacy_url,
        about_url,
        locales,
    }
}

/// The 422 `details` (spec §5) as field problems; unknown codes and fields
/// are kept generically so nothing the server objected to goes unsaid.
pub fn problems_of(body: &[u8]) -> Vec<FieldProblem> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut out = Vec::new();
    for (key, entries) in v["details"].as_object().into_iter().flatten() {
        let field = match key.as_str() {
            "username" | "account.username" => SignupField::Username,
            "email" => SignupField::Email,
            "password" => SignupField::Password,
            "agreement" => SignupField::Agreement,
            "locale" => SignupField::Locale,
            "reason" | "invite_request.text" => SignupField::Reason,
            "date_of_birth" => SignupField::DateOfBirth,
            _ => SignupField::Form,
        };
        for e in entries.as_array().into_iter().flatten() {
            let number = e["description"].as_str().and_then(number_in);
            let problem = match e["error"].as_str().unwrap_or_default() {
                "ERR_BLANK" => Problem::Blank,
                "ERR_INVALID" => Problem::Invalid,
                "ERR_TAKEN" => Problem::Taken,
                "ERR_RESERVED" => Problem::Reserved,
                "ERR_TOO_SHORT" => Problem::TooShort(number),
                "ERR_TOO_LONG" => Problem::TooLong(number),
                "ERR_BLOCKED" => Problem::Blocked,
                "ERR_UNREACHABLE" => Problem::Unreachable,
                "ERR_ACCEPTED" => Problem::NotAccepted,
                "ERR_BELOW_LIMIT" => Problem::BelowAgeLimit,
                "ERR_INCLUSION" => Problem::NotIncluded,
                _ => Problem::Other,
            };
            let p = FieldProblem { field, problem };
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    if out.is_empty() {
        out.push(FieldProblem {
            field: SignupField::Form,
            problem: Problem::Other,
        });
    }
    out
}

/// The length limit in "is too long (maximum is 30 characters)".
fn number_in(text: &str) -> Option<u32> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|n| (1..=100_000).contains(n))
}

fn web_url(s: &str) -> Option<String> {
    let u = Url::parse(s).ok()?;
    matches!(u.scheme(), "https" | "http").then(|| u.to_string())
}

fn is_language_tag(l: &str) -> bool {
    (2..=12).contains(&l.len())
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && l.chars().take(2).all(|c| c.is_ascii_alphabetic())
}

fn clip(s: &str) -> String {
    clip_to(s, MAX_TEXT)
}

fn clip_to(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The server's HTML message as plain text: tags dropped (block ends become
/// line breaks), the common entities decoded. We render text, never HTML.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].to_ascii_lowercase();
        let name = tag.trim_start_matches('/');
        if name.starts_with("br") || (tag.starts_with('/') && name.starts_with('p')) {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let text = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    clip(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Url {
        Url::parse("https://social.example/").unwrap()
    }

    #[test]
    fn every_detail_code_maps_to_a_problem_on_its_field() {
        let body = json!({"error": "Validation failed: …", "details": {
            "username": [{"error": "ERR_TAKEN", "description": "has already been taken"},
                         {"error": "ERR_RESERVED", "description": "is reserved"},
                         {"error": "ERR_TOO_LONG", "description": "is too long (maximum is 30 characters)"}],
            "email": [{"error": "ERR_BLOCKED"}, {"error": "ERR_UNREACHABLE"}, {"error": "ERR_INVALID"}],
            "password": [{"error": "ERR_TOO_SHORT", "description": "is too short (minimum is 8 characters)"}],
            "agreement": [{"error": "ERR_ACCEPTED"}],
            "date_of_birth": [{"error": "ERR_BELOW_LIMIT"}],
            "locale": [{"error": "ERR_INCLUSION"}],
            "reason": [{"error": "ERR_BLANK"}],
            "invite_code": [{"error": "ERR_SOMETHING_NEW"}],
        }});
        let got = problems_of(body.to_string().as_bytes());
        use Problem::*;
        use SignupField as F;
        for (field, problem) in [
            (F::Username, Taken),
            (F::Username, Reserved),
            (F::Username, TooLong(Some(30))),
            (F::Email, Blocked),
            (F::Email, Unreachable),
            (F::Email, Invalid),
            (F::Password, TooShort(Some(8))),
            (F::Agreement, NotAccepted),
            (F::DateOfBirth, BelowAgeLimit),
            (F::Locale, NotIncluded),
            (F::Reason, Blank),
            (F::Form, Other),
        ] {
            assert!(
                got.contains(&FieldProblem { field, problem }),
                "{field:?} {problem:?} in {got:?}"
            );
        }
        assert_eq!(got.len(), 12);
        assert_eq!(
            problems_of(b"<html>"),
            vec![FieldProblem {
                field: F::Form,
                problem: Other
            }]
        );
    }

    #[test]
    fn rules_from_a_44_instance() {
        let inst = json!({
            "domain": "example.com", "title": "Example",
            "languages": ["de", "x<y", "en"],
            "registrations": {"enabled": true, "approval_required": true, "reason_required": true,
                              "min_age": 16, "message": null, "url": null},
            "configuration": {"urls": {"about": "https://social.example/about",
                "privacy_policy": "https://social.example/privacy-policy", "terms_of_service": null}},
            "rules": [{"id": "1", "text": "From the instance"}],
        });
        let rules = json!([{"id": "1", "text": " Be kind ", "hint": ""}, {"id": "2", "text": ""}]);
        let r = rules_of(
            "social.example",
            &Capabilities::default(),
            &inst,
            Some(&rules),
            &base(),
        );
        assert_eq!(r.registrations, Registrations::Open);
        assert_eq!(r.domain, "example.com");
        assert!(r.approval_required && r.reason_required);
        assert_eq!(r.min_age, Some(16));
        assert_eq!(
            r.rules,
            vec![ServerRule {
                text: "Be kind".into(),
                hint: None
            }]
        );
        assert_eq!(r.terms_url, None, "4.4 without terms of service");
        assert_eq!(
            r.privacy_url.as_deref(),
            Some("https://social.example/privacy-policy")
        );
        assert_eq!(r.locales, ["de", "en"]);
    }

    #[test]
    fn rules_from_an_older_closed_instance() {
        let inst = json!({
            "domain": "social.example",
            "registrations": {"enabled": false, "approval_required": false,
                "message": "<p>Closed for now &amp; <b>sorry</b>.</p><p>Try <a href=\"x\">elsewhere</a></p>",
                "url": "javascript:alert(1)"},
            "rules": [{"id": "1", "text": "From the instance"}],
        });
        let r = rules_of(
            "social.example",
            &Capabilities::default(),
            &inst,
            None,
            &base(),
        );
        assert_eq!(
            r.registrations,
            Registrations::Closed {
                message: Some("Closed for now & sorry.\nTry elsewhere".into()),
                url: None
            }
        );
        assert_eq!(r.rules[0].text, "From the instance");
        assert_eq!(r.terms_url.as_deref(), Some("https://social.example/terms"));
        assert_eq!(
            r.privacy_url.as_deref(),
            Some("https://social.example/privacy-policy")
        );
        let caps = Capabilities {
            software: Some("pixelfed".into()),
            ..Default::default()
        };
        let v1 = json!({"uri": "px.example", "registrations": true});
        let r = rules_of("px.example", &caps, &v1, None, &base());
        assert_eq!(r.registrations, Registrations::Unsupported);
    }

    #[test]
    fn a_server_from_a_name_handle_or_any_page() {
        for typed in [
            "social.example",
            "@me@Social.Example",
            "https://social.example/about",
            "https://social.example/@alice",
        ] {
            assert_eq!(server_of(typed).unwrap(), "social.example", "{typed}");
        }
        assert!(server_of("https://social.example:8443/").is_err());
        assert!(server_of("").is_err());
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(html_to_text("a<br>b<br/>c"), "a\nb\nc");
        assert_eq!(html_to_text("<script>x</script>&lt;y&gt;"), "x<y>");
        assert_eq!(html_to_text("unclosed <b"), "unclosed");
    }
}

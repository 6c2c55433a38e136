//! Find the server that really hosts an account (WebFinger) and learn what
//! it can do (NodeInfo, RFC 8414 metadata, instance API), cached in the
//! `servers` row until `capabilities_ttl_secs` pass.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::input::{Typed, normalize_host};
use super::{MastodonUpstream, http_error, server_error, store_error};
use crate::store::servers;
use crate::upstream::UpstreamError;

/// Where a login goes: the API host and the handle's domain (LOCAL_DOMAIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub api_host: String,
    /// From the WebFinger `subject`; `None` when only a server was typed.
    pub handle_domain: Option<String>,
    /// The account WebFinger described; `None` when only a server was typed.
    pub account: Option<Described>,
}

/// The account a WebFinger answer describes: its actor on its API host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Described {
    pub api_host: String,
    /// The `self` ActivityPub link; `None` when only a profile page was given.
    pub actor: Option<String>,
}

impl Described {
    /// Is this the account with `actor` that logged in at `server_host`?
    pub fn is(&self, server_host: &str, actor: &str) -> bool {
        self.api_host == server_host && self.actor.as_deref() == Some(actor)
    }
}

/// What we learned about a server. Stored as JSON in `servers.capabilities`.
/// Registrations and the title are not kept: sign-up reads them fresh
/// (`signup::rules_of`), since they change more often than the software.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub software: Option<String>,
    pub version: Option<String>,
    /// RFC 8414 metadata was served (Mastodon 4.3+).
    pub has_metadata: bool,
    pub scopes_supported: Vec<String>,
    pub pkce_s256: bool,
    /// LOCAL_DOMAIN as the instance API reports it.
    pub domain: Option<String>,
}

#[derive(Deserialize)]
struct Jrd {
    subject: Option<String>,
    #[serde(default)]
    links: Vec<JrdLink>,
}

#[derive(Deserialize)]
struct JrdLink {
    rel: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    href: Option<String>,
}

impl MastodonUpstream {
    /// Turn the parsed input into the API host, asking WebFinger for handles.
    pub(crate) async fn resolve(&self, typed: &Typed) -> Result<Resolved, UpstreamError> {
        let Some(user) = &typed.user else {
            return Ok(Resolved {
                api_host: typed.domain.clone(),
                handle_domain: None,
                account: None,
            });
        };
        let resource = format!("acct:{user}@{}", typed.domain);
        let mut url = self.url(&typed.domain, "/.well-known/webfinger")?;
        url.query_pairs_mut().append_pair("resource", &resource);
        let not_found =
            || UpstreamError::NotFound(format!("No account @{user}@{} was found.", typed.domain));
        let jrd = match self.fetch_jrd(&typed.domain, url).await? {
            Lookup::Found(jrd) => jrd,
            Lookup::Gone => return Err(not_found()),
            // Mastodon's own client falls back to host-meta's lrdd template.
            Lookup::Missing => match self.lrdd_url(&typed.domain, &resource).await {
                Some(url) => match self.fetch_jrd(&typed.domain, url).await? {
                    Lookup::Found(jrd) => jrd,
                    _ => return Err(not_found()),
                },
                None => return Err(not_found()),
            },
        };
        let href = pick_actor(&jrd).ok_or_else(|| {
            UpstreamError::NotFound(format!(
                "{} does not publish a profile for @{user}.",
                typed.domain
            ))
        })?;
        let api_host = host_of(href)?;
        let handle_domain = jrd
            .subject
            .as_deref()
            .and_then(|s| s.strip_prefix("acct:"))
            .and_then(|s| s.rsplit_once('@'))
            .and_then(|(_, d)| normalize_host(d).ok())
            .or_else(|| Some(typed.domain.clone()));
        let actor = self_link(&jrd).map(str::to_string);
        Ok(Resolved {
            account: Some(Described {
                api_host: api_host.clone(),
                actor,
            }),
            api_host,
            handle_domain,
        })
    }

    async fn fetch_jrd(&self, domain: &str, url: url::Url) -> Result<Lookup, UpstreamError> {
        let rb = self
            .http
            .request(Method::GET, url)
            .header("Accept", "application/jrd+json, application/json");
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => resp.json().map(Lookup::Found).map_err(http_error),
            404 => Ok(Lookup::Missing),
            400 | 410 => Ok(Lookup::Gone),
            s => {
                tracing::warn!(host = %domain, status = s, "webfinger failed");
                Err(UpstreamError::Unavailable(format!(
                    "{domain} did not answer the account lookup."
                )))
            }
        }
    }

    /// The WebFinger URL from `/.well-known/host-meta` (XRD `lrdd` template).
    async fn lrdd_url(&self, domain: &str, resource: &str) -> Option<url::Url> {
        let url = self.url(domain, "/.well-known/host-meta").ok()?;
        let resp = self
            .http
            .execute(self.http.request(Method::GET, url))
            .await
            .ok()?;
        if resp.status != 200 {
            return None;
        }
        let template = lrdd_template(&String::from_utf8_lossy(&resp.body))?;
        let encoded: String = url::form_urlencoded::byte_serialize(resource.as_bytes()).collect();
        let url = url::Url::parse(&template.replace("{uri}", &encoded)).ok()?;
        matches!(url.scheme(), "https" | "http").then_some(url)
    }

    /// The cached capabilities, or freshly learned ones if missing or expired.
    /// Public for the provider's pages (title, registrations) and sign-up.
    pub async fn capabilities(&self, host: &str) -> Result<Capabilities, UpstreamError> {
        let now = self.clock.now();
        if let Some(caps) = self.cached_capabilities(host, now).await? {
            return Ok(caps);
        }
        // Single flight per host: concurrent first logins wait for one
        // discovery instead of each probing the server.
        let lock = self.host_lock(host);
        let _guard = lock.lock().await;
        if let Some(caps) = self.cached_capabilities(host, now).await? {
            return Ok(caps);
        }
        self.first_contact_allowed(host)?;
        let caps = self.learn(host).await?;
        let json = serde_json::to_string(&caps)
            .map_err(|e| UpstreamError::Internal(format!("capabilities: {e}")))?;
        let (h, c2) = (host.to_string(), caps.clone());
        let exp = now + self.config.capabilities_ttl_secs;
        self.store
            .write(move |c| {
                servers::save_capabilities(
                    c,
                    &h,
                    c2.software.as_deref(),
                    c2.version.as_deref(),
                    &json,
                    exp,
                    now,
                )
            })
            .await
            .map_err(store_error)?;
        Ok(caps)
    }

    async fn cached_capabilities(
        &self,
        host: &str,
        now: i64,
    ) -> Result<Option<Capabilities>, UpstreamError> {
        let h = host.to_string();
        let row = self
            .store
            .run(move |c| servers::get(c, &h))
            .await
            .map_err(store_error)?;
        Ok(row.and_then(|row| {
            let json = row.capabilities?;
            (row.capabilities_expires_at? > now)
                .then(|| serde_json::from_str::<Capabilities>(&json).ok())
                .flatten()
        }))
    }

    async fn learn(&self, host: &str) -> Result<Capabilities, UpstreamError> {
        let mut caps = Capabilities::default();
        // The instance API is what makes it a Mastodon-compatible server.
        let Some(inst) = self.instance(host).await? else {
            return Err(UpstreamError::NotFound(format!(
                "{host} does not look like a Mastodon-compatible server."
            )));
        };
        caps.version = inst["version"].as_str().map(str::to_string);
        // v2 names LOCAL_DOMAIN `domain`, v1 `uri`.
        caps.domain = inst["domain"]
            .as_str()
            .or(inst["uri"].as_str())
            .and_then(|d| normalize_host(d).ok());
        if let Some(meta) = self
            .get_json(host, "/.well-known/oauth-authorization-server")
            .await?
        {
            caps.has_metadata = true;
            caps.scopes_supported = strings(&meta["scopes_supported"]);
            caps.pkce_s256 = strings(&meta["code_challenge_methods_supported"])
                .iter()
                .any(|m| m == "S256");
        }
        if let Some((name, version)) = self.nodeinfo(host).await {
            caps.software = Some(name);
            if version.is_some() {
                caps.version = version;
            }
        }
        Ok(caps)
    }

    /// `/api/v2/instance`, else `/api/v1/instance` (Mastodon < 4.0, some
    /// GoToSocial versions); `None` when neither exists.
    pub(crate) async fn instance(
        &self,
        host: &str,
    ) -> Result<Option<serde_json::Value>, UpstreamError> {
        match self.get_json(host, "/api/v2/instance").await? {
            Some(v) => Ok(Some(v)),
            None => self.get_json(host, "/api/v1/instance").await,
        }
    }

    /// NodeInfo software name and version; best effort (absent on some servers).
    async fn nodeinfo(&self, host: &str) -> Option<(String, Option<String>)> {
        let links = self.get_json(host, "/.well-known/nodeinfo").await.ok()??;
        let href = links["links"]
            .as_array()?
            .iter()
            .filter(|l| {
                l["rel"].as_str().is_some_and(|r| {
                    r.starts_with("http://nodeinfo.diaspora.software/ns/schema/2.")
                })
            })
            .filter_map(|l| l["href"].as_str())
            .next_back()?;
        let url = url::Url::parse(href).ok()?;
        // Only follow NodeInfo on the same server.
        if host_of(href).ok()? != host {
            return None;
        }
        let resp = self
            .http
            .execute(self.http.request(Method::GET, url))
            .await
            .ok()?;
        let doc: serde_json::Value = resp.json().ok()?;
        let name = doc["software"]["name"].as_str()?.to_ascii_lowercase();
        let version = doc["software"]["version"].as_str().map(str::to_string);
        Some((name, version))
    }

    /// GET a JSON document: `Ok(None)` on 404/410, `Unavailable` on 5xx or garbage.
    pub(crate) async fn get_json(
        &self,
        host: &str,
        path: &str,
    ) -> Result<Option<serde_json::Value>, UpstreamError> {
        let url = self.url(host, path)?;
        let rb = self
            .http
            .request(Method::GET, url)
            .header("Accept", "application/json");
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => resp.json().map(Some).map_err(http_error),
            429 => Err(UpstreamError::RateLimited {
                retry_after_secs: resp.retry_after_secs().unwrap_or(60),
            }),
            400..=499 => Ok(None),
            s => {
                tracing::warn!(host, path, status = s, "upstream error");
                Err(server_error(host))
            }
        }
    }
}

enum Lookup {
    Found(Jrd),
    /// 404: try host-meta.
    Missing,
    /// 400 or 410: no such account.
    Gone,
}

/// `template` of the `<Link rel="lrdd" …>` element (attribute order free).
fn lrdd_template(xrd: &str) -> Option<String> {
    xrd.split("<Link")
        .skip(1)
        .map(|l| l.split('>').next().unwrap_or_default())
        .filter(|l| l.contains(r#"rel="lrdd""#) || l.contains("rel='lrdd'"))
        .find_map(|l| {
            let start = l.find("template=")? + "template=".len();
            let quote = l[start..].chars().next()?;
            let rest = &l[start + 1..];
            let end = rest.find(quote)?;
            Some(rest[..end].replace("&amp;", "&"))
        })
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The actor (`self`, ActivityPub) link, else the profile page.
fn pick_actor(jrd: &Jrd) -> Option<&str> {
    self_link(jrd).or_else(|| {
        jrd.links
            .iter()
            .find(|l| l.rel == "http://webfinger.net/rel/profile-page")
            .and_then(|l| l.href.as_deref())
    })
}

/// The actor (`self`, ActivityPub) link.
fn self_link(jrd: &Jrd) -> Option<&str> {
    let is_ap = |k: &Option<String>| {
        k.as_deref()
            .is_some_and(|k| k.contains("activity+json") || k.contains("activitystreams"))
    };
    jrd.links
        .iter()
        .find(|l| l.rel == "self" && is_ap(&l.kind))
        .and_then(|l| l.href.as_deref())
}

/// The normalised host of an actor or profile URL.
fn host_of(href: &str) -> Result<String, UpstreamError> {
    let bad =
        || UpstreamError::Unavailable("The server published an unusable profile link.".into());
    let url = url::Url::parse(href).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http") || url.port().is_some() {
        return Err(bad());
    }
    match url.host() {
        Some(url::Host::Domain(d)) => normalize_host(d).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrdd_template_is_found() {
        let xrd = r#"<?xml version="1.0"?><XRD xmlns="x"><Link rel="lrdd" template="https://w.example/.well-known/webfinger?resource={uri}"/></XRD>"#;
        assert_eq!(
            lrdd_template(xrd).as_deref(),
            Some("https://w.example/.well-known/webfinger?resource={uri}")
        );
        assert_eq!(
            lrdd_template("<XRD><Link rel=\"other\" template=\"x\"/></XRD>"),
            None
        );
        assert_eq!(lrdd_template("garbage"), None);
    }

    #[test]
    fn actor_link_wins_over_profile_page() {
        let jrd: Jrd = serde_json::from_value(serde_json::json!({
            "subject": "acct:a@example.com",
            "links": [
                {"rel": "http://webfinger.net/rel/profile-page", "href": "https://p.example/@a"},
                {"rel": "self", "type": "application/activity+json", "href": "https://w.example/users/a"}
            ]
        }))
        .unwrap();
        assert_eq!(pick_actor(&jrd), Some("https://w.example/users/a"));
        let only_page: Jrd = serde_json::from_value(serde_json::json!({
            "links": [{"rel": "http://webfinger.net/rel/profile-page", "href": "https://p.example/@a"}]
        }))
        .unwrap();
        assert_eq!(pick_actor(&only_page), Some("https://p.example/@a"));
        // A profile page is no actor.
        assert_eq!(self_link(&only_page), None);
    }

    #[test]
    fn described_account_must_match_host_and_actor() {
        let d = Described {
            api_host: "w.example".into(),
            actor: Some("https://w.example/users/a".into()),
        };
        assert!(d.is("w.example", "https://w.example/users/a"));
        assert!(!d.is("w.example", "https://w.example/users/b"));
        assert!(!d.is("x.example", "https://w.example/users/a"));
        let page_only = Described { actor: None, ..d };
        assert!(!page_only.is("w.example", "https://w.example/users/a"));
    }

    #[test]
    fn actor_host_is_normalised_and_checked() {
        assert_eq!(host_of("https://W.Example/users/a").unwrap(), "w.example");
        assert!(host_of("https://127.0.0.1/users/a").is_err());
        assert!(host_of("https://w.example:8443/users/a").is_err());
        assert!(host_of("javascript:alert(1)").is_err());
        assert!(host_of("https://localhost/users/a").is_err());
    }
}

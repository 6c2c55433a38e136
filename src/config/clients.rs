//! Relying-party clients declared in configuration.

use super::Secret;
use crate::keys::Algorithm;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The client secret in the clear (hashed on load). Prefer `secret_hash`.
    pub secret: Option<Secret>,
    /// `sha256:<base64url>` of the secret, as printed by `clients add`.
    pub secret_hash: Option<String>,
    /// A public client (no secret; PKCE required).
    #[serde(default)]
    pub public: bool,
    /// Scopes this client may ask for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Require PKCE (always on for public clients).
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// Issue refresh tokens without `offline_access`.
    #[serde(default)]
    pub refresh_tokens: bool,
    /// The ID-token algorithm; None: `signing.algorithm`.
    pub id_token_signed_response_alg: Option<Algorithm>,
    /// Emit a non-deliverable synthetic `email` (with `email_verified=false`).
    #[serde(default)]
    pub synthetic_email: bool,
    /// Only these upstream servers may log in to this client (empty: any).
    #[serde(default)]
    pub allowed_servers: Vec<String>,
    /// These upstream servers may not log in to this client.
    #[serde(default)]
    pub denied_servers: Vec<String>,
    /// Offer sign-up (prompt=create) to this client's users.
    #[serde(default = "yes")]
    pub signup: bool,
    /// Group name → members (`user@domain` or `*@domain`), emitted as `groups`.
    #[serde(default)]
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
    /// `public` (one `sub` per person) or `pairwise` (a different `sub` per
    /// sector, so relying parties cannot correlate people).
    #[serde(default)]
    pub subject_type: SubjectType,
    /// The sector of a pairwise client; default: the host of its redirect URIs.
    pub sector_identifier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    #[default]
    Public,
    Pairwise,
}

fn yes() -> bool {
    true
}

pub fn default_scopes() -> Vec<String> {
    ["openid", "profile", "offline_access"]
        .into_iter()
        .map(String::from)
        .collect()
}

impl ClientConfig {
    /// The sector of a pairwise client: the configured one, or the one host
    /// all its redirect URIs share.
    pub fn pairwise_sector(&self) -> Option<String> {
        if self.subject_type != SubjectType::Pairwise {
            return None;
        }
        if let Some(s) = &self.sector_identifier {
            return Some(s.clone());
        }
        single_host(&self.redirect_uris)
    }

    pub fn validate(&self, index: usize, problems: &mut Vec<String>) {
        let at = format!("clients[{index}] ({})", self.id);
        if self.subject_type == SubjectType::Pairwise && self.pairwise_sector().is_none() {
            problems.push(format!(
                "{at}: a pairwise client with redirect URIs on several hosts needs sector_identifier"
            ));
        }
        if !valid_client_id(&self.id) {
            problems.push(format!(
                "{at}: id must be 1 to 128 characters of letters, digits, '-', '_', '.'"
            ));
        }
        if self.name.trim().is_empty() {
            problems.push(format!("{at}: name is empty"));
        }
        if self.redirect_uris.is_empty() {
            problems.push(format!("{at}: needs at least one redirect_uri"));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            if let Err(why) = validate_redirect_uri(uri) {
                problems.push(format!("{at}: redirect URI {uri:?} {why}"));
            }
        }
        match (self.public, &self.secret, &self.secret_hash) {
            (true, None, None) => {}
            (true, _, _) => problems.push(format!("{at}: a public client has no secret")),
            (false, Some(_), Some(_)) => {
                problems.push(format!("{at}: give secret or secret_hash, not both"))
            }
            (false, None, None) => problems.push(format!(
                "{at}: a confidential client needs secret or secret_hash"
            )),
            (false, Some(s), None) if s.expose().len() < 16 => problems.push(format!(
                "{at}: secret is too short (16 characters at least)"
            )),
            (false, None, Some(h)) if parse_secret_hash(h).is_none() => problems.push(format!(
                "{at}: secret_hash must look like sha256:<base64url>"
            )),
            // The hash of nothing would let an empty client_secret in.
            (false, None, Some(h)) if parse_secret_hash(h) == Some(crate::crypto::sha256(b"")) => {
                problems.push(format!("{at}: secret_hash is the hash of an empty secret"))
            }
            _ => {}
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            problems.push(format!("{at}: scopes must include openid"));
        }
        for (group, members) in &self.groups {
            for m in members {
                let ok = m
                    .split_once('@')
                    .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !m.starts_with('@'));
                if !ok {
                    problems.push(format!(
                        "{at}: groups.{group}: {m:?} is not user@domain or *@domain"
                    ));
                }
            }
        }
    }
}

pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Absolute, no fragment, https except on loopback (RFC 8252 native apps).
pub fn validate_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(uri).map_err(|_| "is not an absolute URL")?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err("must not contain a fragment");
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err("must have a host");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        "http" => Err("must use https (plain http only on loopback)"),
        _ => Err("must use https"),
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `sha256:<base64url of 32 bytes>` → the digest.
/// The one host all of `uris` share (a pairwise client's default sector).
pub fn single_host(uris: &[String]) -> Option<String> {
    let hosts: std::collections::BTreeSet<String> = uris
        .iter()
        .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_string))
        .collect();
    (hosts.len() == 1)
        .then(|| hosts.into_iter().next())
        .flatten()
}

pub fn parse_secret_hash(text: &str) -> Option<[u8; 32]> {
    let raw = text.strip_prefix("sha256:")?;
    crate::crypto::decode_base64(raw)?.try_into().ok()
}

pub fn format_secret_hash(secret: &str) -> String {
    format!("sha256:{}", crate::crypto::sha256_b64url(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_checked() {
        assert!(validate_redirect_uri("https://rp.example/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert!(validate_redirect_uri("http://[::1]:5/cb").is_ok());
        assert!(validate_redirect_uri("http://rp.example/cb").is_err());
        assert!(validate_redirect_uri("https://rp.example/cb#x").is_err());
        assert!(validate_redirect_uri("https://rp.example/cb#").is_err());
        assert!(validate_redirect_uri("/cb").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
        assert!(validate_redirect_uri("myapp://cb").is_err());
    }

    #[test]
    fn secret_hashes_round_trip() {
        let h = format_secret_hash("s3cret-s3cret-s3cret");
        assert_eq!(
            parse_secret_hash(&h).unwrap(),
            crate::crypto::sha256(b"s3cret-s3cret-s3cret")
        );
        assert!(parse_secret_hash("md5:abc").is_none());
    }

    #[test]
    fn a_pairwise_sector_is_the_one_redirect_host_or_must_be_named() {
        let parse = |extra: &str| -> ClientConfig {
            toml::from_str(&format!(
                "id = \"c\"\nname = \"C\"\nredirect_uris = [\"https://a.example/cb\", \"https://a.example/other\"]\n{extra}"
            ))
            .unwrap()
        };
        assert_eq!(parse("").pairwise_sector(), None, "public by default");
        let one_host = parse("subject_type = \"pairwise\"");
        assert_eq!(one_host.pairwise_sector().as_deref(), Some("a.example"));
        let mut two_hosts = one_host.clone();
        two_hosts.redirect_uris.push("https://b.example/cb".into());
        let mut problems = vec![];
        two_hosts.validate(0, &mut problems);
        assert!(
            problems.iter().any(|p| p.contains("sector_identifier")),
            "{problems:?}"
        );
        two_hosts.sector_identifier = Some("example".into());
        assert_eq!(two_hosts.pairwise_sector().as_deref(), Some("example"));
    }

    #[test]
    fn the_hash_of_an_empty_secret_is_refused() {
        let c: ClientConfig = toml::from_str(&format!(
            "id = \"c\"\nname = \"C\"\nredirect_uris = [\"https://a.example/cb\"]\nsecret_hash = \"{}\"",
            format_secret_hash("")
        ))
        .unwrap();
        let mut problems = vec![];
        c.validate(0, &mut problems);
        assert!(
            problems.iter().any(|p| p.contains("empty secret")),
            "{problems:?}"
        );
    }
}

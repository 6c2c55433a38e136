//! The client registry: relying parties from configuration, then those added
//! with `mastodon-oidc clients add` (database). Exact redirect-URI matching
//! and client authentication live here.

use serde::{Deserialize, Serialize};

use crate::config::{ClientConfig, parse_secret_hash};
use crate::crypto::{constant_time_eq, sha256};
use crate::keys::Algorithm;
use crate::store::{self, AnyConnection, StoreResult, clients::ClientRow};

/// Settings kept in the `settings` JSON column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    pub require_pkce: bool,
    pub refresh_tokens: bool,
    pub id_token_signed_response_alg: Algorithm,
    pub synthetic_email: bool,
    pub allowed_servers: Vec<String>,
    pub denied_servers: Vec<String>,
    pub signup: bool,
    /// Group name → members (`user@domain` or `*@domain`).
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Pairwise `sub` (OIDC Core §8.1) for this sector; None: the public one.
    pub pairwise_sector: Option<String>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            require_pkce: true,
            refresh_tokens: false,
            id_token_signed_response_alg: Algorithm::RS256,
            synthetic_email: false,
            allowed_servers: vec![],
            denied_servers: vec![],
            signup: true,
            groups: Default::default(),
            pairwise_sector: None,
        }
    }
}

/// A relying party, resolved from either source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// SHA-256 of the secret; None for public clients.
    pub secret_hash: Option<[u8; 32]>,
    pub public: bool,
    pub scopes: Vec<String>,
    pub settings: ClientSettings,
}

impl Client {
    /// `default_alg` (`signing.algorithm`) signs unless the client names another.
    pub fn from_config(c: &ClientConfig, default_alg: Algorithm) -> Self {
        let secret_hash = match (&c.secret, &c.secret_hash) {
            (Some(s), _) => Some(sha256(s.expose().as_bytes())),
            (None, Some(h)) => parse_secret_hash(h),
            (None, None) => None,
        };
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            secret_hash,
            public: c.public,
            scopes: c.scopes.clone(),
            settings: ClientSettings {
                require_pkce: c.require_pkce || c.public,
                refresh_tokens: c.refresh_tokens,
                id_token_signed_response_alg: c.id_token_signed_response_alg.unwrap_or(default_alg),
                synthetic_email: c.synthetic_email,
                allowed_servers: c.allowed_servers.clone(),
                denied_servers: c.denied_servers.clone(),
                signup: c.signup,
                groups: c.groups.clone(),
                pairwise_sector: c.pairwise_sector(),
            },
        }
    }

    pub fn from_row(row: &ClientRow) -> StoreResult<Self> {
        Ok(Self {
            id: row.id.clone(),
            name: row.name.clone(),
            redirect_uris: store::from_json(&row.redirect_uris)?,
            post_logout_redirect_uris: store::from_json(&row.post_logout_redirect_uris)?,
            secret_hash: row.secret_hash.as_deref().and_then(parse_secret_hash),
            public: row.public,
            scopes: row.scopes.split_whitespace().map(String::from).collect(),
            settings: store::from_json(&row.settings)?,
        })
    }

    pub fn to_row(&self, now: i64) -> ClientRow {
        ClientRow {
            id: self.id.clone(),
            name: self.name.clone(),
            redirect_uris: store::to_json(&self.redirect_uris),
            post_logout_redirect_uris: store::to_json(&self.post_logout_redirect_uris),
            secret_hash: self
                .secret_hash
                .map(|h| format!("sha256:{}", crate::crypto::b64url(&h))),
            public: self.public,
            scopes: self.scopes.join(" "),
            settings: store::to_json(&self.settings),
            created_at: now,
            updated_at: now,
        }
    }

    /// Exact string match against a registered redirect URI (RFC 9700
    /// §4.1.3), but for the port of a loopback-IP one (RFC 8252 §7.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| {
            r == uri
                || without_loopback_port(r).is_some_and(|r| Some(r) == without_loopback_port(uri))
        })
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Constant-time check of a presented secret.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(h) => constant_time_eq(h, &sha256(presented.as_bytes())),
            None => false,
        }
    }

    /// The configured groups `handle` (`user@domain`) belongs to, sorted.
    pub fn groups_for(&self, handle: &str) -> Vec<String> {
        let handle = handle.trim_start_matches('@').to_ascii_lowercase();
        let domain = handle.split_once('@').map(|(_, d)| d).unwrap_or("");
        self.settings
            .groups
            .iter()
            .filter(|(_, members)| {
                members.iter().any(|m| {
                    let m = m.to_ascii_lowercase();
                    m == handle || m.strip_prefix("*@").is_some_and(|d| d == domain)
                })
            })
            .map(|(g, _)| g.clone())
            .collect()
    }

    pub fn allows_server(&self, host: &str) -> bool {
        let s = &self.settings;
        (s.allowed_servers.is_empty() || s.allowed_servers.iter().any(|a| a == host))
            && !s.denied_servers.iter().any(|d| d == host)
    }
}

/// `http://127.0.0.1:PORT…` or `http://[::1]:PORT…` with the port cut out,
/// byte for byte otherwise; None for anything else (`localhost` included:
/// a name can resolve elsewhere, RFC 8252 §8.3).
fn without_loopback_port(uri: &str) -> Option<String> {
    let host = ["http://127.0.0.1", "http://[::1]"]
        .into_iter()
        .find(|h| uri.starts_with(h))?;
    let rest = &uri[host.len()..];
    let rest = match rest.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            (1..=5).contains(&digits).then(|| &p[digits..])?
        }
        None => rest,
    };
    (rest.is_empty() || rest.starts_with(['/', '?'])).then(|| format!("{host}{rest}"))
}

/// Configuration clients are fixed for the process; database clients are
/// read per request so `clients add` takes effect on every replica at once.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    configured: Vec<Client>,
}

impl Registry {
    pub fn new(configured: Vec<Client>) -> Self {
        Self { configured }
    }

    pub fn configured(&self) -> &[Client] {
        &self.configured
    }

    pub fn add_configured(&mut self, client: Client) {
        self.configured.retain(|c| c.id != client.id);
        self.configured.push(client);
    }

    /// A configured client, without touching the database.
    pub fn configured_client(&self, id: &str) -> Option<Client> {
        self.configured.iter().find(|c| c.id == id).cloned()
    }

    pub fn lookup(&self, conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Client>> {
        if let Some(c) = self.configured_client(id) {
            return Ok(Some(c));
        }
        store::clients::get(conn, id)?
            .map(|row| Client::from_row(&row))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(groups: &[(&str, &[&str])]) -> Client {
        let mut settings = ClientSettings::default();
        for (g, m) in groups {
            settings
                .groups
                .insert(g.to_string(), m.iter().map(|s| s.to_string()).collect());
        }
        Client {
            id: "c".into(),
            name: "C".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            post_logout_redirect_uris: vec![],
            secret_hash: Some(sha256(b"secret-secret-secret")),
            public: false,
            scopes: vec!["openid".into()],
            settings,
        }
    }

    #[test]
    fn groups_match_handles_and_whole_servers() {
        let c = client(&[
            ("admins", &["alice@example.social"]),
            ("ops", &["*@ops.example"]),
        ]);
        assert_eq!(c.groups_for("@Alice@Example.Social"), ["admins"]);
        assert_eq!(c.groups_for("bob@ops.example"), ["ops"]);
        assert!(c.groups_for("bob@example.social").is_empty());
        assert!(c.groups_for("alice@evil-example.social").is_empty());
        assert!(c.groups_for("mallory@notops.example").is_empty());
    }

    #[test]
    fn a_client_without_an_algorithm_gets_the_configured_one() {
        let mut c: ClientConfig = toml::from_str(
            "id = \"c\"\nname = \"C\"\nredirect_uris = [\"https://rp.example/cb\"]\nsecret = \"0123456789abcdef\"",
        )
        .unwrap();
        let alg = |c: &ClientConfig| {
            Client::from_config(c, Algorithm::EdDSA)
                .settings
                .id_token_signed_response_alg
        };
        assert_eq!(alg(&c), Algorithm::EdDSA);
        c.id_token_signed_response_alg = Some(Algorithm::ES256);
        assert_eq!(alg(&c), Algorithm::ES256);
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(&[]);
        assert!(c.has_redirect_uri("https://rp.example/cb"));
        for near in [
            "https://rp.example/cb/",
            "https://rp.example/cb?x=1",
            "https://RP.example/cb",
            "http://rp.example/cb",
        ] {
            assert!(!c.has_redirect_uri(near), "{near}");
        }
        assert!(c.secret_matches("secret-secret-secret"));
        // Native apps: any port of a registered loopback IP, nothing else.
        let mut native = client(&[]);
        native.redirect_uris = vec!["http://127.0.0.1/cb".into(), "http://[::1]:8080".into()];
        for ok in [
            "http://127.0.0.1:51004/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:1",
            "http://[::1]",
        ] {
            assert!(native.has_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:51004/cb/",
            "http://127.0.0.1:51004/other",
            "http://127.0.0.1:x/cb",
            "http://127.0.0.1:51004@evil.example/cb",
            "http://127.0.0.2:51004/cb",
            "http://localhost:51004/cb",
            "https://127.0.0.1:51004/cb",
            "http://[::1]:8080/x",
        ] {
            assert!(!native.has_redirect_uri(bad), "{bad}");
        }
        let mut named = client(&[]);
        named.redirect_uris = vec!["http://localhost:8080/cb".into()];
        assert!(!named.has_redirect_uri("http://localhost:9090/cb"));
        assert!(!c.secret_matches("secret-secret-secreT"));
    }
}

//! Typed configuration: an optional TOML file, then environment overrides
//! (`MASTODON_OIDC_<KEY>`, nested keys joined by `__`, e.g.
//! `MASTODON_OIDC_DATABASE__URL`). Validation reports every problem at once.
//! Configuration is passed in, never global.

mod clients;
mod limits;
mod load;
mod secret;
mod upstream;

use std::path::{Path, PathBuf};

pub use clients::{
    ClientConfig, SubjectType, default_scopes, format_secret_hash, parse_secret_hash, single_host,
    valid_client_id, validate_redirect_uri,
};
pub use limits::LimitsConfig;
pub use secret::Secret;
pub use upstream::UpstreamConfig;

use crate::keys::Algorithm;

pub const ENV_PREFIX: &str = "MASTODON_OIDC_";

/// The `master_secret` printed in `config/example.toml`: refused in production.
const EXAMPLE_MASTER_SECRET: &str = "q5Qn2uX3cC1Jm0f0b7r8d8Vv1m3Yk1zZk8YQ7mT0p9A=";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Generated master secret, plain-http issuer allowed, demo relying party on.
    Development,
    /// Master secret required, https issuer required, no demo.
    Production,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults to development without a config file, production with one.
    pub mode: Option<Mode>,
    /// The issuer URL, exactly as relying parties will see it in `iss`.
    pub issuer: Option<String>,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where the embedded database and development secrets live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Base64 of at least 32 random bytes; encrypts secrets at rest.
    pub master_secret: Option<Secret>,
    /// A file holding the master secret (for container secrets).
    pub master_secret_file: Option<PathBuf>,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub tokens: TokenConfig,
    #[serde(default)]
    pub signing: SigningConfig,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (human-readable) or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `mastodon_oidc=debug,info`.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`; default: SQLite in `data_dir`.
    pub url: Option<Secret>,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    /// Apply pending migrations at start-up.
    pub run_migrations: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            pool_size: 8,
            connect_timeout_secs: 5,
            run_migrations: true,
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// The bridge's own single-sign-on session.
    pub session_ttl_secs: i64,
    /// How long a person has to finish a login once started.
    pub auth_request_ttl_secs: i64,
    /// How long a sign-up may wait for its e-mail confirmation (and approval)
    /// before the original login is abandoned. Mastodon deletes unconfirmed
    /// accounts after a week.
    pub signup_ttl_secs: i64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            access_token_ttl_secs: 3600,
            id_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 30 * 86_400,
            session_ttl_secs: 7 * 86_400,
            auth_request_ttl_secs: 1800,
            signup_ttl_secs: 7 * 86_400,
        }
    }
}

impl TokenConfig {
    /// The longest a token we signed stays valid: retired keys stay published this long.
    pub fn longest_signed_lifetime(&self) -> i64 {
        self.id_token_ttl_secs.max(self.access_token_ttl_secs)
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// Algorithm of the default signing key (RS256, ES256 or EdDSA).
    pub algorithm: Algorithm,
    /// A rotated-in key is published this long before it signs, so every
    /// replica and every relying party's JWKS cache has it first.
    pub publish_before_use_secs: i64,
    /// Allowed clock skew when judging token times.
    pub clock_skew_secs: i64,
    /// How often each replica re-reads the key table.
    pub reload_interval_secs: u64,
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::RS256,
            publish_before_use_secs: 3600,
            clock_skew_secs: 300,
            reload_interval_secs: 30,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// Configuration problems, all of them. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Read an optional file, apply the environment, validate: every
    /// problem at once, none with a value in it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let (config, report) = load::read(file, env, &mut problems);
        let mut checks = Vec::new();
        let config = config.map(|(mut config, client_indices)| {
            if config.mode.is_none() {
                config.mode = Some(if file.is_some() {
                    Mode::Production
                } else {
                    Mode::Development
                });
            }
            config.validate(&client_indices, &mut checks);
            config
        });
        checks.retain(|p| !report.repeats(p));
        drop(report);
        problems.extend(checks);
        match config {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(ConfigError(problems)),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Development)
    }

    pub fn is_development(&self) -> bool {
        self.mode() == Mode::Development
    }

    /// The issuer exactly as configured (relying parties compare it byte for
    /// byte, trailing slash included), or the development default derived
    /// from the listen address.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) => u.expose().to_string(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("mastodon-oidc.sqlite3").display()
            ),
        }
    }

    fn validate_master_secret(&self, production: bool, problems: &mut Vec<String>) {
        const HOW: &str = "base64 of at least 32 bytes (try: openssl rand -base64 32)";
        let value = match (&self.master_secret, &self.master_secret_file) {
            (Some(_), Some(_)) => {
                return problems.push("give master_secret or master_secret_file, not both".into());
            }
            (None, None) if production => {
                return problems.push(
                    "master_secret (or master_secret_file) is required in production mode".into(),
                );
            }
            (None, None) => return,
            (Some(s), None) => ("master_secret".to_string(), s.expose().to_string()),
            // Read here, so a missing or bad file is a configuration error (exit 2).
            (None, Some(path)) => {
                let name = format!("master_secret_file {}", path.display());
                match std::fs::read_to_string(path) {
                    Ok(text) => (name, text),
                    Err(e) => {
                        return problems.push(format!("{name}: cannot read it: {}", e.kind()));
                    }
                }
            }
        };
        let (name, text) = value;
        let decoded = crate::crypto::decode_base64(text.trim());
        if crate::crypto::Sealer::from_base64(&text).is_err() {
            problems.push(format!("{name} must be {HOW}"));
        } else if production && decoded == crate::crypto::decode_base64(EXAMPLE_MASTER_SECRET) {
            problems.push(format!(
                "{name} is the example from config/example.toml, which everybody knows: use your own, {HOW}"
            ));
        }
    }

    /// `client_indices`: each client's index in the input, for the messages.
    fn validate(&self, client_indices: &[usize], problems: &mut Vec<String>) {
        let production = self.mode() == Mode::Production;
        match &self.issuer {
            None if production => problems.push("issuer is required in production mode".into()),
            None => {}
            Some(issuer) => match url::Url::parse(issuer) {
                Err(e) => problems.push(format!("issuer is not a URL: {e}")),
                Ok(u) => {
                    if u.query().is_some() || u.fragment().is_some() {
                        problems.push("issuer must not have a query or fragment".into());
                    }
                    if production && u.scheme() != "https" {
                        problems.push("issuer must use https in production mode".into());
                    }
                    if !matches!(u.scheme(), "http" | "https") {
                        problems.push("issuer must be an http(s) URL".into());
                    }
                }
            },
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("listen is not an address:port: {}", self.listen));
        }
        self.validate_master_secret(production, problems);
        let url = self.database_url();
        if !(url.starts_with("sqlite://")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            problems.push("database.url must start with sqlite:// or postgres://".into());
        }
        if self.database.pool_size == 0 {
            problems.push("database.pool_size must be at least 1".into());
        }
        let t = &self.tokens;
        for (name, v, max) in [
            ("code_ttl_secs", t.code_ttl_secs, 60),
            ("access_token_ttl_secs", t.access_token_ttl_secs, 86_400),
            ("id_token_ttl_secs", t.id_token_ttl_secs, 86_400),
            (
                "refresh_token_ttl_secs",
                t.refresh_token_ttl_secs,
                365 * 86_400,
            ),
            ("session_ttl_secs", t.session_ttl_secs, 90 * 86_400),
            ("auth_request_ttl_secs", t.auth_request_ttl_secs, 86_400),
            ("signup_ttl_secs", t.signup_ttl_secs, 90 * 86_400),
        ] {
            if v < 1 || v > max {
                problems.push(format!("tokens.{name} must be between 1 and {max}"));
            }
        }
        if self.signing.publish_before_use_secs < 0 || self.signing.clock_skew_secs < 0 {
            problems.push("signing times must not be negative".into());
        }
        if self.signing.reload_interval_secs == 0 {
            problems.push("signing.reload_interval_secs must be at least 1".into());
        }
        // A new key must reach every replica and every cached JWKS before it signs.
        let jwks_max_age = i64::from(crate::oidc::jwks::JWKS_MAX_AGE);
        let reload = i64::try_from(self.signing.reload_interval_secs).unwrap_or(i64::MAX);
        let least = jwks_max_age.saturating_add(reload);
        if self.signing.publish_before_use_secs < least {
            problems.push(format!(
                "signing.publish_before_use_secs must be at least {least}: the JWKS max-age ({jwks_max_age} s) plus signing.reload_interval_secs, or relying parties and replicas may meet tokens from a key they have not seen yet"
            ));
        }
        self.upstream.validate(production, problems);
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let i = client_indices.get(i).copied().unwrap_or(i);
            c.validate(i, problems);
            if !seen.insert(c.id.as_str()) {
                problems.push(format!("clients[{i}]: duplicate client id {:?}", c.id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_file_means_a_development_setup() {
        let c = Config::load(None, env(&[])).unwrap();
        assert!(c.is_development());
        assert_eq!(c.issuer(), "http://127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn environment_overrides_nested_keys_with_types() {
        let c = Config::load(
            None,
            env(&[
                ("MASTODON_OIDC_DATABASE__POOL_SIZE", "3"),
                ("MASTODON_OIDC_UPSTREAM__ALLOW_INSECURE", "true"),
                ("MASTODON_OIDC_ISSUER", "http://localhost:9/"),
                ("OTHER_VAR", "ignored"),
                // The --config flag's variable is not a setting.
                ("MASTODON_OIDC_CONFIG", "/etc/mastodon-oidc/config.toml"),
            ]),
        )
        .unwrap();
        assert_eq!(c.database.pool_size, 3);
        assert!(c.upstream.allow_insecure);
        assert_eq!(c.issuer(), "http://localhost:9/", "exactly as given");
    }

    #[test]
    fn production_reports_every_problem_at_once_without_secrets() {
        let err = Config::load(
            None,
            env(&[
                ("MASTODON_OIDC_MODE", "production"),
                ("MASTODON_OIDC_ISSUER", "http://login.example"),
                ("MASTODON_OIDC_UPSTREAM__ALLOW_INSECURE", "true"),
                ("MASTODON_OIDC_TOKENS__CODE_TTL_SECS", "0"),
                (
                    "MASTODON_OIDC_CLIENTS",
                    r#"[{id="a b", name="x", redirect_uris=["http://rp.example/cb"], secret="tooshort-value-SECRET"}]"#,
                ),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        for needle in [
            "https in production",
            "master_secret",
            "allow_insecure",
            "code_ttl_secs",
            "id must be",
            "must use https",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert!(!text.contains("SECRET"));
        assert!(err.0.len() >= 6);
    }

    #[test]
    fn example_file_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
        // Its master secret is public: production wants another.
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(err.0[0].contains("the example"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(EXAMPLE_MASTER_SECRET));
        let own = crate::crypto::b64url(&[1; 32]);
        let c = Config::load(Some(&path), env(&[("MASTODON_OIDC_MASTER_SECRET", &own)])).unwrap();
        assert_eq!(c.mode(), Mode::Production);
        assert!(!c.clients.is_empty());
        // Development may use it.
        Config::load(Some(&path), env(&[("MASTODON_OIDC_MODE", "development")])).unwrap();
    }

    /// The fields of a settings struct, as serde knows them: its "unknown
    /// field" error lists every one (`deny_unknown_fields`).
    fn fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let err = toml::from_str::<T>("no_such_setting = 0").err().unwrap();
        let (_, expected) = err.message().split_once("expected").unwrap();
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect()
    }

    /// Every setting, in every section and of `[[clients]]`, appears in the
    /// commented example (set, or as a commented `# key = …` line).
    #[test]
    fn example_file_documents_every_setting() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml"),
        )
        .unwrap();
        let mut documented = std::collections::BTreeSet::new();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(h) = line.strip_prefix('[') {
                section = h.trim_matches(['[', ']']).to_string();
                documented.insert(section.clone());
                continue;
            }
            let line = line.trim_start_matches("# ");
            if let Some((key, _)) = line.split_once(" = ")
                && !key.contains(' ')
            {
                let path = if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                };
                documented.insert(path);
            }
        }
        let mut wanted = vec![];
        for (section, names) in [
            ("", fields::<Config>()),
            ("log", fields::<LogConfig>()),
            ("database", fields::<DatabaseConfig>()),
            ("tokens", fields::<TokenConfig>()),
            ("signing", fields::<SigningConfig>()),
            ("upstream", fields::<UpstreamConfig>()),
            ("limits", fields::<LimitsConfig>()),
            ("clients", fields::<ClientConfig>()),
        ] {
            assert!(names.len() >= 2, "{section}: {names:?}");
            for name in names {
                wanted.push(if section.is_empty() {
                    name
                } else {
                    format!("{section}.{name}")
                });
            }
        }
        assert!(wanted.contains(&"upstream.host_overrides".to_string()));
        assert!(wanted.contains(&"clients.groups".to_string()));
        let missing: Vec<_> = wanted.iter().filter(|p| !documented.contains(*p)).collect();
        assert!(missing.is_empty(), "config/example.toml lacks {missing:?}");
    }

    /// The README's configuration table names every setting.
    #[test]
    fn readme_lists_every_setting() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let table: String = readme
            .lines()
            .skip_while(|l| !l.starts_with("| setting |"))
            .take_while(|l| l.starts_with('|'))
            .collect();
        let mut missing = vec![];
        for (section, names) in [
            ("", fields::<Config>()),
            ("log.", fields::<LogConfig>()),
            ("database.", fields::<DatabaseConfig>()),
            ("tokens.", fields::<TokenConfig>()),
            ("signing.", fields::<SigningConfig>()),
            ("upstream.", fields::<UpstreamConfig>()),
            ("limits.", fields::<LimitsConfig>()),
            // `[[clients]]` fields are listed in its row, unprefixed.
            ("", fields::<ClientConfig>()),
        ] {
            for name in names {
                let key = format!("`{section}{name}`");
                // A section (`log`) is documented by its settings.
                let is_section = section.is_empty()
                    && (table.contains(&format!("`{name}.")) || name == "clients");
                if !(is_section || table.contains(&key)) {
                    missing.push(key);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "README configuration table lacks {missing:?}"
        );
    }

    #[test]
    fn signup_servers_come_from_the_environment_and_are_checked() {
        let c = Config::load(
            None,
            env(&[(
                "MASTODON_OIDC_UPSTREAM__SIGNUP_SERVERS",
                r#"["mastodon.example", "social.example"]"#,
            )]),
        )
        .unwrap();
        assert_eq!(
            c.upstream.signup_servers,
            ["mastodon.example", "social.example"]
        );
        assert!(c.upstream.signup_allowed("social.example"));
        assert!(!c.upstream.signup_allowed("other.example"));
        let err = Config::load(
            None,
            env(&[(
                "MASTODON_OIDC_UPSTREAM__SIGNUP_SERVERS",
                r#"["https://Mastodon.example/"]"#,
            )]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("signup_servers"), "{err}");
        let off = Config::load(
            None,
            env(&[("MASTODON_OIDC_UPSTREAM__SIGNUP_ENABLED", "false")]),
        )
        .unwrap();
        assert!(!off.upstream.signup_allowed("mastodon.example"));
    }

    #[test]
    fn a_rotated_key_is_published_longer_than_caches_and_reloads_take() {
        let load = |publish: &str, reload: &str| {
            Config::load(
                None,
                env(&[
                    ("MASTODON_OIDC_SIGNING__PUBLISH_BEFORE_USE_SECS", publish),
                    ("MASTODON_OIDC_SIGNING__RELOAD_INTERVAL_SECS", reload),
                ]),
            )
        };
        assert!(load("330", "30").is_ok(), "300 s max-age + 30 s reload");
        let err = load("329", "30").unwrap_err().to_string();
        assert!(
            err.contains("signing.publish_before_use_secs must be at least 330"),
            "{err}"
        );
        assert!(load("600", "301").is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::load(None, env(&[("MASTODON_OIDC_ISUER", "x")])).unwrap_err();
        assert!(err.to_string().contains("isuer"), "{err}");
    }
}

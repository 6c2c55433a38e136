//! Typed configuration: an optional TOML file, then environment overrides
//! (`MASTODON_OIDC_<KEY>`, nested keys joined by `__`, e.g.
//! `MASTODON_OIDC_DATABASE__URL`). Validation reports every problem at once.
//! Configuration is passed in, never global.

mod clients;
mod limits;
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
    /// Read an optional file, apply the environment, validate.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(vec![format!("cannot read {}: {e}", path.display())])
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(vec![format!("{} is not valid TOML: {e}", path.display())])
                })?
            }
            None => toml::Table::new(),
        };
        let mut problems = Vec::new();
        apply_env(&mut table, env, &mut problems);
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(vec![e.message().to_string()]))?;
        if config.mode.is_none() {
            config.mode = Some(if file.is_some() {
                Mode::Production
            } else {
                Mode::Development
            });
        }
        config.validate(&mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Development)
    }

    pub fn is_development(&self) -> bool {
        self.mode() == Mode::Development
    }

    /// The issuer, with the development default derived from the listen address.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_string(),
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

    fn validate(&self, problems: &mut Vec<String>) {
        let production = self.mode() == Mode::Production;
        match &self.issuer {
            None if production => problems.push("issuer is required in production mode".into()),
            None => {}
            Some(issuer) => match url::Url::parse(issuer) {
                Err(_) => problems.push(format!("issuer is not a URL: {issuer}")),
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
        match (&self.master_secret, &self.master_secret_file) {
            (Some(_), Some(_)) => {
                problems.push("give master_secret or master_secret_file, not both".into())
            }
            (Some(s), None) if crate::crypto::Sealer::from_base64(s.expose()).is_err() => problems
                .push(
                "master_secret must be base64 of at least 32 bytes (try: openssl rand -base64 32)"
                    .into(),
            ),
            (None, None) if production => problems.push(
                "master_secret (or master_secret_file) is required in production mode".into(),
            ),
            _ => {}
        }
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
        self.upstream.validate(production, problems);
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            c.validate(i, problems);
            if !seen.insert(c.id.as_str()) {
                problems.push(format!("clients[{i}]: duplicate client id {:?}", c.id));
            }
        }
    }
}

/// Merge `MASTODON_OIDC_A__B=value` into the table at `a.b`. Values that read
/// as TOML booleans, integers, arrays or inline tables keep that type.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Vec<String>,
) {
    let mut vars: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        // The `--config` flag's own variable, not a setting.
        .filter(|(k, _)| k != "MASTODON_OIDC_CONFIG")
        .collect();
    vars.sort();
    for (key, raw) in vars {
        let path: Vec<String> = key[ENV_PREFIX.len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        if path.iter().any(|p| p.is_empty()) {
            problems.push(format!("environment variable {key} has an empty key part"));
            continue;
        }
        if let Err(section) = insert_path(table, &path, env_value(&raw)) {
            problems.push(format!(
                "environment variable {key}: {section} is not a section"
            ));
        }
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("non-empty");
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    match table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(t) => insert_path(t, rest, value),
        _ => Err(first.clone()),
    }
}

fn env_value(raw: &str) -> toml::Value {
    let t = raw.trim();
    let typed = t == "true"
        || t == "false"
        || t.parse::<i64>().is_ok()
        || t.starts_with('[')
        || t.starts_with('{');
    if typed
        && let Ok(mut doc) = format!("v = {t}").parse::<toml::Table>()
        && let Some(v) = doc.remove("v")
    {
        return v;
    }
    toml::Value::String(raw.to_string())
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
        assert_eq!(c.issuer(), "http://localhost:9");
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
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c.mode(), Mode::Production);
        assert!(!c.clients.is_empty());
    }

    /// Every setting with a default appears in the commented example.
    #[test]
    fn example_file_documents_every_setting() {
        fn paths(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    match v {
                        toml::Value::Table(_) if !p.starts_with("limits.") => paths(&p, v, out),
                        _ => out.push(p),
                    }
                }
            }
        }
        let c = Config::load(None, env(&[])).unwrap();
        let mut defaults = toml::Table::new();
        for (k, v) in [
            ("log", toml::Value::try_from(&c.log)),
            ("database", toml::Value::try_from(&c.database)),
            ("tokens", toml::Value::try_from(&c.tokens)),
            ("signing", toml::Value::try_from(&c.signing)),
            ("upstream", toml::Value::try_from(&c.upstream)),
            ("limits", toml::Value::try_from(&c.limits)),
        ] {
            defaults.insert(k.into(), v.unwrap());
        }
        let mut wanted = vec![];
        paths("", &toml::Value::Table(defaults), &mut wanted);
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml"),
        )
        .unwrap();
        let example: toml::Value = toml::Value::Table(text.parse().unwrap());
        let mut have = vec![];
        paths("", &example, &mut have);
        let missing: Vec<_> = wanted
            .iter()
            .filter(|p| {
                !have.contains(p) && !text.contains(&format!("# {}", p.rsplit('.').next().unwrap()))
            })
            .filter(|p| !p.ends_with("host_overrides"))
            .collect();
        assert!(missing.is_empty(), "config/example.toml lacks {missing:?}");
        for top in [
            "mode",
            "issuer",
            "listen",
            "data_dir",
            "master_secret",
            "workers",
            "clients",
        ] {
            assert!(text.contains(top), "example lacks {top}");
        }
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
    fn unknown_keys_are_errors() {
        let err = Config::load(None, env(&[("MASTODON_OIDC_ISUER", "x")])).unwrap_err();
        assert!(err.to_string().contains("isuer"), "{err}");
    }
}

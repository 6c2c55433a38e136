//! What configuration problems say: every one at once, where it is, never the value.

use std::path::Path;

use crate::config::Config;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Load `file_text` (as a file) with `vars`; the problems, one per line.
fn problems(file_text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, file_text).unwrap();
    let dir = format!("{}/", dir.path().display());
    let problems = Config::load(Some(&path), env(vars)).unwrap_err().0;
    problems.into_iter().map(|p| p.replace(&dir, "")).collect()
}

fn has(problems: &[String], needles: &[&str]) {
    for n in needles {
        assert!(
            problems.iter().any(|p| p.contains(n)),
            "{n:?} missing from {problems:#?}"
        );
    }
}

#[test]
fn type_errors_are_listed_with_every_other_problem() {
    let p = problems(
        "issuer = \"http://login.example\"\nlisten = 5\n[tokens]\ncode_ttl_secs = \"soon\"\nid_token_ttl_secs = 0\n[limits]\ntoken = { per_minute = true, burst = 3 }\n",
        &[
            ("MASTODON_OIDC_DATABASE__POOL_SIZE", "many"),
            ("MASTODON_OIDC_TOKENS____X", "1"),
        ],
    );
    has(
        &p,
        &[
            "listen: wrong type: expected a string, found an integer (config.toml line 2, column 1)",
            "tokens.code_ttl_secs: wrong type: expected an integer, found a string (config.toml line 4, column 1)",
            "limits.token.per_minute: wrong type",
            "database.pool_size: wrong type: expected a non-negative integer, found a string (environment variable MASTODON_OIDC_DATABASE__POOL_SIZE)",
            "MASTODON_OIDC_TOKENS____X has an empty key part",
            // Validation still runs on what could be read.
            "https in production",
            "tokens.id_token_ttl_secs must be between",
            "master_secret (or master_secret_file) is required",
        ],
    );
    assert!(
        !p.iter().any(|p| p.contains("limits.token.burst")),
        "setting a value aside is not a second problem: {p:#?}"
    );
    assert_eq!(p.len(), 8, "{p:#?}");
}

#[test]
fn unknown_and_missing_keys_are_named() {
    let p = problems(
        "mode = \"production\"\nissuer = \"https://login.example\"\nmaster_secret_file = \"/nonexistent/secret\"\n[tokens]\ncode_tll_secs = 5\n[[clients]]\nid = \"a\"\nredirect_uris = []\n[[clients]]\nid = \"b\"\nname = \"B\"\nredirect_uris = [\"https://b.example/cb\"]\nsecret = 1234567890123456789\n",
        &[("MASTODON_OIDC_SIGNING__ALGORITM", "ES256")],
    );
    has(
        &p,
        &[
            "tokens.code_tll_secs: unknown setting (config.toml line 5, column 1)",
            "signing.algoritm: unknown setting (environment variable MASTODON_OIDC_SIGNING__ALGORITM)",
            "clients[0].name: is required (config.toml line 6, column 1)",
            "clients[1].secret: wrong type: expected a string, found an integer (config.toml line 13, column 1)",
            "master_secret_file /nonexistent/secret: cannot read it",
        ],
    );
}

#[test]
fn values_are_never_printed() {
    let secret = "pw-SECRET-1";
    let url = format!("postgres://u:{secret}@db.example/oidc");
    let all = |p: Vec<String>| {
        let text = p.join("\n");
        assert!(!text.contains("SECRET"), "a value leaked: {text}");
        p
    };
    // A malformed inline value in the environment.
    let p = all(problems(
        "",
        &[(
            "MASTODON_OIDC_CLIENTS",
            r#"[{id="a", name="A", redirect_uris=["https://a.example/cb"], secret="client-SECRET-2""#,
        )],
    ));
    has(
        &p,
        &["environment variable MASTODON_OIDC_CLIENTS: not valid TOML at column"],
    );
    // The database URL where a number or a section is wanted.
    let p = all(problems(
        "",
        &[
            ("MASTODON_OIDC_DATABASE__POOL_SIZE", url.as_str()),
            ("MASTODON_OIDC_LOG", url.as_str()),
        ],
    ));
    has(
        &p,
        &[
            "database.pool_size: wrong type",
            "log: wrong type: expected a table, found a string (environment variable MASTODON_OIDC_LOG)",
        ],
    );
    // A syntax error on the master_secret line: position and kind only.
    let p = all(problems(
        "issuer = \"https://login.example\"\nmaster_secret = \"master-SECRET-3\n",
        &[],
    ));
    has(&p, &["config.toml line 2, column 33: invalid basic string"]);
    assert_eq!(p.len(), 1, "{p:#?}");
    // An unknown value of an enum.
    let p = all(problems("[signing]\nalgorithm = \"alg-SECRET-4\"\n", &[]));
    has(
        &p,
        &[
            "signing.algorithm: unknown value, expected one of `RS256`, `ES256`, `EdDSA` (config.toml line 2, column 1)",
        ],
    );
}

#[test]
fn a_bad_master_secret_file_is_a_configuration_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("master");
    std::fs::write(&file, "not-base64-SECRET!").unwrap();
    let vars = |f: &Path| {
        env(&[
            ("MASTODON_OIDC_MASTER_SECRET_FILE", f.to_str().unwrap()),
            ("MASTODON_OIDC_MODE", "production"),
            ("MASTODON_OIDC_ISSUER", "https://login.example"),
        ])
    };
    let err = Config::load(None, vars(&file)).unwrap_err().to_string();
    assert!(
        err.contains("master_secret_file") && err.contains("must be base64"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
    let err = Config::load(None, vars(&dir.path().join("missing")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read it"), "{err}");
    std::fs::write(&file, "q5Qn2uX3cC1Jm0f0b7r8d8Vv1m3Yk1zZk8YQ7mT0p9A=\n").unwrap();
    let err = Config::load(None, vars(&file)).unwrap_err().to_string();
    assert!(err.contains("the example"), "{err}");
    std::fs::write(&file, crate::crypto::b64url(&[5; 32])).unwrap();
    assert!(Config::load(None, vars(&file)).is_ok());
}

#[test]
fn environment_text_that_looks_like_a_number_is_a_string_where_one_is_wanted() {
    let c = Config::load(
        None,
        env(&[
            ("MASTODON_OIDC_UPSTREAM__CLIENT_NAME", "2024"),
            ("MASTODON_OIDC_UPSTREAM__USER_AGENT", "true"),
            ("MASTODON_OIDC_TOKENS__ACCESS_TOKEN_TTL_SECS", "120"),
        ]),
    )
    .unwrap();
    assert_eq!(c.upstream.client_name, "2024");
    assert_eq!(c.upstream.user_agent.as_deref(), Some("true"));
    assert_eq!(c.tokens.access_token_ttl_secs, 120);
    // A number where a number is wanted is still checked as one.
    has(
        &problems(
            "",
            &[("MASTODON_OIDC_TOKENS__ACCESS_TOKEN_TTL_SECS", "soon")],
        ),
        &[
            "tokens.access_token_ttl_secs",
            "MASTODON_OIDC_TOKENS__ACCESS_TOKEN_TTL_SECS",
        ],
    );
}

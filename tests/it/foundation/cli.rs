//! The real binary: start with nothing, invalid configuration, and the
//! clients and keys commands.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mastodon-oidc");

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("MASTODON_OIDC_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the binary")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(url: &str) -> reqwest::Response {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(url).await {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// Spawn `serve` in `dir`, read the JWKS kids, stop it.
async fn serve_once(dir: &std::path::Path) -> (Vec<String>, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .current_dir(dir)
        .env("MASTODON_OIDC_LISTEN", &listen)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let res = wait_ready(&format!("http://{listen}/jwks.json")).await;
    let jwks: serde_json::Value = res.json().await.unwrap();
    let kids = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    let ready = reqwest::get(format!("http://{listen}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // SIGTERM: graceful stop.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "clean exit on SIGTERM: {:?}",
        out.status
    );
    (kids, String::from_utf8_lossy(&out.stderr).to_string())
}

#[tokio::test]
async fn starts_with_nothing_and_reuses_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (first, log) = serve_once(dir.path()).await;
    assert!(log.contains("DEVELOPMENT SETUP"), "{log}");
    // Where the data lives, as an absolute path (the test's cwd is the temp dir).
    let data = dir.path().join("data");
    let warning = log
        .lines()
        .find(|l| l.contains("DEVELOPMENT SETUP"))
        .unwrap();
    assert!(
        warning.contains(&format!("data_dir={}", data.display())),
        "{warning}"
    );
    assert!(warning.contains("database=sqlite://"), "{warning}");
    assert!(dir.path().join("data/master.key").exists());
    assert!(dir.path().join("data/mastodon-oidc.sqlite3").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "master key readable by others: {mode:o}");
    }
    let (second, _) = serve_once(dir.path()).await;
    assert_eq!(first, second, "same keys (kid) after a restart");
}

#[test]
fn invalid_configuration_exits_2_and_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "issuer = \"http://login.example\"\nmaster_secret = \"SUPERSECRETVALUE\"\n[tokens]\ncode_ttl_secs = 0\n[[clients]]\nid = \"x\"\nname = \"X\"\nredirect_uris = [\"https://x.example/cb#frag\"]\nsecret = \"CLIENTSECRETVALUE123\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["serve", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    for needle in [
        "https in production",
        "master_secret must be base64",
        "code_ttl_secs",
        "fragment",
    ] {
        assert!(t.contains(needle), "{needle} missing: {t}");
    }
    assert!(
        !t.contains("SUPERSECRETVALUE") && !t.contains("CLIENTSECRETVALUE123"),
        "secret leaked: {t}"
    );
    assert!(!t.contains("panicked"));
}

/// Type and syntax errors, a bad master secret file: exit 2, keys and
/// positions named, no value printed.
#[test]
fn configuration_errors_name_keys_never_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let secret_file = dir.path().join("master");
    let serve = |env: &[(&str, &str)]| {
        let out = run(
            dir.path(),
            &["serve", "--config", file.to_str().unwrap()],
            env,
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        for secret in ["DBPASSWORD", "CLIENTSECRETVALUE", "MASTERSECRETVALUE"] {
            assert!(!t.contains(secret), "{secret} leaked: {t}");
        }
        assert!(!t.contains("panicked"), "{t}");
        t
    };
    std::fs::write(
        &file,
        format!(
            "issuer = \"https://login.example\"\nmaster_secret_file = \"{}\"\n[database]\npool_size = \"postgres://u:DBPASSWORD@db/oidc\"\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let t = serve(&[(
        "MASTODON_OIDC_CLIENTS",
        r#"[{id="a", name="A", redirect_uris=["https://a.example/cb"], secret="CLIENTSECRETVALUE""#,
    )]);
    for needle in [
        "master_secret_file",
        "cannot read it",
        "database.pool_size: wrong type",
        "config.toml line 4, column 1",
        "environment variable MASTODON_OIDC_CLIENTS: not valid TOML",
    ] {
        assert!(t.contains(needle), "{needle} missing: {t}");
    }
    // A master secret file that holds no key.
    std::fs::write(&secret_file, "MASTERSECRETVALUE").unwrap();
    let t = serve(&[]);
    assert!(
        t.contains("master_secret_file") && t.contains("must be base64"),
        "{t}"
    );
    // A syntax error on the master_secret line: where, not what.
    std::fs::write(
        &file,
        "issuer = \"https://login.example\"\nmaster_secret = \"MASTERSECRETVALUE\n",
    )
    .unwrap();
    let t = serve(&[]);
    assert!(t.contains("config.toml line 2, column"), "{t}");
}

#[test]
fn clients_add_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let add = run(
        dir.path(),
        &[
            "clients",
            "add",
            "--id",
            "grafana",
            "--name",
            "Grafana",
            "--redirect-uri",
            "https://grafana.example/login/generic_oauth",
        ],
        &[],
    );
    assert!(add.status.success(), "{}", text(&add));
    let out = text(&add);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("secret shown once")
        .trim()
        .to_string();
    assert!(
        mastodon_oidc::crypto::decode_base64(&secret).unwrap().len() >= 32,
        "≥ 256-bit secret"
    );
    // Stored as a hash only.
    let db = std::fs::read(dir.path().join("data/mastodon-oidc.sqlite3")).unwrap();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "secret stored in clear"
    );

    let public = run(
        dir.path(),
        &[
            "clients",
            "add",
            "--id",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:3000/cb",
        ],
        &[],
    );
    assert!(public.status.success(), "{}", text(&public));
    assert!(!text(&public).contains("client_secret:"));

    for (uri, why) in [
        ("http://rp.example/cb", "https"),
        ("https://rp.example/cb#x", "fragment"),
        ("/cb", "absolute"),
    ] {
        let bad = run(
            dir.path(),
            &[
                "clients",
                "add",
                "--id",
                "bad",
                "--name",
                "B",
                "--redirect-uri",
                uri,
            ],
            &[],
        );
        assert_eq!(bad.status.code(), Some(2), "{uri}: {}", text(&bad));
        assert!(text(&bad).contains(why), "{uri}: {}", text(&bad));
    }
    let dup = run(
        dir.path(),
        &[
            "clients",
            "add",
            "--id",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:3000/cb",
        ],
        &[],
    );
    assert_eq!(dup.status.code(), Some(2));
    assert!(text(&dup).contains("already exists"));

    let list = text(&run(dir.path(), &["clients", "list"], &[]));
    assert!(list.contains("grafana\tGrafana\tconfidential"), "{list}");
    assert!(list.contains("spa\tSPA\tpublic"), "{list}");
    assert!(!list.contains(&secret));

    assert!(
        run(dir.path(), &["clients", "remove", "grafana"], &[])
            .status
            .success()
    );
    assert_eq!(
        run(dir.path(), &["clients", "remove", "grafana"], &[])
            .status
            .code(),
        Some(2)
    );
    assert!(!text(&run(dir.path(), &["clients", "list"], &[])).contains("grafana"));
}

#[test]
fn keys_list_and_rotate() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let rotate = run(dir.path(), &["keys", "rotate", "--alg", "ES256"], &[]);
    assert!(rotate.status.success(), "{}", text(&rotate));
    let list = text(&run(dir.path(), &["keys", "list"], &[]));
    assert!(list.contains("ES256\tnext (published)"), "{list}");
    let bad = run(dir.path(), &["keys", "rotate", "--alg", "HS256"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

/// `keys rotate` keeps the retired key published for the longest token
/// lifetime plus clock skew after the new one starts signing, as configured.
#[test]
fn keys_rotate_retires_by_the_configured_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("MASTODON_OIDC_TOKENS__ID_TOKEN_TTL_SECS", "7200"),
        ("MASTODON_OIDC_TOKENS__ACCESS_TOKEN_TTL_SECS", "3600"),
        ("MASTODON_OIDC_SIGNING__CLOCK_SKEW_SECS", "120"),
        ("MASTODON_OIDC_SIGNING__PUBLISH_BEFORE_USE_SECS", "1000"),
    ];
    let first = run(
        dir.path(),
        &["keys", "rotate", "--alg", "ES256", "--now"],
        &env,
    );
    assert!(first.status.success(), "{}", text(&first));
    let second = run(dir.path(), &["keys", "rotate", "--alg", "ES256"], &env);
    assert!(second.status.success(), "{}", text(&second));
    let list = text(&run(dir.path(), &["keys", "list"], &env));
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .filter(|r: &Vec<&str>| r[1] == "ES256")
        .collect();
    assert_eq!(rows.len(), 2, "{list}");
    let num = |v: &str| v.parse::<i64>().unwrap_or_else(|_| panic!("{v}: {list}"));
    let old = rows
        .iter()
        .find(|r| r[2] == "signing")
        .expect("the old key signs");
    let new = rows
        .iter()
        .find(|r| r[2] == "next (published)")
        .expect("the new key waits");
    // Two runs of the command, a second or so apart.
    let waits = num(new[3]) - num(old[3]);
    assert!(
        (1000..1010).contains(&waits),
        "publish_before_use_secs: {waits}"
    );
    assert_eq!(num(old[4]), num(new[3]), "retired when the new one signs");
    assert_eq!(
        num(old[5]) - num(old[4]),
        7200 + 120,
        "longest lifetime + skew"
    );
}

/// `migrate` says what it applied, then that there is nothing left; `serve`
/// with `database.run_migrations = false` on an empty database says to migrate.
#[test]
fn migrate_prints_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let serve = run(
        dir.path(),
        &["serve"],
        &[("MASTODON_OIDC_DATABASE__RUN_MIGRATIONS", "false")],
    );
    assert_eq!(serve.status.code(), Some(1), "{}", text(&serve));
    assert!(
        text(&serve).contains("run `mastodon-oidc migrate` first"),
        "{}",
        text(&serve)
    );
    let first = run(dir.path(), &["migrate"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    let applied: Vec<_> = stdout
        .lines()
        .filter(|l| l.starts_with("applied "))
        .collect();
    let expected: Vec<String> = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"),
    )
    .unwrap()
    .map(|e| e.unwrap().file_name().to_string_lossy().replace('-', ""))
    .collect();
    assert_eq!(applied.len(), expected.len(), "{stdout}");
    for name in expected {
        let version = name.split('_').next().unwrap().to_string();
        assert!(
            stdout.contains(&format!("applied {version}")),
            "{version}: {stdout}"
        );
    }
    let again = run(dir.path(), &["migrate"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "database is up to date"
    );
}

/// Without `--alg`, `keys rotate` and `clients add` take `signing.algorithm`.
#[test]
fn commands_default_to_the_configured_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let eddsa = [("MASTODON_OIDC_SIGNING__ALGORITHM", "EdDSA")];
    let rotate = run(dir.path(), &["keys", "rotate"], &eddsa);
    assert!(rotate.status.success(), "{}", text(&rotate));
    assert!(
        text(&rotate).starts_with("new EdDSA key"),
        "{}",
        text(&rotate)
    );
    let add = run(
        dir.path(),
        &[
            "clients",
            "add",
            "--id",
            "wiki",
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://wiki.example/cb",
        ],
        &eddsa,
    );
    assert!(add.status.success(), "{}", text(&add));
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/mastodon-oidc.sqlite3").display()
    );
    let store =
        mastodon_oidc::store::Store::connect(&url, 1, Duration::from_secs(5), false).unwrap();
    let row = store
        .run_blocking(|c| mastodon_oidc::store::clients::get(c, "wiki"))
        .unwrap()
        .unwrap();
    let client = mastodon_oidc::oidc::clients::Client::from_row(&row).unwrap();
    assert_eq!(
        client.settings.id_token_signed_response_alg,
        mastodon_oidc::keys::Algorithm::EdDSA
    );
}

//! A real PostgreSQL for the tests: `TEST_DATABASE_URL` when set (CI), else a
//! throwaway cluster started once per test run from the local `initdb` and
//! `pg_ctl` (as the `postgres` user when we are root, since initdb refuses
//! root). Each test gets its own database. Without PostgreSQL the tests say
//! loudly that they did not run; with `CI=true` they fail instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use diesel::{Connection, PgConnection, RunQueryDsl};

static SERVER: OnceLock<Option<String>> = OnceLock::new();

/// The admin URL of a PostgreSQL server, or None (after a loud message).
fn server() -> Option<String> {
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
                return Some(url);
            }
            match start_throwaway() {
                Ok(url) => Some(url),
                Err(why) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("PostgreSQL is required in CI and is missing: {why}");
                    }
                    super::loud(&format!(
                        "\n!!! PostgreSQL tests DID NOT RUN: {why}\n!!! Set TEST_DATABASE_URL or install PostgreSQL server binaries.\n"
                    ));
                    None
                }
            }
        })
        .clone()
}

/// A fresh, empty database for one test; dropped when the guard goes.
pub struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.admin) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

pub fn database() -> Option<PgDatabase> {
    let admin = server()?;
    let name = format!(
        "moidc_{}",
        mastodon_oidc::crypto::random_token(9)
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut c = PgConnection::establish(&admin)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {admin}: {e}"));
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(PgDatabase {
        url: url.to_string(),
        admin,
        name,
    })
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    from_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Run a PostgreSQL tool, as `postgres` when we are root.
fn pg_command(bin: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_throwaway() -> Result<String, String> {
    let initdb = find_bin("initdb").ok_or("no initdb found")?;
    let pg_ctl = find_bin("pg_ctl").ok_or("no pg_ctl found")?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "moidc-pg-{}",
        mastodon_oidc::crypto::random_token(6).replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if root {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("cannot hand the temporary directory to the postgres user".into());
        }
    }
    let data = dir.join("data");
    let out = pg_command(&initdb, root)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        dir.display()
    );
    let out = pg_command(&pg_ctl, root)
        .args(["start", "-w", "-l"])
        .arg(dir.join("log"))
        .arg("-D")
        .arg(&data)
        .args(["-o", &opts])
        .output()
        .map_err(|e| format!("pg_ctl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Stop the cluster and remove it when this test process exits.
    let me = std::process::id();
    let stop = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; {} stop -m immediate -D {} >/dev/null 2>&1; rm -rf {}",
        pg_ctl.display(),
        data.display(),
        dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &format!("({stop}) </dev/null >/dev/null 2>&1 &")])
        .status();
    eprintln!("(started a throwaway PostgreSQL on 127.0.0.1:{port})");
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

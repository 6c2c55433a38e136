//! `mastodon-oidc servers list|show|reregister|forget`, the real binary on
//! the database a running service uses, against the fake Mastodon.

use std::process::{Command, Output};

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::TestDb;
use crate::support::browser::{Browser, query};

const BIN: &str = env!("CARGO_BIN_EXE_mastodon-oidc");

backend_tests! {
    servers_commands_show_reregister_and_forget => servers_commands,
}

fn servers(config: &std::path::Path, args: &[&str]) -> (bool, i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config).arg("servers").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("MASTODON_OIDC_") {
            cmd.env_remove(k);
        }
    }
    let o: Output = cmd.output().expect("run the binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), o.status.code().unwrap_or(-1), text)
}

async fn servers_commands(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let mut b = Browser::default();
    mastodon::log_in(&app, &fake, &mut b, "@alice@social.test").await;
    let first = fake.apps()[0].clone();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let overrides: String = fake
        .host_overrides()
        .iter()
        .map(|(k, v)| format!("\"{k}\" = \"{v}\"\n"))
        .collect();
    std::fs::write(
        &config,
        format!(
            "mode = \"development\"\nissuer = \"{}\"\ndata_dir = \"{}\"\n# The tests' sealer key.\nmaster_secret = \"{}\"\n\
             [database]\nurl = \"{}\"\n[upstream]\nallow_insecure = true\n[upstream.host_overrides]\n{overrides}",
            app.issuer,
            dir.path().display(),
            mastodon_oidc::crypto::b64url(&[7u8; 32]),
            db.url(),
        ),
    )
    .unwrap();

    let (ok, _, list) = servers(&config, &["list"]);
    assert!(ok, "{list}");
    assert!(list.contains("social.test\tmastodon"), "{list}");
    assert!(list.contains("registered"), "{list}");

    let (ok, _, out) = servers(&config, &["reregister", "social.test"]);
    assert!(ok, "{out}");
    let apps = fake.apps();
    assert_eq!(apps.len(), 2, "one new registration");
    let new = apps
        .iter()
        .find(|a| a.client_id != first.client_id)
        .unwrap();
    assert!(out.contains(&new.client_id), "{out}");
    assert!(!out.contains(&new.client_secret), "never the secret");

    let (ok, _, show) = servers(&config, &["show", "social.test"]);
    assert!(ok, "{show}");
    assert!(show.contains(&new.client_id), "{show}");
    assert!(!show.contains(&new.client_secret) && !show.contains(&first.client_secret));

    // The running service picks up the new app on the next login.
    let mut b2 = Browser::default();
    let page = b2.get(&seed::authorize_url(&app, "rp", &[])).await;
    let up = app
        .submit_handle(&mut b2, &page.input("request"), "@alice@social.test")
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    assert_eq!(
        query(&up.location(), "client_id").as_deref(),
        Some(new.client_id.as_str())
    );

    let (ok, code, out) = servers(&config, &["reregister", "nowhere.example"]);
    assert!(!ok && code == 2, "{out}");
    assert!(out.contains("unknown server"), "{out}");

    let (ok, _, out) = servers(&config, &["forget", "social.test"]);
    assert!(ok, "{out}");
    let (_, _, list) = servers(&config, &["list"]);
    assert!(!list.contains("social.test"), "{list}");
}

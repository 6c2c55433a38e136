//! Migrations: replicas migrating at once take turns; with
//! `database.run_migrations = false` an empty database is left as it is.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use mastodon_oidc::clock::system;
use mastodon_oidc::config::Secret;
use mastodon_oidc::store::Store;

use crate::backend_tests;
use crate::support::{TestDb, test_config};

backend_tests! {
    concurrent_migrations_all_succeed => concurrent_migrations,
    run_migrations_false_leaves_an_empty_database_untouched => no_migrations,
}

fn unmigrated(db: &TestDb) -> Store {
    Store::connect(db.url(), 2, Duration::from_secs(10), false).unwrap()
}

async fn concurrent_migrations(db: TestDb) {
    const REPLICAS: usize = 4;
    let start = Arc::new(Barrier::new(REPLICAS));
    let replicas: Vec<_> = (0..REPLICAS)
        .map(|_| {
            let (store, start) = (unmigrated(&db), start.clone());
            tokio::task::spawn_blocking(move || {
                start.wait();
                store.migrate_blocking()
            })
        })
        .collect();
    let mut applied = vec![];
    for r in replicas {
        applied.push(
            r.await
                .unwrap()
                .expect("every replica's migration succeeds"),
        );
    }
    applied.sort_by_key(|a| a.len());
    assert!(
        applied[..REPLICAS - 1].iter().all(|a| a.is_empty()),
        "{applied:?}"
    );
    assert_eq!(
        applied[REPLICAS - 1].len(),
        migration_count(),
        "one replica applied them all"
    );
    assert_eq!(unmigrated(&db).pending_migrations().unwrap(), 0);
}

async fn no_migrations(db: TestDb) {
    let mut config = test_config(&db);
    config.database.run_migrations = false;
    config.master_secret = Some(Secret::new(mastodon_oidc::crypto::b64url(&[3; 32])));
    let err = match mastodon_oidc::app::build_state(config, system()).await {
        Ok(_) => panic!("started on an unmigrated database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("run `mastodon-oidc migrate`"), "{err}");
    let store = unmigrated(&db);
    assert_eq!(store.pending_migrations().unwrap(), migration_count());
    let mut conn = store.conn().unwrap();
    for table in ["__diesel_schema_migrations", "signing_keys", "clients"] {
        assert!(
            conn.batch_execute(&format!("SELECT 1 FROM {table}"))
                .is_err(),
            "{table} was created"
        );
    }
}

/// The migrations shipped (one folder each, the same on both backends).
fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count()
}

//! The `Store` handle itself: connecting, the pool, the ways to run work, the
//! transaction helper and the JSON columns.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use mastodon_oidc::store::{self, AnyManager, Backend, Store, StoreError};

use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    store_runs_work_and_counts_commits => runs_work,
    store_transactions_roll_back_on_error => transactions,
}

async fn runs_work(db: TestDb) {
    let s = Store::connect_with(db.url(), 3, 0, Duration::from_secs(5), true).unwrap();
    let expected = if db.url().starts_with("sqlite://") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(s.backend(), expected);
    assert!(s.ping().await);
    {
        let (mut a, mut b) = (s.conn().unwrap(), s.conn().unwrap());
        a.batch_execute("SELECT 1").unwrap();
        b.batch_execute("SELECT 1").unwrap();
        assert!(s.pool_state().connections >= 2);
        assert!(s.pool_state().connections <= 3, "at most the pool size");
    }
    // write_then: one commit, then `after` on its result.
    let before = s.commits();
    let hosts = s
        .write_then(
            |c| store::servers::ensure(c, "a.example", T0).map(|_| "a.example"),
            |host| format!("{host} saved"),
        )
        .await
        .unwrap();
    assert_eq!(hosts, "a.example saved");
    assert_eq!(s.commits() - before, 1);
    // run_blocking and write_blocking for callers already on a blocking thread.
    let s2 = s.clone();
    let found = tokio::task::spawn_blocking(move || {
        s2.write_blocking(|c| store::servers::ensure(c, "b.example", T0))?;
        s2.run_blocking(store::servers::list)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(s.commits() - before, 2);
    // Another pool on the same database sees the same rows.
    let other = Store::connect(db.url(), 1, Duration::from_secs(5), false).unwrap();
    assert_eq!(other.run(store::servers::list).await.unwrap().len(), 2);
    // Already migrated: nothing to apply.
    assert!(s.migrate_blocking().unwrap().is_empty());
}

async fn transactions(db: TestDb) {
    let s = db.store();
    let mut conn = s.conn().unwrap();
    let failed = store::transaction(&mut conn, |c| {
        store::servers::ensure(c, "gone.example", T0)?;
        Err::<(), _>(StoreError::Corrupt("abort".into()))
    });
    assert!(matches!(failed, Err(StoreError::Corrupt(_))));
    assert!(
        store::servers::get(&mut conn, "gone.example")
            .unwrap()
            .is_none(),
        "rolled back"
    );
    store::transaction(&mut conn, |c| store::servers::ensure(c, "kept.example", T0)).unwrap();
    assert!(
        store::servers::get(&mut conn, "kept.example")
            .unwrap()
            .is_some()
    );
}

#[test]
fn json_columns_round_trip_and_corruption_is_an_error() {
    let list = vec!["https://rp.example/cb".to_string()];
    let text = store::to_json(&list);
    assert_eq!(store::from_json::<Vec<String>>(&text).unwrap(), list);
    assert!(matches!(
        store::from_json::<Vec<String>>("{not json"),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn only_sqlite_and_postgres_urls_are_accepted() {
    assert!(AnyManager::new("sqlite:///tmp/x.sqlite3").is_ok());
    assert!(AnyManager::new("postgres://u@h/db").is_ok());
    assert!(AnyManager::new("postgresql://u@h/db").is_ok());
    assert!(matches!(
        AnyManager::new("mysql://u@h/db"),
        Err(StoreError::Unavailable(_))
    ));
    // A throwaway SQLite store for unit tests: migrated, removed on drop.
    let s = Store::open_for_tests_sqlite();
    assert_eq!(s.backend(), Backend::Sqlite);
    assert!(
        s.run_blocking(|c| store::servers::get(c, "a.example"))
            .unwrap()
            .is_none()
    );
}

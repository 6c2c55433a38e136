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
    units_count_each_write_and_roll_back_on_error => units,
    units_and_writers_share_a_small_pool_without_deadlock => units_and_writers,
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

async fn units(db: TestDb) {
    let s = db.store();
    let before = s.commits();
    let (seen, after) = s
        .unit_then(
            |u| {
                let seen = store::servers::get(u.conn(), "u.example")?.is_some();
                u.commit_one(|c| store::servers::ensure(c, "u.example", T0))?;
                let failed = u.transaction(|c| {
                    store::servers::ensure(c, "gone.example", T0)?;
                    Err::<(), _>(StoreError::Corrupt("abort".into()))
                });
                assert!(matches!(failed, Err(StoreError::Corrupt(_))));
                u.transaction(|c| {
                    store::servers::ensure(c, "v.example", T0)?;
                    store::servers::ensure(c, "w.example", T0)
                })?;
                Ok(seen)
            },
            |seen| (seen, "after"),
        )
        .await
        .unwrap();
    assert_eq!((seen, after), (false, "after"));
    assert_eq!(s.commits() - before, 2, "one per committed write");
    let s2 = s.clone();
    let hosts =
        tokio::task::spawn_blocking(move || s2.unit_blocking(|u| store::servers::list(u.conn())))
            .await
            .unwrap()
            .unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
    assert!(names.contains(&"u.example") && names.contains(&"w.example"));
    assert!(!names.contains(&"gone.example"), "rolled back: {names:?}");
}

/// A unit holds its connection while it waits to write, and a writer takes
/// its connection before the write queue: with more of both than the pool
/// has connections, everyone still finishes.
async fn units_and_writers(db: TestDb) {
    let s = Store::connect_with(db.url(), 2, 0, Duration::from_secs(5), true).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let host = format!("h{i}.example");
                if i % 2 == 0 {
                    s.write(move |c| store::servers::ensure(c, &host, T0)).await
                } else {
                    s.unit_then(
                        move |u| u.commit_one(|c| store::servers::ensure(c, &host, T0)),
                        |v| v,
                    )
                    .await
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.run(store::servers::list).await.unwrap().len(), 16);
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

/// PostgreSQL connections are pinged at checkout only after sitting idle
/// for `REVALIDATE_AFTER`: a busy one skips the round trip, and one whose
/// server went away while idle is replaced before anyone uses it.
#[test]
fn idle_postgres_connections_are_checked_before_use() {
    use diesel::Connection;
    let Some(db) = TestDb::new(crate::support::Backend::Postgres) else {
        return;
    };
    // One connection, so every checkout is the same one until replaced.
    let s = Store::connect_with(db.url(), 1, 0, Duration::from_secs(5), true).unwrap();
    let kill = || {
        let mut other = diesel::PgConnection::establish(db.url()).unwrap();
        other
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .unwrap();
    };
    s.conn().unwrap().batch_execute("SELECT 1").unwrap();
    // Used a moment ago: handed out as it is, so the dead one fails once.
    kill();
    assert!(s.conn().unwrap().batch_execute("SELECT 1").is_err());
    // The failed one was dropped; the next is fresh and works.
    s.conn().unwrap().batch_execute("SELECT 1").unwrap();
    // Idle past the threshold: pinged, found dead, replaced before use.
    kill();
    std::thread::sleep(store::REVALIDATE_AFTER + Duration::from_millis(100));
    s.conn().unwrap().batch_execute("SELECT 1").unwrap();
}

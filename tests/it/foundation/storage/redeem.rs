//! PostgreSQL's one-statement code exchange (`store::redeem`): it spends a
//! code only when every binding holds, stores the refresh token exactly when
//! the grant gets one, is raced to one winner, and stays a prepared statement.

use diesel::prelude::*;
use mastodon_oidc::store::redeem::{self, Redeem, Spent};
use mastodon_oidc::store::{self, AnyConnection, Store, codes::CodeRow};

use super::{account, code, grant};
use crate::support::{Backend, T0, TestDb};

const URI: &str = "https://rp.example/cb";

fn ask<'a>(hash: &'a str, refresh_hash: &'a str) -> Redeem<'a> {
    Redeem {
        hash,
        now: T0 + 1,
        client_id: "rp",
        redirect_uri: Some(URI),
        challenge: Some("challenge"),
        refresh_hash,
        refresh_until: T0 + 1 + 3600,
        always_refresh: false,
    }
}

fn on_pg<T>(s: &Store, f: impl FnOnce(&mut PgConnection) -> T) -> T {
    let mut conn = s.conn().unwrap();
    match &mut **conn {
        AnyConnection::Postgresql(pg) => f(pg),
        AnyConnection::Sqlite(_) => unreachable!("a PostgreSQL store"),
    }
}

fn run(s: &Store, r: &Redeem<'_>) -> Option<Spent> {
    on_pg(s, |pg| redeem::redeem(pg, r).unwrap())
}

fn stored(s: &Store, hash: &str) -> CodeRow {
    let mut conn = s.conn().unwrap();
    store::codes::find(&mut conn, hash).unwrap().unwrap().code
}

/// A store with grant `g1` (scope `scope`), its account, and `codes`.
fn seeded(db: &TestDb, scope: &str, codes: &[CodeRow]) -> Store {
    let s = db.store();
    let mut conn = s.conn().unwrap();
    let g = store::grants::GrantRow {
        scope: scope.into(),
        ..grant("g1", None)
    };
    store::grants::insert(&mut conn, &g).unwrap();
    store::accounts::upsert(&mut conn, &account()).unwrap();
    for c in codes {
        store::codes::insert(&mut conn, c).unwrap();
    }
    s
}

#[test]
fn redeem_spends_only_a_code_whose_bindings_all_hold() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let names = [
        "ok", "client", "uri", "pkce", "nopkce", "expired", "revoked",
    ];
    let codes: Vec<CodeRow> = names.iter().map(|n| code(n, "g1", T0 + 60)).collect();
    let s = seeded(&db, "openid", &codes);
    let refused = [
        Redeem {
            client_id: "other",
            ..ask("client", "r")
        },
        Redeem {
            redirect_uri: Some("https://rp.example/other"),
            ..ask("uri", "r")
        },
        Redeem {
            challenge: Some("another"),
            ..ask("pkce", "r")
        },
        Redeem {
            challenge: None,
            ..ask("nopkce", "r")
        },
        Redeem {
            now: T0 + 60,
            ..ask("expired", "r")
        },
        ask("unknown", "r"),
    ];
    for r in &refused {
        assert!(run(&s, r).is_none(), "{} is refused", r.hash);
        if r.hash != "unknown" {
            assert_eq!(
                stored(&s, r.hash).redeemed_at,
                None,
                "{} is not spent",
                r.hash
            );
        }
    }
    // The one that holds is spent, with what `find` reads, and only once.
    let spent = run(
        &s,
        &Redeem {
            redirect_uri: None,
            ..ask("ok", "r")
        },
    )
    .unwrap();
    assert_eq!(spent.code, stored(&s, "ok"));
    assert_eq!(spent.code.redeemed_at, Some(T0 + 1));
    assert_eq!(
        (spent.grant.id.as_str(), spent.grant.scope.as_str()),
        ("g1", "openid")
    );
    assert_eq!(spent.account, account());
    assert!(
        !spent.refreshed,
        "no offline_access, no client setting: no refresh token"
    );
    assert!(run(&s, &ask("ok", "r2")).is_none(), "spent once");
    let mut conn = s.conn().unwrap();
    assert!(store::tokens::get(&mut conn, "r").unwrap().is_none());
    // A revoked grant's code is refused and left alone.
    store::grants::revoke(&mut conn, "g1", T0).unwrap();
    drop(conn);
    assert!(run(&s, &ask("revoked", "r")).is_none());
    assert_eq!(stored(&s, "revoked").redeemed_at, None);
}

#[test]
fn redeem_stores_the_refresh_token_exactly_when_the_grant_gets_one() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let codes = [code("a", "g1", T0 + 60), code("b", "g1", T0 + 60)];
    // The grant ends 1000 s after T0: the refresh token may not outlive it.
    let s = seeded(&db, "openid offline_access", &codes);
    let spent = run(
        &s,
        &Redeem {
            refresh_until: T0 + 5000,
            ..ask("a", "ra")
        },
    )
    .unwrap();
    assert!(spent.refreshed);
    let mut conn = s.conn().unwrap();
    let row = store::tokens::get(&mut conn, "ra").unwrap().unwrap();
    assert_eq!(
        (
            row.kind.as_str(),
            row.grant_id.as_str(),
            row.client_id.as_str(),
            row.sub.as_str()
        ),
        (store::tokens::REFRESH, "g1", "rp", "sub-1")
    );
    assert_eq!(
        (row.scope.as_str(), row.created_at),
        ("openid offline_access", T0 + 1)
    );
    assert_eq!(
        (row.expires_at, row.revoked_at, row.used_at),
        (T0 + 1000, None, None)
    );
    drop(conn);
    // Scope words match whole: "offline_accessX" is not offline_access.
    let other = TestDb::new(Backend::Postgres).unwrap();
    let s2 = seeded(
        &other,
        "openid offline_accessX",
        &[code("c", "g1", T0 + 60)],
    );
    assert!(!run(&s2, &ask("c", "rc")).unwrap().refreshed);
    // A client set to always get refresh tokens gets one for any scope, for
    // its own lifetime when that ends before the grant.
    let third = TestDb::new(Backend::Postgres).unwrap();
    let s3 = seeded(&third, "openid", &[code("d", "g1", T0 + 60)]);
    let spent = run(
        &s3,
        &Redeem {
            always_refresh: true,
            refresh_until: T0 + 500,
            ..ask("d", "rd")
        },
    )
    .unwrap();
    assert!(spent.refreshed);
    let mut conn = s3.conn().unwrap();
    assert_eq!(
        store::tokens::get(&mut conn, "rd")
            .unwrap()
            .unwrap()
            .expires_at,
        T0 + 500
    );
    // A refused redemption stores nothing.
    assert!(run(&s, &ask("a", "rb")).is_none());
    let mut conn = s.conn().unwrap();
    assert!(store::tokens::get(&mut conn, "rb").unwrap().is_none());
}

#[test]
fn concurrent_one_statement_redemptions_have_one_winner() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let s = seeded(&db, "openid offline_access", &[code("c1", "g1", T0 + 60)]);
    let barrier = std::sync::Barrier::new(8);
    let wins = std::thread::scope(|scope| {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    let hash = format!("r{i}");
                    let mut conn = s.conn().unwrap();
                    barrier.wait();
                    match &mut **conn {
                        AnyConnection::Postgresql(pg) => {
                            redeem::redeem(pg, &ask("c1", &hash)).unwrap().is_some()
                        }
                        AnyConnection::Sqlite(_) => unreachable!(),
                    }
                })
            })
            .collect();
        tasks
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|w| *w)
            .count()
    });
    assert_eq!(wins, 1);
    let refresh = on_pg(&s, |pg| {
        diesel::sql_query("SELECT count(*) AS n FROM tokens")
            .get_result::<Count>(pg)
            .unwrap()
            .n
    });
    assert_eq!(refresh, 1, "only the winner stored a refresh token");
}

#[test]
fn the_one_statement_is_prepared_once_per_connection() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let codes: Vec<CodeRow> = (0..3)
        .map(|i| code(&format!("c{i}"), "g1", T0 + 60))
        .collect();
    let _seeding = seeded(&db, "openid", &codes);
    // One connection, so every redemption runs on the same one.
    let s = Store::connect_with(db.url(), 1, 0, std::time::Duration::from_secs(5), false).unwrap();
    for c in &codes {
        assert!(run(&s, &ask(&c.hash, &format!("r-{}", c.hash))).is_some());
    }
    let prepared: i64 = on_pg(&s, |pg| {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'WITH spent AS%'",
        )
        .get_result::<Count>(pg)
        .unwrap()
        .n
    });
    assert_eq!(prepared, 1, "parsed and planned once, not per exchange");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

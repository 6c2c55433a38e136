//! The pool talks to a loopback PostgreSQL without TLS unless told
//! otherwise (`store/pg_url.rs`): libpq's `prefer` would negotiate it.

use diesel::prelude::*;
use diesel::sql_types::Bool;
use mastodon_oidc::store::{AnyConnection, Store};

use crate::support::{Backend, TestDb};

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

const MINE: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// Whether a connection from `store`'s pool uses TLS.
fn pool_uses_tls(store: &Store) -> bool {
    let mut conn = store.conn().unwrap();
    let AnyConnection::Postgresql(pg) = &mut **conn else {
        panic!("a PostgreSQL store");
    };
    diesel::sql_query(MINE).get_result::<Ssl>(pg).unwrap().ssl
}

#[test]
fn a_loopback_database_is_reached_without_tls_unless_the_url_asks() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let host = url::Url::parse(db.url()).unwrap();
    assert!(
        matches!(host.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        "the test database is on loopback: {}",
        db.url()
    );
    assert!(
        !pool_uses_tls(&db.store()),
        "the store's connection skipped TLS"
    );
    // Where the server offers TLS, libpq alone would have used it, and an
    // operator who asks for it gets it.
    let mut plain = PgConnection::establish(db.url()).unwrap();
    let offered = diesel::sql_query("SELECT current_setting('ssl') = 'on' AS ssl")
        .get_result::<Ssl>(&mut plain)
        .unwrap()
        .ssl;
    if offered {
        let libpq = diesel::sql_query(MINE)
            .get_result::<Ssl>(&mut plain)
            .unwrap()
            .ssl;
        assert!(libpq, "libpq's default negotiates TLS on loopback");
        let sep = if db.url().contains('?') { '&' } else { '?' };
        let asked = Store::connect(
            &format!("{}{sep}sslmode=require", db.url()),
            1,
            std::time::Duration::from_secs(10),
            false,
        )
        .unwrap();
        assert!(pool_uses_tls(&asked));
    }
}

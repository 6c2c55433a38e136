//! Every table's contents as text, on either backend, for tests that must
//! show a value was never stored. Binary columns come out hex-encoded
//! (PostgreSQL `\x…`, SQLite `X'…'`); SQLite's files are added raw.

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use mastodon_oidc::store::{AnyConnection, Store};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    v: String,
}

/// (table names, all rows as text).
pub fn everything(store: &Store, sqlite_path: Option<&str>) -> (Vec<String>, String) {
    let mut conn = store.conn().expect("connection");
    let mut out = String::new();
    let tables: Vec<String> = match &mut **conn {
        AnyConnection::Postgresql(c) => {
            let names: Vec<Row> = diesel::sql_query(
                "SELECT table_name::text AS v FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .load(c)
            .unwrap();
            let names: Vec<String> = names.into_iter().map(|r| r.v).collect();
            for t in &names {
                let rows: Vec<Row> =
                    diesel::sql_query(format!("SELECT CAST(t AS TEXT) AS v FROM \"{t}\" t"))
                        .load(c)
                        .unwrap();
                rows.into_iter().for_each(|r| out.push_str(&r.v));
            }
            names
        }
        AnyConnection::Sqlite(c) => {
            let names: Vec<Row> =
                diesel::sql_query("SELECT name AS v FROM sqlite_master WHERE type = 'table'")
                    .load(c)
                    .unwrap();
            let names: Vec<String> = names.into_iter().map(|r| r.v).collect();
            for t in &names {
                let cols: Vec<Row> =
                    diesel::sql_query(format!("SELECT name AS v FROM pragma_table_info('{t}')"))
                        .load(c)
                        .unwrap();
                if cols.is_empty() {
                    continue;
                }
                let expr = cols
                    .iter()
                    .map(|col| format!("COALESCE(quote(\"{}\"), '')", col.v))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let rows: Vec<Row> = diesel::sql_query(format!("SELECT {expr} AS v FROM \"{t}\""))
                    .load(c)
                    .unwrap();
                rows.into_iter().for_each(|r| out.push_str(&r.v));
            }
            names
        }
    };
    if let Some(path) = sqlite_path {
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    (tables, out)
}

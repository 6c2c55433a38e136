//! Signing keys, private halves sealed with the master secret.

use diesel::prelude::*;

use super::schema::signing_keys::dsl as k;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::signing_keys)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    /// Sealed PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// The public JWK (JSON).
    pub public_jwk: String,
    pub created_at: i64,
    /// Signs from this time on (published before).
    pub active_at: i64,
    /// Stopped signing at this time (superseded).
    pub retired_at: Option<i64>,
    /// Leaves the JWKS at this time.
    pub expires_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &KeyRow) -> StoreResult<()> {
    diesel::insert_into(k::signing_keys)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Keys still published at `now`, oldest first.
pub fn list_published(conn: &mut AnyConnection, now: i64) -> StoreResult<Vec<KeyRow>> {
    Ok(k::signing_keys
        .filter(k::expires_at.is_null().or(k::expires_at.gt(now)))
        .order((k::active_at.asc(), k::kid.asc()))
        .select(KeyRow::as_select())
        .load(conn)?)
}

pub fn list_all(conn: &mut AnyConnection) -> StoreResult<Vec<KeyRow>> {
    Ok(k::signing_keys
        .order((k::active_at.asc(), k::kid.asc()))
        .select(KeyRow::as_select())
        .load(conn)?)
}

/// Mark the keys of `alg` that sign at `at` as retired then, leaving the JWKS at `expires_at`.
pub fn retire_current(
    conn: &mut AnyConnection,
    alg: &str,
    at: i64,
    expires_at: i64,
) -> StoreResult<usize> {
    Ok(diesel::update(
        k::signing_keys.filter(
            k::alg
                .eq(alg)
                .and(k::retired_at.is_null().or(k::retired_at.gt(at))),
        ),
    )
    .set((k::retired_at.eq(at), k::expires_at.eq(expires_at)))
    .execute(conn)?)
}

/// A cheap fingerprint of the table, so replicas re-parse keys only on change.
pub fn fingerprint(conn: &mut AnyConnection) -> StoreResult<(i64, Option<i64>, Option<i64>)> {
    use diesel::dsl::{count_star, max};
    let (n, created, retired) = k::signing_keys
        .select((count_star(), max(k::created_at), max(k::retired_at)))
        .first::<(i64, Option<i64>, Option<i64>)>(conn)?;
    Ok((n, created, retired))
}

pub fn delete_expired(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(k::signing_keys.filter(k::expires_at.le(now))).execute(conn)?)
}

//! Pending authorization requests: the validated request of a relying party
//! while the person is away at their Mastodon server. Keyed by the hash of
//! the flow handle, so a database leak does not let anyone resume a flow.

use diesel::prelude::*;

use super::schema::auth_requests::dsl as a;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::auth_requests)]
pub struct AuthRequestRow {
    pub id: String,
    pub client_id: String,
    /// JSON of the validated request.
    pub request: String,
    pub server_host: Option<String>,
    /// Sealed upstream flow data (PKCE verifier, scope).
    pub upstream_data: Option<Vec<u8>>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &AuthRequestRow) -> StoreResult<()> {
    diesel::insert_into(a::auth_requests)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A live request, or None when unknown or expired.
pub fn get(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<AuthRequestRow>> {
    Ok(a::auth_requests
        .find(id)
        .filter(a::expires_at.gt(now))
        .select(AuthRequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// Remove and return a live request: a callback can resume it once only.
pub fn take(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<AuthRequestRow>> {
    let Some(row) = get(conn, id, now)? else {
        return Ok(None);
    };
    // Only the caller whose DELETE removed the row may resume the flow.
    let won = diesel::delete(a::auth_requests.find(id)).execute(conn)? == 1;
    Ok(won.then_some(row))
}

/// Up to `limit` expired rows (housekeeping deletes in batches).
pub fn delete_expired(conn: &mut AnyConnection, now: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = a::auth_requests
        .filter(a::expires_at.le(now))
        .select(a::id)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(a::auth_requests.filter(a::id.eq_any(&batch))).execute(conn)?)
}

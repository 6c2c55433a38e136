//! Sign-ups waiting for the new account's confirmation: the authorization
//! request they will complete, the server, the upstream's sealed data (it
//! holds the account's token) and, for the pages, username and e-mail. Keyed
//! by the hash of the browser's sign-up cookie. Never holds a password.

use diesel::prelude::*;

use super::schema::signups::dsl as s;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::signups)]
pub struct SignupRow {
    pub id: String,
    pub client_id: String,
    /// JSON of the validated authorization request.
    pub request: String,
    pub server_host: String,
    /// Sealed upstream data (the new account's token).
    pub upstream_data: Vec<u8>,
    pub username: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &SignupRow) -> StoreResult<()> {
    diesel::insert_into(s::signups).values(row).execute(conn)?;
    Ok(())
}

/// A live sign-up, or None when unknown or expired.
pub fn get(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<SignupRow>> {
    Ok(s::signups
        .find(id)
        .filter(s::expires_at.gt(now))
        .select(SignupRow::as_select())
        .first(conn)
        .optional()?)
}

/// Remove a live sign-up; true for the one caller whose DELETE removed it,
/// so it completes its login once only.
pub fn take(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let n = diesel::delete(s::signups.find(id).filter(s::expires_at.gt(now))).execute(conn)?;
    Ok(n == 1)
}

/// Keep a live sign-up until `expires_at` at least (approval can take days).
pub fn extend(conn: &mut AnyConnection, id: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
    let n = diesel::update(
        s::signups
            .find(id)
            .filter(s::expires_at.gt(now))
            .filter(s::expires_at.lt(expires_at)),
    )
    .set(s::expires_at.eq(expires_at))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(s::signups.find(id)).execute(conn)? == 1)
}

pub fn delete_expired(conn: &mut AnyConnection, now: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = s::signups
        .filter(s::expires_at.le(now))
        .select(s::id)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(s::signups.filter(s::id.eq_any(&batch))).execute(conn)?)
}

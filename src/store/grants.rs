//! Grants: one person's consent to one client, from which a code, access
//! tokens and refresh tokens descend. Revoking a grant revokes all of them.

use diesel::prelude::*;

use super::schema::grants::dsl as g;
use super::schema::tokens::dsl as t;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub auth_time: i64,
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// JSON of the `claims` request parameter (`RequestedClaims`), if any.
    pub claims: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, row: &GrantRow) -> StoreResult<()> {
    diesel::insert_into(g::grants).values(row).execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<GrantRow>> {
    Ok(g::grants
        .find(id)
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

impl GrantRow {
    /// Neither expired nor revoked at `now` (what [`get_live`] selects).
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A live (unexpired, unrevoked) grant.
pub fn get_live(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<GrantRow>> {
    Ok(g::grants
        .find(id)
        .filter(g::revoked_at.is_null().and(g::expires_at.gt(now)))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revoke the grant and every token issued under it: access tokens are
/// checked against their grant, stored refresh tokens are marked. Returns
/// the stored tokens marked.
pub fn revoke(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<usize> {
    diesel::update(g::grants.find(id).filter(g::revoked_at.is_null()))
        .set(g::revoked_at.eq(now))
        .execute(conn)?;
    Ok(
        diesel::update(t::tokens.filter(t::grant_id.eq(id).and(t::revoked_at.is_null())))
            .set(t::revoked_at.eq(now))
            .execute(conn)?,
    )
}

/// Revoke every grant of a browser session (logout). Returns grants revoked.
pub fn revoke_for_session(
    conn: &mut AnyConnection,
    session_id: &str,
    now: i64,
) -> StoreResult<usize> {
    let ids: Vec<String> = g::grants
        .filter(g::session_id.eq(session_id).and(g::revoked_at.is_null()))
        .select(g::id)
        .load(conn)?;
    for id in &ids {
        revoke(conn, id, now)?;
    }
    Ok(ids.len())
}

/// Remove grants that expired before `cutoff`, with their tokens.
pub fn delete_expired(conn: &mut AnyConnection, cutoff: i64, limit: i64) -> StoreResult<usize> {
    let ids: Vec<String> = g::grants
        .filter(g::expires_at.le(cutoff))
        .select(g::id)
        .limit(limit)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(t::tokens.filter(t::grant_id.eq_any(&ids))).execute(conn)?;
    Ok(diesel::delete(g::grants.filter(g::id.eq_any(&ids))).execute(conn)?)
}

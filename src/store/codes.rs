//! Authorization codes: stored hashed, single-use, short-lived. Redemption is
//! one atomic UPDATE, so two concurrent redemptions cannot both win.

use diesel::prelude::*;

use super::schema::codes::dsl as c;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::codes)]
pub struct CodeRow {
    pub hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    /// JSON of the `claims` request parameter, if any.
    pub claims: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub redeemed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeem {
    /// First use of a live code.
    Fresh(CodeRow),
    /// A code used before: the caller must revoke its grant.
    Replayed(CodeRow),
    Expired,
    Unknown,
}

pub fn insert(conn: &mut AnyConnection, row: &CodeRow) -> StoreResult<()> {
    diesel::insert_into(c::codes).values(row).execute(conn)?;
    Ok(())
}

/// Mark the code used and return it; tells replays and expiry apart.
pub fn redeem(conn: &mut AnyConnection, hash: &str, now: i64) -> StoreResult<Redeem> {
    // The common case, a fresh code, is one statement (RETURNING is one of
    // the few things MultiBackend cannot express).
    let won: Option<CodeRow> = crate::per_backend!(conn, |pc| diesel::update(
        c::codes
            .find(hash)
            .filter(c::redeemed_at.is_null().and(c::expires_at.gt(now))),
    )
    .set(c::redeemed_at.eq(now))
    .returning(CodeRow::as_returning())
    .get_result(pc)
    .optional())?;
    if let Some(row) = won {
        return Ok(Redeem::Fresh(row));
    }
    let row: Option<CodeRow> = c::codes
        .find(hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?;
    Ok(match row {
        None => Redeem::Unknown,
        Some(r) if r.redeemed_at.is_some() => Redeem::Replayed(r),
        Some(_) => Redeem::Expired,
    })
}

/// Codes are kept after use until `cutoff`, so a late replay is still detected.
pub fn delete_expired(conn: &mut AnyConnection, cutoff: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = c::codes
        .filter(c::expires_at.le(cutoff))
        .select(c::hash)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(c::codes.filter(c::hash.eq_any(&batch))).execute(conn)?)
}

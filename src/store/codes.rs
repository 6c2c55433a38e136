//! Authorization codes: stored hashed, single-use, short-lived. The token
//! endpoint reads a code with its grant, checks it, then spends it in one
//! atomic UPDATE, so two concurrent redemptions cannot both win.

use diesel::prelude::*;

use super::accounts::AccountRow;
use super::grants::GrantRow;
use super::schema::accounts::dsl as a;
use super::schema::codes::dsl as c;
use super::schema::grants::dsl as g;
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

/// A code with its grant and the grant's account, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub code: CodeRow,
    pub grant: Option<GrantRow>,
    pub account: Option<AccountRow>,
}

pub fn insert(conn: &mut AnyConnection, row: &CodeRow) -> StoreResult<()> {
    diesel::insert_into(c::codes).values(row).execute(conn)?;
    Ok(())
}

/// The code, its grant and its account in one read (no lock: the caller
/// checks it, then [`spend`]s it).
pub fn find(conn: &mut AnyConnection, hash: &str) -> StoreResult<Option<Found>> {
    let found: Option<(CodeRow, Option<GrantRow>, Option<AccountRow>)> = c::codes
        .left_join(g::grants.on(g::id.eq(c::grant_id)))
        .left_join(a::accounts.on(a::sub.eq(g::sub)))
        .filter(c::hash.eq(hash))
        .select((
            CodeRow::as_select(),
            Option::<GrantRow>::as_select(),
            Option::<AccountRow>::as_select(),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(code, grant, account)| Found {
        code,
        grant,
        account,
    }))
}

/// Mark a live, unused code used: one statement, so of two concurrent
/// redemptions exactly one gets `true`.
pub fn spend(conn: &mut AnyConnection, hash: &str, now: i64) -> StoreResult<bool> {
    Ok(diesel::update(
        c::codes
            .find(hash)
            .filter(c::redeemed_at.is_null().and(c::expires_at.gt(now))),
    )
    .set(c::redeemed_at.eq(now))
    .execute(conn)?
        == 1)
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

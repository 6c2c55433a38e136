//! Access and refresh tokens: opaque random values stored as SHA-256 hashes,
//! so revocation and lookup are one indexed read.

use diesel::prelude::*;

use super::schema::tokens::dsl as t;
use super::{AnyConnection, StoreResult};

pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::tokens)]
pub struct TokenRow {
    pub hash: String,
    /// [`ACCESS`] or [`REFRESH`].
    pub kind: String,
    pub grant_id: String,
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Refresh tokens: when it was exchanged (rotation; a second use is reuse).
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotate {
    /// First use of a live refresh token; it is now spent.
    Fresh(TokenRow),
    /// Already used or revoked: the caller must revoke the whole grant.
    Reused(TokenRow),
    Expired,
    Unknown,
}

pub fn insert(conn: &mut AnyConnection, row: &TokenRow) -> StoreResult<()> {
    diesel::insert_into(t::tokens).values(row).execute(conn)?;
    Ok(())
}

/// Insert unless a row with this hash exists; whether it was inserted. Two
/// concurrent revocations of one sealed token both succeed this way.
pub fn insert_new(conn: &mut AnyConnection, row: &TokenRow) -> StoreResult<bool> {
    let n = crate::per_backend!(conn, |c| diesel::insert_into(t::tokens)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

pub fn get(conn: &mut AnyConnection, hash: &str) -> StoreResult<Option<TokenRow>> {
    Ok(t::tokens
        .find(hash)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

/// A token that is neither expired nor revoked.
pub fn get_live(conn: &mut AnyConnection, hash: &str, now: i64) -> StoreResult<Option<TokenRow>> {
    Ok(get(conn, hash)?.filter(|r| r.is_live(now)))
}

impl TokenRow {
    /// Neither expired nor revoked at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Spend a refresh token atomically.
pub fn use_refresh(conn: &mut AnyConnection, hash: &str, now: i64) -> StoreResult<Rotate> {
    let won = diesel::update(
        t::tokens.find(hash).filter(
            t::kind
                .eq(REFRESH)
                .and(t::used_at.is_null())
                .and(t::revoked_at.is_null())
                .and(t::expires_at.gt(now)),
        ),
    )
    .set(t::used_at.eq(now))
    .execute(conn)?
        == 1;
    Ok(match get(conn, hash)? {
        Some(r) if r.kind != REFRESH => Rotate::Unknown,
        None => Rotate::Unknown,
        Some(r) if won => Rotate::Fresh(r),
        Some(r) if r.used_at.is_some() || r.revoked_at.is_some() => Rotate::Reused(r),
        Some(_) => Rotate::Expired,
    })
}

/// Revoke one token; true if it was live.
pub fn revoke(conn: &mut AnyConnection, hash: &str, now: i64) -> StoreResult<bool> {
    Ok(
        diesel::update(t::tokens.find(hash).filter(t::revoked_at.is_null()))
            .set(t::revoked_at.eq(now))
            .execute(conn)?
            == 1,
    )
}

pub fn delete_expired(conn: &mut AnyConnection, cutoff: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = t::tokens
        .filter(t::expires_at.le(cutoff))
        .select(t::hash)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(t::tokens.filter(t::hash.eq_any(&batch))).execute(conn)?)
}

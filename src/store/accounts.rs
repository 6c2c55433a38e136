//! Accounts we have seen: the stable subject and the latest profile the
//! upstream server returned (JSON of `upstream::Identity`).

use diesel::prelude::*;

use super::schema::accounts::dsl as a;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::accounts)]
pub struct AccountRow {
    pub sub: String,
    pub server_host: String,
    pub account_id: String,
    pub handle: String,
    pub profile: String,
    /// Sealed upstream access token, only when configured to keep it.
    pub upstream_token: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Insert or refresh the profile (keeps `created_at`).
pub fn upsert(conn: &mut AnyConnection, row: &AccountRow) -> StoreResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(a::accounts)
        .values(row)
        .on_conflict(a::sub)
        .do_update()
        .set((
            a::handle.eq(&row.handle),
            a::profile.eq(&row.profile),
            a::upstream_token.eq(&row.upstream_token),
            a::updated_at.eq(row.updated_at),
        ))
        .execute(c))?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, sub: &str) -> StoreResult<Option<AccountRow>> {
    Ok(a::accounts
        .find(sub)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_upstream(
    conn: &mut AnyConnection,
    server_host: &str,
    account_id: &str,
) -> StoreResult<Option<AccountRow>> {
    Ok(a::accounts
        .filter(
            a::server_host
                .eq(server_host)
                .and(a::account_id.eq(account_id)),
        )
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

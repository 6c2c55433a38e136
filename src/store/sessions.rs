//! The bridge's own browser sessions (single sign-on). The cookie holds a
//! random value; the table holds its hash.

use diesel::prelude::*;

use super::schema::sessions::dsl as s;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::sessions)]
pub struct SessionRow {
    pub id: String,
    pub sub: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> StoreResult<()> {
    diesel::insert_into(s::sessions).values(row).execute(conn)?;
    Ok(())
}

pub fn get_live(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<SessionRow>> {
    Ok(s::sessions
        .find(id)
        .filter(s::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(s::sessions.find(id)).execute(conn)? == 1)
}

pub fn delete_expired(conn: &mut AnyConnection, now: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = s::sessions
        .filter(s::expires_at.le(now))
        .select(s::id)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(s::sessions.filter(s::id.eq_any(&batch))).execute(conn)?)
}

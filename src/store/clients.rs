//! Relying-party clients registered through the CLI (configuration clients
//! are merged over these at start-up by `oidc::clients`).

use diesel::prelude::*;

use super::schema::clients::dsl as c;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// JSON array.
    pub redirect_uris: String,
    /// JSON array.
    pub post_logout_redirect_uris: String,
    /// `sha256:<base64url>`; None for public clients.
    pub secret_hash: Option<String>,
    pub public: bool,
    /// Space-separated allowed scopes.
    pub scopes: String,
    /// JSON object of the remaining per-client settings.
    pub settings: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &ClientRow) -> StoreResult<()> {
    diesel::insert_into(c::clients).values(row).execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ClientRow>> {
    Ok(c::clients
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<ClientRow>> {
    Ok(c::clients
        .order(c::id.asc())
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(c::clients.find(id)).execute(conn)? == 1)
}

//! Upstream servers: learned capabilities and the app we registered there
//! (secret sealed), plus the lease that makes first contact happen once
//! across replicas, a back-off after 429, and the last outcome for operators.

use diesel::prelude::*;

use super::schema::servers::dsl as s;
use super::{AnyConnection, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::servers)]
pub struct Server {
    pub host: String,
    pub software: Option<String>,
    pub version: Option<String>,
    pub capabilities: Option<String>,
    pub capabilities_expires_at: Option<i64>,
    pub app_client_id: Option<String>,
    pub app_secret: Option<Vec<u8>>,
    pub app_scopes: Option<String>,
    pub app_registered_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub blocked_until: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Server {
    fn new(host: &str, now: i64) -> Self {
        Self {
            host: host.to_string(),
            software: None,
            version: None,
            capabilities: None,
            capabilities_expires_at: None,
            app_client_id: None,
            app_secret: None,
            app_scopes: None,
            app_registered_at: None,
            lease_owner: None,
            lease_until: None,
            blocked_until: None,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn get(conn: &mut AnyConnection, host: &str) -> StoreResult<Option<Server>> {
    Ok(s::servers
        .find(host)
        .select(Server::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Server>> {
    Ok(s::servers
        .order(s::host.asc())
        .select(Server::as_select())
        .load(conn)?)
}

/// Insert the row if it is missing (concurrent callers are fine).
pub fn ensure(conn: &mut AnyConnection, host: &str, now: i64) -> StoreResult<()> {
    let row = Server::new(host, now);
    crate::per_backend!(conn, |c| diesel::insert_into(s::servers)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn save_capabilities(
    conn: &mut AnyConnection,
    host: &str,
    software: Option<&str>,
    version: Option<&str>,
    capabilities_json: &str,
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    ensure(conn, host, now)?;
    diesel::update(s::servers.find(host))
        .set((
            s::software.eq(software),
            s::version.eq(version),
            s::capabilities.eq(capabilities_json),
            s::capabilities_expires_at.eq(expires_at),
            s::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn save_app(
    conn: &mut AnyConnection,
    host: &str,
    client_id: &str,
    sealed_secret: &[u8],
    scopes: &str,
    now: i64,
) -> StoreResult<()> {
    ensure(conn, host, now)?;
    diesel::update(s::servers.find(host))
        .set((
            s::app_client_id.eq(client_id),
            s::app_secret.eq(sealed_secret),
            s::app_scopes.eq(scopes),
            s::app_registered_at.eq(now),
            s::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Make the next login learn the server's capabilities again.
pub fn expire_capabilities(conn: &mut AnyConnection, host: &str, now: i64) -> StoreResult<()> {
    diesel::update(s::servers.find(host))
        .set((
            s::capabilities_expires_at.eq(Some(now)),
            s::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forget the registered app (it was deleted upstream, or an operator asked).
pub fn clear_app(conn: &mut AnyConnection, host: &str, now: i64) -> StoreResult<()> {
    diesel::update(s::servers.find(host))
        .set((
            s::app_client_id.eq(None::<String>),
            s::app_secret.eq(None::<Vec<u8>>),
            s::app_scopes.eq(None::<String>),
            s::app_registered_at.eq(None::<i64>),
            s::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Take the first-contact lease: true if nobody else holds a live one (or we do).
/// One UPDATE, so it is atomic on both backends.
pub fn try_lease(
    conn: &mut AnyConnection,
    host: &str,
    owner: &str,
    now: i64,
    until: i64,
) -> StoreResult<bool> {
    ensure(conn, host, now)?;
    let n = diesel::update(
        s::servers.find(host).filter(
            s::lease_until
                .is_null()
                .or(s::lease_until.le(now))
                .or(s::lease_owner.eq(owner)),
        ),
    )
    .set((
        s::lease_owner.eq(owner),
        s::lease_until.eq(until),
        s::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn release_lease(conn: &mut AnyConnection, host: &str, owner: &str) -> StoreResult<()> {
    diesel::update(s::servers.find(host).filter(s::lease_owner.eq(owner)))
        .set((
            s::lease_owner.eq(None::<String>),
            s::lease_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_blocked_until(
    conn: &mut AnyConnection,
    host: &str,
    until: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    ensure(conn, host, now)?;
    diesel::update(s::servers.find(host))
        .set((s::blocked_until.eq(until), s::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

pub fn record_success(conn: &mut AnyConnection, host: &str, now: i64) -> StoreResult<()> {
    diesel::update(s::servers.find(host))
        .set(s::last_success_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn record_error(
    conn: &mut AnyConnection,
    host: &str,
    message: &str,
    now: i64,
) -> StoreResult<()> {
    ensure(conn, host, now)?;
    let message: String = message.chars().take(500).collect();
    diesel::update(s::servers.find(host))
        .set((s::last_error.eq(message), s::last_error_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Rows that never became useful: no app, never a success, untouched since
/// `cutoff` (mistyped or dead servers that failed on first contact).
pub fn delete_stale(conn: &mut AnyConnection, cutoff: i64, limit: i64) -> StoreResult<usize> {
    let batch: Vec<String> = s::servers
        .filter(
            s::app_client_id
                .is_null()
                .and(s::last_success_at.is_null())
                .and(s::updated_at.le(cutoff))
                .and(s::last_error_at.is_null().or(s::last_error_at.le(cutoff))),
        )
        .select(s::host)
        .limit(limit)
        .load(conn)?;
    Ok(diesel::delete(s::servers.filter(s::host.eq_any(&batch))).execute(conn)?)
}

pub fn delete(conn: &mut AnyConnection, host: &str) -> StoreResult<bool> {
    Ok(diesel::delete(s::servers.find(host)).execute(conn)? == 1)
}

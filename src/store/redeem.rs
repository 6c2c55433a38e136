//! PostgreSQL only: a whole code exchange in one statement. It spends the
//! code only if every binding holds (client, redirect URI, PKCE, live grant,
//! existing account), stores the refresh token when the grant gets one, and
//! returns what the response needs: one round trip and one commit, against
//! a read, a spend and (offline) a transaction around an insert.
//!
//! It refuses silently: no row means "take the general path", which reads
//! the code and explains the refusal (or replay). The statement is prepared
//! once per connection; diesel's UPDATE builder is never cached.

use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::StoreResult;
use super::accounts::AccountRow;
use super::codes::CodeRow;
use super::grants::GrantRow;

/// What the caller already checked or computed.
pub struct Redeem<'a> {
    pub hash: &'a str,
    pub now: i64,
    pub client_id: &'a str,
    /// As sent; `None` only when the client has a single registered URI.
    pub redirect_uri: Option<&'a str>,
    /// S256 of the presented (well-formed) verifier; `None` if none was sent.
    pub challenge: Option<&'a str>,
    /// Hash of the refresh token to store if the grant gets one.
    pub refresh_hash: &'a str,
    /// `now` plus the refresh token lifetime (capped at the grant's expiry).
    pub refresh_until: i64,
    /// The client gets refresh tokens whatever the scope.
    pub always_refresh: bool,
}

/// A code this statement spent, with its grant and account.
pub struct Spent {
    pub code: CodeRow,
    pub grant: GrantRow,
    pub account: AccountRow,
    /// Whether the refresh token was stored.
    pub refreshed: bool,
}

pub fn redeem(conn: &mut PgConnection, r: &Redeem<'_>) -> StoreResult<Option<Spent>> {
    let row: Option<(CodeRow, GrantRow, AccountRow, bool)> = Statement {
        r,
        columns: (
            CodeRow::as_select(),
            GrantRow::as_select(),
            AccountRow::as_select(),
        ),
    }
    .get_result(conn)
    .optional()?;
    Ok(row.map(|(code, grant, account, refreshed)| Spent {
        code,
        grant,
        account,
        refreshed,
    }))
}

type Columns = (
    AsSelect<CodeRow, Pg>,
    AsSelect<GrantRow, Pg>,
    AsSelect<AccountRow, Pg>,
);

struct Statement<'a> {
    r: &'a Redeem<'a>,
    /// Rendered by diesel, so the order is the rows' own.
    columns: Columns,
}

impl QueryId for Statement<'_> {
    // Cached by its SQL text, which never varies.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement<'_> {
    type SqlType = (
        SqlTypeOf<AsSelect<CodeRow, Pg>>,
        SqlTypeOf<AsSelect<GrantRow, Pg>>,
        SqlTypeOf<AsSelect<AccountRow, Pg>>,
        Bool,
    );
}

impl RunQueryDsl<PgConnection> for Statement<'_> {}

impl QueryFragment<Pg> for Statement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let r = self.r;
        out.push_sql("WITH spent AS (UPDATE codes SET redeemed_at = ");
        out.push_bind_param::<BigInt, _>(&r.now)?;
        out.push_sql(" FROM grants, accounts WHERE codes.hash = ");
        out.push_bind_param::<Text, _>(r.hash)?;
        out.push_sql(" AND codes.redeemed_at IS NULL AND codes.expires_at > ");
        out.push_bind_param::<BigInt, _>(&r.now)?;
        out.push_sql(" AND codes.client_id = ");
        out.push_bind_param::<Text, _>(r.client_id)?;
        out.push_sql(" AND (");
        out.push_bind_param::<Nullable<Text>, _>(&r.redirect_uri)?;
        out.push_sql(" IS NULL OR codes.redirect_uri = ");
        out.push_bind_param::<Nullable<Text>, _>(&r.redirect_uri)?;
        out.push_sql(") AND codes.code_challenge IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Text>, _>(&r.challenge)?;
        out.push_sql(
            " AND grants.id = codes.grant_id AND grants.revoked_at IS NULL AND grants.expires_at > ",
        );
        out.push_bind_param::<BigInt, _>(&r.now)?;
        out.push_sql(" AND accounts.sub = grants.sub RETURNING ");
        self.columns.walk_ast(out.reborrow())?;
        // The refresh row `issue::refresh_token` would build: it never
        // outlives its grant; `offline` decides whether there is one.
        out.push_sql(
            "), refresh AS (INSERT INTO tokens (hash, kind, grant_id, client_id, sub, scope, \
             created_at, expires_at, revoked_at, used_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(r.refresh_hash)?;
        out.push_sql(", 'refresh', grants.id, grants.client_id, grants.sub, grants.scope, ");
        out.push_bind_param::<BigInt, _>(&r.now)?;
        out.push_sql(", LEAST(");
        out.push_bind_param::<BigInt, _>(&r.refresh_until)?;
        out.push_sql(
            ", grants.expires_at), NULL, NULL FROM spent JOIN grants ON grants.id = spent.grant_id WHERE ",
        );
        out.push_bind_param::<Bool, _>(&r.always_refresh)?;
        out.push_sql(
            " OR 'offline_access' = ANY (string_to_array(grants.scope, ' ')) RETURNING 1) \
             SELECT spent.*, EXISTS (SELECT 1 FROM refresh) FROM spent",
        );
        Ok(())
    }
}

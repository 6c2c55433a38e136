//! Codes ready for the token endpoint, written straight to the store, so the
//! token phase measures `/token` alone.
//!
//! On PostgreSQL the bulk write is followed by `ANALYZE`, as autovacuum would
//! do within a minute: the pool's connections prepared their statements
//! while the tables were nearly empty, and a generic plan made then (a
//! sequential scan of `grants`, say) stays until the statistics change.

use diesel::RunQueryDsl;
use mastodon_oidc::crypto::{random_token, sha256_b64url};
use mastodon_oidc::store::{self, Backend, Store};

use super::{CHALLENGE, REDIRECT};

pub fn codes(st: &Store, n: usize) -> Vec<String> {
    let now = mastodon_oidc::clock::system().now();
    let sub = "bench-sub".to_string();
    let identity = serde_json::json!({"server_host": "social.test", "account_id": "1", "username": "alice",
        "handle": "alice@social.test", "actor_uri": null, "display_name": "Alice", "avatar": null,
        "profile_url": null, "locale": null, "bot": false, "locked": false, "created_at": null, "role": null});
    let codes: Vec<String> = (0..n).map(|_| random_token(32)).collect();
    let c2 = codes.clone();
    st.write_blocking(move |c| {
        store::accounts::upsert(
            c,
            &store::accounts::AccountRow {
                sub: sub.clone(),
                server_host: "social.test".into(),
                account_id: "1".into(),
                handle: "alice@social.test".into(),
                profile: identity.to_string(),
                upstream_token: None,
                created_at: now,
                updated_at: now,
            },
        )?;
        for code in &c2 {
            let grant = random_token(16);
            store::grants::insert(
                c,
                &store::grants::GrantRow {
                    id: grant.clone(),
                    client_id: "rp".into(),
                    sub: sub.clone(),
                    scope: "openid profile".into(),
                    auth_time: now,
                    session_id: None,
                    created_at: now,
                    expires_at: now + 86_400,
                    revoked_at: None,
                    claims: None,
                },
            )?;
            store::codes::insert(
                c,
                &store::codes::CodeRow {
                    hash: sha256_b64url(code.as_bytes()),
                    grant_id: grant,
                    client_id: "rp".into(),
                    redirect_uri: REDIRECT.into(),
                    code_challenge: Some(CHALLENGE.into()),
                    nonce: Some("nn".into()),
                    scope: "openid profile".into(),
                    claims: None,
                    auth_time: now,
                    created_at: now,
                    expires_at: now + 3600,
                    redeemed_at: None,
                },
            )?;
        }
        if st.backend() == Backend::Postgres {
            diesel::sql_query("ANALYZE accounts, grants, codes, tokens").execute(c)?;
        }
        Ok(())
    })
    .unwrap();
    codes
}

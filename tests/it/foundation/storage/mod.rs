//! The storage conformance suite: every store function, written once, run on
//! SQLite and PostgreSQL (Dex's storage/conformance habit). `concurrency`
//! races the single-use operations; `handle` covers the `Store` itself;
//! `coverage` checks that every public store function is called here.

mod concurrency;
mod coverage;
mod handle;
mod loopback;
mod migrations;
mod redeem;

use mastodon_oidc::store::{
    self,
    accounts::AccountRow,
    auth_requests::AuthRequestRow,
    clients::ClientRow,
    codes::CodeRow,
    grants::GrantRow,
    sessions::SessionRow,
    signups::SignupRow,
    tokens::{Rotate, TokenRow},
};

use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    migrations_run_up_down_and_up_again => migrations_round_trip,
    clients_insert_get_list_delete => clients,
    servers_capabilities_apps_leases_and_outcomes => servers,
    servers_capabilities_expire_on_demand => servers_expire_capabilities,
    servers_that_never_became_useful_are_deleted => servers_delete_stale,
    auth_requests_are_taken_once_and_expire => auth_requests,
    signups_are_taken_once_extended_and_expire => signups,
    codes_are_found_with_their_grant_and_spent_once => codes,
    grants_revoke_cascades_to_tokens => grants_and_tokens,
    refresh_tokens_rotate_once => refresh_rotation,
    accounts_upsert_keeps_created_at => accounts,
    sessions_live_and_expire => sessions,
    keys_publish_retire_and_fingerprint => keys,
    writes_are_counted_as_commits => commits_counted,
}

fn code(hash: &str, grant: &str, expires_at: i64) -> CodeRow {
    CodeRow {
        hash: hash.into(),
        grant_id: grant.into(),
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        code_challenge: Some("challenge".into()),
        nonce: Some("n".into()),
        scope: "openid profile".into(),
        claims: None,
        auth_time: T0,
        created_at: T0,
        expires_at,
        redeemed_at: None,
    }
}

fn account() -> AccountRow {
    AccountRow {
        sub: "sub-1".into(),
        server_host: "x.example".into(),
        account_id: "1".into(),
        handle: "alice@x.example".into(),
        profile: "{}".into(),
        upstream_token: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn grant(id: &str, session: Option<&str>) -> GrantRow {
    GrantRow {
        id: id.into(),
        client_id: "rp".into(),
        sub: "sub-1".into(),
        scope: "openid".into(),
        auth_time: T0,
        session_id: session.map(String::from),
        created_at: T0,
        expires_at: T0 + 1000,
        revoked_at: None,
        claims: None,
    }
}

fn token(hash: &str, kind: &str, grant: &str) -> TokenRow {
    TokenRow {
        hash: hash.into(),
        kind: kind.into(),
        grant_id: grant.into(),
        client_id: "rp".into(),
        sub: "sub-1".into(),
        scope: "openid".into(),
        created_at: T0,
        expires_at: T0 + 100,
        revoked_at: None,
        used_at: None,
    }
}

async fn migrations_round_trip(db: TestDb) {
    let s = db.store();
    assert!(s.migrate_blocking().unwrap().is_empty(), "already applied");
    s.revert_all_blocking().unwrap();
    let applied = s.migrate_blocking().unwrap();
    assert_eq!(applied.len(), 3);
    // The schema works after the round trip.
    s.write(|c| store::servers::ensure(c, "a.example", T0))
        .await
        .unwrap();
}

async fn clients(db: TestDb) {
    let s = db.store();
    let row = ClientRow {
        id: "rp".into(),
        name: "RP".into(),
        redirect_uris: r#"["https://rp.example/cb"]"#.into(),
        post_logout_redirect_uris: "[]".into(),
        secret_hash: Some("sha256:abc".into()),
        public: false,
        scopes: "openid profile".into(),
        settings: "{}".into(),
        created_at: T0,
        updated_at: T0,
    };
    let r = row.clone();
    s.write(move |c| store::clients::insert(c, &r))
        .await
        .unwrap();
    let r = row.clone();
    let dup = s
        .write(move |c| store::clients::insert(c, &r))
        .await
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup}");
    let got = s.run(|c| store::clients::get(c, "rp")).await.unwrap();
    assert_eq!(got.as_ref(), Some(&row));
    assert_eq!(s.run(store::clients::list).await.unwrap(), vec![row]);
    assert!(s.write(|c| store::clients::delete(c, "rp")).await.unwrap());
    assert!(!s.write(|c| store::clients::delete(c, "rp")).await.unwrap());
    assert!(
        s.run(|c| store::clients::get(c, "rp"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn servers(db: TestDb) {
    use store::servers as sv;
    let s = db.store();
    assert!(s.run(|c| sv::get(c, "x.example")).await.unwrap().is_none());
    s.write(|c| sv::ensure(c, "x.example", T0)).await.unwrap();
    s.write(|c| sv::ensure(c, "x.example", T0 + 5))
        .await
        .unwrap();
    let row = s.run(|c| sv::get(c, "x.example")).await.unwrap().unwrap();
    assert_eq!(row.created_at, T0, "ensure does not overwrite");
    s.write(|c| {
        sv::save_capabilities(
            c,
            "x.example",
            Some("mastodon"),
            Some("4.3.0"),
            "{}",
            T0 + 60,
            T0,
        )
    })
    .await
    .unwrap();
    s.write(|c| sv::save_app(c, "x.example", "cid", &[1, 2, 3], "profile", T0))
        .await
        .unwrap();
    let row = s.run(|c| sv::get(c, "x.example")).await.unwrap().unwrap();
    assert_eq!(row.software.as_deref(), Some("mastodon"));
    assert_eq!(row.version.as_deref(), Some("4.3.0"));
    assert_eq!(row.capabilities_expires_at, Some(T0 + 60));
    assert_eq!(row.app_client_id.as_deref(), Some("cid"));
    assert_eq!(row.app_secret.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(row.app_registered_at, Some(T0));

    // Leases: one holder until it expires or is released.
    assert!(
        s.write(|c| sv::try_lease(c, "x.example", "a", T0, T0 + 30))
            .await
            .unwrap()
    );
    assert!(
        s.write(|c| sv::try_lease(c, "x.example", "a", T0, T0 + 30))
            .await
            .unwrap(),
        "re-entrant"
    );
    assert!(
        !s.write(|c| sv::try_lease(c, "x.example", "b", T0 + 10, T0 + 40))
            .await
            .unwrap()
    );
    assert!(
        s.write(|c| sv::try_lease(c, "x.example", "b", T0 + 30, T0 + 60))
            .await
            .unwrap(),
        "expired lease"
    );
    s.write(|c| sv::release_lease(c, "x.example", "a"))
        .await
        .unwrap();
    assert!(
        !s.write(|c| sv::try_lease(c, "x.example", "a", T0 + 31, T0 + 60))
            .await
            .unwrap(),
        "only the owner releases"
    );
    s.write(|c| sv::release_lease(c, "x.example", "b"))
        .await
        .unwrap();
    assert!(
        s.write(|c| sv::try_lease(c, "x.example", "a", T0 + 31, T0 + 60))
            .await
            .unwrap()
    );

    s.write(|c| sv::set_blocked_until(c, "x.example", Some(T0 + 600), T0))
        .await
        .unwrap();
    s.write(|c| sv::record_error(c, "x.example", &"e".repeat(2000), T0 + 1))
        .await
        .unwrap();
    s.write(|c| sv::record_success(c, "x.example", T0 + 2))
        .await
        .unwrap();
    let row = s.run(|c| sv::get(c, "x.example")).await.unwrap().unwrap();
    assert_eq!(row.blocked_until, Some(T0 + 600));
    assert_eq!(
        row.last_error.as_ref().map(|e| e.len()),
        Some(500),
        "errors are capped"
    );
    assert_eq!(row.last_error_at, Some(T0 + 1));
    assert_eq!(row.last_success_at, Some(T0 + 2));

    s.write(|c| sv::clear_app(c, "x.example", T0 + 3))
        .await
        .unwrap();
    let row = s.run(|c| sv::get(c, "x.example")).await.unwrap().unwrap();
    assert!(row.app_client_id.is_none() && row.app_secret.is_none() && row.app_scopes.is_none());
    s.write(|c| sv::ensure(c, "a.example", T0)).await.unwrap();
    let hosts: Vec<_> = s
        .run(sv::list)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(hosts, ["a.example", "x.example"]);
    assert!(s.write(|c| sv::delete(c, "x.example")).await.unwrap());
    assert!(!s.write(|c| sv::delete(c, "x.example")).await.unwrap());
}

async fn auth_requests(db: TestDb) {
    use store::auth_requests as ar;
    let s = db.store();
    let row = AuthRequestRow {
        id: "h1".into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: Some("x.example".into()),
        upstream_data: Some(vec![9, 9]),
        created_at: T0,
        expires_at: T0 + 100,
    };
    let r = row.clone();
    s.write(move |c| ar::insert(c, &r)).await.unwrap();
    let mut expired = row.clone();
    expired.id = "h2".into();
    expired.expires_at = T0 + 10;
    s.write(move |c| ar::insert(c, &expired)).await.unwrap();

    assert_eq!(
        s.run(|c| ar::get(c, "h1", T0)).await.unwrap().as_ref(),
        Some(&row)
    );
    assert!(
        s.run(|c| ar::get(c, "h2", T0 + 10))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(s.write(|c| ar::take(c, "h1", T0)).await.unwrap(), Some(row));
    assert!(
        s.write(|c| ar::take(c, "h1", T0)).await.unwrap().is_none(),
        "taken once"
    );
    assert!(
        s.write(|c| ar::take(c, "h2", T0 + 11))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.write(|c| ar::delete_expired(c, T0 + 11, 100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.write(|c| ar::delete_expired(c, T0 + 11, 100))
            .await
            .unwrap(),
        0
    );
}

async fn codes(db: TestDb) {
    use store::codes as cd;
    let s = db.store();
    s.write(|c| cd::insert(c, &code("c1", "g1", T0 + 60)))
        .await
        .unwrap();
    s.write(|c| cd::insert(c, &code("c2", "g1", T0 + 60)))
        .await
        .unwrap();
    // A code whose grant is gone still reads, without its grant.
    let lone = s.run(|c| cd::find(c, "c1")).await.unwrap().unwrap();
    assert_eq!((lone.grant, lone.account), (None, None));
    let account = account();
    let a = account.clone();
    s.write(move |c| {
        store::grants::insert(c, &grant("g1", None))?;
        store::accounts::upsert(c, &a)
    })
    .await
    .unwrap();
    let found = s.run(|c| cd::find(c, "c1")).await.unwrap().unwrap();
    assert_eq!(found.code, code("c1", "g1", T0 + 60));
    assert_eq!(found.grant, Some(grant("g1", None)));
    assert_eq!(found.account, Some(account));
    // Spent once: the first spend wins, a second finds it used.
    assert!(s.write(|c| cd::spend(c, "c1", T0 + 1)).await.unwrap());
    assert!(!s.write(|c| cd::spend(c, "c1", T0 + 2)).await.unwrap());
    let used = s.run(|c| cd::find(c, "c1")).await.unwrap().unwrap();
    assert_eq!(used.code.redeemed_at, Some(T0 + 1));
    // An expired code cannot be spent; an unknown one is not found.
    assert!(!s.write(|c| cd::spend(c, "c2", T0 + 60)).await.unwrap());
    assert!(s.run(|c| cd::find(c, "nope")).await.unwrap().is_none());
    assert_eq!(
        s.write(|c| cd::delete_expired(c, T0 + 60, 100))
            .await
            .unwrap(),
        2
    );
}

async fn grants_and_tokens(db: TestDb) {
    use store::{grants as gr, tokens as tk};
    let s = db.store();
    s.write(|c| {
        gr::insert(c, &grant("g1", Some("s1")))?;
        gr::insert(c, &grant("g2", Some("s1")))?;
        gr::insert(c, &grant("g3", None))?;
        tk::insert(c, &token("a1", tk::ACCESS, "g1"))?;
        tk::insert(c, &token("r1", tk::REFRESH, "g1"))?;
        tk::insert(c, &token("a2", tk::ACCESS, "g2"))?;
        assert!(tk::insert_new(c, &token("a3", tk::ACCESS, "g3"))?);
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        s.run(|c| gr::get_live(c, "g1", T0))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        s.run(|c| gr::get(c, "g3")).await.unwrap(),
        Some(grant("g3", None))
    );
    assert_eq!(s.run(|c| gr::get(c, "nope")).await.unwrap(), None);
    // insert_new leaves an existing row alone and says so.
    let mut again = token("a3", tk::ACCESS, "g3");
    again.revoked_at = Some(T0);
    assert!(!s.write(move |c| tk::insert_new(c, &again)).await.unwrap());
    let kept = s.run(|c| tk::get(c, "a3")).await.unwrap().unwrap();
    assert_eq!(kept.revoked_at, None);
    // The rule `get_live` selects by, on a row in hand.
    let mut g = grant("g1", None);
    assert!(g.is_live(T0) && !g.is_live(g.expires_at));
    g.revoked_at = Some(T0);
    assert!(!g.is_live(T0));
    let mut t = token("a1", tk::ACCESS, "g1");
    assert!(t.is_live(T0) && !t.is_live(t.expires_at));
    t.revoked_at = Some(T0);
    assert!(!t.is_live(T0));
    assert!(
        s.run(|c| tk::get_live(c, "a1", T0))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.run(|c| tk::get_live(c, "a1", T0 + 100))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(s.write(|c| gr::revoke(c, "g1", T0 + 1)).await.unwrap(), 2);
    assert!(
        s.run(|c| gr::get_live(c, "g1", T0 + 1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.run(|c| tk::get_live(c, "a1", T0 + 1))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.run(|c| tk::get(c, "r1"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(T0 + 1)
    );
    // Logout revokes every grant of the session, not others.
    assert_eq!(
        s.write(|c| gr::revoke_for_session(c, "s1", T0 + 2))
            .await
            .unwrap(),
        1
    );
    assert!(
        s.run(|c| tk::get_live(c, "a2", T0 + 2))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.run(|c| tk::get_live(c, "a3", T0 + 2))
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.write(|c| tk::revoke(c, "a3", T0 + 3)).await.unwrap());
    assert!(
        !s.write(|c| tk::revoke(c, "a3", T0 + 3)).await.unwrap(),
        "idempotent"
    );
    assert_eq!(
        s.write(|c| tk::delete_expired(c, T0 + 100, 100))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        s.write(|c| gr::delete_expired(c, T0 + 1000, 100))
            .await
            .unwrap(),
        3
    );
}

async fn refresh_rotation(db: TestDb) {
    use store::{grants as gr, tokens as tk};
    let s = db.store();
    s.write(|c| {
        gr::insert(c, &grant("g1", None))?;
        tk::insert(c, &token("r1", tk::REFRESH, "g1"))?;
        tk::insert(c, &token("r2", tk::REFRESH, "g1"))?;
        tk::insert(c, &token("a1", tk::ACCESS, "g1"))
    })
    .await
    .unwrap();
    assert!(
        matches!(s.write(|c| tk::use_refresh(c, "r1", T0 + 1)).await.unwrap(), Rotate::Fresh(r) if r.used_at == Some(T0 + 1))
    );
    assert!(matches!(
        s.write(|c| tk::use_refresh(c, "r1", T0 + 2)).await.unwrap(),
        Rotate::Reused(_)
    ));
    assert_eq!(
        s.write(|c| tk::use_refresh(c, "a1", T0)).await.unwrap(),
        Rotate::Unknown,
        "access tokens do not refresh"
    );
    assert_eq!(
        s.write(|c| tk::use_refresh(c, "zz", T0)).await.unwrap(),
        Rotate::Unknown
    );
    assert_eq!(
        s.write(|c| tk::use_refresh(c, "r2", T0 + 100))
            .await
            .unwrap(),
        Rotate::Expired
    );
    s.write(|c| gr::revoke(c, "g1", T0 + 3)).await.unwrap();
    assert!(
        matches!(
            s.write(|c| tk::use_refresh(c, "r2", T0 + 4)).await.unwrap(),
            Rotate::Reused(_)
        ),
        "revoked counts as reuse"
    );
}

async fn accounts(db: TestDb) {
    use store::accounts as ac;
    let s = db.store();
    let mut row = account();
    let r = row.clone();
    s.write(move |c| ac::upsert(c, &r)).await.unwrap();
    row.profile = r#"{"name":"Alice"}"#.into();
    row.upstream_token = Some(vec![1]);
    row.created_at = T0 + 50;
    row.updated_at = T0 + 50;
    let r = row.clone();
    s.write(move |c| ac::upsert(c, &r)).await.unwrap();
    let got = s.run(|c| ac::get(c, "sub-1")).await.unwrap().unwrap();
    assert_eq!(got.created_at, T0);
    assert_eq!(got.updated_at, T0 + 50);
    assert_eq!(got.profile, row.profile);
    assert_eq!(got.upstream_token, Some(vec![1]));
    let by = s
        .run(|c| ac::find_by_upstream(c, "x.example", "1"))
        .await
        .unwrap();
    assert_eq!(by.map(|a| a.sub).as_deref(), Some("sub-1"));
    assert!(
        s.run(|c| ac::find_by_upstream(c, "y.example", "1"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn sessions(db: TestDb) {
    use store::sessions as se;
    let s = db.store();
    let row = SessionRow {
        id: "s1".into(),
        sub: "sub-1".into(),
        auth_time: T0,
        created_at: T0,
        expires_at: T0 + 10,
    };
    let r = row.clone();
    s.write(move |c| se::insert(c, &r)).await.unwrap();
    assert_eq!(
        s.run(|c| se::get_live(c, "s1", T0)).await.unwrap(),
        Some(row.clone())
    );
    assert!(
        s.run(|c| se::get_live(c, "s1", T0 + 10))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.write(|c| se::delete_expired(c, T0 + 10, 100))
            .await
            .unwrap(),
        1
    );
    assert!(!s.write(|c| se::delete(c, "s1")).await.unwrap());
    // Logout deletes a live session.
    let mut live = row.clone();
    live.id = "s2".into();
    live.expires_at = T0 + 1000;
    s.write(move |c| se::insert(c, &live)).await.unwrap();
    assert!(s.write(|c| se::delete(c, "s2")).await.unwrap());
    assert!(
        s.run(|c| se::get_live(c, "s2", T0))
            .await
            .unwrap()
            .is_none(),
        "deleted"
    );
    assert!(!s.write(|c| se::delete(c, "s2")).await.unwrap());
}

async fn keys(db: TestDb) {
    use store::keys as k;
    let s = db.store();
    let row = |kid: &str, alg: &str, active_at| k::KeyRow {
        kid: kid.into(),
        alg: alg.into(),
        private_key: vec![1],
        public_jwk: "{}".into(),
        created_at: active_at,
        active_at,
        retired_at: None,
        expires_at: None,
    };
    let fp0 = s.run(k::fingerprint).await.unwrap();
    assert_eq!(fp0, (0, None, None));
    s.write(move |c| {
        k::insert(c, &row("k1", "RS256", T0))?;
        k::insert(c, &row("e1", "ES256", T0))
    })
    .await
    .unwrap();
    let fp1 = s.run(k::fingerprint).await.unwrap();
    assert_eq!(fp1, (2, Some(T0), None));
    assert_eq!(
        s.write(|c| k::retire_current(c, "RS256", T0 + 100, T0 + 500))
            .await
            .unwrap(),
        1
    );
    s.write(move |c| k::insert(c, &row("k2", "RS256", T0 + 100)))
        .await
        .unwrap();
    assert_ne!(s.run(k::fingerprint).await.unwrap(), fp1);
    let kids = |v: Vec<k::KeyRow>| v.into_iter().map(|r| r.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(s.run(|c| k::list_published(c, T0 + 499)).await.unwrap()),
        ["e1", "k1", "k2"]
    );
    assert_eq!(
        kids(s.run(|c| k::list_published(c, T0 + 500)).await.unwrap()),
        ["e1", "k2"]
    );
    assert_eq!(s.run(k::list_all).await.unwrap().len(), 3);
    assert_eq!(
        s.write(|c| k::delete_expired(c, T0 + 500)).await.unwrap(),
        1
    );
}

async fn commits_counted(db: TestDb) {
    let s = db.store();
    let before = s.commits();
    s.write(|c| {
        store::servers::ensure(c, "a.example", T0)?;
        store::servers::ensure(c, "b.example", T0)
    })
    .await
    .unwrap();
    s.run(store::servers::list).await.unwrap();
    assert_eq!(
        s.commits() - before,
        1,
        "one transaction, one commit; reads are free"
    );
    let failed = s
        .write(|c| {
            store::servers::ensure(c, "c.example", T0)?;
            Err::<(), _>(store::StoreError::Corrupt("abort".into()))
        })
        .await;
    assert!(failed.is_err());
    assert!(
        s.run(|c| store::servers::get(c, "c.example"))
            .await
            .unwrap()
            .is_none(),
        "rolled back"
    );
}

async fn signups(db: TestDb) {
    use store::signups as su;
    let s = db.store();
    let row = |id: &str, expires_at| SignupRow {
        id: id.into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: "x.example".into(),
        upstream_data: vec![1, 2, 3],
        username: "carol".into(),
        email: "carol@example.org".into(),
        created_at: T0,
        expires_at,
    };
    let (a, b) = (row("a", T0 + 100), row("b", T0 + 10));
    let a2 = a.clone();
    s.write(move |c| {
        su::insert(c, &a2)?;
        su::insert(c, &b)
    })
    .await
    .unwrap();
    assert_eq!(
        s.run(|c| su::get(c, "a", T0)).await.unwrap(),
        Some(a.clone())
    );
    assert!(
        s.run(|c| su::get(c, "b", T0 + 10)).await.unwrap().is_none(),
        "expired"
    );
    // Extending only lengthens a live row.
    assert!(s.write(|c| su::extend(c, "a", T0 + 500, T0)).await.unwrap());
    assert!(
        !s.write(|c| su::extend(c, "a", T0 + 200, T0)).await.unwrap(),
        "never shortens"
    );
    assert!(
        !s.write(|c| su::extend(c, "b", T0 + 500, T0 + 10))
            .await
            .unwrap(),
        "not revived"
    );
    assert_eq!(
        s.run(|c| su::get(c, "a", T0 + 400))
            .await
            .unwrap()
            .map(|r| r.expires_at),
        Some(T0 + 500)
    );
    assert!(
        !s.write(|c| su::take(c, "b", T0 + 10)).await.unwrap(),
        "an expired one is not taken"
    );
    assert!(s.write(|c| su::take(c, "a", T0)).await.unwrap());
    assert!(
        !s.write(|c| su::take(c, "a", T0)).await.unwrap(),
        "taken once"
    );
    assert_eq!(
        s.write(|c| su::delete_expired(c, T0 + 10, 100))
            .await
            .unwrap(),
        1
    );
    assert!(!s.write(|c| su::delete(c, "b")).await.unwrap());
    // Cancelling deletes a live one.
    let c = row("c", T0 + 100);
    s.write(move |conn| su::insert(conn, &c)).await.unwrap();
    assert!(s.write(|c| su::delete(c, "c")).await.unwrap());
    assert!(s.run(|c| su::get(c, "c", T0)).await.unwrap().is_none());
    assert!(!s.write(|c| su::take(c, "c", T0)).await.unwrap(), "gone");
}

async fn servers_expire_capabilities(db: TestDb) {
    use store::servers as sv;
    let s = db.store();
    s.write(|c| {
        sv::save_capabilities(
            c,
            "x.example",
            Some("mastodon"),
            Some("4.3.0"),
            "{}",
            T0 + 3600,
            T0,
        )
    })
    .await
    .unwrap();
    s.write(|c| sv::expire_capabilities(c, "x.example", T0 + 5))
        .await
        .unwrap();
    let row = s.run(|c| sv::get(c, "x.example")).await.unwrap().unwrap();
    assert_eq!(row.capabilities_expires_at, Some(T0 + 5), "due now");
    assert_eq!(row.updated_at, T0 + 5);
    assert_eq!(row.software.as_deref(), Some("mastodon"), "the rest stays");
    // An unknown host: nothing to do, no row made.
    s.write(|c| sv::expire_capabilities(c, "y.example", T0))
        .await
        .unwrap();
    assert!(s.run(|c| sv::get(c, "y.example")).await.unwrap().is_none());
}

async fn servers_delete_stale(db: TestDb) {
    use store::servers as sv;
    let s = db.store();
    let cutoff = T0 + 100;
    s.write(move |c| {
        // Never useful, untouched since before the cutoff: stale.
        for h in ["dead1.example", "dead2.example", "dead3.example"] {
            sv::ensure(c, h, T0)?;
        }
        sv::record_error(c, "dead3.example", "refused", T0 + 50)?;
        // Useful or recent: kept.
        sv::save_app(c, "app.example", "cid", &[1], "profile", T0)?;
        sv::ensure(c, "ok.example", T0)?;
        sv::record_success(c, "ok.example", T0 + 1)?;
        sv::ensure(c, "recent.example", cutoff + 1)?;
        sv::ensure(c, "failing.example", T0)?;
        sv::record_error(c, "failing.example", "timeout", cutoff + 1)
    })
    .await
    .unwrap();
    assert_eq!(
        s.write(move |c| sv::delete_stale(c, cutoff, 2))
            .await
            .unwrap(),
        2,
        "in batches of the limit"
    );
    assert_eq!(
        s.write(move |c| sv::delete_stale(c, cutoff, 100))
            .await
            .unwrap(),
        1
    );
    let hosts: Vec<_> = s
        .run(sv::list)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(
        hosts,
        [
            "app.example",
            "failing.example",
            "ok.example",
            "recent.example"
        ]
    );
}

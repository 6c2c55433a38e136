//! Single-use operations raced from many tasks at once: exactly one winner.

use mastodon_oidc::store::{
    self, Store,
    auth_requests::AuthRequestRow,
    signups::SignupRow,
    tokens::{REFRESH, Rotate},
};

use super::{code, grant, token};
use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    concurrent_redemptions_have_one_winner => concurrent_redeem,
    concurrent_leases_have_one_holder => concurrent_lease,
    concurrent_refreshes_have_one_fresh_rotation => concurrent_refresh,
    concurrent_auth_request_takes_have_one_winner => concurrent_auth_request_take,
    concurrent_signup_takes_have_one_winner => concurrent_signup_take,
}

const RACERS: usize = 16;

/// Run `op` from [`RACERS`] tasks at once, each in its own transaction.
async fn race<T, F>(s: &Store, op: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(&mut store::AnyConnection) -> store::StoreResult<T> + Send + Sync + Copy + 'static,
{
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.write(op).await })
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

async fn concurrent_redeem(db: TestDb) {
    let s = db.store();
    s.write(|c| store::codes::insert(c, &code("c1", "g1", T0 + 60)))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s: Store = s.clone();
            tokio::spawn(async move { s.write(|c| store::codes::spend(c, "c1", T0 + 1)).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(won, 1);
}

async fn concurrent_lease(db: TestDb) {
    let s = db.store();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s: Store = s.clone();
            tokio::spawn(async move {
                s.write(move |c| {
                    store::servers::try_lease(c, "new.example", &format!("o{i}"), T0, T0 + 30)
                })
                .await
            })
        })
        .collect();
    let mut holders = 0;
    for t in tasks {
        holders += t.await.unwrap().unwrap() as usize;
    }
    assert_eq!(holders, 1);
}

async fn concurrent_refresh(db: TestDb) {
    let s = db.store();
    s.write(|c| {
        store::grants::insert(c, &grant("g1", None))?;
        store::tokens::insert(c, &token("r1", REFRESH, "g1"))
    })
    .await
    .unwrap();
    let results = race(&s, |c| store::tokens::use_refresh(c, "r1", T0 + 1)).await;
    let fresh = results
        .iter()
        .filter(|r| matches!(r, Rotate::Fresh(_)))
        .count();
    let reused = results
        .iter()
        .filter(|r| matches!(r, Rotate::Reused(_)))
        .count();
    assert_eq!((fresh, reused), (1, RACERS - 1), "{results:?}");
}

async fn concurrent_auth_request_take(db: TestDb) {
    let s = db.store();
    let row = AuthRequestRow {
        id: "h1".into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: None,
        upstream_data: None,
        created_at: T0,
        expires_at: T0 + 100,
    };
    s.write(move |c| store::auth_requests::insert(c, &row))
        .await
        .unwrap();
    let results = race(&s, |c| store::auth_requests::take(c, "h1", T0)).await;
    assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
}

async fn concurrent_signup_take(db: TestDb) {
    let s = db.store();
    let row = SignupRow {
        id: "a".into(),
        client_id: "rp".into(),
        request: "{}".into(),
        server_host: "x.example".into(),
        upstream_data: vec![1],
        username: "carol".into(),
        email: "carol@example.org".into(),
        created_at: T0,
        expires_at: T0 + 100,
    };
    s.write(move |c| store::signups::insert(c, &row))
        .await
        .unwrap();
    let results = race(&s, |c| store::signups::take(c, "a", T0)).await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1);
}

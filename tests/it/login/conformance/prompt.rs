//! Re-authentication and hints: `prompt=login` and `max_age=1` send the
//! person back to Mastodon with `force_login` and yield a later auth_time;
//! `max_age=10000` and `prompt=none` with `id_token_hint` answer from the
//! session; `login_hint` skips the handle page.

use std::time::Duration;

use openidconnect::core::CoreAuthPrompt;
use openidconnect::{LoginHint, TokenResponse};

use super::suite::{Rp, Started, Suite, basic_flow};
use crate::backend_tests;
use crate::support::{T0, TestDb};

backend_tests! {
    oidcc_prompt_login => prompt_login,
    oidcc_max_age_1 => max_age_1,
    oidcc_max_age_10000 => max_age_10000,
    oidcc_id_token_hint => id_token_hint,
    oidcc_login_hint => login_hint,
}

/// `force_login` of each authorize request Mastodon saw, in order.
fn forced(s: &Suite) -> Vec<bool> {
    s.fake
        .calls("GET", "/oauth/authorize")
        .iter()
        .map(|c| c.param("force_login") == Some("true"))
        .collect()
}

/// Another login in the same browser through the handle page; its auth_time.
async fn login_again(s: &mut Suite, rp: &Rp, started: Started) -> i64 {
    let nonce = started.nonce.clone();
    let loc = s.log_in(&started).await;
    let res = s.exchange(rp, &loc, started).await;
    s.verify(rp, &res, Some(&nonce))
        .auth_time()
        .unwrap()
        .timestamp()
}

async fn prompt_login(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (first, _) = basic_flow(&mut s, &rp, |r| r).await;
    s.app.clock.advance(2);
    let started = Suite::request(&rp, |r| r.add_prompt(CoreAuthPrompt::Login));
    let again = login_again(&mut s, &rp, started).await;
    assert!(
        again > first.auth_time().unwrap().timestamp(),
        "a later auth_time"
    );
    assert_eq!(again, T0 + 2);
    assert_eq!(forced(&s), [false, true], "Mastodon must re-authenticate");
}

async fn max_age_1(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    basic_flow(&mut s, &rp, |r| r).await;
    s.app.clock.advance(2);
    let started = Suite::request(&rp, |r| r.set_max_age(Duration::from_secs(1)));
    assert_eq!(login_again(&mut s, &rp, started).await, T0 + 2);
    assert_eq!(forced(&s), [false, true]);
}

async fn max_age_10000(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    basic_flow(&mut s, &rp, |r| r).await;
    s.app.clock.advance(60);
    let started = Suite::request(&rp, |r| r.set_max_age(Duration::from_secs(10_000)));
    // The session is young enough: straight back, no trip to Mastodon.
    let res = s.b.get(&started.url).await;
    let loc = s.redirect_back(&res, &started);
    let nonce = started.nonce.clone();
    let tokens = s.exchange(&rp, &loc, started).await;
    let claims = s.verify(&rp, &tokens, Some(&nonce));
    assert_eq!(
        claims.auth_time().unwrap().timestamp(),
        T0,
        "the first login's"
    );
    assert_eq!(forced(&s), [false], "one trip to Mastodon");
}

async fn id_token_hint(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (first, res) = basic_flow(&mut s, &rp, |r| r).await;
    let hint = res.id_token().unwrap().clone();
    let started = Suite::request(&rp, |r| {
        r.add_prompt(CoreAuthPrompt::None).set_id_token_hint(&hint)
    });
    let page = s.b.get(&started.url).await;
    let loc = s.redirect_back(&page, &started);
    let nonce = started.nonce.clone();
    let tokens = s.exchange(&rp, &loc, started).await;
    assert_eq!(
        s.verify(&rp, &tokens, Some(&nonce)).subject(),
        first.subject()
    );
    assert_eq!(forced(&s).len(), 1, "silent");
}

async fn login_hint(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let started = Suite::request(&rp, |r| {
        r.set_login_hint(LoginHint::new("@alice@social.test".into()))
    });
    // No handle page: straight to the server the hint names.
    let up = s.b.get(&started.url).await;
    let back = s.through_mastodon(&up).await;
    let loc = s.redirect_back(&back, &started);
    let nonce = started.nonce.clone();
    let tokens = s.exchange(&rp, &loc, started).await;
    let claims = s.verify(&rp, &tokens, Some(&nonce));
    assert_eq!(claims.auth_time().unwrap().timestamp(), T0);
}

//! The whole upstream leg is bounded by `login_deadline_secs`, not by the
//! number of requests times their timeout: a server answering each request
//! just in time, a first contact queued behind another replica's lease, and
//! a callback that runs out of time (its token is still revoked).

use std::time::{Duration, Instant};

use mastodon_oidc::store::servers;
use mastodon_oidc::upstream::{LoginInput, Upstream, UpstreamError};

use super::Leg;
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::support::{T0, TestDb};

/// Each request may take 1 s; the leg 2 s; the fake answers in 0.7 s.
const SLOW: Duration = Duration::from_millis(700);

fn start(db: &TestDb, fake: FakeConfig) -> Leg {
    Leg::start_with(db, fake, |c| {
        c.request_timeout_secs = 1;
        c.login_deadline_secs = 2;
    })
}

fn input(typed: &str) -> LoginInput {
    LoginInput {
        typed: typed.into(),
        ..Default::default()
    }
}

fn assert_timed_out<T: std::fmt::Debug>(r: Result<T, UpstreamError>, started: Instant) {
    let Err(UpstreamError::Unavailable(msg)) = &r else {
        panic!("expected Unavailable, got {r:?}");
    };
    assert!(msg.contains("did not answer in time"), "{msg}");
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(2800)).contains(&took),
        "{took:?}"
    );
}

async fn begin_ends_at_the_deadline(db: TestDb) {
    let leg = start(&db, FakeConfig::new(Profile::Mastodon44));
    leg.fake.set_delay(SLOW);
    let started = Instant::now();
    let r = leg.up.begin(&input("@alice@social.test"), "s").await;
    assert_timed_out(r, started);
    // The requests were answered in time; there were just too many.
    let answered = leg
        .fake
        .all_calls()
        .iter()
        .filter(|c| c.status.is_some())
        .count();
    assert!(answered >= 2, "{answered}");
}

async fn waiting_for_another_replica_ends_at_the_deadline(db: TestDb) {
    let leg = start(&db, FakeConfig::new(Profile::Mastodon44));
    // A replica took the first-contact lease and died (the clock stands still).
    leg.store
        .write(|c| servers::try_lease(c, "social.test", "dead-replica", T0, T0 + 30))
        .await
        .expect("lease");
    let started = Instant::now();
    let r = leg.up.begin(&input("@alice@social.test"), "s").await;
    assert_timed_out(r, started);
    assert_eq!(leg.apps_posts(), 0);
}

async fn complete_ends_at_the_deadline_and_revokes(db: TestDb) {
    // Split domains: settling the handle takes two more WebFinger requests.
    let fake = FakeConfig::new(Profile::Mastodon44)
        .web_domain("mastodon.test")
        .local_domain("example.test");
    let leg = start(&db, fake);
    let begin = leg
        .up
        .begin(&input("mastodon.test"), "s")
        .await
        .expect("begin");
    let query = leg.authorize(&begin.redirect_to).await;
    leg.fake.set_delay(SLOW);
    let started = Instant::now();
    let r = leg
        .up
        .complete("mastodon.test", &begin.stored, &query)
        .await;
    assert_timed_out(r, started);
    // The token it obtained is revoked all the same, in the background.
    for _ in 0..40 {
        if leg.fake.count("POST", "/oauth/revoke") >= 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the token was not revoked");
}

backend_tests!(
    begin_deadline => begin_ends_at_the_deadline,
    lease_wait_deadline => waiting_for_another_replica_ends_at_the_deadline,
    complete_deadline => complete_ends_at_the_deadline_and_revokes,
);

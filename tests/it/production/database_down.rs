//! The database goes away: pages and clients get a quick 503 (never a hang
//! or a bare 500), discovery and JWKS keep answering from memory, /readyz
//! turns false, and everything recovers on its own when it returns, with
//! nothing lost.

use std::time::{Duration, Instant};

use mastodon_oidc::store::Store;

use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::seed;
use crate::support::browser::Browser;
use crate::support::plug::Plug;
use crate::support::{Backend, TestApp, TestDb, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_answers_503_and_recovers() {
    // PostgreSQL: the one backend that lives across a network.
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let direct = db.store();
    let mut url = url::Url::parse(db.url()).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let plug = Plug::start(target.parse().unwrap()).await;
    url.set_port(Some(plug.addr.port())).unwrap();
    let store = Store::connect(url.as_str(), 4, Duration::from_secs(5), false).unwrap();
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let overrides = fake.override_map();
    let app = TestApp::spawn_on(
        &db,
        store,
        |c| {
            c.clients = vec![seed::client("rp")];
            c.upstream.host_overrides = overrides;
        },
        None,
    )
    .await;
    let ready = |app: &TestApp| {
        let u = app.url("/readyz");
        async move { http().get(u).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);
    let (code, _, _) = seed::code(&direct, "rp", "openid", None);

    plug.pull();
    let res = http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], false);
    assert_eq!(body["keys"], true);
    // The handle page needs no database (configured client, sealed request).
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    assert_eq!(page.status, 200);
    // Once the outage is known, a request waits a moment, not the 5 s
    // connect timeout, for its answer.
    let t = Instant::now();
    let submitted = app
        .submit_handle(&mut b, &page.input("request"), "@alice@social.test")
        .await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(submitted.status, 503, "{}", submitted.body);
    assert_eq!(submitted.headers["retry-after"], "30");
    assert!(submitted.body.contains("cannot reach its database"));
    assert_eq!(
        submitted.input("handle"),
        "@alice@social.test",
        "nothing typed is lost"
    );
    let token = seed::token_request(&app.issuer, &code).await;
    assert_eq!(token.status(), 503);
    let err: serde_json::Value = token.json().await.unwrap();
    assert_eq!(err["error"], "temporarily_unavailable");
    for path in [
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/healthz",
    ] {
        let r = http().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path} answers from memory");
    }

    plug.plug_in();
    let mut recovered = false;
    for _ in 0..40 {
        if ready(&app).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "ready again without a restart");
    // The code issued before the outage was not lost or spent by it, and
    // the same form now goes on to the server.
    let tokens = seed::redeem(&app, &code).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let again = app
        .submit_handle(&mut b, &submitted.input("request"), "@alice@social.test")
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(
        plug.connections() > 1,
        "the pool connected again through the plug"
    );
}

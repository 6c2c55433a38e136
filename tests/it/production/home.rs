//! First run: in development the home page offers the demo relying party;
//! in production it says what the service is and shows its discovery URL,
//! and the demo does not exist at all.

use mastodon_oidc::config::Mode;

use crate::support::{Backend, TestApp, TestDb, http};

/// GET on the app's own address (a production issuer is not where it listens here).
async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", app.state.config.listen);
    let r = http().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_offers_the_demo() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = TestApp::spawn(&db).await;
    let (status, home) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(home.contains(&format!("{}/.well-known/openid-configuration", app.issuer)));
    assert!(home.contains(r#"action="/demo/start""#), "{home}");
    let start = http().get(app.url("/demo/start")).send().await.unwrap();
    assert_eq!(start.status(), 303, "the demo starts a real login");
    let to = start.headers()["location"].to_str().unwrap();
    assert!(to.contains("client_id=demo"), "{to}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_shows_the_discovery_url_and_no_demo() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = TestApp::spawn_with(&db, |c| {
        c.mode = Some(Mode::Production);
        c.issuer = Some("https://login.example.test".into());
    })
    .await;
    let (status, home) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("https://login.example.test/.well-known/openid-configuration"));
    assert!(home.contains("Mastodon"), "says what it is");
    assert!(!home.contains("/demo/start"), "{home}");
    assert_eq!(get(&app, "/demo/start").await.0, 404);
    // Nor is the demo client registered: an authorization request for it
    // gets the unknown-client page.
    let (status, page) = get(
        &app,
        "/authorize?response_type=code&client_id=demo&redirect_uri=https%3A%2F%2Flogin.example.test%2Fdemo%2Fcallback&scope=openid",
    )
    .await;
    assert_eq!(status, 400, "{page}");
}

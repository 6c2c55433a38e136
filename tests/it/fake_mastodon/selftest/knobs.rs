//! Test knobs and the recorder.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn knobs_down_garbage_forced_and_delay() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    t.fake.set_down(true);
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 503);
    t.fake.set_down(false);
    t.fake.set_html_garbage(true);
    let r = t.get("/api/v2/instance", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    t.fake.set_html_garbage(false);
    t.fake.force_response(
        "GET",
        "/api/v2/instance",
        500,
        "application/json",
        "{}",
        Some(1),
    );
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 500);
    assert_eq!(t.get("/api/v2/instance", None).await.status(), 200);
    t.fake.set_delay(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    t.get("/api/v1/instance", None).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let c = t.fake.last("GET", "/api/v1/instance").unwrap();
    assert_eq!(c.host(), "social.test");
    assert_eq!(t.fake.count("GET", "/api/v2/instance"), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn recorder_keeps_bodies_and_headers() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    t.http
        .post(t.url("/api/v1/apps"))
        .header("user-agent", "bridge-test/1")
        .json(&serde_json::json!({"client_name": "B", "redirect_uris": [CB], "scopes": "read"}))
        .send()
        .await
        .unwrap();
    let c = t.fake.last("POST", "/api/v1/apps").unwrap();
    assert_eq!(c.user_agent(), Some("bridge-test/1"));
    assert_eq!(c.body_param("client_name"), Some("B"));
    assert_eq!(c.array("redirect_uris"), Some(vec![CB.to_owned()]));
    assert!(c.json.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_refuses_connections_then_recovers() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let (id, _) = t.app("read").await;
    t.fake.set_unreachable(true);
    // A fresh client: pooled keep-alive connections were cut, new ones refused.
    let fresh = client(&t.fake);
    let err = fresh
        .get(t.url("/api/v2/instance"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    t.fake.set_unreachable(false);
    let r = fresh.get(t.url("/api/v2/instance")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // State survives the outage.
    assert_eq!(t.fake.apps()[0].client_id, id);
}

//! Liveness, readiness, discovery and JWKS over real HTTP.

use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

use crate::backend_tests;
use crate::login::seed;
use crate::support::{T0, TestApp, TestDb, http, rp};

backend_tests! {
    health_and_readiness => health_and_readiness,
    jwks_is_served_from_prepared_bytes_with_caching => jwks_cached,
    discovery_issuer_matches_byte_for_byte => discovery_issuer,
    an_issuer_with_a_path_is_served_below_it => issuer_with_a_path,
    discovery_is_cached_and_conditional => discovery_cached,
    readiness_wants_a_key_for_every_algorithm_in_use => ready_needs_keys_in_use,
}

async fn health_and_readiness(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let res = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert_eq!(body["keys"], true);
    app.stop().await;
}

async fn jwks_cached(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let res = http().get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let jwks: serde_json::Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<_> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} missing from {algs:?}");
    }
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().is_some_and(|s| s.len() == 43));
        assert!(k.get("d").is_none(), "private part leaked: {k}");
    }
    let res = http()
        .get(app.url("/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    app.stop().await;
}

async fn discovery_issuer(db: TestDb) {
    let mut configured = String::new();
    let app = TestApp::spawn_with(&db, |c| {
        configured = format!("{}/", c.issuer.clone().unwrap());
        c.issuer = Some(configured.clone());
    })
    .await;
    assert!(configured.ends_with('/'));
    let root = configured.trim_end_matches('/');
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let res = http().get(format!("{root}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let doc: serde_json::Value = res.json().await.unwrap();
        // Byte for byte as configured, trailing slash included.
        assert_eq!(doc["issuer"].as_str().unwrap(), configured);
        // Endpoints joined with one slash.
        assert_eq!(
            doc["jwks_uri"].as_str().unwrap(),
            format!("{root}/jwks.json")
        );
        assert_eq!(
            doc["token_endpoint"].as_str().unwrap(),
            format!("{root}/token")
        );
    }
    // A relying party configured with the slash passes openidconnect's issuer check.
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(configured.clone()).unwrap(),
        &rp::http_client,
    )
    .await
    .expect("discovery with the configured issuer");
    assert_eq!(meta.issuer().as_str(), configured);
    app.stop().await;
}

/// An issuer with a path: discovery and every endpoint answer below it (a
/// proxy that passes the path on) and at the root (one that strips it), and
/// pages link below it.
async fn issuer_with_a_path(db: TestDb) {
    let mut configured = String::new();
    let app = TestApp::spawn_with(&db, |c| {
        configured = format!("{}/oidc", c.issuer.clone().unwrap());
        c.issuer = Some(configured.clone());
        c.clients = vec![seed::client("rp")];
    })
    .await;
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(configured.clone()).unwrap(),
        &rp::http_client,
    )
    .await
    .expect("discovery below the issuer's path");
    assert_eq!(meta.issuer().as_str(), configured);
    assert_eq!(
        meta.token_endpoint().unwrap().as_str(),
        format!("{configured}/token")
    );
    assert_eq!(meta.jwks_uri().as_str(), format!("{configured}/jwks.json"));
    assert!(
        !meta.jwks().keys().is_empty(),
        "JWKS fetched below the path"
    );
    // Behind a prefix-stripping proxy the same service answers at the root.
    let root = configured.trim_end_matches("/oidc");
    let doc: serde_json::Value = http()
        .get(format!("{root}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"].as_str().unwrap(), configured);
    // The handle page keeps the browser below the issuer.
    let page = http()
        .get(seed::authorize_url(&app, "rp", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains(r#"action="/oidc/login""#), "{body}");
    assert!(body.contains(r#"href="/oidc/static/site.css""#), "{body}");
    assert!(!body.contains(r#"action="/login""#), "{body}");
    let css = http()
        .get(app.url("/static/site.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    app.stop().await;
}

backend_tests! {
    metrics_count_requests_by_route_pattern => metrics_by_route,
}

async fn metrics_by_route(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    for _ in 0..3 {
        let r = http().get(app.url("/jwks.json")).send().await.unwrap();
        assert!(r.headers().contains_key("x-request-id"));
    }
    http()
        .get(app.url("/no/such/path?code=SECRETCODE"))
        .send()
        .await
        .unwrap();
    let text = http()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"mastodon_oidc_http_requests_total{endpoint="/jwks.json",method="GET",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"endpoint="unmatched""#),
        "unknown paths share one label"
    );
    assert!(!text.contains("SECRETCODE") && !text.contains("/no/such/path"));
    assert!(text.contains("mastodon_oidc_http_request_duration_seconds_bucket"));
    assert!(
        text.contains("mastodon_oidc_db_pool_max_connections 8"),
        "{text}"
    );
    app.stop().await;
}

async fn discovery_cached(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let url = app.url("/.well-known/openid-configuration");
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let doc: serde_json::Value = res.json().await.unwrap();
    for (tag, status) in [(etag.as_str(), 304), ("\"other\"", 200), ("*", 304)] {
        let res = http()
            .get(&url)
            .header("if-none-match", tag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "If-None-Match: {tag}");
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
        if status == 304 {
            assert!(res.bytes().await.unwrap().is_empty());
        }
    }
    // service_documentation is the service's own home page, and it answers.
    let docs = doc["service_documentation"].as_str().unwrap();
    assert_eq!(docs, app.url("/"));
    assert_eq!(http().get(docs).send().await.unwrap().status(), 200);
    app.stop().await;
}

async fn ready(app: &TestApp) -> (u16, serde_json::Value) {
    let res = http().get(app.url("/readyz")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Delete `alg`'s keys behind the service's back; it re-reads them.
async fn drop_keys(app: &TestApp, alg: &'static str) {
    app.state
        .store
        .write(move |c| {
            diesel::connection::SimpleConnection::batch_execute(
                c,
                &format!("DELETE FROM signing_keys WHERE alg = '{alg}'"),
            )
            .map_err(mastodon_oidc::store::StoreError::from)
        })
        .await
        .unwrap();
    app.state.keys.refresh().await.unwrap();
}

async fn ready_needs_keys_in_use(db: TestDb) {
    use mastodon_oidc::keys::Algorithm;
    use mastodon_oidc::store;
    let mut es256 = seed::client("es");
    es256.id_token_signed_response_alg = Some(Algorithm::ES256);
    let app = TestApp::spawn_with(&db, |c| c.clients = vec![es256]).await;
    let st = app.state.store.clone();
    assert_eq!(ready(&app).await.0, 200);
    // Nobody signs with EdDSA: its key is not needed.
    drop_keys(&app, "EdDSA").await;
    assert_eq!(ready(&app).await.0, 200);
    // A database client that does.
    let mut eddsa =
        mastodon_oidc::oidc::clients::Client::from_config(&seed::client("ed"), Algorithm::EdDSA)
            .to_row(T0);
    eddsa.id = "ed".into();
    st.write(move |c| store::clients::insert(c, &eddsa))
        .await
        .unwrap();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["keys"], false);
    assert_eq!(body["database"], true);
    assert_eq!(body["missing_keys"], serde_json::json!(["EdDSA"]));
    st.write(|c| store::clients::delete(c, "ed")).await.unwrap();
    assert_eq!(ready(&app).await.0, 200);
    // A configured client's algorithm.
    drop_keys(&app, "ES256").await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["missing_keys"], serde_json::json!(["ES256"]));
    app.stop().await;
}

//! WebFinger, host-meta, NodeInfo, RFC 8414 metadata and instance API per version.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn discovery_webfinger_nodeinfo_metadata() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44));
    let r = t
        .get(
            "/.well-known/webfinger?resource=acct:alice@social.test",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jrd+json")
    );
    let v = json(r).await;
    assert_eq!(v["subject"], "acct:alice@social.test");
    let links = v["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == "http://social.test/users/alice")
    );
    let r = t
        .get("/.well-known/webfinger?resource=acct:bob@social.test", None)
        .await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(t.get("/.well-known/webfinger", None).await.status(), 400);
    let mut gone = FakeConfig::new(Profile::Mastodon44);
    gone.deleted_usernames = vec!["zed".into()];
    let g = T::new(gone);
    let r = g
        .get("/.well-known/webfinger?resource=acct:zed@social.test", None)
        .await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(
        t.get(
            "/.well-known/webfinger?resource=acct:alice@other.test",
            None
        )
        .await
        .status(),
        404
    );
    let v = json(t.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["name"], "mastodon");
    let v = json(t.get("/.well-known/oauth-authorization-server", None).await).await;
    assert_eq!(v["issuer"], "http://social.test/");
    assert_eq!(v["scopes_supported"][1], "profile");
    assert_eq!(v["userinfo_endpoint"], "http://social.test/oauth/userinfo");
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["domain"], "social.test");
    assert_eq!(v["registrations"]["enabled"], true);
    assert_eq!(t.fake.count("GET", "/.well-known/webfinger"), 4);
    let ua = t.fake.last("GET", "/nodeinfo/2.0").unwrap();
    assert_eq!(ua.host(), "social.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_userinfo_depend_on_version() {
    let t42 = T::new(FakeConfig::new(Profile::Mastodon42));
    assert_eq!(
        t42.get("/.well-known/oauth-authorization-server", None)
            .await
            .status(),
        404
    );
    let v = json(t42.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["version"], "4.2.10");
    let t43 = T::new(FakeConfig::new(Profile::Mastodon43));
    let v = json(
        t43.get("/.well-known/oauth-authorization-server", None)
            .await,
    )
    .await;
    assert!(v.get("userinfo_endpoint").is_none());
    assert!(
        v["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "password")
    );
    let gts = T::new(FakeConfig::new(Profile::GoToSocial));
    assert_eq!(
        gts.get("/.well-known/oauth-authorization-server", None)
            .await
            .status(),
        404
    );
    let v = json(gts.get("/nodeinfo/2.0", None).await).await;
    assert_eq!(v["software"]["name"], "gotosocial");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_domain_handles_and_webfinger_redirect() {
    let t = T::new(FakeConfig::new(Profile::Mastodon44).local_domain("local.test"));
    let r = t
        .http
        .get("http://local.test/.well-known/webfinger?resource=acct:alice@local.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    let loc = location(&r).unwrap();
    assert!(loc.starts_with("http://social.test/.well-known/webfinger?resource=acct"));
    let v = json(t.http.get(loc).send().await.unwrap()).await;
    assert_eq!(v["subject"], "acct:alice@local.test");
    let v = json(t.get("/api/v2/instance", None).await).await;
    assert_eq!(v["domain"], "local.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn numeric_actor_uris_and_avatar() {
    let mut alice = FakeUser::new(ALICE_ID, "alice");
    alice.avatar = Some("http://social.test/system/a.png".into());
    let mut config = FakeConfig::new(Profile::Mastodon44).users(vec![alice]);
    config.numeric_actor_uris = true;
    let t = T::new(config);
    let v = json(
        t.get(
            "/.well-known/webfinger?resource=acct:alice@social.test",
            None,
        )
        .await,
    )
    .await;
    let links = v["links"].as_array().unwrap();
    let self_href = format!("http://social.test/ap/users/{}", ALICE_ID);
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == self_href)
    );
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "http://webfinger.net/rel/avatar")
    );
    let r = t.get("/.well-known/host-meta", None).await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("http://social.test/.well-known/webfinger?resource={uri}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_api_per_profile() {
    for profile in Profile::ALL {
        let closed = Registrations {
            enabled: false,
            message: Some("<p>Closed</p>".into()),
            ..Registrations::default()
        };
        let t = T::new(FakeConfig::new(profile).registrations(closed));
        let v1 = json(t.get("/api/v1/instance", None).await).await;
        assert_eq!(v1["uri"], "social.test", "{profile:?}");
        assert_eq!(v1["registrations"], false, "{profile:?}");
        let v2 = json(t.get("/api/v2/instance", None).await).await;
        assert_eq!(v2["registrations"]["message"], "<p>Closed</p>");
        assert_eq!(
            v2.get("api_versions").is_some(),
            profile.at_least_43(),
            "{profile:?}"
        );
        assert_eq!(
            v2["registrations"].get("min_age").is_some(),
            profile == Profile::Mastodon44,
            "{profile:?}"
        );
        let rules = json(t.get("/api/v1/instance/rules", None).await).await;
        assert_eq!(rules[0]["text"], "Be nice.");
        assert_eq!(
            rules[0].get("hint").is_some(),
            profile != Profile::Mastodon42
        );
        let v = json(t.get("/nodeinfo/2.0", None).await).await;
        assert_eq!(v["openRegistrations"], false);
    }
}

//! The basic flow with `response_mode=form_post` (the Form Post OP plan):
//! the callback answers with a page whose form goes to the redirect URI by
//! POST, submitted by a script or, without JavaScript, by its button. The
//! test posts the form as a browser would, to a relying party listening on
//! loopback, and redeems what arrived there.

use super::suite::{HANDLE, Suite};
use crate::backend_tests;
use crate::login::seed::{self, SECRET};
use crate::support::TestDb;
use crate::support::receiver::Receiver;

backend_tests! {
    oidcc_server_response_mode_form_post => basic_flow,
}

async fn basic_flow(db: TestDb) {
    let receiver = Receiver::start("/cb").await;
    let mut fp = seed::client("fp");
    fp.redirect_uris = vec![receiver.url.clone()];
    let mut s = Suite::with_clients(&db, vec![fp]).await;
    let rp = s.rp_as("fp", Some(SECRET), &receiver.url);
    let started = Suite::request(&rp, |r| r.add_extra_param("response_mode", "form_post"));
    let page = s.b.get(&started.url).await;
    let up = s
        .app
        .submit_handle(&mut s.b, &page.input("request"), HANDLE)
        .await;
    let back = s.through_mastodon(&up).await;
    assert_eq!(back.status, 200, "a page, not a redirect: {}", back.body);
    assert!(back.headers.get("location").is_none());
    let csp = back.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(back.headers["x-frame-options"], "DENY");
    assert_eq!(back.headers["cache-control"], "no-store");
    // The script submits it; without JavaScript the button does.
    assert!(back.body.contains("<script src=\"/static/form_post.js\""));
    assert!(back.body.contains("<form method=\"post\""), "{}", back.body);
    assert!(
        back.body.contains("<button type=\"submit\""),
        "{}",
        back.body
    );
    let (action, fields) = back.form();
    assert_eq!(action, receiver.url);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["code", "state", "iss"]);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    s.b.post(&action, &pairs).await;
    let got = receiver.received().await;
    assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", "/cb"));
    assert_eq!(
        got.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = got.form();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} posted"))
    };
    assert_eq!(field("state"), *started.state.secret());
    assert_eq!(field("iss"), s.app.issuer);
    let nonce = started.nonce.clone();
    let res = s.redeem(&rp, field("code"), started).await;
    s.verify(&rp, &res, Some(&nonce));
}

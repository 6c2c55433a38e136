//! Sign-up through the bridge against the fake Mastodon over loopback, on
//! both backends: `prompt=create` (or the handle page's link) → server
//! chooser → rules and form → Mastodon's app sign-up API → "check your
//! e-mail" → the confirmation link → `/callback/{host}` → the relying party.

mod flow;
mod form;
mod policy;
mod secrets;

use mastodon_oidc::clock::FixedClock;
use mastodon_oidc::config::Config;
use mastodon_oidc::ratelimit::Limit;

use crate::fake_mastodon::{FakeConfig, FakeMastodon};
use crate::login::seed;
use crate::support::browser::{Browser, Page};
use crate::support::{T0, TestApp, TestDb, http};

pub const PASSWORD: &str = "correct horse battery staple";

/// The fake (on a fixed clock) and the bridge pointed at it, with client
/// `rp`; `tweak` adjusts the bridge's configuration last. Our own per-IP
/// limit is off unless a test turns it on.
pub async fn spawn(
    db: &TestDb,
    fake: FakeConfig,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, FakeMastodon) {
    let fake = FakeMastodon::start(fake.clock(FixedClock::new(T0)));
    let overrides = fake.override_map();
    let app = TestApp::spawn_with(db, move |c| {
        c.clients = vec![seed::client("rp")];
        c.upstream.host_overrides = overrides;
        c.limits.signup_form = Limit::new(0, 0);
        tweak(c);
    })
    .await;
    (app, fake)
}

/// `/authorize?prompt=create` (plus `extra`), then the chooser with `server`:
/// the page that comes back (the form, for an open server).
pub async fn choose(app: &TestApp, b: &mut Browser, extra: &[(&str, &str)], server: &str) -> Page {
    let mut params = vec![("prompt", "create")];
    params.extend_from_slice(extra);
    let chooser = b.get(&seed::authorize_url(app, "rp", &params)).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    assert!(
        chooser.body.contains("Create a fediverse account"),
        "{}",
        chooser.body
    );
    pick(app, b, &chooser, server).await
}

/// Choose `server` on the chooser `page`.
pub async fn pick(app: &TestApp, b: &mut Browser, page: &Page, server: &str) -> Page {
    b.post(
        &app.url("/signup"),
        &[("request", &page.input("request")), ("server", server)],
    )
    .await
}

/// Submit the form on `page` as carol, with `changes` (an empty value
/// removes the field).
pub async fn submit(app: &TestApp, b: &mut Browser, page: &Page, changes: &[(&str, &str)]) -> Page {
    let mut form: Vec<(String, String)> = vec![
        ("request".into(), page.input("request")),
        ("draft".into(), page.input("draft")),
        ("username".into(), "carol".into()),
        ("email".into(), "carol@example.org".into()),
        ("password".into(), PASSWORD.into()),
        ("locale".into(), "en".into()),
        ("agreement".into(), "1".into()),
    ];
    for (k, v) in changes {
        form.retain(|(name, _)| name != k);
        if !v.is_empty() {
            form.push((k.to_string(), v.to_string()));
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(&app.url("/signup/account"), &pairs).await
}

/// Open the confirmation e-mail's link (at the fake, by IP); returns where
/// Mastodon sends the browser next.
pub async fn confirm(fake: &FakeMastodon, username: &str) -> url::Url {
    let link = url::Url::parse(
        &fake
            .confirmation_link(username)
            .expect("a confirmation e-mail"),
    )
    .unwrap();
    let at_fake = fake.at_ip(&link);
    let res = http().get(at_fake).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to = res.headers()["location"].to_str().unwrap();
    url::Url::parse(to).unwrap()
}

/// The whole way to "check your e-mail" on an open server, as carol with
/// `changes` to the form.
pub async fn sign_up(app: &TestApp, b: &mut Browser, changes: &[(&str, &str)]) -> Page {
    let form = choose(app, b, &[], "social.test").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let done = submit(app, b, &form, changes).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.headers["location"], "/signup/pending");
    let pending = b.get(&app.url("/signup/pending")).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    pending
}

/// The element with `id` and its text up to the closing tag (for asserts
/// about one field's error).
pub fn element<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find("</")? + start;
    Some(&rest[start..end])
}

/// The opening tag of the element with `id`.
pub fn tag<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let open = body[..at].rfind('<')?;
    let close = body[at..].find('>')? + at;
    Some(&body[open..=close])
}

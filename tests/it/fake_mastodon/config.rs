//! What a test chooses before starting the fake: version profile, domains,
//! users, login mode, registration settings, throttles and the clock.

use std::sync::Arc;

use mastodon_oidc::clock::{SharedClock, SystemClock};

use super::model::FakeUser;
use super::profile::Profile;

/// How `/oauth/authorize` treats the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginMode {
    /// This username is signed in and approves at once: a code is issued and
    /// the browser is sent straight back (unless `force_login=true`, which
    /// shows the form, as the real consent page would be shown).
    AutoApprove(String),
    /// Signed in as this username, like the real server: the consent form
    /// is skipped only when a matching unrevoked token exists (same app,
    /// user and scope set) and `force_login` is not set.
    SignedIn(String),
    /// Nobody signed in: always serve the HTML sign-in-and-authorize form.
    Interactive,
}

/// Registration settings shown by the instance API and enforced at sign-up.
#[derive(Debug, Clone)]
pub struct Registrations {
    pub enabled: bool,
    pub approval_required: bool,
    pub reason_required: bool,
    /// HTML shown while registrations are closed.
    pub message: Option<String>,
    /// 4.4+: minimum age; sign-ups then need `date_of_birth`.
    pub min_age: Option<u32>,
    /// `registrations.url`: the server's own (SSO) sign-up page.
    pub url: Option<String>,
}

impl Default for Registrations {
    fn default() -> Self {
        Registrations {
            enabled: true,
            approval_required: false,
            reason_required: false,
            message: None,
            min_age: None,
            url: None,
        }
    }
}

/// Everything a test chooses before starting the fake.
#[derive(Clone)]
pub struct FakeConfig {
    pub profile: Profile,
    /// The API / OAuth host (WEB_DOMAIN), e.g. `social.test`.
    pub web_domain: String,
    /// The handle domain (LOCAL_DOMAIN); defaults to `web_domain`.
    pub local_domain: String,
    pub users: Vec<FakeUser>,
    pub login: LoginMode,
    pub registrations: Registrations,
    pub rules: Vec<String>,
    pub title: String,
    /// `POST /api/v1/apps` per 10 minutes; `None` disables the throttle.
    pub apps_rate_limit: Option<usize>,
    /// `POST /api/v1/accounts` per 30 minutes; `None` disables it.
    pub signup_rate_limit: Option<usize>,
    /// Mastodon 4.5+ actor URIs for new accounts: `/ap/users/<id>`.
    pub numeric_actor_uris: bool,
    /// Code lifetime, throttle windows and `created_at` read this clock.
    pub clock: SharedClock,
    /// Usernames WebFinger answers 410 Gone for.
    pub deleted_usernames: Vec<String>,
    /// A catch-all WebFinger on LOCAL_DOMAIN: every query about that domain
    /// gets this user's links under the asked subject (a personal domain).
    pub webfinger_catch_all: Option<String>,
    /// Another domain (served too) whose WebFinger echoes every
    /// `acct:{name}@{domain}` to `{name}`'s links here, under the asked
    /// subject: a domain owner vouching for this server's accounts.
    pub webfinger_echo: Option<String>,
    /// The instance's `languages` (ISO 639).
    pub languages: Vec<String>,
    /// `I18n.available_locales`: sign-ups with another `locale` get ERR_INCLUSION.
    pub ui_locales: Vec<String>,
    /// E-mail domains refused at sign-up (ERR_BLOCKED).
    pub blocked_email_domains: Vec<String>,
    /// 4.4+: the server publishes terms of service (`/terms-of-service`).
    pub terms_of_service: bool,
}

/// The default user's id.
pub const ALICE_ID: &str = "109000000000000001";

impl FakeConfig {
    /// `social.test`, one active user `alice` (password `password`)
    /// auto-approving, open registrations, throttle 5 / 10 min.
    pub fn new(profile: Profile) -> Self {
        FakeConfig {
            profile,
            web_domain: "social.test".into(),
            local_domain: "social.test".into(),
            users: vec![FakeUser::new(ALICE_ID, "alice")],
            login: LoginMode::AutoApprove("alice".into()),
            registrations: Registrations::default(),
            rules: vec!["Be nice.".into()],
            title: "Fake Mastodon".into(),
            apps_rate_limit: Some(5),
            signup_rate_limit: Some(5),
            numeric_actor_uris: false,
            clock: Arc::new(SystemClock),
            deleted_usernames: Vec::new(),
            webfinger_catch_all: None,
            webfinger_echo: None,
            languages: vec!["en".into()],
            ui_locales: ["en", "de", "fr", "es", "ja", "pt-BR"]
                .map(String::from)
                .to_vec(),
            blocked_email_domains: vec!["spam.example".into()],
            terms_of_service: false,
        }
    }

    /// Sets WEB_DOMAIN (and LOCAL_DOMAIN if it was the same).
    pub fn web_domain(mut self, domain: &str) -> Self {
        if self.local_domain == self.web_domain {
            self.local_domain = domain.to_owned();
        }
        self.web_domain = domain.to_owned();
        self
    }

    pub fn local_domain(mut self, domain: &str) -> Self {
        self.local_domain = domain.to_owned();
        self
    }

    pub fn users(mut self, users: Vec<FakeUser>) -> Self {
        self.users = users;
        self
    }

    pub fn interactive(mut self) -> Self {
        self.login = LoginMode::Interactive;
        self
    }

    pub fn signed_in(mut self, username: &str) -> Self {
        self.login = LoginMode::SignedIn(username.to_owned());
        self
    }

    pub fn auto_approve(mut self, username: &str) -> Self {
        self.login = LoginMode::AutoApprove(username.to_owned());
        self
    }

    pub fn registrations(mut self, r: Registrations) -> Self {
        self.registrations = r;
        self
    }

    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn languages(mut self, languages: &[&str]) -> Self {
        self.languages = languages.iter().map(|l| l.to_string()).collect();
        self
    }

    pub fn rules(mut self, rules: &[&str]) -> Self {
        self.rules = rules.iter().map(|r| r.to_string()).collect();
        self
    }

    pub fn terms_of_service(mut self, on: bool) -> Self {
        self.terms_of_service = on;
        self
    }

    pub fn webfinger_catch_all(mut self, username: &str) -> Self {
        self.webfinger_catch_all = Some(username.to_owned());
        self
    }

    pub fn webfinger_echo(mut self, domain: &str) -> Self {
        self.webfinger_echo = Some(domain.to_owned());
        self
    }

    pub fn apps_rate_limit(mut self, limit: Option<usize>) -> Self {
        self.apps_rate_limit = limit;
        self
    }

    pub(super) fn users_count(&self) -> usize {
        self.users.len()
    }
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig::new(Profile::Mastodon44)
    }
}

/// `http://{web_domain}{path}`: the bridge resolves the name to our port.
pub fn absolute(c: &FakeConfig, path: &str) -> String {
    format!("http://{}{path}", c.web_domain)
}

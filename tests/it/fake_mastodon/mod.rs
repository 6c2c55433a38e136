//! A fake Mastodon server on loopback that behaves like the real one
//! (`shared/reference/mastodon-api.md`), for the bridge's integration tests.
//!
//! `FakeMastodon::start(FakeConfig)` runs an actix-web server on
//! 127.0.0.1:0 in its own thread and actix System, so it works from any
//! tokio test. The bridge reaches it by name (`social.test`) through a
//! test-only DNS override (`host_overrides()`), so every URL the fake hands
//! out is `http://{web_domain}/…`. Every request is recorded (`calls`,
//! `count`, `last`) and knobs simulate outages, slowness, garbage and a
//! server that forgot our app.
//!
//! Files: `config` (FakeConfig), `routes` (server thread, recorder entry,
//! route table), `profile` (version differences), `model` (state), `request`
//! (recorded request + params), `reply` (error bodies), `apps`, `oauth`,
//! `html` (login/consent form), `accounts` (token checks, sign-up),
//! `instance` (instance API + NodeInfo), `webfinger`, `throttle` (429s),
//! `selftest`.

// Handlers return ready-made error responses in `Err`; size is irrelevant in a test fake.
#![allow(clippy::result_large_err)]

mod accounts;
mod apps;
mod config;
mod html;
mod instance;
mod model;
mod oauth;
mod profile;
mod reply;
mod request;
mod routes;
mod throttle;
mod webfinger;

#[cfg(test)]
mod selftest;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use config::{ALICE_ID, FakeConfig, LoginMode, Registrations, absolute};
pub use model::{AccountState, App as FakeApp, FakeUser, Token as FakeToken};
pub use profile::Profile;
pub use request::Call;

use model::{Forced, State};
use routes::serve;

type Shared = Arc<Mutex<State>>;

/// A running fake; stops when dropped.
pub struct FakeMastodon {
    addr: SocketAddr,
    state: Shared,
    handle: Mutex<Option<actix_web::dev::ServerHandle>>,
}

impl Drop for FakeMastodon {
    fn drop(&mut self) {
        // `stop` sends the command eagerly; the returned future only waits.
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            drop(h.stop(false));
        }
    }
}

impl FakeMastodon {
    pub fn start(config: FakeConfig) -> FakeMastodon {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake mastodon");
        let addr = listener.local_addr().expect("fake mastodon address");
        let state: Shared = Arc::new(Mutex::new(State::new(config)));
        let handle = serve(listener, state.clone());
        FakeMastodon {
            addr,
            state,
            handle: Mutex::new(Some(handle)),
        }
    }

    /// `true`: stop listening, so connections are refused (a host that is
    /// really down); `false`: listen again on the same port, same state.
    pub fn set_unreachable(&self, unreachable: bool) {
        let mut handle = self.handle.lock().unwrap_or_else(|e| e.into_inner());
        match (unreachable, handle.take()) {
            (true, Some(h)) => {
                // Wait for the listener to close, on a thread of its own
                // because the caller may be inside a tokio runtime.
                let done = std::thread::spawn(move || {
                    actix_web::rt::System::new().block_on(h.stop(false));
                });
                let _ = done.join();
            }
            (false, None) => {
                let mut tries = 0;
                let listener = loop {
                    match TcpListener::bind(self.addr) {
                        Ok(l) => break l,
                        Err(e) if tries < 50 => {
                            tries += 1;
                            let _ = e;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(e) => panic!("fake mastodon cannot listen again on {}: {e}", self.addr),
                    }
                };
                *handle = Some(serve(listener, self.state.clone()));
            }
            (_, h) => *handle = h,
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://{web_domain}` (reach it through `host_overrides()`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.st().config.web_domain)
    }

    /// `http://127.0.0.1:PORT`, for clients without a DNS override.
    pub fn ip_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `url` (one the fake handed out, by name) at the fake's loopback port,
    /// for clients without the DNS override.
    pub fn at_ip(&self, url: &url::Url) -> String {
        format!(
            "{}{}?{}",
            self.ip_url(),
            url.path(),
            url.query().unwrap_or("")
        )
    }

    pub fn web_domain(&self) -> String {
        self.st().config.web_domain.clone()
    }

    pub fn local_domain(&self) -> String {
        self.st().config.local_domain.clone()
    }

    pub fn profile(&self) -> Profile {
        self.st().config.profile
    }

    /// Name → 127.0.0.1:PORT for WEB_DOMAIN, LOCAL_DOMAIN and an echo domain.
    /// The overrides as the service's `upstream.host_overrides` takes them.
    pub fn override_map(&self) -> BTreeMap<String, String> {
        self.host_overrides()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    }

    pub fn host_overrides(&self) -> BTreeMap<String, SocketAddr> {
        let st = self.st();
        let mut m = BTreeMap::new();
        m.insert(st.config.web_domain.clone(), self.addr);
        m.insert(st.config.local_domain.clone(), self.addr);
        if let Some(echo) = &st.config.webfinger_echo {
            m.insert(echo.clone(), self.addr);
        }
        m
    }

    // ---- recorder ----

    /// Every recorded request, in arrival order.
    pub fn all_calls(&self) -> Vec<Call> {
        self.st().calls.clone()
    }

    /// Requests with this method and path (path without query).
    pub fn calls(&self, method: &str, path: &str) -> Vec<Call> {
        self.st()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method) && c.path == path)
            .cloned()
            .collect()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.calls(method, path).len()
    }

    pub fn last(&self, method: &str, path: &str) -> Option<Call> {
        self.calls(method, path).pop()
    }

    pub fn clear_calls(&self) {
        self.st().calls.clear();
    }

    // ---- knobs ----

    /// While down, every request gets 503 with an HTML body.
    pub fn set_down(&self, down: bool) {
        self.st().down = down;
    }

    /// Delay before every response.
    pub fn set_delay(&self, delay: Duration) {
        self.st().delay = delay;
    }

    /// API and OAuth endpoints answer 200 `text/html` garbage.
    pub fn set_html_garbage(&self, on: bool) {
        self.st().html_garbage = on;
    }

    /// Forgets every app (and its codes and tokens), as the 4.2 vacuum or an
    /// admin would: their client_ids become `invalid_client`.
    pub fn revoke_all_apps(&self) {
        let mut st = self.st();
        st.apps.clear();
        st.codes.clear();
        st.tokens.clear();
    }

    /// Forgets one app by client_id.
    pub fn delete_app(&self, client_id: &str) {
        let mut st = self.st();
        st.apps.retain(|a| a.client_id != client_id);
        st.codes.retain(|c| c.client_id != client_id);
        st.tokens.retain(|t| t.client_id != client_id);
    }

    /// `true`: every `POST /api/v1/apps` gets 429 until set back to `false`.
    pub fn set_apps_rate_limited(&self, limited: bool) {
        let mut st = self.st();
        st.apps_throttle.limit = if limited {
            Some(0)
        } else {
            st.config.apps_rate_limit
        };
        st.apps_throttle.reset();
    }

    /// Changes the app-registration throttle (per 10 minutes) and resets it.
    pub fn set_apps_rate_limit(&self, limit: Option<usize>) {
        let mut st = self.st();
        st.apps_throttle.limit = limit;
        st.apps_throttle.reset();
    }

    pub fn reset_apps_rate_limit(&self) {
        self.st().apps_throttle.reset();
    }

    /// Changes the sign-up throttle (per 30 minutes) and resets it.
    pub fn set_signup_rate_limit(&self, limit: Option<usize>) {
        let mut st = self.st();
        st.signup_throttle.limit = limit;
        st.signup_throttle.reset();
    }

    /// Answer `method path` with this response, `times` times (`None`:
    /// until `clear_forced`).
    pub fn force_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: &str,
        times: Option<usize>,
    ) {
        self.st().forced.insert(
            (method.to_ascii_uppercase(), path.to_owned()),
            Forced {
                status,
                content_type: content_type.to_owned(),
                body: body.to_owned(),
                remaining: times,
            },
        );
    }

    pub fn clear_forced(&self) {
        self.st().forced.clear();
    }

    pub fn set_login(&self, mode: LoginMode) {
        self.st().config.login = mode;
    }

    pub fn set_registrations(&self, r: Registrations) {
        self.st().config.registrations = r;
    }

    // ---- users and issued credentials ----

    pub fn add_user(&self, user: FakeUser) {
        self.st().users.push(user);
    }

    pub fn set_account_state(&self, username: &str, state: AccountState) {
        let mut st = self.st();
        if let Some(u) = st
            .users
            .iter_mut()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        {
            u.state = state;
        }
    }

    pub fn user(&self, username: &str) -> Option<FakeUser> {
        self.st().user_by_name(username).cloned()
    }

    /// Registered apps (what the server still knows).
    pub fn apps(&self) -> Vec<FakeApp> {
        self.st().apps.clone()
    }

    /// Revokes every issued access token (as if the user revoked the app).
    pub fn revoke_all_tokens(&self) {
        for t in &mut self.st().tokens {
            t.revoked = true;
        }
    }

    /// Every issued access token, revoked ones included.
    pub fn tokens(&self) -> Vec<FakeToken> {
        self.st().tokens.clone()
    }

    /// Registers an app directly (no request recorded); returns
    /// (client_id, client_secret). `redirect_uris` are joined with "\n".
    pub fn seed_app(&self, redirect_uris: &[&str], scopes: &str) -> (String, String) {
        let mut st = self.st();
        let app = model::App {
            id: st.new_id(),
            name: "Seeded".into(),
            website: None,
            redirect_uri: redirect_uris.join("\n"),
            scopes: model::split_scopes(scopes),
            client_id: model::random_token(),
            client_secret: model::random_token(),
            created_at: st.now(),
        };
        st.apps.push(app.clone());
        (app.client_id, app.client_secret)
    }

    /// Issues a user token for `username` on an app (no request recorded).
    pub fn seed_token(&self, client_id: &str, username: &str, scopes: &str) -> Option<String> {
        let mut st = self.st();
        st.app(client_id)?;
        let user_id = st.user_by_name(username)?.id.clone();
        let t = st.find_or_create_token(client_id, Some(&user_id), &model::split_scopes(scopes));
        Some(t.token)
    }

    /// One night of Mastodon 4.2.0–4.2.8 vacuuming (spec §1.5): drops
    /// revoked tokens and used or expired codes, then deletes apps older than
    /// 24 h with no tokens, no codes and no users signed up through them.
    pub fn run_vacuum(&self) {
        let mut st = self.st();
        let now = st.now();
        st.tokens.retain(|t| !t.revoked);
        st.codes.retain(|c| !c.used && now - c.created_at < 600);
        let keep: Vec<String> = st
            .apps
            .iter()
            .filter(|a| {
                now - a.created_at < 86_400
                    || st.tokens.iter().any(|t| t.client_id == a.client_id)
                    || st.codes.iter().any(|c| c.client_id == a.client_id)
                    || st.created_by.values().any(|c| *c == a.client_id)
            })
            .map(|a| a.client_id.clone())
            .collect();
        st.apps.retain(|a| keep.contains(&a.client_id));
    }

    /// A moderator approves a confirmed sign-up waiting for approval.
    pub fn approve(&self, username: &str) {
        let mut st = self.st();
        let Some(id) = st.user_by_name(username).map(|u| u.id.clone()) else {
            return;
        };
        st.needs_approval.insert(id.clone(), false);
        if let Some(u) = st.users.iter_mut().find(|u| u.id == id)
            && u.state == AccountState::Pending
        {
            u.state = AccountState::Active;
        }
    }

    /// Forgets a user (Mastodon's cleanup of unconfirmed accounts, or a
    /// moderator declining a sign-up): its tokens stop working.
    pub fn delete_user(&self, username: &str) {
        let mut st = self.st();
        let Some(id) = st.user_by_name(username).map(|u| u.id.clone()) else {
            return;
        };
        st.users.retain(|u| u.id != id);
        st.tokens
            .retain(|t| t.user_id.as_deref() != Some(id.as_str()));
        st.confirmations.retain(|_, (u, _)| *u != id);
    }

    /// The e-mailed confirmation link for a signed-up user.
    pub fn confirmation_link(&self, username: &str) -> Option<String> {
        accounts::confirmation_link(&self.st(), username)
    }
}

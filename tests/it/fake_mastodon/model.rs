//! The fake server's data: registered apps, users, codes and tokens, plus the
//! test knobs. Only handlers mutate it, always under the one state lock.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::FakeConfig;
use super::request::Call;
use super::throttle::Throttle;

/// Lifecycle state of a user, each mapped to Mastodon's 403 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Suspended,
    Disabled,
    Moved,
    Unconfirmed,
    /// Confirmed e-mail, waiting for moderator approval.
    Pending,
}

/// A local user of the fake server.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// Absolute avatar URL; `None` → Mastodon's `missing.png`.
    pub avatar: Option<String>,
    pub bot: bool,
    pub locked: bool,
    /// `role.name` (empty for a plain user, as Mastodon's `-99` role).
    pub role: String,
    pub state: AccountState,
    /// For the HTML login form and the password grant.
    pub password: String,
    pub email: String,
}

impl FakeUser {
    /// An active user with password `password` and e-mail `NAME@example.net`.
    pub fn new(id: &str, username: &str) -> Self {
        FakeUser {
            id: id.to_owned(),
            username: username.to_owned(),
            display_name: capitalise(username),
            avatar: None,
            bot: false,
            locked: false,
            role: String::new(),
            state: AccountState::Active,
            password: "password".to_owned(),
            email: format!("{username}@example.net"),
        }
    }

    pub fn with_state(mut self, state: AccountState) -> Self {
        self.state = state;
        self
    }

    pub fn with_role(mut self, role: &str) -> Self {
        self.role = role.to_owned();
        self
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    /// Raw stored string, URIs separated by whitespace (4.3+ joins by "\n").
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
    pub created_at: i64,
}

impl App {
    pub fn redirect_uris(&self) -> Vec<String> {
        self.redirect_uri
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub token: String,
    pub client_id: String,
    /// `None` for client_credentials (app) tokens.
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// S256 challenge, only stored where the profile supports PKCE.
    pub challenge: Option<String>,
    pub created_at: i64,
    pub used: bool,
}

/// A response forced by a test for one method and path.
#[derive(Debug, Clone)]
pub struct Forced {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// How many more requests get it; `None` = until cleared.
    pub remaining: Option<usize>,
}

/// Everything behind the state lock.
pub struct State {
    pub config: FakeConfig,
    pub users: Vec<FakeUser>,
    pub apps: Vec<App>,
    pub tokens: Vec<Token>,
    pub codes: Vec<Code>,
    pub calls: Vec<Call>,
    /// `POST /api/v1/apps`: 5 / 10 min.
    pub apps_throttle: Throttle,
    /// `POST /api/v1/accounts`: 5 / 30 min.
    pub signup_throttle: Throttle,
    /// Sign-ups: confirmation token → (user id, app client_id).
    pub confirmations: HashMap<String, (String, String)>,
    /// The app each signed-up user was created by.
    pub created_by: HashMap<String, String>,
    /// Whether a signed-up user becomes Pending (not Active) on confirming.
    pub needs_approval: HashMap<String, bool>,
    pub next_id: u64,
    pub next_seq: u64,
    pub down: bool,
    pub delay: Duration,
    pub html_garbage: bool,
    pub forced: HashMap<(String, String), Forced>,
}

impl State {
    pub fn new(config: FakeConfig) -> Self {
        State {
            users: config.users.clone(),
            apps_throttle: Throttle::new(config.apps_rate_limit, 600),
            signup_throttle: Throttle::new(config.signup_rate_limit, 1800),
            config,
            apps: Vec::new(),
            tokens: Vec::new(),
            codes: Vec::new(),
            calls: Vec::new(),
            confirmations: HashMap::new(),
            created_by: HashMap::new(),
            needs_approval: HashMap::new(),
            next_id: 1,
            next_seq: 0,
            down: false,
            delay: Duration::ZERO,
            html_garbage: false,
            forced: HashMap::new(),
        }
    }

    pub fn now(&self) -> i64 {
        self.config.clock.now()
    }

    /// A fresh numeric id (apps) or ULID-looking id (GoToSocial).
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        if self.config.profile.is_mastodon() {
            format!("{}", 563_400 + self.next_id)
        } else {
            format!("01J{:023}", self.next_id)
        }
    }

    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    pub fn user(&self, id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_by_name(&self, username: &str) -> Option<&FakeUser> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    pub fn token(&self, token: &str) -> Option<&Token> {
        self.tokens.iter().find(|t| t.token == token)
    }

    /// Doorkeeper's `reuse_access_token`: same app, owner and scope set
    /// gets the same unrevoked token back.
    pub fn find_or_create_token(
        &mut self,
        client_id: &str,
        user_id: Option<&str>,
        scopes: &[String],
    ) -> Token {
        let same = |t: &Token| {
            !t.revoked
                && t.client_id == client_id
                && t.user_id.as_deref() == user_id
                && same_set(&t.scopes, scopes)
        };
        if let Some(t) = self.tokens.iter().find(|t| same(t)) {
            return t.clone();
        }
        let t = Token {
            token: random_token(),
            client_id: client_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            scopes: scopes.to_vec(),
            created_at: self.now(),
            revoked: false,
        };
        self.tokens.push(t.clone());
        t
    }
}

pub fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// 32 random bytes as 43 URL-safe base64 characters, like Doorkeeper.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Scope string → de-duplicated list, split on ASCII whitespace only, as
/// Doorkeeper's `Scopes.from_string` (Ruby's `split`): a literal `+` is
/// part of a scope.
pub fn split_scopes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let ruby_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    for p in s.split(ruby_space).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    }
    out
}

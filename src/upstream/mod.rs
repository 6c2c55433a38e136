//! The seam between the OpenID provider side (`oidc/`) and the identity source
//! (`mastodon/`). The provider only ever sees a verified [`Identity`]; the
//! upstream never sees an OIDC request and never touches provider tables.
//! Sign-up (`prompt=create`) crosses the same seam with the types in [`signup`].

pub mod signup;

use async_trait::async_trait;
use url::Url;

pub use signup::{
    FieldProblem, NewAccount, Problem, Registrations, Resent, ServerRule, SignedUp, SignupError,
    SignupField, SignupRules, SignupStatus,
};

/// What the person typed and what the relying party demanded of the login.
#[derive(Debug, Clone, Default)]
pub struct LoginInput {
    /// Raw text: a handle, a profile URL or a server name.
    pub typed: String,
    /// `prompt=login` or an exceeded `max_age`: the upstream must re-authenticate.
    pub force_login: bool,
    /// Preferred UI language for the upstream pages (from `ui_locales`).
    pub locale: Option<String>,
}

/// Where to send the browser next.
#[derive(Debug, Clone)]
pub struct Begin {
    /// The upstream authorization URL.
    pub redirect_to: Url,
    /// Canonical API host of the upstream server (the callback is bound to it).
    pub server_host: String,
    /// Opaque data the provider stores with the flow and hands back to `complete`
    /// (PKCE verifier, scope). The provider seals it; it never reads it.
    pub stored: Vec<u8>,
}

/// The query of the upstream's redirect back to `/callback/{host}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A verified upstream account. Built only from what the server that
/// authenticated the person returned with the token we obtained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// API host that authenticated the account (e.g. `mastodon.example`).
    pub server_host: String,
    /// The server's account id (a string; usually a snowflake).
    pub account_id: String,
    pub username: String,
    /// `username@domain`, with the canonical WebFinger (LOCAL_DOMAIN) domain.
    pub handle: String,
    pub actor_uri: Option<String>,
    pub display_name: Option<String>,
    pub avatar: Option<String>,
    pub profile_url: Option<String>,
    pub locale: Option<String>,
    pub bot: bool,
    pub locked: bool,
    /// RFC 3339 creation time as the server reports it.
    pub created_at: Option<String>,
    pub role: Option<String>,
}

/// A finished login: the account, and the upstream's access token sealed by
/// the upstream when configured to keep it (opaque to the provider, which
/// stores it with the account for later re-verification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub identity: Identity,
    pub sealed_token: Option<Vec<u8>>,
}

/// Why an account may not log in although the credentials were valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRefusal {
    Suspended,
    Disabled,
    Moved,
    Unconfirmed,
    PendingApproval,
    /// The server no longer knows the account (deleted, or a sign-up that was
    /// rejected or never confirmed) or no longer accepts its token.
    Gone,
}

/// Upstream failures, each mapped once to a page for people and an OAuth error
/// for relying parties. Details go to the log only; no upstream body is echoed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// What the person typed is not a handle or server; the message says why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No such account or no fediverse server at that name.
    #[error("not found: {0}")]
    NotFound(String),
    /// The server could not be reached in time, or answered with garbage.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The server refused us for too many requests; try again after this many seconds.
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// The person declined on the server's consent page.
    #[error("access denied by the person")]
    Denied,
    /// The account exists but may not log in.
    #[error("account refused: {0:?}")]
    AccountRefused(AccountRefusal),
    /// The callback does not belong to a flow we started (state or host mismatch).
    #[error("invalid callback: {0}")]
    InvalidCallback(String),
    /// The server is blocked by policy or by the outbound address filter.
    #[error("server not allowed: {0}")]
    NotAllowed(String),
    /// Our database did not answer (retryable; a 503, not our bug).
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// Our own fault (storage, crypto).
    #[error("internal: {0}")]
    Internal(String),
}

/// The identity source. One implementation talks to Mastodon; tests of the
/// provider side may use a static one.
#[async_trait(?Send)]
pub trait Upstream {
    /// Resolve the input, make sure we have an app on that server, and return
    /// where to send the browser. `state` is opaque and must come back unchanged.
    async fn begin(&self, input: &LoginInput, state: &str) -> Result<Begin, UpstreamError>;

    /// Exchange the code from the callback at `/callback/{server_host}` and
    /// return the verified account.
    async fn complete(
        &self,
        server_host: &str,
        stored: &[u8],
        query: &CallbackQuery,
    ) -> Result<Verified, UpstreamError>;

    /// What the server typed as `server` (a name or URL) asks of newcomers.
    async fn signup_rules(&self, server: &str) -> Result<SignupRules, UpstreamError> {
        let _ = server;
        Err(no_signup())
    }

    /// Create the account on `server_host` (from [`SignupRules::server_host`]).
    async fn sign_up(
        &self,
        server_host: &str,
        account: &NewAccount,
    ) -> Result<SignedUp, SignupError> {
        let _ = (server_host, account);
        Err(no_signup().into())
    }

    /// Where the sign-up stands; `stored` is [`SignedUp::stored`].
    async fn signup_status(
        &self,
        server_host: &str,
        stored: &[u8],
    ) -> Result<SignupStatus, UpstreamError> {
        let _ = (server_host, stored);
        Err(no_signup())
    }

    /// Ask the server to send the confirmation e-mail again.
    async fn resend_confirmation(
        &self,
        server_host: &str,
        stored: &[u8],
    ) -> Result<Resent, UpstreamError> {
        let _ = (server_host, stored);
        Err(no_signup())
    }

    /// The sign-up finished as a login: release what `stored` holds (best effort).
    async fn end_signup(&self, server_host: &str, stored: &[u8]) {
        let _ = (server_host, stored);
    }
}

/// What an upstream without sign-up answers.
fn no_signup() -> UpstreamError {
    UpstreamError::NotAllowed("Sign-up is not available here.".into())
}

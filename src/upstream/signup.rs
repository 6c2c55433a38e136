//! Sign-up through the seam (OpenID Connect `prompt=create`): what a server
//! asks of newcomers, the new account's details, and where a pending
//! sign-up stands. Neutral types: the provider renders them, the upstream
//! fills them; neither learns the other's protocol.

use serde::{Deserialize, Serialize};

use super::{UpstreamError, Verified};
use crate::config::Secret;

/// Whether a server takes sign-ups from apps like this service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Registrations {
    Open,
    /// Closed; the server's own words (plain text) and its own sign-up page, if any.
    Closed {
        message: Option<String>,
        url: Option<String>,
    },
    /// The server software has no sign-up API for apps.
    Unsupported,
}

/// One of the server's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRule {
    pub text: String,
    pub hint: Option<String>,
}

/// What a server asks of people who sign up there. Text only: the upstream
/// turns any HTML into plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupRules {
    /// Canonical API host; the sign-up and its confirmation are bound to it.
    pub server_host: String,
    /// The domain of handles there (`@name@domain`).
    pub domain: String,
    pub title: Option<String>,
    pub registrations: Registrations,
    /// Moderators review every sign-up before the account can be used.
    pub approval_required: bool,
    /// A reason for joining must be given (with approval).
    pub reason_required: bool,
    /// Minimum age in years; the date of birth is then required.
    pub min_age: Option<u32>,
    pub rules: Vec<ServerRule>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    pub about_url: Option<String>,
    /// Languages the server offers (language tags), most relevant first.
    pub locales: Vec<String>,
}

/// What the person typed into the sign-up form. The password never leaves
/// this value except toward the server (redacted in `Debug` and serde).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password: Secret,
    pub agreement: bool,
    pub locale: Option<String>,
    pub reason: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
}

/// A sign-up the server accepted: the account exists but is not usable yet.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub server_host: String,
    /// Opaque data for the status and resend calls. It holds the new
    /// account's access token: the provider seals it at rest.
    pub stored: Vec<u8>,
}

/// The form fields a server can object to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignupField {
    Username,
    Email,
    Password,
    Agreement,
    Locale,
    Reason,
    DateOfBirth,
    /// Not tied to one field (or a field the form does not have).
    Form,
}

/// What is wrong with a field, independent of the server's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    Blank,
    Invalid,
    Taken,
    Reserved,
    /// With the minimum length when the server said it.
    TooShort(Option<u32>),
    /// With the maximum length when the server said it.
    TooLong(Option<u32>),
    /// The e-mail provider is not allowed there.
    Blocked,
    /// The e-mail domain cannot receive mail.
    Unreachable,
    /// Must be accepted (the agreement).
    NotAccepted,
    BelowAgeLimit,
    /// Not one of the allowed values.
    NotIncluded,
    /// Something the server said that we do not know.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: SignupField,
    pub problem: Problem,
}

/// Why a sign-up was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// The server objected to some fields; nothing was created.
    #[error("sign-up rejected: {0:?}")]
    Rejected(Vec<FieldProblem>),
    /// Registrations are closed (or closed to this service).
    #[error("registrations are closed")]
    Closed,
    /// The server limits sign-ups from this service; try again after this many seconds.
    #[error("sign-ups rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Failed(#[from] UpstreamError),
}

/// Where a pending sign-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupStatus {
    /// The e-mail address is not confirmed yet.
    AwaitingConfirmation,
    /// Confirmed; moderators have not approved the account yet.
    AwaitingApproval,
    /// The account can be used: here it is.
    Active(Box<Verified>),
}

/// The answer to "send the confirmation e-mail again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    Sent,
    /// Nothing to send: the address is confirmed already.
    AlreadyConfirmed,
}

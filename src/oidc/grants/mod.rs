//! One file per grant type behind the token endpoint's dispatcher
//! (`token.rs`), which has already authenticated the client. Both grants end
//! in [`issue::issue`], inside the same transaction that spent the code or
//! refresh token: one durable commit per token response.

pub mod authorization_code;
pub mod issue;
pub mod refresh_token;

use std::sync::Arc;

use crate::config::TokenConfig;
use crate::keys::KeyRing;

/// `invalid_grant` with a reason (RFC 6749 §5.2).
pub(crate) fn invalid_grant(why: &str) -> crate::oidc::error::OAuthError {
    crate::oidc::error::OAuthError::new(crate::oidc::error::ErrorCode::InvalidGrant, why)
}

/// What issuing tokens needs, cloned into the blocking database task.
#[derive(Clone)]
pub struct Issuer {
    pub issuer: String,
    pub keys: Arc<KeyRing>,
    /// For pairwise subjects.
    pub sealer: Arc<crate::crypto::Sealer>,
    pub ttl: TokenConfig,
}

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

/// What issuing tokens needs, cloned into the blocking database task.
#[derive(Clone)]
pub struct Issuer {
    pub issuer: String,
    pub keys: Arc<KeyRing>,
    pub ttl: TokenConfig,
}

//! The provider side toward relying parties: the conformance modules
//! (`conformance/`), the security checklist (`security`, `headers`), and
//! authorize, callback, token, userinfo, revocation and logout on their own.

mod access_tokens;
mod callback_failures;
mod conformance;
mod flow;
mod handles;
mod headers;
mod logout;
pub mod mastodon;
mod pairwise;
mod replicas;
mod resources;
mod security;
pub mod seed;
mod token;

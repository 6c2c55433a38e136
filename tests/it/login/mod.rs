//! The provider side toward relying parties: token endpoint, and (as the
//! login flow grows) authorize, callback, userinfo, revocation and logout.

mod callback_failures;
mod flow;
mod handles;
mod logout;
pub mod mastodon;
mod pairwise;
mod replicas;
mod resources;
pub mod seed;
mod token;

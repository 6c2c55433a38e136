//! The provider side toward relying parties: token endpoint, and (as the
//! login flow grows) authorize, callback, userinfo, revocation and logout.

mod conformance;
mod flow;
mod headers;
mod logout;
pub mod mastodon;
mod pairwise;
mod replicas;
mod resources;
pub mod seed;
mod token;

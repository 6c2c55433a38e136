//! The provider side toward relying parties: token endpoint, and (as the
//! login flow grows) authorize, callback, userinfo, revocation and logout.

mod flow;
mod logout;
mod mastodon;
mod replicas;
mod resources;
mod seed;
mod token;

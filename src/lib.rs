//! mastodon-oidc: an OpenID Connect provider that logs people in with their
//! Mastodon account. `app` holds the route table; `oidc` the provider side;
//! `mastodon` the upstream side behind the `upstream` seam; `store` the
//! database; `keys` the signing keys; `cli` the operator commands.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod housekeeping;
pub mod http;
pub mod keys;
pub mod mastodon;
pub mod metrics;
pub mod oidc;
pub mod ratelimit;
pub mod store;
pub mod upstream;
pub mod web;

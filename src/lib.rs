//! mastodon-oidc: an OpenID Connect provider that logs people in with their
//! Mastodon account. See `ARCHITECTURE` in the README for the module map.

pub mod upstream;

//! The Mastodon implementation of [`crate::upstream::Upstream`]. Never speaks
//! OIDC. `discover` turns what a person typed into a server and learns its
//! capabilities; `apps` registers our app once per server; `oauth` runs the
//! server's code flow; `account` turns `verify_credentials` into an Identity.
//!
//! SKELETON: being written.

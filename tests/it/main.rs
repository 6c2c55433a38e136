//! The one integration-test binary: every module runs against real HTTP on
//! loopback and, where storage matters, on both SQLite and PostgreSQL.

mod browser;
#[allow(dead_code)]
mod fake_mastodon;
mod foundation;
mod login;
mod outbound;
mod production;
mod signup;
mod support;
mod upstream;

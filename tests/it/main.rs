//! The one integration-test binary: every module runs against real HTTP on
//! loopback and, where storage matters, on both SQLite and PostgreSQL.

mod foundation;
mod support;

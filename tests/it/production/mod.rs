//! Running it for real: abuse limits, metrics, failing servers and
//! databases, shutdown and restarts, and the relying-party guides.

mod database_down;
mod guides;
mod home;
mod lifecycle;
mod limits;
mod observability;
mod servers_cli;
mod upstream_down;
mod upstream_tokens;

//! Running it for real: abuse limits, metrics, failing servers and
//! databases, shutdown and restarts, and the relying-party guides.

mod limits;
mod upstream_down;

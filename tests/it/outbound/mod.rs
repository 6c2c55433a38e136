//! The SSRF-safe outbound client against loopback test servers. `server`
//! is a raw TCP/HTTP server on 127.0.0.1:0 that records connections and
//! request heads, so tests can prove a refused request never connected.

mod guard;
mod limits;
mod proxy;
mod routing;
mod server;

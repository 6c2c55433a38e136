//! The SSRF-safe outbound client against loopback test servers.

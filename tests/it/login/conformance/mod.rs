//! The OpenID Foundation conformance modules that apply to a code-flow
//! provider (checklist section 2a), one test each, named after the module
//! (`oidcc-server` → `oidcc_server`). `openidconnect` is the relying party:
//! discovery, the authorization URL, the code exchange and ID-token
//! verification; the browser leg goes through the handle page and the fake
//! Mastodon. Modules covered elsewhere: `login::token` (codereuse,
//! refresh-token), `login::resources` (userinfo, codereuse-30seconds),
//! `login::flow` (prompt-none, registered redirect URI, POST request),
//! `login::logout` (RP-initiated logout).

mod basic;
mod discovery;
mod form_post;
mod params;
mod prompt;
pub mod suite;

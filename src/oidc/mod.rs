//! The provider side, toward relying parties. It never speaks Mastodon: it
//! hands what the person typed to `upstream::Upstream` and gets back a
//! verified `Identity`.
//!
//! The flow in ten lines:
//! 1. `/authorize` parses and validates the request (client, exact redirect URI, PKCE).
//! 2. An SSO session may answer at once; otherwise the handle page asks who you are.
//! 3. The upstream resolves the server, and the browser goes to its OAuth page.
//! 4. `/callback/{host}` resumes the stored request with the upstream's Identity
//!    (or a confirmed sign-up, `prompt=create`, resumes its own).
//! 5. The account is upserted, a session started, a single-use code issued.
//! 6. `/token` authenticates the client and redeems the code (or a refresh token).
//! 7. It returns an ID token signed by `keys`, an access token and maybe a refresh token.
//! 8. `/userinfo`, `/revoke`, `/introspect` and `/logout` work on what was issued.
//! 9. Every error is a value rendered once: JSON or a redirect for clients, a page for people.
//! 10. Discovery and JWKS describe exactly this.

pub mod access_token;
pub mod authorize;
pub mod callback;
pub mod claims;
pub mod client_auth;
pub mod clients;
pub mod code;
pub mod complete;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod hint;
pub mod id_token;
pub mod introspect;
pub mod jwks;
pub mod logout;
pub mod pending;
pub mod pkce;
pub mod respond;
pub mod revoke;
pub mod session;
pub mod token;
pub mod userinfo;

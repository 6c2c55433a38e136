//! Sign-up through the bridge: OpenID Connect `prompt=create`, or "Create an
//! account" on the handle page. The pages, in order:
//! 1. `choose` (`POST /signup`): which server? Its rules come through the
//!    seam; closed servers are explained, with their own sign-up page.
//! 2. `form` (the rules and the form, `POST /signup/account`): obvious gaps
//!    are caught here, then the upstream creates the account; every problem
//!    the server names is shown beside its field, typed values kept (never
//!    the password).
//! 3. The pending sign-up is stored (`store::signups`: the request, the
//!    upstream's data sealed), keyed by the `signup` cookie; `pending` says
//!    "check your e-mail" and can resend the link.
//! 4. `landing`: the confirmation link arrives at `/callback/{host}` with no
//!    query; once the account is active the original authorization request
//!    is completed, and the person arrives at the relying party logged in.
//!
//! Flow forms carry the sealed pending login and are bound to the flow
//! cookie, as on the handle page; the pending pages' forms carry a token
//! derived from the sign-up cookie. The password is never logged or stored.

pub mod choose;
pub mod form;
pub mod landing;
pub mod locales;
pub mod messages;
pub mod pending;

use crate::app::AppState;
use crate::oidc::clients::Client;

/// Sealing purpose of the upstream data kept with a pending sign-up.
pub const UPSTREAM_SEAL: &str = "signup-upstream";

/// Is sign-up offered to this client's users at all?
pub fn offered(state: &AppState, client: &Client) -> bool {
    state.config.upstream.signup_enabled && client.settings.signup
}

/// May this client's users sign up on `host`?
pub fn offered_on(state: &AppState, client: &Client, host: &str) -> bool {
    offered(state, client)
        && state.config.upstream.signup_allowed(host)
        && client.allows_server(host)
}

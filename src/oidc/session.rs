//! The bridge's own browser session (single sign-on) and the flow cookie
//! that binds a pending login to the browser that started it. Cookies are
//! `__Host-`, Secure, HttpOnly, SameSite=Lax; on a plain-http development
//! issuer browsers refuse `__Host-`/Secure, so the names lose the prefix there.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::crypto::sha256_b64url;
use crate::store::{self, AnyConnection, StoreResult, sessions::SessionRow};

/// Cookie names and attributes for one issuer.
#[derive(Debug, Clone)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            secure: issuer.starts_with("https://"),
        }
    }

    fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            format!("mo-{base}")
        }
    }

    /// A cookie for the whole site; `max_age_secs` None is a browser-session cookie.
    pub fn make(&self, base: &str, value: String, max_age_secs: Option<i64>) -> Cookie<'static> {
        let mut c = Cookie::build(self.name(base), value)
            .path("/")
            .secure(self.secure)
            .http_only(true)
            .same_site(SameSite::Lax)
            .finish();
        if let Some(s) = max_age_secs {
            c.set_max_age(Duration::seconds(s));
        }
        c
    }

    pub fn removal(&self, base: &str) -> Cookie<'static> {
        let mut c = self.make(base, String::new(), None);
        c.make_removal();
        c
    }

    pub fn read(&self, req: &HttpRequest, base: &str) -> Option<String> {
        req.cookie(&self.name(base)).map(|c| c.value().to_string())
    }
}

pub const SESSION: &str = "session";
/// Binds a pending authorization to this browser (CSRF and login-CSRF defence).
pub const FLOW: &str = "flow";
/// The last server this browser logged in with (a convenience, not a secret).
pub const LAST_SERVER: &str = "last-server";
/// A sign-up waiting for its confirmation: a random value whose hash keys the
/// `signups` row, so only this browser can finish the login it started.
pub const SIGNUP: &str = "signup";

/// The live session a cookie value points to.
pub fn live(conn: &mut AnyConnection, cookie: &str, now: i64) -> StoreResult<Option<SessionRow>> {
    store::sessions::get_live(conn, &sha256_b64url(cookie.as_bytes()), now)
}

/// Row id for a new session cookie value.
pub fn row_id(cookie: &str) -> String {
    sha256_b64url(cookie.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_issuers_get_host_prefixed_secure_cookies() {
        let c = Cookies::for_issuer("https://login.example").make(SESSION, "v".into(), Some(60));
        assert_eq!(c.name(), "__Host-session");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert_eq!(c.path(), Some("/"));
        assert!(c.domain().is_none(), "__Host- forbids Domain");
        let d = Cookies::for_issuer("http://127.0.0.1:8080").make(SESSION, "v".into(), None);
        assert_eq!(d.name(), "mo-session");
        assert_eq!(d.secure(), Some(false));
    }
}

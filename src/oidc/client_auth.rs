//! Client authentication at the token, revocation and introspection
//! endpoints: `client_secret_basic`, `client_secret_post`, and `none` for
//! public clients. Exactly one method per request (RFC 6749 §2.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};

/// Credentials as presented, before the client is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    /// Whether they came in an `Authorization: Basic` header.
    pub basic: bool,
}

/// Read the credentials from the `Authorization` header and the form.
pub fn presented(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    if let Some(header) = authorization {
        let Some(b64) = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
        else {
            return Err(invalid_client("unsupported Authorization scheme"));
        };
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method",
            ));
        }
        let raw = STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = raw
            .split_once(':')
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        let id = form_decode(id).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let secret =
            form_decode(secret).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        if form_client_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            basic: true,
        });
    }
    let id = form_client_id.ok_or_else(|| invalid_client("client authentication is required"))?;
    Ok(Presented {
        client_id: id.to_string(),
        secret: form_secret.map(str::to_string),
        basic: false,
    })
}

/// Check presented credentials against the registered client.
pub fn verify(client: Option<Client>, p: &Presented) -> Result<Client, OAuthError> {
    let client = client.ok_or_else(|| invalid_client("unknown client"))?;
    match (&p.secret, client.public) {
        (Some(s), false) if client.secret_matches(s) => Ok(client),
        (None, true) => Ok(client),
        (Some(_), true) => Err(invalid_client("a public client has no secret")),
        _ => Err(invalid_client("client authentication failed")),
    }
}

fn invalid_client(why: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

fn form_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256;
    use crate::oidc::clients::ClientSettings;

    fn client(public: bool) -> Client {
        Client {
            id: "rp".into(),
            name: "RP".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            secret_hash: (!public).then(|| sha256(b"s3cret:+/")),
            public,
            scopes: vec![],
            settings: ClientSettings::default(),
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("rp:s3cret%3A%2B%2F"));
        let p = presented(Some(&header), None, None).unwrap();
        assert_eq!(p.secret.as_deref(), Some("s3cret:+/"));
        assert!(p.basic);
        assert_eq!(verify(Some(client(false)), &p).unwrap().id, "rp");
    }

    #[test]
    fn wrong_or_mixed_credentials_fail() {
        let bad = presented(None, Some("rp"), Some("nope")).unwrap();
        assert_eq!(
            verify(Some(client(false)), &bad).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        let none = presented(None, Some("rp"), None).unwrap();
        assert_eq!(
            verify(Some(client(false)), &none).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            verify(None, &none).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert!(verify(Some(client(true)), &none).is_ok());
        let header = format!("Basic {}", STANDARD.encode("rp:x"));
        assert_eq!(
            presented(Some(&header), None, Some("x")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            presented(Some("Bearer abc"), None, None).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            presented(None, None, None).unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            presented(Some("Basic !!!"), None, None).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }
}

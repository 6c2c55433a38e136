//! OAuth 2.0 / OpenID Connect protocol errors as values (RFC 6749 §4.1.2.1 and
//! §5.2, OIDC Core §3.1.2.6, RFC 6750 §3.1). Rendered in one place each: as a
//! redirect, a JSON body or a `WWW-Authenticate` challenge. Causes go to the
//! log; a description never carries upstream text.

use std::fmt;

/// Every error code this provider can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    UnauthorizedClient,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    InteractionRequired,
    LoginRequired,
    ConsentRequired,
    AccountSelectionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidToken,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        Self::InvalidRequest,
        Self::UnauthorizedClient,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::InvalidScope,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::InteractionRequired,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::AccountSelectionRequired,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnsupportedGrantType,
        Self::InvalidToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
        }
    }

    /// HTTP status at the token, revocation and introspection endpoints (RFC 6749 §5.2).
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A protocol error with an optional human description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    description: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(sanitize(&description.into())),
        }
    }

    pub fn bare(code: ErrorCode) -> Self {
        Self {
            code,
            description: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The JSON body of RFC 6749 §5.2.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "error": self.code.as_str() });
        if let Some(d) = &self.description {
            v["error_description"] = d.clone().into();
        }
        v
    }

    /// Parameters of an error redirect: `error`, `error_description`, `state`
    /// and `iss` (RFC 9207), in that order.
    pub fn redirect_params(&self, state: Option<&str>, iss: &str) -> Vec<(&'static str, String)> {
        let mut p = vec![("error", self.code.as_str().to_string())];
        if let Some(d) = &self.description {
            p.push(("error_description", d.clone()));
        }
        if let Some(s) = state {
            p.push(("state", s.to_string()));
        }
        p.push(("iss", iss.to_string()));
        p
    }

    /// `WWW-Authenticate` for protected resources (RFC 6750 §3).
    pub fn bearer_challenge(&self) -> String {
        match &self.description {
            Some(d) => format!(
                "Bearer error=\"{}\", error_description=\"{d}\"",
                self.code.as_str()
            ),
            None => format!("Bearer error=\"{}\"", self.code.as_str()),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.code.as_str()),
            None => f.write_str(self.code.as_str()),
        }
    }
}

impl std::error::Error for OAuthError {}

/// RFC 6749 allows only %x20-21 / %x23-5B / %x5D-7E in `error_description`
/// (no quote, no backslash, no CR/LF/TAB, which the conformance suite checks).
fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => ' ',
        })
        .collect();
    cleaned.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_only_allowed_characters() {
        let e = OAuthError::invalid_request("bad\r\n\t\"value\" \\ é");
        let d = e.description().unwrap();
        assert!(
            d.chars()
                .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
        );
        assert_eq!(d, "bad   'value' /  ");
    }

    #[test]
    fn codes_are_distinct_and_snake_case() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }

    #[test]
    fn renders_json_redirect_and_challenge() {
        let e = OAuthError::new(ErrorCode::InvalidGrant, "code already used");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": "invalid_grant", "error_description": "code already used"})
        );
        assert_eq!(e.code.status(), 400);
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        let p =
            OAuthError::bare(ErrorCode::LoginRequired).redirect_params(Some("xyz"), "https://i");
        assert_eq!(
            p,
            vec![
                ("error", "login_required".to_string()),
                ("state", "xyz".to_string()),
                ("iss", "https://i".to_string())
            ]
        );
        assert_eq!(
            OAuthError::bare(ErrorCode::InvalidToken).bearer_challenge(),
            "Bearer error=\"invalid_token\""
        );
    }
}

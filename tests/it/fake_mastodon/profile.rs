//! Server versions the fake can imitate, and every behaviour that differs
//! between them (spec §0–§7). Handlers ask the profile; they never match on
//! version numbers themselves.

/// Which server the fake pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Mastodon 4.2 (Doorkeeper 5.6.6): no PKCE, no RFC 8414, scalar params.
    Mastodon42,
    /// Mastodon 4.3: PKCE, RFC 8414 metadata, `profile` scope, array params.
    Mastodon43,
    /// Mastodon 4.4 and later: `/oauth/userinfo`, no password grant,
    /// `client_secret_expires_at`, sign-up only with an app token.
    Mastodon44,
    /// GoToSocial ~0.20 (spec §7).
    GoToSocial,
}

const GRANULAR: &[&str] = &[
    "write",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "follow",
    "push",
    "admin:read",
    "admin:read:accounts",
    "admin:read:reports",
    "admin:read:domain_allows",
    "admin:read:domain_blocks",
    "admin:read:ip_blocks",
    "admin:read:email_domain_blocks",
    "admin:read:canonical_email_blocks",
    "admin:write",
    "admin:write:accounts",
    "admin:write:reports",
    "admin:write:domain_allows",
    "admin:write:domain_blocks",
    "admin:write:ip_blocks",
    "admin:write:email_domain_blocks",
    "admin:write:canonical_email_blocks",
];

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Mastodon42,
        Profile::Mastodon43,
        Profile::Mastodon44,
        Profile::GoToSocial,
    ];

    pub fn is_mastodon(self) -> bool {
        !matches!(self, Profile::GoToSocial)
    }

    /// Mastodon 4.3+ (Doorkeeper ≥ 5.7).
    pub fn at_least_43(self) -> bool {
        matches!(self, Profile::Mastodon43 | Profile::Mastodon44)
    }

    /// The configured scope list in Doorkeeper order (`read` first, then
    /// `profile` from 4.3), which is also `scopes_supported`.
    pub fn scopes(self) -> Vec<&'static str> {
        let mut all = vec!["read"];
        if self != Profile::Mastodon42 {
            all.push("profile");
        }
        all.extend_from_slice(GRANULAR);
        if self == Profile::Mastodon42 {
            all.push("crypto");
        }
        all
    }

    /// Whether the app-registration endpoint validates scope names.
    pub fn validates_app_scopes(self) -> bool {
        self.is_mastodon()
    }

    /// Array `redirect_uris` are kept (4.3+ joins them with "\n"); 4.2 drops
    /// them; GoToSocial refuses them with 400.
    pub fn accepts_array_redirect_uris(self) -> bool {
        self.at_least_43()
    }

    /// PKCE S256 is stored and checked (4.3+). Elsewhere it is ignored.
    pub fn supports_pkce(self) -> bool {
        self.at_least_43()
    }

    pub fn has_oauth_metadata(self) -> bool {
        self.at_least_43()
    }

    pub fn has_userinfo(self) -> bool {
        self == Profile::Mastodon44
    }

    /// Token endpoint accepts HTTP Basic client auth (GoToSocial does not).
    pub fn token_accepts_basic(self) -> bool {
        self.is_mastodon()
    }

    /// Scopes that may call `verify_credentials`.
    pub fn verify_credentials_scopes(self) -> &'static [&'static str] {
        match self {
            Profile::Mastodon42 => &["read", "read:accounts"],
            _ => &["profile", "read", "read:accounts"],
        }
    }

    /// Pre-authorization error pages: Doorkeeper 5.6.6 answers 200.
    pub fn authorize_error_status(self, error: &str) -> u16 {
        match self {
            Profile::Mastodon42 => 200,
            _ if error == "invalid_client" => 401,
            _ => 400,
        }
    }

    /// `grant_types_supported` and the grants the token endpoint accepts.
    pub fn grant_types(self) -> &'static [&'static str] {
        match self {
            Profile::Mastodon42 | Profile::Mastodon43 => {
                &["authorization_code", "password", "client_credentials"]
            }
            _ => &["authorization_code", "client_credentials"],
        }
    }

    /// Software name and version for NodeInfo and the instance API.
    pub fn software(self) -> (&'static str, &'static str) {
        match self {
            Profile::Mastodon42 => ("mastodon", "4.2.10"),
            Profile::Mastodon43 => ("mastodon", "4.3.0"),
            Profile::Mastodon44 => ("mastodon", "4.4.0"),
            Profile::GoToSocial => ("gotosocial", "0.20.0"),
        }
    }

    /// `api_versions.mastodon` in `/api/v2/instance` (absent before 4.3).
    pub fn api_version(self) -> Option<u32> {
        match self {
            Profile::Mastodon43 => Some(2),
            Profile::Mastodon44 => Some(6),
            _ => None,
        }
    }

    /// Sign-up needs an app (client_credentials) token, not a user token.
    pub fn signup_requires_app_token(self) -> bool {
        matches!(self, Profile::Mastodon44 | Profile::GoToSocial)
    }

    /// Whether `granted` permits `wanted`. Mastodon checks literal
    /// membership; GoToSocial treats `read` as covering `read:*`.
    pub fn scope_covers(self, granted: &[String], wanted: &str) -> bool {
        granted.iter().any(|g| {
            g == wanted
                || (self == Profile::GoToSocial
                    && wanted
                        .strip_prefix(g.as_str())
                        .is_some_and(|rest| rest.starts_with(':')))
        })
    }
}

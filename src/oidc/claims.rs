//! Identity → claims. The stable subject, the profile claims of the `profile`
//! scope (also in the ID token: many relying parties read only that), the
//! synthetic email some clients opt into, and configured groups. The same
//! function feeds the ID token and `/userinfo`, so they never disagree.
//! Documented for relying-party admins in `docs/claims.md`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::clients::Client;
use crate::crypto::{Sealer, b64url, sha256_b64url};
use crate::upstream::Identity;

/// `sub`: opaque, stable, unique per issuer. Derived from the API host that
/// authenticated the account and the account's id there, never from what the
/// person typed or from the (renameable) username. Unkeyed on purpose, so it
/// survives a change of the master secret.
pub fn subject(server_host: &str, account_id: &str) -> String {
    sha256_b64url(format!("mastodon-oidc/sub/v1\0{server_host}\0{account_id}").as_bytes())
}

/// The `sub` a client sees: the public subject, or for a pairwise client
/// (OIDC Core §8.1) one derived from its sector and the public subject with
/// a key from the master secret. Relying parties cannot correlate people
/// across sectors, and nobody can compute it from the (public) account id.
pub fn client_subject(public: &str, client: &Client, sealer: &Sealer) -> String {
    match &client.settings.pairwise_sector {
        None => public.to_string(),
        Some(sector) => {
            b64url(&sealer.derive("pairwise-sub", format!("{sector}\0{public}").as_bytes()))
        }
    }
}

/// What the scopes and the `claims` parameter grant, for one client.
pub struct ClaimRequest<'a> {
    pub scopes: &'a [String],
    /// Names asked for through the `claims` parameter (honoured within `profile`).
    pub requested: &'a BTreeSet<String>,
}

/// The names a `claims` request parameter (OIDC Core §5.5) asks for, per
/// target, essential or not. Kept with the code and the grant, so the token
/// response, every refresh and `/userinfo` answer what was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RequestedWire")]
pub struct RequestedClaims {
    pub id_token: BTreeSet<String>,
    pub userinfo: BTreeSet<String>,
}

/// Also reads the one set of names stored before the targets were kept
/// apart (a code or a pending login from the previous version).
#[derive(Deserialize)]
#[serde(untagged)]
enum RequestedWire {
    Both(BTreeSet<String>),
    Split {
        #[serde(default)]
        id_token: BTreeSet<String>,
        #[serde(default)]
        userinfo: BTreeSet<String>,
    },
}

impl From<RequestedWire> for RequestedClaims {
    fn from(w: RequestedWire) -> Self {
        match w {
            RequestedWire::Both(names) => Self {
                id_token: names.clone(),
                userinfo: names,
            },
            RequestedWire::Split { id_token, userinfo } => Self { id_token, userinfo },
        }
    }
}

impl RequestedClaims {
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// The JSON of a nullable column: None when nothing was asked for.
    pub fn to_column(&self) -> Option<String> {
        (!self.is_empty()).then(|| crate::store::to_json(self))
    }

    pub fn from_column(text: Option<&str>) -> crate::store::StoreResult<Self> {
        text.map_or(Ok(Self::default()), crate::store::from_json)
    }
}

/// Profile claims of an identity for a client. `updated_at` is when the bridge
/// last refreshed the profile from the server.
pub fn user_claims(
    sub: &str,
    id: &Identity,
    client: &Client,
    req: &ClaimRequest<'_>,
    updated_at: i64,
) -> Map<String, Value> {
    let has = |s: &str| req.scopes.iter().any(|x| x == s);
    let mut m = Map::new();
    m.insert("sub".into(), sub.into());
    let profile = has("profile");
    let mut put = |name: &str, v: Value| {
        // The `claims` parameter can ask for a profile claim without the scope.
        if profile || req.requested.contains(name) {
            m.insert(name.into(), v);
        }
    };
    let name = id
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&id.username);
    put("name", name.into());
    put("preferred_username", id.handle.clone().into());
    put("nickname", id.username.clone().into());
    if let Some(p) = &id.avatar {
        put("picture", p.clone().into());
    }
    if let Some(p) = &id.profile_url {
        put("profile", p.clone().into());
    }
    if let Some(l) = &id.locale {
        put("locale", l.clone().into());
    }
    put("updated_at", updated_at.into());
    put("fediverse_handle", format!("@{}", id.handle).into());
    if let Some(a) = &id.actor_uri {
        put("fediverse_actor", a.clone().into());
    }
    put("fediverse_server", id.server_host.clone().into());
    put("bot", id.bot.into());
    if !client.settings.groups.is_empty() {
        put("groups", client.groups_for(&id.handle).into());
    }
    if has("email") && client.settings.synthetic_email {
        m.insert("email".into(), format!("{sub}@users.invalid").into());
        m.insert("email_verified".into(), false.into());
    }
    m
}

/// Every claim name [`user_claims`] can emit, for discovery's `claims_supported`.
pub const SUPPORTED: [&str; 17] = [
    "sub",
    "name",
    "preferred_username",
    "nickname",
    "picture",
    "profile",
    "locale",
    "updated_at",
    "fediverse_handle",
    "fediverse_actor",
    "fediverse_server",
    "bot",
    "groups",
    "email",
    "email_verified",
    "auth_time",
    "nonce",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::clients::ClientSettings;

    fn alice() -> Identity {
        Identity {
            server_host: "social.example".into(),
            account_id: "109000000000000001".into(),
            username: "alice".into(),
            handle: "alice@example.social".into(),
            actor_uri: Some("https://social.example/users/alice".into()),
            display_name: Some("Alice Example".into()),
            avatar: Some("https://files.example/a.png".into()),
            profile_url: Some("https://social.example/@alice".into()),
            locale: Some("de".into()),
            bot: false,
            locked: false,
            created_at: None,
            role: None,
        }
    }

    fn client() -> Client {
        Client {
            id: "c".into(),
            name: "C".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            secret_hash: None,
            public: true,
            scopes: vec![],
            settings: ClientSettings::default(),
        }
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn subject_is_stable_opaque_and_per_server() {
        let s = subject("social.example", "1");
        assert_eq!(s, subject("social.example", "1"));
        assert_eq!(s.len(), 43);
        assert!(!s.contains("social"));
        assert_ne!(s, subject("other.example", "1"));
        assert_ne!(s, subject("social.example", "2"));
        // No ambiguity from concatenation.
        assert_ne!(subject("a.b", "1"), subject("a.b1", ""));
    }

    #[test]
    fn profile_scope_gives_profile_claims() {
        let none = BTreeSet::new();
        let m = user_claims(
            "S",
            &alice(),
            &client(),
            &ClaimRequest {
                scopes: &scopes(&["openid", "profile"]),
                requested: &none,
            },
            9,
        );
        assert_eq!(m["name"], "Alice Example");
        assert_eq!(m["preferred_username"], "alice@example.social");
        assert_eq!(m["nickname"], "alice");
        assert_eq!(m["fediverse_handle"], "@alice@example.social");
        assert_eq!(m["fediverse_server"], "social.example");
        assert_eq!(m["updated_at"], 9);
        assert!(!m.contains_key("email") && !m.contains_key("groups"));
        // openid alone: only sub.
        let m = user_claims(
            "S",
            &alice(),
            &client(),
            &ClaimRequest {
                scopes: &scopes(&["openid"]),
                requested: &none,
            },
            9,
        );
        assert_eq!(m.keys().collect::<Vec<_>>(), ["sub"]);
        // …unless the claims parameter asks for name.
        let want: BTreeSet<String> = ["name".to_string()].into();
        let m = user_claims(
            "S",
            &alice(),
            &client(),
            &ClaimRequest {
                scopes: &scopes(&["openid"]),
                requested: &want,
            },
            9,
        );
        assert_eq!(m["name"], "Alice Example");
        assert!(!m.contains_key("nickname"));
    }

    #[test]
    fn empty_display_name_falls_back_to_username() {
        let mut id = alice();
        id.display_name = Some("  ".into());
        let none = BTreeSet::new();
        let m = user_claims(
            "S",
            &id,
            &client(),
            &ClaimRequest {
                scopes: &scopes(&["openid", "profile"]),
                requested: &none,
            },
            0,
        );
        assert_eq!(m["name"], "alice");
    }

    #[test]
    fn synthetic_email_and_groups_only_where_configured() {
        let mut c = client();
        c.settings.synthetic_email = true;
        c.settings
            .groups
            .insert("admins".into(), vec!["alice@example.social".into()]);
        let none = BTreeSet::new();
        let m = user_claims(
            "S",
            &alice(),
            &c,
            &ClaimRequest {
                scopes: &scopes(&["openid", "profile", "email"]),
                requested: &none,
            },
            0,
        );
        assert_eq!(m["email"], "S@users.invalid");
        assert_eq!(m["email_verified"], false);
        assert_eq!(m["groups"], serde_json::json!(["admins"]));
        // Without the email scope, no email even for that client.
        let m = user_claims(
            "S",
            &alice(),
            &c,
            &ClaimRequest {
                scopes: &scopes(&["openid", "profile"]),
                requested: &none,
            },
            0,
        );
        assert!(!m.contains_key("email"));
        for k in m.keys() {
            assert!(SUPPORTED.contains(&k.as_str()), "{k} not advertised");
        }
    }

    #[test]
    fn requested_claims_keep_their_targets_and_read_the_old_form() {
        let r = RequestedClaims {
            id_token: ["name".to_string()].into(),
            userinfo: BTreeSet::new(),
        };
        let text = r.to_column().unwrap();
        assert_eq!(RequestedClaims::from_column(Some(&text)).unwrap(), r);
        assert_eq!(RequestedClaims::default().to_column(), None);
        assert_eq!(
            RequestedClaims::from_column(None).unwrap(),
            RequestedClaims::default()
        );
        let old = RequestedClaims::from_column(Some(r#"["picture"]"#)).unwrap();
        assert!(old.id_token.contains("picture") && old.userinfo.contains("picture"));
    }
}

//! Which domain a handle may name. A server always speaks for its own
//! accounts (`username@api_host`); another domain (LOCAL_DOMAIN, or a
//! personal domain) only when its WebFinger describes the very account that
//! logged in: the same actor. Claims and group rules (`*@domain`) are built
//! from the handle, so a catch-all WebFinger must not lend its domain to
//! every account of the server it points at.

use super::MastodonUpstream;
use super::discover::Described;
use super::input::Typed;
use crate::upstream::Identity;

impl MastodonUpstream {
    /// Keep `username@handle_domain` only if `described` (WebFinger at that
    /// domain during `begin`) or a fresh WebFinger lookup there names the
    /// logged-in account's actor; else fall back to `username@server_host`.
    pub(crate) async fn settle_handle(
        &self,
        mut identity: Identity,
        handle_domain: &str,
        server_host: &str,
        described: Option<&Described>,
    ) -> Identity {
        if handle_domain == server_host {
            return identity;
        }
        let actor = match &identity.actor_uri {
            Some(a) => Some(a.clone()),
            // No `uri` (GoToSocial): the server's own WebFinger names the actor.
            None => self
                .describe(&identity.username, server_host)
                .await
                .filter(|d| d.api_host == server_host)
                .and_then(|d| d.actor),
        };
        let vouched = match &actor {
            None => false,
            Some(actor) if described.is_some_and(|d| d.is(server_host, actor)) => true,
            Some(actor) => self
                .describe(&identity.username, handle_domain)
                .await
                .is_some_and(|d| d.is(server_host, actor)),
        };
        if !vouched {
            tracing::info!(
                server_host,
                handle_domain,
                "the handle's domain does not describe this account; using the server's"
            );
            identity.handle = format!("{}@{server_host}", identity.username);
        }
        identity
    }

    /// What WebFinger at `domain` says `acct:{user}@{domain}` is.
    async fn describe(&self, user: &str, domain: &str) -> Option<Described> {
        let typed = Typed {
            user: Some(user.to_string()),
            domain: domain.to_string(),
        };
        match self.resolve(&typed).await {
            Ok(r) => r.account,
            Err(e) => {
                tracing::info!(domain, error = %e, "webfinger lookup for the handle failed");
                None
            }
        }
    }
}

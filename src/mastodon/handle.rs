//! Which domain a handle names: the fediverse's canonical rule, as
//! Mastodon's own ResolveAccountService applies it, in both directions. The
//! API host's WebFinger, asked about `acct:{username}@{api_host}`, names the
//! account's canonical domain D in its `subject` (Mastodon answers with
//! LOCAL_DOMAIN even when asked at WEB_DOMAIN) and its actor in the `self`
//! link. The handle is `username@D` when D is the API host, or when D's own
//! WebFinger points back at that actor on that API host; otherwise
//! `username@api_host`. The domain the person typed decides nothing: a
//! catch-all WebFinger on a personal domain, echoing every name to another
//! server's actors, lends that domain to no one. Claims and group rules
//! (`*@domain`) are built from the handle.

use super::MastodonUpstream;
use super::discover::{Described, Resolved};
use super::input::Typed;
use crate::upstream::Identity;

impl MastodonUpstream {
    /// Settle `identity.handle` on the canonical domain. `handle_domain` is
    /// what `begin` learned (the typed handle's WebFinger subject, else the
    /// instance API's LOCAL_DOMAIN); when it is `server_host` nothing
    /// suggests another domain and no request is made. `described` is the
    /// typed domain's WebFinger answer, kept when that domain is
    /// `handle_domain`; it spares the lookup at D when D is that domain.
    pub(crate) async fn settle_handle(
        &self,
        mut identity: Identity,
        handle_domain: &str,
        server_host: &str,
        described: Option<&Described>,
    ) -> Identity {
        if handle_domain == server_host {
            identity.handle = format!("{}@{server_host}", identity.username);
            return identity;
        }
        let canonical = self
            .canonical_domain(&identity, handle_domain, server_host, described)
            .await;
        let domain = canonical.as_deref().unwrap_or(server_host);
        if domain != handle_domain {
            tracing::info!(
                server_host,
                handle_domain,
                canonical = domain,
                "the handle's domain is not the account's canonical one; using the canonical"
            );
        }
        identity.handle = format!("{}@{domain}", identity.username);
        identity
    }

    /// D, the subject's domain of the API host's WebFinger about the
    /// account, if D is the API host or D's WebFinger confirms the actor.
    async fn canonical_domain(
        &self,
        identity: &Identity,
        handle_domain: &str,
        server_host: &str,
        described: Option<&Described>,
    ) -> Option<String> {
        let user = &identity.username;
        let own = self.describe(user, server_host).await?;
        let said = own.account.filter(|d| d.api_host == server_host)?.actor?;
        // No `uri` (GoToSocial): the server's own WebFinger names the actor.
        if identity.actor_uri.as_ref().is_some_and(|a| *a != said) {
            tracing::info!(server_host, "the server's WebFinger names another actor");
            return None;
        }
        let domain = own.handle_domain.filter(|d| !d.is_empty())?;
        if domain == server_host {
            return Some(domain);
        }
        let confirmed =
            if domain == handle_domain && described.is_some_and(|d| d.is(server_host, &said)) {
                true
            } else {
                self.describe(user, &domain)
                    .await
                    .and_then(|r| r.account)
                    .is_some_and(|d| d.is(server_host, &said))
            };
        confirmed.then_some(domain)
    }

    /// What WebFinger at `domain` says `acct:{user}@{domain}` is.
    async fn describe(&self, user: &str, domain: &str) -> Option<Resolved> {
        let typed = Typed {
            user: Some(user.to_string()),
            domain: domain.to_string(),
        };
        match self.resolve(&typed).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::info!(domain, error = %e, "webfinger lookup for the handle failed");
                None
            }
        }
    }
}

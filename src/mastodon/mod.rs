//! The Mastodon implementation of [`crate::upstream::Upstream`]. Never speaks
//! OIDC and never touches provider tables; it owns only the `servers` rows.
//!
//! Flow: `begin` parses what the person typed (`input`), resolves a handle
//! with WebFinger to the API host and learns (and caches) the server's
//! capabilities (`discover`), makes sure our app is registered there once
//! (`apps`, `register`), and returns the authorize URL with PKCE where
//! advertised (`oauth`), all within a deadline (`deadline`). `complete`
//! exchanges the code, reads `verify_credentials` into an
//! [`Identity`](crate::upstream::Identity) (`account`), names its handle's
//! canonical domain (the API host's WebFinger subject, confirmed there;
//! `handle`) and
//! revokes the upstream token, or, with `keep_upstream_tokens`, hands it
//! back sealed.
//! Sign-up (`signup`) uses the same app, registered with `write:accounts`
//! where configuration offers sign-up.
//! Outcomes are recorded on the server row for operators.

pub mod account;
pub mod apps;
mod deadline;
pub mod discover;
mod handle;
pub mod input;
pub mod oauth;
mod register;
pub mod signup;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use url::Url;

use crate::clock::SharedClock;
use crate::config::UpstreamConfig;
use crate::crypto::{self, Sealer};
use crate::http::{HttpError, Outbound};
use crate::store::{Store, StoreError, servers};
use crate::upstream::{
    Begin, CallbackQuery, LoginInput, NewAccount, Resent, SignedUp, SignupError, SignupRules,
    SignupStatus, Upstream, UpstreamError, Verified,
};

use deadline::{TIMED_OUT, within};
use oauth::{AuthorizeParams, Stored};

/// The Mastodon upstream. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct MastodonUpstream {
    http: Outbound,
    store: Store,
    sealer: Arc<Sealer>,
    clock: SharedClock,
    issuer: String,
    config: UpstreamConfig,
    /// First contact per host is serialised in-process too.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// When each server's app was last seen working, in this process.
    checked: Arc<apps::Checked>,
    /// Lease owner name of this replica.
    replica: String,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    limits: Option<Arc<crate::ratelimit::Limits>>,
}

impl MastodonUpstream {
    /// `issuer` is the provider's issuer URL; callbacks are `{issuer}/callback/{host}`.
    pub fn new(
        http: Outbound,
        store: Store,
        sealer: Arc<Sealer>,
        clock: SharedClock,
        issuer: &str,
        config: UpstreamConfig,
    ) -> Self {
        Self {
            http,
            store,
            sealer,
            clock,
            issuer: issuer.trim_end_matches('/').to_string(),
            config,
            locks: Arc::default(),
            checked: Arc::default(),
            replica: crypto::random_token(12),
            metrics: None,
            limits: None,
        }
    }

    /// Build the outbound client from the configuration as well.
    pub fn from_config(
        config: UpstreamConfig,
        store: Store,
        sealer: Arc<Sealer>,
        clock: SharedClock,
        issuer: &str,
    ) -> Result<Self, UpstreamError> {
        let http = Outbound::new(&config)
            .map_err(|e| UpstreamError::Internal(format!("outbound client: {e}")))?;
        Ok(Self::new(http, store, sealer, clock, issuer, config))
    }

    /// Count calls and registrations in `metrics`, and hold first contacts
    /// to `limits.first_contact` per server.
    pub fn observed(
        mut self,
        metrics: Arc<crate::metrics::Metrics>,
        limits: Arc<crate::ratelimit::Limits>,
    ) -> Self {
        self.http = self.http.with_metrics(metrics.clone());
        self.metrics = Some(metrics);
        self.limits = Some(limits);
        self
    }

    /// Our own limit on contacting a server we do not know yet (discovery,
    /// registration), so a flood of handles cannot make us hammer it.
    pub(crate) fn first_contact_allowed(&self, host: &str) -> Result<(), UpstreamError> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        limits
            .first_contact
            .check(host, self.clock.now_ms())
            .map_err(|secs| {
                tracing::warn!(host, retry_after = secs, "first-contact limit reached");
                if let Some(m) = &self.metrics {
                    m.rate_limited.with_label_values(&["first_contact"]).inc();
                }
                UpstreamError::RateLimited {
                    retry_after_secs: secs,
                }
            })
    }

    fn url(&self, host: &str, path: &str) -> Result<Url, UpstreamError> {
        let base = self.http.base_url(host).map_err(http_error)?;
        base.join(path.trim_start_matches('/'))
            .map_err(|e| UpstreamError::Internal(format!("url: {e}")))
    }

    async fn begin_inner(&self, input: &LoginInput, state: &str) -> Result<Begin, UpstreamError> {
        let typed = input::parse(&input.typed)?;
        let resolved = self.resolve(&typed).await?;
        let host = resolved.api_host;
        let caps = self.capabilities(&host).await?;
        let app = self.ensure_app(&host, &caps).await?;
        let pkce = caps.pkce_s256.then(oauth::pkce_pair);
        let lang = oauth::lang_of(input.locale.as_deref());
        let redirect = self.redirect_uri(&host);
        let base = self.http.base_url(&host).map_err(http_error)?;
        // Only what a login needs, even from an app that may also sign up.
        let scope = apps::choose_scope(&caps);
        let url = oauth::authorize_url(
            &base,
            &AuthorizeParams {
                client_id: &app.client_id,
                redirect_uri: &redirect,
                scope,
                state,
                code_challenge: pkce.as_ref().map(|(_, c)| c.as_str()),
                force_login: input.force_login,
                lang: lang.as_deref(),
            },
        )?;
        // Kept to spare `settle_handle` asking the typed domain again; the
        // typed domain's own answer, never one it merely points to.
        let own_answer = resolved.handle_domain.as_deref() == Some(typed.domain.as_str());
        let stored = Stored {
            host: host.clone(),
            client_id: app.client_id.clone(),
            scope: scope.to_string(),
            code_verifier: pkce.map(|(v, _)| v),
            handle_domain: resolved.handle_domain.or(caps.domain),
            described: resolved.account.filter(|_| own_answer),
        };
        Ok(Begin {
            redirect_to: url,
            server_host: host,
            stored: stored.to_bytes(),
        })
    }

    async fn complete_inner(
        &self,
        server_host: &str,
        stored: &[u8],
        query: &CallbackQuery,
    ) -> Result<Verified, UpstreamError> {
        let stored = Stored::from_bytes(stored)?;
        if stored.host != server_host {
            return Err(UpstreamError::InvalidCallback(
                "the callback came from a different server than the login started at".into(),
            ));
        }
        if let Some(err) = &query.error {
            if err == "access_denied" {
                return Err(UpstreamError::Denied);
            }
            tracing::warn!(host = server_host, error = %err, "upstream authorize error");
            return Err(UpstreamError::Unavailable(format!(
                "{server_host} could not complete the login."
            )));
        }
        let code = query
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| UpstreamError::InvalidCallback("the callback has no code".into()))?;
        let deadline = self.deadline();
        let (app, token) = within(deadline, async {
            let app = self
                .load_app(server_host)
                .await?
                .filter(|a| a.client_id == stored.client_id)
                .ok_or_else(|| {
                    UpstreamError::InvalidCallback(
                        "the app this login started with is no longer registered".into(),
                    )
                })?;
            let token = self
                .exchange_code(server_host, &app, code, stored.code_verifier.as_deref())
                .await?;
            Ok((app, token))
        })
        .await?;
        let handle_domain = stored.handle_domain.as_deref().unwrap_or(server_host);
        let identity = within(deadline, async {
            let identity = self
                .verify_credentials(server_host, handle_domain, &token)
                .await?;
            let described = stored.described.as_ref();
            Ok(self
                .settle_handle(identity, handle_domain, server_host, described)
                .await)
        })
        .await;
        // A token that logged nobody in is not worth keeping.
        if identity.is_err() || !self.config.keep_upstream_tokens {
            self.release_token(server_host, &app, &token, deadline)
                .await;
        }
        Ok(Verified {
            identity: identity?,
            sealed_token: self.kept(&token),
        })
    }

    /// Record the outcome on the server row; never fails the login.
    async fn record<T>(&self, host: Option<&str>, result: &Result<T, UpstreamError>) {
        self.record_outcome(host, result.as_ref().err()).await
    }

    async fn record_outcome(&self, host: Option<&str>, error: Option<&UpstreamError>) {
        let Some(host) = host.map(str::to_string) else {
            return;
        };
        let now = self.clock.now();
        let outcome = match error {
            None => None,
            Some(
                e @ (UpstreamError::Unavailable(_)
                | UpstreamError::RateLimited { .. }
                | UpstreamError::NotAllowed(_)
                | UpstreamError::Internal(_)),
            ) => Some(e.to_string()),
            // People's choices and input are not server health.
            Some(_) => return,
        };
        let done = self
            .store
            .run(move |c| match outcome {
                None => servers::record_success(c, &host, now),
                Some(m) => servers::record_error(c, &host, &m, now),
            })
            .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not record the server outcome");
        }
    }
}

#[async_trait(?Send)]
impl Upstream for MastodonUpstream {
    async fn begin(&self, input: &LoginInput, state: &str) -> Result<Begin, UpstreamError> {
        let result = within(self.deadline(), self.begin_inner(input, state)).await;
        let host = match &result {
            Ok(b) => Some(b.server_host.clone()),
            Err(_) => input::parse(&input.typed).ok().map(|t| t.domain),
        };
        // Success of begin is not yet a login; record only failures here.
        if result.is_err() {
            self.record(host.as_deref(), &result).await;
        }
        result
    }

    async fn complete(
        &self,
        server_host: &str,
        stored: &[u8],
        query: &CallbackQuery,
    ) -> Result<Verified, UpstreamError> {
        let result = self.complete_inner(server_host, stored, query).await;
        let known = Stored::from_bytes(stored).is_ok_and(|s| s.host == server_host);
        self.record(known.then_some(server_host), &result).await;
        result
    }

    async fn signup_rules(&self, server: &str) -> Result<SignupRules, UpstreamError> {
        let host = signup::server_of(server)?;
        self.refuse_unless_offered(&host)?;
        let result = self.rules(&host).await;
        // A rules page is not a working login; record failures only.
        if let Err(e) = &result {
            self.record_outcome(Some(&host), Some(e)).await;
        }
        result
    }

    async fn sign_up(
        &self,
        server_host: &str,
        account: &NewAccount,
    ) -> Result<SignedUp, SignupError> {
        self.refuse_unless_offered(server_host)?;
        let result = self.create_account(server_host, account).await;
        if let Err(SignupError::Failed(e)) = &result {
            self.record_outcome(Some(server_host), Some(e)).await;
        }
        result
    }

    async fn signup_status(
        &self,
        server_host: &str,
        stored: &[u8],
    ) -> Result<SignupStatus, UpstreamError> {
        self.pending_status(server_host, stored).await
    }

    async fn resend_confirmation(
        &self,
        server_host: &str,
        stored: &[u8],
    ) -> Result<Resent, UpstreamError> {
        self.resend(server_host, stored).await
    }

    async fn end_signup(&self, server_host: &str, stored: &[u8]) {
        self.release(server_host, stored).await
    }
}

/// Transport failures, as people should read them (details go to the log).
pub(crate) fn http_error(e: HttpError) -> UpstreamError {
    tracing::warn!(error = %e, "outbound request failed");
    match e {
        HttpError::Refused(_) => {
            UpstreamError::NotAllowed("That server cannot be used with this service.".into())
        }
        HttpError::Timeout => UpstreamError::Unavailable(TIMED_OUT.into()),
        HttpError::Connect(_) => {
            UpstreamError::Unavailable(
                "The server could not be reached. It may be down; try again later.".into(),
            )
        }
        HttpError::TooLarge | HttpError::Protocol(_) => {
            UpstreamError::Unavailable(
                "The server answered with something unexpected. It may be having trouble; try again later."
                    .into(),
            )
        }
        HttpError::CircuitOpen(secs) => UpstreamError::Unavailable(format!(
            "The server has not been answering, so we paused for a moment. Please try again in {secs} seconds."
        )),
    }
}

/// A server error, as people should read it: the status stays in the log
/// (where the caller puts it), never in the message.
pub(crate) fn server_error(host: &str) -> UpstreamError {
    UpstreamError::Unavailable(format!(
        "{host} answered with an error. It may be having trouble; try again later."
    ))
}

pub(crate) fn store_error(e: StoreError) -> UpstreamError {
    match e {
        StoreError::Unavailable(m) => UpstreamError::StorageUnavailable(m),
        e => UpstreamError::Internal(format!("storage: {e}")),
    }
}

//! The app sign-up API (spec §5): a server's sign-up rules from the instance
//! API, `POST /api/v1/accounts` with our app's client-credentials token
//! (the app carries `write:accounts` where sign-up is offered), the 422
//! `details` turned into neutral field problems, and the new account's
//! token afterwards: `verify_credentials` says whether the e-mail is
//! confirmed and the account approved; `/api/v1/emails/confirmations`
//! resends the link. The token travels only inside [`PendingSignup`].

use reqwest::Method;
use serde::{Deserialize, Serialize};

mod parse;

use parse::unsupported;
pub use parse::{html_to_text, problems_of, rules_of, server_of};

use super::register::retry_after;
use super::{MastodonUpstream, http_error, server_error};
use crate::upstream::{
    AccountRefusal, FieldProblem, NewAccount, Problem, Resent, SignedUp, SignupError, SignupField,
    SignupRules, SignupStatus, UpstreamError, Verified,
};

/// What [`SignedUp::stored`] holds: enough to ask about the account later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignup {
    pub host: String,
    pub client_id: String,
    /// The new account's access token (inactive until confirmed).
    pub token: String,
    pub handle_domain: String,
}

impl PendingSignup {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn from_bytes(b: &[u8], host: &str) -> Result<Self, UpstreamError> {
        let p: Self = serde_json::from_slice(b)
            .map_err(|_| UpstreamError::InvalidCallback("unreadable sign-up state".into()))?;
        if p.host != host {
            return Err(UpstreamError::InvalidCallback(
                "the sign-up belongs to another server".into(),
            ));
        }
        Ok(p)
    }
}

impl MastodonUpstream {
    pub(crate) fn refuse_unless_offered(&self, host: &str) -> Result<(), UpstreamError> {
        if self.config.signup_allowed(host) {
            Ok(())
        } else {
            Err(UpstreamError::NotAllowed(format!(
                "Sign-up on {host} is not offered here."
            )))
        }
    }

    /// The rules of `host`. Registrations are read fresh: the cached
    /// capabilities may be a day old.
    pub(crate) async fn rules(&self, host: &str) -> Result<SignupRules, UpstreamError> {
        let caps = self.capabilities(host).await?;
        let instance = self.instance(host).await?.ok_or_else(|| {
            UpstreamError::NotFound(format!("{host} has no instance information."))
        })?;
        let rules = match self.get_json(host, "/api/v1/instance/rules").await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(host, error = %e, "no rules endpoint; using the instance's");
                None
            }
        };
        let base = self.http.base_url(host).map_err(http_error)?;
        Ok(rules_of(host, &caps, &instance, rules.as_ref(), &base))
    }

    /// `POST /api/v1/accounts` with the app's token.
    pub(crate) async fn create_account(
        &self,
        host: &str,
        account: &NewAccount,
    ) -> Result<SignedUp, SignupError> {
        let caps = self.capabilities(host).await?;
        if unsupported(&caps) {
            return Err(UpstreamError::NotAllowed(format!(
                "{host} does not offer sign-up to apps."
            ))
            .into());
        }
        let app = self.ensure_app(host, &caps).await?;
        let app_token = self.app_token(host, &app).await?;
        let mut form = vec![
            ("username", account.username.as_str()),
            ("email", account.email.as_str()),
            ("password", account.password.expose()),
            (
                "agreement",
                if account.agreement { "true" } else { "false" },
            ),
        ];
        for (k, v) in [
            ("locale", &account.locale),
            ("reason", &account.reason),
            ("date_of_birth", &account.date_of_birth),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                form.push((k, v));
            }
        }
        let url = self.url(host, "/api/v1/accounts")?;
        let rb = self
            .http
            .request(Method::POST, url)
            .bearer_auth(&app_token)
            .form(&form);
        // Never log `form`: it holds the password.
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => {
                let v: serde_json::Value = resp.json().map_err(http_error)?;
                let token = v["access_token"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        UpstreamError::Unavailable(format!(
                            "{host} created the account but returned no token."
                        ))
                    })?;
                let pending = PendingSignup {
                    host: host.to_string(),
                    client_id: app.client_id.clone(),
                    token: token.to_string(),
                    handle_domain: caps.domain.clone().unwrap_or_else(|| host.to_string()),
                };
                tracing::info!(host, "account created; awaiting confirmation");
                Ok(SignedUp {
                    server_host: host.to_string(),
                    stored: pending.to_bytes(),
                })
            }
            422 => {
                let problems = problems_of(&resp.body);
                tracing::info!(host, ?problems, "sign-up rejected");
                Err(SignupError::Rejected(problems))
            }
            // GoToSocial: a plain 400 with a sentence, no details (spec §7).
            400 => {
                tracing::info!(host, "sign-up rejected without details");
                Err(SignupError::Rejected(vec![FieldProblem {
                    field: SignupField::Form,
                    problem: Problem::Other,
                }]))
            }
            403 => {
                let v: serde_json::Value = resp.json().unwrap_or_default();
                let msg = v["error"].as_str().unwrap_or_default();
                if msg == "Forbidden" || msg == "This action is not allowed" {
                    Err(SignupError::Closed)
                } else {
                    tracing::warn!(host, error = msg, "sign-up forbidden");
                    Err(UpstreamError::Unavailable(format!(
                        "{host} did not let this service create the account."
                    ))
                    .into())
                }
            }
            429 => {
                let secs = retry_after(&resp, self.clock.now()).unwrap_or(1800);
                tracing::warn!(host, secs, "sign-ups rate limited");
                Err(SignupError::RateLimited {
                    retry_after_secs: secs,
                })
            }
            401 => {
                self.forget_app(host, &app.client_id).await?;
                Err(UpstreamError::Unavailable(format!(
                    "{host} no longer knows this service; please try again."
                ))
                .into())
            }
            s => {
                tracing::warn!(host, status = s, "sign-up failed");
                Err(server_error(host).into())
            }
        }
    }

    /// Is the account usable yet? Its own token answers.
    pub(crate) async fn pending_status(
        &self,
        host: &str,
        stored: &[u8],
    ) -> Result<SignupStatus, UpstreamError> {
        let p = PendingSignup::from_bytes(stored, host)?;
        match self
            .verify_credentials(host, &p.handle_domain, &p.token)
            .await
        {
            Ok(identity) => Ok(SignupStatus::Active(Box::new(Verified {
                identity: self
                    .settle_handle(identity, &p.handle_domain, host, None)
                    .await,
                sealed_token: self.kept(&p.token),
            }))),
            Err(UpstreamError::AccountRefused(AccountRefusal::Unconfirmed)) => {
                Ok(SignupStatus::AwaitingConfirmation)
            }
            Err(UpstreamError::AccountRefused(AccountRefusal::PendingApproval)) => {
                Ok(SignupStatus::AwaitingApproval)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/emails/confirmations` with the account's token.
    pub(crate) async fn resend(&self, host: &str, stored: &[u8]) -> Result<Resent, UpstreamError> {
        let p = PendingSignup::from_bytes(stored, host)?;
        let url = self.url(host, "/api/v1/emails/confirmations")?;
        let rb = self.http.request(Method::POST, url).bearer_auth(&p.token);
        let resp = self.http.execute(rb).await.map_err(http_error)?;
        match resp.status {
            200 => Ok(Resent::Sent),
            401 => Err(UpstreamError::AccountRefused(AccountRefusal::Gone)),
            403 => {
                let v: serde_json::Value = resp.json().unwrap_or_default();
                let msg = v["error"].as_str().unwrap_or_default();
                if msg.contains("awaiting confirmation") {
                    Ok(Resent::AlreadyConfirmed)
                } else {
                    tracing::warn!(host, error = msg, "resending the confirmation refused");
                    Err(UpstreamError::Unavailable(format!(
                        "{host} would not send the e-mail again."
                    )))
                }
            }
            429 => Err(UpstreamError::RateLimited {
                retry_after_secs: retry_after(&resp, self.clock.now()).unwrap_or(300),
            }),
            s => {
                tracing::warn!(host, status = s, "resending the confirmation failed");
                Err(UpstreamError::Unavailable(format!(
                    "{host} could not send the e-mail again."
                )))
            }
        }
    }

    /// After the login: revoke the account's token, like a login's.
    pub(crate) async fn release(&self, host: &str, stored: &[u8]) {
        if self.config.keep_upstream_tokens {
            return;
        }
        let Ok(p) = PendingSignup::from_bytes(stored, host) else {
            return;
        };
        match self.load_app(host).await {
            Ok(Some(app)) if app.client_id == p.client_id => {
                self.release_token(host, &app, &p.token, self.deadline())
                    .await
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(host, error = %e, "cannot revoke the sign-up token"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_signup_is_bound_to_its_server() {
        let p = PendingSignup {
            host: "a.example".into(),
            client_id: "c".into(),
            token: "t".into(),
            handle_domain: "a.example".into(),
        };
        assert_eq!(
            PendingSignup::from_bytes(&p.to_bytes(), "a.example").unwrap(),
            p
        );
        assert!(PendingSignup::from_bytes(&p.to_bytes(), "b.example").is_err());
        assert!(PendingSignup::from_bytes(b"junk", "a.example").is_err());
    }
}

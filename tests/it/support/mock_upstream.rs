//! A static upstream for provider-side tests: no HTTP, a fixed account.
//! `begin` sends the browser to `https://upstream.test/authorize?state=…`;
//! `complete` accepts the code `good` and refuses anything else.

use std::sync::Mutex;

use async_trait::async_trait;
use mastodon_oidc::upstream::{
    AccountRefusal, Begin, CallbackQuery, Identity, LoginInput, Upstream, UpstreamError, Verified,
};

pub const HOST: &str = "social.test";

#[derive(Default)]
pub struct MockUpstream {
    /// Every `begin` input, in order.
    pub begun: Mutex<Vec<LoginInput>>,
    pub completed: Mutex<u32>,
}

pub fn alice() -> Identity {
    Identity {
        server_host: HOST.into(),
        account_id: "109000000000000001".into(),
        username: "alice".into(),
        handle: "alice@social.test".into(),
        actor_uri: Some("https://social.test/users/alice".into()),
        display_name: Some("Alice".into()),
        avatar: None,
        profile_url: Some("https://social.test/@alice".into()),
        locale: None,
        bot: false,
        locked: false,
        created_at: None,
        role: None,
    }
}

#[async_trait(?Send)]
impl Upstream for MockUpstream {
    async fn begin(&self, input: &LoginInput, state: &str) -> Result<Begin, UpstreamError> {
        self.begun.lock().unwrap().push(input.clone());
        match input.typed.as_str() {
            "@nobody@nowhere.test" => Err(UpstreamError::NotFound("no such account".into())),
            "slow.test" => Err(UpstreamError::Unavailable(
                "The server did not answer in time. It may be down or overloaded; try again later."
                    .into(),
            )),
            "busy.test" => Err(UpstreamError::RateLimited {
                retry_after_secs: 420,
            }),
            _ => Ok(Begin {
                redirect_to: url::Url::parse(&format!(
                    "https://upstream.test/authorize?state={state}"
                ))
                .unwrap(),
                server_host: HOST.into(),
                stored: b"verifier".to_vec(),
            }),
        }
    }

    async fn complete(
        &self,
        server_host: &str,
        stored: &[u8],
        query: &CallbackQuery,
    ) -> Result<Verified, UpstreamError> {
        assert_eq!(server_host, HOST);
        assert_eq!(
            stored, b"verifier",
            "the provider hands back what begin stored"
        );
        *self.completed.lock().unwrap() += 1;
        if query.error.as_deref() == Some("access_denied") {
            return Err(UpstreamError::Denied);
        }
        match query.code.as_deref() {
            Some("good") => Ok(Verified {
                identity: alice(),
                sealed_token: None,
            }),
            Some("suspended") => Err(UpstreamError::AccountRefused(AccountRefusal::Suspended)),
            _ => Err(UpstreamError::InvalidCallback("bad code".into())),
        }
    }
}

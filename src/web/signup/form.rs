//! The server's rules and the sign-up form, and `POST /signup/account`.
//! The rules travel sealed in the form (`draft`), so a re-shown form needs
//! no second trip to the server. Gaps we can see ourselves are reported
//! before anything is sent: every attempt spends one of the server's few
//! sign-ups per half hour for this whole service.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::locales::{self, Choice};
use super::messages::{self, Context, anchor, explain};
use super::{UPSTREAM_SEAL, choose};
use crate::app::AppState;
use crate::config::Secret;
use crate::crypto::{b64url, decode_base64, random_token, sha256_b64url};
use crate::oidc::authorize::endpoint::unavailable_page;
use crate::oidc::clients::Client;
use crate::oidc::pending::Pending;
use crate::oidc::session::SIGNUP;
use crate::store::{self, signups::SignupRow};
use crate::upstream::{
    FieldProblem, NewAccount, Problem, ServerRule, SignupError, SignupField, SignupRules,
};
use crate::web::login::{cancelled, page_lang, resume};
use crate::web::throttle::{self, Limit};

const DRAFT_SEAL: &str = "signup-draft";
/// Longest value we keep from a field (Mastodon's own limits are far lower).
const MAX_FIELD: usize = 1000;

/// What the person typed, kept for a re-shown form. Never the password.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    pub username: String,
    pub email: String,
    pub locale: Option<String>,
    pub reason: String,
    pub date_of_birth: String,
    pub agreement: bool,
}

/// How the form is shown.
pub struct View<'a> {
    pub typed: &'a Typed,
    pub problems: &'a [FieldProblem],
    /// A problem of the whole attempt (not of one field).
    pub notice: Option<&'a str>,
    pub status: StatusCode,
}

#[derive(Default)]
struct Errors {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    agreement: Option<String>,
    locale: Option<String>,
    reason: Option<String>,
    date_of_birth: Option<String>,
    form: Option<String>,
}

impl Errors {
    fn slot(&mut self, field: SignupField) -> &mut Option<String> {
        match field {
            SignupField::Username => &mut self.username,
            SignupField::Email => &mut self.email,
            SignupField::Password => &mut self.password,
            SignupField::Agreement => &mut self.agreement,
            SignupField::Locale => &mut self.locale,
            SignupField::Reason => &mut self.reason,
            SignupField::DateOfBirth => &mut self.date_of_birth,
            SignupField::Form => &mut self.form,
        }
    }
}

#[derive(Template)]
#[template(path = "signup_form.html")]
struct FormPage<'a> {
    lang: &'a str,
    client_name: &'a str,
    request: &'a str,
    draft: &'a str,
    host: &'a str,
    title: &'a str,
    domain: &'a str,
    approval_required: bool,
    reason_required: bool,
    min_age: Option<u32>,
    rules: &'a [ServerRule],
    terms_url: Option<&'a str>,
    privacy_url: Option<&'a str>,
    about_url: Option<&'a str>,
    t: &'a Typed,
    locales: Vec<Choice>,
    e: Errors,
    /// (field id, message) for the summary at the top.
    summary: Vec<(&'static str, String)>,
}

#[derive(Serialize, Deserialize)]
struct Draft {
    rules: SignupRules,
    issued_at: i64,
}

fn seal_draft(state: &AppState, rules: &SignupRules) -> String {
    let draft = Draft {
        rules: rules.clone(),
        issued_at: state.clock.now(),
    };
    b64url(
        &state
            .sealer
            .seal(DRAFT_SEAL, &serde_json::to_vec(&draft).unwrap_or_default()),
    )
}

fn open_draft(state: &AppState, text: &str) -> Option<SignupRules> {
    let bytes = state.sealer.open(DRAFT_SEAL, &decode_base64(text)?).ok()?;
    let d: Draft = serde_json::from_slice(&bytes).ok()?;
    let age = state.clock.now() - d.issued_at;
    (0..=state.config.tokens.auth_request_ttl_secs)
        .contains(&age)
        .then_some(d.rules)
}

/// The rules and the form.
pub fn page(
    state: &AppState,
    client: &Client,
    pending: &Pending,
    rules: &SignupRules,
    view: &View<'_>,
) -> HttpResponse {
    let host = rules.server_host.as_str();
    let cx = Context {
        server: host,
        min_age: rules.min_age,
    };
    let mut e = Errors::default();
    let mut summary = Vec::new();
    for p in view.problems {
        let text = messages::message(*p, &cx);
        summary.push((anchor(p.field), text.clone()));
        let slot = e.slot(p.field);
        *slot = Some(match slot.take() {
            Some(before) => format!("{before} {text}"),
            None => text,
        });
    }
    if let Some(n) = view.notice {
        summary.push(("form", n.to_string()));
        e.form = Some(n.to_string());
    }
    let selected = locales::pick(
        &rules.locales,
        view.typed.locale.as_deref(),
        &pending.req.ui_locales,
    );
    let sealed = pending.seal(&state.sealer);
    let draft = seal_draft(state, rules);
    let page = FormPage {
        lang: page_lang(pending),
        client_name: &client.name,
        request: &sealed,
        draft: &draft,
        host,
        title: rules.title.as_deref().unwrap_or(host),
        domain: &rules.domain,
        approval_required: rules.approval_required,
        reason_required: rules.reason_required,
        min_age: rules.min_age,
        rules: &rules.rules,
        terms_url: rules.terms_url.as_deref(),
        privacy_url: rules.privacy_url.as_deref(),
        about_url: rules.about_url.as_deref(),
        t: view.typed,
        locales: locales::choices(&rules.locales, selected),
        e,
        summary,
    };
    let mut res = crate::web::html(page.render());
    *res.status_mut() = view.status;
    res
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AccountForm {
    request: String,
    draft: String,
    username: String,
    email: String,
    password: String,
    locale: Option<String>,
    reason: String,
    date_of_birth: String,
    agreement: Option<String>,
    back: Option<String>,
    cancel: Option<String>,
}

fn clip(s: &str) -> String {
    s.trim().chars().take(MAX_FIELD).collect()
}

impl AccountForm {
    fn typed(&self) -> Typed {
        Typed {
            username: clip(self.username.trim_start_matches('@')),
            email: clip(&self.email),
            locale: self.locale.as_deref().map(clip),
            reason: clip(&self.reason),
            date_of_birth: clip(&self.date_of_birth),
            agreement: self.agreement.is_some(),
        }
    }
}

/// What we can tell is missing without asking the server.
fn local_problems(t: &Typed, password: &str, rules: &SignupRules) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    let mut add = |field, problem| out.push(FieldProblem { field, problem });
    if t.username.is_empty() {
        add(SignupField::Username, Problem::Blank);
    }
    if t.email.is_empty() {
        add(SignupField::Email, Problem::Blank);
    }
    if password.is_empty() {
        add(SignupField::Password, Problem::Blank);
    }
    if t.locale
        .as_ref()
        .is_some_and(|l| !rules.locales.contains(l))
    {
        add(SignupField::Locale, Problem::NotIncluded);
    }
    if rules.reason_required && t.reason.is_empty() {
        add(SignupField::Reason, Problem::Blank);
    }
    if rules.min_age.is_some() {
        if t.date_of_birth.is_empty() {
            add(SignupField::DateOfBirth, Problem::Blank);
        } else if chrono::NaiveDate::parse_from_str(&t.date_of_birth, "%Y-%m-%d").is_err() {
            add(SignupField::DateOfBirth, Problem::Invalid);
        }
    }
    if !t.agreement {
        add(SignupField::Agreement, Problem::NotAccepted);
    }
    out
}

/// `POST /signup/account`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let (pending, client) = match resume(&req, &state, &form.request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if form.cancel.is_some() {
        return cancelled(&state, &pending);
    }
    let Some(rules) = open_draft(&state, &form.draft) else {
        let msg = "This form has expired. Choose the server again.";
        return choose::page(
            &state,
            &client,
            &pending,
            "",
            Some((StatusCode::BAD_REQUEST, msg, None)),
        );
    };
    let host = rules.server_host.clone();
    if form.back.is_some() {
        return choose::page(&state, &client, &pending, &host, None);
    }
    if let Some(refused) = choose::refused_by_policy(&state, &client, &pending, &host) {
        return refused;
    }
    let typed = form.typed();
    let show = |problems: &[FieldProblem], notice: Option<&str>, status| {
        page(
            &state,
            &client,
            &pending,
            &rules,
            &View {
                typed: &typed,
                problems,
                notice,
                status,
            },
        )
    };
    let problems = local_problems(&typed, &form.password, &rules);
    if !problems.is_empty() {
        return show(&problems, None, StatusCode::BAD_REQUEST);
    }
    // Counted only for attempts that would reach the server.
    if let Err(wait) = throttle::check(&state, &req, Limit::SignupForm) {
        let msg = format!(
            "Too many sign-up attempts from your network. Wait {wait} second(s), then try again."
        );
        let mut res = show(&[], Some(&msg), StatusCode::TOO_MANY_REQUESTS);
        crate::web::retry_after(&mut res, wait);
        return res;
    }
    let account = NewAccount {
        username: typed.username.clone(),
        email: typed.email.clone(),
        password: Secret::new(form.password.clone()),
        agreement: typed.agreement,
        locale: typed.locale.clone(),
        reason: (rules.approval_required && !typed.reason.is_empty()).then(|| typed.reason.clone()),
        date_of_birth: (rules.min_age.is_some() && !typed.date_of_birth.is_empty())
            .then(|| typed.date_of_birth.clone()),
    };
    let signed = match state.upstream.sign_up(&host, &account).await {
        Ok(s) => s,
        Err(SignupError::Rejected(problems)) => {
            state.metrics.signup("rejected");
            return show(&problems, None, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(SignupError::Closed) => {
            state.metrics.signup("closed");
            let c = choose::Closed {
                host: host.clone(),
                message: None,
                url: rules.about_url.clone(),
            };
            return choose::closed(&state, &client, &pending, &c, false);
        }
        Err(SignupError::RateLimited { retry_after_secs }) => {
            state.metrics.signup("rate_limited");
            let msg = format!(
                "{host} accepts only a few sign-ups at a time from this service, and that limit is reached. Try again in {} minute(s), or sign up on {host}’s own website and then log in.",
                retry_after_secs.div_ceil(60).max(1)
            );
            let mut res = show(&[], Some(&msg), StatusCode::TOO_MANY_REQUESTS);
            crate::web::retry_after(&mut res, retry_after_secs);
            return res;
        }
        Err(SignupError::Failed(e)) => {
            tracing::info!(error = %e, host, "sign-up failed");
            state.metrics.signup("failed");
            let (status, msg) = explain(&e);
            return show(&[], Some(&msg), status);
        }
    };
    state.metrics.signup("created");
    remember(
        &req,
        &state,
        &pending,
        &client,
        &typed,
        signed.stored,
        &host,
    )
    .await
}

/// Store the pending sign-up under a fresh cookie and show "check your e-mail".
async fn remember(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    client: &Client,
    typed: &Typed,
    stored: Vec<u8>,
    host: &str,
) -> HttpResponse {
    let now = state.clock.now();
    let ttl = state.config.tokens.signup_ttl_secs;
    let cookie = random_token(32);
    let row = SignupRow {
        id: sha256_b64url(cookie.as_bytes()),
        client_id: client.id.clone(),
        request: store::to_json(&pending.req),
        server_host: host.to_string(),
        upstream_data: state.sealer.seal(UPSTREAM_SEAL, &stored),
        username: typed.username.clone(),
        email: typed.email.clone(),
        created_at: now,
        expires_at: now + ttl,
    };
    // One pending sign-up per browser: a new one replaces the old.
    let old = state
        .cookies
        .read(req, SIGNUP)
        .map(|c| sha256_b64url(c.as_bytes()));
    let written = state
        .store
        .write(move |c| {
            if let Some(old) = old {
                store::signups::delete(c, &old)?;
            }
            store::signups::insert(c, &row)
        })
        .await;
    if let Err(e) = written {
        return unavailable_page(&e);
    }
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", "/signup/pending"))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    let _ = res.add_cookie(&state.cookies.make(SIGNUP, cookie, Some(ttl)));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Registrations;

    fn rules() -> SignupRules {
        SignupRules {
            server_host: "s.example".into(),
            domain: "s.example".into(),
            title: None,
            registrations: Registrations::Open,
            approval_required: true,
            reason_required: true,
            min_age: Some(16),
            rules: vec![],
            terms_url: None,
            privacy_url: None,
            about_url: None,
            locales: vec!["en".into()],
        }
    }

    #[test]
    fn local_checks_catch_only_what_is_certain() {
        let t = Typed {
            locale: Some("xx".into()),
            date_of_birth: "23.04.2001".into(),
            ..Default::default()
        };
        let got: Vec<_> = local_problems(&t, "", &rules())
            .into_iter()
            .map(|p| (p.field, p.problem))
            .collect();
        use Problem::*;
        use SignupField as F;
        assert_eq!(
            got,
            [
                (F::Username, Blank),
                (F::Email, Blank),
                (F::Password, Blank),
                (F::Locale, NotIncluded),
                (F::Reason, Blank),
                (F::DateOfBirth, Invalid),
                (F::Agreement, NotAccepted),
            ]
        );
        let ok = Typed {
            username: "x".into(),
            email: "y".into(),
            locale: Some("en".into()),
            reason: "r".into(),
            date_of_birth: "2001-04-23".into(),
            agreement: true,
        };
        assert!(
            local_problems(&ok, "short", &rules()).is_empty(),
            "lengths are the server's call"
        );
    }
}

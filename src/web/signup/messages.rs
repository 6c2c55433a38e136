//! What people read about a sign-up problem: one sentence per field and
//! problem, in our words (a server's own wording is never echoed), naming
//! the server and the limits it stated.

use actix_web::http::StatusCode;

use crate::upstream::{FieldProblem, Problem, SignupField, UpstreamError};

/// What a message may mention.
pub struct Context<'a> {
    pub server: &'a str,
    pub min_age: Option<u32>,
}

/// The id of the field's input (and of its error, with `-error`).
pub fn anchor(field: SignupField) -> &'static str {
    match field {
        SignupField::Username => "username",
        SignupField::Email => "email",
        SignupField::Password => "password",
        SignupField::Agreement => "agreement",
        SignupField::Locale => "locale",
        SignupField::Reason => "reason",
        SignupField::DateOfBirth => "date_of_birth",
        SignupField::Form => "form",
    }
}

fn max(n: Option<u32>) -> String {
    n.map(|n| format!("Use at most {n} characters."))
        .unwrap_or_else(|| "Make it shorter.".into())
}

fn min(n: Option<u32>) -> String {
    n.map(|n| format!("Use at least {n} characters."))
        .unwrap_or_else(|| "Make it longer.".into())
}

pub fn message(p: FieldProblem, cx: &Context<'_>) -> String {
    use Problem::*;
    use SignupField as F;
    let s = cx.server;
    match (p.field, p.problem) {
        (F::Username, Blank) => "Choose a username.".into(),
        (F::Username, Invalid) => {
            "Use only letters, numbers and underscores (_) in your username.".into()
        }
        (F::Username, Taken) => {
            format!("This username is already taken on {s}. Try another one.")
        }
        (F::Username, Reserved) => format!("This username is reserved on {s}. Choose another."),
        (F::Email, Blank) => "Enter your e-mail address.".into(),
        (F::Email, Invalid) => "Enter a valid e-mail address, like name@example.com.".into(),
        (F::Email, Taken) => format!(
            "An account on {s} already uses this address. Log in with it instead, or use another address."
        ),
        (F::Email, Blocked) => format!(
            "{s} does not accept addresses from this e-mail provider. Use another address."
        ),
        (F::Email, Unreachable) => {
            "This address cannot receive e-mail (its domain has no mail server). Check it for typos."
                .into()
        }
        (F::Password, Blank) => "Choose a password.".into(),
        (F::Agreement, _) => {
            format!("To create an account you must agree to the rules and terms of {s}.")
        }
        (F::Locale, _) => format!("{s} does not offer this language. Choose another."),
        (F::Reason, Blank) => format!("{s} asks why you want to join: write a few words."),
        (F::DateOfBirth, Blank) => "Enter your date of birth.".into(),
        (F::DateOfBirth, Invalid) => "Enter your date of birth as a date, like 2001-04-23.".into(),
        (F::DateOfBirth, BelowAgeLimit) => match cx.min_age {
            Some(a) => format!("You must be at least {a} years old to join {s}."),
            None => format!("You are below the minimum age of {s}."),
        },
        (_, TooLong(n)) => max(n),
        (_, TooShort(n)) => min(n),
        (F::Form, _) => format!(
            "{s} did not accept the sign-up. Check your entries and try again."
        ),
        (_, Taken) => format!("{s} already has this value. Choose another."),
        _ => format!("{s} did not accept this value. Check it and try again."),
    }
}

/// A failure of the seam on the sign-up pages, as people should read it.
pub fn explain(e: &UpstreamError) -> (StatusCode, String) {
    match e {
        UpstreamError::NotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "Sign-up on that server is not offered here. Choose another server.".into(),
        ),
        UpstreamError::NotFound(_) => (
            StatusCode::BAD_REQUEST,
            "No fediverse server was found at that name. Check the spelling.".into(),
        ),
        UpstreamError::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "That server is busy with this service's requests. Try again in {} minute(s).",
                retry_after_secs.div_ceil(60).max(1)
            ),
        ),
        other => crate::web::login::explain(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_a_sentence_naming_limits_and_server() {
        let cx = Context {
            server: "social.example",
            min_age: Some(16),
        };
        let m = |field, problem| message(FieldProblem { field, problem }, &cx);
        use Problem::*;
        use SignupField as F;
        assert!(m(F::Username, Taken).contains("already taken on social.example"));
        assert_eq!(
            m(F::Password, TooShort(Some(8))),
            "Use at least 8 characters."
        );
        assert_eq!(
            m(F::Username, TooLong(Some(30))),
            "Use at most 30 characters."
        );
        assert!(m(F::DateOfBirth, BelowAgeLimit).contains("at least 16 years"));
        assert!(m(F::Email, Other).contains("did not accept this value"));
        for field in [
            F::Username,
            F::Email,
            F::Password,
            F::Agreement,
            F::Locale,
            F::Reason,
            F::DateOfBirth,
            F::Form,
        ] {
            for problem in [
                Blank,
                Invalid,
                Taken,
                Reserved,
                TooShort(None),
                TooLong(None),
                Blocked,
                Unreachable,
                NotAccepted,
                BelowAgeLimit,
                NotIncluded,
                Other,
            ] {
                assert!(m(field, problem).ends_with('.'), "{field:?} {problem:?}");
            }
        }
    }
}

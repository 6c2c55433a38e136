use super::*;
use crate::oidc::clients::ClientSettings;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client() -> Client {
    Client {
        id: "grafana".into(),
        name: "Grafana".into(),
        redirect_uris: vec![
            "https://grafana.example/login/generic_oauth".into(),
            "https://grafana.example/other".into(),
        ],
        post_logout_redirect_uris: vec![],
        secret_hash: Some([7; 32]),
        public: false,
        scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
        settings: ClientSettings::default(),
    }
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "grafana"),
        (
            "redirect_uri",
            "https://grafana.example/login/generic_oauth",
        ),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st"),
        ("nonce", "nn"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with(changes: &[(&'static str, Option<&'static str>)]) -> Params {
    let mut pairs = base();
    for (k, v) in changes {
        pairs.retain(|(pk, _)| pk != k);
        if let Some(v) = v {
            pairs.push((k, v));
        }
    }
    Params::from_pairs(pairs)
}

fn redirect_error(p: &Params) -> (ErrorCode, Option<String>) {
    match validate(p, &client(), true) {
        Err(AuthorizeError::Redirect { error, state, .. }) => (error.code, state),
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

#[test]
fn a_good_request_parses_once_into_its_fields() {
    let r = validate(
        &with(&[("max_age", Some("300")), ("prompt", Some("login consent"))]),
        &client(),
        true,
    )
    .unwrap();
    assert_eq!(r.client_id, "grafana");
    assert_eq!(
        r.redirect_uri,
        "https://grafana.example/login/generic_oauth"
    );
    // `email` is unknown to a Mastodon bridge and silently not granted.
    assert_eq!(r.scopes, ["openid", "profile"]);
    let mut synthetic = client();
    synthetic.settings.synthetic_email = true;
    let r2 = validate(&with(&[]), &synthetic, true).unwrap();
    assert_eq!(r2.scopes, ["openid", "profile", "email"]);
    assert_eq!(r.state.as_deref(), Some("st"));
    assert_eq!(r.nonce.as_deref(), Some("nn"));
    assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(r.max_age, Some(300));
    assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
    assert_eq!(r.response_mode, ResponseMode::Query);
}

#[test]
fn unknown_redirect_uri_is_a_page_never_a_redirect() {
    for uri in [
        "https://grafana.example/login/generic_oauth/",
        "https://grafana.example/login/generic_oauth?x=1",
        "https://GRAFANA.example/login/generic_oauth",
        "https://evil.example/",
    ] {
        let p = with(&[("redirect_uri", Some(uri))]);
        assert!(
            matches!(validate(&p, &client(), true), Err(AuthorizeError::Page(_))),
            "{uri}"
        );
    }
    // Two registered URIs and none in the request: ambiguous, a page.
    let p = with(&[("redirect_uri", None)]);
    assert!(matches!(
        validate(&p, &client(), true),
        Err(AuthorizeError::Page(_))
    ));
    // One registered URI may be omitted.
    let mut one = client();
    one.redirect_uris.truncate(1);
    assert_eq!(
        validate(&p, &one, true).unwrap().redirect_uri,
        one.redirect_uris[0]
    );
    assert!(matches!(
        client_id(&Params::from_pairs([("a", "b")])),
        Err(AuthorizeError::Page(_))
    ));
}

#[test]
fn errors_after_the_redirect_uri_is_known_redirect_with_state() {
    use ErrorCode::*;
    let cases: Vec<(Params, ErrorCode)> = vec![
        (with(&[("response_type", None)]), InvalidRequest),
        (
            with(&[("response_type", Some("token"))]),
            UnsupportedResponseType,
        ),
        (
            with(&[("response_type", Some("code id_token"))]),
            UnsupportedResponseType,
        ),
        (with(&[("scope", Some("profile"))]), InvalidScope),
        (with(&[("request", Some("eyJ..."))]), RequestNotSupported),
        (
            with(&[("request_uri", Some("https://rp/req"))]),
            RequestUriNotSupported,
        ),
        (with(&[("response_mode", Some("fragment"))]), InvalidRequest),
        (
            with(&[("code_challenge", None), ("code_challenge_method", None)]),
            InvalidRequest,
        ),
        (
            with(&[("code_challenge_method", Some("plain"))]),
            InvalidRequest,
        ),
        (with(&[("code_challenge_method", None)]), InvalidRequest),
        (with(&[("code_challenge", Some("short"))]), InvalidRequest),
        (with(&[("prompt", Some("none login"))]), InvalidRequest),
        (with(&[("prompt", Some("bogus"))]), InvalidRequest),
        (with(&[("max_age", Some("-1"))]), InvalidRequest),
        (with(&[("claims", Some("not json"))]), InvalidRequest),
        (
            with(&[("claims", Some(r#"{"id_token": 3}"#))]),
            InvalidRequest,
        ),
    ];
    for (p, code) in cases {
        let (got, state) = redirect_error(&p);
        assert_eq!(got, code, "{p:?}");
        assert_eq!(state.as_deref(), Some("st"));
    }
    let mut dup = base();
    dup.push(("scope", "openid"));
    assert_eq!(redirect_error(&Params::from_pairs(dup)).0, InvalidRequest);
}

#[test]
fn form_post_mode_is_kept_for_errors_too() {
    let p = with(&[
        ("response_mode", Some("form_post")),
        ("response_type", Some("token")),
    ]);
    match validate(&p, &client(), true) {
        Err(AuthorizeError::Redirect { response_mode, .. }) => {
            assert_eq!(response_mode, ResponseMode::FormPost)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pkce_may_be_optional_for_a_confidential_client_that_opted_out() {
    let mut c = client();
    c.settings.require_pkce = false;
    let p = with(&[("code_challenge", None), ("code_challenge_method", None)]);
    assert_eq!(validate(&p, &c, true).unwrap().code_challenge, None);
    // A public client never may.
    c.public = true;
    assert!(matches!(
        validate(&p, &c, true),
        Err(AuthorizeError::Redirect { .. })
    ));
}

#[test]
fn prompt_create_only_where_sign_up_is_offered() {
    let p = with(&[("prompt", Some("create"))]);
    assert!(validate(&p, &client(), true).unwrap().prompt.create);
    assert!(matches!(
        validate(&p, &client(), false),
        Err(AuthorizeError::Redirect { .. })
    ));
}

#[test]
fn optional_parameters_are_accepted_and_unknown_ones_ignored() {
    let p = with(&[
        ("display", Some("popup")),
        ("ui_locales", Some("de-CH fr")),
        ("claims_locales", Some("de")),
        ("acr_values", Some("urn:mace:incommon:iap:silver")),
        ("extra", Some("foobar")),
        ("login_hint", Some("@alice@social.example")),
        (
            "claims",
            Some(r#"{"id_token":{"name":{"essential":true}},"userinfo":{"picture":null}}"#),
        ),
    ]);
    let r = validate(&p, &client(), true).unwrap();
    assert_eq!(r.ui_locales, ["de-CH", "fr"]);
    assert_eq!(r.login_hint.as_deref(), Some("@alice@social.example"));
    let asked = &r.requested_claims;
    assert!(asked.id_token.contains("name") && !asked.id_token.contains("picture"));
    assert!(asked.userinfo.contains("picture") && !asked.userinfo.contains("name"));
    // Without a nonce the code flow still succeeds.
    assert_eq!(
        validate(&with(&[("nonce", None)]), &client(), true)
            .unwrap()
            .nonce,
        None
    );
    // Scope order does not matter.
    let r = validate(&with(&[("scope", Some("profile openid"))]), &client(), true).unwrap();
    assert_eq!(r.scopes, ["openid", "profile"]);
}

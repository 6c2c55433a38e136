//! The guides in `docs/` and the systemd unit in `deploy/`, checked against the
//! service. Each relying-party guide's client block (```toml with `[[clients]]`)
//! is parsed into a `ClientConfig`, the service starts with it, and a real
//! login against the fake Mastodon asks for the scopes the guide's RP-side
//! configuration asks for (with PKCE where the guide says the RP sends it).
//! Every claim the guide promises (`<!-- claims: … -->`, which must match
//! the "Claims … sees" paragraph) is then in the ID token and at `/userinfo`,
//! with the shape the guide describes; the RP-side settings are checked the
//! way that relying party reads them. Every bridge URL a guide mentions is
//! one that discovery names; every command a guide shows parses; the TOML
//! and environment snippets load; the unit runs only what exists.
//! One backend (SQLite) is enough: nothing here is about storage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::{CommandFactory, Parser};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeySetUrl, Nonce};
use serde_json::{Map, Value, json};

use mastodon_oidc::cli::{Cli, Command as CliCommand};
use mastodon_oidc::config::{ClientConfig, Config, format_secret_hash};
use mastodon_oidc::oidc::claims::{SUPPORTED, subject};
use mastodon_oidc::oidc::clients::Client;
use mastodon_oidc::store::AnyConnection;

use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeMastodon, FakeUser, LoginMode, Profile};
use crate::login::seed::{CHALLENGE, VERIFIER};
use crate::support::browser::{Browser, query};
use crate::support::{Backend, T0, TestApp, TestDb, http, rp};

/// The secret a guide's `secret_hash = "sha256:…"` placeholder stands for.
const SECRET: &str = "guide-secret-guide-secret-guide-secret";
/// Where the guides say the bridge lives.
const DOC_ISSUER: &str = "https://login.example.org";
const BOB_ID: &str = "109000000000000002";
const CAROL_ID: &str = "109000000000000003";
const BIN: &str = env!("CARGO_BIN_EXE_mastodon-oidc");

// ---------------------------------------------------------------- reading docs

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Fenced code blocks as (info string, body).
fn blocks(md: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut open: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => out.push(open.take().expect("open")),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    out
}

fn blocks_of<'a>(md: &'a str, lang: &'a str) -> impl Iterator<Item = String> + 'a {
    blocks(md)
        .into_iter()
        .filter(move |(info, _)| info == lang)
        .map(|(_, body)| body)
}

/// `` `spans` `` in prose (outside code blocks), whitespace collapsed.
fn inline_code(md: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The words of a command, with `\`-continued lines joined and simple
/// shell quoting removed.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Commands of a shell block: continuation lines joined, comments dropped.
fn commands(block: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    for line in block.lines() {
        let line = line.trim();
        if cur.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

/// `mastodon-oidc …` as a shell line runs it: leading `VAR=value`s and a
/// `systemd-run --options` wrapper skipped. None for other programs.
fn mastodon_oidc_argv(command: &str) -> Option<Vec<String>> {
    let words = shell_words(command);
    let assignment = |w: &&String| {
        w.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
    };
    let mut rest = words.iter().skip_while(assignment).peekable();
    if rest.next_if(|w| *w == "systemd-run").is_some() {
        while rest.next_if(|w| w.starts_with("--")).is_some() {}
    }
    let program = rest.next()?;
    (program == "mastodon-oidc" || program.ends_with("/mastodon-oidc")).then(|| {
        std::iter::once("mastodon-oidc".to_string())
            .chain(rest.cloned())
            .collect()
    })
}

/// `VAR=value` lines of a shell or environment-file block (quotes removed
/// as systemd and sh remove them).
fn env_assignments(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("MASTODON_OIDC_"))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let words = shell_words(v);
            // `VAR=value command…` sets it for one command only: keep the value.
            Some((k.to_string(), words.into_iter().next().unwrap_or_default()))
        })
        .collect()
}

/// Placeholders in documented values, filled with something valid.
fn fill(key: &str, value: &str) -> String {
    if key == "MASTODON_OIDC_MASTER_SECRET" && value.starts_with('<') {
        use base64::Engine;
        return base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    }
    value.replace("<password>", "secret")
}

fn env_of(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.clone(), fill(k, v))).collect()
}

// ---------------------------------------------------------------- one guide

struct Guide {
    file: &'static str,
    text: String,
    client: ClientConfig,
    /// The `<!-- claims: … -->` marker.
    claims: BTreeSet<String>,
}

impl Guide {
    fn load(file: &'static str) -> Guide {
        let text = read(&format!("docs/{file}"));
        let block = blocks_of(&text, "toml")
            .find(|b| b.contains("[[clients]]"))
            .unwrap_or_else(|| panic!("{file}: no ```toml block with [[clients]]"));
        let mut table: toml::Table = block
            .parse()
            .unwrap_or_else(|e| panic!("{file}: client block is not TOML: {e}"));
        let toml::Value::Array(mut clients) = table.remove("clients").expect("clients") else {
            panic!("{file}: [[clients]] is not an array")
        };
        assert_eq!(clients.len(), 1, "{file}: one client per guide");
        let toml::Value::Table(mut c) = clients.remove(0) else {
            panic!("{file}: a client is a table")
        };
        match c.get("secret_hash").and_then(|v| v.as_str()) {
            Some("sha256:…") => {
                c.insert("secret_hash".into(), format_secret_hash(SECRET).into());
            }
            other => {
                panic!("{file}: expected the secret_hash placeholder \"sha256:…\", got {other:?}")
            }
        }
        let client: ClientConfig = toml::Value::Table(c)
            .try_into()
            .unwrap_or_else(|e| panic!("{file}: not a client configuration: {e}"));
        let mut problems = vec![];
        client.validate(0, &mut problems);
        assert!(problems.is_empty(), "{file}: {problems:?}");
        let claims = marker(&text, "claims")
            .unwrap_or_else(|| panic!("{file}: no <!-- claims: … --> marker"))
            .split_whitespace()
            .map(String::from)
            .collect::<BTreeSet<_>>();
        for c in &claims {
            assert!(
                SUPPORTED.contains(&c.as_str()),
                "{file}: {c} is no claim the bridge emits"
            );
        }
        assert!(
            claims.contains("sub"),
            "{file}: every relying party sees sub"
        );
        // The marker says what the paragraph under "## Claims … sees" says.
        let prose = claims_paragraph(&text, file);
        assert_eq!(
            prose, claims,
            "{file}: the claims paragraph and the marker differ"
        );
        Guide {
            file,
            text,
            client,
            claims,
        }
    }

    fn blocks(&self, lang: &str) -> Vec<String> {
        blocks_of(&self.text, lang).collect()
    }

    /// `--name=value` flags of the first shell block that runs `program`.
    fn flags(&self, program: &str) -> BTreeMap<String, String> {
        let cmd = self
            .blocks("sh")
            .iter()
            .flat_map(|b| commands(b))
            .find(|c| c.starts_with(program))
            .unwrap_or_else(|| panic!("{}: no {program} command", self.file));
        shell_words(&cmd)
            .into_iter()
            .filter_map(|w| {
                let w = w.strip_prefix("--")?.to_string();
                Some(match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (w, String::new()),
                })
            })
            .collect()
    }

    /// `KEY = value` lines of the ```ini blocks.
    fn ini(&self) -> BTreeMap<String, String> {
        self.blocks("ini")
            .iter()
            .flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>())
            .filter(|l| !l.trim_start().starts_with([';', '#', '[']))
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    }

    /// One `KEY = value` of the ```ini blocks, which the guide must set.
    fn setting(&self, key: &str) -> String {
        self.ini()
            .remove(key)
            .unwrap_or_else(|| panic!("{}: the ini snippet does not set {key}", self.file))
    }

    /// The value in backticks after a bullet label, e.g. "- Scopes: `openid profile`".
    fn bullet(&self, label: &str) -> Option<String> {
        self.text.lines().find_map(|l| {
            let rest = l.trim_start().strip_prefix("- ")?.strip_prefix(label)?;
            let rest = rest.trim_start_matches([':', ' ']);
            Some(rest.strip_prefix('`')?.split('`').next()?.to_string())
        })
    }

    /// The backticked value right after the first `phrase` in the guide.
    fn after(&self, phrase: &str) -> Option<String> {
        let i = self.text.find(phrase)? + phrase.len();
        let rest = self.text[i..].trim_start().strip_prefix('`')?;
        Some(rest.split('`').next()?.to_string())
    }

    fn redirect_uri(&self) -> &str {
        &self.client.redirect_uris[0]
    }

    /// The bridge's `clients add` command for this client, if the guide shows one.
    fn clients_add(&self) -> Option<Vec<String>> {
        self.blocks("sh")
            .iter()
            .flat_map(|b| commands(b))
            .filter_map(|c| mastodon_oidc_argv(&c))
            .find(|a| a.get(1).map(String::as_str) == Some("clients"))
    }
}

fn marker(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("<!-- {name}:"))? + name.len() + 6;
    let end = text[start..].find("-->")? + start;
    Some(text[start..end].trim().to_string())
}

/// Claim names in backticks in the paragraph after the "## Claims … sees" heading.
fn claims_paragraph(text: &str, file: &str) -> BTreeSet<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with("## Claims") && l.ends_with("sees")))
        .skip(1)
        .skip_while(|l| l.trim().is_empty());
    let mut para = String::new();
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
        para.push_str(l);
        para.push('\n');
    }
    assert!(
        !para.is_empty(),
        "{file}: no \"## Claims … sees\" paragraph"
    );
    inline_code(&para)
        .iter()
        .flat_map(|span| {
            span.split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|w| SUPPORTED.contains(&w.as_str()))
        .collect()
}

/// What the relying party asks for, read from its side of the guide.
fn rp_scopes(g: &Guide) -> Vec<String> {
    let ini = g.ini();
    let raw = if let Some(s) = ini.get("scopes") {
        s.clone() // grafana.ini
    } else if let Some(s) = ini.get("OPENID_CONNECT_SCOPES") {
        // Gitea adds openid itself; the source form says the same.
        assert_eq!(
            g.bullet("Additional scopes").as_deref(),
            Some(s.as_str()),
            "{}: the source's scopes and app.ini differ",
            g.file
        );
        format!("openid {s}")
    } else if g.text.contains("oauth2-proxy \\") {
        g.flags("oauth2-proxy")["scope"].clone()
    } else if g.text.contains("occ user_oidc:provider") {
        g.flags("occ")["scope"].clone()
    } else {
        g.bullet("Scopes")
            .unwrap_or_else(|| panic!("{}: where are the relying party's scopes?", g.file))
    };
    let scopes: Vec<String> = raw.split_whitespace().map(String::from).collect();
    for s in &scopes {
        let allowed = g.client.scopes.contains(s) || (s == "email" && g.client.synthetic_email);
        assert!(
            allowed,
            "{}: the RP asks for {s}, which the client does not allow",
            g.file
        );
    }
    scopes
}

/// Whether the guide's relying party sends PKCE.
fn rp_sends_pkce(g: &Guide) -> bool {
    let t = &g.text;
    let pkce = g.ini().get("use_pkce").is_some_and(|v| v == "true")
        || t.contains("--code-challenge-method=S256")
        || t.contains("'use_pkce' => true")
        || t.contains("- PKCE: **on**")
        || t.contains("- PKCE: automatic");
    assert!(
        pkce || !g.client.require_pkce,
        "{}: the RP sends no PKCE, but the client requires it",
        g.file
    );
    pkce
}

// ---------------------------------------------------------------- the service

/// The bridge with one client, and two fake servers: example.social (alice,
/// "Alice Example", and carol) and ops.example (bob).
struct World {
    app: TestApp,
    social: FakeMastodon,
    ops: FakeMastodon,
    _db: TestDb,
}

async fn world(client: &ClientConfig) -> World {
    let db = TestDb::new(Backend::Sqlite).expect("sqlite");
    let mut alice = FakeUser::new(ALICE_ID, "alice");
    alice.display_name = "Alice Example".into();
    let social = FakeMastodon::start(
        FakeConfig::new(Profile::Mastodon44)
            .web_domain("example.social")
            .users(vec![alice, FakeUser::new(CAROL_ID, "carol")]),
    );
    let ops = FakeMastodon::start(
        FakeConfig::new(Profile::Mastodon44)
            .web_domain("ops.example")
            .users(vec![FakeUser::new(BOB_ID, "bob")])
            .auto_approve("bob"),
    );
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for f in [&social, &ops] {
        for (k, v) in f.host_overrides() {
            overrides.insert(k, v.to_string());
        }
    }
    let c = client.clone();
    let app = TestApp::spawn_with(&db, move |cfg| {
        cfg.clients = vec![c];
        cfg.upstream.host_overrides = overrides.into_iter().collect();
    })
    .await;
    World {
        app,
        social,
        ops,
        _db: db,
    }
}

impl World {
    async fn discovery(&self) -> Value {
        http()
            .get(self.app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A URL as a guide writes it, on this service.
    fn here(&self, doc_url: &str) -> String {
        doc_url.replacen(DOC_ISSUER, &self.app.issuer, 1)
    }
}

#[derive(Clone, Copy)]
enum Auth {
    Basic,
    Post,
}

/// One finished login as the guide's relying party does it.
struct Login {
    tokens: Value,
    id_token: Map<String, Value>,
    userinfo: Map<String, Value>,
    raw_id_token: String,
    browser: Browser,
}

async fn log_in(w: &World, g: &Guide, fake: &FakeMastodon, handle: &str, auth: Auth) -> Login {
    let client = &g.client;
    let scopes = rp_scopes(g).join(" ");
    let pkce = rp_sends_pkce(g);
    let mut b = Browser::default();
    let mut u = url::Url::parse(&w.app.url("/authorize")).unwrap();
    u.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", g.redirect_uri()),
        ("scope", scopes.as_str()),
        ("state", "guide-state"),
        ("nonce", "guide-nonce"),
    ]);
    if pkce {
        u.query_pairs_mut().extend_pairs([
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
    }
    let page = b.get(u.as_str()).await;
    assert_eq!(page.status, 200, "{}: {}", g.file, page.body);
    let up = b
        .post(
            &w.app.url("/login"),
            &[("request", &page.input("request")), ("handle", handle)],
        )
        .await;
    assert_eq!(up.status, 303, "{}: {}", g.file, up.body);
    let approved = b.get(&fake.at_ip(&up.location())).await;
    assert_eq!(approved.status, 302, "{}: {}", g.file, approved.body);
    let back = b.get(approved.location().as_str()).await;
    assert_eq!(back.status, 303, "{}: {}", g.file, back.body);
    let to = back.location();
    assert!(
        to.as_str().starts_with(g.redirect_uri()),
        "{}: back at {to}",
        g.file
    );
    assert_eq!(query(&to, "state").as_deref(), Some("guide-state"));
    assert_eq!(query(&to, "iss").as_deref(), Some(w.app.issuer.as_str()));
    let code = query(&to, "code").expect("a code");
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", g.redirect_uri().to_string()),
    ];
    if pkce {
        form.push(("code_verifier", VERIFIER.to_string()));
    }
    let mut req = http().post(w.app.url("/token"));
    match auth {
        Auth::Basic => req = req.basic_auth(&client.id, Some(SECRET)),
        Auth::Post => {
            form.push(("client_id", client.id.clone()));
            form.push(("client_secret", SECRET.to_string()));
        }
    }
    let res = req.form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}: token endpoint", g.file);
    let tokens: Value = res.json().await.unwrap();
    let raw = tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string();
    verify_id_token(w, client, &raw).await;
    let id_token = jwt_payload(&raw);
    let userinfo: Value = http()
        .get(w.app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Login {
        tokens,
        id_token,
        userinfo: userinfo.as_object().expect("userinfo object").clone(),
        raw_id_token: raw,
        browser: b,
    }
}

/// Signature, issuer, audience, expiry and nonce, as `openidconnect` checks them.
async fn verify_id_token(w: &World, client: &ClientConfig, raw: &str) {
    let jwks = CoreJsonWebKeySet::fetch_async(
        &JsonWebKeySetUrl::new(w.app.url("/jwks.json")).unwrap(),
        &rp::http_client,
    )
    .await
    .unwrap();
    let at = chrono::DateTime::from_timestamp(T0 + 60, 0).unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(client.id.clone()),
        ClientSecret::new(SECRET.into()),
        IssuerUrl::new(w.app.issuer.clone()).unwrap(),
        jwks,
    )
    .set_time_fn(move || at);
    let token: CoreIdToken = raw.parse().expect("an ID token");
    token
        .claims(&verifier, &Nonce::new("guide-nonce".into()))
        .unwrap_or_else(|e| panic!("{}: ID token: {e}", client.id));
}

fn jwt_payload(raw: &str) -> Map<String, Value> {
    let part = raw.split('.').nth(1).expect("a JWT");
    let bytes = mastodon_oidc::crypto::decode_base64(part).expect("base64url");
    serde_json::from_slice::<Value>(&bytes)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// Every promised claim in both places, equal, and shaped as the guides say.
fn check_promised(g: &Guide, l: &Login, server: &str, account_id: &str, handle: &str) {
    let sub = subject(server, account_id);
    for claim in &g.claims {
        let (Some(a), Some(b)) = (l.id_token.get(claim), l.userinfo.get(claim)) else {
            panic!(
                "{}: {claim} promised; ID token {:?}, userinfo {:?}",
                g.file, l.id_token, l.userinfo
            )
        };
        assert_eq!(
            a, b,
            "{}: {claim} differs between ID token and userinfo",
            g.file
        );
        let username = handle.split('@').next().unwrap();
        let ok = match claim.as_str() {
            "sub" => a == &json!(sub),
            "email" => a == &json!(format!("{sub}@users.invalid")),
            "email_verified" => a == &json!(false),
            "preferred_username" => a == &json!(handle),
            "nickname" => a == &json!(username),
            "fediverse_handle" => a == &json!(format!("@{handle}")),
            "fediverse_server" => a == &json!(server),
            "groups" => {
                a == &json!(
                    Client::from_config(&g.client, mastodon_oidc::keys::Algorithm::RS256)
                        .groups_for(handle)
                )
            }
            "bot" => a == &json!(false),
            "picture" | "profile" | "fediverse_actor" => {
                a.as_str().is_some_and(|u| u.starts_with("http"))
            }
            "name" => a.as_str().is_some_and(|n| !n.trim().is_empty()),
            _ => true,
        };
        assert!(ok, "{}: {claim} = {a}", g.file);
    }
    assert_eq!(l.id_token["aud"], json!(g.client.id), "{}", g.file);
}

async fn alice_logs_in(w: &World, g: &Guide, auth: Auth) -> Login {
    let l = log_in(w, g, &w.social, "@alice@example.social", auth).await;
    check_promised(g, &l, "example.social", ALICE_ID, "alice@example.social");
    l
}

/// `clients add` as the guide shows it stores the same client as its TOML block.
fn clients_add_matches_toml(g: &Guide) {
    let argv = g
        .clients_add()
        .unwrap_or_else(|| panic!("{}: no `mastodon-oidc clients add` command", g.file));
    Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{}: {argv:?}: {e}", g.file));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite3").display());
    let out = run(
        dir.path(),
        &argv[1..],
        &[("MASTODON_OIDC_DATABASE__URL", &url)],
    );
    assert!(out.status.success(), "{}: {}", g.file, text(&out));
    assert!(text(&out).contains("client_secret:"), "{}", text(&out));
    let store =
        mastodon_oidc::store::Store::connect(&url, 1, std::time::Duration::from_secs(5), false)
            .unwrap();
    let id = g.client.id.clone();
    let row = store
        .run_blocking(move |c| mastodon_oidc::store::clients::get(c, &id))
        .unwrap()
        .expect("the client was stored");
    let mut stored = Client::from_row(&row).unwrap();
    let mut configured = Client::from_config(&g.client, mastodon_oidc::keys::Algorithm::RS256);
    assert!(stored.secret_hash.is_some());
    stored.secret_hash = None;
    configured.secret_hash = None;
    assert_eq!(
        stored, configured,
        "{}: `clients add` and the TOML block differ",
        g.file
    );
}

// ---------------------------------------------------------------- the binary

fn run(dir: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("MASTODON_OIDC_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run the binary")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

// ---------------------------------------------------------------- the guides

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_guide() {
    let g = Guide::load("grafana.md");
    let w = world(&g.client).await;
    let doc = w.discovery().await;
    assert_eq!(g.setting("client_id"), g.client.id);
    for (key, endpoint) in [
        ("auth_url", "authorization_endpoint"),
        ("token_url", "token_endpoint"),
        ("api_url", "userinfo_endpoint"),
    ] {
        assert_eq!(
            json!(w.here(&g.setting(key))),
            doc[endpoint],
            "grafana.ini {key}"
        );
    }
    let mut alice = alice_logs_in(&w, &g, Auth::Basic).await;
    // Grafana's own checks: an email, else auth.oauth.email.missing; a login and a name.
    let claims = |l: &Login, path: &str| l.id_token.get(path).or(l.userinfo.get(path)).cloned();
    for key in [
        "email_attribute_path",
        "login_attribute_path",
        "name_attribute_path",
    ] {
        let path = g.setting(key);
        let v = claims(&alice, &path);
        assert!(
            v.as_ref()
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            "{key} = {path} finds {v:?}"
        );
    }
    if g.setting("use_refresh_token") == "true" {
        assert!(
            alice.tokens["refresh_token"].is_string(),
            "use_refresh_token needs one"
        );
    }
    // role_attribute_path, evaluated as Grafana would for these groups.
    let role_path = &g.setting("role_attribute_path");
    let role = |l: &Login| grafana_role(role_path, claims(l, "groups").unwrap_or(json!([])));
    for group in grafana_role_groups(role_path) {
        assert!(
            g.client.groups.contains_key(&group),
            "{group} is not a configured group"
        );
    }
    assert_eq!(role(&alice), "Admin");
    let bob = log_in(&w, &g, &w.ops, "bob@ops.example", Auth::Basic).await;
    check_promised(&g, &bob, "ops.example", BOB_ID, "bob@ops.example");
    assert_eq!(role(&bob), "Editor");
    w.social.set_login(LoginMode::AutoApprove("carol".into()));
    let carol = log_in(&w, &g, &w.social, "carol@example.social", Auth::Post).await;
    check_promised(
        &g,
        &carol,
        "example.social",
        CAROL_ID,
        "carol@example.social",
    );
    assert_eq!(
        carol.id_token["groups"],
        json!([]),
        "no group: an empty list"
    );
    assert_eq!(role(&carol), "Viewer");
    // signout_redirect_url, with the id_token_hint Grafana adds to it.
    let mut out = url::Url::parse(&w.here(&g.setting("signout_redirect_url"))).unwrap();
    assert_eq!(
        json!(format!("{}{}", w.app.issuer, out.path())),
        doc["end_session_endpoint"]
    );
    out.query_pairs_mut()
        .append_pair("id_token_hint", &alice.raw_id_token);
    let res = alice.browser.get(out.as_str()).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location().as_str(),
        query(&out, "post_logout_redirect_uri").unwrap()
    );
    w.app.stop().await;
}

/// Grafana's JMESPath chain `contains(groups[*], 'G') && 'Role' || … || 'Default'`.
fn grafana_role(path: &str, groups: Value) -> String {
    let groups: Vec<String> = serde_json::from_value(groups).unwrap();
    let quoted = |s: &str| s.trim().trim_matches('\'').to_string();
    for term in path.split("||") {
        match term.split_once("&&") {
            Some((cond, role)) => {
                let g = cond
                    .trim()
                    .strip_prefix("contains(groups[*],")
                    .and_then(|r| r.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("unexpected role_attribute_path term {cond}"));
                if groups.contains(&quoted(g)) {
                    return quoted(role);
                }
            }
            None => return quoted(term),
        }
    }
    panic!("role_attribute_path has no default")
}

fn grafana_role_groups(path: &str) -> Vec<String> {
    path.split("contains(groups[*],")
        .skip(1)
        .map(|r| {
            r.split(')')
                .next()
                .unwrap()
                .trim()
                .trim_matches('\'')
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_guide() {
    let g = Guide::load("keycloak.md");
    let w = world(&g.client).await;
    let alias = g.bullet("Alias").expect("the alias");
    assert!(
        g.redirect_uri()
            .ends_with(&format!("/broker/{alias}/endpoint"))
    );
    assert_eq!(g.after("Client ID").as_deref(), Some(g.client.id.as_str()));
    discovery_import(&w, &g).await;
    let l = alice_logs_in(&w, &g, Auth::Post).await;
    // Keycloak splits `name` itself when given_name and family_name are absent,
    // as the guide says the bridge sends neither.
    for absent in ["given_name", "family_name", "email"] {
        assert!(
            !l.id_token.contains_key(absent) && !l.userinfo.contains_key(absent),
            "{absent}"
        );
    }
    assert_eq!(l.id_token["name"], "Alice Example");
    // Keycloak's logout: id_token_hint, its state and logout_response.
    let mut out = url::Url::parse(
        w.discovery().await["end_session_endpoint"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    out.query_pairs_mut()
        .append_pair("state", "kc-session")
        .append_pair(
            "post_logout_redirect_uri",
            &g.client.post_logout_redirect_uris[0],
        )
        .append_pair("id_token_hint", &l.raw_id_token)
        .append_pair("client_id", &g.client.id);
    let mut b = l.browser;
    let res = b.get(out.as_str()).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location().as_str(),
        format!("{}?state=kc-session", g.client.post_logout_redirect_uris[0])
    );
    clients_add_matches_toml(&g);
    w.app.stop().await;
}

/// The discovery URL the guide gives is the service's, and a relying party
/// that imports it finds every endpoint.
async fn discovery_import(w: &World, g: &Guide) {
    let urls: Vec<&str> = g
        .text
        .split(|c: char| c.is_whitespace() || "`\"'=".contains(c))
        .filter(|s| s.ends_with("/.well-known/openid-configuration"))
        .collect();
    assert!(!urls.is_empty(), "{}: no discovery URL", g.file);
    for url in urls {
        assert_eq!(
            url,
            format!("{DOC_ISSUER}/.well-known/openid-configuration"),
            "{}",
            g.file
        );
    }
    let meta = openidconnect::core::CoreProviderMetadata::discover_async(
        IssuerUrl::new(w.app.issuer.clone()).unwrap(),
        &rp::http_client,
    )
    .await
    .unwrap_or_else(|e| panic!("{}: discovery: {e}", g.file));
    assert!(meta.token_endpoint().is_some() && meta.userinfo_endpoint().is_some());
    assert!(!meta.jwks().keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_guide() {
    let g = Guide::load("auth0.md");
    let w = world(&g.client).await;
    assert!(g.redirect_uri().ends_with("/login/callback"));
    assert_eq!(g.after("Client ID").as_deref(), Some(g.client.id.as_str()));
    discovery_import(&w, &g).await;
    let doc = w.discovery().await;
    // Back channel only: no ID token from the authorization endpoint.
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    let l = alice_logs_in(&w, &g, Auth::Post).await;
    assert!(
        !l.id_token.contains_key("email"),
        "the guide says there is no email"
    );
    clients_add_matches_toml(&g);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_proxy_guide() {
    let g = Guide::load("oauth2-proxy.md");
    let w = world(&g.client).await;
    let flags = g.flags("oauth2-proxy");
    assert_eq!(flags["client-id"], g.client.id);
    assert!(g.client.redirect_uris.contains(&flags["redirect-url"]));
    // The issuer exactly: oauth2-proxy compares it with `iss`.
    assert_eq!(w.here(&flags["oidc-issuer-url"]), w.app.issuer);
    let l = alice_logs_in(&w, &g, Auth::Basic).await;
    assert_eq!(l.id_token["iss"], json!(w.here(&flags["oidc-issuer-url"])));
    oauth2_proxy_accepts(&flags, &l).expect("oauth2-proxy accepts alice");
    // The alternative without synthetic_email.
    let mut plain = g.client.clone();
    plain.synthetic_email = false;
    let alt = Guide {
        client: plain,
        claims: ["sub", "preferred_username"].map(String::from).into(),
        text: g.text.clone(),
        file: g.file,
    };
    let w2 = world(&alt.client).await;
    let l2 = alice_logs_in(&w2, &alt, Auth::Basic).await;
    assert!(!l2.id_token.contains_key("email"));
    let mut flags2 = flags.clone();
    flags2.remove("insecure-oidc-allow-unverified-email");
    flags2.insert("oidc-email-claim".into(), "preferred_username".into());
    flags2.insert("email-domain".into(), "*".into());
    assert!(
        g.text.contains("--oidc-email-claim=preferred_username")
            && g.text.contains("--email-domain=*")
    );
    oauth2_proxy_accepts(&flags2, &l2).expect("the alternative works");
    // --user-id-claim would replace the email claim (the guide warns).
    let mut bad = flags.clone();
    bad.insert("user-id-claim".into(), "preferred_username".into());
    assert!(oauth2_proxy_accepts(&bad, &l).is_err());
    w.app.stop().await;
    w2.app.stop().await;
}

/// oauth2-proxy's session checks for the oidc provider (providers.go,
/// provider_data.go): the email claim (or the deprecated user-id claim in
/// its place), email_verified, the email domain and the allowed groups.
fn oauth2_proxy_accepts(flags: &BTreeMap<String, String>, l: &Login) -> Result<(), String> {
    let flag = |k: &str| flags.get(k).map(String::as_str);
    let mut email_claim = flag("oidc-email-claim").unwrap_or("email");
    if let Some(user_id) = flag("user-id-claim")
        && email_claim == "email"
        && user_id != "email"
    {
        email_claim = user_id;
    }
    let claims = |k: &str| l.id_token.get(k).or(l.userinfo.get(k));
    let email = claims(email_claim)
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or("neither the id_token nor the profileURL set an email")?;
    let allow_unverified = flag("insecure-oidc-allow-unverified-email") == Some("true");
    if email_claim == "email"
        && !allow_unverified
        && claims("email_verified") == Some(&json!(false))
    {
        return Err(format!("email in id_token ({email}) isn't verified"));
    }
    match flag("email-domain") {
        Some("*") => {}
        Some(d) if email.ends_with(&format!("@{d}")) => {}
        d => return Err(format!("{email} is not in --email-domain {d:?}")),
    }
    if let Some(group) = flag("allowed-group") {
        let groups = claims(flag("oidc-groups-claim").unwrap_or("groups"));
        if !groups
            .and_then(Value::as_array)
            .is_some_and(|a| a.contains(&json!(group)))
        {
            return Err(format!("not in --allowed-group {group}: {groups:?}"));
        }
    }
    claims("sub").ok_or("no sub for X-Forwarded-User")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_guide() {
    let g = Guide::load("gitea.md");
    let w = world(&g.client).await;
    let name = g
        .after("**OpenID Connect**, name")
        .expect("the source name");
    assert!(
        g.redirect_uri()
            .ends_with(&format!("/user/oauth2/{name}/callback")),
        "the callback ends in the source name {name}"
    );
    assert_eq!(g.after("Client ID").as_deref(), Some(g.client.id.as_str()));
    discovery_import(&w, &g).await;
    // No PKCE from Gitea: the login works because the client says so.
    assert!(!rp_sends_pkce(&g));
    let l = alice_logs_in(&w, &g, Auth::Basic).await;
    // Gitea's auto-registration: an email and a username, or the link page.
    assert_eq!(g.setting("ENABLE_AUTO_REGISTRATION"), "true");
    let email = l.userinfo["email"].as_str().expect("an email");
    let nickname = l.userinfo["nickname"].as_str().unwrap();
    // NormalizeUserName cuts at "@": preferred_username gives the same name.
    let preferred = l.userinfo["preferred_username"].as_str().unwrap();
    assert_eq!(preferred.split('@').next().unwrap(), nickname);
    let username = match g.setting("USERNAME").as_str() {
        "nickname" => nickname,
        "preferred_username" => preferred.split('@').next().unwrap(),
        other => panic!("USERNAME = {other}"),
    };
    assert_eq!(username, "alice");
    // A synthetic address cannot confirm an account.
    assert!(email.ends_with(".invalid"));
    assert_eq!(g.setting("REGISTER_EMAIL_CONFIRM"), "false");
    assert_ne!(g.setting("ACCOUNT_LINKING"), "auto");
    clients_add_matches_toml(&g);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nextcloud_guide() {
    let g = Guide::load("nextcloud.md");
    let w = world(&g.client).await;
    let flags = g.flags("occ");
    assert_eq!(flags["clientid"], g.client.id);
    assert_eq!(
        w.here(&flags["discoveryuri"]),
        w.app.url("/.well-known/openid-configuration")
    );
    discovery_import(&w, &g).await;
    assert!(g.redirect_uri().ends_with("/apps/user_oidc/code"));
    let l = alice_logs_in(&w, &g, Auth::Post).await;
    for mapping in ["mapping-uid", "mapping-display-name"] {
        let claim = &flags[mapping];
        assert!(
            g.claims.contains(claim),
            "{mapping}={claim} is a promised claim"
        );
        assert!(l.userinfo.contains_key(claim.as_str()));
    }
    clients_add_matches_toml(&g);
    w.app.stop().await;
}

// ---------------------------------------------------------------- claims.md

/// The table in claims.md, row by row: (claims, scope, row text).
fn claims_table() -> Vec<(Vec<String>, String, String)> {
    read("docs/claims.md")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let names = cells[0]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            (names, cells[1].trim_matches('`').to_string(), l.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_reference_matches_what_the_bridge_emits() {
    let table = claims_table();
    let documented: BTreeSet<String> = table.iter().flat_map(|(n, _, _)| n.clone()).collect();
    // Every emitted claim is documented, and discovery advertises each one.
    let registered = ["auth_time", "nonce"];
    for c in SUPPORTED.iter().filter(|c| !registered.contains(c)) {
        assert!(documented.contains(*c), "claims.md lacks {c}");
    }
    let client: ClientConfig = toml::from_str(&format!(
        r#"id = "everything"
name = "Everything"
redirect_uris = ["https://rp.example/cb"]
secret = "{SECRET}"
scopes = ["openid", "profile", "email"]
synthetic_email = true
groups = {{ admins = ["alice@example.social"] }}
"#
    ))
    .unwrap();
    let w = world(&client).await;
    let doc = w.discovery().await;
    for c in &documented {
        assert!(
            doc["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(c)),
            "{c} not in claims_supported"
        );
    }
    // The scope column: exactly these claims for these scopes. `locale`
    // depends on the server ("when the server reports one"); the fake has none.
    let conditional: Vec<&str> = table
        .iter()
        .filter(|(_, _, row)| row.contains("when the server reports"))
        .flat_map(|(n, _, _)| n.iter().map(String::as_str))
        .collect();
    assert_eq!(conditional, ["locale"]);
    for scopes in ["openid", "openid profile", "openid profile email"] {
        let granted: Vec<&str> = scopes.split(' ').collect();
        let want: BTreeSet<String> = table
            .iter()
            .filter(|(_, scope, _)| granted.contains(&scope.as_str()))
            .flat_map(|(n, _, _)| n.clone())
            .filter(|n| !conditional.contains(&n.as_str()))
            .collect();
        let g = Guide {
            file: "claims.md",
            text: format!("- Scopes: `{scopes}`\n- PKCE: **on**\n"),
            client: client.clone(),
            claims: want.clone(),
        };
        let l = alice_logs_in(&w, &g, Auth::Post).await;
        let got: BTreeSet<String> = l.userinfo.keys().cloned().collect();
        assert_eq!(got, want, "userinfo for scope {scopes}");
        let registered_claims = [
            "iss",
            "aud",
            "azp",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
        ];
        let id: BTreeSet<String> = l
            .id_token
            .keys()
            .filter(|k| !registered_claims.contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(id, want, "ID token for scope {scopes}");
        for r in registered_claims {
            assert!(l.id_token.contains_key(r), "the ID token carries {r}");
        }
    }
    w.app.stop().await;
}

// ---------------------------------------------------------------- URLs and commands

fn docs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "the guides are in docs/");
    out
}

/// Every bridge URL a guide tells someone to use is the issuer, the
/// discovery document or an endpoint discovery names, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bridge_url_in_the_guides_is_one_discovery_names() {
    let g = Guide::load("grafana.md");
    let w = world(&g.client).await;
    let doc = w.discovery().await;
    let mut known: BTreeSet<String> = doc
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_endpoint") || *k == "jwks_uri" || *k == "issuer")
        .filter_map(|(_, v)| v.as_str().map(String::from))
        .collect();
    let discovery = w.app.url("/.well-known/openid-configuration");
    known.insert(discovery.clone());
    for (file, text) in docs() {
        for (i, _) in text.match_indices(DOC_ISSUER) {
            let url: String = text[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"`\"')>,*]".contains(*c))
                .collect();
            let base = url.split('?').next().unwrap();
            assert!(
                known.contains(&w.here(base)),
                "{file}: {url} is not an endpoint the discovery document names ({known:?})"
            );
        }
    }
    // And each of those answers.
    let jwks = doc["jwks_uri"].as_str().unwrap().to_string();
    for url in [discovery, jwks] {
        assert_eq!(
            http().get(&url).send().await.unwrap().status(),
            200,
            "{url}"
        );
    }
    w.app.stop().await;
}

/// Every `mastodon-oidc …` command in a code block parses as the binary
/// would parse it; every one named in prose names existing subcommands.
#[test]
fn every_documented_command_exists() {
    let mut seen = 0;
    for (file, text) in docs() {
        for block in blocks_of(&text, "sh") {
            for c in commands(&block) {
                if let Some(argv) = mastodon_oidc_argv(&c) {
                    Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{file}: {c}\n{e}"));
                    seen += 1;
                }
            }
        }
        for span in inline_code(&text) {
            let words: Vec<&str> = span.split_whitespace().collect();
            let path: Vec<&str> = match words.first() {
                Some(&"mastodon-oidc") => words[1..].to_vec(),
                // `keys list|rotate`: every alternative exists.
                Some(top) if words.len() == 2 && words[1].contains('|') => {
                    for sub in words[1].split('|') {
                        subcommand_exists(&file, &[top, sub]);
                    }
                    continue;
                }
                _ => continue,
            };
            subcommand_exists(&file, &path);
            seen += 1;
        }
    }
    assert!(seen > 10, "only {seen} commands found");
}

fn subcommand_exists(file: &str, words: &[&str]) {
    let mut cmd = Cli::command();
    for w in words {
        if w.starts_with('-') || !cmd.has_subcommands() {
            break;
        }
        cmd = cmd
            .find_subcommand(w)
            .unwrap_or_else(|| {
                panic!(
                    "{file}: `mastodon-oidc {}`: no subcommand {w}",
                    words.join(" ")
                )
            })
            .clone();
    }
}

/// deploy.md's recipe gives the hash the service expects for that secret.
#[test]
fn the_client_secret_recipe_makes_a_matching_hash() {
    let deploy = read("docs/deploy.md");
    let recipe = blocks_of(&deploy, "sh")
        .find(|b| b.contains("openssl dgst -sha256"))
        .expect("the recipe");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{recipe}\necho \"$secret\""))
        .output()
        .expect("sh (and openssl) for the recipe");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let [hash, secret] = lines[..] else {
        panic!("the recipe printed {stdout:?}")
    };
    assert!(secret.len() >= 16);
    assert_eq!(format!("sha256:{hash}"), format_secret_hash(secret));
}

// ---------------------------------------------------------------- deployment

fn unit() -> Vec<(String, String, String)> {
    let mut section = String::new();
    read("deploy/mastodon-oidc.service")
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('[') {
                section = l.trim_matches(['[', ']']).to_string();
                return None;
            }
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=').expect("Key=value");
            Some((section.clone(), k.to_string(), v.to_string()))
        })
        .collect()
}

fn directive(unit: &[(String, String, String)], key: &str) -> String {
    let found: Vec<&String> = unit
        .iter()
        .filter(|(s, k, _)| s == "Service" && k == key)
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "{key}= once in [Service]");
    found[0].clone()
}

/// Every `MASTODON_OIDC_…` name the deployment docs use is a setting the
/// configuration reads (an unknown one is an error at start-up).
fn assert_config_reads(file: &str, name: &str) {
    let err = Config::load(None, [(name.to_string(), "1".to_string())]).err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        !text.contains("unknown field") && !text.contains("is not a section"),
        "{file}: {name} is not a setting: {text}"
    );
}

fn env_names(text: &str) -> BTreeSet<String> {
    text.match_indices("MASTODON_OIDC_")
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.ends_with('_'))
        .collect()
}

#[test]
fn the_systemd_unit_runs_what_exists() {
    let unit = unit();
    let exec = directive(&unit, "ExecStart");
    let argv: Vec<String> = args(&exec);
    assert_eq!(argv[0], "/usr/local/bin/mastodon-oidc");
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("ExecStart: {e}"));
    assert!(
        matches!(cli.command, Some(CliCommand::Serve)),
        "ExecStart runs serve"
    );
    let config = cli.config.expect("--config");
    let user = directive(&unit, "User");
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "a non-root user"
    );
    assert_eq!(directive(&unit, "Group"), user);
    for (key, want) in [
        ("NoNewPrivileges", "true"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "true"),
        ("PrivateTmp", "true"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(directive(&unit, key), want, "{key}");
    }
    // The graceful stop fits in the time systemd gives it (app.rs).
    let app = read("src/app.rs");
    let i = app
        .find(".shutdown_timeout(")
        .expect("app.rs sets a shutdown timeout")
        + 18;
    let grace: u64 = app[i..].split(')').next().unwrap().parse().unwrap();
    let stop: u64 = directive(&unit, "TimeoutStopSec").parse().unwrap();
    assert!(
        stop > grace,
        "TimeoutStopSec={stop} but the graceful stop takes up to {grace} s"
    );
    // RestartPreventExitStatus is the binary's status for a bad configuration.
    let dir = tempfile::tempdir().unwrap();
    let bad = run(dir.path(), &args("serve"), &[("MASTODON_OIDC_ISUER", "x")]);
    assert_eq!(
        bad.status.code().map(|c| c.to_string()),
        Some(directive(&unit, "RestartPreventExitStatus")),
        "{}",
        text(&bad)
    );
    // The state directory is the data_dir deploy.md's configuration names,
    // and the environment file is the one deploy.md describes.
    let deploy = read("docs/deploy.md");
    let state = format!("/var/lib/{}", directive(&unit, "StateDirectory"));
    assert_eq!(directive(&unit, "WorkingDirectory"), state);
    let (file, env) = deploy_files(&deploy);
    assert_eq!(file.data_dir, Path::new(&state));
    assert_eq!(config, Path::new("/etc/mastodon-oidc/config.toml"));
    let env_file = directive(&unit, "EnvironmentFile");
    assert!(
        deploy.contains(&format!("# {env_file}\n")),
        "deploy.md shows {env_file}"
    );
    assert!(!env.is_empty());
    // Every environment name in the unit and the deployment docs is read.
    for f in [
        "deploy/mastodon-oidc.service",
        "docs/deploy.md",
        "docs/replicas.md",
    ] {
        for name in env_names(&read(f)) {
            assert_config_reads(f, &name);
        }
    }
}

/// deploy.md's config.toml with its environment file, as the unit loads them.
fn deploy_files(deploy: &str) -> (Config, Vec<(String, String)>) {
    let toml_block = blocks_of(deploy, "toml")
        .find(|b| b.contains("/etc/mastodon-oidc/config.toml"))
        .expect("deploy.md shows config.toml");
    let env_block = blocks_of(deploy, "sh")
        .find(|b| b.starts_with("# /etc/mastodon-oidc/env"))
        .expect("deploy.md shows the environment file");
    let env = env_of(&env_assignments(&env_block));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml_block).unwrap();
    let config =
        Config::load(Some(&path), env.clone()).unwrap_or_else(|e| panic!("deploy.md: {e}"));
    (config, env)
}

#[test]
fn deployment_snippets_load() {
    let deploy = read("docs/deploy.md");
    let (c, env) = deploy_files(&deploy);
    assert!(!c.is_development());
    assert_eq!(c.issuer(), DOC_ISSUER);
    assert!(env.iter().any(|(k, _)| k == "MASTODON_OIDC_MASTER_SECRET"));
    assert!(c.database_url().starts_with("postgres://"));
    // replicas.md: the shared environment file is a whole configuration.
    let replicas = read("docs/replicas.md");
    let block = blocks_of(&replicas, "sh")
        .find(|b| b.contains("MASTODON_OIDC_MODE"))
        .expect("the replicas' environment");
    // The master secret file the guide names, made here (validation reads it).
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, mastodon_oidc::crypto::b64url(&[4; 32])).unwrap();
    let mut vars = env_of(&env_assignments(&block));
    let named = vars
        .iter_mut()
        .find(|(k, _)| k == "MASTODON_OIDC_MASTER_SECRET_FILE")
        .expect("the replicas share a master secret file");
    named.1 = key_file.display().to_string();
    let c = Config::load(None, vars).unwrap_or_else(|e| panic!("replicas.md: {e}"));
    assert!(!c.is_development());
    assert!(
        !c.database.run_migrations,
        "replicas leave migrations to `migrate`"
    );
    assert!(c.database_url().starts_with("postgres://"));
    assert_eq!(
        c.limits.trusted_proxies.len(),
        1,
        "nginx is a trusted proxy"
    );
    assert!(c.master_secret_file.is_some());
    // key-rotation.md quotes the defaults.
    let rotation = read("docs/key-rotation.md");
    let block = blocks_of(&rotation, "toml").next().expect("the settings");
    let quoted: toml::Table = block.parse().unwrap();
    let defaults = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    let signing = toml::Value::try_from(&defaults.signing).unwrap();
    let tokens = toml::Value::try_from(&defaults.tokens).unwrap();
    for (section, values) in &quoted {
        let actual = match section.as_str() {
            "signing" => &signing,
            "tokens" => &tokens,
            other => panic!("key-rotation.md: unexpected [{other}]"),
        };
        for (k, v) in values.as_table().unwrap() {
            assert_eq!(Some(v), actual.get(k), "key-rotation.md: {section}.{k}");
        }
    }
}

/// key-rotation.md: the commands show the states it names, the SQL it gives
/// deletes a key, and the JWKS carries the caching header it quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_guide_does_what_it_says() {
    let guide = read("docs/key-rotation.md");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite3").display());
    let env = [("MASTODON_OIDC_DATABASE__URL", url.as_str())];
    let documented: Vec<Vec<String>> = blocks_of(&guide, "sh")
        .flat_map(|b| commands(&b))
        .filter_map(|c| mastodon_oidc_argv(&c))
        .collect();
    let find = |tail: &str| {
        documented
            .iter()
            .find(|a| a[1..].join(" ") == tail)
            .unwrap_or_else(|| panic!("key-rotation.md shows `mastodon-oidc {tail}`"))
            .clone()
    };
    let (rotate, list, urgent) = (
        find("keys rotate --alg RS256"),
        find("keys list"),
        find("keys rotate --alg RS256 --now"),
    );
    let sh = |argv: &[String]| {
        let out = run(dir.path(), &argv[1..], &env);
        assert!(out.status.success(), "{argv:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // kid, alg, state, active_at, retired_at, expires_at
    let row_of = |listing: &str, kid: &str| -> Vec<String> {
        listing
            .lines()
            .find(|l| l.starts_with(kid))
            .unwrap_or_else(|| panic!("{kid} in {listing}"))
            .split('\t')
            .map(String::from)
            .collect()
    };
    let state_of = |listing: &str, kid: &str| row_of(listing, kid)[2].clone();
    let kid_of = |out: &str| {
        out.split_whitespace()
            .nth(3)
            .expect("new RS256 key KID …")
            .to_string()
    };
    let first = kid_of(&sh(&urgent));
    assert_eq!(state_of(&sh(&list), &first), "signing");
    let next = kid_of(&sh(&rotate));
    let listing = sh(&list);
    assert_eq!(state_of(&listing, &next), "next (published)");
    assert_eq!(
        state_of(&listing, &first),
        "signing",
        "the old key signs until then"
    );
    let third = kid_of(&sh(&urgent));
    let listing = sh(&list);
    assert_eq!(state_of(&listing, &third), "signing");
    assert_eq!(state_of(&listing, &first), "retired (published)");
    // Published after retirement for the longest token lifetime plus the skew.
    let row = row_of(&listing, &first);
    let (retired, expires): (i64, i64) = (row[4].parse().unwrap(), row[5].parse().unwrap());
    let defaults = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    assert!(guide.contains("`max(tokens.id_token_ttl_secs, tokens.access_token_ttl_secs)`"));
    assert_eq!(
        expires - retired,
        defaults
            .tokens
            .id_token_ttl_secs
            .max(defaults.tokens.access_token_ttl_secs)
            + defaults.signing.clock_skew_secs
    );
    for state in [
        "`signing`",
        "`next (published)`",
        "`retired (published)`",
        "`expired`",
    ] {
        assert!(guide.contains(state), "key-rotation.md names {state}");
    }
    // The SQL it gives for a compromised key.
    let sql = inline_code(&guide)
        .into_iter()
        .find(|s| s.starts_with("DELETE FROM signing_keys WHERE kid"))
        .expect("the SQL")
        .replace("<kid>", &third);
    let store =
        mastodon_oidc::store::Store::connect(&url, 1, std::time::Duration::from_secs(5), false)
            .unwrap();
    let exec = |sql: String| {
        store
            .run_blocking(move |c| {
                use diesel::RunQueryDsl;
                Ok(match c {
                    AnyConnection::Sqlite(c) => diesel::sql_query(sql).execute(c)?,
                    AnyConnection::Postgresql(c) => diesel::sql_query(sql).execute(c)?,
                })
            })
            .unwrap()
    };
    assert_eq!(exec(sql), 1);
    assert!(!sh(&list).contains(&third));
    // A key past its expiry (housekeeping deletes it later).
    exec(format!(
        "UPDATE signing_keys SET expires_at = 1 WHERE kid = '{first}'"
    ));
    assert_eq!(state_of(&sh(&list), &first), "expired");
    // The caching header relying parties see.
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = TestApp::spawn(&db).await;
    let res = http().get(app.url("/jwks.json")).send().await.unwrap();
    let header = res.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(
        guide.contains(&format!("`Cache-Control: {header}`")),
        "key-rotation.md quotes Cache-Control: {header}"
    );
    app.stop().await;
}

/// Every relying-party guide has the parts the checks above read.
#[test]
fn guides_parse_as_guides() {
    for file in [
        "grafana.md",
        "keycloak.md",
        "auth0.md",
        "oauth2-proxy.md",
        "gitea.md",
        "nextcloud.md",
    ] {
        let g = Guide::load(file);
        rp_scopes(&g);
        rp_sends_pkce(&g);
    }
}

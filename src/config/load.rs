//! Reading the configuration: the TOML file, then the environment, into a
//! [`Config`]. Every problem is collected. A message names the key, where it
//! came from (file line and column, or the environment variable) and the kind
//! of problem, never the value: it may be a secret.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{ClientConfig, Config, ENV_PREFIX};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Where values came from, to say where a problem is.
struct Sources {
    /// (name to show, text) of the file.
    file: Option<(String, String)>,
    /// Key paths set by the environment, the variable that set each, and
    /// its raw text.
    env: Vec<(Vec<String>, String, String)>,
}

impl Sources {
    fn origin(&self, path: &[Seg]) -> Option<String> {
        let keys: Vec<String> = path
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.clone()),
                Seg::Index(_) => None,
            })
            .collect();
        if let Some((_, var, _)) = self
            .env
            .iter()
            .find(|(p, _, _)| p.starts_with(&keys) || keys.starts_with(p))
        {
            return Some(format!("environment variable {var}"));
        }
        let (name, text) = self.file.as_ref()?;
        let at = locate(text, path)?;
        Some(format!("{name} {}", position(text, at)))
    }

    /// The raw text of the variable that set exactly this key.
    fn env_text(&self, path: &[Seg]) -> Option<&str> {
        let keys: Vec<&str> = path
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect();
        self.env
            .iter()
            .find(|(p, _, _)| p.iter().map(String::as_str).eq(keys.iter().copied()))
            .map(|(_, _, raw)| raw.as_str())
    }
}

/// The problems found so far, and the keys they were about.
pub(super) struct Report<'a> {
    problems: &'a mut Vec<String>,
    keys: Vec<(String, String)>,
}

impl Report<'_> {
    fn add(&mut self, sources: &Sources, path: &[Seg], kind: &str) {
        let at = sources
            .origin(path)
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        self.problems.push(format!("{}: {kind}{at}", display(path)));
        let top = display(
            &path[..path.len().min(match path.get(1) {
                Some(Seg::Index(_)) => 2,
                _ => 1,
            })],
        );
        let last = match path.last() {
            Some(Seg::Key(k)) => k.clone(),
            _ => top.clone(),
        };
        self.keys.push((top, last));
    }

    /// A validation problem that only repeats one already reported (the
    /// value was set aside, so validation saw the default).
    pub(super) fn repeats(&self, problem: &str) -> bool {
        self.keys
            .iter()
            .any(|(top, last)| problem.starts_with(top.as_str()) && problem.contains(last.as_str()))
    }
}

/// What could be read: the configuration and, for each of its clients, its
/// index in the input (a client that could not be read is left out).
pub(super) type Read = (Config, Vec<usize>);

/// Read the file and the environment; `None` when nothing could be built.
pub(super) fn read<'a>(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &'a mut Vec<String>,
) -> (Option<Read>, Report<'a>) {
    let mut usable = true;
    let mut table = toml::Table::new();
    let mut sources = Sources {
        file: None,
        env: vec![],
    };
    if let Some(path) = file {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Err(e) => {
                problems.push(format!("cannot read {name}: {e}"));
                usable = false;
            }
            Ok(text) => {
                match parse_file(&text) {
                    Ok(t) => table = t,
                    Err(errors) => {
                        for (span, message) in errors {
                            problems.push(format!("{name} {}: {message}", position(&text, span)));
                        }
                        usable = false;
                    }
                }
                sources.file = Some((name, text));
            }
        }
    }
    sources.env = apply_env(&mut table, env, problems);
    let mut report = Report {
        problems,
        keys: vec![],
    };
    if !usable {
        return (None, report);
    }
    let config = build(table, &sources, &mut report);
    (config, report)
}

/// Every syntax error (offset, message), or the table.
fn parse_file(text: &str) -> Result<toml::Table, Vec<(usize, String)>> {
    let (_, errors) = toml::de::DeTable::parse_recoverable(text);
    let errors: Vec<_> = errors.iter().map(spanned_message).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    text.parse::<toml::Table>()
        .map_err(|e| vec![spanned_message(&e)])
}

/// The parser's description of a syntax error, without the source line
/// that `Display` would quote (it may hold a secret).
fn spanned_message(e: &toml::de::Error) -> (usize, String) {
    (
        e.span().map(|s| s.start).unwrap_or(0),
        e.message().trim().to_string(),
    )
}

/// `line L, column C` of byte offset `at`.
fn position(text: &str, at: usize) -> String {
    let before = &text[..floor_char_boundary(text, at)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The byte offset of the key at `path` in the file.
fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut table = doc.into_inner();
    let mut found = None;
    let mut rest = path;
    loop {
        let Some((Seg::Key(key), tail)) = rest.split_first() else {
            return found;
        };
        let Some((k, v)) = table.into_iter().find(|(k, _)| k.get_ref() == key) else {
            return found;
        };
        found = Some(k.span().start);
        rest = tail;
        let mut value = v.into_inner();
        if let Some((Seg::Index(i), tail)) = rest.split_first() {
            let DeValue::Array(items) = value else {
                return found;
            };
            let Some(item) = items.into_iter().nth(*i) else {
                return found;
            };
            found = Some(item.span().start);
            value = item.into_inner();
            rest = tail;
        }
        match value {
            DeValue::Table(t) => table = t,
            _ => return found,
        }
    }
}

/// The configuration, with every value that does not fit set aside (and
/// reported) so the rest can still be read and validated.
fn build(mut table: toml::Table, sources: &Sources, report: &mut Report) -> Option<Read> {
    let clients = table.remove("clients");
    let mut config: Config = collect(toml::Value::Table(table), &[], sources, report)?;
    let mut indices = vec![];
    let at = [Seg::Key("clients".into())];
    match clients {
        None => {}
        Some(toml::Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let at = [at[0].clone(), Seg::Index(i)];
                if let Some(c) = collect::<ClientConfig>(item, &at, sources, report) {
                    config.clients.push(c);
                    indices.push(i);
                }
            }
        }
        Some(_) => report.add(sources, &at, "wrong type: expected an array of tables"),
    }
    Some((config, indices))
}

/// Deserialize `value`, setting aside each key that fails until the rest
/// fits; None if nothing is left to build `T` from.
fn collect<T: DeserializeOwned>(
    mut value: toml::Value,
    at: &[Seg],
    sources: &Sources,
    report: &mut Report,
) -> Option<T> {
    let mut set_aside: Vec<Vec<String>> = vec![];
    // Each round removes a key, so this ends; the bound is a backstop.
    for _ in 0..200 {
        let err = match T::deserialize(value.clone()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let mut keys = error_keys(&err);
        let message = err.message();
        // An environment variable's text is typed by its look, so a name
        // like `2024` arrives as a number: where a string is wanted, it is one.
        if message.contains("expected a string")
            && !keys.is_empty()
            && let Some(raw) = sources.env_text(&full(at, &keys))
            && replace(&mut value, &keys, toml::Value::String(raw.to_string()))
        {
            continue;
        }
        let quoted = first_quoted(message, '`');
        if let (true, Some(field)) = (message.starts_with("missing field"), &quoted) {
            let mut missing = keys.clone();
            missing.push(field.clone());
            // Missing only because we set it aside: not a problem of its own.
            if !set_aside.contains(&missing) {
                report.add(sources, &full(at, &missing), "is required");
            }
        } else {
            if let (true, Some(field)) = (message.starts_with("unknown field"), quoted) {
                keys.push(field);
            }
            report.add(sources, &full(at, &keys), &kind(message));
        }
        if keys.is_empty() || !remove(&mut value, &keys) {
            return None;
        }
        set_aside.push(keys);
    }
    None
}

fn full(at: &[Seg], keys: &[String]) -> Vec<Seg> {
    at.iter()
        .cloned()
        .chain(keys.iter().cloned().map(Seg::Key))
        .collect()
}

/// The key path of a deserialization error: toml prints it as the last line,
/// "in `a.b`", for errors without a source position.
fn error_keys(err: &toml::de::Error) -> Vec<String> {
    err.to_string()
        .lines()
        .rev()
        .find_map(|l| {
            l.trim()
                .strip_prefix("in `")?
                .strip_suffix('`')
                .map(str::to_string)
        })
        .map(|k| k.split('.').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Replace the value at `keys` unless it already is `new` (so a retry
/// cannot loop).
fn replace(value: &mut toml::Value, keys: &[String], new: toml::Value) -> bool {
    let mut at = value;
    for k in keys {
        match at.get_mut(k.as_str()) {
            Some(v) => at = v,
            None => return false,
        }
    }
    if *at == new {
        return false;
    }
    *at = new;
    true
}

fn remove(value: &mut toml::Value, keys: &[String]) -> bool {
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut at = value;
    for k in parents {
        match at.get_mut(k.as_str()) {
            Some(v) => at = v,
            None => return false,
        }
    }
    at.as_table_mut().and_then(|t| t.remove(last)).is_some()
}

fn first_quoted(text: &str, quote: char) -> Option<String> {
    let (_, rest) = text.split_once(quote)?;
    rest.split_once(quote).map(|(q, _)| q.to_string())
}

/// serde's message without the value it quotes (`invalid type: string
/// "postgres://u:pw@…", expected …`).
fn kind(message: &str) -> String {
    if message.starts_with("unknown field") {
        return "unknown setting".into();
    }
    let expected = message
        .rfind(", expected ")
        .map(|i| &message[i + ", expected ".len()..]);
    let found = message
        .split_once(": ")
        .map(|(_, rest)| rest.split(['"', '`', ',']).next().unwrap_or("").trim());
    match (message.split(':').next(), expected, found) {
        (Some("invalid type"), Some(e), Some(f)) => {
            format!(
                "wrong type: expected {}, found {}",
                expected_kind(e),
                found_kind(f)
            )
        }
        (Some("invalid value"), Some(e), _) => format!("invalid value: expected {e}"),
        _ if message.starts_with("unknown variant") => match expected {
            Some(e) => format!("unknown value, expected {e}"),
            None => "unknown value".into(),
        },
        _ if message.starts_with("invalid length") => message.into(),
        // Anything else: without whatever it quotes.
        _ => strip_quoted(message),
    }
}

fn expected_kind(e: &str) -> String {
    match e {
        _ if e.starts_with("struct ") => "a table".into(),
        "a sequence" => "an array".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        other => other.into(),
    }
}

fn found_kind(f: &str) -> &str {
    match f {
        "string" => "a string",
        "integer" => "an integer",
        "floating point" => "a float",
        "boolean" => "a boolean",
        "sequence" => "an array",
        "map" => "a table",
        other => other,
    }
}

fn strip_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

/// Merge `MASTODON_OIDC_A__B=value` into the table at `a.b`. Values that read
/// as TOML booleans, integers, arrays or inline tables keep that type.
/// Returns the key paths set, with their variables.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Vec<String>,
) -> Vec<(Vec<String>, String, String)> {
    let mut vars: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        // The `--config` flag's own variable, not a setting.
        .filter(|(k, _)| k != "MASTODON_OIDC_CONFIG")
        .collect();
    vars.sort();
    let mut set = vec![];
    for (key, raw) in vars {
        let path: Vec<String> = key[ENV_PREFIX.len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        if path.iter().any(|p| p.is_empty()) {
            problems.push(format!("environment variable {key} has an empty key part"));
            continue;
        }
        let value = match env_value(&raw) {
            Ok(v) => v,
            Err((at, message)) => {
                problems.push(format!(
                    "environment variable {key}: not valid TOML at column {}: {message}",
                    at + 1
                ));
                continue;
            }
        };
        match insert_path(table, &path, value) {
            Ok(()) => set.push((path, key, raw)),
            Err(section) => problems.push(format!(
                "environment variable {key}: {section} is not a section"
            )),
        }
    }
    set
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("non-empty");
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    match table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(t) => insert_path(t, rest, value),
        _ => Err(first.clone()),
    }
}

/// A typed value when it reads as one (an array or inline table must parse:
/// taking it as a string would hide the mistake); else the string itself.
/// The error is (character offset, message), never the text.
fn env_value(raw: &str) -> Result<toml::Value, (usize, String)> {
    use serde::Deserialize;
    let t = raw.trim();
    let structured = t.starts_with('[') || t.starts_with('{');
    let scalar = t == "true" || t == "false" || t.parse::<i64>().is_ok();
    if !(structured || scalar) {
        return Ok(toml::Value::String(raw.to_string()));
    }
    let parsed = toml::de::ValueDeserializer::parse(t).and_then(toml::Value::deserialize);
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if !structured => Ok(toml::Value::String(raw.to_string())),
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            Err((
                t[..floor_char_boundary(t, at)].chars().count(),
                e.message().trim().to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests;

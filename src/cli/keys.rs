//! `keys list|rotate`.

use clap::Subcommand;

use super::UsageError;
use crate::config::Config;
use crate::keys::{self, Algorithm};
use crate::store;

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List signing keys and their state.
    List,
    /// Add a new signing key. It is published now and signs after
    /// `signing.publish_before_use_secs`; the old one stays published until
    /// every token it signed has expired.
    Rotate {
        /// Default: `signing.algorithm`.
        #[arg(long)]
        alg: Option<String>,
        /// Sign with the new key at once (after a key compromise). Relying
        /// parties that cached the JWKS will reject tokens until they re-fetch.
        #[arg(long)]
        now: bool,
    },
}

pub fn run(config: &Config, cmd: KeysCmd) -> anyhow::Result<()> {
    let store = crate::app::open_store_for_command(config)?;
    let sealer = crate::app::load_sealer(config)?;
    let now = crate::clock::system().now();
    match cmd {
        KeysCmd::List => {
            println!("kid\talg\tstate\tactive_at\tretired_at\texpires_at");
            for k in store.run_blocking(store::keys::list_all)? {
                let state = if k.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else if k.retired_at.is_some_and(|r| r <= now) {
                    "retired (published)"
                } else if k.active_at > now {
                    "next (published)"
                } else {
                    "signing"
                };
                let t = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{state}\t{}\t{}\t{}",
                    k.kid,
                    k.alg,
                    k.active_at,
                    t(k.retired_at),
                    t(k.expires_at)
                );
            }
        }
        KeysCmd::Rotate { alg, now: at_once } => {
            let alg = match alg {
                None => config.signing.algorithm,
                Some(a) => Algorithm::parse(&a)
                    .ok_or_else(|| UsageError("--alg must be RS256, ES256 or EdDSA".into()))?,
            };
            let keep = config.tokens.longest_signed_lifetime() + config.signing.clock_skew_secs;
            let row = keys::rotate(
                &store,
                &sealer,
                alg,
                now,
                config.signing.publish_before_use_secs,
                keep,
                at_once,
            )?;
            println!(
                "new {} key {} signs from {}",
                row.alg, row.kid, row.active_at
            );
        }
    }
    Ok(())
}

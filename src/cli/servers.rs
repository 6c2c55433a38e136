//! `servers list|show|forget|reregister`: the per-server app registry, for operators.

use clap::Subcommand;

use super::UsageError;
use crate::config::Config;
use crate::store::{self, servers::Server};

#[derive(Debug, Subcommand)]
pub enum ServersCmd {
    /// Every known upstream server with its software and last outcome.
    List,
    /// One server in detail (never its app secret).
    Show { host: String },
    /// Forget a server and its registered app; the next login starts afresh.
    Forget { host: String },
    /// Register a new app on a known server now (after its admin removed
    /// ours, or to pick up new scopes), replacing the stored one.
    Reregister { host: String },
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

fn software(s: &Server) -> String {
    match (&s.software, &s.version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        (Some(n), None) => n.clone(),
        _ => "unknown".into(),
    }
}

pub fn run(config: &Config, cmd: ServersCmd) -> anyhow::Result<()> {
    let store = crate::app::open_store_for_command(config)?;
    match cmd {
        ServersCmd::List => {
            println!("host\tsoftware\tapp\tlast_success\tlast_error");
            for s in store.run_blocking(store::servers::list)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    s.host,
                    software(&s),
                    if s.app_client_id.is_some() {
                        "registered"
                    } else {
                        "none"
                    },
                    when(s.last_success_at),
                    s.last_error.as_deref().unwrap_or("-"),
                );
            }
        }
        ServersCmd::Show { host } => {
            let h = host.clone();
            let s = store
                .run_blocking(move |c| store::servers::get(c, &h))?
                .ok_or_else(|| UsageError(format!("unknown server {host}")))?;
            println!("host:            {}", s.host);
            println!("software:        {}", software(&s));
            println!(
                "capabilities:    {}",
                s.capabilities.as_deref().unwrap_or("-")
            );
            println!("  expire:        {}", when(s.capabilities_expires_at));
            println!(
                "app client_id:   {}",
                s.app_client_id.as_deref().unwrap_or("-")
            );
            println!(
                "app scopes:      {}",
                s.app_scopes.as_deref().unwrap_or("-")
            );
            println!("app registered:  {}", when(s.app_registered_at));
            println!("blocked until:   {}", when(s.blocked_until));
            println!("last success:    {}", when(s.last_success_at));
            println!(
                "last error:      {} {}",
                when(s.last_error_at),
                s.last_error.as_deref().unwrap_or("")
            );
            println!("first seen:      {}", when(Some(s.created_at)));
        }
        ServersCmd::Forget { host } => {
            let h = host.clone();
            if !store.write_blocking(move |c| store::servers::delete(c, &h))? {
                return Err(UsageError(format!("unknown server {host}")).into());
            }
            println!("forgot {host}; the next login registers a new app there");
        }
        ServersCmd::Reregister { host } => reregister(config, store, &host)?,
    }
    Ok(())
}

fn reregister(config: &Config, store: crate::store::Store, host: &str) -> anyhow::Result<()> {
    let h = host.to_string();
    if store
        .run_blocking(move |c| store::servers::get(c, &h))?
        .is_none()
    {
        return Err(UsageError(format!("unknown server {host}")).into());
    }
    let sealer = std::sync::Arc::new(crate::app::load_sealer(config)?);
    let clock = crate::clock::system();
    let upstream =
        crate::app::mastodon_upstream(config, &store, &sealer, &clock, &config.issuer())?;
    let host = host.to_string();
    let id = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move { upstream.reregister(&host).await })
        .map_err(|e| anyhow::anyhow!("registration failed: {e}"))?;
    println!("registered a new app (client_id {id}); logins use it from now on");
    Ok(())
}

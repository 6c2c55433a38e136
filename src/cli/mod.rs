//! The command line: `serve` (the default), `migrate`, `clients …`, `keys …`,
//! `servers …`, `healthcheck`.
//! Exit status: 0 success, 1 runtime failure, 2 invalid configuration or usage
//! (`healthcheck`: 0 or 1 only, as container runtimes want).

mod clients;
mod healthcheck;
mod keys;
mod servers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "mastodon-oidc",
    version,
    about = "An OpenID Connect provider for Mastodon accounts"
)]
pub struct Cli {
    /// Configuration file (TOML). Without one: a development setup in ./data.
    #[arg(long, short, global = true, env = "MASTODON_OIDC_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default command).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage relying-party clients stored in the database.
    #[command(subcommand)]
    Clients(clients::ClientsCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Inspect and manage the upstream servers we have met.
    #[command(subcommand)]
    Servers(servers::ServersCmd),
    /// Exit 0 if the service answers /healthz with 200, else 1 (for Docker).
    Healthcheck {
        /// Default: /healthz on the configured listen address (loopback for 0.0.0.0).
        #[arg(long)]
        url: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = &cli.command {
        return healthcheck::main(cli.config.as_deref(), url.as_deref());
    }
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::Clients(cmd) => clients::run(&config, cmd),
        Command::Keys(cmd) => keys::run(&config, cmd),
        Command::Servers(cmd) => servers::run(&config, cmd),
        Command::Healthcheck { .. } => unreachable!("handled before the configuration"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.is::<UsageError>() { 2 } else { 1 })
        }
    }
}

/// A mistake in what the operator typed (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log.filter));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only on a terminal, not in journald or a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn serve(config: Config) -> anyhow::Result<()> {
    // actix-web's server runs inside the actix system runtime.
    actix_web::rt::System::new().block_on(async move {
        let listen = config.listen.clone();
        // Absolute, so the operator knows where the data went whatever the cwd.
        let data_dir = std::path::absolute(&config.data_dir)
            .unwrap_or_else(|_| config.data_dir.clone())
            .display()
            .to_string();
        if config.is_development() {
            tracing::warn!(
                data_dir = %data_dir,
                database = %redact_url(&config.database_url()),
                "DEVELOPMENT SETUP: generated secrets and the embedded database live in the data directory; do not use it in production"
            );
        }
        let state = crate::app::build_state(config, crate::clock::system()).await?;
        let listener = std::net::TcpListener::bind(&listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let running = crate::app::start(state.clone(), listener)?;
        tracing::info!(
            issuer = %state.issuer,
            listen = %running.addr,
            discovery = %state.url(crate::oidc::discovery::paths::DISCOVERY),
            backend = ?state.store.backend(),
            data_dir = %data_dir,
            "mastodon-oidc is ready"
        );
        // actix installs SIGINT/SIGTERM handlers and stops gracefully.
        running.task.await??;
        Ok(())
    })
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    let mut cfg = config.clone();
    cfg.database.run_migrations = false;
    let store = crate::app::open_store_for_command(&cfg)?;
    let applied = store.migrate_blocking()?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for v in applied {
            println!("applied {v}");
        }
    }
    Ok(())
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

//! `clients add|list|remove`: relying parties stored in the database.

use clap::Subcommand;

use super::UsageError;
use crate::config::{Config, valid_client_id, validate_redirect_uri};
use crate::crypto::{random_token, sha256};
use crate::keys::Algorithm;
use crate::oidc::clients::{Client, ClientSettings};
use crate::store;

#[derive(Debug, Subcommand)]
pub enum ClientsCmd {
    /// Register a client. A confidential client's secret is printed once.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Allowed scopes (default: openid profile offline_access).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Issue refresh tokens without offline_access.
        #[arg(long)]
        refresh_tokens: bool,
        /// Let a confidential client skip PKCE (legacy relying parties).
        #[arg(long)]
        no_pkce: bool,
        /// Emit a synthetic, non-deliverable email claim.
        #[arg(long)]
        synthetic_email: bool,
        /// Pairwise `sub` for this client's sector (the host of its redirect URIs).
        #[arg(long)]
        pairwise: bool,
        /// ID-token algorithm (default: `signing.algorithm`).
        #[arg(long)]
        alg: Option<String>,
    },
    /// List clients (configuration and database).
    List,
    /// Remove a database client.
    Remove { id: String },
}

pub fn run(config: &Config, cmd: ClientsCmd) -> anyhow::Result<()> {
    let store = crate::app::open_store_for_command(config)?;
    let now = crate::clock::system().now();
    match cmd {
        ClientsCmd::Add {
            id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            scopes,
            refresh_tokens,
            no_pkce,
            synthetic_email,
            pairwise,
            alg,
        } => {
            let mut problems = vec![];
            if !valid_client_id(&id) {
                problems.push("--id must be 1 to 128 letters, digits, '-', '_' or '.'".to_string());
            }
            if config.clients.iter().any(|c| c.id == id) {
                problems.push(format!("client {id} is defined in the configuration file"));
            }
            for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
                if let Err(why) = validate_redirect_uri(uri) {
                    problems.push(format!("redirect URI {uri:?} {why}"));
                }
            }
            let alg = match alg {
                None => Some(config.signing.algorithm),
                Some(a) => Algorithm::parse(&a),
            };
            if alg.is_none() {
                problems.push("--alg must be RS256, ES256 or EdDSA".into());
            }
            let scopes = if scopes.is_empty() {
                crate::config::default_scopes()
            } else {
                scopes
            };
            if !scopes.iter().any(|s| s == "openid") {
                problems.push("--scope must include openid".into());
            }
            let sector = crate::config::single_host(&redirect_uris);
            if pairwise && sector.is_none() {
                problems.push("--pairwise needs redirect URIs on one host (its sector)".into());
            }
            if !problems.is_empty() {
                return Err(UsageError(problems.join("\n")).into());
            }
            let secret = (!public).then(|| random_token(32));
            let client = Client {
                id: id.clone(),
                name,
                redirect_uris,
                post_logout_redirect_uris,
                secret_hash: secret.as_ref().map(|s| sha256(s.as_bytes())),
                public,
                scopes,
                settings: ClientSettings {
                    require_pkce: public || !no_pkce,
                    refresh_tokens,
                    id_token_signed_response_alg: alg.unwrap_or(config.signing.algorithm),
                    synthetic_email,
                    pairwise_sector: sector.filter(|_| pairwise),
                    ..ClientSettings::default()
                },
            };
            let row = client.to_row(now);
            store
                .write_blocking(move |c| store::clients::insert(c, &row))
                .map_err(|e| {
                    if e.is_unique_violation() {
                        anyhow::Error::from(UsageError(format!("client {id} already exists")))
                    } else {
                        e.into()
                    }
                })?;
            println!("client_id:     {}", client.id);
            match secret {
                Some(s) => {
                    println!("client_secret: {s}");
                    println!("(shown once; only its hash is stored)");
                }
                None => println!("public client: use PKCE (S256), no secret"),
            }
        }
        ClientsCmd::List => {
            for c in &config.clients {
                println!(
                    "{}\t{}\tconfig\t{}",
                    c.id,
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
            for row in store.run_blocking(store::clients::list)? {
                let c = Client::from_row(&row)?;
                let kind = if c.public { "public" } else { "confidential" };
                println!(
                    "{}\t{}\t{kind}\t{}",
                    c.id,
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientsCmd::Remove { id } => {
            let target = id.clone();
            if !store.write_blocking(move |c| store::clients::delete(c, &target))? {
                return Err(UsageError(format!("no database client {id}")).into());
            }
            println!("removed {id}");
        }
    }
    Ok(())
}

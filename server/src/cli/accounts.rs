//! `opendata user …` and `opendata token …`: publishers' accounts and API tokens, for the
//! operator on the server itself.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::{DataArg, load};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a publisher, optionally a member of an organization, or a site admin.
    Create {
        /// User id (a slug, such as `bat-erdene`).
        id: String,
        /// Display name [default: the id].
        #[arg(long)]
        name: Option<String>,
        /// May act on every organization and read the audit log.
        #[arg(long)]
        site_admin: bool,
        /// Organization to join.
        #[arg(long, requires = "role")]
        org: Option<String>,
        /// Role in --org: admin or editor.
        #[arg(long, requires = "org")]
        role: Option<opendata_datasets::Role>,
        /// Read a password from standard input (its first line), to sign in on the web.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// Set a user's password, read from standard input (its first line).
    Password {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Disable a user: their tokens stop working at once, and their queued uploads do not
    /// run. Nothing they published is removed.
    Disable {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Enable a disabled user again.
    Enable {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only this once).
    Create {
        user: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it expires [default: never].
        #[arg(long)]
        expires_days: Option<i64>,
        #[command(flatten)]
        data: DataArg,
    },
    /// List tokens (never their secrets): id, user, label, created, expires, state.
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
    /// Revoke a token by its id (the part after `od_`, before the next `_`).
    Revoke {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
}

pub fn user(config: Option<&PathBuf>, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { id, name, site_admin, org, role, password_stdin, data } => {
            let config = load(config, &data)?;
            let store = config.open_store()?;
            let catalog = store.catalog();
            if let Some(org) = &org {
                catalog.organization(org).with_context(|| format!("cannot add `{id}` to `{org}`"))?;
            }
            // Read and checked before the user exists, so a bad password creates nobody.
            let phc = password_stdin.then(read_password).transpose()?;
            catalog.create_user(&opendata_datasets::User {
                name: name.unwrap_or_else(|| id.clone()),
                id: id.clone(),
                site_admin,
                created_at: chrono::Utc::now(),
                memberships: vec![],
                disabled: false,
            })?;
            if let (Some(org), Some(role)) = (org, role) {
                catalog.set_membership(&id, &org, role)?;
            }
            if let Some(phc) = phc {
                catalog.set_password(&id, &phc)?;
            }
            println!("created user {id}");
        }
        UserCommand::Password { id, data } => {
            let phc = read_password()?;
            load(config, &data)?.open_store()?.catalog().set_password(&id, &phc)?;
            println!("set the password of {id}");
        }
        UserCommand::Disable { id, data } => {
            load(config, &data)?.open_store()?.catalog().set_user_disabled(&id, true)?;
            println!("disabled user {id}");
        }
        UserCommand::Enable { id, data } => {
            load(config, &data)?.open_store()?.catalog().set_user_disabled(&id, false)?;
            println!("enabled user {id}");
        }
    }
    Ok(())
}

pub fn token(config: Option<&PathBuf>, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, label, expires_days, data } => {
            let config = load(config, &data)?;
            let store = config.open_store()?;
            let (token, secret) = crate::auth::issue(store.catalog(), &user, &label, expires_days)?;
            eprintln!("token {} for {user}; it is shown only now:", token.id);
            println!("{secret}");
        }
        TokenCommand::List { user, data } => {
            let store = load(config, &data)?.open_store()?;
            let now = chrono::Utc::now();
            println!("id\tuser\tlabel\tcreated\texpires\tstate");
            for t in store.catalog().tokens()?.into_iter().filter(|t| user.as_ref().is_none_or(|u| *u == t.user)) {
                let state = match (t.revoked_at, t.is_live(now)) {
                    (Some(_), _) => "revoked",
                    (None, false) => "expired",
                    (None, true) => "live",
                };
                let day = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d").to_string();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{state}",
                    t.id,
                    t.user,
                    t.label,
                    day(t.created_at),
                    t.expires_at.map_or_else(|| "never".into(), day)
                );
            }
        }
        TokenCommand::Revoke { id, data } => {
            load(config, &data)?.open_store()?.catalog().revoke_token(&id)?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

/// The first line of standard input, hashed: a password never appears in the process list
/// or the shell's history.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
    crate::accounts::hash_password(line.trim_end_matches(['\r', '\n']))
}

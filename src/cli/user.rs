//! `zhudai user`: staff accounts from the shell, acting as the operator (who holds the data
//! directory). Needs the server stopped. Passwords come from a file or a hidden prompt, never
//! from the command line (argv is visible to every local user in `ps`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::domain::org::UserStatus;
use crate::service::followups::DepartTo;
use crate::service::org::users::{Actor, NewUser};
use crate::service::{App, SystemClock};

#[derive(Args)]
pub struct Cmd {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Create an account.
    Add {
        #[arg(long)]
        username: String,
        /// Role key: admin, manager, sales, finance, documents, service (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Name shown in the UI (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Department name; created at the top level when it does not exist yet.
        #[arg(long)]
        department: Option<String>,
        /// Read the password from this file's first line (else prompt).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// 离职继承: mark the account departed and give all its customers to a successor, or put
    /// them all into a public pool.
    Depart {
        username: String,
        /// Username of the successor.
        #[arg(
            long = "to",
            required_unless_present = "to_pool",
            conflicts_with = "to_pool"
        )]
        to: Option<String>,
        /// Name (or id) of the public pool (公海) that receives the customers.
        #[arg(long = "to-pool")]
        to_pool: Option<String>,
    },
    /// Set a new password and end the account's sessions.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

pub(super) fn open(data: &Path) -> anyhow::Result<Arc<App>> {
    if !data.join("zhudai.redb").exists() {
        anyhow::bail!(
            "{} has no zhudai store; run `zhudai serve` once first (or create the first account with `zhudai user add`)",
            data.display()
        );
    }
    open_or_create(data)
}

/// Like [`open`], but an empty or missing data directory is created (store, master key,
/// default plugins) as `serve` would: `zhudai user add --role admin` is then a headless
/// install's first step, and `serve` prints no setup link once an account exists.
fn open_or_create(data: &Path) -> anyhow::Result<Arc<App>> {
    let config = Config::load(Some(data), std::env::vars(), &[])?.config;
    crate::open_app(data, config, Arc::new(SystemClock))
        .with_context(|| format!("cannot open {}", data.display()))
}

fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    let first = rpassword::prompt_password("密码 / password: ")
        .context("cannot read the password (use --password-file when not on a terminal)")?;
    let second = rpassword::prompt_password("再次输入 / again: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        match self.action {
            Action::Add {
                username,
                roles,
                display_name,
                department,
                password_file,
            } => {
                let password = read_password(password_file.as_deref())?;
                let app = open_or_create(data)?;
                let department_id = match department {
                    Some(name) => Some(
                        app.org()
                            .department_by_name_or_create(&Actor::Operator, &name, "cli")?
                            .id,
                    ),
                    None => None,
                };
                let user = app.org().create_user(
                    &Actor::Operator,
                    NewUser {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username,
                        roles,
                        password,
                        department_id,
                        manager_id: None,
                        phone: None,
                        broker: None,
                        must_change_password: false,
                    },
                    "cli",
                )?;
                println!(
                    "created {} ({}) with roles {}",
                    user.username,
                    user.id,
                    user.roles.join(",")
                );
            }
            Action::List => {
                let app = open(data)?;
                println!("{:<24} {:<16} {:<20} STATUS", "USERNAME", "NAME", "ROLES");
                for u in app.org().list_users(&Actor::Operator)? {
                    let status = match u.status {
                        UserStatus::Active => "active",
                        UserStatus::Disabled => "disabled",
                        UserStatus::Departed => "departed",
                    };
                    println!(
                        "{:<24} {:<16} {:<20} {status}",
                        u.username,
                        u.display_name,
                        u.roles.join(",")
                    );
                }
            }
            Action::Disable { username } => {
                let app = open(data)?;
                let u = app.org().set_user_status(
                    &Actor::Operator,
                    &username,
                    UserStatus::Disabled,
                    "cli",
                )?;
                println!("disabled {}; their sessions are ended", u.username);
            }
            Action::Depart {
                username,
                to,
                to_pool,
            } => {
                let app = open(data)?;
                let find = |name: &str| -> anyhow::Result<String> {
                    app.store
                        .read(|tx| crate::store::users::find_by_username(tx, name))?
                        .map(|u| u.id)
                        .ok_or_else(|| anyhow::anyhow!("no user named {name}"))
                };
                let leaving = find(&username)?;
                let (dest, label) = match (to, to_pool) {
                    (Some(to), _) => (DepartTo::User(find(&to)?), to),
                    (None, Some(pool)) => {
                        let found = app
                            .store
                            .read(crate::store::pools::all)?
                            .into_iter()
                            .find(|p| p.name == pool || p.id == pool)
                            .ok_or_else(|| anyhow::anyhow!("no pool named {pool}"))?;
                        (DepartTo::Pool(found.id), format!("pool {}", found.name))
                    }
                    (None, None) => anyhow::bail!("give --to USER or --to-pool POOL"),
                };
                let moved =
                    app.followups()
                        .depart_user_to(&Actor::Operator, &leaving, &dest, "cli")?;
                println!("{username} departed; {moved} customers now belong to {label}");
            }
            Action::ResetPassword {
                username,
                password_file,
            } => {
                let password = read_password(password_file.as_deref())?;
                let app = open(data)?;
                let done = app.org().reset_password(
                    &Actor::Operator,
                    &username,
                    &password,
                    false,
                    "cli",
                )?;
                println!(
                    "password of {username} changed; {} sessions ended, {} API tokens revoked",
                    done.sessions_ended, done.tokens_revoked
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

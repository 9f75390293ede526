//! Command-line interface: one module per subcommand, each an `Args` struct with `run`.
//! `serve` holds the data directory; `doctor` and `demo` need it free (redb admits one process).

mod backup;
mod demo;
mod doctor;
mod health;
mod import;
mod plugin;
mod progress;
mod reindex;
mod restore;
mod serve;
mod setup_link;
mod upgrade_check;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zhudai",
    version,
    about = "助贷 CRM — self-hosted customer and loan-pipeline system"
)]
pub struct Cli {
    /// Data directory (created on first run).
    #[arg(long, env = "ZHUDAI_DATA", default_value = "data", global = true)]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API, the web UI and background jobs.
    Serve(serve::Cmd),
    /// Check the data directory: store, schema, key file.
    Doctor(doctor::Cmd),
    /// Generate realistic synthetic data.
    Demo(demo::Cmd),
    /// Import customers from a CSV or XLSX file (server stopped).
    Import(import::Cmd),
    /// Manage staff accounts (server stopped).
    User(user::Cmd),
    /// Write an encrypted backup (beside a running server), or `backup verify` one.
    Backup(backup::Cmd),
    /// Restore a backup into a data directory (server stopped).
    Restore(restore::Cmd),
    /// Rebuild the search index from the store (online through a running server).
    Reindex(reindex::Cmd),
    /// Check plugins and run their inline tests, or print the plugin API reference.
    Plugin(plugin::Cmd),
    /// Ask a running server's health endpoint; exit 0 when it answers 200 (container HEALTHCHECK).
    Health(health::Cmd),
    /// Print a fresh first-run setup link (asks the running server; while no administrator exists).
    SetupLink(setup_link::Cmd),
    /// Run the pending store migrations on a copy of the data directory and report them.
    UpgradeCheck(upgrade_check::Cmd),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(cmd) => cmd.run(&cli.data),
        Command::Doctor(cmd) => cmd.run(&cli.data),
        Command::Demo(cmd) => cmd.run(&cli.data),
        Command::Import(cmd) => cmd.run(&cli.data),
        Command::User(cmd) => cmd.run(&cli.data),
        Command::Backup(cmd) => cmd.run(&cli.data),
        Command::Restore(cmd) => cmd.run(&cli.data),
        Command::Reindex(cmd) => cmd.run(&cli.data),
        Command::Plugin(cmd) => cmd.run(&cli.data),
        Command::Health(cmd) => cmd.run(&cli.data),
        Command::SetupLink(cmd) => cmd.run(&cli.data),
        Command::UpgradeCheck(cmd) => cmd.run(&cli.data),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, the whole cause chain: what an operator needs in a terminal or a unit log.
            eprintln!("zhudai: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `ZHUDAI_LOG` overrides the configured level.
pub fn init_tracing(level: &str) {
    let filter = std::env::var("ZHUDAI_LOG").unwrap_or_else(|_| level.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

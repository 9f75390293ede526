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
    // Borrowers' data: every file and directory zhudai creates (store, index, blobs, backups,
    // status files, restored data directories) is its owner's only, whatever the shell's umask.
    // Set first, before any thread exists: the umask is process-wide.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
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
    init_tracing_as(level, false);
}

/// Like [`init_tracing`], as JSON lines when `json` (`[log] format = "json"`).
pub fn init_tracing_as(level: &str, json: bool) {
    let filter = std::env::var("ZHUDAI_LOG").unwrap_or_else(|_| level.to_string());
    // try_init also routes the `log` crate's records (tantivy's) into tracing, as before. It
    // fails only when a subscriber is already installed (tests, a second call): that one stays.
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber(
        &filter,
        json,
        std::io::stderr,
    ));
}

/// The subscriber `serve` logs through; `make_writer` is stderr, or a buffer in tests.
fn subscriber<W>(
    filter: &str,
    json: bool,
    make_writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(make_writer);
    if json {
        Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        )
    } else {
        Box::new(builder.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_the_request_span() {
        let buf = Buf::default();
        let out = buf.clone();
        let sub = subscriber("info", true, move || out.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("request", id = "01JREQ", method = "GET");
            let _g = span.enter();
            tracing::warn!(metric = "x", "metrics: cannot read");
            tracing::debug!("filtered out");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["fields"]["message"], "metrics: cannot read");
        assert_eq!(v["fields"]["metric"], "x");
        assert_eq!(v["span"]["id"], "01JREQ");
    }
}

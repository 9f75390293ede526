//! `zhudai import FILE`: customers from a CSV or XLSX file, owned by `--owner` (server
//! stopped). Writes in batches with a progress bar; Ctrl-C keeps the committed batches, and
//! running the same file again skips what is already there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::progress::Progress;
use crate::config::Config;
use crate::service::SystemClock;
use crate::service::import::OnDuplicate;

#[derive(Clone, Copy, ValueEnum)]
enum Dup {
    Skip,
    Update,
    Flag,
}

#[derive(Args)]
pub struct Cmd {
    file: PathBuf,
    /// Username who will own the imported customers (and whose rights apply).
    #[arg(long)]
    owner: String,
    /// Check every row and report; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value = "skip")]
    on_duplicate: Dup,
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        if !data.join("zhudai.redb").exists() {
            anyhow::bail!(
                "{} has no zhudai store; run `zhudai serve` once first",
                data.display()
            );
        }
        let config = Config::load(Some(data), std::env::vars(), &[])?.config;
        let app = crate::open_app(data, config, Arc::new(SystemClock))
            .with_context(|| format!("cannot open {}", data.display()))?;
        let caller = app.caller_for(&self.owner)?;
        let mode = match self.on_duplicate {
            Dup::Skip => OnDuplicate::Skip,
            Dup::Update => OnDuplicate::Update,
            Dup::Flag => OnDuplicate::Flag,
        };
        let mut bar: Option<Progress> = None;
        let mut seen = 0;
        let report = app.import_customers(
            &caller,
            &bytes,
            mode,
            self.dry_run,
            "cli",
            &mut |done, total| {
                let bar = bar.get_or_insert_with(|| Progress::new("importing", total as u64));
                bar.inc((done - seen) as u64);
                seen = done;
            },
        )?;
        if let Some(bar) = bar {
            bar.finish();
        }
        for e in &report.errors {
            println!("row {}: {}: {}", e.row, e.field, e.reason);
        }
        println!(
            "{}{} rows: {} created, {} updated, {} skipped as duplicates, {} flagged, {} rejected",
            if report.dry_run {
                "dry run — nothing written. "
            } else {
                ""
            },
            report.rows,
            report.created,
            report.updated,
            report.skipped,
            report.flagged,
            report.errors.len()
        );
        Ok(ExitCode::SUCCESS)
    }
}

//! `zhudai import FILE`: customers from a CSV or XLSX file, imported as `--owner` (server
//! stopped). The file is streamed in batches with a progress bar; Ctrl-C keeps the committed
//! batches, and running the same file again skips what is already there. Rejected rows are
//! written to `<FILE>.errors.xlsx` (or `--errors F`) with the reason for each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::progress::Progress as Bar;
use crate::config::Config;
use crate::service::SystemClock;
use crate::service::import::report::ErrorSheet;
use crate::service::import::{
    BadOptional, ImportOptions, ImportReport, Mapping, OnDuplicate, Progress, REVIEW_TAG, RowError,
};

#[derive(Clone, Copy, ValueEnum)]
enum Dup {
    Skip,
    Update,
    Flag,
}

#[derive(Args)]
pub struct Cmd {
    file: PathBuf,
    /// Username whose rights apply and who owns rows without an owner column.
    #[arg(long)]
    owner: String,
    /// Public pool for rows without an owner column (instead of --owner owning them); with
    /// --assign, where the rows nobody can take go.
    #[arg(long)]
    pool: Option<String>,
    /// `auto` (or round_robin, weighted, least_loaded, by_city): rows without an owner column
    /// are assigned by the assignment rule among --owner's team (--owner needs customer.assign).
    #[arg(long, value_name = "MODE")]
    assign: Option<String>,
    /// Column mapping, TOML: `[columns]` then `"客户姓名" = "name"` (`"ignore"` skips a column).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Where to write the rejected rows (default: FILE.errors.xlsx next to the file).
    #[arg(long)]
    errors: Option<PathBuf>,
    /// Check every row and report; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value = "skip")]
    on_duplicate: Dup,
    /// A row whose optional field is bad (an ID number's check digit, a date, a money cell):
    /// `reject` it, or `keep` it without that field, tagged 待核对 and listed as a warning.
    #[arg(long, value_enum, default_value = "reject")]
    bad_optional: BadOpt,
    /// Rows per write transaction (each commits and syncs the file). Smaller batches hold less
    /// memory at once; larger ones commit less often.
    #[arg(long, default_value_t = CLI_BATCH, value_parser = clap::value_parser!(u64).range(100..=20_000))]
    batch_rows: u64,
}

/// Rows per transaction of `zhudai import` (see `--batch-rows`).
const CLI_BATCH: u64 = crate::service::import::BATCH as u64;

#[derive(Clone, Copy, ValueEnum)]
enum BadOpt {
    Reject,
    Keep,
}

#[derive(serde::Deserialize)]
struct MappingFile {
    columns: BTreeMap<String, String>,
}

/// Reads a `--mapping` file.
pub fn read_mapping(path: &Path) -> anyhow::Result<Mapping> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: MappingFile = toml::from_str(&text).with_context(|| {
        format!(
            "{}: expected [columns] \"header\" = \"field\"",
            path.display()
        )
    })?;
    Ok(file
        .columns
        .into_iter()
        .map(|(h, f)| (h, (f != "ignore" && !f.is_empty()).then_some(f)))
        .collect())
}

/// The bar, and the rejected rows collected into the error report.
struct Watch {
    bar: Option<Bar>,
    total: u64,
    shown: u64,
    sheet: Option<ErrorSheet>,
}

impl Progress for Watch {
    fn total(&mut self, total: Option<u64>) {
        self.total = total.unwrap_or(0);
    }

    fn header(
        &mut self,
        headers: &[String],
        _columns: &[(String, Option<String>)],
    ) -> crate::service::Result<()> {
        self.sheet = Some(ErrorSheet::new(headers)?);
        Ok(())
    }

    fn rejected(&mut self, error: &RowError, cells: &[String]) -> crate::service::Result<()> {
        if let Some(s) = self.sheet.as_mut() {
            s.add(error, cells)?;
        }
        Ok(())
    }

    /// A skipped duplicate goes to the error report too: not imported, with the reason.
    fn skipped(&mut self, row: &RowError, cells: &[String]) -> crate::service::Result<()> {
        self.rejected(row, cells)
    }

    fn keys_merged(&mut self, m: &crate::store::keylog::Merged, took: std::time::Duration) {
        println!(
            "{} logged customer and lead-check keys merged ({}): {} rows written in {:.1} s",
            m.logged,
            if m.rebuilt {
                "tables rebuilt packed"
            } else {
                "inserted in place"
            },
            m.written,
            took.as_secs_f64()
        );
    }

    fn after_batch(&mut self, report: &ImportReport) -> crate::service::Result<bool> {
        let done = report.rows as u64;
        let total = self.total.max(done);
        let bar = self.bar.get_or_insert_with(|| Bar::new("importing", total));
        bar.inc(done - self.shown);
        self.shown = done;
        Ok(true)
    }
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        if !self.file.exists() {
            anyhow::bail!("cannot read {}", self.file.display());
        }
        let mapping = self.mapping.as_deref().map(read_mapping).transpose()?;
        if !data.join("zhudai.redb").exists() {
            anyhow::bail!(
                "{} has no zhudai store; run `zhudai serve` once first",
                data.display()
            );
        }
        let config = Config::load(Some(data), std::env::vars(), &[])?.config;
        let app = crate::open_app(data, config, Arc::new(SystemClock))
            .with_context(|| format!("cannot open {}", data.display()))?;
        let caller = app.access().caller_for(&self.owner)?;
        let opts = ImportOptions {
            on_duplicate: match self.on_duplicate {
                Dup::Skip => OnDuplicate::Skip,
                Dup::Update => OnDuplicate::Update,
                Dup::Flag => OnDuplicate::Flag,
            },
            bad_optional: match self.bad_optional {
                BadOpt::Reject => BadOptional::Reject,
                BadOpt::Keep => BadOptional::Keep,
            },
            dry_run: self.dry_run,
            mapping,
            template_id: None,
            owner: None,
            pool_id: self.pool.clone(),
            assign: self.assign.clone(),
            batch_rows: Some(
                usize::try_from(self.batch_rows).unwrap_or(crate::service::import::BATCH),
            ),
            // The server is stopped: the store is this process's alone.
            key_log: true,
            row_by_row: false,
        };
        let mut watch = Watch {
            bar: None,
            total: 0,
            shown: 0,
            sheet: None,
        };
        let id = crate::service::new_id(app.now());
        let result = if self.dry_run {
            app.imports()
                .import_file(&caller, &self.file, &opts, "cli", &id, &mut watch)
        } else {
            // Committed batches are indexed while later ones are read and written.
            app.lookup().index_alongside(|| {
                app.imports()
                    .import_file(&caller, &self.file, &opts, "cli", &id, &mut watch)
            })
        };
        if let Some(bar) = watch.bar.take() {
            bar.finish();
        }
        if !self.dry_run {
            // The index is brought up to date before the command exits, so search finds the
            // imported rows at once; should it fail, the next start replays the outbox.
            if let Err(e) = app.lookup().search_catch_up() {
                eprintln!(
                    "warning: search index not updated ({e}); it catches up at the next start"
                );
            }
        }
        // Batches committed before a failure are indexed above too.
        let report = result?;
        for e in &report.errors {
            println!("row {}: {}: {}", e.row, e.label, e.reason);
        }
        if report.rejected > report.errors.len() {
            println!("… and {} more", report.rejected - report.errors.len());
        }
        for w in &report.warnings {
            println!(
                "row {} ({}): {} \"{}\" left out, tagged {REVIEW_TAG}: {}",
                w.row, w.name, w.label, w.value, w.reason
            );
        }
        if let Some(sheet) = watch.sheet.take().filter(|s| s.rows() > 0) {
            let out = self.errors.clone().unwrap_or_else(|| {
                let mut name = self.file.as_os_str().to_owned();
                name.push(".errors.xlsx");
                PathBuf::from(name)
            });
            std::fs::write(&out, sheet.finish()?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("rejected and skipped rows written to {}", out.display());
        }
        println!(
            "{}{} rows: {} created, {} updated, {} skipped as duplicates, {} flagged, {} rejected{}",
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
            report.rejected,
            if self.assign.is_some() {
                format!(
                    ", {} assigned, {} to a pool",
                    report.assigned, report.pooled
                )
            } else {
                String::new()
            }
        );
        if report.unchanged > 0 || !report.changes.is_empty() {
            println!("{} matched rows changed nothing", report.unchanged);
            for c in &report.changes {
                println!("row {}: updated {}", c.row, c.fields.join(", "));
            }
        }
        // Rows nobody could take: where they went and why (the reason is the timeline's).
        for p in &report.placements {
            let to = match &p.pool_name {
                Some(name) => format!("pool {name}"),
                None => "kept by the importer".to_string(),
            };
            println!("{} rows not assigned → {to}: {}", p.rows, p.reason);
        }
        for d in &report.duplicates {
            println!("row {}: skipped: {}", d.row, d.reason);
        }
        if matches!(self.bad_optional, BadOpt::Keep) {
            println!(
                "imported without a bad field, tagged {REVIEW_TAG}: {}",
                report.to_review
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

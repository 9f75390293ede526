//! `zhudai restore F.age --to DIR`: offline (refused while a server holds DIR). Extracts and
//! checks everything beside DIR, then swaps it in; see `backup::restore`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::backup::{UnlockArgs, cancel_flag, human_size, progress};

#[derive(Args)]
pub struct Cmd {
    /// The backup to restore.
    #[arg(value_name = "F.age")]
    file: PathBuf,
    /// The data directory to restore into (new or empty, or any with --force).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Replace a non-empty DIR; its current contents are kept as DIR.replaced-YYYYMMDD-HHMMSS.
    #[arg(long)]
    force: bool,
}

impl Cmd {
    pub fn run(self, _data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        let unlock = self.unlock.unlock()?;
        let total = std::fs::metadata(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?
            .len();
        let mut bar = progress("restore", total);
        let result = crate::backup::restore(
            &self.file,
            &unlock,
            &self.to,
            self.force,
            chrono::Utc::now(),
            &mut |n| {
                if let Some(p) = &mut bar {
                    p.inc(n)
                }
            },
            cancel_flag(),
        );
        let r = result.with_context(|| {
            format!(
                "restore of {} failed; {} was not changed",
                self.file.display(),
                self.to.display()
            )
        })?;
        if let Some(p) = bar {
            p.finish();
        }
        let migrated = match r.migrated_from {
            Some(v) => format!(", migrated from schema {v}"),
            None => String::new(),
        };
        println!(
            "restored {} into {} — created {}, zhudai {}, schema {}{migrated}, {} entries, {}",
            self.file.display(),
            r.target.display(),
            r.manifest
                .created_at
                .with_timezone(&crate::jobs::schedule::zone())
                .format("%Y-%m-%d %H:%M:%S %:z"),
            r.manifest.zhudai_version,
            r.manifest.schema_version,
            r.manifest.entries.len(),
            human_size(r.manifest.total_size())
        );
        match &r.audit_broken {
            None => match &r.manifest.audit_head {
                Some(head) => println!(
                    "audit log: {} entries verified; it holds the head the backup recorded ({head})",
                    r.audit_entries
                ),
                None => println!("audit log: {} entries verified", r.audit_entries),
            },
            Some((seq, why)) => println!(
                "warning: the audit log in this backup is broken at entry {seq} ({why}); it was so when the backup was made"
            ),
        }
        if let Some(old) = &r.replaced {
            println!(
                "the previous contents of {} are kept in {}; delete it once the restored server is checked",
                r.target.display(),
                old.display()
            );
        }
        println!(
            "start the server with: zhudai serve --data {}",
            r.target.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}

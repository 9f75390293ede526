//! `zhudai backup --out F.age …` and `zhudai backup verify F.age …`. Runs beside a running
//! server: the snapshot is asked from it over `data/admin.sock`, or read from the store file
//! when no server runs. Keys come from files or `age1…` recipients, never a secret argument.
//! The result, success or failure, is recorded for the admin (status page, metrics, `doctor`):
//! by the running server over the admin socket, or in `backup-status.json` when none runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::progress::Progress;
use crate::backup::create::{Report, SnapshotSource};
use crate::backup::{self, Encryption, Unlock, keys};
use crate::jobs::backup::{RunRecord, Trigger};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cmd {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    make: MakeArgs,
}

#[derive(Subcommand)]
enum Action {
    /// Decrypt a backup and check every entry against its manifest, without restoring.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct MakeArgs {
    /// The backup file to write; refused if it exists (written as F.partial, renamed when complete).
    #[arg(long, required = true, value_name = "F.age")]
    out: Option<PathBuf>,
    /// Encrypt with the passphrase on this file's first line (age scrypt, work factor 2^18).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Encrypt to this age X25519 recipient (age1…); repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "AGE_RECIPIENT")]
    recipients: Vec<String>,
    /// Encrypt to every recipient listed in this file (one per line, # comments); repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_files: Vec<PathBuf>,
}

/// How a backup is opened: `--passphrase-file` or `-i`.
#[derive(Args)]
pub struct UnlockArgs {
    /// The passphrase is this file's first line.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// An age identity file (AGE-SECRET-KEY-1…, as written by age-keygen).
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY_FILE")]
    identity: Option<PathBuf>,
}

#[derive(Args)]
struct VerifyArgs {
    /// The backup to check.
    #[arg(value_name = "F.age")]
    file: PathBuf,
    #[command(flatten)]
    unlock: UnlockArgs,
}

impl UnlockArgs {
    pub fn unlock(&self) -> anyhow::Result<Unlock> {
        match (&self.passphrase_file, &self.identity) {
            (Some(p), None) => Ok(Unlock::Passphrase(keys::read_passphrase_file(p)?)),
            (None, Some(i)) => Ok(keys::read_identity_file(i)?),
            (Some(_), Some(_)) => {
                anyhow::bail!("give either --passphrase-file or -i IDENTITY_FILE, not both")
            }
            (None, None) => anyhow::bail!(
                "the backup's key is needed: give --passphrase-file FILE or -i IDENTITY_FILE"
            ),
        }
    }
}

impl MakeArgs {
    fn encryption(&self) -> anyhow::Result<Encryption> {
        let mut recipients = Vec::new();
        for r in &self.recipients {
            recipients.push(keys::parse_recipient(r)?);
        }
        for f in &self.recipients_files {
            recipients.extend(keys::read_recipients_file(f)?);
        }
        match (&self.passphrase_file, recipients.is_empty()) {
            (Some(p), true) => Ok(Encryption::Passphrase(keys::read_passphrase_file(p)?)),
            (None, false) => Ok(Encryption::Recipients(recipients)),
            (Some(_), false) => anyhow::bail!(
                "a backup is encrypted either with a passphrase or to recipients, not both"
            ),
            (None, true) => anyhow::bail!(
                "say how to encrypt the backup: --passphrase-file FILE, -r AGE_RECIPIENT or -R RECIPIENTS_FILE"
            ),
        }
    }
}

/// Set on Ctrl-C or SIGTERM; long work checks it and stops cleanly. A second signal exits at
/// once (a partial file may remain, never under the final name).
pub fn cancel_flag() -> &'static AtomicBool {
    static CANCEL: AtomicBool = AtomicBool::new(false);
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::thread::spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return;
                };
                loop {
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => if r.is_err() { return },
                        _ = term.recv() => {},
                    }
                    if CANCEL.swap(true, Ordering::SeqCst) {
                        std::process::exit(130);
                    }
                    eprintln!("zhudai: stopping…");
                }
            });
        });
    });
    &CANCEL
}

/// Progress for `total` bytes of work: always on a terminal, and as log lines otherwise only
/// for large work, so a script sees just the result line or the one-line error.
pub fn progress(label: &str, total: u64) -> Option<Progress> {
    use std::io::IsTerminal;
    (std::io::stderr().is_terminal() || total >= 64 << 20).then(|| Progress::new(label, total))
}

struct Bar {
    label: &'static str,
    progress: Option<Progress>,
}

impl Report for Bar {
    fn start(&mut self, total: u64, via_server: bool) {
        if via_server {
            eprintln!("snapshot taken by the running server");
        }
        self.progress = progress(self.label, total);
    }
    fn advance(&mut self, bytes: u64) {
        if let Some(p) = &mut self.progress {
            p.inc(bytes);
        }
    }
}

impl Bar {
    fn finish(&mut self) {
        if let Some(p) = self.progress.take() {
            p.finish();
        }
    }
}

/// Bytes for people: 1.2 MB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        match self.action {
            Some(Action::Verify(args)) => verify(args),
            None => make(self.make, data),
        }
    }
}

fn make(args: MakeArgs, data: &Path) -> anyhow::Result<ExitCode> {
    let Some(out) = args.out.clone() else {
        anyhow::bail!("--out F.age is required");
    };
    let started_at = chrono::Utc::now();
    let started = Instant::now();
    let encryption = args.encryption();
    if !data.is_dir() {
        // A mistake in the arguments is named first.
        encryption?;
        anyhow::bail!("{} is not a data directory", data.display());
    }
    let made = encryption.and_then(|e| make_archive(&e, data, &out, started_at));
    // A data directory (not a wrong --data): the run is recorded, failed or not, where the
    // admin sees it: the running server's status page, metrics and audit, or `doctor`.
    let recorded = if data.join("zhudai.redb").is_file() {
        let record = RunRecord {
            trigger: Trigger::Cli,
            requested_by: None,
            started_at,
            finished_at: chrono::Utc::now(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ok: made.is_ok(),
            file: made
                .as_ref()
                .ok()
                .map(|c| std::path::absolute(&c.path).unwrap_or_else(|_| c.path.clone()))
                .map(|p| p.display().to_string()),
            size_bytes: made.as_ref().ok().map(|c| c.size),
            error: made.as_ref().err().map(|e| format!("{e:#}")),
            post_command_error: None,
            deleted: Vec::new(),
        };
        record_run(data, &record)
    } else {
        Ok(())
    };
    let created = match (made, recorded) {
        (Ok(created), Ok(())) => created,
        (Ok(created), Err(e)) => {
            print_written(&created, started);
            return Err(e.context(format!(
                "the backup {} is complete, but its result could not be recorded",
                created.path.display()
            )));
        }
        (Err(e), Ok(())) => return Err(e),
        (Err(e), Err(r)) => {
            anyhow::bail!("{e:#}; and the failure could not be recorded: {r:#}");
        }
    };
    print_written(&created, started);
    Ok(ExitCode::SUCCESS)
}

/// Writes the archive; every failure says which backup failed.
fn make_archive(
    encryption: &Encryption,
    data: &Path,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<backup::Created> {
    let mut bar = Bar {
        label: "backup",
        progress: None,
    };
    let created = backup::create(
        data,
        out,
        encryption,
        SnapshotSource::ServerOrFile,
        now,
        &mut bar,
        cancel_flag(),
    )
    .with_context(|| format!("backup to {} failed", out.display()))?;
    bar.finish();
    Ok(created)
}

/// Records a finished run: through the running server (which owns its status file and audit
/// log, and may run as another user), or in the status file itself when no server runs.
fn record_run(data: &Path, record: &RunRecord) -> anyhow::Result<()> {
    if crate::admin_socket::record_backup(data, record)? {
        return Ok(());
    }
    crate::jobs::backup::note_run(data, record).with_context(|| {
        format!(
            "cannot record the backup in {}",
            crate::jobs::backup::status_path(data).display()
        )
    })
}

fn print_written(created: &backup::Created, started: Instant) {
    println!(
        "backup written: {} ({}, {} entries, schema {}, {}) in {:.1} s (snapshot {:.1} s, archive {:.1} s)",
        created.path.display(),
        human_size(created.size),
        created.manifest.entries.len(),
        created.manifest.schema_version,
        if created.via_server {
            "snapshot from the running server"
        } else {
            "snapshot from the store file"
        },
        started.elapsed().as_secs_f64(),
        created.snapshot_took.as_secs_f64(),
        created.archive_took.as_secs_f64()
    );
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let unlock = args.unlock.unlock()?;
    let total = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let mut bar = progress("verify", total);
    let result = backup::archive::read(
        &args.file,
        &unlock,
        None,
        &mut |n| {
            if let Some(p) = &mut bar {
                p.inc(n)
            }
        },
        cancel_flag(),
    );
    let m = result.with_context(|| format!("{} FAILED", args.file.display()))?;
    if let Some(p) = bar {
        p.finish();
    }
    let newer = if m.schema_version > crate::store::migrate::SCHEMA_VERSION {
        " (newer than this zhudai: restore it with a newer one)"
    } else {
        ""
    };
    println!(
        "OK: {} is a complete zhudai backup — created {}, zhudai {}, schema {}{newer}, {} entries, {} of data",
        args.file.display(),
        m.created_at
            .with_timezone(&crate::jobs::schedule::zone())
            .format("%Y-%m-%d %H:%M:%S %:z"),
        m.zhudai_version,
        m.schema_version,
        m.entries.len(),
        human_size(m.total_size())
    );
    Ok(ExitCode::SUCCESS)
}

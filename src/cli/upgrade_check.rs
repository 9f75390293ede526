//! `zhudai upgrade-check [DIR]`: before installing a new zhudai, run its pending store
//! migrations on a copy of the data directory and report the versions, each step and its
//! time, and the result. The original is only read: its store file is copied (beside a running
//! server, the server writes a consistent snapshot into the data directory's `tmp/`, which is
//! moved out at once) with the key files, and the copy is removed afterwards unless `--keep`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::crypto::keyfile;
use crate::datadir::Layout;
use crate::store::{self, Store, migrate};

#[derive(Args)]
pub struct Cmd {
    /// The data directory to check (default: `--data`).
    dir: Option<PathBuf>,
    /// Where to make the copy (default: the system's temporary directory); it needs room for
    /// the store file twice over while a compacting step runs.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the migrated copy and print where it is.
    #[arg(long)]
    keep: bool,
}

/// What the check found (also what the tests read).
#[derive(Debug)]
pub struct Outcome {
    pub from: Option<u64>,
    pub to: u64,
    pub steps: Vec<migrate::StepDone>,
    pub users: u64,
    pub integrity: bool,
    /// Opening the copy: every migration, and the compaction some need.
    pub elapsed: std::time::Duration,
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        let original = self.dir.as_deref().unwrap_or(data);
        let base = self.work_dir.clone().unwrap_or_else(std::env::temp_dir);
        let work = base.join(format!(
            "zhudai-upgrade-check-{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        ));
        println!(
            "upgrade check of {} with zhudai {} (schema {}), on a copy in {}",
            original.display(),
            env!("CARGO_PKG_VERSION"),
            migrate::SCHEMA_VERSION,
            work.display()
        );
        let result = check(original, &work, &mut |s| {
            println!(
                "  migration {} → {}: {} ms",
                s.from,
                s.to,
                s.elapsed.as_millis()
            );
        });
        if self.keep {
            println!("the migrated copy is kept in {}", work.display());
        } else if let Err(e) = std::fs::remove_dir_all(&work)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("zhudai: warning: cannot remove {}: {e}", work.display());
        }
        let outcome = result?;
        match outcome.from {
            Some(v) if v == outcome.to => {
                println!("nothing to do: the store is at schema {v} already, as this binary writes")
            }
            from => println!(
                "migrated from schema {} to {}: {} step(s) in {} ms",
                from.map_or("(none)".to_string(), |v| v.to_string()),
                outcome.to,
                outcome.steps.len(),
                outcome.elapsed.as_millis()
            ),
        }
        println!(
            "result: {} — {} user(s), file integrity {}",
            if outcome.integrity { "ok" } else { "FAILED" },
            outcome.users,
            if outcome.integrity { "ok" } else { "FAILED" }
        );
        println!("the original data directory was not changed");
        Ok(if outcome.integrity {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// Copies `original` into `work` (new) and opens the copy with this binary's migrations.
pub fn check(
    original: &Path,
    work: &Path,
    on_step: &mut dyn FnMut(&migrate::StepDone),
) -> anyhow::Result<Outcome> {
    let from_layout = Layout::new(original);
    if !from_layout.store().is_file() {
        anyhow::bail!(
            "{} has no store ({} is missing)",
            original.display(),
            from_layout.store().display()
        );
    }
    // The original's key, read first: a missing key is named where the admin can fix it.
    let key = keyfile::load(&from_layout.master_key()).context("cannot read the master key")?;
    let to_layout = Layout::new(work);
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    set_private(work)?;
    copy_tree(&original.join("keys"), &work.join("keys"))?;
    copy_store(original, &to_layout.store())?;

    let from = {
        // Read the version without migrating: redb opens the copy, nothing else does.
        let db = redb::Database::open(to_layout.store())
            .with_context(|| format!("cannot open the copy {}", to_layout.store().display()))?;
        stored_version(&db)?
    };
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut store = Store::open_observed(
        &to_layout.store(),
        store::DEFAULT_CACHE_BYTES,
        Some(crate::crypto::audit_key(&key)),
        &mut |s| {
            on_step(s);
            steps.push(s.clone());
        },
    )
    .with_context(|| {
        format!(
            "the migration failed on the copy after {} ms",
            started.elapsed().as_millis()
        )
    })?;
    let elapsed = started.elapsed();
    let to = migrate::stored_version(&store)?.unwrap_or(0);
    let users = store.read(store::users::count)?;
    let integrity = store.check_integrity()?;
    Ok(Outcome {
        from,
        to,
        steps,
        users: users as u64,
        integrity,
        elapsed,
    })
}

fn stored_version(db: &redb::Database) -> anyhow::Result<Option<u64>> {
    use redb::ReadableDatabase;
    const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
    let tx = db.begin_read()?;
    let meta = match tx.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get("schema_version")?.map(|v| v.value()))
}

/// The store file into `to`: from a running server's snapshot when one holds the directory
/// (a file being written is not a consistent copy), else copied.
fn copy_store(original: &Path, to: &Path) -> anyhow::Result<()> {
    if crate::admin_socket::ping(original) {
        let tmp = original.join("tmp");
        let snap = tmp.join(format!(
            "backup-upgrade-check-{}.redb",
            ulid::Ulid::generate().to_string().to_lowercase()
        ));
        println!("a server runs on this directory: asking it for a snapshot");
        let taken = crate::admin_socket::snapshot(original, &snap);
        let moved = match taken {
            Ok(_) => std::fs::copy(&snap, to)
                .map(|_| ())
                .with_context(|| format!("cannot copy {}", snap.display())),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        };
        if let Err(e) = std::fs::remove_file(&snap)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("zhudai: warning: cannot remove {}: {e}", snap.display());
        }
        return moved;
    }
    let from = Layout::new(original).store();
    std::fs::copy(&from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    set_private(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn set_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.redb");

    /// A data directory holding the schema-1 fixture store and a master key.
    fn schema_1_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(FIXTURE, dir.path().join("zhudai.redb")).unwrap();
        crate::datadir::prepare(&Layout::new(dir.path())).unwrap();
        dir
    }

    #[test]
    fn a_schema_1_copy_is_migrated_step_by_step_and_the_original_is_untouched() {
        let dir = schema_1_dir();
        let before = std::fs::read(dir.path().join("zhudai.redb")).unwrap();
        let work = tempfile::tempdir().unwrap();
        let mut seen = Vec::new();
        let out = check(dir.path(), &work.path().join("copy"), &mut |s| {
            seen.push((s.from, s.to))
        })
        .unwrap();
        assert_eq!(out.from, Some(1));
        assert_eq!(out.to, migrate::SCHEMA_VERSION);
        let expected: Vec<_> = (1..migrate::SCHEMA_VERSION).map(|v| (v, v + 1)).collect();
        assert_eq!(seen, expected, "every step reported, in order");
        assert_eq!(out.steps.len(), expected.len());
        assert_eq!(out.users, 2);
        assert!(out.integrity);
        assert_eq!(
            std::fs::read(dir.path().join("zhudai.redb")).unwrap(),
            before,
            "the original store is byte for byte what it was"
        );
        // The copy is migrated: opening it again has nothing to do.
        let again = Store::open(&work.path().join("copy").join("zhudai.redb")).unwrap();
        assert_eq!(
            migrate::stored_version(&again).unwrap(),
            Some(migrate::SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_current_store_has_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::open_app(
            dir.path(),
            crate::config::Config::defaults().unwrap(),
            std::sync::Arc::new(crate::service::SystemClock),
        )
        .unwrap();
        drop(app);
        let work = tempfile::tempdir().unwrap();
        let out = check(dir.path(), &work.path().join("copy"), &mut |_| {}).unwrap();
        assert_eq!(out.from, Some(migrate::SCHEMA_VERSION));
        assert_eq!(out.to, migrate::SCHEMA_VERSION);
        assert!(out.steps.is_empty());
        assert!(out.integrity);
    }

    #[test]
    fn a_directory_without_a_store_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let e = check(dir.path(), &work.path().join("copy"), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("has no store"), "{e}");
    }

    #[test]
    fn a_wrong_master_key_fails_the_check_not_the_original() {
        // A store sealed under one key, checked with another: the check says why.
        let dir = tempfile::tempdir().unwrap();
        drop(
            crate::open_app(
                dir.path(),
                crate::config::Config::defaults().unwrap(),
                std::sync::Arc::new(crate::service::SystemClock),
            )
            .unwrap(),
        );
        let key = Layout::new(dir.path()).master_key();
        std::fs::remove_file(&key).unwrap();
        crate::datadir::prepare(&Layout::new(dir.path())).unwrap();
        let work = tempfile::tempdir().unwrap();
        let e = check(dir.path(), &work.path().join("copy"), &mut |_| {}).unwrap_err();
        assert!(
            format!("{e:#}").contains("migration failed on the copy"),
            "{e:#}"
        );
    }
}

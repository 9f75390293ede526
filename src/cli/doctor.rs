//! `zhudai doctor`: checks the data directory and reports every problem it finds; exits
//! non-zero when any check fails. Needs the server stopped (it opens the store itself).

use std::borrow::Cow;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::crypto::field::{FieldCipher, Kind};
use crate::crypto::keyfile;
use crate::datadir::Layout;
use crate::store::audit::{AgainstAnchor, AuditKey, Head};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{self, Store, audit_anchor, migrate};

#[derive(Args)]
pub struct Cmd {
    /// Re-encrypt every sensitive field under a new master key (resumable; server stopped).
    #[arg(long)]
    rotate_key: bool,
    /// An audit head printed by an earlier `doctor` (or a backup manifest's `audit_head`),
    /// `<seq>:<hash>`: the chain must still hold that entry unchanged.
    #[arg(long, value_name = "SEQ:HASH")]
    audit_head: Option<Head>,
    /// Print every table's entries and size (per customer too) and exit.
    #[arg(long)]
    sizes: bool,
}

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("ok    {what}: {detail}");
    }
    fn fail(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.failures += 1;
        println!("FAIL  {what}: {detail}");
    }
    fn warn(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("warn  {what}: {detail}");
    }
    fn note(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("note  {what}: {detail}");
    }
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        let layout = Layout::new(data);
        if self.rotate_key {
            return rotate(&layout);
        }
        if self.sizes {
            return sizes(&layout);
        }
        let mut r = Report { failures: 0 };
        if !data.is_dir() {
            anyhow::bail!(
                "{} is not a data directory (run `zhudai serve` once to create it)",
                data.display()
            );
        }
        check_modes(data, &mut r);
        let key = keyfile::load(&layout.master_key());
        let audit_key = key.as_ref().ok().map(crate::crypto::audit_key);
        let cipher = key.as_ref().ok().map(FieldCipher::new);
        match key.map(|_| ()) {
            Ok(()) => match keyfile::loose_permissions(&layout.master_key()) {
                Ok(None) => r.ok("master key", "present, mode 0600"),
                Ok(Some(mode)) => r.fail(
                    "master key",
                    format!(
                        "mode {mode:o} lets others read it; run chmod 600 {}",
                        layout.master_key().display()
                    ),
                ),
                Err(e) => r.fail("master key", e),
            },
            Err(e) => r.fail("master key", e),
        }
        if !layout.store().exists() {
            r.fail("store", format!("{} is missing", layout.store().display()));
        } else {
            check_store(
                &layout,
                audit_key,
                cipher.as_ref(),
                self.audit_head.as_ref(),
                &mut r,
            );
        }
        check_backups(data, &mut r);
        if r.failures == 0 {
            println!("doctor: all checks passed");
            Ok(ExitCode::SUCCESS)
        } else {
            println!("doctor: {} check(s) failed", r.failures);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn check_store(
    layout: &Layout,
    key: Option<AuditKey>,
    cipher: Option<&FieldCipher>,
    operator_head: Option<&Head>,
    r: &mut Report,
) {
    match Store::open_keyed(&layout.store(), store::DEFAULT_CACHE_BYTES, key) {
        Ok(mut s) => {
            match migrate::stored_version(&s) {
                Ok(v) => r.ok(
                    "schema",
                    format!(
                        "version {} (this binary: {})",
                        v.unwrap_or(0),
                        migrate::SCHEMA_VERSION
                    ),
                ),
                Err(e) => r.fail("schema", e),
            }
            match s.read(store::users::count) {
                Ok(n) => r.ok("users", n),
                Err(e) => r.fail("users", e),
            }
            check_audit(&s, operator_head, r);
            match s.read(store::rule_fields::drift) {
                Ok(d) if d.is_empty() => r.ok("customer rule view", "matches the records"),
                Ok(d) => r.fail(
                    "customer rule view",
                    format!(
                        "{} customer(s) differ from their records (e.g. {}); recall sweeps would misread them",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("customer rule view", e),
            }
            match s.read(|tx| store::customers::key_drift(tx, 20)) {
                Ok(d) if d.is_empty() => r.ok("customer keys", "match the records"),
                Ok(d) => r.fail(
                    "customer keys",
                    format!(
                        "{} difference(s) from the keys the records call for (e.g. {}); duplicate checks, owner lists, pool pages and the recycle bin would misanswer",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("customer keys", e),
            }
            // Merged at every open (`store::keylog`): rows here would be keys that no reader
            // sees.
            match s.read(store::keylog::pending) {
                Ok(0) => r.ok(
                    "import key log",
                    "empty (every imported key is in its table)",
                ),
                Ok(n) => r.fail(
                    "import key log",
                    format!("{n} key(s) of an interrupted import not merged into their tables"),
                ),
                Err(e) => r.fail("import key log", e),
            }
            match s.read(|tx| store::event_codec::drift(tx, 20)) {
                Ok(d) if d.is_empty() => r.ok("timeline events", "read, each of a stored customer"),
                Ok(d) => r.fail(
                    "timeline events",
                    format!(
                        "{} event(s) unreadable or of no stored customer (e.g. {}); timelines would fail or mislead",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("timeline events", e),
            }
            match s.read(|tx| store::funnel_since::drift(tx, 20)) {
                Ok(d) if d.is_empty() => r.ok("funnel stages", "match the records"),
                Ok(d) => r.fail(
                    "funnel stages",
                    format!(
                        "{} stage row(s) unreadable or unlike their record (e.g. {}); time-in-stage would miscount",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("funnel stages", e),
            }
            match s.read(|tx| store::audit::index_drift(tx, 20)) {
                Ok(d) if d.is_empty() => r.ok("audit filters", "match the log"),
                Ok(d) => r.fail(
                    "audit filters",
                    format!(
                        "{} difference(s) from a recount of the audit log (e.g. {}); the audit page's filters would misreport",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("audit filters", e),
            }
            match s.read(store::loads::drift) {
                Ok(d) if d.is_empty() => r.ok("owner load counters", "match the records"),
                Ok(d) => r.fail(
                    "owner load counters",
                    format!(
                        "{} counter(s) differ from a recount of the records (e.g. {}); automatic assignment and claim limits would misjudge loads",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("owner load counters", e),
            }
            match s.read(store::deals::drift) {
                Ok(d) if d.is_empty() => r.ok("deal keys and counters", "match the deals"),
                Ok(d) => r.fail(
                    "deal keys and counters",
                    format!(
                        "{} difference(s) from a recount of the deals (e.g. {}); deal lists and the board would misreport",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("deal keys and counters", e),
            }
            match s.read(store::custody::drift) {
                Ok(d) if d.is_empty() => r.ok("document keys", "match the checklists"),
                Ok(d) => r.fail(
                    "document keys",
                    format!(
                        "{} difference(s) from a recount of the checklists (e.g. {}); the 权证 page would misreport",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("document keys", e),
            }
            check_blobs(layout, &s, r);
            match s.read(store::leads::drift) {
                Ok(d) if d.is_empty() => r.ok("lead-check index", "matches the records"),
                Ok(d) => r.fail(
                    "lead-check index",
                    format!(
                        "{} difference(s) from a recount of the records (e.g. {}); the duplicate check (撞库) would misanswer",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("lead-check index", e),
            }
            match s.read(store::fees::drift) {
                Ok(d) if d.is_empty() => r.ok("fee keys and totals", "match the fee accounts"),
                Ok(d) => r.fail(
                    "fee keys and totals",
                    format!(
                        "{} difference(s) from a recount of the fee accounts (e.g. {}); receivables, payments and statements would misreport",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("fee keys and totals", e),
            }
            match s.read(store::report_keys::bucket_drift) {
                Ok(d) if d.is_empty() => r.ok("hoarding buckets", "match owner_touch"),
                Ok(d) => r.fail(
                    "hoarding buckets",
                    format!(
                        "{} difference(s) from a recount of owner_touch (e.g. {}); the activity report's hoarding (囤积) would misreport",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("hoarding buckets", e),
            }
            match s.read(store::funnel::lead_drift) {
                Ok(d) if d.is_empty() => r.ok("lead counters", "match the customer funnel"),
                Ok(d) => r.fail(
                    "lead counters",
                    format!(
                        "{} difference(s) from the customer funnel's lead entries (e.g. {}); the 工作台 trends would misreport new leads",
                        d.len(),
                        d[0]
                    ),
                ),
                Err(e) => r.fail("lead counters", e),
            }
            match cipher {
                Some(cipher) => check_sealed(&s, cipher, r),
                None => r.fail("sealed fields", "not checked: the master key did not load"),
            }
            check_index(layout, &s, r);
            match s.check_integrity() {
                Ok(true) => r.ok("store integrity", "consistent"),
                Ok(false) => r.warn("store integrity", "repaired on open (an earlier crash)"),
                Err(e) => r.fail("store integrity", e),
            }
        }
        Err(e) => r.fail("store", e),
    }
}

/// The audit chain: every entry verifies under the key, the chain is not shorter than its
/// anchors (the head file beside the store, and the operator's `--audit-head`), and the head
/// is printed for the operator to keep.
fn check_audit(s: &Store, operator_head: Option<&Head>, r: &mut Report) {
    let c = match s.verify_audit() {
        Ok(c) => c,
        Err(e) => return r.fail("audit chain", e),
    };
    if let Some((seq, why)) = &c.first_broken {
        return r.fail(
            "audit chain",
            format!("broken at entry {seq}: {why}; entries from there on cannot be trusted"),
        );
    }
    r.ok("audit chain", format!("{} entries verified", c.entries));
    if let Some(b) = &c.legacy_break {
        r.fail(
            "audit chain",
            format!("the chain was already broken before it was keyed, at {b}"),
        );
    }
    match &c.head {
        Some(h) => r.ok(
            "audit head",
            format!("{h} (keep this value; pass it to a later `zhudai doctor --audit-head {h}`)"),
        ),
        None => r.ok("audit head", "the log is empty"),
    }
    let path = audit_anchor::path_for(s.path());
    match audit_anchor::read(&path) {
        Err(e) => r.fail("audit anchor", e),
        Ok(None) if c.entries > 0 => r.warn(
            "audit anchor",
            format!("{} is missing (written at the next start)", path.display()),
        ),
        Ok(None) => r.ok("audit anchor", "none yet (no entries)"),
        Ok(Some(anchor)) => against_anchor(s, "audit anchor", &anchor, r),
    }
    if let Some(h) = operator_head {
        against_anchor(s, "audit head given", h, r);
    }
}

fn against_anchor(s: &Store, what: &str, anchor: &Head, r: &mut Report) {
    match s.read(|tx| store::audit::against(tx, anchor)) {
        Ok(AgainstAnchor::Matches) => r.ok(what, format!("the chain ends at {anchor}")),
        Ok(AgainstAnchor::Extends { by }) => r.note(
            what,
            format!(
                "behind the chain by {by} entries; the chain holds entry {} unchanged and extends it",
                anchor.seq
            ),
        ),
        Ok(AgainstAnchor::Truncated { chain_ends_at }) => r.fail(
            what,
            format!(
                "the chain ends at entry {chain_ends_at}, but entry {} existed ({anchor}): newest entries were deleted",
                anchor.seq
            ),
        ),
        Ok(AgainstAnchor::Rewritten) => r.fail(
            what,
            format!(
                "entry {} is not the one anchored ({anchor}): the log was rewritten from there",
                anchor.seq
            ),
        ),
        Err(e) => r.fail(what, e),
    }
}

/// Every customer's sealed phones and ID number open under the master key and match their
/// blind index. A value that does not would fail its reveal, its export and its duplicate
/// check, and leave its ID number's last digits out of the search index.
fn check_sealed(s: &Store, cipher: &FieldCipher, r: &mut Report) {
    let mut checked = 0u64;
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0u64;
    let scanned = s.read(|tx| {
        Reader::unscoped(tx, Unscoped::Maintenance).scan_all(None, |c| {
            // The field names are the ones the values were sealed under (`customers::create`).
            let mut fields = vec![(Cow::Borrowed("phone"), Kind::Phone, &c.phone)];
            for (i, p) in c.extra_phones.iter().enumerate() {
                fields.push((Cow::Owned(format!("extra_phones.{i}")), Kind::Phone, p));
            }
            if let Some(n) = &c.id_number {
                fields.push((Cow::Borrowed("id_number"), Kind::IdNumber, n));
            }
            for (field, kind, sealed) in fields {
                // An erased value keeps nothing to open (the recycle bin's anonymisation).
                if sealed.enc.is_empty() {
                    continue;
                }
                checked += 1;
                let problem = match cipher.decrypt(&c.id, &field, &sealed.enc) {
                    Err(e) => Some(format!("{}.{field}: {e}", c.id)),
                    Ok(plain) if cipher.blind_index(kind, &plain) != sealed.bidx => {
                        Some(format!("{}.{field}: blind index does not match", c.id))
                    }
                    Ok(_) => None,
                };
                if let Some(p) = problem {
                    bad_count += 1;
                    if bad.len() < 5 {
                        bad.push(p);
                    }
                }
            }
            true
        })
    });
    match scanned {
        Err(e) => r.fail("sealed fields", e),
        Ok(()) if bad_count == 0 => r.ok("sealed fields", format!("{checked} open under the key")),
        Ok(()) => r.fail(
            "sealed fields",
            format!(
                "{bad_count} of {checked} do not open under the key or miss their blind index ({}); reveals, exports, duplicate checks and search by ID number miss them: restore those customers from a backup",
                bad.join("; ")
            ),
        ),
    }
}

/// The search index against the store: counts, pending changes, a sample of customers.
fn check_index(layout: &Layout, s: &Store, r: &mut Report) {
    match crate::search::inspect(&layout.root, s, 1_000) {
        Ok(i) if i.generation.is_none() => r.warn(
            "search index",
            format!("not built yet; the next start builds it ({} customers)", i.live_customers),
        ),
        Ok(i) if !i.trusted => r.warn(
            "search index",
            "built from another store or schema; the next start rebuilds it (or run `zhudai reindex`)",
        ),
        // Changes not applied yet (after a kill -9, or written by a command beside the index)
        // explain missing or extra documents: the next start replays them. A drift that stays
        // after that start is a failure on the next run.
        Ok(i) if i.pending > 0 => r.warn(
            "search index",
            format!(
                "{} documents for {} customers ({} of {} sampled not indexed yet); {} changes not applied yet: the index will catch up at the next start",
                i.documents,
                i.live_customers,
                i.drifted.len(),
                i.sampled,
                i.pending
            ),
        ),
        Ok(i) if !i.drifted.is_empty() => r.fail(
            "search index",
            format!(
                "{} of {} sampled customers are missing (e.g. {}); run `zhudai reindex`",
                i.drifted.len(),
                i.sampled,
                i.drifted[0]
            ),
        ),
        Ok(i) if i.documents != i.live_customers => r.fail(
            "search index",
            format!(
                "{} documents for {} customers; run `zhudai reindex`",
                i.documents, i.live_customers
            ),
        ),
        Ok(i) => r.ok(
            "search index",
            format!("{} documents, {} sampled, no drift", i.documents, i.sampled),
        ),
        Err(e) => r.fail("search index", e),
    }
}

/// Blob rows against the files in `data/blobs` (a disk walk: doctor runs offline): a row
/// without its file is missing (FAIL), a file without a row is orphaned (warn: an upload
/// whose transaction did not commit, or a removal that did not happen), and removals still
/// queued after an erasure or a removed item are listed (FAIL: the file should be gone).
fn check_blobs(layout: &Layout, s: &Store, r: &mut Report) {
    let rows = match s.read(store::blobs::all) {
        Ok(rows) => rows,
        Err(e) => return r.fail("blobs", e),
    };
    let queued = match s.read(store::blobs::pending_deletions) {
        Ok(q) => q,
        Err(e) => return r.fail("blob removals", e),
    };
    // Only the walk needs the directory: the keys are not used.
    let files = match blob_files(&layout.root.join("blobs")) {
        Ok(f) => f,
        Err(e) => return r.fail("blobs", e),
    };
    let known: std::collections::BTreeSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    let missing: Vec<&str> = known
        .iter()
        .copied()
        .filter(|id| !files.contains(*id))
        .collect();
    let queued_ids: std::collections::BTreeSet<&str> =
        queued.iter().map(|(id, _)| id.as_str()).collect();
    let orphaned: Vec<&String> = files
        .iter()
        .filter(|f| !known.contains(f.as_str()) && !queued_ids.contains(f.as_str()))
        .collect();
    if missing.is_empty() {
        r.ok("blobs", format!("{} file(s), each present", rows.len()));
    } else {
        r.fail(
            "blobs",
            format!(
                "{} of {} missing on disk (e.g. {}); restore data/blobs from a backup",
                missing.len(),
                rows.len(),
                missing[0]
            ),
        );
    }
    if !orphaned.is_empty() {
        r.warn(
            "blobs",
            format!(
                "{} orphaned file(s) with no record (e.g. {}): safe to delete once no backup needs them",
                orphaned.len(),
                orphaned[0]
            ),
        );
    }
    if !queued.is_empty() {
        r.fail(
            "blob removals",
            format!(
                "{} file(s) whose records were removed (erasure or a removed document) are still to be deleted (e.g. {}); the next start retries, or delete data/blobs/<2 digits>/<id> by hand",
                queued.len(),
                queued[0].0
            ),
        );
    }
}

fn blob_files(root: &Path) -> std::io::Result<std::collections::BTreeSet<String>> {
    let mut out = std::collections::BTreeSet::new();
    let dirs = match std::fs::read_dir(root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for dir in dirs {
        let dir = dir?;
        if dir.file_name() == "tmp" || !dir.file_type()?.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir.path())? {
            if let Some(name) = f?.file_name().to_str() {
                out.insert(name.to_string());
            }
        }
    }
    Ok(out)
}

/// `--rotate-key`: see `service::platform::rotate` for the steps and why they are safe to interrupt.
fn rotate(layout: &Layout) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let old = keyfile::load(&layout.master_key())?;
    let (next, created) = keyfile::load_or_create(&layout.next_master_key())?;
    println!(
        "{} {}",
        if created {
            "new key written to"
        } else {
            "resuming with"
        },
        layout.next_master_key().display()
    );
    // The store says which key seals its audit chain (a resumed rotation may have re-keyed
    // it already): open with that one.
    let old_audit = crate::crypto::audit_key(&old);
    let new_audit = crate::crypto::audit_key(&next);
    let sealed_by_new = {
        let s = Store::open(&layout.store())?;
        s.setting("key_check")?.as_deref() == Some(new_audit.master_check())
    };
    let opened_with = if sealed_by_new {
        new_audit.clone()
    } else {
        old_audit
    };
    let store = Store::open_keyed(
        &layout.store(),
        store::DEFAULT_CACHE_BYTES,
        Some(opened_with),
    )?;
    let config = crate::config::Config::load(Some(&layout.root), std::env::vars(), &[])?.config;
    let app = crate::service::App::new(
        store,
        config,
        std::sync::Arc::new(crate::service::SystemClock),
        layout.root.clone(),
        crate::crypto::field::FieldCipher::new(&old),
        crate::blobs::BlobKeys::new(&old),
    );
    let new = crate::crypto::field::FieldCipher::new(&next);
    let mut bar: Option<super::progress::Progress> = None;
    let mut seen = 0;
    let changed = app.platform().rotate_fields(&new, &mut |done, total| {
        let bar = bar.get_or_insert_with(|| super::progress::Progress::new("re-encrypting", total));
        bar.inc(done - seen);
        seen = done;
    })?;
    if let Some(bar) = bar {
        bar.finish();
    }
    // The audit chain is re-sealed under the new key, with the new key's fingerprint in the
    // same transaction. The data now belongs to the new key; until the files are swapped the
    // server refuses to start anyway (master.next.key exists), and a rerun finishes the swap.
    // Blob keys are wrapped by a key derived from the master key: re-wrapped in one
    // transaction (a resumed rotation finds some already under the new key and keeps them).
    let (old_blobs, new_blobs) = (
        crate::blobs::BlobKeys::new(&old),
        crate::blobs::BlobKeys::new(&next),
    );
    let blobs = app.store.write(|tx| {
        store::blobs::rewrap_all(tx, |id, wrapped| {
            if new_blobs.opens(id, wrapped) {
                return Ok(wrapped.to_string());
            }
            old_blobs
                .rewrap(&new_blobs, id, wrapped)
                .map_err(|e| store::Error::Corrupt {
                    table: "blobs",
                    message: e.to_string(),
                })
        })
    })?;
    if blobs > 0 {
        println!("{blobs} blob keys re-wrapped under the new key");
    }
    let rekeyed = app.store.rekey_audit(&new_audit)?;
    app.store.set_setting("key_check", &new.key_check())?;
    drop(app);
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let retired = layout
        .root
        .join("keys")
        .join(format!("master.key.retired-{stamp}"));
    std::fs::rename(layout.master_key(), &retired).context("cannot retire the old key")?;
    std::fs::rename(layout.next_master_key(), layout.master_key())
        .context("cannot install the new key")?;
    if let Ok(dir) = std::fs::File::open(layout.root.join("keys")) {
        let _ = dir.sync_all();
    }
    println!(
        "rotated: {changed} records re-encrypted and {rekeyed} audit entries re-sealed under the new key"
    );
    if let Ok(Some(head)) = app_head(&layout.store()) {
        println!("audit head is now {head}: keep it in place of any earlier value");
    }
    println!(
        "the old key is kept as {}; delete it once a new backup exists (backups carry their own key)",
        retired.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn app_head(store: &std::path::Path) -> anyhow::Result<Option<Head>> {
    audit_anchor::read(&audit_anchor::path_for(store)).map_err(anyhow::Error::msg)
}

/// Loose entries listed one by one before the rest is summed up.
const LOOSE_SHOWN: usize = 20;

/// Borrowers' data is the service account's only: the data directory must be 0700 (a FAIL
/// otherwise: other users of the machine can reach everything in it), and each file (0600) or
/// directory (0700) in it that others may read is named with the command that fixes it (a
/// warning: the private directory still shuts them out). `serve` makes the directory 0700 and
/// writes everything owner-only; loose entries come from earlier releases or copies by hand.
fn check_modes(data: &Path, r: &mut Report) {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(data) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => r.fail(
            "data directory",
            format!(
                "{} is mode {:04o}: other users of this machine can reach borrowers' data; run chmod 700 {}",
                data.display(),
                m.permissions().mode() & 0o777,
                data.display()
            ),
        ),
        Ok(_) => r.ok("data directory", format!("{} is private (0700)", data.display())),
        Err(e) => r.fail("data directory", format!("cannot read {}: {e}", data.display())),
    }
    let mut loose = Vec::new();
    let mut checked = 0u64;
    let mut unreadable = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                unreadable.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => paths.push(e.path()),
                Err(e) => unreadable.push(format!("{}: {e}", dir.display())),
            }
        }
        paths.sort();
        for path in paths {
            // Not following links: a link's own mode means nothing; sockets (admin.sock) are
            // made 0600 by the server.
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    unreadable.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() {
                checked += 1;
                if mode & 0o077 != 0 {
                    loose.push((path.clone(), mode, "700"));
                }
                stack.push(path);
            } else if meta.is_file() {
                checked += 1;
                if mode & 0o077 != 0 {
                    loose.push((path, mode, "600"));
                }
            }
        }
    }
    for problem in &unreadable {
        r.fail("file modes", format!("cannot read {problem}"));
    }
    for (path, mode, fix) in loose.iter().take(LOOSE_SHOWN) {
        r.warn(
            "file modes",
            format!(
                "{} is {mode:04o}, readable by others; run chmod {fix} {}",
                path.display(),
                path.display()
            ),
        );
    }
    if loose.len() > LOOSE_SHOWN {
        r.warn(
            "file modes",
            format!(
                "… and {} more; run chmod -R go-rwx {} to fix them all",
                loose.len() - LOOSE_SHOWN,
                data.display()
            ),
        );
    }
    if loose.is_empty() && unreadable.is_empty() {
        r.ok(
            "file modes",
            format!("{checked} files and directories, owner-only"),
        );
    }
}

/// The last backup, from `backup-status.json` (written by `serve`'s scheduled and manual runs).
fn check_backups(data: &Path, r: &mut Report) {
    let status = match crate::jobs::backup::load_status(data) {
        Ok(s) => s,
        Err(e) => {
            r.fail("last backup", format!("{e}; the backup history is unknown"));
            return;
        }
    };
    let enabled = crate::config::Config::load(Some(data), std::env::vars(), &[])
        .map(|l| l.config.backup.enabled)
        .unwrap_or(false);
    let zone = crate::jobs::schedule::zone();
    let when = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string()
    };
    match (&status.last, &status.last_success) {
        (None, _) if enabled => r.warn(
            "last backup",
            "none yet (scheduled backups are on; the first runs at the configured time)",
        ),
        (None, _) => r.warn(
            "last backup",
            "none recorded; scheduled backups are off ([backup] in config.toml, or run `zhudai backup`)",
        ),
        (Some(last), success) if !last.ok => r.warn(
            "last backup",
            format!(
                "FAILED at {}: {}; last good one: {}",
                when(last.started_at),
                last.error.as_deref().unwrap_or("unknown error"),
                success
                    .as_ref()
                    .map(|s| {
                        let file = s.file.as_deref().unwrap_or("?");
                        format!("{} ({file})", when(s.started_at))
                    })
                    .unwrap_or_else(|| "none".into())
            ),
        ),
        (Some(last), _) => {
            let line = format!(
                "{} {} ({}, {:.1} s)",
                when(last.started_at),
                last.file.as_deref().unwrap_or("?"),
                super::backup::human_size(last.size_bytes.unwrap_or(0)),
                last.duration_ms as f64 / 1000.0
            );
            match &last.post_command_error {
                Some(e) => {
                    let line = format!("{line}; but the post command failed: {e}");
                    r.warn("last backup", line)
                }
                None => r.ok("last backup", line),
            }
        }
    }
}

/// `doctor --sizes`: where the store's bytes go, per table and per customer.
fn sizes(layout: &Layout) -> anyhow::Result<ExitCode> {
    let store = Store::open(&layout.store())?;
    let tables = store.table_sizes()?;
    let customers = tables
        .iter()
        .find(|t| t.name == "customers")
        .map_or(0, |t| t.entries);
    let file = std::fs::metadata(layout.store())?.len();
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>10}",
        "table", "entries", "stored bytes", "page bytes", "per cust."
    );
    let per = |b: u64| {
        b.checked_div(customers)
            .map_or_else(|| "-".to_string(), |n| n.to_string())
    };
    for t in &tables {
        println!(
            "{:<28} {:>12} {:>14} {:>14} {:>10}",
            t.name,
            t.entries,
            t.stored,
            t.pages,
            per(t.pages)
        );
    }
    let pages: u64 = tables.iter().map(|t| t.pages).sum();
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>10}",
        "all tables",
        "",
        "",
        pages,
        per(pages)
    );
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>10}",
        "file",
        "",
        "",
        file,
        per(file)
    );
    Ok(ExitCode::SUCCESS)
}

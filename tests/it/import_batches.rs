//! Issue 18.1: an import writes each batch table by table (`customers::insert_many`, events
//! with `customers::add_events`, counters, notices and loads summed per batch) while the next
//! batch is checked and sealed. Whatever the batch, the store must end up exactly as the
//! row-by-row writer leaves it (`ImportOptions::row_by_row`: `customers::put_by` and
//! `customers::add_event` per row, the writer the import used before): every table, compared
//! byte for byte through `tables::dump_all`, with only the random parts of the new ids
//! (customers and their events) put in a canonical form.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use zhudai::config::Config;
use zhudai::service::import::{BadOptional, ImportOptions, ImportReport, OnDuplicate};
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::{App, ManualClock};
use zhudai::store::customers::{Reader, Unscoped};
use zhudai::store::{customer_codec, customers, tables};

use crate::common;

type Dump = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn open(dir: &Path, clock: Arc<ManualClock>) -> Arc<App> {
    zhudai::open_app(dir, Config::defaults().unwrap(), clock).unwrap()
}

fn dump(app: &App) -> Dump {
    app.store.read(tables::dump_all).unwrap()
}

/// The store before any import: an administrator, three salespeople and ten customers of
/// the administrator (some of them repeated in the file).
fn base(dir: &Path, clock: Arc<ManualClock>) -> Vec<zhudai::synth::SynthCustomer> {
    let app = open(dir, clock);
    common::set_up_admin(&app);
    for i in 0..3 {
        app.org()
            .create_user(
                &Actor::Operator,
                NewUser {
                    username: format!("s{i}"),
                    display_name: format!("销售{i}"),
                    roles: vec!["sales".into()],
                    password: common::TEAM_PASSWORD.into(),
                    department_id: None,
                    manager_id: None,
                    phone: None,
                    broker: None,
                    must_change_password: false,
                },
                "test",
            )
            .unwrap();
    }
    let admin = app.access().caller_for(common::ADMIN).unwrap().user.id;
    let mut synth = zhudai::synth::Generator::new(99, app.now());
    let existing: Vec<_> = (0..10).map(|_| synth.customer()).collect();
    let records: Vec<_> = existing
        .iter()
        .map(|s| {
            app.platform()
                .demo_record(s, Some(admin.clone()), "test")
                .unwrap()
        })
        .collect();
    app.store
        .write(|tx| {
            for c in &records {
                customers::put(tx, None, c)?;
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    existing
}

/// 260 rows: new customers, some repeating a stored customer's phone or ID number, one
/// repeating an earlier row's phone, one with an earlier row's phone as its other phone and one
/// with an earlier row's other phone as its phone (found through the keys, not the file's own
/// check), one with a bad phone, one with a bad optional cell.
fn csv(existing: &[zhudai::synth::SynthCustomer], now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let mut synth = zhudai::synth::Generator::new(7, now);
    let mut s = String::from(
        "姓名,手机号,其他电话,身份证号,城市,地址,单位名称,渠道,阶段,标签,贷款金额(元)\n",
    );
    let mut phones: Vec<String> = Vec::new();
    for i in 0..260 {
        let c = synth.customer();
        let mut phone = c.phone.clone();
        let mut id_number = c.id_number.clone();
        let mut amount = (c.demand_amount_fen / 100).to_string();
        let mut extra = c.extra_phones.join(";");
        match i {
            20 => extra = "13912340020".into(),
            230 => phone = "13912340020".into(),
            200 => extra = phones[60].clone(),
            40 => phone = existing[0].phone.clone(),
            90 => phone = existing[1].phone.clone(),
            130 => id_number = existing[2].id_number.clone(),
            170 => phone = existing[3].phone.clone(),
            120 => phone = phones[10].clone(),
            150 => phone = "12345".into(),
            210 => amount = "很多".into(),
            _ => {}
        }
        phones.push(phone.clone());
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            c.name,
            phone,
            extra,
            id_number,
            c.city,
            c.address,
            c.company.clone().unwrap_or_default(),
            c.channel,
            c.stage,
            c.tags.join(";"),
            amount,
        ));
    }
    s.into_bytes()
}

/// The ids an import made (keys of new customers and of their events), each replaced by a
/// token of the same length from its rank: ids are handed out in row order by both writers.
fn canonical(before: &Dump, after: &Dump) -> Dump {
    let old: BTreeSet<&Vec<u8>> = before["customers"].iter().map(|(k, _)| k).collect();
    let mut map: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let new_customers: BTreeSet<&Vec<u8>> = after["customers"]
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !old.contains(k))
        .collect();
    // The binary keys (schema 35) hold a customer id as its 16 ULID bytes.
    let mut binary: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for (rank, id) in new_customers.iter().enumerate() {
        assert_eq!(id.len(), 26);
        map.insert((*id).clone(), format!("C{rank:025}").into_bytes());
        let ulid = ulid::Ulid::from_string(std::str::from_utf8(id).unwrap()).unwrap();
        binary.insert(
            ulid.to_bytes().to_vec(),
            format!("B{rank:015}").into_bytes(),
        );
    }
    // Event keys are bytes since schema 36: the customer id as a part, then the event id as
    // its 16 ULID bytes.
    let old_events: BTreeSet<&Vec<u8>> = before["customer_events_bin"]
        .iter()
        .map(|(k, _)| k)
        .collect();
    let new_events: BTreeSet<Vec<u8>> = after["customer_events_bin"]
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !old_events.contains(k))
        .map(|k| {
            assert_eq!(k.len(), 33);
            k[17..].to_vec()
        })
        .collect();
    for (rank, id) in new_events.iter().enumerate() {
        binary.insert(id.clone(), format!("F{rank:015}").into_bytes());
    }
    let swap = |bytes: &[u8]| {
        let mut out = bytes.to_vec();
        let mut i = 0;
        while i + 26 <= out.len() {
            if let Some(token) = map.get(&out[i..i + 26]) {
                out[i..i + 26].copy_from_slice(token);
                i += 26;
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i + 16 <= out.len() {
            if let Some(token) = binary.get(&out[i..i + 16]) {
                out[i..i + 16].copy_from_slice(token);
                i += 16;
            } else {
                i += 1;
            }
        }
        out
    };
    // Ciphertexts have random nonces: a record is compared with them left out (its blind
    // indexes, masks and tails stay).
    let plain = |table: &str, k: &[u8], v: &[u8]| {
        if table != "customers" {
            return v.to_vec();
        }
        let mut c = customer_codec::decode(std::str::from_utf8(k).unwrap(), v).unwrap();
        c.phone.enc.clear();
        for p in &mut c.extra_phones {
            p.enc.clear();
        }
        if let Some(i) = c.id_number.as_mut() {
            i.enc.clear();
        }
        customer_codec::encode(&c).unwrap()
    };
    after
        .iter()
        .map(|(table, rows)| {
            let mut rows: Vec<(Vec<u8>, Vec<u8>)> = rows
                .iter()
                .map(|(k, v)| (swap(k), swap(&plain(table, k, v))))
                .collect();
            rows.sort();
            (table.clone(), rows)
        })
        .collect()
}

fn import(app: &App, file: &Path, opts: &ImportOptions, id: &str) -> ImportReport {
    let caller = app.access().caller_for(common::ADMIN).unwrap();
    let mut quiet = |_: usize, _: usize| {};
    let mut progress = zhudai::service::import::Callback::new(&mut quiet);
    app.imports()
        .import_file(&caller, file, opts, "test", id, &mut progress)
        .unwrap()
}

/// The reference: `file` imported into a copy of `first` by the row-by-row writer. Gives the
/// store's tables before, the report and the tables after (canonical).
fn reference(
    first: &Path,
    file: &Path,
    opts: &ImportOptions,
    id: &str,
    clock: Arc<ManualClock>,
) -> (Dump, ImportReport, Dump) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(first, dir.path());
    let one = open(dir.path(), clock);
    let before = dump(&one);
    let report = import(
        &one,
        file,
        &ImportOptions {
            row_by_row: true,
            key_log: false,
            ..opts.clone()
        },
        id,
    );
    let expected = canonical(&before, &dump(&one));
    (before, report, expected)
}

fn counts(r: &ImportReport) -> [usize; 8] {
    [
        r.rows,
        r.created,
        r.updated,
        r.skipped,
        r.flagged,
        r.rejected,
        r.assigned,
        r.to_review,
    ]
}

#[test]
fn a_batched_import_writes_exactly_what_the_row_by_row_writer_writes() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    let existing = base(first.path(), clock.clone());
    let file = first.path().join("rows.csv");
    std::fs::write(&file, csv(&existing, common::epoch())).unwrap();
    let cases = [
        // Assigned round robin, duplicates flagged, batches of 37 (the last one partial).
        ImportOptions {
            assign: Some("round_robin".into()),
            on_duplicate: OnDuplicate::Flag,
            batch_rows: Some(37),
            ..Default::default()
        },
        // Updates between new rows, bad optional cells kept, batches of 64.
        ImportOptions {
            on_duplicate: OnDuplicate::Update,
            bad_optional: BadOptional::Keep,
            batch_rows: Some(64),
            ..Default::default()
        },
        // Given to a salesperson (notices), duplicates skipped, one batch.
        ImportOptions {
            owner: Some("s1".into()),
            ..Default::default()
        },
    ];
    // Each again with the new customers' random-order keys logged and merged at the end, as
    // `zhudai import` writes them (`store::keylog`).
    let logged: Vec<ImportOptions> = cases
        .iter()
        .map(|o| ImportOptions {
            key_log: true,
            ..o.clone()
        })
        .collect();
    for (n, opts) in cases.into_iter().chain(logged).enumerate() {
        let batched = tempfile::tempdir().unwrap();
        common::copy_dir(first.path(), batched.path());
        let id = zhudai::service::new_id(common::epoch());
        let (before, expected_report, expected) =
            reference(first.path(), &file, &opts, &id, clock.clone());
        let app = open(batched.path(), clock.clone());
        let got_report = import(&app, &file, &opts, &id);
        let got = canonical(&before, &dump(&app));
        assert_eq!(
            counts(&got_report),
            counts(&expected_report),
            "case {n}: {got_report:?}"
        );
        assert!(
            expected_report.created > 200,
            "case {n}: {expected_report:?}"
        );
        assert!(
            expected_report.rejected >= 2,
            "case {n}: {expected_report:?}"
        );
        let errors = |r: &ImportReport| {
            r.errors
                .iter()
                .map(|e| (e.row, e.field.clone(), e.reason.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(errors(&got_report), errors(&expected_report), "case {n}");
        for (table, rows) in &expected {
            assert_eq!(rows.len(), got[table].len(), "rows in {table}, case {n}");
            assert!(rows == &got[table], "{table} differs, case {n}");
        }
        assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>()
        );
        let chain = app.store.verify_audit().unwrap();
        assert!(chain.first_broken.is_none(), "{chain:?}");
        assert!(got["import_key_log"].is_empty(), "case {n}");
    }
}

/// Issue 18.1: with the unedited default `assign.rhai` the import picks owners with the
/// script's Rust twin (`rules::assign_among`) instead of the interpreter. The store must end up
/// exactly as with the script itself (here an edited copy, a comment added, which runs in the
/// interpreter): same owners in the same order, load counters, cursor, events and audit.
#[test]
fn the_default_assignment_in_rust_writes_what_the_script_writes() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    let existing = base(first.path(), clock.clone());
    let file = first.path().join("rows.csv");
    std::fs::write(&file, csv(&existing, common::epoch())).unwrap();
    // The edited copy is recorded as a version when the store opens (`plugin.disk_edit`):
    // done once here, so that both stores hold it before the import; the twin's copy then
    // gets the unedited default back (which records nothing).
    let assign_rhai = first.path().join("plugins/assign.rhai");
    let default = std::fs::read_to_string(&assign_rhai).unwrap();
    std::fs::write(
        &assign_rhai,
        format!("{default}\n// 本公司的分配规则（与默认相同）\n"),
    )
    .unwrap();
    drop(open(first.path(), clock.clone()));
    for mode in ["round_robin", "least_loaded", "weighted"] {
        let (script, twin) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        common::copy_dir(first.path(), script.path());
        common::copy_dir(first.path(), twin.path());
        std::fs::write(twin.path().join("plugins/assign.rhai"), &default).unwrap();
        let opts = ImportOptions {
            assign: Some(mode.into()),
            on_duplicate: OnDuplicate::Flag,
            batch_rows: Some(50),
            ..Default::default()
        };
        let id = zhudai::service::new_id(common::epoch());
        let one = open(script.path(), clock.clone());
        assert!(
            !one.plugins.assign_is_default(),
            "{mode}: the edited copy runs"
        );
        let before = dump(&one);
        let expected_report = import(&one, &file, &opts, &id);
        let expected = canonical(&before, &dump(&one));
        let app = open(twin.path(), clock.clone());
        assert!(
            app.plugins.assign_is_default(),
            "{mode}: the default is recognised"
        );
        let got_report = import(&app, &file, &opts, &id);
        let got = canonical(&before, &dump(&app));
        assert_eq!(counts(&got_report), counts(&expected_report), "{mode}");
        assert!(
            expected_report.assigned > 200,
            "{mode}: {expected_report:?}"
        );
        for (table, rows) in &expected {
            assert_eq!(rows.len(), got[table].len(), "rows in {table}, {mode}");
            assert!(rows == &got[table], "{table} differs, {mode}");
        }
        assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>()
        );
        assert!(app.store.verify_audit().unwrap().first_broken.is_none());
    }
}

/// Stops the process (a panic, as a kill would) after `after` batches have committed.
struct Crash {
    after: usize,
    batches: usize,
}

impl zhudai::service::import::Progress for Crash {
    fn after_batch(&mut self, _: &ImportReport) -> zhudai::service::Result<bool> {
        self.batches += 1;
        assert!(self.batches < self.after, "simulated crash");
        Ok(true)
    }
}

/// Runs a key-logging import of `file` that crashes after 3 batches of 37 rows; returns what
/// it created (from the store) and leaves the app dropped, the log not merged.
fn crashed_import(dir: &Path, file: &Path, clock: Arc<ManualClock>) -> u64 {
    let app = open(dir, clock);
    let caller = app.access().caller_for(common::ADMIN).unwrap();
    let opts = ImportOptions {
        key_log: true,
        batch_rows: Some(37),
        ..Default::default()
    };
    let id = zhudai::service::new_id(common::epoch());
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut crash = Crash {
            after: 3,
            batches: 0,
        };
        app.imports()
            .import_file(&caller, file, &opts, "test", &id, &mut crash)
    }));
    assert!(crashed.is_err(), "the import ran to its end");
    // Three batches committed, their phone, ID-number and name keys only in the log: the
    // tables lack them until the log is merged.
    let (pending, drift, customers) = app
        .store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>((
                zhudai::store::keylog::pending(tx)?,
                customers::key_drift(tx, 5)?,
                Reader::unscoped(tx, Unscoped::Jobs).count_all()?,
            ))
        })
        .unwrap();
    assert!(pending > 0);
    assert!(!drift.is_empty(), "keys missing while logged");
    assert!(customers >= 10 + 3 * 30, "{customers}");
    customers - 10
}

/// The log is empty and the keys and lead-check keys are exactly what the records call for.
fn assert_keys_whole(app: &App) {
    let (pending, drift, leads) = app
        .store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>((
                zhudai::store::keylog::pending(tx)?,
                customers::key_drift(tx, 5)?,
                zhudai::store::leads::drift(tx)?,
            ))
        })
        .unwrap();
    assert_eq!(pending, 0, "the log is emptied");
    assert!(drift.is_empty(), "{drift:?}");
    assert!(leads.is_empty(), "{leads:?}");
}

/// Issue 18.1: a CLI import logs its new customers' random-order keys and merges them at its
/// end. Interrupted after three batches (the log not merged), the store loses no key: the
/// next open merges the log before anything reads keys, `zhudai doctor` is clean, and running
/// the file again creates exactly the rows the first run did not — the store then holds what
/// one uninterrupted import writes (every table, row for row).
#[test]
fn an_interrupted_import_leaves_no_key_behind_at_the_next_open_or_import() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    let existing = base(first.path(), clock.clone());
    let file = first.path().join("rows.csv");
    std::fs::write(&file, csv(&existing, common::epoch())).unwrap();
    let opts = ImportOptions {
        key_log: true,
        batch_rows: Some(37),
        ..Default::default()
    };
    let id = zhudai::service::new_id(common::epoch());

    // The reference: one import run to its end by the row-by-row writer.
    let (before, whole, expected) = reference(first.path(), &file, &opts, &id, clock.clone());

    // Interrupted, then resumed by the next import of the same file.
    let resumed = tempfile::tempdir().unwrap();
    common::copy_dir(first.path(), resumed.path());
    let created = crashed_import(resumed.path(), &file, clock.clone());
    let app = open(resumed.path(), clock.clone());
    assert_keys_whole(&app);
    let again = import(&app, &file, &opts, &id);
    assert_eq!(again.created as u64 + created, whole.created as u64);
    assert_eq!(again.skipped as u64, whole.skipped as u64 + created);
    assert_keys_whole(&app);
    // No customer twice: every phone key names one customer.
    let phones = app
        .store
        .read(|tx| {
            let mut seen = std::collections::HashMap::new();
            let all = Reader::unscoped(tx, Unscoped::Jobs);
            all.scan_all(None, |c| {
                *seen.entry(c.phone.bidx.clone()).or_insert(0) += 1;
                true
            })?;
            Ok::<_, zhudai::store::Error>(seen)
        })
        .unwrap();
    assert!(phones.values().all(|&n| n == 1), "a phone twice");
    assert_eq!(phones.len() as u64, 10 + whole.created as u64);
    let got = canonical(&before, &dump(&app));
    for table in ["customer_keys_bin", "lead_check_bin", "import_key_log"] {
        assert!(expected[table] == got[table], "{table} differs");
    }
    drop(app);

    // Interrupted, then opened by `zhudai doctor` (as by `serve`): merged there, all clean.
    let served = tempfile::tempdir().unwrap();
    common::copy_dir(first.path(), served.path());
    crashed_import(served.path(), &file, clock.clone());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", served.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok    import key log: empty"), "{text}");
    assert!(
        text.contains("ok    customer keys: match the records"),
        "{text}"
    );
    assert!(
        text.contains("ok    lead-check index: matches the records"),
        "{text}"
    );
    let app = open(served.path(), clock);
    assert_keys_whole(&app);
}

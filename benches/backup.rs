//! Backup and restore time, archive size and peak memory, each beside a plain copy of the same
//! files measured in the same run. Run: `cargo bench --bench backup` (ZHUDAI_BENCH_ROWS
//! customers, default 100000). The store is filled with synthetic customers through the real
//! import path (validation, encryption, blind indexes, duplicate check), plus blobs/ with 64
//! files of 1 MB of random bytes. `ZHUDAI_BENCH_DATA=DIR` keeps that data directory: filled on
//! the first run, reused (not refilled) by the next ones — filling 1M customers takes minutes.
//! While the backup runs, a writer thread keeps committing to the store (the backup is taken
//! beside a working server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use zhudai::backup::create::{Quiet, SnapshotSource};
use zhudai::backup::{Encryption, Unlock};

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds this process has used, all threads, user and system (`/proc/self/stat`, in
/// the kernel's 100 Hz ticks).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // After the command name in parentheses: state is field 3, utime 14, stime 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
            Some((ticks(14)? + ticks(15)?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// Writes every dirty page of the system out (`sync`).
fn settle_disk() {
    let synced = std::process::Command::new("sync").status().unwrap();
    assert!(synced.success());
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Real customers through the import path: validated, encrypted, blind-indexed, deduplicated.
fn fill(app: &zhudai::service::App, data: &Path, rows: u64, now: chrono::DateTime<chrono::Utc>) {
    let t = Instant::now();
    let mut synth = zhudai::synth::Generator::new(7, now);
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let admin = app.access().caller_for("admin").unwrap();
    let mut done = 0;
    while done < rows {
        let batch = (rows - done).min(50_000);
        let mut csv = String::from(
            "姓名,手机号,身份证号,城市,地址,单位名称,渠道,贷款金额(元),贷款期限(月),贷款用途,标签\n",
        );
        for _ in 0..batch {
            let c = synth.customer();
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                c.name,
                c.phone,
                c.id_number,
                c.city,
                c.address,
                c.company.as_deref().unwrap_or(""),
                c.channel,
                c.demand_amount_fen / 100,
                c.demand_term_months,
                c.demand_purpose,
                c.tags.join(";"),
            ));
        }
        let report = app
            .imports()
            .import_customers(
                &admin,
                csv.as_bytes(),
                zhudai::service::import::OnDuplicate::Skip,
                false,
                "bench",
                &mut |_, _| {},
            )
            .unwrap();
        assert_eq!(report.created as u64, batch, "{:?}", report.errors.first());
        done += batch;
    }
    std::fs::create_dir_all(data.join("blobs/00")).unwrap();
    let mut blob = vec![0u8; 1 << 20];
    for i in 0..64 {
        getrandom::fill(&mut blob).unwrap();
        std::fs::write(data.join(format!("blobs/00/{i:04}")), &blob).unwrap();
    }
    println!(
        "filled: {rows} synthetic customers imported + 64 MB blobs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let rows: u64 = std::env::var("ZHUDAI_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let kept = std::env::var_os("ZHUDAI_BENCH_DATA").map(std::path::PathBuf::from);
    // Scratch (copy, archive, restore) beside the data: the same filesystem.
    let work = match &kept {
        Some(dir) => tempfile::tempdir_in(dir.parent().unwrap()).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let data = kept.unwrap_or_else(|| work.path().join("data"));
    let reused = data.join("zhudai.redb").exists();
    let app = zhudai::open_app(
        &data,
        zhudai::config::Config::defaults().unwrap(),
        Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    let now = chrono::Utc::now();
    if !reused {
        fill(&app, &data, rows, now);
    }
    let store_file = data.join("zhudai.redb");
    let store_size = std::fs::metadata(&store_file).unwrap().len();
    let files = zhudai::backup::create::list_entries(&data, &store_file).unwrap();
    let files_size: u64 = files
        .iter()
        .map(|e| std::fs::metadata(&e.source).unwrap().len())
        .sum();
    println!(
        "data: {}; store {:.1} MB; {} files, {:.1} MB with keys and blobs",
        if reused {
            format!("{} (reused)", data.display())
        } else {
            format!("{rows} customers")
        },
        store_size as f64 / 1e6,
        files.len(),
        files_size as f64 / 1e6,
    );
    let rss_before = vm_hwm_kb();

    // Baseline in the same run: a plain copy of the same files (no snapshot, no tar, no
    // compression, no encryption), as `cp -r` makes it (copy_file_range, no sync). Each timed
    // phase starts with no dirty pages waiting to be written (`sync`), so neither pays for the
    // other's write-back.
    settle_disk();
    let t = Instant::now();
    let copy = work.path().join("plain-copy");
    for e in &files {
        let to = copy.join(&e.path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e.source, &to).unwrap();
    }
    let copy_s = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&copy).unwrap();
    println!("baseline: plain copy of the same files: {copy_s:.2} s");
    // A second baseline: the same copy made durable (each file fsynced), as a backup's archive is.
    settle_disk();
    let t = Instant::now();
    for e in &files {
        let to = copy.join(&e.path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e.source, &to).unwrap();
        std::fs::File::open(&to).unwrap().sync_all().unwrap();
    }
    let durable_s = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&copy).unwrap();
    println!("baseline: the same copy with each file fsynced: {durable_s:.2} s");

    // The server keeps working: a writer commits audit entries while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    // The longest a commit took meanwhile (µs): how long writers waited for the snapshot.
    let longest = Arc::new(AtomicU64::new(0));
    let writer = {
        let (app, stop, written, longest) =
            (app.clone(), stop.clone(), written.clone(), longest.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                app.store
                    .write(|tx| {
                        zhudai::store::audit::append(
                            tx,
                            chrono::Utc::now(),
                            zhudai::store::audit::NewAudit {
                                actor_id: None,
                                actor: "system".into(),
                                action: "backup.snapshot",
                                target: None,
                                detail: serde_json::json!({}),
                                source: "bench".into(),
                            },
                        )
                        .map(|_| ())
                    })
                    .unwrap();
                longest.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                written.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let id = age::x25519::Identity::generate();
    let out = work.path().join("b.age");
    settle_disk();
    let t = Instant::now();
    let cpu_before = cpu_s();
    let created = zhudai::backup::create(
        &data,
        &out,
        &Encryption::Recipients(vec![id.to_public()]),
        SnapshotSource::Store(&app.store),
        now,
        &mut Quiet,
        &AtomicBool::new(false),
    )
    .unwrap();
    let backup_s = t.elapsed().as_secs_f64();
    let backup_cpu = cpu_s() - cpu_before;
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let rss_backup = vm_hwm_kb();
    drop(app);

    let t = Instant::now();
    let cpu_before = cpu_s();
    let target = work.path().join("restored");
    let unlock = Unlock::Identities(vec![Box::new(id)]);
    let r = zhudai::backup::restore(
        &out,
        &unlock,
        &target,
        false,
        now,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    let restore_cpu = cpu_s() - cpu_before;
    let ratio = backup_s / copy_s.max(1e-9);
    let archived: u64 = created.manifest.total_size();
    println!(
        "backup against the fsynced copy: ×{:.2}",
        backup_s / durable_s.max(1e-9)
    );
    println!(
        "backup: {backup_s:.2} s (snapshot {:.2} s + archive {:.2} s) = ×{ratio:.2} the plain copy [target < 30 s and ≤ ×2.5: {}]; {} audit entries committed meanwhile, the longest commit {:.0} ms (writers wait for the file copy)",
        created.snapshot_took.as_secs_f64(),
        created.archive_took.as_secs_f64(),
        met(backup_s < 30.0 && ratio <= 2.5),
        written.load(Ordering::Relaxed),
        longest.load(Ordering::Relaxed) as f64 / 1e3,
    );
    println!(
        "backup CPU: {backup_cpu:.2} CPU-s in {backup_s:.2} s = {:.2} cores on average (of {})",
        backup_cpu / backup_s.max(1e-9),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "archive: {:.1} MB = {:.1}% of the store file ({:.1} MB), {:.1}% of all files archived ({:.1} MB) [target ≤ 40%: {}]",
        created.size as f64 / 1e6,
        100.0 * created.size as f64 / store_size as f64,
        store_size as f64 / 1e6,
        100.0 * created.size as f64 / archived as f64,
        archived as f64 / 1e6,
        met(created.size as f64 <= 0.4 * archived as f64),
    );
    println!(
        "restore (decrypt + verify + open + audit chain check of {} entries): {restore_s:.2} s = ×{:.2} the plain copy [target < 30 s: {}]",
        r.audit_entries,
        restore_s / copy_s.max(1e-9),
        met(restore_s < 30.0),
    );
    println!("restore CPU: {restore_cpu:.2} CPU-s in {restore_s:.2} s");
    println!(
        "peak RSS (VmHWM): {:.0} MB before the backup, {:.0} MB after it, {:.0} MB after the restore",
        rss_before as f64 / 1024.0,
        rss_backup as f64 / 1024.0,
        vm_hwm_kb() as f64 / 1024.0
    );
}

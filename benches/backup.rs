//! Backup and restore time, archive size and peak memory. Run: `cargo bench --bench backup`
//! (ZHUDAI_BENCH_ROWS customers, default 100000). The store is filled with synthetic customers
//! through the real import path (validation, encryption, blind indexes, duplicate check), plus
//! blobs/ with 64 files of 1 MB of random bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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

fn main() {
    let rows: u64 = std::env::var("ZHUDAI_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let app = zhudai::open_app(
        &data,
        zhudai::config::Config::defaults().unwrap(),
        Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    let now = chrono::Utc::now();
    let mut synth = zhudai::synth::Generator::new(7, now);
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let admin = app.access().caller_for("admin").unwrap();
    let t = Instant::now();
    let mut done = 0;
    // Real customers through the import path: validated, encrypted, blind-indexed, deduplicated.
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
    let store_size = std::fs::metadata(data.join("zhudai.redb")).unwrap().len();
    println!(
        "data: {rows} synthetic customers imported (store {:.1} MB) + 64 MB blobs, filled in {:.1} s",
        store_size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let rss_before = vm_hwm_kb();

    // Baseline in the same run: a plain copy of the same files (no snapshot, no tar, no age).
    let t = Instant::now();
    let copy = work.path().join("plain-copy");
    std::fs::create_dir_all(copy.join("blobs/00")).unwrap();
    std::fs::copy(data.join("zhudai.redb"), copy.join("zhudai.redb")).unwrap();
    for i in 0..64 {
        let name = format!("blobs/00/{i:04}");
        std::fs::copy(data.join(&name), copy.join(&name)).unwrap();
    }
    let copy_s = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&copy).unwrap();
    println!("baseline: plain file copy of the store and blobs: {copy_s:.2} s");

    let id = age::x25519::Identity::generate();
    let out = work.path().join("b.age");
    let t = Instant::now();
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
    let rss_backup = vm_hwm_kb();
    drop(app);

    let t = Instant::now();
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
    println!(
        "backup (snapshot + archive): {backup_s:.2} s (×{:.1} the plain copy), archive {:.1} MB",
        backup_s / copy_s.max(1e-9),
        created.size as f64 / 1e6
    );
    println!(
        "restore (decrypt + verify + open + audit chain check of {} entries): {restore_s:.2} s (×{:.1} the plain copy)",
        r.audit_entries,
        restore_s / copy_s.max(1e-9)
    );
    println!(
        "peak RSS (VmHWM): {:.0} MB after filling, {:.0} MB after backup, {:.0} MB after restore",
        rss_before as f64 / 1024.0,
        rss_backup as f64 / 1024.0,
        vm_hwm_kb() as f64 / 1024.0
    );
}

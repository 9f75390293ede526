//! Backup and restore time, archive size and peak memory. Run: `cargo bench --bench backup`
//! (ZHUDAI_BENCH_ROWS, default 100000). What the data is, honestly: there is no bulk customer
//! table to fill yet, so the store is filled with N audit entries whose detail carries one
//! synthetic customer's non-personal fields (city, channel, company, address) — ~0.5 KB each,
//! about the size of a customer record — plus blobs/ with 64 files of 1 MB of random bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use zhudai::backup::create::{Quiet, SnapshotSource};
use zhudai::backup::{Encryption, Unlock};
use zhudai::store::audit::{self, NewAudit};

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
    let t = Instant::now();
    let mut done = 0;
    while done < rows {
        let batch = (rows - done).min(10_000);
        app.store
            .write(|tx| {
                for _ in 0..batch {
                    let c = synth.customer();
                    audit::append(
                        tx,
                        now,
                        NewAudit {
                            actor_id: None,
                            actor: "bench".into(),
                            action: "bench.customer",
                            target: None,
                            detail: serde_json::json!({
                                "city": c.city, "district": c.district, "channel": c.channel,
                                "company": c.company, "address": c.address,
                                "note": "跟进记录：客户有房有公积金，需求三十万经营周转，约下周上门。",
                            }),
                            source: "bench".into(),
                        },
                    )?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
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
        "data: {rows} audit entries carrying synthetic customer fields (store {:.1} MB) + 64 MB blobs, filled in {:.1} s",
        store_size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let rss_before = vm_hwm_kb();

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
        "backup (snapshot + archive): {backup_s:.2} s, archive {:.1} MB",
        created.size as f64 / 1e6
    );
    println!(
        "restore (decrypt + verify + open + audit chain check of {} entries): {restore_s:.2} s",
        r.audit_entries
    );
    println!(
        "peak RSS (VmHWM): {:.0} MB after filling, {:.0} MB after backup, {:.0} MB after restore",
        rss_before as f64 / 1024.0,
        rss_backup as f64 / 1024.0,
        vm_hwm_kb() as f64 / 1024.0
    );
}

//! Issue 13.5: the pages that list or count, at scale, each beside the whole-table read it
//! replaced. The "before" column runs the old code path (reproduced here exactly as it was:
//! decode every unowned customer, scan every record twice, hold every exported row) on the
//! same store in the same run, so the ratio is read off one machine state.
//!
//! The export's absolute peak memory is measured last, in a process of its own: the bench runs
//! itself again (`ZHUDAI_BENCH_CHILD`) on the data directory it built, once only opening it
//! as `zhudai serve` does (the baseline) and once also exporting every customer, and prints
//! both children's VmHWM.
//!
//! Run: `ZHUDAI_BENCH_ROWS=1000000 cargo bench --bench pages` (release). Environment:
//! `ZHUDAI_BENCH_ROWS` customers (default 100000), `ZHUDAI_BENCH_POOLED` percent of them
//! waiting in pools (default 70), `ZHUDAI_BENCH_DELETED` in the recycle bin (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zhudai::config::Config;
use zhudai::domain::customer::Customer;
use zhudai::service::SystemClock;
use zhudai::service::customers::DuplicateQuery;
use zhudai::service::customers::export::{ExportFormat, ExportQuery};
use zhudai::service::customers::recycle::RecycleBinQuery;
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::pools::{PoolCustomerFilter, PoolInput};
use zhudai::store::customers;

const SEED: u64 = 20261205;
const SALES: usize = 100;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50 and p99 in ms of `n` runs of `f` on one thread.
fn timed(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            ms(s.elapsed())
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[(t.len() * 99 / 100).min(t.len() - 1)])
}

/// p99 in ms over 8 threads running `f` `n` times each at once.
fn timed8(n: usize, f: impl Fn() + Sync) -> f64 {
    let mut all: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..n)
                        .map(|_| {
                            let t = Instant::now();
                            f();
                            ms(t.elapsed())
                        })
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    all.sort_by(f64::total_cmp);
    all[(all.len() * 99 / 100).min(all.len() - 1)]
}

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The child's mode (`idle` or `export`) and the data directory it opens.
const CHILD: &str = "ZHUDAI_BENCH_CHILD";
const CHILD_DATA: &str = "ZHUDAI_BENCH_DATA";
/// The child's one line of results, `key=value` pairs after this tag.
const CHILD_LINE: &str = "pages-child:";

/// Peak and current resident size and the current one's anonymous and file-backed parts, in
/// MB, from /proc/self/status.
fn mem() -> [(&'static str, f64); 4] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    [
        ("hwm", field("VmHWM:")),
        ("rss", field("VmRSS:")),
        ("anon", field("RssAnon:")),
        ("file", field("RssFile:")),
    ]
}

fn export_query() -> ExportQuery {
    ExportQuery {
        format: ExportFormat::Csv,
        full: false,
        stage: None,
        grade: None,
        tag: None,
        owner: None,
        channel: None,
    }
}

/// The child: opens the data directory as `zhudai serve` does (configuration loaded from it,
/// the app with its store, plugins and search index), then for `export` runs the export of
/// every customer through the call the HTTP handler makes and reads the file back in the
/// handler's 64 KiB chunks. Prints its memory after opening and after the export.
fn child(mode: &str) {
    let data = PathBuf::from(std::env::var(CHILD_DATA).unwrap());
    let mut line = String::new();
    let mut put = |prefix: &str, m: [(&str, f64); 4]| {
        for (k, v) in m {
            line.push_str(&format!(" {k}_{prefix}={v:.1}"));
        }
    };
    put("start", mem());
    let t = Instant::now();
    let config = Config::load(Some(&data), std::env::vars(), &[])
        .unwrap()
        .config;
    let app = zhudai::open_app(&data, config, Arc::new(SystemClock)).unwrap();
    app.access().prepare_setup().unwrap();
    app.lookup().search_catch_up().unwrap();
    let open_s = t.elapsed().as_secs_f64();
    put("open", mem());
    if mode == "export" {
        let admin = app.access().caller_for("admin").unwrap();
        let t = Instant::now();
        let mut file = app
            .customers()
            .export_customers(&admin, &export_query(), "bench")
            .unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        loop {
            let n = file.file.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            sent += n as u64;
        }
        assert_eq!(sent, file.len);
        let secs = t.elapsed().as_secs_f64();
        put("export", mem());
        line.push_str(&format!(
            " rows={} file_mb={:.1} export_s={secs:.1}",
            file.rows,
            file.len as f64 / 1048576.0
        ));
    }
    println!("{CHILD_LINE}{line} open_s={open_s:.2}");
}

/// Runs this bench again as a child on `data` and returns its figures.
fn run_child(mode: &str, data: &Path) -> BTreeMap<String, f64> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, mode)
        .env(CHILD_DATA, data)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child {mode} failed: {text}");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_LINE))
        .unwrap_or_else(|| panic!("child {mode} printed no figures: {text}"));
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn report(what: &str, before: (f64, f64), after: (f64, f64), after8: f64) {
    println!(
        "{what}: before p50 {:.2} ms p99 {:.2} ms | after p50 {:.3} ms p99 {:.3} ms (×{:.0} faster at p99), 8 threads p99 {:.3} ms{}",
        before.0,
        before.1,
        after.0,
        after.1,
        before.1 / after.1.max(1e-6),
        after8,
        if after.1 < 50.0 && after8 < 50.0 {
            ""
        } else {
            "  ✗ target 50 ms missed"
        }
    );
}

fn main() {
    if let Ok(mode) = std::env::var(CHILD) {
        child(&mode);
        return;
    }
    let rows = env_or("ZHUDAI_BENCH_ROWS", 100_000);
    let pooled = env_or("ZHUDAI_BENCH_POOLED", 70);
    let deleted = env_or("ZHUDAI_BENCH_DELETED", 2_000);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    println!("zhudai pages bench: {rows} customers, {pooled}% in pools, {deleted} deleted");
    let app = Arc::new(
        zhudai::open_app(&data, Config::defaults().unwrap(), Arc::new(SystemClock)).unwrap(),
    );
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let op = Actor::Operator;
    let dept = app
        .org()
        .create_department(
            &op,
            DepartmentInput {
                name: "一部".into(),
                parent_id: None,
            },
            "bench",
        )
        .unwrap()
        .id;
    let sales: Vec<String> = (0..SALES)
        .map(|i| {
            app.org()
                .create_user(
                    &op,
                    NewUser {
                        username: format!("s{i}"),
                        display_name: format!("业务员{i}"),
                        roles: vec!["sales".into()],
                        password: "bench staff password".into(),
                        department_id: Some(dept.clone()),
                        manager_id: None,
                        phone: None,
                        broker: None,
                        must_change_password: false,
                    },
                    "bench",
                )
                .unwrap()
                .id
        })
        .collect();
    let admin = app.access().caller_for("admin").unwrap();
    let firm = app
        .pools()
        .list_pools(&admin)
        .unwrap()
        .into_iter()
        .find(|p| p.pool.department_id.is_none())
        .unwrap()
        .pool;
    let dept_pool = app
        .pools()
        .create_pool(
            &admin,
            PoolInput {
                name: "一部公海".into(),
                department_id: Some(dept.clone()),
                members: vec![],
                admins: vec![],
                settings: Default::default(),
            },
            "bench",
        )
        .unwrap();

    // Fill straight through the store (what an import writes), then index.
    let now = app.now();
    let mut synth = zhudai::synth::Generator::new(SEED, now);
    let mut rng = Rng(SEED);
    let t = Instant::now();
    let mut done = 0u64;
    let mut names = Vec::new();
    while done < rows {
        let batch = (rows - done).min(10_000);
        let mut records: Vec<Customer> = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let s = synth.customer();
            let in_pool = rng.below(100) < pooled;
            let owner = (!in_pool).then(|| sales[rng.below(SALES as u64) as usize].clone());
            let mut c = app.platform().demo_record(&s, owner, "bench").unwrap();
            if in_pool {
                let p = if rng.below(10) < 7 { &firm } else { &dept_pool };
                c.pool_id = Some(p.id.clone());
            }
            if names.len() < 100 && rng.below(1000) == 0 {
                names.push(c.name.clone());
            }
            records.push(c);
        }
        app.store
            .write(|tx| {
                for c in &records {
                    customers::put(tx, None, c)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
        done += batch;
    }
    println!("fill: {:.1} s", t.elapsed().as_secs_f64());
    // Into the recycle bin (soft delete as the service writes it).
    let mut ids = Vec::new();
    app.store
        .read(|tx| {
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(None, |c| {
                if c.owner_id.is_some() && rng.below(rows.max(1)) < deleted * 2 {
                    ids.push(c.id);
                }
                (ids.len() as u64) < deleted
            })
        })
        .unwrap();
    for chunk in ids.chunks(1000) {
        app.store
            .write(|tx| {
                for id in chunk {
                    let before = customers::Reader::unscoped(tx, customers::Unscoped::Maintenance)
                        .any(id)?
                        .unwrap();
                    let mut c = before.clone();
                    c.deleted_at = Some(now);
                    customers::put(tx, Some(&before), &c)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
    }
    let t = Instant::now();
    app.lookup().search_catch_up().unwrap();
    println!(
        "index: {:.1} s; {} in the bin; resident {:.0} MB",
        t.elapsed().as_secs_f64(),
        ids.len(),
        rss_mb()
    );

    // Pools list: counters vs decoding every unowned customer.
    let before = timed(3, || {
        let mut counts = BTreeMap::<String, u64>::new();
        // Every record decoded (since schema 36 the unowned ones have no key of their own).
        app.store
            .read(|tx| {
                customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                    None,
                    |c| {
                        if c.owner_id.is_none()
                            && c.deleted_at.is_none()
                            && let Some(p) = c.pool_id
                        {
                            *counts.entry(p).or_default() += 1;
                        }
                        true
                    },
                )
            })
            .unwrap();
        std::hint::black_box(counts);
    });
    let after = timed(200, || {
        std::hint::black_box(app.pools().list_pools(&admin).unwrap());
    });
    let after8 = timed8(100, || {
        std::hint::black_box(app.pools().list_pools(&admin).unwrap());
    });
    report("GET /pools", before, after, after8);

    // A pool's page (50, first page, then one after a cursor, then filtered by city).
    let old_page = |city: Option<&str>| {
        let mut matching: Vec<Customer> = Vec::new();
        app.store
            .read(|tx| {
                // Every record decoded (since schema 36 the unowned ones have no key of their own).
                customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                    None,
                    |c| {
                        if c.owner_id.is_none()
                            && c.deleted_at.is_none()
                            && c.pool_id.as_deref() == Some(firm.id.as_str())
                            && city.is_none_or(|x| c.city.as_deref() == Some(x))
                        {
                            matching.push(c);
                        }
                        true
                    },
                )
            })
            .unwrap();
        std::hint::black_box(matching.len());
    };
    let first = app
        .pools()
        .pool_customers(&admin, &firm.id, &PoolCustomerFilter::default())
        .unwrap();
    println!("pool page total {} (firm-wide pool)", first.total);
    let before = timed(3, || old_page(None));
    let page = |cursor: Option<String>, city: Option<String>| PoolCustomerFilter {
        cursor,
        city,
        ..Default::default()
    };
    let after = timed(200, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(None, None))
                .unwrap(),
        );
    });
    let after8 = timed8(100, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(None, None))
                .unwrap(),
        );
    });
    report(
        "GET /pools/{id}/customers first page",
        before,
        after,
        after8,
    );
    let cursor = first.next_cursor.clone();
    let after = timed(200, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(cursor.clone(), None))
                .unwrap(),
        );
    });
    let after8 = timed8(100, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(cursor.clone(), None))
                .unwrap(),
        );
    });
    report("… second page (cursor)", before, after, after8);
    // Deep: 10,000 customers in (50 pages of 200 walked to get the cursor).
    let mut deep = first.next_cursor.clone();
    for _ in 0..50 {
        let p = PoolCustomerFilter {
            cursor: deep.clone(),
            limit: Some(200),
            ..Default::default()
        };
        deep = app
            .pools()
            .pool_customers(&admin, &firm.id, &p)
            .unwrap()
            .next_cursor;
    }
    let after = timed(200, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(deep.clone(), None))
                .unwrap(),
        );
    });
    let after8 = timed8(100, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(deep.clone(), None))
                .unwrap(),
        );
    });
    report("… a page 10,000 deep (cursor)", before, after, after8);
    let city = first.items.first().and_then(|c| c.city.clone());
    let before = timed(3, || old_page(city.as_deref()));
    let after = timed(200, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(None, city.clone()))
                .unwrap(),
        );
    });
    let after8 = timed8(100, || {
        std::hint::black_box(
            app.pools()
                .pool_customers(&admin, &firm.id, &page(None, city.clone()))
                .unwrap(),
        );
    });
    report("… filtered by city", before, after, after8);

    // Recycle bin: two scans of every record (before its keys, schema 11), then the whole bin
    // listed from its keys (session 6: every entry's record read and its view built), then
    // pages of it (the first, and one deep in the bin) read from a cursor.
    let before = timed(3, || {
        for _ in 0..2 {
            let mut n = 0u64;
            app.store
                .read(|tx| {
                    customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                        None,
                        |c| {
                            n += u64::from(c.deleted_at.is_some());
                            true
                        },
                    )
                })
                .unwrap();
            std::hint::black_box(n);
        }
    });
    let listed_all = || {
        app.customers().purge_recycle_bin().unwrap();
        let deleted = app
            .store
            .read(|tx| {
                let mut out = Vec::new();
                for id in customers::Reader::unscoped(tx, customers::Unscoped::Maintenance)
                    .in_bin(None)?
                    .iter()
                    .rev()
                {
                    if let Some(c) =
                        customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).any(id)?
                        && c.deleted_at.is_some()
                        && !c.phone.bidx.is_empty()
                    {
                        out.push(c);
                    }
                }
                Ok::<_, zhudai::store::Error>(out)
            })
            .unwrap();
        let viewer = app.viewer(&admin);
        let views: Vec<_> = deleted.iter().map(|c| viewer.view(c).unwrap()).collect();
        std::hint::black_box(views);
    };
    let all = timed(50, listed_all);
    let all8 = timed8(20, listed_all);
    let bin_page = |cursor: Option<String>| RecycleBinQuery {
        limit: None,
        cursor,
    };
    let first = app
        .customers()
        .recycle_bin(&admin, &bin_page(None))
        .unwrap();
    // Walk the bin 50 at a time; the deep page starts 1,000 entries in (or at the last page).
    let mut cursors = Vec::new();
    let mut next = first.next_cursor.clone();
    let mut walked = first.items.len();
    while let Some(c) = next {
        let p = app
            .customers()
            .recycle_bin(&admin, &bin_page(Some(c.clone())))
            .unwrap();
        walked += p.items.len();
        cursors.push(c);
        next = p.next_cursor;
    }
    assert_eq!(walked as u64, first.total, "the pages walk the whole bin");
    let deep = cursors.get(19).or(cursors.last()).cloned();
    let deep_at = deep.as_ref().map_or(0, |_| 50 * (cursors.len().min(20)));
    let page_first = timed(200, || {
        std::hint::black_box(
            app.customers()
                .recycle_bin(&admin, &bin_page(None))
                .unwrap(),
        );
    });
    let page_first8 = timed8(100, || {
        std::hint::black_box(
            app.customers()
                .recycle_bin(&admin, &bin_page(None))
                .unwrap(),
        );
    });
    let page_deep = timed(200, || {
        std::hint::black_box(
            app.customers()
                .recycle_bin(&admin, &bin_page(deep.clone()))
                .unwrap(),
        );
    });
    let page_deep8 = timed8(100, || {
        std::hint::black_box(
            app.customers()
                .recycle_bin(&admin, &bin_page(deep.clone()))
                .unwrap(),
        );
    });
    let miss = |one: (f64, f64), eight: f64| {
        if one.1 < 50.0 && eight < 50.0 {
            ""
        } else {
            "  ✗ target 50 ms missed"
        }
    };
    println!(
        "GET /customers/recycle-bin ({} entries, total {}): before (two scans of every record) p50 {:.2} ms p99 {:.2} ms",
        ids.len(),
        first.total,
        before.0,
        before.1
    );
    println!(
        "… whole bin listed (session 6 path): p50 {:.2} ms p99 {:.2} ms, 8 threads p99 {:.2} ms{}",
        all.0,
        all.1,
        all8,
        miss(all, all8)
    );
    for (what, one, eight) in [
        ("first page (50)".to_string(), page_first, page_first8),
        (
            format!("deep page (50 after {deep_at})"),
            page_deep,
            page_deep8,
        ),
    ] {
        println!(
            "… {what}: p50 {:.3} ms p99 {:.3} ms (×{:.0} vs whole bin at p99), 8 threads p99 {:.3} ms (×{:.0} vs whole bin){}",
            one.0,
            one.1,
            all.1 / one.1.max(1e-6),
            eight,
            all8 / eight.max(1e-6),
            miss(one, eight)
        );
    }

    // The same-name hint: exact-name keys vs a scan of every record.
    let before = timed(3, || {
        let name = &names[0];
        let mut same = Vec::new();
        app.store
            .read(|tx| {
                customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                    None,
                    |c| {
                        if &c.name == name && same.len() < 20 {
                            same.push(c);
                        }
                        true
                    },
                )
            })
            .unwrap();
        std::hint::black_box(same);
    });
    let mut k = 0;
    let after = timed(200, || {
        k += 1;
        let q = DuplicateQuery {
            phone: None,
            id_number: None,
            name: Some(names[k % names.len()].clone()),
        };
        std::hint::black_box(app.customers().check_duplicate(&admin, &q).unwrap());
    });
    let after8 = timed8(50, || {
        let q = DuplicateQuery {
            phone: None,
            id_number: None,
            name: Some(names[0].clone()),
        };
        std::hint::black_box(app.customers().check_duplicate(&admin, &q).unwrap());
    });
    report("check-duplicate by name", before, after, after8);

    // Export of every customer: streamed to a file (first, so the process peak is its own),
    // then the old way, every row held in memory before anything is written.
    let base = rss_mb();
    reset_peak();
    let t = Instant::now();
    let file = app
        .customers()
        .export_customers(&admin, &export_query(), "bench")
        .unwrap();
    let streamed = t.elapsed().as_secs_f64();
    let streamed_peak = peak_mb() - base;
    let process_peak = peak_mb();
    let base = rss_mb();
    reset_peak();
    let t = Instant::now();
    let held = app
        .store
        .read(|tx| {
            let mut rows: Vec<Customer> = Vec::new();
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                None,
                |c| {
                    if c.deleted_at.is_none() {
                        rows.push(c);
                    }
                    true
                },
            )?;
            Ok::<_, zhudai::store::Error>(rows)
        })
        .unwrap();
    let table: Vec<Vec<String>> = held
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.phone.masked.clone(),
                c.city.clone().unwrap_or_default(),
                c.address.clone().unwrap_or_default(),
                c.company.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let held_peak = peak_mb() - base;
    let held_time = t.elapsed().as_secs_f64();
    drop((held, table));
    println!(
        "export CSV of {} rows: before (records + rows held, not yet written) {:.1} s, +{:.0} MB peak | after (streamed to a file, {:.0} MB) {:.1} s, +{:.0} MB peak, process peak {:.0} MB{}",
        file.rows,
        held_time,
        held_peak,
        file.len as f64 / 1048576.0,
        streamed,
        streamed_peak,
        process_peak,
        if process_peak < 300.0 {
            ""
        } else {
            "  ✗ target 300 MB missed"
        }
    );

    // The export in a process of its own: this one has held 490k decoded records and more,
    // and the allocator keeps that memory. The store and index are closed first (redb admits
    // one process).
    let (rows_exported, file_len) = (file.rows, file.len);
    drop(file);
    drop(app);
    let idle = run_child("idle", &data);
    let export = run_child("export", &data);
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "idle opened app (child, open as serve: store, plugins, search index; {:.2} s): VmHWM {:.0} MB, VmRSS {:.0} MB (anon {:.0}, file {:.0}); before opening VmHWM {:.0} MB",
        get(&idle, "open_s"),
        get(&idle, "hwm_open"),
        get(&idle, "rss_open"),
        get(&idle, "anon_open"),
        get(&idle, "file_open"),
        get(&idle, "hwm_start"),
    );
    let (idle_hwm, export_hwm) = (get(&idle, "hwm_open"), get(&export, "hwm_export"));
    println!(
        "export child ({} rows, {:.0} MB CSV, {:.1} s, file read back in 64 KiB chunks): VmHWM {:.0} MB (×{:.2} of the idle child, +{:.0} MB its own), VmRSS after {:.0} MB (anon {:.0}, file {:.0}); opened VmHWM {:.0} MB{}",
        get(&export, "rows"),
        get(&export, "file_mb"),
        get(&export, "export_s"),
        export_hwm,
        export_hwm / idle_hwm,
        export_hwm - idle_hwm,
        get(&export, "rss_export"),
        get(&export, "anon_export"),
        get(&export, "file_export"),
        get(&export, "hwm_open"),
        if export_hwm < 300.0 {
            ""
        } else {
            "  ✗ target 300 MB missed"
        }
    );
    assert_eq!(get(&export, "rows") as usize, rows_exported);
    assert!(file_len > 0);
}

//! Customer search: fill, full index build, start-up and query latency over HTTP, each against a
//! baseline measured in the same run (raw tantivy indexing of minimal documents; the same
//! queries straight on the index, without HTTP and without store reads; optionally PostgreSQL
//! pg_trgm on the same rows).
//!
//! Run: `cargo bench --bench search` (release). Environment:
//! - `ZHUDAI_BENCH_ROWS` customers, default 100000 (the design target is 1000000);
//! - `ZHUDAI_BENCH_QUERIES` HTTP queries per query class and caller, default 2000;
//! - `ZHUDAI_BENCH_CONCURRENCY` keep-alive connections, default 8;
//! - `ZHUDAI_BENCH_PG=1` also runs `benches/pg_trgm.sh` (installs PostgreSQL from Debian
//!   packages if missing, starts a throwaway cluster) on the same rows and queries;
//! - `ZHUDAI_BENCH_PAGES` list/detail requests per kind and caller, default 40;
//! - `ZHUDAI_BENCH_INDEX_ONLY=1` stops after the indexing figures (for profiling);
//! - serving phase only, on a kept work dir: `ZHUDAI_BENCH_SERVE=DIR
//!   ZHUDAI_BENCH_GENERATION=$(cat DIR/data/index/CURRENT)` on the bench binary;
//!   `ZHUDAI_BENCH_ALLOW_REBUILD=1` lets the start-up rebuild the index (after an index schema
//!   change), `ZHUDAI_BENCH_EXPLAIN=address,name` times the parts of those classes' queries
//!   instead of serving;
//! - `ZHUDAI_BENCH_CSV=F1,F2,…` fills by the real import of `zhudai demo --customers N --csv F` files
//!   (at most 2M rows each, an import's limit), one after the other
//!   (round robin over the 20 salespeople, indexed alongside as `zhudai import` does) instead of
//!   writing synthetic records straight to the store: the 10M run of issue 18.6;
//! - `ZHUDAI_BENCH_SEARCH_CONCURRENCY=N` serves with `server.search_concurrency = N` (default
//!   0: two searches or list pages per core at once; 1024 for all of them at once, as before);
//! - `ZHUDAI_BENCH_KEEP=DIR` keeps the work directory (data dir, `rows.csv`, `queries.tsv`,
//!   result files) in DIR instead of a temporary one, e.g. to run the PostgreSQL script by hand.
//!
//! Phases: (1) fill a fresh data dir with `synth` customers written straight through
//! `store::customers::put` in 10k-record transactions (phone/ID sealed like a created
//! customer), 20 sales owners in 3 departments, follow-ups for every 4th customer; (2) time
//! `App::reindex`; (3) a fresh process (this binary again, so memory figures are its own)
//! opens the data dir, answers a first search without rebuilding, serves the real router on
//! 127.0.0.1:0 and is queried by an admin and by a salesperson with department scope; the same
//! queries are then timed on the index directly; (4) optionally PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use zhudai::config::Config;
use zhudai::domain::followup::{Followup, FollowupKind};
use zhudai::domain::roles::DataScope;
use zhudai::search::{Filters, Request, Word, analysis};
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::{App, SystemClock};
use zhudai::store::customers;

const SEED: u64 = 20261126;
const ADMIN_PASSWORD: &str = "bench-password-1";
const STAFF_PASSWORD: &str = "bench staff password";
/// The salesperson whose department scope the bench searches with.
const DEPT_SALES: &str = "s01";
const CLASSES: [&str; 8] = [
    "name", "initials", "pinyin", "phone4", "company", "mixed", "address", "district",
];
/// The high-match classes (issue 18.4), asked *with* facet counts, as the customer list's
/// search sends them: `address` a district and road of a real address (about 0.25% of the
/// customers), `district` the district alone (0.7–2.8%: at 1M as many matches as `address` at
/// 10M).
fn faceted(class: &str) -> bool {
    matches!(class, "address" | "district")
}

/// The district of an address's district + road (`朝阳区建国路` → `朝阳区`).
fn district_of(street: &str) -> Option<String> {
    let end = street.find(['区', '县'])?;
    Some(street[..end + '区'.len_utf8()].to_string())
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Prints the process's resident memory (total, anonymous, file-backed: the mmapped index).
fn print_memory(after: &str) {
    println!(
        "memory after {after}: VmRSS {:.0} MB (anon {:.0}, file-backed {:.0})",
        mb(status_kb("VmRSS:")),
        mb(status_kb("RssAnon:")),
        mb(status_kb("RssFile:"))
    );
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn du(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += du(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stats {
    n: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    per_s: f64,
}

fn stats(mut lat: Vec<Duration>, wall: Duration) -> Stats {
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let sum: Duration = lat.iter().sum();
    Stats {
        n: lat.len(),
        p50_ms: ms(pct(0.50)),
        p99_ms: ms(pct(0.99)),
        max_ms: ms(lat.last().copied().unwrap_or_default()),
        mean_ms: ms(sum) / lat.len().max(1) as f64,
        per_s: lat.len() as f64 / wall.as_secs_f64().max(1e-9),
    }
}

/// What the serving process reports back, per `class/role`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Served {
    startup_ms: f64,
    first_search_ms: f64,
    http: BTreeMap<String, Stats>,
    /// One connection, one query at a time (no queueing behind other requests).
    http1: BTreeMap<String, Stats>,
    raw: BTreeMap<String, Stats>,
    hits: BTreeMap<String, f64>,
    /// Customer list / detail pages and the health baseline, one connection.
    pages: BTreeMap<String, Stats>,
    rss_mb: f64,
    hwm_mb: f64,
    rss_anon_mb: f64,
    rss_file_mb: f64,
}

fn main() {
    if let Some(work) = std::env::var_os("ZHUDAI_BENCH_SERVE") {
        serve_phase(Path::new(&work));
        return;
    }
    let rows = env_or("ZHUDAI_BENCH_ROWS", 100_000);
    let temp = tempfile::tempdir().unwrap();
    let work = match std::env::var_os("ZHUDAI_BENCH_KEEP") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.join("data").exists() {
                std::fs::remove_dir_all(dir.join("data")).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }
        None => temp.path().to_path_buf(),
    };
    let data = work.join("data");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "zhudai search bench: {rows} customers, {cores} cores, work dir {}",
        work.display()
    );

    let app = zhudai::open_app(&data, Config::defaults().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", ADMIN_PASSWORD, "bench")
        .unwrap();
    let owners = org(&app);
    // The index exists (empty) before the fill, so reindex below is the one full build.
    app.lookup().search_status().unwrap();

    // 1. Fill: synthetic records written straight to the store, or the real import of a CSV
    // (`zhudai demo --customers N --csv F`), which also indexes.
    let t = Instant::now();
    let now = app.now();
    let (rows, samples, imported) = match std::env::var_os("ZHUDAI_BENCH_CSV") {
        Some(files) => {
            let mut rows = 0;
            let mut samples = Vec::new();
            // Files of at most 2M rows each (an import's limit): `F1,F2,…`.
            for file in files.to_string_lossy().split(',') {
                let (n, s) = import_csv(&app, Path::new(file));
                rows += n;
                samples.extend(s);
                println!(
                    "  {rows} customers after {:.1} s, VmHWM {:.0} MB",
                    t.elapsed().as_secs_f64(),
                    mb(status_kb("VmHWM:"))
                );
            }
            (rows, samples, true)
        }
        None => (rows, fill(&app, rows, now, &owners, &work), false),
    };
    let fill_s = t.elapsed().as_secs_f64();
    let store_mb = std::fs::metadata(data.join("zhudai.redb")).unwrap().len() as f64 / 1e6;
    println!(
        "fill: {rows} customers ({}) in {fill_s:.1} s = {:.0}/s, store {store_mb:.0} MB, VmHWM {:.0} MB",
        if imported {
            "the real import of the CSV, round robin over 20 staff, indexed alongside and caught up"
        } else {
            "+ follow-ups for every 4th"
        },
        rows as f64 / fill_s,
        mb(status_kb("VmHWM:"))
    );
    write_queries(&work.join("queries.tsv"), &samples);

    // 2. Full index build (an import has indexed already).
    let t = Instant::now();
    let status = if imported {
        app.lookup().search_status().unwrap()
    } else {
        app.lookup().reindex(&|_, _| {}, &|| {}).unwrap()
    };
    let index_s = t.elapsed().as_secs_f64();
    let index_mb = du(&data.join("index")) as f64 / 1e6;
    let hwm = status_kb("VmHWM:");
    assert_eq!(status.documents, rows);
    if !imported {
        println!(
            "index: app.reindex of {} documents in {index_s:.1} s = {:.0} docs/s, index {index_mb:.1} MB on disk, VmHWM {:.0} MB after indexing (fill included)",
            status.documents,
            rows as f64 / index_s,
            mb(hwm)
        );
    } else {
        println!(
            "index: {} documents, {index_mb:.1} MB on disk",
            status.documents
        );
    }
    let generation = status.generation.clone();

    // Baseline: raw tantivy, same names and companies, default tokenizer, same writer setup.
    let (raw_s, raw_mb) = raw_tantivy_indexing(rows, now, &work.join("raw-index"));
    println!(
        "baseline: raw tantivy indexing of {rows} docs (name + company, default tokenizer, 1 thread, 64 MB heap) in {raw_s:.1} s = {:.0} docs/s, {raw_mb:.1} MB; zhudai ×{:.1} the time, ×{:.1} the size",
        rows as f64 / raw_s,
        index_s / raw_s.max(1e-9),
        index_mb / raw_mb.max(1e-9)
    );

    if std::env::var_os("ZHUDAI_BENCH_INDEX_ONLY").is_some() {
        index_breakdown(&app);
        return;
    }

    drop(app);

    // 3 + 4. A fresh process opens the data dir and serves the queries.
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .env("ZHUDAI_BENCH_SERVE", &work)
        .env("ZHUDAI_BENCH_GENERATION", &generation)
        .status()
        .unwrap();
    assert!(status.success(), "serving phase failed");
    let served: Served =
        serde_json::from_slice(&std::fs::read(work.join("zhudai-results.json")).unwrap()).unwrap();

    // 5. PostgreSQL pg_trgm on the same rows and queries.
    if std::env::var("ZHUDAI_BENCH_PG").is_ok_and(|v| v == "1") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pg_trgm.sh");
        let ok = std::process::Command::new("bash")
            .arg(&script)
            .arg(&work)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            compare_pg(&work.join("pg-results.tsv"), &served);
        } else {
            println!("PostgreSQL comparison failed (see the script's output above)");
        }
    } else {
        println!(
            "PostgreSQL comparison skipped (ZHUDAI_BENCH_PG=1 runs benches/pg_trgm.sh; or ZHUDAI_BENCH_KEEP=DIR then `bash benches/pg_trgm.sh DIR`)"
        );
    }
}

/// Three departments, a department-scoped sales role, 20 salespeople; returns (id, dept 1..=3).
fn org(app: &App) -> Vec<(String, u8)> {
    let op = Actor::Operator;
    let depts: Vec<String> = ["一部", "二部", "三部"]
        .iter()
        .map(|name| {
            app.org()
                .create_department(
                    &op,
                    zhudai::service::org::DepartmentInput {
                        name: (*name).into(),
                        parent_id: None,
                    },
                    "bench",
                )
                .unwrap()
                .id
        })
        .collect();
    let mut role = app
        .org()
        .list_roles()
        .unwrap()
        .into_iter()
        .find(|r| r.key == "sales")
        .unwrap();
    role.key = "sales_dept".into();
    role.name = "部门业务员".into();
    role.scope = DataScope::Department;
    app.org().create_role(&op, role, "bench").unwrap();
    (1..=20u8)
        .map(|i| {
            let dept = (i - 1) % 3;
            let user = app
                .org()
                .create_user(
                    &op,
                    NewUser {
                        username: format!("s{i:02}"),
                        display_name: format!("业务员{i:02}"),
                        roles: vec![if i == 1 { "sales_dept" } else { "sales" }.into()],
                        password: STAFF_PASSWORD.into(),
                        department_id: Some(depts[dept as usize].clone()),
                        manager_id: None,
                        phone: None,
                        broker: None,
                        must_change_password: false,
                    },
                    "bench",
                )
                .unwrap();
            (user.id, dept + 1)
        })
        .collect()
}

struct Sample {
    name: String,
    company: Option<String>,
    city: String,
    phone: String,
    /// District + road of the address (`朝阳区建国路`).
    street: String,
}

/// Writes `rows` synthetic customers in 10k-record transactions; returns a spread sample and
/// writes `rows.csv` (what the PostgreSQL comparison loads).
fn fill(
    app: &App,
    rows: u64,
    now: chrono::DateTime<chrono::Utc>,
    owners: &[(String, u8)],
    work: &Path,
) -> Vec<Sample> {
    let mut synth = zhudai::synth::Generator::new(SEED, now);
    let every = (rows / 600).max(1);
    let mut samples = Vec::new();
    let mut csv = std::io::BufWriter::new(std::fs::File::create(work.join("rows.csv")).unwrap());
    let mut done = 0u64;
    while done < rows {
        let batch = (rows - done).min(10_000);
        let mut records = Vec::with_capacity(batch as usize);
        for i in done..done + batch {
            let s = synth.customer();
            let (owner, dept) = &owners[(i % owners.len() as u64) as usize];
            let mut c = app
                .platform()
                .demo_record(&s, Some(owner.clone()), owner)
                .unwrap();
            let mut fus = Vec::new();
            if i % 4 == 0 {
                for f in s.followups.iter().rev().take(3) {
                    fus.push(Followup {
                        id: zhudai::service::new_id(f.at),
                        customer_id: c.id.clone(),
                        author_id: owner.clone(),
                        kind: serde_json::from_value::<FollowupKind>(json!(f.kind))
                            .unwrap_or(FollowupKind::Note),
                        content: f.content.clone(),
                        outcome: Some(f.outcome.to_string()),
                        next_at: None,
                        created_at: f.at,
                        edited_at: None,
                    });
                }
                c.last_followup_at = fus.first().map(|f| f.created_at);
                c.updated_at = c.last_followup_at.unwrap_or(c.updated_at);
            }
            let pinyin = analysis::name_pinyin_terms(&s.name);
            let full = pinyin.first().map(String::as_str).unwrap_or("");
            writeln!(
                csv,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                c.id,
                s.name,
                s.company.as_deref().unwrap_or(""),
                s.address,
                s.city,
                &s.phone[s.phone.len() - 4..],
                full,
                pinyin.get(1).map(String::as_str).unwrap_or(full),
                dept
            )
            .unwrap();
            if i % every == every / 2 {
                samples.push(Sample {
                    name: s.name.clone(),
                    company: s.company.clone(),
                    city: s.city.to_string(),
                    phone: s.phone.clone(),
                    street: s
                        .address
                        .chars()
                        .take_while(|c| !c.is_ascii_digit())
                        .collect(),
                });
            }
            records.push((c, fus));
        }
        app.store
            .write(|tx| {
                for (c, fus) in &records {
                    customers::put(tx, None, c)?;
                    for f in fus {
                        customers::put_followup(tx, f)?;
                    }
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
        done += batch;
    }
    csv.flush().unwrap();
    samples
}

/// The real import of a `zhudai demo` CSV (as `zhudai import F --assign round_robin` runs it:
/// indexed alongside, then caught up), timed by the caller; returns the customers created and
/// a spread sample of the rows for the queries.
fn import_csv(app: &App, file: &Path) -> (u64, Vec<Sample>) {
    struct Quiet;
    impl zhudai::service::import::Progress for Quiet {}
    let admin = app.access().caller_for("admin").unwrap();
    // As `zhudai import` runs it: the store is this process's alone, so the new customers'
    // keys go to the import key log and are merged when each file ends.
    let options = zhudai::service::import::ImportOptions {
        assign: Some("round_robin".into()),
        key_log: true,
        ..Default::default()
    };
    let t = Instant::now();
    let report = app
        .lookup()
        .index_alongside(|| {
            app.imports()
                .import_file(&admin, file, &options, "bench", "bench", &mut Quiet)
        })
        .unwrap();
    let import_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    app.lookup().search_catch_up().unwrap();
    println!(
        "import: {} rows, {} created, {} rejected in {import_s:.1} s, search catch-up after it {:.1} s",
        report.rows,
        report.created,
        report.rejected,
        t.elapsed().as_secs_f64()
    );
    // The sample: about 600 rows spread over each file (name, phone, city, address, company).
    let mut reader = csv::Reader::from_path(file).unwrap();
    let every = (report.rows / 600).max(1) as u64;
    let mut samples = Vec::new();
    for (i, row) in reader.records().enumerate() {
        if i as u64 % every != every / 2 {
            continue;
        }
        let row = row.unwrap();
        let cell = |k: usize| row.get(k).unwrap_or("").to_string();
        let company = cell(9);
        samples.push(Sample {
            name: cell(0),
            company: (!company.is_empty()).then_some(company),
            city: cell(6),
            phone: cell(1),
            street: cell(8)
                .chars()
                .take_while(|c| !c.is_ascii_digit())
                .collect(),
        });
    }
    (report.created as u64, samples)
}

/// Realistic inputs per query class, from real generated customers.
fn write_queries(path: &Path, samples: &[Sample]) {
    let mut out = String::new();
    for (i, s) in samples.iter().enumerate() {
        let chars: Vec<char> = s.name.chars().collect();
        // A 2-character fragment: the given name, or the surname and first given character.
        let frag: String = if chars.len() >= 3 && i % 2 == 0 {
            chars[chars.len() - 2..].iter().collect()
        } else {
            chars.iter().take(2).collect()
        };
        let syllables = analysis::name_syllables(&s.name);
        let initials: String = syllables.iter().filter_map(|s| s.chars().next()).collect();
        let _ = writeln!(out, "name\t{frag}");
        if initials.len() == 3 {
            let _ = writeln!(out, "initials\t{initials}");
        }
        if syllables.len() >= 2 {
            let next: String = syllables[1].chars().take(2).collect();
            let _ = writeln!(out, "pinyin\t{}{next}", syllables[0]);
        }
        let _ = writeln!(out, "phone4\t{}", &s.phone[s.phone.len() - 4..]);
        if let Some(company) = &s.company {
            let brand: String = company
                .strip_prefix(s.city.as_str())
                .unwrap_or(company)
                .chars()
                .take(2)
                .collect();
            let _ = writeln!(out, "company\t{brand}");
        }
        let _ = writeln!(out, "mixed\t{} {frag}", s.city);
        let _ = writeln!(out, "address\t{}", s.street);
        if let Some(d) = district_of(&s.street) {
            let _ = writeln!(out, "district\t{d}");
        }
    }
    std::fs::write(path, out).unwrap();
}

fn read_queries(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut pools: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if let Some((class, q)) = line.split_once('\t') {
            pools.entry(class.into()).or_default().push(q.into());
        }
    }
    // A work dir kept before the `district` class: its districts are the addresses' own.
    if !pools.contains_key("district") {
        let districts: Vec<String> = pools
            .get("address")
            .map(|a| a.iter().filter_map(|s| district_of(s)).collect())
            .unwrap_or_default();
        pools.insert("district".into(), districts);
    }
    pools
}

/// Where the indexing time goes: each stage of building a document, timed alone over every
/// customer (single thread), to know which one to make faster.
fn index_breakdown(app: &App) {
    let (schema, fields) = zhudai::search::fields::schema();
    let index = tantivy::Index::create_in_ram(schema);
    zhudai::search::fields::register_tokenizers(&index).unwrap();
    let mut zh = index.tokenizers().get("zh").unwrap();
    let mut grams = index.tokenizers().get("grams12").unwrap();
    let (mut decode, mut fus, mut tail, mut doc, mut jieba, mut gram) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut n = 0u64;
    let mut tokens = 0u64;
    let mut last = Instant::now();
    app.store
        .read(|tx| {
            let departments = zhudai::search::fields::OwnerDepartments::new(
                &zhudai::store::users::all(tx).unwrap(),
                &zhudai::store::org::departments(tx).unwrap(),
            );
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(
                None,
                |c| {
                    decode += last.elapsed();
                    n += 1;
                    let t = Instant::now();
                    let f = customers::Reader::unscoped(tx, customers::Unscoped::Maintenance)
                        .followups(&c)
                        .unwrap();
                    fus += t.elapsed();
                    let t = Instant::now();
                    let six = app.lookup().id_tail(&c);
                    tail += t.elapsed();
                    let t = Instant::now();
                    let d = zhudai::search::fields::document(&fields, &c, &f, six, &departments);
                    doc += t.elapsed();
                    let t = Instant::now();
                    for (field, v) in tantivy::Document::iter_fields_and_values(&d) {
                        if let Some(text) = tantivy::schema::Value::as_str(&v)
                            && field == fields.text
                        {
                            let mut ts = zh.token_stream(text);
                            while tantivy::tokenizer::TokenStream::advance(&mut ts) {
                                tokens += 1;
                            }
                        }
                    }
                    jieba += t.elapsed();
                    let t = Instant::now();
                    let mut ts = grams.token_stream(&c.name);
                    while tantivy::tokenizer::TokenStream::advance(&mut ts) {}
                    gram += t.elapsed();
                    last = Instant::now();
                    true
                },
            )?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    println!(
        "per document (µs): decode {:.1}, follow-ups {:.1}, id tail {:.1}, document {:.1}, jieba {:.1} ({:.1} tokens), name grams {:.1}",
        us(decode),
        us(fus),
        us(tail),
        us(doc),
        us(jieba),
        tokens as f64 / n.max(1) as f64,
        us(gram)
    );
}

/// Indexes the same names and companies into a minimal schema with tantivy's defaults.
fn raw_tantivy_indexing(rows: u64, now: chrono::DateTime<chrono::Utc>, dir: &Path) -> (f64, f64) {
    use tantivy::schema::{STORED, STRING, Schema, TEXT};
    let mut synth = zhudai::synth::Generator::new(SEED, now);
    let mut docs = Vec::with_capacity(rows as usize);
    for i in 0..rows {
        let s = synth.customer();
        docs.push((format!("{i:010}"), s.name, s.company));
    }
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let name = b.add_text_field("name", TEXT);
    let company = b.add_text_field("company", TEXT);
    std::fs::create_dir_all(dir).unwrap();
    let t = Instant::now();
    let index = tantivy::Index::create_in_dir(dir, b.build()).unwrap();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 64 << 20).unwrap();
    for (i, n, c) in docs {
        let mut d = tantivy::TantivyDocument::default();
        d.add_text(id, &i);
        d.add_text(name, &n);
        if let Some(c) = c {
            d.add_text(company, &c);
        }
        writer.add_document(d).unwrap();
    }
    writer.commit().unwrap();
    writer.wait_merging_threads().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let size = du(dir) as f64 / 1e6;
    std::fs::remove_dir_all(dir).unwrap();
    (secs, size)
}

fn search_url(base: &str, class: &str, q: &str) -> String {
    // What the top-bar search sends (search as you type: no facet counts); the high-match
    // class asks for them, as the customer list's search does.
    let facets = faceted(class);
    let mut url = format!("{base}/api/v1/search?limit=20&facets={facets}&q=");
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            url.push(b as char);
        } else {
            let _ = write!(url, "%{b:02X}");
        }
    }
    url
}

/// The serving process: start-up, HTTP latency, raw index latency, memory.
fn serve_phase(work: &Path) {
    let data = work.join("data");
    let expected = std::env::var("ZHUDAI_BENCH_GENERATION").unwrap_or_default();
    let queries = env_or("ZHUDAI_BENCH_QUERIES", 2000) as usize;
    let concurrency = env_or("ZHUDAI_BENCH_CONCURRENCY", 8) as usize;
    let pools = read_queries(&work.join("queries.tsv"));
    let mut out = Served::default();

    // 3. Start-up: open + first search, no rebuild.
    let t = Instant::now();
    let mut config = Config::defaults().unwrap();
    if let Some(n) = std::env::var_os("ZHUDAI_BENCH_SEARCH_CONCURRENCY") {
        config.server.search_concurrency = n.to_string_lossy().parse().unwrap();
    }
    println!(
        "searches and list pages at once: {}",
        config.server.search_slots()
    );
    let app = zhudai::open_app(&data, config, Arc::new(SystemClock)).unwrap();
    out.startup_ms = ms(t.elapsed());
    let admin = app.access().caller_for("admin").unwrap();
    let q = zhudai::service::search::SearchQuery {
        q: Some(pools["name"][0].clone()),
        ..Default::default()
    };
    let t2 = Instant::now();
    let page = app.lookup().search_customers(&admin, &q).unwrap();
    out.first_search_ms = ms(t2.elapsed());
    let total_ms = ms(t.elapsed());
    let generation = app.lookup().search_status().unwrap().generation;
    if std::env::var_os("ZHUDAI_BENCH_ALLOW_REBUILD").is_some() {
        // After an index schema change: the first search rebuilt the index (timed above).
        println!("index generation {generation} (rebuild allowed)");
    } else {
        assert_eq!(generation, expected, "start-up rebuilt the index");
    }
    println!(
        "start-up: open_app {:.0} ms + first search {:.0} ms ({} hits) = {total_ms:.0} ms, generation unchanged (no rebuild)",
        out.startup_ms, out.first_search_ms, page.total
    );

    if std::env::var_os("ZHUDAI_BENCH_EXPLAIN").is_some() {
        explain(&app, &data, &pools, &generation);
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let served = Arc::clone(&app);
        tokio::spawn(async move {
            zhudai::http::serve(l, served, std::future::pending())
                .await
                .unwrap()
        });
        let login = |user: &'static str, password: &'static str| {
            let base = base.clone();
            async move {
                let client = reqwest::Client::builder()
                    .cookie_store(true)
                    .pool_max_idle_per_host(64)
                    .build()
                    .unwrap();
                let r = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"username": user, "password": password}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "login {user}: {}", r.status());
                client
            }
        };
        let callers = [
            ("admin", login("admin", ADMIN_PASSWORD).await),
            ("sales", login(DEPT_SALES, STAFF_PASSWORD).await),
        ];
        println!(
            "queries over HTTP: GET /api/v1/search?q=…&limit=20&facets=false as the top bar sends it (scope, ranking, total, store reads, masking, highlights), {queries} per class and caller, {concurrency} keep-alive connections (and a quarter as many on 1 connection, \"1c\"); raw: the same Request on the index (the request's scope, pools seen included; no HTTP, no store reads), one at a time"
        );
        // Warm-up: connections, caches.
        for (_, client) in &callers {
            for class in CLASSES {
                for q in pools[class].iter().take(20) {
                    let _ = client
                        .get(search_url(&base, class, q))
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await;
                }
            }
        }
        print_memory("warm-up");
        // One connection, one query at a time: the latency of a request on an idle server.
        for class in CLASSES {
            for (role, client) in &callers {
                let pool = &pools[class];
                let started = Instant::now();
                let mut lat = Vec::new();
                for i in 0..(queries / 4).max(1) {
                    let q = &pool[(i * 7919) % pool.len()];
                    let t = Instant::now();
                    let r = client.get(search_url(&base, class, q)).send().await.unwrap();
                    assert!(r.status().is_success(), "{q}: {}", r.status());
                    let _ = r.bytes().await.unwrap();
                    lat.push(t.elapsed());
                }
                out.http1
                    .insert(format!("{class}/{role}"), stats(lat, started.elapsed()));
            }
        }
        print_memory("search, 1 connection");
        for class in CLASSES {
            for (role, client) in &callers {
                let pool = Arc::new(pools[class].clone());
                let started = Instant::now();
                let mut tasks = Vec::new();
                for w in 0..concurrency {
                    let client = client.clone();
                    let pool = Arc::clone(&pool);
                    let base = base.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut lat = Vec::new();
                        let mut hits = 0u64;
                        let mut i = w;
                        while i < queries {
                            let q = &pool[(i * 7919) % pool.len()];
                            let t = Instant::now();
                            let r = client
                                .get(search_url(&base, class, q))
                                .send()
                                .await
                                .unwrap();
                            assert!(r.status().is_success(), "{q}: {}", r.status());
                            let body: serde_json::Value = r.json().await.unwrap();
                            lat.push(t.elapsed());
                            hits += body["total"].as_u64().unwrap_or(0);
                            i += concurrency;
                        }
                        (lat, hits)
                    }));
                }
                let mut lat = Vec::new();
                let mut hits = 0;
                for t in tasks {
                    let (l, h) = t.await.unwrap();
                    lat.extend(l);
                    hits += h;
                }
                let s = stats(lat, started.elapsed());
                out.hits
                    .insert(format!("{class}/{role}"), hits as f64 / s.n.max(1) as f64);
                out.http.insert(format!("{class}/{role}"), s);
            }
        }
        print_memory("search, concurrent");
        // Customer list and detail pages (issue 4): one connection, one request at a time,
        // against a bare `GET /api/v1/health` round trip in the same run as the baseline.
        // `list` mixes filters with the default and update orders; `list-orders` is the
        // other orders unfiltered (each bounded by a sample of keys, `search::list`).
        let n = env_or("ZHUDAI_BENCH_PAGES", 40) as usize;
        let timed = |client: reqwest::Client, urls: Vec<String>| async move {
            let started = Instant::now();
            let mut lat = Vec::new();
            for i in 0..n {
                let t = Instant::now();
                let r = client.get(&urls[i % urls.len()]).send().await.unwrap();
                assert!(r.status().is_success(), "{}: {}", urls[i % urls.len()], r.status());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            stats(lat, started.elapsed())
        };
        out.pages.insert(
            "health".into(),
            timed(callers[0].1.clone(), vec![format!("{base}/api/v1/health")]).await,
        );
        for (role, client) in &callers {
            let lists: Vec<String> = [
                "limit=50",
                "limit=50&stage=lead",
                "limit=50&grade=A",
                "limit=50&sort=-updated_at",
            ]
            .iter()
            .map(|q| format!("{base}/api/v1/customers?{q}"))
            .collect();
            let page: serde_json::Value = client
                .get(format!("{base}/api/v1/customers?limit=100"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let details: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["id"].as_str())
                .map(|id| format!("{base}/api/v1/customers/{id}"))
                .collect();
            out.pages.insert(
                format!("list/{role}"),
                timed(client.clone(), lists).await,
            );
            print_memory(&format!("list/{role}"));
            let orders: Vec<String> = ["sort=created_at", "sort=next_followup_at", "sort=name"]
                .iter()
                .map(|q| format!("{base}/api/v1/customers?limit=50&{q}"))
                .collect();
            out.pages.insert(
                format!("list-orders/{role}"),
                timed(client.clone(), orders).await,
            );
            out.pages.insert(
                format!("detail/{role}"),
                timed(client.clone(), details).await,
            );
            print_memory(&format!("detail/{role}"));
        }
    });

    // The same queries straight on the index, one at a time.
    let engine = app.search.engine(&app.store, &|_| None).unwrap();
    for (role, username) in [("admin", "admin"), ("sales", DEPT_SALES)] {
        let caller = app.access().caller_for(username).unwrap();
        // The scope exactly as a request applies it (pools seen included).
        let restrict = app.lookup().search_restrict(&caller).unwrap();
        for class in CLASSES {
            let pool = &pools[class];
            let started = Instant::now();
            let mut lat = Vec::with_capacity(queries);
            for i in 0..queries {
                let q = analysis::normalise(&pool[(i * 7919) % pool.len()]);
                let t = Instant::now();
                let req = Request {
                    words: q.split(' ').map(|w| Word::Text(w.to_string())).collect(),
                    restrict: restrict.clone(),
                    filters: Filters::default(),
                    offset: 0,
                    limit: 20,
                    facets: faceted(class),
                };
                let hits = engine.search(&req).unwrap();
                lat.push(t.elapsed());
                std::hint::black_box(hits);
            }
            out.raw
                .insert(format!("{class}/{role}"), stats(lat, started.elapsed()));
        }
    }
    print_memory("raw index queries");
    out.rss_mb = mb(status_kb("VmRSS:"));
    out.hwm_mb = mb(status_kb("VmHWM:"));
    out.rss_anon_mb = mb(status_kb("RssAnon:"));
    out.rss_file_mb = mb(status_kb("RssFile:"));

    println!(
        "{:<16} {:>6} | {:>8} {:>8} {:>8} {:>7} | {:>8} {:>8} | {:>8} {:>8} | {:>6} {:>6}",
        "class/caller",
        "hits",
        "p50 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "1c p50",
        "1c p99",
        "raw p50",
        "raw p99",
        "×p50",
        "×p99"
    );
    for class in CLASSES {
        for role in ["admin", "sales"] {
            let key = format!("{class}/{role}");
            let h = &out.http[&key];
            let h1 = &out.http1[&key];
            let r = &out.raw[&key];
            println!(
                "{key:<16} {:>6.0} | {:>8.2} {:>8.2} {:>8.2} {:>7.0} | {:>8.2} {:>8.2} | {:>8.3} {:>8.3} | {:>6.1} {:>6.1}",
                out.hits[&key],
                h.p50_ms,
                h.p99_ms,
                h.max_ms,
                h.per_s,
                h1.p50_ms,
                h1.p99_ms,
                r.p50_ms,
                r.p99_ms,
                h.p50_ms / r.p50_ms.max(1e-9),
                h.p99_ms / r.p99_ms.max(1e-9)
            );
        }
    }
    let health = out.pages.get("health").map(|h| h.p50_ms).unwrap_or(0.0);
    for (key, h) in &out.pages {
        println!(
            "page {key:<14} one connection: p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  (p50 ×{:.1} GET /api/v1/health)",
            h.p50_ms,
            h.p99_ms,
            h.max_ms,
            h.p50_ms / health.max(1e-9)
        );
    }
    println!(
        "memory of the serving process: VmRSS {:.0} MB (anon {:.0}, file-backed {:.0}), VmHWM {:.0} MB",
        out.rss_mb, out.rss_anon_mb, out.rss_file_mb, out.hwm_mb
    );
    std::fs::write(
        work.join("zhudai-results.json"),
        serde_json::to_vec_pretty(&out).unwrap(),
    )
    .unwrap();
}

/// Prints PostgreSQL's figures beside zhudai's (`pg-results.tsv`: class, role, n, p50, p99,
/// max, mean in ms).
fn compare_pg(path: &Path, served: &Served) {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("no {}", path.display());
        return;
    };
    println!(
        "{:<16} {:>9} {:>9} | {:>12} {:>12} | {:>12} {:>12}",
        "class/caller",
        "pg p50",
        "pg p99",
        "pg/http p50",
        "pg/http p99",
        "pg/raw p50",
        "pg/raw p99"
    );
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        let key = format!("{}/{}", f[0], f[1]);
        let (Ok(p50), Ok(p99)) = (f[3].parse::<f64>(), f[4].parse::<f64>()) else {
            continue;
        };
        let (Some(h), Some(r)) = (served.http.get(&key), served.raw.get(&key)) else {
            continue;
        };
        println!(
            "{key:<16} {p50:>9.2} {p99:>9.2} | {:>12.2} {:>12.2} | {:>12.1} {:>12.1}",
            p50 / h.p50_ms.max(1e-9),
            p99 / h.p99_ms.max(1e-9),
            p50 / r.p50_ms.max(1e-9),
            p99 / r.p99_ms.max(1e-9)
        );
    }
}

/// Where the time of a high-match query goes (`ZHUDAI_BENCH_EXPLAIN=1` with
/// `ZHUDAI_BENCH_SERVE`): the real search and its parts (matching and counting alone, top page
/// by score alone, top page by creation order without scoring) on the same queries, p50/p99.
fn explain(app: &App, data: &Path, pools: &BTreeMap<String, Vec<String>>, generation: &str) {
    use tantivy::collector::{Count, TopDocs};
    let dir = data.join("index").join(generation);
    let index = tantivy::Index::open_in_dir(&dir).unwrap();
    zhudai::search::fields::register_tokenizers(&index).unwrap();
    let (_, fields) = zhudai::search::fields::schema();
    let reader = index.reader().unwrap();
    let searcher = reader.searcher();
    println!("segments: {}", searcher.segment_readers().len());
    let engine = app.search.engine(&app.store, &|_| None).unwrap();
    let n = env_or("ZHUDAI_BENCH_QUERIES", 300) as usize;
    let classes: Vec<String> = std::env::var("ZHUDAI_BENCH_EXPLAIN")
        .unwrap()
        .split(',')
        .filter(|c| CLASSES.contains(c))
        .map(String::from)
        .collect();
    for class in &classes {
        let pool = &pools[class.as_str()];
        let mut zh = index.tokenizers().get("zh").unwrap();
        for q in pool.iter().take(3) {
            let mut stream = zh.token_stream(q);
            let mut toks = Vec::new();
            while let Some(t) = stream.next() {
                let df = searcher
                    .doc_freq(&tantivy::Term::from_field_text(fields.text, &t.text))
                    .unwrap();
                toks.push(format!("{}({df})", t.text));
            }
            println!("{class} {q}: text tokens {}", toks.join(" "));
        }
        for (role, username) in [("admin", "admin"), ("sales", DEPT_SALES)] {
            let caller = app.access().caller_for(username).unwrap();
            let restrict = app.lookup().search_restrict(&caller).unwrap();
            let req_of = |i: usize, facets: bool| {
                let q = analysis::normalise(&pool[(i * 7919) % pool.len()]);
                Request {
                    words: q.split(' ').map(|w| Word::Text(w.to_string())).collect(),
                    restrict: restrict.clone(),
                    filters: Filters::default(),
                    offset: 0,
                    limit: 20,
                    facets,
                }
            };
            // `ZHUDAI_BENCH_EXPLAIN_ONLY=engine` times only the parts whose label starts so (for
            // a profile of one part).
            let only = std::env::var("ZHUDAI_BENCH_EXPLAIN_ONLY").unwrap_or_default();
            let time = |label: &str, f: &dyn Fn(usize) -> usize| {
                if !label.starts_with(only.as_str()) {
                    return;
                }
                let started = Instant::now();
                let mut lat = Vec::with_capacity(n);
                let mut hits = 0;
                for i in 0..n {
                    let t = Instant::now();
                    hits += f(i);
                    lat.push(t.elapsed());
                }
                let s = stats(lat, started.elapsed());
                println!(
                    "  {class}/{role} {label:<40} p50 {:>7.3} ms  p99 {:>7.3} ms  mean {:>7.3} ms  (mean hits {:.0})",
                    s.p50_ms,
                    s.p99_ms,
                    s.mean_ms,
                    hits as f64 / n as f64
                );
            };
            time("engine.search, facets", &|i| {
                engine.search(&req_of(i, true)).unwrap().total
            });
            time("engine.search, no facets", &|i| {
                engine.search(&req_of(i, false)).unwrap().total
            });
            time("query build only", &|i| {
                std::hint::black_box(zhudai::search::query::build(
                    &index,
                    &fields,
                    &req_of(i, false),
                ));
                0
            });
            time("Count (no scoring)", &|i| {
                let q = zhudai::search::query::build(&index, &fields, &req_of(i, false));
                searcher.search(&q, &Count).unwrap()
            });
            time("TopDocs by score (pruned, no count)", &|i| {
                let q = zhudai::search::query::build(&index, &fields, &req_of(i, false));
                searcher
                    .search(&q, &TopDocs::with_limit(20).order_by_score())
                    .unwrap()
                    .len()
            });
            time("TopDocs by score + Count", &|i| {
                let q = zhudai::search::query::build(&index, &fields, &req_of(i, false));
                searcher
                    .search(&q, &(TopDocs::with_limit(20).order_by_score(), Count))
                    .unwrap()
                    .1
            });
            time("ranked: Count (no scoring)", &|i| {
                let req = req_of(i, false);
                match zhudai::search::query::ranked(&index, &fields, &req) {
                    Some(q) => searcher.search(&q, &Count).unwrap(),
                    None => 0,
                }
            });
            time("ranked: TopDocs by score (block-max pruned)", &|i| {
                let req = req_of(i, false);
                match zhudai::search::query::ranked(&index, &fields, &req) {
                    Some(q) => searcher
                        .search(&q, &TopDocs::with_limit(20).order_by_score())
                        .unwrap()
                        .len(),
                    None => 0,
                }
            });
            time("TopDocs by created + Count (no scoring)", &|i| {
                let q = zhudai::search::query::build(&index, &fields, &req_of(i, false));
                let top = TopDocs::with_limit(20)
                    .order_by_fast_field::<i64>("created", tantivy::Order::Desc);
                searcher.search(&q, &(top, Count)).unwrap().1
            });
        }
    }
}

//! Import speed and memory. Run: `cargo bench --bench import` (100,000 synthetic customers;
//! `ZHUDAI_BENCH_FULL=1` for 1,000,000). The rows come from `synth` and are written as a GBK
//! CSV (streamed) and an XLSX (rust_xlsxwriter); each file is imported by the real path
//! (decoding, validation, encryption, blind indexes, duplicate check, audit, search outbox) in
//! a child process, so its peak RSS (VmHWM) is the import's alone. In the same run, a raw
//! baseline inserts the same rows straight into a redb table with their blind-index keys,
//! without validation or encryption, in batches of the same size, and indexes them into a plain
//! tantivy index; the import runs with indexing alongside (as `zhudai import` does) and the final search catch-up is timed apart.
//! `ZHUDAI_BENCH_PG=1` adds PostgreSQL's COPY of the same rows plus trigram and btree indexes
//! (benches/pg_import.sh, which installs PostgreSQL from Debian packages when missing) and
//! prints the import's ratio to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use zhudai::service::import::{BATCH, ImportOptions, Progress};

const HEADER: &str =
    "姓名,手机号,身份证号,城市,地址,单位名称,渠道,贷款金额(元),贷款期限(月),贷款用途,标签";

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

fn cells(c: &zhudai::synth::SynthCustomer) -> [String; 11] {
    [
        c.name.clone(),
        c.phone.clone(),
        c.id_number.clone(),
        c.city.to_string(),
        c.address.clone(),
        c.company.clone().unwrap_or_default(),
        c.channel.to_string(),
        (c.demand_amount_fen / 100).to_string(),
        c.demand_term_months.to_string(),
        c.demand_purpose.to_string(),
        c.tags.join(";"),
    ]
}

/// The same `n` rows as a UTF-8 CSV (for PostgreSQL's COPY).
fn write_utf8_csv(path: &Path, n: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut g = zhudai::synth::Generator::new(7, chrono::Utc::now());
    writeln!(out, "{HEADER}").unwrap();
    for _ in 0..n {
        writeln!(out, "{}", cells(&g.customer()).join(",")).unwrap();
    }
    out.flush().unwrap();
}

/// PostgreSQL in the same run (`ZHUDAI_BENCH_PG=1`): COPY of the same rows and the indexes
/// for the same lookups, by benches/pg_import.sh. Returns (copy s, indexes s, total s).
fn pg_baseline(work: &Path, n: u64) -> Option<(f64, f64, f64)> {
    if !std::env::var("ZHUDAI_BENCH_PG").is_ok_and(|v| v == "1") {
        return None;
    }
    let csv = work.join("customers-utf8.csv");
    write_utf8_csv(&csv, n);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pg_import.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .arg(&csv)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&csv);
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text.lines().find(|l| l.starts_with("pg_import "))?;
    let num = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    Some((num("copy="), num("index="), num("total=")))
}

/// Streams `n` rows as a GBK CSV.
fn write_gbk_csv(path: &Path, n: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut g = zhudai::synth::Generator::new(7, chrono::Utc::now());
    let mut line = String::new();
    out.write_all(&encoding_rs::GBK.encode(&format!("{HEADER}\n")).0)
        .unwrap();
    for _ in 0..n {
        line.clear();
        line.push_str(&cells(&g.customer()).join(","));
        line.push('\n');
        out.write_all(&encoding_rs::GBK.encode(&line).0).unwrap();
    }
    out.flush().unwrap();
}

fn write_xlsx(path: &Path, n: u64) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (i, h) in HEADER.split(',').enumerate() {
        sheet.write_string(0, i as u16, h).unwrap();
    }
    let mut g = zhudai::synth::Generator::new(11, chrono::Utc::now());
    for r in 0..n {
        for (i, v) in cells(&g.customer()).iter().enumerate() {
            sheet.write_string(r as u32 + 1, i as u16, v).unwrap();
        }
    }
    book.save(path).unwrap();
}

struct Quiet;
impl Progress for Quiet {}

/// In the child: opens a fresh data directory, imports `file`, prints "rows seconds vmhwm".
fn child(file: &Path, data: &Path) {
    let app = zhudai::open_app(
        data,
        zhudai::config::Config::defaults().unwrap(),
        Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let admin = app.access().caller_for("admin").unwrap();
    let t = Instant::now();
    // As `zhudai import` does: committed batches are indexed alongside the import …
    let report = app
        .lookup()
        .index_alongside(|| {
            app.imports().import_file(
                &admin,
                file,
                &ImportOptions::default(),
                "bench",
                "bench",
                &mut Quiet,
            )
        })
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    // … and the rest before it exits: the index takes in every new customer.
    let t = Instant::now();
    app.lookup().search_catch_up().unwrap();
    let index_secs = t.elapsed().as_secs_f64();
    assert_eq!(
        report.created + report.rejected,
        report.rows,
        "{:?}",
        report.errors.first()
    );
    println!(
        "{} {} {secs} {index_secs} {}",
        report.rows,
        report.rejected,
        vm_hwm_kb()
    );
}

/// What a child measured.
struct Measured {
    rows: u64,
    rejected: u64,
    /// The import itself (store written, outbox filled).
    secs: f64,
    /// The search catch-up after it.
    index_secs: f64,
    /// Peak RSS, kB.
    hwm: u64,
}

/// Runs the import of `file` in a child process.
fn import_in_child(file: &Path, work: &Path, name: &str) -> Measured {
    let data = work.join(format!("data-{name}"));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("ZHUDAI_BENCH_CHILD_FILE", file)
        .env("ZHUDAI_BENCH_CHILD_DATA", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default().to_string();
    let v: Vec<&str> = last.split_whitespace().collect();
    let _ = std::fs::remove_dir_all(&data);
    Measured {
        rows: v[0].parse().unwrap(),
        rejected: v[1].parse().unwrap(),
        secs: v[2].parse().unwrap(),
        index_secs: v[3].parse().unwrap(),
        hwm: v[4].parse().unwrap(),
    }
}

/// The same rows straight into redb: one record and its blind-index keys per row, no
/// validation, no encryption, same batch size; then the same rows into a plain tantivy index
/// (name, company, address with the default tokenizer, one commit). Returns seconds for each.
fn raw_baseline(work: &Path, n: u64) -> (f64, f64) {
    const ROWS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("rows");
    const KEYS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("keys");
    let (key, _) = zhudai::crypto::keyfile::load_or_create(&work.join("raw.key")).unwrap();
    let fields = zhudai::crypto::field::FieldCipher::new(&key);
    let db = redb::Database::create(work.join("raw.redb")).unwrap();
    let mut g = zhudai::synth::Generator::new(7, chrono::Utc::now());
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(BATCH as u64);
        let tx = db.begin_write().unwrap();
        {
            let mut rows = tx.open_table(ROWS).unwrap();
            let mut keys = tx.open_table(KEYS).unwrap();
            for _ in 0..batch {
                let c = cells(&g.customer());
                let id = zhudai::service::new_id(chrono::Utc::now());
                let p = fields.blind_index(zhudai::crypto::field::Kind::Phone, &c[1]);
                let i = fields.blind_index(zhudai::crypto::field::Kind::IdNumber, &c[2]);
                keys.insert(format!("p:{p}/{id}").as_str(), id.as_str())
                    .unwrap();
                keys.insert(format!("i:{i}/{id}").as_str(), id.as_str())
                    .unwrap();
                rows.insert(id.as_str(), c.join(",").as_bytes()).unwrap();
            }
        }
        tx.commit().unwrap();
        done += batch;
    }
    let store_s = t.elapsed().as_secs_f64();

    use tantivy::schema::{STORED, STRING, Schema, TEXT};
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let name = b.add_text_field("name", TEXT);
    let company = b.add_text_field("company", TEXT);
    let address = b.add_text_field("address", TEXT);
    let dir = work.join("raw-index");
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = zhudai::synth::Generator::new(7, chrono::Utc::now());
    let t = Instant::now();
    let index = tantivy::Index::create_in_dir(&dir, b.build()).unwrap();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(2, 64 << 20).unwrap();
    for i in 0..n {
        let c = g.customer();
        let mut d = tantivy::TantivyDocument::default();
        d.add_text(id, format!("{i:010}"));
        d.add_text(name, &c.name);
        d.add_text(company, c.company.as_deref().unwrap_or(""));
        d.add_text(address, &c.address);
        writer.add_document(d).unwrap();
    }
    writer.commit().unwrap();
    let index_s = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).unwrap();
    (store_s, index_s)
}

fn main() {
    if let (Ok(file), Ok(data)) = (
        std::env::var("ZHUDAI_BENCH_CHILD_FILE"),
        std::env::var("ZHUDAI_BENCH_CHILD_DATA"),
    ) {
        child(&PathBuf::from(file), &PathBuf::from(data));
        return;
    }
    let full = std::env::var("ZHUDAI_BENCH_FULL").is_ok_and(|v| v == "1");
    let n: u64 = if full { 1_000_000 } else { 100_000 };
    let xlsx_n: u64 = if full { 200_000 } else { 100_000 };
    let work = tempfile::tempdir().unwrap();

    let csv = work.path().join("customers-gbk.csv");
    let t = Instant::now();
    write_gbk_csv(&csv, n);
    println!(
        "generated {n} rows as GBK CSV ({:.1} MB) in {:.1} s",
        std::fs::metadata(&csv).unwrap().len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let (raw_s, raw_index_s) = raw_baseline(work.path(), n);
    let raw_total = raw_s + raw_index_s;
    println!(
        "baseline: raw redb inserts with blind-index keys: {n} rows in {raw_s:.2} s = {:.0} rows/s; raw tantivy (name, company, address; 2 threads) {raw_index_s:.2} s; together {raw_total:.2} s = {:.0} rows/s",
        n as f64 / raw_s,
        n as f64 / raw_total
    );
    let m = import_in_child(&csv, work.path(), "csv");
    report("GBK CSV", &m, Some((raw_s, raw_total)));
    std::fs::remove_file(&csv).unwrap();
    if let Some((copy, index, pg_total)) = pg_baseline(work.path(), n) {
        let ours = m.secs + m.index_secs;
        println!(
            "baseline: PostgreSQL COPY {copy:.2} s + indexes {index:.2} s = {pg_total:.2} s; zhudai import + index {ours:.2} s = ×{:.2} PostgreSQL (target ≤ ×1.3, and under 60 s at 1M)",
            ours / pg_total.max(1e-9)
        );
    }

    let xlsx = work.path().join("customers.xlsx");
    let t = Instant::now();
    write_xlsx(&xlsx, xlsx_n);
    println!(
        "generated {xlsx_n} rows as XLSX ({:.1} MB) in {:.1} s",
        std::fs::metadata(&xlsx).unwrap().len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let m = import_in_child(&xlsx, work.path(), "xlsx");
    report("XLSX", &m, None);
}

fn report(what: &str, m: &Measured, baseline: Option<(f64, f64)>) {
    let total = m.secs + m.index_secs;
    let ratios = baseline
        .map(|(store, both)| {
            format!(
                " (×{:.1} the raw store baseline; with indexing ×{:.1} the raw store + index baseline)",
                m.secs / store.max(1e-9),
                total / both.max(1e-9)
            )
        })
        .unwrap_or_default();
    println!(
        "import {what}: {} rows ({} rejected) in {:.2} s = {:.0} rows/s; final search catch-up {:.2} s; import + index {total:.2} s = {:.0} rows/s{ratios}; peak RSS {:.0} MB",
        m.rows,
        m.rejected,
        m.secs,
        m.rows as f64 / m.secs,
        m.index_secs,
        m.rows as f64 / total,
        m.hwm as f64 / 1024.0
    );
}

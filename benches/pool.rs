//! Public pools: recall sweep, script evaluation cost and claim throughput, each against a raw
//! baseline measured in the same run.
//!
//! Run: `cargo bench --bench pool` (release). Environment: `ZHUDAI_BENCH_ROWS` customers,
//! default 100000 (the design target is a sweep over 1000000 in under 2 s);
//! `ZHUDAI_BENCH_SWEEP_ONLY=1` the sweeps and their baselines only; `ZHUDAI_BENCH_SWEEP_WRITER=MS`
//! a writer committing every MS ms during the real sweep (its longest wait); `ZHUDAI_BENCH_SWEEP_BATCH`
//! customers per sweep transaction; `ZHUDAI_BENCH_CACHE_MB` redb's page cache for the store
//! and the raw redb baseline alike (default: `[store] cache_mb`, 64).
//!
//! Data: 6 departments with 200 salespeople (departments 1–3 have their own pool, 4–6 fall to
//! the firm-wide pool) and a claim team of 32 with its own pool and generous limits. About 92%
//! of the customers are owned (grades A–D and stages from `synth`, about 3% locked, a few %
//! won), created up to a year ago, held since a random day after creation, last followed up
//! over the past 120 days (15% never); the rest wait in the pools. Records are written like
//! created customers (`demo_record`: sealed phone/ID, secondary keys, search outbox).
//!
//! Measured: (b) raw baseline: one redb read transaction scanning the customers table and
//! decoding every record; (a) the recall sweep with the default `pool.rhai`: dry run, the real
//! sweep (recalls and warnings written), and a second dry run on what is left (steady state);
//! (c) one `pool.recall` and one `pool.can_claim` evaluation, µs per customer, next to the
//! built-in Rust rules; (d) claims/s with 8 and 32 threads claiming distinct customers, and
//! with 32 threads racing for the same customer (exactly one winner per race); (e) creating a
//! customer with `"assign": "auto"` (ms per create) next to the per-create recount it replaced;
//! (f) the 8 → 9 and 9 → 10 migrations' rebuilds (time, peak memory). (e) and (f) run before
//! the sweeps, so the sweeps see 20 more (recently assigned) owned customers; (g) a real sweep
//! with a `pool.recall` that throws for every customer, while a client times `GET /health`
//! against the running server: the report must count every failure, nothing may be
//! recalled, and the p99 of `/health` during the sweep must stay within 2× of idle (issue 15).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use zhudai::config::Config;
use zhudai::domain::customer::{Customer, Stage};
use zhudai::domain::pool::{Pool, PoolSettings};
use zhudai::script::{ClaimInput, RecallInput};
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::pools::PoolInput;
use zhudai::service::pools::rules;
use zhudai::service::{App, SystemClock};
use zhudai::store::customers;

const SEED: u64 = 20261127;
const PASSWORD: &str = "bench staff password";
const SALES: usize = 200;
const CLAIMERS: usize = 32;
const DAY: i64 = 86_400;
/// Actions a sweep report lists (the most the API allows); the counts cover all of them.
const LISTED: usize = 5_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// redb's page cache in MB for the store and the raw redb baseline alike:
/// `ZHUDAI_BENCH_CACHE_MB`, else the store's default (`[store] cache_mb`).
fn cache_mb() -> u64 {
    env_or(
        "ZHUDAI_BENCH_CACHE_MB",
        (zhudai::store::DEFAULT_CACHE_BYTES >> 20) as u64,
    )
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Org {
    sales: Vec<String>,
    claimers: Vec<String>,
    /// Pools of departments 1–3, the firm-wide pool, the claim team's pool.
    dept_pools: Vec<Pool>,
    firm_pool: Pool,
    claim_pool: Pool,
}

fn org(app: &App) -> Org {
    let op = Actor::Operator;
    let dept = |name: &str| {
        app.org()
            .create_department(
                &op,
                zhudai::service::org::DepartmentInput {
                    name: name.into(),
                    parent_id: None,
                },
                "bench",
            )
            .unwrap()
            .id
    };
    let depts: Vec<String> = ["一部", "二部", "三部", "四部", "五部", "六部"]
        .iter()
        .map(|n| dept(n))
        .collect();
    let team = dept("抢单组");
    let user = |name: String, dept: &str| {
        app.org()
            .create_user(
                &op,
                NewUser {
                    username: name.clone(),
                    display_name: name,
                    roles: vec!["sales".into()],
                    password: PASSWORD.into(),
                    department_id: Some(dept.to_string()),
                    manager_id: None,
                    phone: None,
                    broker: None,
                    must_change_password: false,
                },
                "bench",
            )
            .unwrap()
            .id
    };
    let sales = (0..SALES)
        .map(|i| user(format!("s{i:03}"), &depts[i % depts.len()]))
        .collect();
    let claimers = (0..CLAIMERS)
        .map(|i| user(format!("c{i:02}"), &team))
        .collect();
    let admin = app.access().caller_for("admin").unwrap();
    let pool = |name: &str, dept: Option<&String>, settings: PoolSettings| {
        app.pools()
            .create_pool(
                &admin,
                PoolInput {
                    name: name.into(),
                    department_id: dept.cloned(),
                    members: vec![],
                    admins: vec![],
                    settings,
                },
                "bench",
            )
            .unwrap()
    };
    let dept_pools = (0..3)
        .map(|i| {
            pool(
                &format!("{}公海", i + 1),
                Some(&depts[i]),
                PoolSettings::default(),
            )
        })
        .collect();
    // A new install comes with the firm-wide pool (default settings).
    let firm_pool = app
        .pools()
        .list_pools(&admin)
        .unwrap()
        .into_iter()
        .map(|v| v.pool)
        .find(|p| p.department_id.is_none())
        .unwrap();
    let claim_pool = pool(
        "抢单池",
        Some(&team),
        PoolSettings {
            claim_daily_limit: 1_000_000,
            max_owned: 1_000_000,
            reclaim_cooldown_days: 0,
            protect_new_hours: 0,
            ..PoolSettings::default()
        },
    );
    Org {
        sales,
        claimers,
        dept_pools,
        firm_pool,
        claim_pool,
    }
}

/// Writes `rows` customers in 10k-record transactions; returns the ids in the claim pool.
fn fill(app: &App, rows: u64, now: DateTime<Utc>, org: &Org) -> Vec<String> {
    let mut synth = zhudai::synth::Generator::new(SEED, now);
    let mut rng = Rng(SEED);
    let mut claimable = Vec::new();
    let other_pools: Vec<&Pool> = org
        .dept_pools
        .iter()
        .chain(std::iter::once(&org.firm_pool))
        .collect();
    let mut done = 0u64;
    while done < rows {
        let batch = (rows - done).min(10_000);
        let mut records = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let s = synth.customer();
            let roll = rng.below(100);
            let owner = if roll >= 8 {
                Some(org.sales[rng.below(SALES as u64) as usize].clone())
            } else {
                None
            };
            let mut c: Customer = app
                .platform()
                .demo_record(&s, owner.clone(), "bench")
                .unwrap();
            let age = 30 + rng.below(335) as i64;
            c.created_at =
                now - chrono::Duration::seconds(age * DAY + rng.below(DAY as u64) as i64);
            c.updated_at = c.created_at;
            if owner.is_some() {
                let held = rng.below(u64::try_from((now - c.created_at).num_seconds()).unwrap());
                c.held_since = Some(c.created_at + chrono::Duration::seconds(held as i64));
                if rng.chance(85) {
                    c.last_followup_at =
                        Some(now - chrono::Duration::seconds(rng.below(120 * DAY as u64) as i64));
                }
                c.locked = rng.chance(3);
                if rng.chance(4) {
                    c.stage = Stage::Won;
                }
            } else {
                let pool = if roll < 4 {
                    &org.claim_pool
                } else {
                    other_pools[rng.below(other_pools.len() as u64) as usize]
                };
                c.pool_id = Some(pool.id.clone());
                c.pool_entered_at = Some(now - chrono::Duration::days(2));
                // A won customer is never claimed (an engine rule since issue 15): none wait.
                if c.stage == Stage::Won {
                    c.stage = Stage::Lost;
                }
                if pool.id == org.claim_pool.id {
                    claimable.push(c.id.clone());
                }
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
    claimable
}

/// Raw redb writes standing in for a sweep's: `n` × (1 KB under a random key, 200 B under a
/// sequential key), in transactions of the sweep's batch size, with default durability.
fn raw_writes(path: &std::path::Path, n: u64) -> Duration {
    const RECORDS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("records");
    const LOG: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("log");
    let db = redb::Database::builder()
        .set_cache_size(usize::try_from(cache_mb().max(1) << 20).unwrap())
        .create(path)
        .unwrap();
    let mut rng = Rng(SEED ^ 7);
    let big = vec![7u8; 1024];
    let small = vec![9u8; 200];
    let batch = zhudai::service::pools::sweep::BATCH as u64;
    let t = Instant::now();
    let mut done = 0u64;
    while done < n {
        let take = (n - done).min(batch);
        let tx = db.begin_write().unwrap();
        {
            let mut records = tx.open_table(RECORDS).unwrap();
            let mut log = tx.open_table(LOG).unwrap();
            for i in 0..take {
                records.insert(rng.next(), big.as_slice()).unwrap();
                log.insert(done + i, small.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
        done += take;
    }
    let took = t.elapsed();
    drop(db);
    let _ = std::fs::remove_file(path);
    took
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The process's peak resident memory (VmHWM), in MB; reset by [`reset_peak_memory`].
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn resident_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Sets the peak to the current resident memory (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// (f) The 8 → 9 and 9 → 10 migrations' work on this store: each drops its tables and
/// rebuilds them from the records in one write transaction, as the migration does.
fn migrations(app: &App) {
    use zhudai::store::{loads, rule_fields, tables};
    for (name, step) in [("8 → 9 (rule view)", 9), ("9 → 10 (owner loads)", 10)] {
        reset_peak_memory();
        let before = resident_memory_mb().unwrap_or(0.0);
        let t = Instant::now();
        let n = app
            .store
            .write(|tx| {
                if step == 9 {
                    tx.delete_table(tables::CUSTOMER_RULES)?;
                    tx.delete_table(tables::CUSTOMER_ACTIVITY)?;
                    rule_fields::rebuild(tx)
                } else {
                    tx.delete_table(tables::OWNER_LOADS)?;
                    loads::rebuild(tx)
                }
            })
            .unwrap();
        let took = t.elapsed();
        let peak = peak_memory_mb().unwrap_or(0.0);
        println!(
            "(f) migration {name}: {n} rows rebuilt in one write transaction in {:.1} s; peak resident memory {:.0} MB (+{:.0} MB over the {:.0} MB before)",
            secs(took),
            peak,
            peak - before,
            before
        );
    }
    // The real upgrade path: back to schema 8 without the tables, then `migrate::run`, which
    // runs both steps in resumable batches of write transactions.
    app.store
        .write(|tx| {
            tx.delete_table(tables::CUSTOMER_RULES)?;
            tx.delete_table(tables::CUSTOMER_ACTIVITY)?;
            tx.delete_table(tables::OWNER_LOADS)?;
            tx.open_table(tables::META)?.insert("schema_version", 8)?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    reset_peak_memory();
    let before = resident_memory_mb().unwrap_or(0.0);
    let t = Instant::now();
    zhudai::store::migrate::run(&app.store).unwrap();
    let took = t.elapsed();
    let peak = peak_memory_mb().unwrap_or(0.0);
    println!(
        "(f) migrations 8 → 10 as an upgrade runs them (batches of write transactions): {:.1} s; peak resident memory {:.0} MB (+{:.0} MB over the {:.0} MB before)",
        secs(took),
        peak,
        peak - before,
        before
    );
}

/// (e) Latency of creating a customer with `"assign": "auto"` (what `POST /customers` does),
/// next to what each such create read before the owner load counters: every customer owned by
/// every candidate (`ids_by_owner` + record decode per salesperson).
fn assignment(app: &App, org: &Org) {
    let admin = app.access().caller_for("admin").unwrap();
    let t = Instant::now();
    let mut read = 0u64;
    app.store
        .read(|tx| {
            for u in &org.sales {
                for id in customers::Reader::unscoped(tx, customers::Unscoped::Maintenance)
                    .ids_by_owner(u)?
                {
                    if let Some(c) =
                        customers::Reader::unscoped(tx, customers::Unscoped::Maintenance)
                            .any(&id)?
                    {
                        read += u64::from(c.deleted_at.is_none());
                    }
                }
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let recount = t.elapsed();
    let mut took = Vec::new();
    for k in 0..20u64 {
        let t = Instant::now();
        let c = app
            .customers()
            .create_customer(
                &admin,
                zhudai::domain::customer::CustomerInput {
                    name: Some(format!("自动分配{k}")),
                    phone: Some(format!("1667000{k:04}")),
                    city: Some("成都".into()),
                    assign: Some("auto".into()),
                    ..Default::default()
                },
                "bench",
            )
            .unwrap();
        took.push(t.elapsed());
        assert!(c.owner_id.is_some(), "assigned");
    }
    took.sort();
    println!(
        "(e) create with assign=auto, 20 creates: median {:.1} ms, max {:.1} ms (counters); before the counters each also read every customer of the {} candidates: {read} records in {:.0} ms",
        secs(took[took.len() / 2]) * 1e3,
        secs(took[took.len() - 1]) * 1e3,
        org.sales.len(),
        secs(recount) * 1e3
    );
}

/// (b) One read transaction over the customers table, decoding every record.
fn raw_scan(app: &App) -> (u64, Duration) {
    let t = Instant::now();
    let mut n = 0u64;
    let mut owned = 0u64;
    app.store
        .read(|tx| {
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(None, |c| {
                n += 1;
                owned += u64::from(c.owner_id.is_some());
                true
            })
        })
        .unwrap();
    std::hint::black_box(owned);
    (n, t.elapsed())
}

/// Owned customers and the pool their owner's department sends them to.
fn samples(app: &App, org: &Org, n: usize) -> Vec<(Customer, Pool)> {
    let mut out = Vec::new();
    app.store
        .read(|tx| {
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_all(None, |c| {
                if c.owner_id.is_some() {
                    let k = out.len();
                    let pool = if k % 2 == 0 {
                        org.firm_pool.clone()
                    } else {
                        org.dept_pools[k % 3].clone()
                    };
                    out.push((c, pool));
                }
                out.len() < n
            })
        })
        .unwrap();
    out
}

/// (c) µs per evaluation: script and built-in rule, recall and can_claim.
fn eval_costs(app: &App, org: &Org, now: DateTime<Utc>) {
    let sample = samples(app, org, 5_000);
    let recall: Vec<RecallInput> = sample
        .iter()
        .map(|(c, p)| RecallInput {
            customer: c.into(),
            pool: p.clone(),
            locked: c.locked,
            held_since: zhudai::service::pools::sweep::held_since(c),
            now,
        })
        .collect();
    let user = app.access().caller_for("c00").unwrap().user;
    let claim: Vec<ClaimInput> = sample
        .iter()
        .enumerate()
        .map(|(k, (c, p))| ClaimInput {
            customer: c.clone(),
            pool: p.clone(),
            user: user.clone(),
            owned_count: (k % 400) as u64,
            owned_count_excluding_won: (k % 350) as u64,
            claims_today_in_pool: (k % 25) as u64,
            last_released_by_this_user_at: None,
            entered_pool_at: Some(now - chrono::Duration::days(2)),
            deal_stage: None,
            now,
        })
        .collect();
    let per = |d: Duration, n: usize| secs(d) * 1e6 / n as f64;
    let rounds = 3;
    let script_recall = app.plugins.bench_recall(&recall, rounds);
    let t = Instant::now();
    for _ in 0..rounds {
        for i in &recall {
            std::hint::black_box(rules::recall(i));
        }
    }
    let native_recall = per(t.elapsed(), recall.len() * rounds as usize);
    let t = Instant::now();
    for _ in 0..rounds {
        for i in &claim {
            std::hint::black_box(app.plugins.can_claim(i).unwrap());
        }
    }
    let script_claim = per(t.elapsed(), claim.len() * rounds as usize);
    let t = Instant::now();
    for _ in 0..rounds {
        for i in &claim {
            std::hint::black_box(rules::can_claim(i));
        }
    }
    let native_claim = per(t.elapsed(), claim.len() * rounds as usize);
    println!(
        "(c) per-customer evaluation, {} customers × {rounds}: pool.recall script {:.2} µs (built-in Rust rule {:.3} µs), pool.can_claim script {:.2} µs (built-in {:.3} µs)",
        recall.len(),
        secs(script_recall) * 1e6,
        native_recall,
        script_claim,
        native_claim
    );
}

/// (d) `threads` claimers, each claiming its own share of `ids`; returns (claims, wall).
fn claim_distinct(app: &Arc<App>, org: &Org, ids: &[String], threads: usize) -> (u64, Duration) {
    let won = AtomicU64::new(0);
    let start = Barrier::new(threads);
    let t = Instant::now();
    std::thread::scope(|s| {
        for (k, chunk) in ids.chunks(ids.len().div_ceil(threads)).enumerate() {
            let app = app.clone();
            let caller = app
                .access()
                .caller_for(&format!("c{:02}", k % org.claimers.len()))
                .unwrap();
            let (won, start) = (&won, &start);
            s.spawn(move || {
                start.wait();
                for id in chunk {
                    if app.pools().claim_customer(&caller, id, "bench").is_ok() {
                        won.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    (won.load(Ordering::Relaxed), t.elapsed())
}

/// (d) `threads` claimers racing for each of `ids` in turn; returns (attempts, wall).
fn claim_same(app: &Arc<App>, ids: &[String], threads: usize) -> (u64, Duration) {
    let winners: Vec<AtomicUsize> = ids.iter().map(|_| AtomicUsize::new(0)).collect();
    let start = Barrier::new(threads);
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            let app = app.clone();
            let caller = app
                .access()
                .caller_for(&format!("c{:02}", k % CLAIMERS))
                .unwrap();
            let (winners, start) = (&winners, &start);
            s.spawn(move || {
                for (id, w) in ids.iter().zip(winners) {
                    start.wait();
                    if app.pools().claim_customer(&caller, id, "bench").is_ok() {
                        w.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let wall = t.elapsed();
    for w in &winners {
        assert_eq!(w.load(Ordering::Relaxed), 1, "exactly one winner per race");
    }
    ((ids.len() * threads) as u64, wall)
}

/// The p99 of `samples` (sorted in place).
fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    let k = (samples.len() * 99 / 100).min(samples.len().saturating_sub(1));
    samples.get(k).copied().unwrap_or_default()
}

/// (g): a real sweep in which `pool.recall` throws for every owned customer, with `/health`
/// timed before (idle) and during the sweep.
fn throwing_sweep(app: &Arc<App>, now: DateTime<Utc>) {
    let file = app.plugins.dir().join("pool.rhai");
    std::fs::write(
        &file,
        "fn recall(customer, pool, ctx) { throw \"bench: 每个客户都出错\"; }\n",
    )
    .unwrap();
    app.plugins.invalidate();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/health", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(zhudai::http::serve(listener, Arc::clone(app), async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let probe = |client: reqwest::Client, url: String| async move {
            let t = Instant::now();
            let st = client.get(&url).send().await.unwrap().status();
            assert!(st.is_success());
            t.elapsed()
        };
        let mut idle = Vec::new();
        for _ in 0..300 {
            idle.push(probe(client.clone(), url.clone()).await);
        }
        // Sweeps back to back for at least 3 s, so "during" is thousands of requests, not the
        // few hundred one short sweep overlaps.
        let sweeper = tokio::task::spawn_blocking({
            let app = Arc::clone(app);
            move || {
                let t = Instant::now();
                let mut n = 0u32;
                loop {
                    let report = app.pools().sweep_at(now, false, 0).unwrap();
                    n += 1;
                    if t.elapsed() >= Duration::from_secs(3) {
                        return (report, t.elapsed() / n, n);
                    }
                }
            }
        });
        let mut busy = Vec::new();
        while !sweeper.is_finished() {
            busy.push(probe(client.clone(), url.clone()).await);
        }
        let (report, took, sweeps) = sweeper.await.unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        let (idle99, busy99) = (p99(&mut idle), p99(&mut busy));
        let ratio = secs(busy99) / secs(idle99).max(1e-9);
        println!(
            "(g) sweep with a pool.recall that throws for every customer: {} scanned, {} errors counted (locked/won skipped by the engine) ({} listed), {} recalled in {:.3} s per sweep, {sweeps} sweeps back to back; /health p99 idle {:.2} ms, during the sweeps {:.2} ms over {} requests (×{ratio:.2}){}",
            report.scanned,
            report.errors,
            report.first_errors.len(),
            report.recalled,
            secs(took),
            secs(idle99) * 1e3,
            secs(busy99) * 1e3,
            busy.len(),
            if ratio <= 2.0 { "" } else { " — MISSED the 2× target" }
        );
        assert_eq!(report.recalled, 0, "a failing rule recalls nobody");
        // Locked, won and deleted customers never reach the script (engine rule).
        assert!(report.errors > 0 && report.errors <= report.scanned, "failures are counted");
    });
    std::fs::remove_file(&file).unwrap();
    app.plugins.invalidate();
}

fn main() {
    let rows = env_or("ZHUDAI_BENCH_ROWS", 100_000);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("zhudai pool bench: {rows} customers, {cores} cores (shared machine)");
    let app = Arc::new(
        zhudai::open_app(
            &data,
            {
                let mut config = Config::defaults().unwrap();
                config.store.cache_mb = cache_mb();
                config
            },
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let t = Instant::now();
    let org = org(&app);
    println!(
        "org: {} salespeople in 6 departments, {} claimers, 5 pools in {:.1} s",
        org.sales.len(),
        org.claimers.len(),
        secs(t.elapsed())
    );
    let now = app.now();
    let t = Instant::now();
    let claimable = fill(&app, rows, now, &org);
    println!(
        "fill: {rows} customers in {:.1} s ({} in the claim pool)",
        secs(t.elapsed()),
        claimable.len()
    );

    // (b) baseline, twice (the first warms the page cache).
    let _ = raw_scan(&app);
    let (n, raw) = raw_scan(&app);
    println!(
        "(b) baseline: read-transaction scan decoding {n} customer records: {:.3} s = {:.2} µs/customer",
        secs(raw),
        secs(raw) * 1e6 / n as f64
    );

    // The same scan decoding only the fields rules read (what a sweep decodes).
    let t = Instant::now();
    let mut owned = 0u64;
    app.store
        .read(|tx| {
            customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_rule_fields(
                |c| {
                    owned += u64::from(c.owner_id.is_some());
                    true
                },
            )
        })
        .unwrap();
    let compact = t.elapsed();
    println!(
        "(b) the same scan decoding only the fields rules read: {:.3} s = {:.2} µs/customer ({owned} owned)",
        secs(compact),
        secs(compact) * 1e6 / n as f64
    );
    // The compact rule view of the owned customers (schema 9), what a sweep reads now.
    let t = Instant::now();
    let mut viewed = 0u64;
    app.store
        .read(|tx| {
            zhudai::store::rule_fields::scan_owned(tx, None, |c| {
                viewed += u64::from(c.owner_id.is_some());
                true
            })
        })
        .unwrap();
    let view = t.elapsed();
    println!(
        "(b) the compact rule view of the owned customers: {:.3} s = {:.2} µs/customer ({viewed} owned)",
        secs(view),
        secs(view) * 1e6 / viewed.max(1) as f64
    );

    // `ZHUDAI_BENCH_SWEEP_ONLY=1`: the sweeps and their baselines only (skips (c)–(g)).
    let sweep_only = env_or("ZHUDAI_BENCH_SWEEP_ONLY", 0) == 1;
    // (e) assignment of new leads, (f) migrations, on the freshly filled store.
    if !sweep_only {
        assignment(&app, &org);
        migrations(&app);
    }

    // (a) sweeps.
    let ratio = |d: Duration| secs(d) / secs(raw).max(1e-9);
    // The default rule without its `horizon` (every owned customer evaluated), as an edited
    // plugin file; then the file is removed and the embedded default (with horizon) serves.
    let file = app.plugins.dir().join("pool.rhai");
    let source = zhudai::script::default_source("pool").unwrap();
    let cut = source.find("fn horizon(").unwrap();
    let end = cut + source[cut..].find("\n}\n").unwrap() + 3;
    std::fs::create_dir_all(app.plugins.dir()).unwrap();
    std::fs::write(&file, format!("{}{}", &source[..cut], &source[end..])).unwrap();
    app.plugins.invalidate();
    let t = Instant::now();
    let all = app.pools().sweep_at(now, true, LISTED).unwrap();
    let all_t = t.elapsed();
    println!(
        "(a) sweep dry run, default rule without horizon (all owned evaluated): {} scanned, {} would be recalled, {} warned in {:.3} s (×{:.1} the baseline)",
        all.scanned,
        all.recalled,
        all.warned,
        secs(all_t),
        ratio(all_t)
    );
    std::fs::remove_file(&file).unwrap();
    app.plugins.invalidate();
    let t = Instant::now();
    let dry = app.pools().sweep_at(now, true, LISTED).unwrap();
    let dry_t = t.elapsed();
    println!(
        "(a) sweep dry run: {} owned scanned, {} would be recalled, {} warned in {:.3} s (×{:.1} the baseline)",
        dry.scanned,
        dry.recalled,
        dry.warned,
        secs(dry_t),
        ratio(dry_t)
    );
    // Baseline for the real sweep's writes: raw redb in a scratch file beside the store, as
    // many transactions as the sweep commits, each writing per recall one 1 KB value under a
    // random key (about a record's size) and one 200-byte value under a sequential key (about
    // an audit row).
    let writes = dry.recalled + dry.warned;
    let raw_w = raw_writes(&work.path().join("raw.redb"), writes);
    println!(
        "(a) baseline for the real sweep: raw redb, {writes} × (1 KB random key + 200 B sequential key) in transactions of {}: {:.3} s = {:.0} rows/s",
        zhudai::service::pools::sweep::BATCH,
        secs(raw_w),
        writes as f64 / secs(raw_w).max(1e-9)
    );
    // `ZHUDAI_BENCH_SWEEP_BATCH`: customers per write transaction (default: the sweep's own).
    let batch = env_or("ZHUDAI_BENCH_SWEEP_BATCH", 0) as usize;
    // `ZHUDAI_BENCH_SWEEP_WRITER=MS`: meanwhile a request-like writer commits one audit entry
    // every MS milliseconds, and the longest of its commits (waiting for the lock included) is
    // how long a write waits for the sweep. Off by default: a frequent writer makes the sweep
    // yield after nearly every batch, so its rate is not comparable with figures without one.
    let writer_ms = env_or("ZHUDAI_BENCH_SWEEP_WRITER", 0);
    let stop = std::sync::atomic::AtomicBool::new(writer_ms == 0);
    let (longest, commits) = (AtomicU64::new(0), AtomicU64::new(0));
    let t = Instant::now();
    let real = std::thread::scope(|s| {
        s.spawn(|| {
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
                                action: "bench.write",
                                target: None,
                                detail: serde_json::json!({}),
                                source: "bench".into(),
                            },
                        )
                        .map(|_| ())
                    })
                    .unwrap();
                longest.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                commits.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(writer_ms));
            }
        });
        let real = if batch > 0 {
            app.pools().sweep_in_batches(now, batch).unwrap()
        } else {
            app.pools().sweep_at(now, false, LISTED).unwrap()
        };
        stop.store(true, Ordering::Relaxed);
        real
    });
    let real_t = t.elapsed();
    if writer_ms > 0 {
        println!(
            "(a) during the real sweep a writer committed {} audit entries (one per {writer_ms} ms); its longest commit, waiting for the lock included: {:.0} ms",
            commits.load(Ordering::Relaxed),
            longest.load(Ordering::Relaxed) as f64 / 1e3
        );
    }
    if batch == 0 {
        assert_eq!(real.actions, dry.actions, "preview equals the real sweep");
    }
    assert_eq!(real.pools, dry.pools, "preview equals the real sweep");
    assert_eq!(
        (&all.actions, &all.pools),
        (&dry.actions, &dry.pools),
        "the horizon changes nothing but the work"
    );
    println!(
        "(a) sweep real: {} recalled, {} warned (batches of {} customers, up to {} to a transaction) in {:.3} s (×{:.1} the baseline)",
        real.recalled,
        real.warned,
        if batch > 0 {
            batch
        } else {
            zhudai::service::pools::sweep::BATCH
        },
        zhudai::service::pools::sweep::TX_MAX_BATCHES,
        secs(real_t),
        ratio(real_t)
    );
    let per_sec = (real.recalled + real.warned) as f64 / secs(real_t).max(1e-9);
    let raw_per_sec = writes as f64 / secs(raw_w).max(1e-9);
    println!(
        "(a) sweep real: {:.0} recalls+warnings/s; raw redb baseline {:.0} rows/s; ratio ×{:.3} (target: ≥ 20000/s)",
        per_sec,
        raw_per_sec,
        per_sec / raw_per_sec.max(1e-9)
    );
    let t = Instant::now();
    let steady = app.pools().sweep_at(now, true, LISTED).unwrap();
    let steady_t = t.elapsed();
    println!(
        "(a) next sweep (steady state, dry run): {} owned scanned, {} recalled, {} warned in {:.3} s (×{:.1} the baseline)",
        steady.scanned,
        steady.recalled,
        steady.warned,
        secs(steady_t),
        ratio(steady_t)
    );

    if sweep_only {
        return;
    }
    // (c) evaluation cost.
    eval_costs(&app, &org, now);

    // (g) a hook that throws for every customer.
    throwing_sweep(&app, now);

    // (d) claims.
    let mut left = claimable.as_slice();
    for threads in [8usize, 32] {
        let take = left.len().min(2_000);
        let (ids, rest) = left.split_at(take);
        left = rest;
        let (won, wall) = claim_distinct(&app, &org, ids, threads);
        println!(
            "(d) {threads} threads claiming {} distinct customers: {won} claimed in {:.2} s = {:.0} claims/s",
            ids.len(),
            secs(wall),
            won as f64 / secs(wall)
        );
    }
    let take = left.len().min(100);
    let (tries, wall) = claim_same(&app, &left[..take], 32);
    println!(
        "(d) 32 threads racing for each of {take} customers: exactly 1 winner each, {tries} attempts in {:.2} s = {:.0} attempts/s, {:.1} ms per race",
        secs(wall),
        tries as f64 / secs(wall),
        secs(wall) * 1e3 / take.max(1) as f64
    );
}

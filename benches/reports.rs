//! Issue 21.5: the dashboard (工作台) and every report over HTTP at 1M customers / 200k deals /
//! 2M follow-ups / 100k payments, for the admin (the whole firm) and for a department manager
//! (a department with 1/10 of the staff and so of the data), at 1 and at 8 connections.
//!
//! Baseline, same run: bare axum on the same runtime returning the very bytes zhudai answered
//! for the same request (captured once), so each ratio is what building the answer costs over
//! serving it. Targets: p99 < 100 ms at 1 connection, < 300 ms at 8.
//!
//! The data is written straight through the store as the writes would leave it: customers
//! through `customers::put` (owner loads, `owner_touch`, funnel counters), deals through
//! `deals::put` (deal funnel, per-product counters), fee accounts through
//! `fees::put_account` (the `pm:` and `rcv:` keys) with the month totals; follow-ups, calls
//! and claims as the per-user, per-day counters their use cases bump (the reports never read
//! the follow-up or call records themselves, only these counters).
//!
//! Run: `cargo bench --bench reports` (release). `ZHUDAI_BENCH_SCALE` multiplies every count
//! (default 1.0; 0.1 for a quick run); `BENCH_SECS` per measurement (default 2).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use chrono::{Datelike, NaiveDate};
use zhudai::config::Config;
use zhudai::domain::customer::Customer;
use zhudai::domain::deal::{Deal, DealStage, ProductSnapshot, StageChange};
use zhudai::domain::fee::{FeeAccount, PayMethod, Payment};
use zhudai::domain::product::Category;
use zhudai::service::SystemClock;
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::store::{customers, pools};

const SALES: usize = 200;
const TEAM: usize = 20;
const KINDS: [&str; 5] = ["call", "wechat", "visit", "sms", "note"];
const TARGET_1: f64 = 100.0;
const TARGET_8: f64 = 300.0;

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

fn env_f(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    p50: f64,
    p99: f64,
    n: usize,
    errors: u64,
}

/// `conns` keep-alive connections request `url` for `secs` seconds; latencies in ms.
async fn load(url: &str, bearer: Option<&str>, conns: usize, secs: f64) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let send = |client: &reqwest::Client, auth: &Option<String>| {
        let r = client.get(url);
        match auth {
            Some(a) => r.header("authorization", a.as_str()),
            None => r,
        }
    };
    for _ in 0..conns.max(3) {
        let _ = send(&client, &auth).send().await.map(|r| r.bytes());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = client.clone();
        let auth = auth.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline || lat.is_empty() {
                let t = Instant::now();
                let r = client.get(&url);
                let r = match &auth {
                    Some(a) => r.header("authorization", a.as_str()),
                    None => r,
                };
                match r.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    _ => {
                        errors += 1;
                        if errors > 1000 {
                            break;
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Figures {
        p50: pct(0.50),
        p99: pct(0.99),
        n: all.len(),
        errors,
    }
}

fn product(id: usize) -> ProductSnapshot {
    ProductSnapshot {
        id: format!("p{id}"),
        name: format!("产品{id}"),
        lender: "某银行".into(),
        category: Category::Credit,
        version: 1,
        service_fee: None,
        rebate_bp: None,
    }
}

fn main() {
    let scale = env_f("ZHUDAI_BENCH_SCALE", 1.0);
    let secs = env_f("BENCH_SECS", 2.0);
    let n_customers = (1_000_000.0 * scale) as u64;
    let n_deals = (200_000.0 * scale) as u64;
    let n_followups = (2_000_000.0 * scale) as u64;
    let n_payments = (100_000.0 * scale) as u64;
    println!(
        "zhudai reports bench (scale {scale}): {n_customers} customers, {n_deals} deals, \
         {n_followups} follow-ups, {n_payments} payments; {SALES} salespeople ({TEAM} in the \
         manager's department); {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let work =
        tempfile::tempdir_in(std::env::var("ZHUDAI_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .unwrap();
    let data = work.path().join("data");
    let app = zhudai::open_app(&data, Config::defaults().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let op = Actor::Operator;
    let dept = |name: &str| {
        app.org()
            .create_department(
                &op,
                DepartmentInput {
                    name: name.into(),
                    parent_id: None,
                },
                "bench",
            )
            .unwrap()
            .id
    };
    let (one, two) = (dept("一部"), dept("二部"));
    let user = |name: String, role: &str, department: &str| {
        app.org()
            .create_user(
                &op,
                NewUser {
                    username: name.clone(),
                    display_name: name,
                    roles: vec![role.into()],
                    password: "bench staff password".into(),
                    department_id: Some(department.to_string()),
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
    let sales: Vec<String> = (0..SALES)
        .map(|i| user(format!("s{i}"), "sales", if i < TEAM { &one } else { &two }))
        .collect();
    let boss = user("boss".into(), "manager", &one);
    let admin = app.access().caller_for("admin").unwrap();
    let firm_pool = app
        .pools()
        .list_pools(&admin)
        .unwrap()
        .into_iter()
        .find(|p| p.pool.department_id.is_none())
        .unwrap()
        .pool
        .id;

    let now = app.now();
    let shanghai = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = now.with_timezone(&shanghai).date_naive();
    let day = |d: u64| (today - chrono::Duration::days(d as i64)).to_string();
    let mut rng = Rng(20261205);

    // Customers: 70% owned (spread over the salespeople), 30% in the firm pool.
    let t = Instant::now();
    let mut synth = zhudai::synth::Generator::new(20261205, now);
    let mut ids: Vec<String> = Vec::with_capacity(n_customers as usize);
    let mut done = 0;
    while done < n_customers {
        let batch = (n_customers - done).min(10_000);
        let mut records: Vec<Customer> = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let s = synth.customer();
            let owner =
                (rng.below(10) < 7).then(|| sales[rng.below(SALES as u64) as usize].clone());
            let pooled = owner.is_none();
            let mut c = app.platform().demo_record(&s, owner, "bench").unwrap();
            if pooled {
                c.pool_id = Some(firm_pool.clone());
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
        ids.extend(records.into_iter().map(|c| c.id));
        done += batch;
    }
    println!("customers: {:.1} s", t.elapsed().as_secs_f64());

    // Follow-ups, calls and claims as the per-user, per-day counters their writes bump.
    let t = Instant::now();
    let per_user_day = |total: u64| total as f64 / (SALES as f64 * 365.0);
    let f_mean = per_user_day(n_followups);
    app.store
        .write(|tx| {
            for u in &sales {
                for d in 0..365 {
                    let dk = day(d);
                    let n = (f_mean * (0.5 + rng.below(100) as f64 / 100.0)).round() as u64;
                    if n == 0 {
                        continue;
                    }
                    pools::set_counter(tx, &format!("followups_done/{u}/{dk}"), n)?;
                    let mut left = n;
                    for (i, k) in KINDS.iter().enumerate() {
                        let c = if i == KINDS.len() - 1 { left } else { left / 2 };
                        left -= c;
                        if c > 0 {
                            pools::set_counter(
                                tx,
                                &zhudai::store::report_keys::followups_kind_key(u, &dk, k),
                                c,
                            )?;
                        }
                    }
                    let calls = n / 2 + 1;
                    let answered = calls * 2 / 3;
                    for (m, v) in [
                        ("n", calls),
                        ("answered", answered),
                        ("talk", answered * 95),
                        ("reached", answered),
                    ] {
                        pools::set_counter(tx, &format!("calls/{u}/{dk}/{m}"), v)?;
                    }
                    if rng.below(3) == 0 {
                        pools::set_counter(tx, &format!("claim/{u}/{firm_pool}/{dk}"), 2)?;
                        pools::set_counter(tx, &format!("claimsign/{u}/{firm_pool}/{dk}"), 1)?;
                    }
                }
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    println!(
        "follow-up, call and claim counters: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Deals over the past year, 20 products; the disbursed ones get fee accounts with payments.
    let t = Instant::now();
    let mut disbursed: Vec<(String, String, NaiveDate)> = Vec::new();
    let mut written = 0;
    while written < n_deals {
        let batch = (n_deals - written).min(20_000);
        app.store
            .write(|tx| {
                for _ in 0..batch {
                    let stage = DealStage::ALL[rng.below(9) as usize];
                    let back = rng.below(365);
                    let at = now - chrono::Duration::days(back as i64);
                    let closed_reason = matches!(stage, DealStage::Rejected | DealStage::Withdrawn)
                        .then(|| "征信查询过多".to_string());
                    let officer = sales[rng.below(SALES as u64) as usize].clone();
                    let d = Deal {
                        id: zhudai::service::new_id(now),
                        customer_id: ids[rng.below(ids.len() as u64) as usize].clone(),
                        customer_name: "客户".into(),
                        product: product(rng.below(20) as usize),
                        amount_fen: 10_000_000,
                        term_months: 12,
                        officer_id: officer.clone(),
                        assistant_id: None,
                        stage,
                        approval: None,
                        disbursement: None,
                        closed_reason,
                        history: vec![StageChange {
                            at,
                            by: officer.clone(),
                            from: None,
                            to: stage,
                            note: None,
                            override_reason: None,
                        }],
                        created_by: "bench".into(),
                        broker_id: None,
                        created_at: at,
                        updated_at: at,
                    };
                    if matches!(stage, DealStage::Disbursed | DealStage::FeeCollected) {
                        disbursed.push((
                            d.id.clone(),
                            officer,
                            at.with_timezone(&shanghai).date_naive(),
                        ));
                    }
                    zhudai::store::deals::put(tx, None, &d)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
        written += batch;
    }
    let per_account = (n_payments as usize)
        .div_ceil(disbursed.len().max(1))
        .max(1);
    let mut paid = 0u64;
    for chunk in disbursed.chunks(10_000) {
        app.store
            .write(|tx| {
                for (deal, officer, on) in chunk {
                    if paid >= n_payments {
                        break;
                    }
                    let mut payments = Vec::new();
                    for i in 0..per_account {
                        if paid >= n_payments {
                            break;
                        }
                        let paid_on = (*on + chrono::Duration::days(i as i64 * 7)).min(today);
                        payments.push(Payment {
                            id: zhudai::service::new_id(now),
                            amount_fen: 100_000,
                            paid_on,
                            method: PayMethod::Transfer,
                            payer: None,
                            receipt_no: format!("R{paid}"),
                            recorded_by: officer.clone(),
                            recorded_at: now,
                        });
                        let m = format!("{:04}-{:02}", paid_on.year(), paid_on.month());
                        zhudai::store::fees::add_total(tx, &format!("vol/{m}/{officer}"), 100_000)?;
                        paid += 1;
                    }
                    let m = format!("{:04}-{:02}", on.year(), on.month());
                    zhudai::store::fees::add_total(tx, &format!("dis/{m}/{officer}"), 10_000_000)?;
                    let a = FeeAccount {
                        deal_id: deal.clone(),
                        officer_id: officer.clone(),
                        disbursed_on: *on,
                        disbursed_fen: 10_000_000,
                        fee_fen: 300_000,
                        fee_rule: "bench".into(),
                        rebate_fen: 0,
                        payments,
                        refunds: vec![],
                        waivers: vec![],
                        rebate_receipts: vec![],
                        lines: vec![],
                    };
                    zhudai::store::fees::put_account(tx, None, &a)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
    }
    println!(
        "deals and fee accounts: {:.1} s ({} disbursed, {paid} payments)",
        t.elapsed().as_secs_f64(),
        disbursed.len()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let served = Arc::clone(&app);
        tokio::spawn(async move {
            zhudai::http::serve(l, served, std::future::pending())
                .await
                .unwrap()
        });
        let admin_token = app
            .access()
            .create_token(&admin, "bench", None, None, "bench")
            .unwrap()
            .token;
        let boss_token = app
            .access()
            .create_token(&admin, "bench-boss", None, Some(&boss), "bench")
            .unwrap()
            .token;
        let from = (today - chrono::Duration::days(29)).to_string();
        let to = today.to_string();
        let p = format!("from={from}&to={to}");
        let endpoints: Vec<(String, String)> = vec![
            ("dashboard trends 30d".into(), "/api/v1/reports/trends?days=30".into()),
            ("dashboard trends 90d".into(), "/api/v1/reports/trends?days=90".into()),
            ("dashboard team/today".into(), "/api/v1/team/today".into()),
            ("dashboard rankings (month)".into(), format!("/api/v1/reports/rankings?from={}&to={to}&by=fees", today.with_day(1).unwrap())),
            ("activity".into(), format!("/api/v1/reports/activity?{p}")),
            ("funnel (customers)".into(), format!("/api/v1/reports/funnel?{p}")),
            ("funnel (deals)".into(), format!("/api/v1/reports/funnel?{p}&kind=deal")),
            ("pools".into(), format!("/api/v1/reports/pools?{p}")),
            ("call_stats".into(), format!("/api/v1/reports/call_stats?{p}")),
            ("rankings".into(), format!("/api/v1/reports/rankings?{p}")),
            ("finance".into(), format!("/api/v1/reports/finance?{p}")),
            ("products".into(), format!("/api/v1/reports/products?{p}")),
        ];
        // The bodies zhudai answers, captured once, served by bare axum (the baseline).
        let client = reqwest::Client::new();
        let mut bodies = Vec::new();
        for (who, token) in [("admin", &admin_token), ("manager", &boss_token)] {
            for (name, path) in &endpoints {
                let r = client
                    .get(format!("{base}{path}"))
                    .header("authorization", format!("Bearer {token}"))
                    .send()
                    .await
                    .unwrap();
                let st = r.status();
                let body = r.bytes().await.unwrap().to_vec();
                assert!(st.is_success(), "{name} {who}: {st} {}", String::from_utf8_lossy(&body));
                bodies.push(body);
            }
        }
        let sizes: Vec<usize> = bodies.iter().map(Vec::len).collect();
        let shared = Arc::new(bodies);
        let bare = Router::new().route(
            "/b/{i}",
            get(move |axum::extract::Path(i): axum::extract::Path<usize>| {
                let shared = Arc::clone(&shared);
                async move {
                    (
                        [("content-type", "application/json")],
                        shared.get(i).cloned().unwrap_or_default(),
                    )
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, bare).await.unwrap() });

        println!(
            "{:<28} {:>7} {:>5} | {:>9} {:>9} | {:>9} {:>9} | {:>7} {:>7} | body",
            "endpoint", "who", "conns", "p50 ms", "p99 ms", "base p50", "base p99", "×p50", "×p99"
        );
        let mut missed = Vec::new();
        let mut i = 0;
        for (who, token) in [("admin", &admin_token), ("manager", &boss_token)] {
            for (name, path) in &endpoints {
                for conns in [1usize, 8] {
                    let b = load(&format!("{bare_base}/b/{i}"), None, conns, secs).await;
                    let f = load(&format!("{base}{path}"), Some(token), conns, secs).await;
                    let target = if conns == 1 { TARGET_1 } else { TARGET_8 };
                    let mark = if f.p99 < target { "" } else { "  MISSED" };
                    println!(
                        "{name:<28} {who:>7} {conns:>5} | {:>9.2} {:>9.2} | {:>9.3} {:>9.3} | {:>7.0} {:>7.0} | {} B, {} req, {} err{mark}",
                        f.p50,
                        f.p99,
                        b.p50,
                        b.p99,
                        f.p50 / b.p50.max(1e-6),
                        f.p99 / b.p99.max(1e-6),
                        sizes[i],
                        f.n,
                        f.errors
                    );
                    if f.p99 >= target {
                        missed.push(format!("{name} {who} {conns}c (p99 {:.1} ms)", f.p99));
                    }
                }
                i += 1;
            }
        }
        if missed.is_empty() {
            println!("every dashboard and report read met the targets");
        } else {
            println!("TARGET MISSED: {}", missed.join("; "));
        }
    });
    drop(work);
}

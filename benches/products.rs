//! Issue 16: product matching at scale, each figure beside a baseline from the same run.
//!
//! 1. One customer against 500 products over HTTP (`GET /customers/{id}/matches`, the default
//!    scoring plugin running for every product that passes), beside bare axum returning a
//!    fixed body (HTTP's own cost) and the requirement checks alone (no store, no plugin).
//! 2. The reverse match: one product against every customer (`GET /products/{id}/candidates`
//!    through the service, as the admin and as a salesperson), beside a raw redb scan decoding
//!    the compact match rows and the path it avoids: decoding every customer record.
//!
//! Run: `ZHUDAI_BENCH_ROWS=1000000 cargo bench --bench products` (release). Environment:
//! `ZHUDAI_BENCH_ROWS` customers (default 100000), `ZHUDAI_BENCH_PRODUCTS` (default 500).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use zhudai::config::Config;
use zhudai::domain::customer::{Customer, Occupation, TaxRating};
use zhudai::domain::loan::Method;
use zhudai::domain::matching::{self, Applicant};
use zhudai::domain::product::{Category, FeeTerms, ProductInput, Requirements, ServiceFee};
use zhudai::service::SystemClock;
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::products::reverse::CandidateQuery;
use zhudai::store::customers;

const SEED: u64 = 20261206;
const SALES: usize = 20;
const CITIES: [&str; 8] = [
    "上海", "北京", "杭州", "深圳", "广州", "成都", "武汉", "南京",
];

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
    fn maybe<T>(&mut self, pct: u64, v: impl FnOnce(&mut Rng) -> T) -> Option<T> {
        (self.below(100) < pct).then(|| v(self))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pcts(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[(t.len() * 99 / 100).min(t.len() - 1)])
}

fn timed(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    pcts(
        (0..n)
            .map(|_| {
                let s = Instant::now();
                f();
                ms(s.elapsed())
            })
            .collect(),
    )
}

/// A product with a random mix of the requirements lenders write.
fn product(k: usize, rng: &mut Rng) -> ProductInput {
    let category = Category::ALL[rng.below(Category::ALL.len() as u64) as usize];
    let min_wan = [1, 5, 10, 20][rng.below(4) as usize];
    let requirements = Requirements {
        age_min: rng.maybe(70, |_| 22),
        age_max: rng.maybe(70, |r| 55 + r.below(10) as u32),
        cities: if rng.below(100) < 40 {
            (0..3)
                .map(|_| CITIES[rng.below(8) as usize].to_string())
                .collect()
        } else {
            vec![]
        },
        occupations: match category {
            Category::Business | Category::Tax => vec![Occupation::BusinessOwner],
            _ => vec![],
        },
        min_monthly_income_fen: rng.maybe(50, |r| 300_000 + r.below(10) as i64 * 100_000),
        min_social_security_months: rng.maybe(50, |r| 6 + r.below(24) as u32),
        min_provident_fund_months: (category == Category::ProvidentFund).then_some(12),
        property_required: category == Category::Mortgage,
        car_required: category == Category::Car,
        max_overdue_2y: rng.maybe(60, |r| r.below(4) as u32),
        max_inquiries_3m: rng.maybe(60, |r| 3 + r.below(6) as u32),
        max_inquiries_6m: rng.maybe(40, |r| 6 + r.below(10) as u32),
        min_licence_age_months: (category == Category::Tax).then_some(24),
        min_tax_rating: (category == Category::Tax).then_some(TaxRating::B),
        ..Requirements::default()
    };
    ProductInput {
        name: format!("产品{k}"),
        lender: format!("机构{}", k % 37),
        category,
        amount_min_fen: min_wan * 1_000_000,
        amount_max_fen: min_wan * 1_000_000 * (5 + rng.below(20) as i64),
        term_min_months: 12,
        term_max_months: [36, 60, 120, 360][rng.below(4) as usize],
        rate_min_bp: 300 + rng.below(600) as u32,
        rate_max_bp: 1_000 + rng.below(1_400) as u32,
        methods: vec![Method::Annuity, Method::EqualPrincipal],
        requirements,
        documents: vec!["身份证".into(), "银行流水".into()],
        fees: FeeTerms {
            service_fee: Some(ServiceFee::Rate { bp: 200 }),
            lender_rebate_bp: Some(100),
        },
        active: true,
        notes: None,
    }
}

fn main() {
    let rows = env_or("ZHUDAI_BENCH_ROWS", 100_000);
    let n_products = env_or("ZHUDAI_BENCH_PRODUCTS", 500) as usize;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    println!("zhudai products bench: {rows} customers, {n_products} products");
    let app = zhudai::open_app(&data, Config::defaults().unwrap(), Arc::new(SystemClock)).unwrap();
    let token = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&token, "admin", "管理员", "bench-password-1", "bench")
        .unwrap();
    let sales: Vec<String> = (0..SALES)
        .map(|i| {
            app.org()
                .create_user(
                    &Actor::Operator,
                    NewUser {
                        username: format!("s{i}"),
                        display_name: format!("业务员{i}"),
                        roles: vec!["sales".into()],
                        password: "bench staff password".into(),
                        department_id: None,
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
    let salesperson = app.access().caller_for("s0").unwrap();

    let now = app.now();
    let mut synth = zhudai::synth::Generator::new(SEED, now);
    let mut rng = Rng(SEED);
    let t = Instant::now();
    let mut done = 0u64;
    let mut sample: Option<String> = None;
    while done < rows {
        let batch = (rows - done).min(10_000);
        let mut records: Vec<Customer> = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let s = synth.customer();
            let owner = sales[rng.below(SALES as u64) as usize].clone();
            records.push(
                app.platform()
                    .demo_record(&s, Some(owner), "bench")
                    .unwrap(),
            );
        }
        app.store
            .write(|tx| {
                for c in &records {
                    customers::put(tx, None, c)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
        if sample.is_none() {
            sample = records
                .iter()
                .find(|c| c.owner_id.as_deref() == Some(sales[0].as_str()))
                .map(|c| c.id.clone());
        }
        done += batch;
    }
    println!("fill: {:.1} s", t.elapsed().as_secs_f64());
    let mut products = Vec::new();
    for k in 0..n_products {
        products.push(
            app.products()
                .create_product(&admin, product(k, &mut rng), "bench")
                .unwrap(),
        );
    }
    let sample = sample.unwrap();

    // 1. One customer × every product.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = app.products().matches(&admin, &sample).unwrap();
    println!(
        "matches for one customer: {} eligible, {} need information, {} ineligible",
        report.eligible, report.needs_info, report.ineligible
    );
    let body = serde_json::to_vec(&report).unwrap();
    let customer = app
        .store
        .read(|tx| customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).live(&sample))
        .unwrap()
        .unwrap();
    let checks = timed(300, || {
        let a = Applicant {
            age: Some(35),
            born: None,
            city: customer.city.as_deref(),
            profile: &customer.profile,
            demand: &customer.demand,
        };
        for p in &products {
            let d = matching::evaluate(&p.terms.requirements, &a);
            // As the service does: an estimate for the products that pass.
            if d.status != matching::Status::Ineligible {
                std::hint::black_box(matching::estimate(
                    &p.terms,
                    &customer.demand,
                    chrono::NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
                ));
            }
            std::hint::black_box(d);
        }
    });
    let service = timed(300, || {
        std::hint::black_box(app.products().matches(&admin, &sample).unwrap());
    });
    let (bare, http) = rt.block_on(async {
        let bare = Router::new().route(
            "/m",
            get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_url = format!("http://{}/m", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, bare).await.unwrap() });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let served = Arc::clone(&app);
        tokio::spawn(async move {
            zhudai::http::serve(l, served, std::future::pending())
                .await
                .unwrap()
        });
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let resp = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "admin", "password": "bench-password-1"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let url = format!("{base}/api/v1/customers/{sample}/matches");
        let run = async |url: &str| {
            let mut t = Vec::new();
            for _ in 0..300 {
                let s = Instant::now();
                let r = client.get(url).send().await.unwrap();
                assert!(r.status().is_success());
                std::hint::black_box(r.bytes().await.unwrap());
                t.push(ms(s.elapsed()));
            }
            pcts(t)
        };
        (run(&bare_url).await, run(&url).await)
    });
    println!(
        "one customer × {n_products} products: HTTP p50 {:.2} ms p99 {:.2} ms{} | service p50 {:.2} p99 {:.2} ms | requirement checks + estimates alone p50 {:.2} p99 {:.2} ms | bare axum, same body, p50 {:.2} p99 {:.2} ms (HTTP ×{:.1} of bare at p99)",
        http.0,
        http.1,
        if http.1 < 20.0 {
            ""
        } else {
            "  ✗ target 20 ms missed"
        },
        service.0,
        service.1,
        checks.0,
        checks.1,
        bare.0,
        bare.1,
        http.1 / bare.1.max(1e-6)
    );

    // 2. The reverse match.
    let pid = products[0].id.clone();
    let q = CandidateQuery::default();
    let mut last = None;
    let as_admin = timed(5, || {
        last = Some(app.products().candidates(&admin, &pid, &q).unwrap());
    });
    let last = last.unwrap();
    let as_sales = timed(5, || {
        std::hint::black_box(app.products().candidates(&salesperson, &pid, &q).unwrap());
    });
    let raw_rows = timed(3, || {
        let mut n = 0u64;
        app.store
            .read(|tx| {
                customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan_match_rows(
                    |_, row| {
                        std::hint::black_box(row);
                        n += 1;
                        Ok(true)
                    },
                )
            })
            .unwrap();
        assert_eq!(n, rows);
    });
    let records = timed(1, || {
        app.store
            .read(|tx| {
                customers::Reader::unscoped(tx, customers::Unscoped::Maintenance).scan(None, |c| {
                    std::hint::black_box(c);
                    true
                })
            })
            .unwrap();
    });
    println!(
        "reverse match over {} customers ({} eligible, {} need information): admin p50 {:.0} ms p99 {:.0} ms{} | salesperson ({} of the customers in scope) p50 {:.0} ms | raw scan decoding the match rows {:.0} ms | decoding every customer record instead {:.0} ms",
        last.scanned,
        last.eligible,
        last.needs_info,
        as_admin.0,
        as_admin.1,
        if as_admin.1 < 5000.0 {
            ""
        } else {
            "  ✗ target 5 s missed"
        },
        rows / SALES as u64,
        as_sales.0,
        raw_rows.0,
        records.0
    );
}

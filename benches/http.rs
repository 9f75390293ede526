//! HTTP throughput and latency of the zhudai router against a bare axum handler returning the
//! same bytes, measured in the same run on the same machine.
//!
//! `cargo bench --bench http` (env: BENCH_SECS per scenario, default 5; BENCH_CONCURRENCY,
//! default 32; BENCH_USERS, synthetic staff accounts in the store, default 1000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use redb::ReadableDatabase;
use serde_json::json;
use zhudai::config::Config;
use zhudai::service::SystemClock;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// Drives `url` from `concurrency` keep-alive connections for `secs` seconds.
async fn load(client: &reqwest::Client, url: &str, concurrency: u64, secs: u64) -> Figures {
    load_many(client, &[url.to_string()], None, concurrency, secs).await
}

/// Drives the `urls` (each connection walks them from its own start, so requests spread over
/// all of them), with `bearer` as `Authorization` when given.
async fn load_many(
    client: &reqwest::Client,
    urls: &[String],
    bearer: Option<&str>,
    concurrency: u64,
    secs: u64,
) -> Figures {
    let urls = Arc::new(urls.to_vec());
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let request = |client: &reqwest::Client, url: &str, auth: &Option<String>| {
        let r = client.get(url);
        match auth {
            Some(a) => r.header("authorization", a.as_str()),
            None => r,
        }
    };
    // Warm-up: open the connections, fill caches.
    for i in 0..200 {
        let _ = request(client, &urls[i % urls.len()], &auth)
            .send()
            .await
            .map(|r| r.bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let client = client.clone();
        let urls = Arc::clone(&urls);
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut i = (task as usize * 7919) % urls.len();
            while Instant::now() < deadline {
                let t = Instant::now();
                i = (i + 104_729) % urls.len();
                match request(&client, &urls[i], &auth).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
    }
}

fn row(name: &str, f: &Figures, base: &Figures) {
    println!(
        "{name:<34} {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>8.1} µs  errors {:>3}  throughput ×{:.2} of bare, p99 ×{:.2}",
        f.rps,
        f.p50.as_secs_f64() * 1e6,
        f.p99.as_secs_f64() * 1e6,
        f.errors,
        f.rps / base.rps,
        f.p99.as_secs_f64() / base.p99.as_secs_f64().max(1e-9),
    );
}

fn main() {
    let secs = env_or("BENCH_SECS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let users = env_or("BENCH_USERS", 1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Baseline: bare axum, same bytes, no layers.
        let body = serde_json::to_vec(&json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).unwrap();
        let bare = Router::new().route(
            "/health",
            get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_url = format!("http://{}/health", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, bare).await.unwrap() });

        // zhudai with an administrator and synthetic staff accounts.
        let dir = tempfile::tempdir().unwrap();
        let app = zhudai::open_app(dir.path(), Config::defaults().unwrap(), Arc::new(SystemClock)).unwrap();
        let token = app.access().prepare_setup().unwrap().unwrap();
        app.access().complete_setup(&token, "admin", "管理员", "bench-password-1", "bench").unwrap();
        let seeded = app.platform().demo_staff(users, 42).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let served = Arc::clone(&app);
        tokio::spawn(async move { zhudai::http::serve(l, served, std::future::pending()).await.unwrap() });

        // Customers for the detail reads (owned by the admin, written like created ones).
        let customers = env_or("BENCH_CUSTOMERS", 20_000);
        let admin = app.access().caller_for("admin").unwrap();
        let mut synth = zhudai::synth::Generator::new(18, app.now());
        let mut ids = Vec::with_capacity(customers as usize);
        let mut left = customers;
        while left > 0 {
            let n = left.min(5_000);
            let records: Vec<zhudai::domain::customer::Customer> = (0..n)
                .map(|_| app.platform().demo_record(&synth.customer(), Some(admin.user.id.clone()), "bench").unwrap())
                .collect();
            app.store
                .write(|tx| {
                    for c in &records {
                        zhudai::store::customers::put(tx, None, c)?;
                    }
                    Ok::<_, zhudai::store::Error>(())
                })
                .unwrap();
            ids.extend(records.into_iter().map(|c| c.id));
            left -= n;
        }
        let token = app.access().create_token(&admin, "bench", None, None, "bench").unwrap().token;

        // Baseline for the detail read: bare axum + redb, a random read of a 300-byte value
        // under the same ids, inline in the handler.
        const ITEMS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("items");
        let raw = Arc::new(redb::Database::create(dir.path().join("bare.redb")).unwrap());
        {
            let tx = raw.begin_write().unwrap();
            {
                let mut t = tx.open_table(ITEMS).unwrap();
                let value = vec![b'x'; 300];
                for id in &ids {
                    t.insert(id.as_str(), value.as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let bare_db = Router::new().route(
            "/items/{id}",
            get(move |axum::extract::Path(id): axum::extract::Path<String>| {
                let raw = Arc::clone(&raw);
                async move {
                    let tx = raw.begin_read().unwrap();
                    let t = tx.open_table(ITEMS).unwrap();
                    let v = t.get(id.as_str()).unwrap().map(|v| v.value().to_vec()).unwrap_or_default();
                    ([("content-type", "application/json")], v)
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_db_base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, bare_db).await.unwrap() });

        let client = reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(256).build().unwrap();
        let resp = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": "bench-password-1"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());

        println!("zhudai HTTP bench: {concurrency} connections, {secs}s per scenario, {} cores, {seeded} synthetic staff in the store",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let b = load(&client, &bare_url, concurrency, secs).await;
        row("bare axum GET /health (baseline)", &b, &b);
        let h = load(&client, &format!("{base}/api/v1/health"), concurrency, secs).await;
        row("zhudai GET /api/v1/health", &h, &b);
        let m = load(&client, &format!("{base}/api/v1/me"), concurrency, secs).await;
        row("zhudai GET /api/v1/me (redb read)", &m, &b);

        // Customer detail by API token, random ids, against bare axum + redb in the same run.
        let bare_urls: Vec<String> = ids.iter().map(|id| format!("{bare_db_base}/items/{id}")).collect();
        let detail_urls: Vec<String> = ids.iter().map(|id| format!("{base}/api/v1/customers/{id}")).collect();
        let bd = load_many(&client, &bare_urls, None, concurrency, secs).await;
        row("bare axum + redb GET /items/{id}", &bd, &bd);
        let d = load_many(&client, &detail_urls, Some(&token), concurrency, secs).await;
        row("zhudai GET /customers/{id} (token)", &d, &bd);
        println!(
            "ratios: /health {:.2} of bare axum (target ≥ 0.70); customer detail {:.2} of bare axum + redb (target ≥ 0.50); {customers} customers",
            h.rps / b.rps,
            d.rps / bd.rps
        );

        // Password hashing cost (argon2id m=19 MiB, t=2, p=1): what each login costs.
        let started = Instant::now();
        for _ in 0..20 {
            zhudai::service::access::password::hash("bench-password-1").unwrap();
        }
        println!("argon2id hash (m=19MiB,t=2,p=1): {:.1} ms each", started.elapsed().as_secs_f64() * 1000.0 / 20.0);
    });
}

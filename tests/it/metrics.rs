//! `GET /metrics`: off by default, behind the configured bearer token on the main listener,
//! alone on `[metrics] listen`; the output parses as the Prometheus text format and its
//! counters move with requests, labelled by route pattern (never an id).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use zhudai::config::Config;

use crate::common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};

const TOKEN: &str = "metrics-token-0123456789abcdef";

/// One sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of the text exposition format: every line is empty, a comment, or
/// `name{labels} value`; a family's HELP and TYPE come before its samples, at most once; a
/// sample belongs to a declared family (histograms: `_bucket`, `_sum`, `_count`).
fn parse(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut seen_samples: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts
                .next()
                .unwrap_or_else(|| panic!("bare comment: {line}"));
            let tail = parts
                .next()
                .unwrap_or_else(|| panic!("empty {kind}: {line}"));
            assert!(valid_name(name), "metric name {name:?}");
            assert!(
                !seen_samples.contains(name),
                "{kind} for {name} after its samples"
            );
            match kind {
                "HELP" => assert!(helped.insert(name.to_string()), "HELP twice: {name}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail),
                        "type {tail}"
                    );
                    assert!(
                        typed.insert(name.to_string(), tail.into()).is_none(),
                        "TYPE twice: {name}"
                    );
                }
                other => panic!("unknown comment kind {other}: {line}"),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "comment without a space: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value {v:?} in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                (name.to_string(), parse_labels(body, line))
            }
        };
        assert!(valid_name(&name), "metric name {name:?}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|base| typed.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(&name)
            .to_string();
        assert!(
            typed.contains_key(&family) && helped.contains(&family),
            "sample {name} without HELP and TYPE before it"
        );
        seen_samples.insert(family);
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\": {line}"));
        assert!(valid_name(key), "label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "label twice: {line}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn with_token() -> Config {
    let mut c = Config::defaults().unwrap();
    c.metrics.token = TOKEN.into();
    c
}

async fn scrape(s: &TestServer, token: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(s.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn metrics_parse_and_counters_move_by_route_pattern() {
    let s = TestServer::start_with_config(Fixture::WithAdmin, with_token()).await;
    let (status, text) = scrape(&s, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let before = parse(&text);
    let customers_get = [
        ("route", "/api/v1/customers/{id}"),
        ("method", "GET"),
        ("status", "4xx"),
    ];
    let n0 = value(&before, "zhudai_http_requests_total", &customers_get).unwrap_or(0.0);

    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    for id in ["01JAAAAAAAAAAAAAAAAAAAAAA1", "01JAAAAAAAAAAAAAAAAAAAAAA2"] {
        let (st, _) = c.get(&format!("/api/v1/customers/{id}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, _) = c.get("/api/v1/health").await;
    assert_eq!(st, StatusCode::OK);

    let (status, text) = scrape(&s, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let after = parse(&text);
    assert_eq!(
        value(&after, "zhudai_http_requests_total", &customers_get),
        Some(n0 + 2.0),
        "{text}"
    );
    assert!(
        value(
            &after,
            "zhudai_http_request_duration_seconds_count",
            &[("route", "/api/v1/customers/{id}"), ("method", "GET")]
        )
        .is_some_and(|n| n >= 2.0)
    );
    assert!(
        value(
            &after,
            "zhudai_http_requests_total",
            &[
                ("route", "/api/v1/auth/login"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        )
        .is_some_and(|n| n >= 1.0)
    );
    // Ids never become labels.
    assert!(!text.contains("01JAAAAAAAAAAAAAAAAAAAAAA1"), "{text}");
    // The gauges of the data directory and the process.
    for name in [
        "zhudai_build_info",
        "zhudai_backup_enabled",
        "zhudai_search_outbox_seq",
        "zhudai_store_file_bytes",
        "zhudai_index_dir_bytes",
        "zhudai_search_slots",
    ] {
        assert!(
            value(&after, name, &[]).is_some(),
            "{name} missing:\n{text}"
        );
    }
    assert_eq!(value(&after, "zhudai_sessions_active", &[]), Some(1.0));
    // Nothing searches while the metrics are read.
    assert_eq!(value(&after, "zhudai_search_running", &[]), Some(0.0));
    assert_eq!(value(&after, "zhudai_search_waiting", &[]), Some(0.0));
    assert!(value(&after, "zhudai_store_file_bytes", &[]).unwrap() > 0.0);
    assert_eq!(
        value(&after, "zhudai_metrics_collect_errors", &[]),
        Some(0.0)
    );
    // No backup yet: no age (absent, not zero).
    assert_eq!(value(&after, "zhudai_backup_age_seconds", &[]), None);
}

#[tokio::test]
async fn metrics_need_the_token_and_are_off_by_default() {
    let s = TestServer::start_with_config(Fixture::WithAdmin, with_token()).await;
    let (status, _) = scrape(&s, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = scrape(&s, Some("metrics-token-0123456789abcdeX")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A logged-in administrator's session is not the metrics token.
    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    let resp = c.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    drop(s);

    // Not configured: the main listener has no metrics at all (the UI shell answers instead).
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (status, text) = scrape(&s, Some(TOKEN)).await;
    assert!(
        !text.contains("zhudai_http_requests_total"),
        "{status}: {text}"
    );
}

#[tokio::test]
async fn metrics_on_their_own_listener_need_no_token() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(zhudai::http::serve_metrics(
        listener,
        std::sync::Arc::clone(&s.app),
        async {
            let _ = stopped.await;
        },
    ));
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse(&resp.text().await.unwrap());
    assert!(value(&samples, "zhudai_build_info", &[]).is_some());
    // Only metrics there: the API is not served on the metrics address.
    let resp = reqwest::get(format!("http://{addr}/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[test]
fn the_parser_rejects_what_prometheus_would() {
    for bad in [
        "x 1\n",                                             // no HELP/TYPE
        "# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n",          // unterminated label
        "# HELP x h\n# TYPE x gauge\nx one\n",               // not a number
        "# HELP x h\n# TYPE x gauge\nx 1\n# TYPE x gauge\n", // TYPE after samples
    ] {
        assert!(
            std::panic::catch_unwind(|| parse(bad)).is_err(),
            "accepted: {bad:?}"
        );
    }
}

fn run(ok: bool, finished: chrono::DateTime<chrono::Utc>) -> zhudai::jobs::backup::RunRecord {
    zhudai::jobs::backup::RunRecord {
        trigger: zhudai::jobs::backup::Trigger::Scheduled,
        requested_by: None,
        started_at: finished - chrono::Duration::seconds(3),
        finished_at: finished,
        duration_ms: 3000,
        ok,
        file: ok.then(|| "/backups/zhudai-20261119-023000.age".into()),
        size_bytes: ok.then_some(1234),
        error: (!ok).then(|| "disk full".into()),
        post_command_error: None,
        deleted: Vec::new(),
    }
}

/// Backup age and last result come from `backup-status.json`, measured with the app's clock;
/// a status file that cannot be read is counted as a collection error, not shown as "no backup".
#[tokio::test]
async fn backup_gauges_follow_the_status_file() {
    let s = TestServer::start_with_config(Fixture::WithAdmin, with_token()).await;
    let now = s.app.now();
    let good = run(true, now - chrono::Duration::hours(26));
    let status = zhudai::jobs::backup_status::StatusFile {
        last: Some(run(false, now - chrono::Duration::hours(2))),
        last_success: Some(good.clone()),
        last_scheduled: None,
        last_cli: None,
        last_slot: None,
    };
    zhudai::jobs::backup_status::save_status(s.dir.path(), &status).unwrap();
    let (_, text) = scrape(&s, Some(TOKEN)).await;
    let m = parse(&text);
    assert_eq!(
        value(&m, "zhudai_backup_last_run_ok", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&m, "zhudai_backup_age_seconds", &[]),
        Some(26.0 * 3600.0)
    );
    assert_eq!(
        value(&m, "zhudai_backup_last_success_timestamp_seconds", &[]),
        Some(good.finished_at.timestamp() as f64)
    );
    assert_eq!(value(&m, "zhudai_metrics_collect_errors", &[]), Some(0.0));

    std::fs::write(s.dir.path().join("backup-status.json"), b"{not json").unwrap();
    let (status, text) = scrape(&s, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let m = parse(&text);
    assert_eq!(
        value(&m, "zhudai_metrics_collect_errors", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&m, "zhudai_backup_age_seconds", &[]), None);
}

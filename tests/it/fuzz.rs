//! Issue 14.8: property-based fuzzing (proptest; cargo-fuzz needs a nightly compiler) of the
//! CSV and XLSX importers, the search query parser and every query-string parser. Each target
//! first replays its committed regression inputs (what broke before), then a bounded number of
//! generated cases so the debug `cargo test` stays quick (a few seconds each). For a longer
//! run set `PROPTEST_CASES` (CI runs 5000; locally 10,000 cases took 15–60 s per target).
//!
//! The properties: nothing panics, nothing answers 500, a bad input is a refusal naming a
//! field, and the server keeps answering.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use zhudai::service::import::source;

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Reads a file as an import does; any outcome but a panic is fine, and a refusal names `file`
/// or a row problem.
fn read_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, bytes).unwrap();
    let mut widest = 0;
    let outcome = source::sniff(&p).and_then(|enc| {
        let mut rows = 0usize;
        source::each_row(&p, enc, &mut |_, cells| {
            rows += 1;
            widest = widest.max(cells.len());
            Ok(rows < 10_000)
        })
    });
    if let Err(e) = outcome {
        let text = format!("{e:?}");
        prop_assert!(!text.contains("Internal"), "only refusals: {text}");
    }
    prop_assert!(widest <= 1 << 16, "a row of {widest} cells");
    Ok(())
}

/// Inputs that broke (or nearly broke) a reader before: kept as the committed corpus.
const CSV_REGRESSIONS: &[&[u8]] = &[
    b"",
    b"\xef\xbb\xbf",
    b"\"unterminated",
    b"a,b\n\"x\"\"y\",\xff\xfe\n",
    b"\xd5\xc5\xc8\xfd,\xca\xd6\xbb\xfa\n\xcd\xf5\xce\xe5,13800138000\n",
    b"PK",
    b"PK\x03\x04\x00\x00",
];

#[test]
fn the_csv_importer_reads_anything_without_panicking() {
    for r in CSV_REGRESSIONS {
        read_all(r).unwrap();
    }
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        "[a-z0-9,\"\\n\\r 张三丰手机号码\u{feff}\u{0}]{0,300}".prop_map(String::into_bytes),
    ];
    runner(256).run(&bytes, |b| read_all(&b)).unwrap();
}

#[test]
fn the_xlsx_importer_reads_damaged_workbooks_without_panicking() {
    let good = crate::xlsx_bombs::harmless();
    read_all(&good).unwrap();
    read_all(&good[..good.len() / 2]).unwrap();
    let edits = proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8);
    runner(128)
        .run(&(edits, any::<prop::sample::Index>()), |(edits, cut)| {
            let mut b = good.clone();
            for (at, v) in edits {
                let i = at.index(b.len());
                b[i] = v;
            }
            let keep = cut.index(b.len()).max(b.len() / 2);
            b.truncate(keep.max(4));
            read_all(&b)
        })
        .unwrap();
}

/// Committed queries that broke the search: a cursor that sized an allocation, and words.
const QUERY_REGRESSIONS: &[(&str, &str)] = &[
    ("a", "4294967296"),
    ("a", "2147483648"),
    ("a", "9223372036854775807"),
    ("a", "1000000000000000000"),
    ("+86 13812345678", ""),
    ("138 1234 5678", ""),
    ("\u{0}\u{202E}", ""),
    ("\"", ""),
    ("*:* OR 1", ""),
    ("ｚｈａｎｇ", ""),
];

#[test]
fn the_search_query_parser_refuses_or_answers_never_panics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(TestServer::start(Fixture::WithAdmin));
    let caller = s.app.access().caller_for(ADMIN).unwrap();
    let check = |q: &str, cursor: &str, limit: Option<usize>| -> Result<(), TestCaseError> {
        let query = zhudai::service::search::SearchQuery {
            q: Some(q.to_string()),
            cursor: Some(cursor.to_string()),
            limit,
            facets: Some(false),
            ..Default::default()
        };
        match s.app.lookup().search_customers(&caller, &query) {
            Ok(page) => prop_assert!(page.items.len() <= 100),
            Err(zhudai::service::Error::Validation { field, .. }) => {
                prop_assert!(["q", "cursor"].contains(&field.as_str()), "{field}")
            }
            Err(e) => prop_assert!(false, "{q:?} {cursor:?}: {e:?}"),
        }
        Ok(())
    };
    for (q, cursor) in QUERY_REGRESSIONS {
        check(q, cursor, None).unwrap();
    }
    let strategy = (
        prop_oneof![any::<String>(), "[a-z0-9 +\\-()张三成都xX]{0,40}"],
        prop_oneof![Just(String::new()), "[0-9]{1,25}", any::<String>()],
        proptest::option::of(any::<usize>()),
    );
    runner(256)
        .run(&strategy, |(q, cursor, limit)| check(&q, &cursor, limit))
        .unwrap();
    drop(s);
}

/// Every GET route without an object in its path, with generated query strings (known keys
/// with hostile values, and noise): never a 500, never a dropped connection.
const QUERY_ROUTES: &[&str] = &[
    "/api/v1/search",
    "/api/v1/customers",
    "/api/v1/customers/recycle-bin",
    "/api/v1/audit",
    "/api/v1/imports",
    "/api/v1/tokens",
    "/api/v1/reminders",
    "/api/v1/exports/customers",
    "/api/v1/pools",
    "/api/v1/users",
    "/api/v1/users/directory",
];
const KEYS: &[&str] = &[
    "q", "cursor", "limit", "stage", "grade", "tag", "owner", "channel", "sort", "due", "format",
    "full", "action", "actor", "all", "facets", "dry_run", "as_of", "pool", "city", "order",
];
const STRING_REGRESSIONS: &[&str] = &[
    "q=a&cursor=4294967296",
    "q=a&cursor=9223372036854775807",
    "limit=18446744073709551616",
    "limit=-1",
    "cursor=-1",
    "limit=99999999999999999999999",
    "due=",
    "format=xlsx&full=yes",
    "%",
    "a=%ZZ",
    "q=%00%1b%5b31m",
];

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn every_query_string_parser_refuses_or_answers_never_500() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(TestServer::start(Fixture::WithAdmin));
    let admin = rt.block_on(s.login(ADMIN, ADMIN_PASSWORD));
    let check = |route: &str, qs: &str| -> Result<(), TestCaseError> {
        let url = format!("{}{route}?{qs}", admin.base);
        let status = rt
            .block_on(admin.http.get(&url).send())
            .map_err(|e| TestCaseError::fail(format!("{route}?{qs}: connection: {e}")))?
            .status()
            .as_u16();
        prop_assert!(status < 500, "{route}?{qs}: {status}");
        Ok(())
    };
    for route in QUERY_ROUTES {
        for qs in STRING_REGRESSIONS {
            check(route, qs).unwrap();
        }
    }
    let value = prop_oneof![
        "[0-9]{1,30}",
        "-?[0-9]{1,20}",
        any::<String>(),
        Just("true".to_string()),
        Just("2026-12-05T00:00:00Z".to_string()),
    ];
    let pairs = proptest::collection::vec((prop::sample::select(KEYS), value), 0..5);
    let strategy = (
        prop::sample::select(QUERY_ROUTES),
        pairs,
        "[&=%a-z0-9]{0,12}",
    );
    runner(256)
        .run(&strategy, |(route, pairs, noise)| {
            let mut qs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            qs.push(noise);
            check(route, &qs.join("&"))
        })
        .unwrap();
    // Still serving.
    let (st, _) = rt.block_on(admin.get("/api/v1/me"));
    assert_eq!(st, 200);
}

//! Issue 13.5: the recycle bin is a page (`?limit=&cursor=` → `{items, next_cursor, total}`),
//! newest deletion first, read from its keys from the cursor on; `total` is a counter kept
//! with every customer write, not a count of the records.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::service::Clock;

const BIN: &str = "/api/v1/customers/recycle-bin";

async fn create(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn delete(c: &Client, id: &str) {
    let (st, v) = c
        .call(Method::DELETE, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(st, 204, "{v}");
}

/// `n` customers created by the admin, deleted one minute apart (oldest deletion first), then
/// `bulk` more deleted together by one bulk action (same instant, the newest). Returns the
/// bin's expected order: newest deletion first, ties by id, highest first.
async fn fill(s: &TestServer, admin: &Client, n: usize, bulk: usize) -> Vec<String> {
    let mut deleted = Vec::new();
    for i in 0..n {
        let id = create(admin, &format!("客户{i}"), &format!("139{:08}", 1000 + i)).await;
        delete(admin, &id).await;
        deleted.push(id);
        s.clock.advance(chrono::Duration::minutes(1));
    }
    let mut together = Vec::new();
    for i in 0..bulk {
        together.push(create(admin, &format!("批量{i}"), &format!("137{:08}", 1000 + i)).await);
    }
    if bulk > 0 {
        let (st, v) = admin
            .post(
                "/api/v1/customers/bulk",
                json!({"ids": together, "action": "delete"}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    together.sort();
    let mut order: Vec<String> = together.into_iter().rev().collect();
    order.extend(deleted.into_iter().rev());
    order
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// One page; asserts a 200.
async fn page(c: &Client, limit: usize, cursor: Option<&str>) -> Value {
    let mut path = format!("{BIN}?limit={limit}");
    if let Some(cur) = cursor {
        path.push_str(&format!("&cursor={}", urlencode(cur)));
    }
    let (st, v) = c.get(&path).await;
    assert_eq!(st, 200, "{path}: {v}");
    v
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every page from the first, `limit` at a time: the ids in order, and each page's total.
async fn walk(c: &Client, limit: usize) -> (Vec<String>, Vec<u64>) {
    let (mut seen, mut totals) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let p = page(c, limit, cursor.as_deref()).await;
        let got = ids(&p);
        assert!(got.len() <= limit, "{p}");
        seen.extend(got);
        totals.push(p["total"].as_u64().unwrap());
        match p["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (seen, totals),
        }
        assert!(seen.len() < 1000, "the walk does not end");
    }
}

/// What the store holds: the counter, the bin's keys and the doctor's recount.
fn store_bin(s: &TestServer) -> (u64, usize, Vec<String>) {
    s.app
        .store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>((
                zhudai::store::loads::bin_size(tx)?,
                zhudai::store::customers::Reader::unscoped(
                    tx,
                    zhudai::store::customers::Unscoped::Maintenance,
                )
                .in_bin(None)?
                .len(),
                zhudai::store::loads::drift(tx)?,
            ))
        })
        .unwrap()
}

#[tokio::test]
async fn pages_walk_the_whole_bin_once_newest_first_at_every_page_size() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let expected = fill(&s, &admin, 9, 3).await;
    for limit in [1, 2, 7] {
        let (seen, totals) = walk(&admin, limit).await;
        assert_eq!(seen, expected, "limit {limit}");
        assert!(totals.iter().all(|t| *t == 12), "limit {limit}: {totals:?}");
        assert_eq!(totals.len(), 12usize.div_ceil(limit), "limit {limit}");
    }
    // The default page holds them all; the last page says so.
    let (st, p) = admin.get(BIN).await;
    assert_eq!(st, 200);
    assert_eq!(ids(&p), expected);
    assert_eq!(p["next_cursor"], Value::Null);
    assert_eq!(p["total"], 12);
    let r = &p["items"][0];
    assert!(
        r["deleted_at"].is_string() && r["purge_at"].is_string(),
        "{r}"
    );
    assert_eq!(r["customer"]["phone"].as_str().unwrap().len(), 11, "{r}");
    assert!(r["customer"]["phone"].as_str().unwrap().contains("****"));
}

#[tokio::test]
async fn a_restore_or_erasure_between_pages_moves_nothing_else() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let expected = fill(&s, &admin, 10, 0).await;
    let first = page(&admin, 3, None).await;
    assert_eq!(ids(&first), expected[..3]);
    // One not yet listed goes back to the customers, one already listed is erased.
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/restore", expected[4]),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/erase", expected[1]),
            json!({"request_ref": "PI-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let mut seen = ids(&first);
    let mut cursor = first["next_cursor"].as_str().map(String::from);
    while let Some(cur) = cursor {
        let p = page(&admin, 3, Some(&cur)).await;
        assert_eq!(p["total"], 8, "{p}");
        seen.extend(ids(&p));
        cursor = p["next_cursor"].as_str().map(String::from);
    }
    let rest: Vec<String> = expected
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(seen, rest, "each other entry exactly once, in order");

    // Purged between pages: the oldest ones leave, the walk goes on over the others.
    let expected: Vec<String> = rest.into_iter().filter(|id| id != &expected[1]).collect();
    let first = page(&admin, 2, None).await;
    assert_eq!(ids(&first), expected[..2]);
    // Deletion i happened at epoch + i minutes: 30 days and 2.5 minutes after the epoch the
    // three oldest (0, 1, 2) are past `customers.recycle_days` (30), the others are not.
    let oldest = 3;
    let purge_at = common::epoch() + chrono::Duration::days(30) + chrono::Duration::seconds(150);
    s.clock.advance(purge_at - s.clock.now());
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut seen = ids(&first);
    let mut cursor = first["next_cursor"].as_str().map(String::from);
    while let Some(cur) = cursor {
        let p = page(&admin, 2, Some(&cur)).await;
        assert_eq!(
            p["total"].as_u64().unwrap() as usize,
            expected.len() - oldest
        );
        seen.extend(ids(&p));
        cursor = p["next_cursor"].as_str().map(String::from);
    }
    assert_eq!(seen, expected[..expected.len() - oldest]);
}

#[tokio::test]
async fn limit_and_cursor_are_checked() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let expected = fill(&s, &admin, 3, 0).await;
    for bad in ["0", "201", "-1", "abc", "1.5", "18446744073709551616"] {
        let (st, e) = admin.get(&format!("{BIN}?limit={bad}")).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("limit")),
            "limit={bad}: {e}"
        );
        assert!(
            e["error"]["message"].as_str().unwrap().contains("每页"),
            "{e}"
        );
    }
    for ok in ["1", "200", ""] {
        let (st, e) = admin.get(&format!("{BIN}?limit={ok}")).await;
        assert_eq!(st, 200, "limit={ok}: {e}");
    }
    for bad in [
        "x",
        "b:",
        "b:123/01JABC",
        "b:0000000000000000000a/01JABC",
        "b:00000000000000000001/",
        "b:00000000000000000001/../x",
        "o:-/01JABC",
    ] {
        let (st, e) = admin.get(&format!("{BIN}?cursor={}", urlencode(bad))).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("cursor")),
            "cursor={bad}: {e}"
        );
        assert!(
            e["error"]["message"].as_str().unwrap().contains("分页"),
            "{e}"
        );
    }
    // A well-formed cursor of an entry that is gone still pages from where it was.
    let last = page(&admin, 1, None).await;
    let cursor = last["next_cursor"].as_str().unwrap().to_string();
    let (st, _) = admin
        .post(
            &format!("/api/v1/customers/{}/restore", expected[0]),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = admin
        .post(
            &format!("/api/v1/customers/{}/restore", expected[1]),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    let p = page(&admin, 5, Some(&cursor)).await;
    assert_eq!(ids(&p), expected[2..]);
    // Not an administrator: refused before the parameters are read.
    common::add_user(&s, "mgr", &["manager"], None);
    let mgr = s.login("mgr", common::TEAM_PASSWORD).await;
    let (st, _) = mgr.get(&format!("{BIN}?limit=0")).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn total_is_the_bins_size_after_delete_restore_erase_and_purge() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let total = |p: &Value| p["total"].as_u64().unwrap();
    let check = |want: u64| {
        let (counter, keys, drift) = store_bin(&s);
        assert_eq!((counter, keys as u64), (want, want), "counter and keys");
        assert!(drift.is_empty(), "{drift:?}");
    };
    check(0);
    let a = create(&admin, "甲", "13600000001").await;
    let b = create(&admin, "乙", "13600000002").await;
    let c = create(&admin, "丙", "13600000003").await;
    let live = create(&admin, "丁", "13600000004").await;
    for id in [&a, &b] {
        delete(&admin, id).await;
    }
    assert_eq!(total(&page(&admin, 1, None).await), 2);
    check(2);
    let (st, _) = admin
        .post(
            "/api/v1/customers/bulk",
            json!({"ids": [c], "action": "delete"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(total(&page(&admin, 1, None).await), 3);
    check(3);
    // Restored, it leaves.
    let (st, _) = admin
        .post(&format!("/api/v1/customers/{a}/restore"), json!({}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(total(&page(&admin, 1, None).await), 2);
    check(2);
    // Erased from the bin: gone from it; a live customer erased never enters it.
    for id in [&b, &live] {
        let (st, v) = admin
            .post(
                &format!("/api/v1/customers/{id}/erase"),
                json!({"request_ref": "PI-2"}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    assert_eq!(total(&page(&admin, 1, None).await), 1);
    check(1);
    // Deleted again after a restore: back in.
    delete(&admin, &a).await;
    assert_eq!(total(&page(&admin, 1, None).await), 2);
    check(2);
    // Past customers.recycle_days: purged when the bin is listed.
    s.clock.advance(chrono::Duration::days(31));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = page(&admin, 1, None).await;
    assert_eq!((total(&p), ids(&p).len()), (0, 0), "{p}");
    check(0);
}

#[tokio::test]
async fn a_department_scope_sees_and_counts_only_its_part_of_the_bin() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "bin_keeper", "name": "回收站管理", "capabilities": ["customer.read", "customer.delete", "settings.manage"], "scope": "department", "field_privileges": [], "daily_reveal_quota": 0}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let one = common::add_department(&s, "一部", None);
    let two = common::add_department(&s, "二部", None);
    common::add_user(&s, "keeper", &["bin_keeper"], Some(&one));
    common::add_user(&s, "sales1", &["sales"], Some(&one));
    common::add_user(&s, "sales2", &["sales"], Some(&two));
    let sales1 = s.login("sales1", common::TEAM_PASSWORD).await;
    let sales2 = s.login("sales2", common::TEAM_PASSWORD).await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let id = create(&sales1, &format!("一部客户{i}"), &format!("135{:08}", i)).await;
        let other = create(&sales2, &format!("二部客户{i}"), &format!("134{:08}", i)).await;
        delete(&admin, &other).await;
        delete(&admin, &id).await;
        mine.push(id);
        s.clock.advance(chrono::Duration::minutes(1));
    }
    mine.reverse();
    let keeper = s.login("keeper", common::TEAM_PASSWORD).await;
    let (seen, totals) = walk(&keeper, 2).await;
    assert_eq!(seen, mine, "only department 一部's, newest first");
    assert!(totals.iter().all(|t| *t == 5), "{totals:?}");
    let (all, totals) = walk(&admin, 4).await;
    assert_eq!(all.len(), 10);
    assert!(totals.iter().all(|t| *t == 10), "{totals:?}");
}

#[tokio::test]
async fn the_upgrade_to_schema_13_counts_the_bin_from_its_keys() {
    use redb::TableDefinition;
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    fill(&s, &admin, 2, 2).await;
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");
    // Back to schema 12: no counter.
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut c = tx.open_table(COUNTERS).unwrap();
            assert_eq!(
                c.remove("customers/recycle_bin").unwrap().unwrap().value(),
                4
            );
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", 12)
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = common::open_keyed(data.path(), &path);
    assert_eq!(
        zhudai::store::migrate::stored_version(&store).unwrap(),
        Some(zhudai::store::migrate::SCHEMA_VERSION)
    );
    let (size, drift) = store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>((
                zhudai::store::loads::bin_size(tx)?,
                zhudai::store::loads::drift(tx)?,
            ))
        })
        .unwrap();
    assert_eq!(size, 4);
    assert!(drift.is_empty(), "{drift:?}");
}

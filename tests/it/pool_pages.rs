//! Issue 13.5: a pool's unfiltered page is read from its keys (`q:<pool>/<id>`, kept by every
//! customer write), in id order, only the page's keys and records; the total is the pool's
//! waiting counter. `doctor`'s counter check holds the keys to the counters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn pool(admin: &Client, name: &str, department: Option<&str>) -> String {
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": name, "department_id": department, "settings": {"reclaim_cooldown_days": 0}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_string()
}

/// `n` customers released by the admin into `pool`; their ids in id order.
async fn waiting(admin: &Client, pool: &str, n: usize, phone_base: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("等待{i}"), "phone": format!("136{:08}", phone_base + i)}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        let (st, v) = admin
            .post(
                &format!("/api/v1/customers/{id}/release"),
                json!({"reason": "暂无需求", "pool_id": pool}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        ids.push(id);
    }
    ids.sort();
    ids
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

async fn walk(c: &Client, pool: &str, limit: usize) -> (Vec<String>, Vec<u64>) {
    let (mut all, mut totals, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(cur) => format!("/api/v1/pools/{pool}/customers?limit={limit}&cursor={cur}"),
            None => format!("/api/v1/pools/{pool}/customers?limit={limit}"),
        };
        let (st, page) = c.get(&path).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        let got = ids(&page);
        assert!(got.len() <= limit);
        all.extend(got);
        totals.push(page["total"].as_u64().unwrap());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (all, totals),
        }
    }
}

#[tokio::test]
async fn a_pool_page_walks_its_customers_once_in_id_order_and_follows_every_change() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let dept = s
        .app
        .org()
        .create_department(
            &zhudai::service::org::users::Actor::Operator,
            zhudai::service::org::DepartmentInput {
                name: "二部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let a = pool(&admin, "一号公海", None).await;
    let b = pool(&admin, "二号公海", Some(&dept)).await;
    let mut in_a = waiting(&admin, &a, 9, 1000).await;
    let in_b = waiting(&admin, &b, 4, 2000).await;
    for limit in [1, 2, 7, 50] {
        let (got, totals) = walk(&admin, &a, limit).await;
        assert_eq!(got, in_a, "page size {limit}");
        assert!(totals.iter().all(|t| *t == 9), "{totals:?}");
    }
    assert_eq!(walk(&admin, &b, 3).await.0, in_b);

    // Claimed, deleted, restored, moved to another pool: the pages follow.
    let claimed = in_a.remove(0);
    let (st, v) = admin
        .post(&format!("/api/v1/customers/{claimed}/claim"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let deleted = in_a.remove(3);
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{deleted}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (got, totals) = walk(&admin, &a, 2).await;
    assert_eq!(got, in_a);
    assert!(totals.iter().all(|t| *t == 7), "{totals:?}");
    let (st, v) = admin
        .post(&format!("/api/v1/customers/{deleted}/restore"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    in_a.push(deleted);
    in_a.sort();
    assert_eq!(walk(&admin, &a, 4).await.0, in_a, "restored: waiting again");
    // Released by its claimer into the other pool.
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{claimed}/release"),
            json!({"reason": "转二号", "pool_id": b}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut expect_b = in_b.clone();
    expect_b.push(claimed);
    expect_b.sort();
    assert_eq!(walk(&admin, &b, 2).await.0, expect_b);
    assert_eq!(walk(&admin, &a, 2).await.0, in_a);

    let (st, e) = admin
        .get(&format!("/api/v1/pools/{a}/customers?cursor=not-a-cursor"))
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cursor")),
        "{e}"
    );
    let drift = s.app.store.read(zhudai::store::loads::drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    s.stop().await;
}

#[tokio::test]
async fn doctor_names_missing_page_keys_and_the_upgrade_to_schema_15_adds_them() {
    use redb::{ReadableTable, TableDefinition};
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    // The customer keys are bytes since schema 35 (`store::key_codec`): `q`, the pool as a
    // part, the id (a ULID: its last 16 bytes).
    const KEYS: TableDefinition<&[u8], ()> = TableDefinition::new("customer_keys_bin");
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = pool(&admin, "一号公海", None).await;
    let in_a = waiting(&admin, &a, 5, 3000).await;
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");
    // Keeps the first `keep` page keys (of how many there were) and, when given, sets the
    // schema version.
    let strip = |keep: usize, version: Option<u64>| -> usize {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        let had;
        {
            let mut keys = tx.open_table(KEYS).unwrap();
            let page: Vec<Vec<u8>> = keys
                .range::<&[u8]>(&b"q"[..]..&b"r"[..])
                .unwrap()
                .map(|r| r.unwrap().0.value().to_vec())
                .collect();
            had = page.len();
            for k in page.iter().skip(keep) {
                keys.remove(k.as_slice()).unwrap();
            }
            if let Some(v) = version {
                tx.open_table(META)
                    .unwrap()
                    .insert("schema_version", v)
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        had
    };
    // Positive control: two keys lost, the check names the pool.
    assert_eq!(strip(3, None), 5);
    let store = common::open_keyed(data.path(), &path);
    let drift = store.read(zhudai::store::loads::drift).unwrap();
    assert_eq!(
        drift,
        [format!("pool {a} page keys: 3 ≠ 5 waiting")],
        "{drift:?}"
    );
    drop(store);
    // Back to schema 14 without any page key: the upgrade adds them all.
    assert_eq!(strip(0, Some(14)), 3);
    let store = common::open_keyed(data.path(), &path);
    assert!(store.read(zhudai::store::loads::drift).unwrap().is_empty());
    let listed = store
        .read(|tx| {
            let keys = tx.open_table(KEYS)?;
            let mut out = Vec::new();
            for row in keys.range::<&[u8]>(&b"q"[..]..&b"r"[..])? {
                let key = row?.0.value().to_vec();
                let id: [u8; 16] = key[key.len() - 16..].try_into().unwrap();
                out.push(ulid::Ulid::from_bytes(id).to_string());
            }
            Ok::<_, zhudai::store::Error>(out)
        })
        .unwrap();
    assert_eq!(listed, in_a);
}

/// Issue 17.9: a waiting customer carries why it is in the pool (the release reason here), shown
/// on the pool page; taken out of the pool, the reason is gone.
#[tokio::test]
async fn a_waiting_customer_says_why_it_is_in_the_pool() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = pool(&admin, "一号公海", None).await;
    let ids = waiting(&admin, &a, 1, 4000).await;
    let (_, page) = admin.get(&format!("/api/v1/pools/{a}/customers")).await;
    assert_eq!(page["items"][0]["pool_reason"], "暂无需求", "{page}");
    let (st, c) = admin
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert!(c["pool_reason"].is_null(), "claimed: no pool reason: {c}");
    s.stop().await;
}

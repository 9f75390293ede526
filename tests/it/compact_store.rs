//! Issue 18.2: customer records in the compact format 2. A store written before schema 32
//! (JSON records) is rewritten in batches; an upgrade interrupted after a batch resumes after
//! its cursor, every record reads back exactly as before, and `zhudai doctor` is clean.

use redb::{ReadableDatabase, ReadableTable};
use serde_json::{Value, json};
use zhudai::domain::customer::Customer;
use zhudai::store::{
    codec, customer_codec, customers, event_codec, funnel_since, migrate, rule_fields, tables, v36,
};

use crate::common::{self, ADMIN, ADMIN_PASSWORD, Fixture, TestServer};

fn records(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    byte_rows(path, tables::CUSTOMERS)
}

/// Every row of a `&str → &[u8]` table, in key order.
fn byte_rows(
    path: &std::path::Path,
    table: redb::TableDefinition<&'static str, &'static [u8]>,
) -> Vec<(String, Vec<u8>)> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(table).unwrap();
    t.iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_string(), v.value().to_vec())
        })
        .collect()
}

/// Every key of a binary key table (schema 35: no values), in key order, each with an empty
/// value; none when the table does not exist.
fn table_rows(
    path: &std::path::Path,
    table: redb::TableDefinition<&'static [u8], ()>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let t = match tx.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Vec::new(),
        Err(e) => panic!("{e}"),
    };
    t.iter()
        .unwrap()
        .map(|r| (r.unwrap().0.value().to_vec(), Vec::new()))
        .collect()
}

/// The owned customers' rule views by last activity (`customer_activity`).
fn activity_rows(path: &std::path::Path) -> Vec<((i64, String), Vec<u8>)> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(tables::CUSTOMER_ACTIVITY).unwrap();
    t.iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            let (at, id) = k.value();
            ((at, id.to_string()), v.value().to_vec())
        })
        .collect()
}

/// Whether a table of that name is in the store.
fn has_table(path: &std::path::Path, name: &str) -> bool {
    use redb::TableHandle;
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    tx.list_tables().unwrap().any(|t| t.name() == name)
}

/// Every row of a binary table (schema 36: events, funnel stages), in key order; none when
/// the table does not exist.
fn bin_rows(
    path: &std::path::Path,
    table: redb::TableDefinition<&'static [u8], &'static [u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let t = match tx.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Vec::new(),
        Err(e) => panic!("{e}"),
    };
    t.iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_vec(), v.value().to_vec())
        })
        .collect()
}

/// What schemas up to 35 held instead of the binary tables of 36: the timeline events under
/// `<customer id>/<event id>` in format 2, the funnel's stages under `fs/<kind>/<id>`; the
/// binary tables dropped.
fn back_to_text_events_and_stages(tx: &redb::WriteTransaction) {
    use redb::ReadableTable;
    let read = |def: redb::TableDefinition<&'static [u8], &'static [u8]>| {
        let t = tx.open_table(def).unwrap();
        t.iter()
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect::<Vec<_>>()
    };
    let events = read(tables::CUSTOMER_EVENTS);
    let stages = read(tables::FUNNEL_SINCE);
    tx.delete_table(tables::CUSTOMER_EVENTS).unwrap();
    tx.delete_table(tables::FUNNEL_SINCE).unwrap();
    let mut t = tx.open_table(tables::CUSTOMER_EVENTS_V35).unwrap();
    for (k, v) in &events {
        let (customer, id) = event_codec::key_ids(k).unwrap();
        let e = event_codec::decode(k, v).unwrap();
        t.insert(
            format!("{customer}/{id}").as_str(),
            event_codec::encode_v2(&e).unwrap().as_slice(),
        )
        .unwrap();
    }
    let mut f = tx.open_table(tables::FUNNEL_SINCE_V35).unwrap();
    for (k, v) in &stages {
        let (key, stage, at) = funnel_since::since_row_v35(k, v).unwrap();
        f.insert(key.as_str(), (stage.as_str(), at)).unwrap();
    }
}

/// The text keys schemas 32 to 34 wrote for `c` (customer keys, lead-check keys).
fn v34_keys(c: &Customer) -> (Vec<String>, Vec<String>) {
    let short = |s: &str| s.get(..32).unwrap_or(s).to_string();
    let mut keys = vec![format!(
        "o:{}/{}",
        c.owner_id.as_deref().unwrap_or("-"),
        c.id
    )];
    let mut leads = Vec::new();
    for p in std::iter::once(&c.phone).chain(&c.extra_phones) {
        keys.push(format!("p:{}/{}", short(&p.bidx), c.id));
        leads.push(format!("{}/{}", short(&p.lead), c.id));
    }
    if let Some(i) = &c.id_number {
        keys.push(format!("i:{}/{}", short(&i.bidx), c.id));
    }
    if let Some(at) = c.deleted_at {
        keys.push(format!("b:{:020}/{}", at.timestamp_micros(), c.id));
    }
    keys.push(format!("n:{}/{}", c.name, c.id));
    if let (Some(pool), None, None) = (&c.pool_id, &c.owner_id, c.deleted_at) {
        keys.push(format!("q:{pool}/{}", c.id));
    }
    (keys, leads)
}

#[tokio::test]
async fn json_records_are_rewritten_compact_resuming_after_an_interruption() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for i in 0..7u32 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({
                    "name": format!("客户{i}"),
                    "phone": format!("1380013{i:04}"),
                    "extra_phones": [format!("1390013{i:04}")],
                    "id_number": if i == 2 { json!("11010519491231002X") } else { Value::Null },
                    "city": "深圳", "address": "南山区科技园", "tags": ["高意向"],
                    "notes": "第一行\n第二行",
                    "demand": {"amount_fen": 30_000_000 + i64::from(i), "term_months": 36},
                    "profile": {"occupation": "employee", "has_property": true},
                }),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let (st, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{}", ids[3]),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");

    // Written by this version: every record compact, and much smaller than its JSON.
    let now = records(&path);
    assert_eq!(now.len(), 7);
    let originals: Vec<Customer> = now
        .iter()
        .map(|(id, b)| customer_codec::decode(id, b).unwrap())
        .collect();
    for ((_, bytes), c) in now.iter().zip(&originals) {
        assert!(!customer_codec::is_legacy(bytes));
        let json = codec::encode(c).unwrap();
        assert!(
            bytes.len() * 2 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    let keys_now = table_rows(&path, tables::CUSTOMER_KEYS);
    let leads_now = table_rows(&path, tables::LEAD_CHECK);
    let events_now = bin_rows(&path, tables::CUSTOMER_EVENTS);
    let stages_now = bin_rows(&path, tables::FUNNEL_SINCE);
    assert!(!events_now.is_empty() && !stages_now.is_empty());
    assert!(
        keys_now.iter().all(|(k, v)| v.is_empty() && k.len() < 80),
        "{keys_now:?}"
    );
    assert_eq!(leads_now.len(), 14, "two phones each");

    // Back to what schema 31 wrote: JSON records, keys with the whole blind index and the id
    // as their value, lead-check keys with the whole lead index.
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            // Schema 31 had no binary key tables.
            tx.delete_table(tables::CUSTOMER_KEYS).unwrap();
            tx.delete_table(tables::LEAD_CHECK).unwrap();
            let mut t = tx.open_table(tables::CUSTOMERS).unwrap();
            let mut keys = tx.open_table(tables::CUSTOMER_KEYS_V34).unwrap();
            let mut leads = tx.open_table(tables::LEAD_CHECK_V34).unwrap();
            for c in &originals {
                t.insert(c.id.as_str(), codec::encode(c).unwrap().as_slice())
                    .unwrap();
                let mut old = vec![format!(
                    "o:{}/{}",
                    c.owner_id.as_deref().unwrap_or("-"),
                    c.id
                )];
                for p in std::iter::once(&c.phone).chain(&c.extra_phones) {
                    old.push(format!("p:{}/{}", p.bidx, c.id));
                    leads
                        .insert(format!("{}/{}", p.lead, c.id).as_str(), "")
                        .unwrap();
                }
                if let Some(i) = &c.id_number {
                    old.push(format!("i:{}/{}", i.bidx, c.id));
                }
                let (v34, _) = v34_keys(c);
                old.extend(
                    v34.into_iter()
                        .filter(|k| k.starts_with("n:") || k.starts_with("b:")),
                );
                for k in old {
                    keys.insert(k.as_str(), c.id.as_str()).unwrap();
                }
            }
        }
        back_to_text_events_and_stages(&tx);
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 31)
            .unwrap();
        tx.commit().unwrap();
    }
    assert_ne!(table_rows(&path, tables::CUSTOMER_KEYS), keys_now);
    let interrupted = data.path().join("interrupted.redb");
    std::fs::copy(&path, &interrupted).unwrap();

    // Straight through: records compact, keys in the short form, exactly as written today.
    let store = common::open_keyed(data.path(), &path);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    assert_eq!(table_rows(&path, tables::CUSTOMER_KEYS), keys_now);
    assert_eq!(table_rows(&path, tables::LEAD_CHECK), leads_now);
    assert_eq!(bin_rows(&path, tables::CUSTOMER_EVENTS), events_now);
    assert_eq!(bin_rows(&path, tables::FUNNEL_SINCE), stages_now);
    let decoded: Vec<Customer> = records(&path)
        .iter()
        .map(|(id, b)| {
            assert!(!customer_codec::is_legacy(b));
            customer_codec::decode(id, b).unwrap()
        })
        .collect();
    assert_eq!(decoded, originals, "every record reads back exactly");

    // Interrupted after the first batch of 2 (tables emptied, that batch written, the cursor
    // committed): the upgrade resumes after the cursor and ends in the same state.
    {
        let db = redb::Database::open(&interrupted).unwrap();
        let tx = db.begin_write().unwrap();
        for t in [tables::CUSTOMER_KEYS_V34, tables::LEAD_CHECK_V34] {
            tx.delete_table(t).unwrap();
            tx.open_table(t).unwrap();
        }
        let (last, n) = customers::compact_batch(&tx, None, 2).unwrap();
        assert_eq!(n, 2);
        tx.open_table(tables::SETTINGS)
            .unwrap()
            .insert("migration/32/after", last.unwrap().as_str())
            .unwrap();
        tx.commit().unwrap();
    }
    let legacy = records(&interrupted)
        .iter()
        .filter(|(_, b)| customer_codec::is_legacy(b))
        .count();
    assert_eq!(
        legacy, 5,
        "the first batch was compacted, the rest still JSON"
    );
    let store = common::open_keyed(data.path(), &interrupted);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    let cursor_left = store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>(
                tx.open_table(tables::SETTINGS)?
                    .get("migration/32/after")?
                    .is_some(),
            )
        })
        .unwrap();
    assert!(!cursor_left);
    drop(store);
    assert_eq!(table_rows(&interrupted, tables::CUSTOMER_KEYS), keys_now);
    assert_eq!(table_rows(&interrupted, tables::LEAD_CHECK), leads_now);
    assert_eq!(records(&interrupted), records(&path));

    // doctor: the rule view, keys, counters and audit chain all agree with the records.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", data.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("FAIL"), "{text}");

    // And the server serves them.
    let s = TestServer::start_in(
        data,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, c) = admin.get(&format!("/api/v1/customers/{}", ids[2])).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["name"], "客户2");
    assert_eq!(c["demand"]["amount_fen"], 30_000_002);
    s.stop().await;
}

/// The text events table of schemas 6 to 35.
fn text_events(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    byte_rows(path, tables::CUSTOMER_EVENTS_V35)
}

/// Schema 33: timeline events written as JSON before it are rewritten in format 2, straight
/// through and after an interruption, byte for byte what this version writes, and the
/// timeline reads the same.
#[tokio::test]
async fn json_events_are_rewritten_compact_resuming_after_an_interruption() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, sales) = admin
        .post(
            "/api/v1/users",
            json!({"username": "sales1", "display_name": "销售一", "password": "Passw0rd!long-enough", "roles": ["sales"]}),
        )
        .await;
    assert_eq!(st, 201, "{sales}");
    let mut ids = Vec::new();
    for i in 0..5u32 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("事件{i}"), "phone": format!("1370013{i:04}")}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        let (st, t) = admin
            .post(
                &format!("/api/v1/customers/{id}/transfer"),
                json!({"to_user": sales["id"]}),
            )
            .await;
        assert!(st.is_success(), "{t}");
        ids.push(id);
    }
    let (st, timeline) = admin
        .get(&format!("/api/v1/customers/{}/timeline", ids[1]))
        .await;
    assert_eq!(st, 200, "{timeline}");
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");

    let now = bin_rows(&path, tables::CUSTOMER_EVENTS);
    assert!(now.len() >= 5, "{}", now.len());
    let originals: Vec<_> = now
        .iter()
        .map(|(k, b)| {
            assert_eq!(b[0], 3, "written compact (format 3 since schema 36)");
            event_codec::decode(k, b).unwrap()
        })
        .collect();

    // Back to what schema 32 wrote: JSON events (format 1, with their ids) under text keys.
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        back_to_text_events_and_stages(&tx);
        {
            let mut t = tx.open_table(tables::CUSTOMER_EVENTS_V35).unwrap();
            for ((k, _), e) in now.iter().zip(&originals) {
                let (customer, id) = event_codec::key_ids(k).unwrap();
                t.insert(
                    format!("{customer}/{id}").as_str(),
                    codec::encode(e).unwrap().as_slice(),
                )
                .unwrap();
            }
        }
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 32)
            .unwrap();
        tx.commit().unwrap();
    }
    assert!(bin_rows(&path, tables::CUSTOMER_EVENTS).is_empty());
    assert!(text_events(&path).iter().all(|(_, b)| b[0] == 1));
    let interrupted = data.path().join("interrupted.redb");
    std::fs::copy(&path, &interrupted).unwrap();

    let store = common::open_keyed(data.path(), &path);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    assert_eq!(
        bin_rows(&path, tables::CUSTOMER_EVENTS),
        now,
        "rewritten exactly as written today"
    );
    assert!(
        !has_table(&path, "customer_events"),
        "the text table dropped"
    );

    // Interrupted after a first batch of 2 events, its cursor committed.
    {
        let db = redb::Database::open(&interrupted).unwrap();
        let tx = db.begin_write().unwrap();
        let (last, n) = event_codec::compact_batch(&tx, None, 2).unwrap();
        assert_eq!(n, 2);
        tx.open_table(tables::SETTINGS)
            .unwrap()
            .insert("migration/33/after", last.unwrap().as_str())
            .unwrap();
        tx.commit().unwrap();
    }
    let legacy = text_events(&interrupted)
        .iter()
        .filter(|(_, b)| b[0] == 1)
        .count();
    assert_eq!(
        legacy,
        now.len() - 2,
        "the first batch compact, the rest JSON"
    );
    let store = common::open_keyed(data.path(), &interrupted);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    assert_eq!(bin_rows(&interrupted, tables::CUSTOMER_EVENTS), now);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", data.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");

    let s = TestServer::start_in(
        data,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, again) = admin
        .get(&format!("/api/v1/customers/{}/timeline", ids[1]))
        .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again, timeline, "the timeline reads the same");
    s.stop().await;
}

/// Schema 35: a store with the text keys of schemas 32 to 34 gets its customer keys and
/// lead-check keys in the binary form, straight through and after an interruption, byte for
/// byte what this version writes (and the records in format 3, the rule views in format 2);
/// the text tables are gone, the recycle bin's counter is set from the new keys, `zhudai
/// doctor` is clean (and names a key removed by hand), and the readers of the keys answer as
/// before.
#[tokio::test]
async fn text_keys_are_rewritten_binary_resuming_after_an_interruption() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, pool) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "迁移公海", "settings": {"reclaim_cooldown_days": 0}}),
        )
        .await;
    assert_eq!(st, 201, "{pool}");
    let pool = pool["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..9u32 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({
                    "name": if i < 2 { "同名客户".to_string() } else { format!("键{i}") },
                    "phone": format!("1350013{i:04}"),
                    "extra_phones": if i % 3 == 0 { json!([format!("1360013{i:04}")]) } else { json!([]) },
                    "id_number": if i == 4 { json!("11010519491231002X") } else { Value::Null },
                }),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        if (5..8).contains(&i) {
            let (st, v) = admin
                .post(
                    &format!("/api/v1/customers/{id}/release"),
                    json!({"reason": "暂无需求", "pool_id": pool}),
                )
                .await;
            assert_eq!(st, 200, "{v}");
        }
        ids.push(id);
    }
    for id in [&ids[1], &ids[8]] {
        let (st, _) = admin
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/customers/{id}"),
                None,
            )
            .await;
        assert_eq!(st, 204);
    }
    // What the readers answer today: the pool page, the recycle bin, a duplicate probe.
    let pool_page = admin
        .get(&format!("/api/v1/pools/{pool}/customers?limit=2"))
        .await
        .1;
    let bin_page = admin.get("/api/v1/customers/recycle-bin?limit=1").await.1;
    let bin_next = format!(
        "/api/v1/customers/recycle-bin?limit=1&cursor={}",
        bin_page["next_cursor"].as_str().unwrap()
    );
    let bin_page2 = admin.get(&bin_next).await.1;
    assert_eq!(
        bin_page2["items"].as_array().unwrap().len(),
        1,
        "{bin_page2}"
    );
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");

    let keys_now = table_rows(&path, tables::CUSTOMER_KEYS);
    let leads_now = table_rows(&path, tables::LEAD_CHECK);
    let events_now = bin_rows(&path, tables::CUSTOMER_EVENTS);
    let stages_now = bin_rows(&path, tables::FUNNEL_SINCE);
    // 6 owner (the 3 in the pool have none since schema 36) + 9 name (the bin keeps it) + 12
    // phone + 1 ID-number + 2 bin + 3 pool keys.
    assert_eq!(keys_now.len(), 6 + 9 + 12 + 1 + 2 + 3, "{keys_now:?}");
    assert!(keys_now.iter().all(|(k, _)| k.len() <= 34), "{keys_now:?}");
    assert_eq!(leads_now.len(), 12);
    assert!(!has_table(&path, "customer_keys") && !has_table(&path, "lead_check"));
    let originals: Vec<Customer> = records(&path)
        .iter()
        .map(|(id, b)| customer_codec::decode(id, b).unwrap())
        .collect();
    let records_now = records(&path);
    assert!(
        records_now.iter().all(|(_, b)| b[0] == 4),
        "format 4 (schema 36)"
    );
    let rules_now = byte_rows(&path, tables::CUSTOMER_RULES);
    assert!(rules_now.iter().all(|(_, v)| v[0] == 2), "format 2");
    let activity_now = activity_rows(&path);
    assert!(!activity_now.is_empty());

    // Back to what schema 34 wrote: the text tables, no binary ones, format-1 rule views.
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::CUSTOMER_KEYS).unwrap();
        tx.delete_table(tables::LEAD_CHECK).unwrap();
        {
            let mut keys = tx.open_table(tables::CUSTOMER_KEYS_V34).unwrap();
            let mut leads = tx.open_table(tables::LEAD_CHECK_V34).unwrap();
            for c in &originals {
                let (k, l) = v34_keys(c);
                for k in k {
                    keys.insert(k.as_str(), "").unwrap();
                }
                for l in l {
                    leads.insert(l.as_str(), "").unwrap();
                }
            }
            // A counter the text keys would give: the step sets it from the new keys.
            tx.open_table(tables::COUNTERS)
                .unwrap()
                .insert("customers/recycle_bin", 7)
                .unwrap();
            // The records in format 2.
            let mut t = tx.open_table(tables::CUSTOMERS).unwrap();
            for c in &originals {
                t.insert(
                    c.id.as_str(),
                    customer_codec::encode_format_2(c).unwrap().as_slice(),
                )
                .unwrap();
            }
            drop(t);
            // The rule views in format 1 (both tables).
            let mut rules = tx.open_table(tables::CUSTOMER_RULES).unwrap();
            for (id, v) in &rules_now {
                let f = rule_fields::decode(id, v).unwrap();
                rules
                    .insert(id.as_str(), rule_fields::encode_format_1(&f).as_slice())
                    .unwrap();
            }
            let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY).unwrap();
            for ((at, id), v) in &activity_now {
                let f = rule_fields::decode(id, v).unwrap();
                activity
                    .insert(
                        (*at, id.as_str()),
                        rule_fields::encode_format_1(&f).as_slice(),
                    )
                    .unwrap();
            }
        }
        back_to_text_events_and_stages(&tx);
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 34)
            .unwrap();
        tx.commit().unwrap();
    }
    assert!(table_rows(&path, tables::CUSTOMER_KEYS).is_empty());
    assert!(records(&path).iter().all(|(_, b)| b[0] == 2));
    // A copy of the not yet migrated store, row by row (as beside a running server): its text
    // key tables are known to this version (not refused) and copied.
    {
        let pending = data.path().join("pending.redb");
        std::fs::copy(&path, &pending).unwrap();
        let db = redb::Database::open(&pending).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(tables::SETTINGS)
            .unwrap()
            .insert(zhudai::store::SCRUB_PENDING, "1")
            .unwrap();
        tx.commit().unwrap();
        drop(db);
        let copy = data.path().join("copy.redb");
        zhudai::store::snapshot::snapshot_file(&pending, &copy).unwrap();
        let text_keys = |p: &std::path::Path| {
            let db = redb::ReadOnlyDatabase::open(p).unwrap();
            let tx = db.begin_read().unwrap();
            let t = tx.open_table(tables::CUSTOMER_KEYS_V34).unwrap();
            t.iter()
                .unwrap()
                .map(|r| r.unwrap().0.value().to_string())
                .collect::<Vec<_>>()
        };
        assert!(!text_keys(&copy).is_empty());
        assert_eq!(text_keys(&copy), text_keys(&path));
        std::fs::remove_file(&pending).unwrap();
        std::fs::remove_file(&copy).unwrap();
    }
    let interrupted = data.path().join("interrupted.redb");
    std::fs::copy(&path, &interrupted).unwrap();

    let store = common::open_keyed(data.path(), &path);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    assert_eq!(
        store.read(zhudai::store::loads::bin_size).unwrap(),
        2,
        "counted from the new keys"
    );
    drop(store);
    assert_eq!(table_rows(&path, tables::CUSTOMER_KEYS), keys_now);
    assert_eq!(table_rows(&path, tables::LEAD_CHECK), leads_now);
    assert!(!has_table(&path, "customer_keys") && !has_table(&path, "lead_check"));
    assert_eq!(byte_rows(&path, tables::CUSTOMER_RULES), rules_now);
    assert_eq!(activity_rows(&path), activity_now);
    assert_eq!(records(&path), records_now);
    assert_eq!(bin_rows(&path, tables::CUSTOMER_EVENTS), events_now);
    assert_eq!(bin_rows(&path, tables::FUNNEL_SINCE), stages_now);

    // Interrupted after a first batch of 4 customers (text tables dropped, binary ones
    // created, that batch written, the cursor committed): resumes after the cursor.
    {
        let db = redb::Database::open(&interrupted).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::CUSTOMER_KEYS_V34).unwrap();
        tx.delete_table(tables::LEAD_CHECK_V34).unwrap();
        tx.open_table(tables::CUSTOMER_KEYS).unwrap();
        tx.open_table(tables::LEAD_CHECK).unwrap();
        let (last, n) = customers::binary_keys_batch(&tx, None, 4).unwrap();
        assert_eq!(n, 4);
        tx.open_table(tables::SETTINGS)
            .unwrap()
            .insert("migration/35/after", last.unwrap().as_str())
            .unwrap();
        tx.commit().unwrap();
    }
    let partial = table_rows(&interrupted, tables::CUSTOMER_KEYS).len();
    assert!(partial > 0 && partial < keys_now.len(), "{partial}");
    let store = common::open_keyed(data.path(), &interrupted);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    assert_eq!(table_rows(&interrupted, tables::CUSTOMER_KEYS), keys_now);
    assert_eq!(table_rows(&interrupted, tables::LEAD_CHECK), leads_now);
    assert_eq!(byte_rows(&interrupted, tables::CUSTOMER_RULES), rules_now);
    assert_eq!(activity_rows(&interrupted), activity_now);
    assert_eq!(records(&interrupted), records_now);

    let doctor = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["--data", dir.to_str().unwrap(), "doctor"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, text) = doctor(data.path());
    assert!(ok, "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("customer keys"), "{text}");

    // The server answers from the new keys as it did from the old.
    let s = TestServer::start_in(
        data,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(
        admin
            .get(&format!("/api/v1/pools/{pool}/customers?limit=2"))
            .await
            .1,
        pool_page
    );
    assert_eq!(
        admin.get("/api/v1/customers/recycle-bin?limit=1").await.1,
        bin_page
    );
    assert_eq!(admin.get(&bin_next).await.1, bin_page2);
    // The same phone again is found through its key.
    let (st, dup) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "重复", "phone": "13500130003"}),
        )
        .await;
    assert_eq!(st, 409, "{dup}");
    let data = s.stop().await;

    // A key removed by hand: doctor names the customer.
    let path = data.path().join("zhudai.redb");
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut keys = tx.open_table(tables::CUSTOMER_KEYS).unwrap();
            let first = keys_now.iter().find(|(k, _)| k[0] == b'p').unwrap();
            keys.remove(first.0.as_slice()).unwrap().unwrap();
        }
        tx.commit().unwrap();
    }
    let (ok, text) = doctor(data.path());
    assert!(!ok, "{text}");
    assert!(
        text.contains("customer keys") && text.contains("is missing"),
        "{text}"
    );
}

/// Schema 36: a store as schema 35 left it (events and funnel stages in their text tables, an
/// `o` + none key for every customer in no one's hands, records and rule views rewritten in
/// place) gets binary event and stage tables, loses the no-owner keys and has its customer
/// tables rebuilt, straight through and after an interruption in the middle of a rebuild,
/// byte for byte what this version writes; no text or half-built table is left, `zhudai
/// doctor` is clean (and names a stage row changed by hand), and the timeline reads the same.
#[tokio::test]
async fn events_and_stages_move_binary_and_tables_are_rebuilt_resuming_after_an_interruption() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, pool) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "三十六号公海", "settings": {"reclaim_cooldown_days": 0}}),
        )
        .await;
    assert_eq!(st, 201, "{pool}");
    let pool = pool["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..8u32 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({
                    "name": format!("三六{i}"),
                    "phone": format!("1330013{i:04}"),
                    "id_number": if i == 2 { json!("11010519491231002X") } else { Value::Null },
                }),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        if i >= 4 {
            let (st, v) = admin
                .post(
                    &format!("/api/v1/customers/{id}/release"),
                    json!({"reason": "暂无需求", "pool_id": pool}),
                )
                .await;
            assert_eq!(st, 200, "{v}");
        }
        ids.push(id);
    }
    let (st, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, timeline) = admin
        .get(&format!("/api/v1/customers/{}/timeline", ids[5]))
        .await;
    assert_eq!(st, 200, "{timeline}");
    let pool_page = admin
        .get(&format!("/api/v1/pools/{pool}/customers?limit=3"))
        .await
        .1;
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");

    let records_now = records(&path);
    let rules_now = byte_rows(&path, tables::CUSTOMER_RULES);
    let match_now = byte_rows(&path, tables::CUSTOMER_MATCH);
    let activity_now = activity_rows(&path);
    let keys_now = table_rows(&path, tables::CUSTOMER_KEYS);
    let leads_now = table_rows(&path, tables::LEAD_CHECK);
    let events_now = bin_rows(&path, tables::CUSTOMER_EVENTS);
    let stages_now = bin_rows(&path, tables::FUNNEL_SINCE);
    assert!(events_now.len() >= 8 + 4, "{}", events_now.len());
    assert!(events_now.iter().all(|(k, v)| k.len() == 33 && v[0] == 3));
    assert!(records_now.iter().all(|(_, v)| v[0] == 4), "format 4");
    assert_eq!(
        stages_now.len(),
        8,
        "one per customer (the deleted one keeps its row)"
    );
    assert!(stages_now.iter().all(|(k, _)| k.len() == 17));
    // No customer key says "no owner": 4 owned (the deleted one too), 4 in the pool.
    let owner_keys = keys_now.iter().filter(|(k, _)| k[0] == b'o').count();
    assert_eq!(owner_keys, 4, "{keys_now:?}");
    assert!(keys_now.iter().all(|(k, _)| !k.starts_with(&[b'o', 0])));
    let unowned: Vec<&String> = ids[4..].iter().collect();

    // Back to what schema 35 left: text events and stages, a no-owner key per customer in no
    // one's hands, records and rule views rewritten in place.
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        back_to_text_events_and_stages(&tx);
        {
            let mut keys = tx.open_table(tables::CUSTOMER_KEYS).unwrap();
            for id in &unowned {
                let mut k = vec![b'o', 0];
                k.extend(ulid::Ulid::from_string(id).unwrap().to_bytes());
                keys.insert(k.as_slice(), ()).unwrap();
            }
            // The records in format 3 (with their ids), as schema 35 wrote them.
            let mut t = tx.open_table(tables::CUSTOMERS).unwrap();
            for (id, v) in &records_now {
                let c = customer_codec::decode(id, v).unwrap();
                let v3 = customer_codec::encode_format_3(&c).unwrap();
                assert_eq!(v3.len(), v.len() + 15);
                t.insert(id.as_str(), v3.as_slice()).unwrap();
            }
            let mut t = tx.open_table(tables::CUSTOMER_RULES).unwrap();
            for (id, v) in &rules_now {
                t.insert(id.as_str(), v.as_slice()).unwrap();
            }
        }
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 35)
            .unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(
        table_rows(&path, tables::CUSTOMER_KEYS).len(),
        keys_now.len() + 4
    );
    assert!(bin_rows(&path, tables::CUSTOMER_EVENTS).is_empty());
    assert_eq!(text_events(&path).len(), events_now.len());
    let interrupted = data.path().join("interrupted.redb");
    std::fs::copy(&path, &interrupted).unwrap();

    let left_over = |p: &std::path::Path| {
        use redb::TableHandle;
        let db = redb::ReadOnlyDatabase::open(p).unwrap();
        let tx = db.begin_read().unwrap();
        tx.list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .filter(|n| n == "customer_events" || n == "funnel_since" || n.ends_with("__repacked"))
            .collect::<Vec<_>>()
    };
    let same_as_now = |p: &std::path::Path| {
        assert_eq!(records(p), records_now);
        assert_eq!(byte_rows(p, tables::CUSTOMER_RULES), rules_now);
        assert_eq!(byte_rows(p, tables::CUSTOMER_MATCH), match_now);
        assert_eq!(activity_rows(p), activity_now);
        assert_eq!(table_rows(p, tables::CUSTOMER_KEYS), keys_now);
        assert_eq!(table_rows(p, tables::LEAD_CHECK), leads_now);
        assert_eq!(bin_rows(p, tables::CUSTOMER_EVENTS), events_now);
        assert_eq!(bin_rows(p, tables::FUNNEL_SINCE), stages_now);
        assert_eq!(left_over(p), Vec::<String>::new());
        // Schema 38 (run after 36 and 37 here): the import key log, created empty.
        let db = redb::ReadOnlyDatabase::open(p).unwrap();
        let tx = db.begin_read().unwrap();
        let log = tx.open_table(tables::IMPORT_KEY_LOG).unwrap();
        assert_eq!(redb::ReadableTableMetadata::len(&log).unwrap(), 0);
    };

    // Straight through.
    let store = common::open_keyed(data.path(), &path);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    same_as_now(&path);

    // Interrupted in the middle of rebuilding the customer keys: batches of 3 rows, each
    // committed with its cursor, until the cursor is inside the keys' copy.
    {
        let db = redb::Database::open(&interrupted).unwrap();
        let mut phases = Vec::new();
        loop {
            let tx = db.begin_write().unwrap();
            let after = tx
                .open_table(tables::SETTINGS)
                .unwrap()
                .get("migration/36/after")
                .unwrap()
                .map(|v| v.value().to_string());
            if after.is_none() {
                v36::first(&tx).unwrap();
            }
            let (last, n) = v36::batch(&tx, after.as_deref(), 3).unwrap();
            assert_eq!(n, 3, "{phases:?}");
            let last = last.unwrap();
            tx.open_table(tables::SETTINGS)
                .unwrap()
                .insert("migration/36/after", last.as_str())
                .unwrap();
            tx.commit().unwrap();
            phases.push(last[..2].to_string());
            if last.starts_with("r2:") {
                break;
            }
        }
        // Events, then stages, then records, rule views, keys; each phase's rows in 3s.
        assert_eq!(phases.first().map(String::as_str), Some("e:"), "{phases:?}");
        assert!(phases.iter().any(|p| p == "f:"), "{phases:?}");
        assert!(phases.iter().any(|p| p == "r0"), "{phases:?}");
    }
    assert_eq!(left_over(&interrupted), ["customer_keys_bin__repacked"]);
    let store = common::open_keyed(data.path(), &interrupted);
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(store);
    same_as_now(&interrupted);

    let doctor = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["--data", dir.to_str().unwrap(), "doctor"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, text) = doctor(data.path());
    assert!(ok, "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.contains("timeline events") && text.contains("funnel stages"),
        "{text}"
    );

    let s = TestServer::start_in(
        data,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, again) = admin
        .get(&format!("/api/v1/customers/{}/timeline", ids[5]))
        .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again, timeline, "the timeline reads the same");
    assert_eq!(
        admin
            .get(&format!("/api/v1/pools/{pool}/customers?limit=3"))
            .await
            .1,
        pool_page
    );
    let data = s.stop().await;

    // A live customer's stage row changed by hand: doctor names it.
    let path = data.path().join("zhudai.redb");
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(tables::FUNNEL_SINCE).unwrap();
            let (k, v) = &stages_now[0];
            let mut changed = v.clone();
            changed.truncate(v.len() - "lead".len());
            changed.extend(b"won");
            assert!(v.ends_with(b"lead"), "{v:?}");
            t.insert(k.as_slice(), changed.as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }
    let (ok, text) = doctor(data.path());
    assert!(!ok, "{text}");
    assert!(
        text.contains("funnel stages") && text.contains("stage row won"),
        "{text}"
    );
}

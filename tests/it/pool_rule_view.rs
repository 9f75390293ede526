//! The compact rule view (`store::rule_fields`, schema 9) never drifts from the customer
//! records: after creates, edits, follow-ups, claims, releases, recalls, transfers, a
//! departure, locks and a recycle/restore it equals what the records give; the 8 → 9
//! migration builds the same tables; and the drift check names a damaged row. The same for the
//! owner load counters (`store::loads`, schema 10), also after a stage change to won, an
//! automatically assigned create and an import.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use redb::{ReadableDatabase, ReadableTable};
use reqwest::{Method, StatusCode};
use serde_json::json;
use zhudai::store::{self, migrate, rule_fields, tables};

const PASS: &str = common::TEAM_PASSWORD;

fn assert_in_step(s: &TestServer, after: &str) {
    let drift = s.app.store.read(rule_fields::drift).unwrap();
    assert!(drift.is_empty(), "after {after}: {drift:?}");
    // The owner load counters (schema 10) equal a recount from the records.
    let drift = s.app.store.read(store::loads::drift).unwrap();
    assert!(drift.is_empty(), "owner loads after {after}: {drift:?}");
}

/// Every row of the owner load counters.
fn load_rows(db: &redb::ReadOnlyDatabase) -> Vec<(String, String, u64)> {
    let tx = db.begin_read().unwrap();
    tx.open_table(tables::OWNER_LOADS)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            let (o, w) = k.value();
            (o.to_string(), w.to_string(), v.value())
        })
        .collect()
}

/// Rows of `customer_rules` and of `customer_activity`, as bytes.
type Rows = (Vec<(String, Vec<u8>)>, Vec<(i64, String, Vec<u8>)>);

/// Every row of both rule tables.
fn rows(db: &redb::ReadOnlyDatabase) -> Rows {
    let tx = db.begin_read().unwrap();
    let rules = tx
        .open_table(tables::CUSTOMER_RULES)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_string(), v.value().to_vec())
        })
        .collect();
    let activity = tx
        .open_table(tables::CUSTOMER_ACTIVITY)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            let (at, id) = k.value();
            (at, id.to_string(), v.value().to_vec())
        })
        .collect();
    (rules, activity)
}

/// The store file `copy` (a snapshot of the server's) changed by `change` and marked as schema
/// `version`, then opened with the server's key: the migrations from `version` ran, and the
/// store says it is current.
fn open_migrated(
    s: &TestServer,
    copy: &std::path::Path,
    version: u64,
    change: impl FnOnce(&redb::WriteTransaction),
) -> store::Store {
    {
        let db = redb::Database::open(copy).unwrap();
        let tx = db.begin_write().unwrap();
        change(&tx);
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", version)
            .unwrap();
        tx.commit().unwrap();
    }
    let migrated = common::open_keyed(s.dir.path(), copy);
    assert_eq!(
        migrate::stored_version(&migrated).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    migrated
}

#[tokio::test]
async fn the_rule_view_follows_every_kind_of_customer_write() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let mei = common::add_user(&s, "mei", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "公海", "settings": {"protect_new_hours": 0}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pool = p["id"].as_str().unwrap().to_string();

    let mut ids = Vec::new();
    for (n, grade) in ["A", "B", "C", "D", "D", "A", "B"].iter().enumerate() {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{n}"), "phone": format!("1390000{n:04}"),
                       "owner_id": sun, "grade": grade, "tags": ["有房"], "city": "成都"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    // One more in no one's hands (created straight into the pool by its absence of owner).
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "无主客户", "phone": "13900009999"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_in_step(&s, "creates");

    s.clock.advance(Duration::minutes(5));
    let (st, e) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{}", ids[0]),
            Some(json!({"name": "改名客户", "grade": "C", "stage": "signed", "tags": ["公积金", "有车"],
                        "city": null})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "an edit");
    let (st, e) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{}", ids[6]),
            Some(json!({"stage": "won"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a stage change to won");
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "自动分配", "phone": "13711119999", "city": "重庆", "assign": "auto"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_in_step(&s, "an automatically assigned create");
    let (st, r) = crate::import::upload(
        &admin,
        "?assign=auto",
        "姓名,手机号,城市\n导入甲,13500000001,成都\n导入乙,13500000002,\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!((st, r["created"].as_u64()), (200, Some(2)), "{r}");
    assert_in_step(&s, "an import");
    let loads = s.app.store.read(|tx| store::loads::of(tx, &sun)).unwrap();
    assert!(
        loads.live >= 6 && loads.cities.contains_key("成都"),
        "{loads:?}"
    );

    s.clock.advance(Duration::days(2));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun_c = s.login("sun", PASS).await;
    let (st, f) = sun_c
        .post(
            &format!("/api/v1/customers/{}/followups", ids[1]),
            json!({"kind": "call", "content": "约了下周面谈",
                   "next_at": (s.app.now() + Duration::days(3)).to_rfc3339()}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    assert_in_step(&s, "a follow-up");

    let (st, e) = sun_c
        .post(
            &format!("/api/v1/customers/{}/release", ids[2]),
            json!({"reason": "暂无需求"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a release");
    let mei_c = s.login("mei", PASS).await;
    let (st, e) = mei_c
        .post(&format!("/api/v1/customers/{}/claim", ids[2]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a claim");

    let (st, e) = admin
        .post(
            &format!("/api/v1/customers/{}/transfer", ids[3]),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a transfer");

    let (st, e) = sun_c
        .post(&format!("/api/v1/customers/{}/lock", ids[5]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a lock");

    let (st, e) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", ids[4]),
            None,
        )
        .await;
    assert!(st.is_success(), "{st} {e}");
    assert_in_step(&s, "a delete");
    let (st, e) = admin
        .post(&format!("/api/v1/customers/{}/restore", ids[4]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a restore");
    let (st, e) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", ids[6]),
            None,
        )
        .await;
    assert!(st.is_success(), "{st} {e}");

    // Three weeks on, the sweep recalls the idle ones (a real sweep writes through `put`).
    s.clock.advance(Duration::days(21));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let at = s
        .app
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (st, r) = admin
        .post(
            &format!(
                "/api/v1/pools/sweep?dry_run=false&as_of={}",
                at.replace('+', "%2B")
            ),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert!(r["recalled"].as_u64().unwrap() > 0, "{r}");
    assert_in_step(&s, "a sweep");

    let (st, e) = admin
        .post(
            &format!("/api/v1/users/{mei}/depart"),
            json!({"to_pool": pool}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_in_step(&s, "a departure");
    // Every owned live customer (and only those) is in the activity index.
    let owned = s.app.store.read(rule_fields::owned_count).unwrap();
    let mut live_owned = 0;
    s.app
        .store
        .read(|tx| {
            store::customers::Reader::unscoped(tx, store::customers::Unscoped::Maintenance)
                .scan_all(None, |c| {
                    live_owned += u64::from(c.owner_id.is_some() && c.deleted_at.is_none());
                    true
                })
        })
        .unwrap();
    assert_eq!(owned, live_owned);
    assert!(owned >= 1, "the locked customer stays");

    // The 8 → 9 migration, run on a copy of this store without the rule tables, builds
    // exactly the tables `put` maintained.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.redb");
    s.app.store.snapshot_to(&copy).unwrap();
    let maintained = rows(&redb::ReadOnlyDatabase::open(&copy).unwrap());
    let maintained_loads = load_rows(&redb::ReadOnlyDatabase::open(&copy).unwrap());
    assert!(!maintained_loads.is_empty());
    let migrated = open_migrated(&s, &copy, 8, |tx| {
        tx.delete_table(tables::CUSTOMER_RULES).unwrap();
        tx.delete_table(tables::CUSTOMER_ACTIVITY).unwrap();
        tx.delete_table(tables::OWNER_LOADS).unwrap();
    });
    assert!(migrated.read(rule_fields::drift).unwrap().is_empty());
    assert!(migrated.read(store::loads::drift).unwrap().is_empty());
    drop(migrated);
    assert_eq!(
        load_rows(&redb::ReadOnlyDatabase::open(&copy).unwrap()),
        maintained_loads
    );
    assert_eq!(
        rows(&redb::ReadOnlyDatabase::open(&copy).unwrap()),
        maintained
    );
    assert!(!maintained.1.is_empty() && maintained.0.len() > maintained.1.len());

    // A rule view of a customer in no one's hands (no activity key), for the marker below: it
    // must decode, since step 37 rebuilds the activity index from the rule views.
    let unowned = maintained
        .0
        .iter()
        .find(|(id, v)| rule_fields::last_activity(&rule_fields::decode(id, v).unwrap()).is_none())
        .expect("a customer in no one's hands")
        .1
        .clone();
    // Both rebuilds run in batches and resume after an interruption: a copy left as a crash
    // after the first batch of each step leaves it (rows of the first 2 customers committed
    // with the cursor, version not bumped) migrates to the same tables, nothing counted twice.
    for step in [9u64, 10] {
        let copy = dir.path().join(format!("interrupted-{step}.redb"));
        s.app.store.snapshot_to(&copy).unwrap();
        let migrated = open_migrated(&s, &copy, step - 1, |tx| {
            tx.delete_table(tables::OWNER_LOADS).unwrap();
            tx.open_table(tables::OWNER_LOADS).unwrap();
            if step == 9 {
                tx.delete_table(tables::CUSTOMER_RULES).unwrap();
                tx.delete_table(tables::CUSTOMER_ACTIVITY).unwrap();
            }
            let (last, n) = if step == 9 {
                rule_fields::rebuild_batch(tx, None, 2).unwrap()
            } else {
                store::loads::rebuild_batch(tx, None, 2).unwrap()
            };
            assert_eq!(n, 2);
            // A marker among the committed rows: a restart from scratch would drop it.
            if step == 9 {
                tx.open_table(tables::CUSTOMER_RULES)
                    .unwrap()
                    .insert("!marker", unowned.as_slice())
                    .unwrap();
            } else {
                tx.open_table(tables::OWNER_LOADS)
                    .unwrap()
                    .insert(("!marker", "live"), 1)
                    .unwrap();
            }
            tx.open_table(tables::SETTINGS)
                .unwrap()
                .insert(
                    format!("migration/{step}/after").as_str(),
                    last.unwrap().as_str(),
                )
                .unwrap();
        });
        drop(migrated);
        let db = redb::ReadOnlyDatabase::open(&copy).unwrap();
        let (mut rules, activity) = rows(&db);
        let mut loads = load_rows(&db);
        let marker = if step == 9 {
            let k = rules.iter().position(|r| r.0 == "!marker");
            k.map(|k| drop(rules.remove(k)))
        } else {
            let k = loads.iter().position(|r| r.0 == "!marker");
            k.map(|k| drop(loads.remove(k)))
        };
        assert!(marker.is_some(), "step {step} resumed after its cursor");
        assert_eq!((rules, activity), maintained, "resumed step {step}");
        assert_eq!(loads, maintained_loads, "resumed step {step}");
        let tx = db.begin_read().unwrap();
        let settings = tx.open_table(tables::SETTINGS).unwrap();
        assert!(
            settings
                .get(format!("migration/{step}/after").as_str())
                .unwrap()
                .is_none()
        );
    }

    // 36 → 37: the activity index keyed by the second becomes keyed by the day, rebuilt from
    // the rule views in batches; a copy interrupted after its first batch (2 customers and a
    // marker committed with the cursor) resumes after it.
    for interrupted in [false, true] {
        let copy = dir.path().join(format!("v36-{interrupted}.redb"));
        s.app.store.snapshot_to(&copy).unwrap();
        let migrated = open_migrated(&s, &copy, 36, |tx| {
            tx.delete_table(tables::CUSTOMER_ACTIVITY).unwrap();
            {
                let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY).unwrap();
                for (_, id, v) in &maintained.1 {
                    let at = rule_fields::last_activity(&rule_fields::decode(id, v).unwrap());
                    let secs = at.unwrap().timestamp();
                    activity.insert((secs, id.as_str()), v.as_slice()).unwrap();
                }
            }
            if interrupted {
                tx.delete_table(tables::CUSTOMER_ACTIVITY).unwrap();
                let (last, n) = rule_fields::activity_batch(tx, None, 2).unwrap();
                assert_eq!(n, 2);
                tx.open_table(tables::CUSTOMER_ACTIVITY)
                    .unwrap()
                    .insert((i64::MIN, "!marker"), [0u8].as_slice())
                    .unwrap();
                tx.open_table(tables::SETTINGS)
                    .unwrap()
                    .insert("migration/37/after", last.unwrap().as_str())
                    .unwrap();
            }
        });
        drop(migrated);
        let db = redb::ReadOnlyDatabase::open(&copy).unwrap();
        let (rules, mut activity) = rows(&db);
        if interrupted {
            assert_eq!(activity.first().map(|r| r.1.as_str()), Some("!marker"));
            activity.remove(0);
        }
        assert_eq!(
            (rules, activity),
            maintained,
            "36 → 37, interrupted: {interrupted}"
        );
    }
    // The keys hold the day: every owned customer's first key part is its activity's day.
    for (day, id, v) in &maintained.1 {
        let at = rule_fields::last_activity(&rule_fields::decode(id, v).unwrap()).unwrap();
        assert_eq!(*day, at.timestamp().div_euclid(86_400), "{id}");
    }

    // The check itself: a stale row and a missing activity key are both named.
    let stale = ids[1].clone();
    let unindexed = ids[5].clone();
    s.app
        .store
        .write(|tx| {
            let mut f = rule_fields::get_w(tx, &stale)?.unwrap();
            f.stars = f.stars.wrapping_add(1);
            tx.open_table(tables::CUSTOMER_RULES)?
                .insert(stale.as_str(), rule_fields::encode(&f).as_slice())?;
            let f = rule_fields::get_w(tx, &unindexed)?.unwrap();
            let at = rule_fields::last_activity(&f).unwrap();
            tx.open_table(tables::CUSTOMER_ACTIVITY)?
                .remove((rule_fields::activity_day(at), unindexed.as_str()))?
                .unwrap();
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let mut expected = vec![stale, unindexed];
    expected.sort();
    assert_eq!(s.app.store.read(rule_fields::drift).unwrap(), expected);
    // A wrong counter is named too.
    s.app
        .store
        .write(|tx| {
            tx.open_table(tables::OWNER_LOADS)?
                .insert((sun.as_str(), "open_leads"), 999)?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let drift = s.app.store.read(store::loads::drift).unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        drift[0].starts_with(&format!("{sun}/open_leads: 999")),
        "{drift:?}"
    );
}

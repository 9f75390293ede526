//! Issue 18.7: the real sweep writes many recalls per write transaction. Whatever the batch
//! size, the store ends up exactly as if each customer had been recalled (or warned) in a
//! transaction of its own: the same records, keys, rule view, owner loads, counters, search
//! outbox, timeline events and audit entries.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use redb::{ReadableTable, TableDefinition};
use zhudai::config::Config;
use zhudai::domain::customer::Customer;
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::{App, ManualClock};
use zhudai::store::{customers, tables};

use crate::common;

fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> Arc<App> {
    zhudai::open_app(dir, Config::defaults().unwrap(), clock).unwrap()
}

/// Rows of a table with string keys, as (key, value bytes).
fn rows<V: redb::Value + 'static>(
    app: &App,
    def: TableDefinition<&'static str, V>,
    value: impl Fn(V::SelfType<'_>) -> Vec<u8>,
) -> Vec<(String, Vec<u8>)> {
    app.store
        .read(|tx| {
            let t = match tx.open_table(def) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(zhudai::store::Error::from(redb::Error::from(e))),
            };
            let mut out = Vec::new();
            for row in t.iter().map_err(redb::Error::from)? {
                let (k, v) = row.map_err(redb::Error::from)?;
                out.push((k.value().to_string(), value(v.value())));
            }
            Ok::<_, zhudai::store::Error>(out)
        })
        .unwrap()
}

/// Everything a recall or a warning writes, in a comparable form.
fn state(app: &App) -> BTreeMap<&'static str, Vec<(String, Vec<u8>)>> {
    let bytes = |v: &[u8]| v.to_vec();
    let text = |v: &str| v.as_bytes().to_vec();
    let num = |v: u64| v.to_be_bytes().to_vec();
    let mut out = BTreeMap::new();
    out.insert("customers", rows(app, tables::CUSTOMERS, bytes));
    out.insert("customer_keys", rows(app, tables::CUSTOMER_KEYS, text));
    out.insert("customer_rules", rows(app, tables::CUSTOMER_RULES, bytes));
    out.insert("customer_match", rows(app, tables::CUSTOMER_MATCH, bytes));
    out.insert("lead_check", rows(app, tables::LEAD_CHECK, text));
    out.insert("counters", rows(app, tables::COUNTERS, num));
    out.insert("notices", rows(app, tables::NOTICES, bytes));
    // Event ids are random: compare each customer's events without them.
    let events = rows(app, tables::CUSTOMER_EVENTS, bytes)
        .into_iter()
        .map(|(k, v)| {
            let mut e: customers::TimelineEvent =
                zhudai::store::codec::decode("customer_events", &v).unwrap();
            e.id = String::new();
            let customer = k.split('/').next().unwrap_or_default().to_string();
            (customer, serde_json::to_vec(&e).unwrap())
        })
        .collect();
    out.insert("customer_events", events);
    let (activity, loads, outbox, audit) = app
        .store
        .read(|tx| {
            let activity: Vec<(String, Vec<u8>)> = tx
                .open_table(tables::CUSTOMER_ACTIVITY)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    let (at, id) = k.value();
                    (format!("{at}/{id}"), v.value().to_vec())
                })
                .collect();
            let loads: Vec<(String, Vec<u8>)> = tx
                .open_table(tables::OWNER_LOADS)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    let (a, b) = k.value();
                    (format!("{a}/{b}"), v.value().to_be_bytes().to_vec())
                })
                .collect();
            let outbox: Vec<(String, Vec<u8>)> = tx
                .open_table(tables::SEARCH_OUTBOX)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.value().to_string(), v.value().as_bytes().to_vec())
                })
                .collect();
            let audit: Vec<(String, Vec<u8>)> = tx
                .open_table(tables::AUDIT)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.value().to_string(), v.value().to_vec())
                })
                .collect();
            Ok::<_, zhudai::store::Error>((activity, loads, outbox, audit))
        })
        .unwrap();
    out.insert("customer_activity", activity);
    out.insert("owner_loads", loads);
    out.insert("search_outbox", outbox);
    out.insert("audit", audit);
    out
}

#[test]
fn a_batched_sweep_writes_exactly_what_one_by_one_recalls_write() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    {
        let app = open(first.path(), clock.clone());
        let setup = app.access().prepare_setup().unwrap().unwrap();
        app.access()
            .complete_setup(
                &setup,
                common::ADMIN,
                "管理员",
                common::ADMIN_PASSWORD,
                "test",
            )
            .unwrap();
        let owners: Vec<String> = (0..3)
            .map(|i| {
                app.org()
                    .create_user(
                        &Actor::Operator,
                        NewUser {
                            username: format!("s{i}"),
                            display_name: format!("销售{i}"),
                            roles: vec!["sales".into()],
                            password: common::TEAM_PASSWORD.into(),
                            department_id: None,
                            manager_id: None,
                            phone: None,
                            broker: None,
                        },
                        "test",
                    )
                    .unwrap()
                    .id
            })
            .collect();
        let now = app.now();
        let mut synth = zhudai::synth::Generator::new(18, now);
        let grades = ["A", "B", "C", "D"];
        let records: Vec<Customer> = (0..240)
            .map(|i| {
                let s = synth.customer();
                let owner = owners[i % owners.len()].clone();
                let mut c = app.platform().demo_record(&s, Some(owner), "test").unwrap();
                // Held 3–40 days, never followed up: some recalled, some warned, some kept.
                c.created_at = now - Duration::days(60);
                c.updated_at = c.created_at;
                c.held_since = Some(now - Duration::days(3 + (i as i64 * 7) % 38));
                c.last_followup_at = None;
                c.grade = Some(grades[i % grades.len()].to_string());
                c.locked = i % 17 == 0;
                c
            })
            .collect();
        app.store
            .write(|tx| {
                for c in &records {
                    customers::put(tx, None, c)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
    }
    let second = tempfile::tempdir().unwrap();
    common::copy_dir(first.path(), second.path());

    let one_by_one = open(first.path(), clock.clone());
    let batched = open(second.path(), clock.clone());
    let now = one_by_one.now();
    let a = one_by_one.pools().sweep_in_batches(now, 1).unwrap();
    let b = batched.pools().sweep_in_batches(now, 64).unwrap();
    assert!(a.recalled > 50 && a.warned > 10, "{a:?}");
    assert_eq!((a.recalled, a.warned), (b.recalled, b.warned));
    assert_eq!(a.pools, b.pools);
    let (sa, sb) = (state(&one_by_one), state(&batched));
    for (table, rows) in &sa {
        assert_eq!(rows.len(), sb[table].len(), "rows in {table}");
        assert!(rows == &sb[table], "{table} differs");
    }
    // One audit entry per recall (plus what setup wrote, the same on both).
    let recalled_audits = sa["audit"]
        .iter()
        .filter(|(_, v)| {
            let e: zhudai::store::audit::AuditEntry =
                zhudai::store::codec::decode("audit", v).unwrap();
            e.action == "customer.recalled"
        })
        .count() as u64;
    assert_eq!(recalled_audits, a.recalled);
    // The default batch size on what is left: nothing more to recall.
    let again = batched.pools().sweep_at(now, false, 0).unwrap();
    assert_eq!(again.recalled, 0);
}

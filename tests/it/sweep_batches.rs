//! Issue 18.7: the real sweep writes many recalls per write transaction, table by table
//! (`customers::put_many`, counters and loads summed per batch, one outbox and audit pass).
//! Whatever the batch size, the store ends up exactly as if each customer had been recalled
//! (or warned) in a transaction of its own with the single-row store functions a recall used
//! before (`customers::put`, `pools::bump`, `customers::add_event`, `audit::append`, the
//! reference below): the same records, keys, rule view, activity, report keys, funnel, owner
//! loads, counters, search outbox (numbers and order), timeline events and audit chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use redb::{ReadableTable, TableDefinition};
use zhudai::config::Config;
use zhudai::domain::customer::Customer;
use zhudai::service::org::users::{Actor, NewUser};
use zhudai::service::pools::sweep::SweepReport;
use zhudai::service::{App, ManualClock};
use zhudai::store::audit::NewAudit;
use zhudai::store::customers::{Reader, TimelineEvent, Unscoped};
use zhudai::store::{customers, pools, tables};

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

/// Every row of a binary table (schema 36: events, funnel stages), the key as hex.
fn bin_rows(
    app: &App,
    def: TableDefinition<&'static [u8], &'static [u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    app.store
        .read(|tx| {
            let t = tx.open_table(def)?;
            let mut out = Vec::new();
            for row in t.iter().map_err(redb::Error::from)? {
                let (k, v) = row.map_err(redb::Error::from)?;
                out.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok::<_, zhudai::store::Error>(out)
        })
        .unwrap()
}

/// The keys of a binary key table (schema 35, no values), each as hex.
fn key_rows(app: &App, def: TableDefinition<&'static [u8], ()>) -> Vec<(String, Vec<u8>)> {
    app.store
        .read(|tx| {
            let t = tx.open_table(def)?;
            let mut out = Vec::new();
            for row in t.iter().map_err(redb::Error::from)? {
                let (k, _) = row.map_err(redb::Error::from)?;
                out.push((hex::encode(k.value()), Vec::new()));
            }
            Ok::<_, zhudai::store::Error>(out)
        })
        .unwrap()
}

/// Everything a recall or a warning writes, in a comparable form.
fn state(app: &App) -> BTreeMap<&'static str, Vec<(String, Vec<u8>)>> {
    let bytes = |v: &[u8]| v.to_vec();
    let num = |v: u64| v.to_be_bytes().to_vec();
    let mut out = BTreeMap::new();
    out.insert("customers", rows(app, tables::CUSTOMERS, bytes));
    out.insert("customer_keys", key_rows(app, tables::CUSTOMER_KEYS));
    out.insert("customer_rules", rows(app, tables::CUSTOMER_RULES, bytes));
    out.insert("customer_match", rows(app, tables::CUSTOMER_MATCH, bytes));
    out.insert("lead_check", key_rows(app, tables::LEAD_CHECK));
    out.insert("counters", rows(app, tables::COUNTERS, num));
    out.insert("notices", rows(app, tables::NOTICES, bytes));
    out.insert(
        "funnel_since",
        bin_rows(app, tables::FUNNEL_SINCE)
            .into_iter()
            .map(|(k, v)| (hex::encode(k), v))
            .collect(),
    );
    // Event ids are random: compare each customer's events without them.
    let events = bin_rows(app, tables::CUSTOMER_EVENTS)
        .into_iter()
        .map(|(k, v)| {
            let mut e: customers::TimelineEvent =
                zhudai::store::event_codec::decode(&k, &v).unwrap();
            e.id = String::new();
            let (customer, _) = zhudai::store::event_codec::key_ids(&k).unwrap();
            (customer, serde_json::to_vec(&e).unwrap())
        })
        .collect();
    out.insert("customer_events", events);
    let (activity, touch, loads, outbox, audit) = app
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
            let touch: Vec<(String, Vec<u8>)> = tx
                .open_table(tables::OWNER_TOUCH)?
                .iter()?
                .map(|r| {
                    let (k, _) = r.unwrap();
                    let (owner, at, id) = k.value();
                    (format!("{owner}/{at}/{id}"), Vec::new())
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
            Ok::<_, zhudai::store::Error>((activity, touch, loads, outbox, audit))
        })
        .unwrap();
    out.insert("customer_activity", activity);
    out.insert("owner_touch", touch);
    out.insert("owner_loads", loads);
    out.insert("search_outbox", outbox);
    out.insert("audit", audit);
    out
}

/// The reference: the sweep's actions (from a dry run at the same instant) applied one
/// customer per write transaction with the single-row store functions, as the sweep wrote
/// them before its writes were batched.
fn one_by_one(app: &App, now: chrono::DateTime<chrono::Utc>) -> SweepReport {
    let dry = app
        .pools()
        .sweep_at(now, true, zhudai::service::pools::sweep::MAX_REPORT_LIMIT)
        .unwrap();
    assert!(!dry.truncated, "{} actions", dry.actions.len());
    let all_pools = app.store.read(pools::all).unwrap();
    let today = zhudai::service::pools::sweep::day_number(now);
    for a in &dry.actions {
        app.store
            .write(|tx| {
                let before = Reader::unscoped(tx, Unscoped::Jobs)
                    .any(&a.customer_id)?
                    .unwrap();
                let warn_key = format!("recall_warn/{}/{}", a.owner_id, a.customer_id);
                if a.action == "recall" {
                    let pool = all_pools.iter().find(|p| p.id == a.pool_id).unwrap();
                    let mut c = before.clone();
                    zhudai::service::pools::into_pool(&mut c, pool, now, &a.reason);
                    customers::put(tx, Some(&before), &c)?;
                    pools::remove_counter(tx, &warn_key)?;
                    pools::bump(
                        tx,
                        &format!(
                            "recall/{}/{}/{}",
                            a.owner_id,
                            pool.id,
                            zhudai::service::pools::day_key(now)
                        ),
                    )?;
                    customers::add_event(
                        tx,
                        &c.id,
                        &TimelineEvent::new(
                            zhudai::service::new_id(now),
                            now,
                            "system",
                            "recalled",
                            Some(a.owner_id.clone()),
                            Some(pool.id.clone()),
                            Some(a.reason.clone()),
                        ),
                    )?;
                    zhudai::store::audit::append(
                        tx,
                        now,
                        NewAudit {
                            actor_id: None,
                            actor: "system".into(),
                            action: "customer.recalled",
                            target: Some(c.id.clone()),
                            detail: serde_json::json!({
                                "from": a.owner_id, "pool_id": pool.id, "reason": a.reason,
                            }),
                            source: "pool sweep".into(),
                        },
                    )?;
                } else if pools::counter_w(tx, &warn_key)? != today {
                    pools::set_counter(tx, &warn_key, today)?;
                    customers::add_event(
                        tx,
                        &before.id,
                        &TimelineEvent::new(
                            zhudai::service::new_id(now),
                            now,
                            "system",
                            "recall_warning",
                            None,
                            a.days_left.map(|d| d.to_string()),
                            Some(a.reason.clone()),
                        ),
                    )?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
    }
    dry
}

/// 240 customers of three salespeople, held 3–40 days and never followed up: some due for
/// recall, some for a warning, some kept.
fn fill(dir: &std::path::Path, clock: Arc<ManualClock>) {
    let app = open(dir, clock);
    common::set_up_admin(&app);
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
                        must_change_password: false,
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

#[test]
fn a_batched_sweep_writes_exactly_what_one_by_one_recalls_write() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    fill(first.path(), clock.clone());
    let now = common::epoch();
    // An earlier sweep (one by one, the reference) recalls some and leaves warnings behind:
    // some of the customers warned then are recalled now, and their warning counters must go.
    let warned_earlier: Vec<String> = {
        let app = open(first.path(), clock.clone());
        let earlier = one_by_one(&app, now - Duration::days(4));
        assert!(earlier.recalled > 10 && earlier.warned > 10, "{earlier:?}");
        earlier
            .actions
            .into_iter()
            .filter(|a| a.action == "warn")
            .map(|a| a.customer_id)
            .collect()
    };
    let copies: Vec<tempfile::TempDir> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            common::copy_dir(first.path(), dir.path());
            dir
        })
        .collect();

    let reference = open(first.path(), clock.clone());
    let r = one_by_one(&reference, now);
    assert!(r.recalled > 20 && r.warned > 10, "{r:?}");
    assert!(
        r.actions
            .iter()
            .any(|a| a.action == "recall" && warned_earlier.contains(&a.customer_id)),
        "a customer warned earlier is recalled now"
    );
    let expected = state(&reference);
    for (dir, batch) in copies.iter().zip([1, 64, 0]) {
        let app = open(dir.path(), clock.clone());
        let got = if batch == 0 {
            // The default batch size (one batch here).
            app.pools().sweep_at(now, false, 0).unwrap()
        } else {
            app.pools().sweep_in_batches(now, batch).unwrap()
        };
        assert_eq!(
            (got.recalled, got.warned),
            (r.recalled, r.warned),
            "batch {batch}"
        );
        assert_eq!(got.pools, r.pools, "batch {batch}");
        let state = state(&app);
        for (table, rows) in &expected {
            assert_eq!(
                rows.len(),
                state[table].len(),
                "rows in {table}, batch {batch}"
            );
            assert!(rows == &state[table], "{table} differs, batch {batch}");
        }
        let chain = app.store.verify_audit().unwrap();
        assert!(chain.first_broken.is_none(), "{chain:?}");
        // Each customer recalled now: exactly one audit entry naming it, its former owner, pool
        // and reason (what the audit page and the customer's history show).
        let mut recalled: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for (_, v) in &state["audit"] {
            let e: zhudai::store::audit::AuditEntry =
                zhudai::store::codec::decode("audit", v).unwrap();
            if e.action == "customer.recalled" && e.at == now {
                recalled
                    .entry(e.target.unwrap())
                    .or_default()
                    .push(e.detail);
            }
        }
        let recalls: Vec<_> = r.actions.iter().filter(|a| a.action == "recall").collect();
        assert_eq!(recalled.len(), recalls.len());
        for a in recalls {
            assert_eq!(
                recalled[&a.customer_id],
                vec![serde_json::json!({
                    "from": a.owner_id, "pool_id": a.pool_id, "reason": a.reason,
                })],
                "{}",
                a.customer_id
            );
        }
        // Again at the same instant: nothing more to recall, no second warning today.
        let events = state["customer_events"].len();
        let again = app.pools().sweep_at(now, false, 0).unwrap();
        assert_eq!((again.recalled, again.warned), (0, r.warned));
        assert_eq!(bin_rows(&app, tables::CUSTOMER_EVENTS).len(), events);
    }
}

/// The real sweep keeps one write transaction over several batches while no other writer
/// waits, and ends it after the batch during which one begins to wait.
#[test]
fn a_sweep_transaction_takes_several_batches_unless_a_writer_waits() {
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let first = tempfile::tempdir().unwrap();
    fill(first.path(), clock.clone());
    let second = tempfile::tempdir().unwrap();
    common::copy_dir(first.path(), second.path());
    let now = common::epoch();
    let max = zhudai::service::pools::sweep::TX_MAX_BATCHES as u64;

    let app = open(first.path(), clock.clone());
    let before = app.store.commits();
    let alone = app.pools().sweep_in_batches(now, 1).unwrap();
    let actions = alone.recalled + alone.warned;
    assert!(actions > 2 * max, "{alone:?}");
    assert_eq!(
        app.store.commits() - before,
        actions.div_ceil(max),
        "batches of one, {max} to a transaction"
    );
    drop(app);

    let app = open(second.path(), clock.clone());
    let before = app.store.commits();
    let waiting = app.store.waiting_writer();
    let yielding = app.pools().sweep_in_batches(now, 1).unwrap();
    drop(waiting);
    assert_eq!(
        (yielding.recalled, yielding.warned),
        (alone.recalled, alone.warned)
    );
    assert_eq!(
        app.store.commits() - before,
        actions,
        "a transaction per batch while a writer waits"
    );
}

//! The rollups the admin's reports read (issue 21.5, schema 34) agree with what they roll up:
//! the `owner_touch` buckets give the same hoarding count as counting the keys, at every cutoff
//! (day and 32-day-block boundaries included); the fee rollups give the same paid, refunded and
//! outstanding figures as the accounts, for any period (partial months, whole months, across a
//! month boundary), through every change of an account (payment, refund, waiver, new officer);
//! the 33 → 34 upgrade builds exactly what the writes keep, also when run in small batches.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::json;
use zhudai::domain::fee::{FeeAccount, PayMethod, Payment, Refund, Waiver};
use zhudai::store::deals::SeesDeals;
use zhudai::store::{Store, fees, report_keys};

struct All;
impl SeesDeals for All {
    fn users(&self) -> Option<&BTreeSet<String>> {
        None
    }
}
struct Only(BTreeSet<String>);
impl SeesDeals for Only {
    fn users(&self) -> Option<&BTreeSet<String>> {
        Some(&self.0)
    }
}

async fn owned(admin: &Client, n: u32, owner: &str) -> String {
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": format!("客户{n}"), "phone": format!("137{n:08}"), "owner_id": owner}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// Bucketed hoarding = the keys counted, for cutoffs every 7 hours over the whole span.
fn assert_stale_exact(store: &Store, owner: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
    let mut cutoff = from;
    let mut nonzero = 0;
    while cutoff <= to {
        let (fast, slow) = store
            .read(|tx| {
                Ok::<_, zhudai::store::Error>((
                    report_keys::stale(tx, owner, cutoff)?,
                    report_keys::stale_by_keys(tx, owner, cutoff)?,
                ))
            })
            .unwrap();
        assert_eq!(fast, slow, "cutoff {cutoff}");
        nonzero += usize::from(slow > 0);
        cutoff += Duration::hours(7);
    }
    assert!(nonzero > 0);
    let drift = store.read(report_keys::bucket_drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

#[tokio::test]
async fn hoarding_buckets_count_what_the_keys_count_at_every_cutoff() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let t0 = s.app.now();
    let mut ids = Vec::new();
    // Customers taken on over ~80 days (several 32-day blocks), at odd hours.
    for n in 0..14u32 {
        let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
        ids.push(owned(&admin, n, if n % 3 == 0 { &li } else { &sun }).await);
        s.clock
            .advance(Duration::hours(i64::from(5 + (n * 37) % 140)));
    }
    // Follow-ups move some to later buckets (and out of their old ones).
    let sun_c = s.login("sun", TEAM_PASSWORD).await;
    for id in ids.iter().skip(1).step_by(3) {
        let (st, v) = sun_c
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "沟通"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    s.clock.advance(Duration::days(3));
    let now = s.app.now();
    assert_stale_exact(&s.app.store, &sun, t0 - Duration::days(1), now);
    assert_stale_exact(&s.app.store, &li, t0 - Duration::days(1), now);

    // The activity report's hoarding is the bucketed count: for idle_days 1..=90 it equals
    // the keys counted at the same cutoff.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for idle in [1u32, 2, 3, 7, 10, 31, 32, 33, 45, 64, 90] {
        let (st, t) = admin
            .get(&format!("/api/v1/reports/activity?idle_days={idle}"))
            .await;
        assert_eq!(st, 200, "{t}");
        let want = s
            .app
            .store
            .read(|tx| report_keys::stale_by_keys(tx, &sun, now - Duration::days(idle.into())))
            .unwrap();
        let got = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["user_id"] == sun.as_str())
            .unwrap()["hoarding"]
            .as_u64()
            .unwrap();
        assert_eq!(got, want, "idle_days {idle}: {t}");
    }

    // Transfer, delete, erase and a recall sweep move the buckets with the keys.
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/transfer", ids[1]),
            json!({"to_user": li}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let (st, v) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", ids[2]),
            None,
        )
        .await;
    assert!(st.is_success(), "{v}");
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/erase", ids[4]),
            json!({"request_ref": "PIPL-9"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let now = s.app.now();
    assert_stale_exact(&s.app.store, &sun, t0 - Duration::days(1), now);
    assert_stale_exact(&s.app.store, &li, t0 - Duration::days(1), now);
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "settings": {"no_signing_days": null}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    s.clock.advance(Duration::days(40));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(st, 200, "{r}");
    let drift = s.app.store.read(report_keys::bucket_drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    let now = s.app.now();
    for u in [&sun, &li] {
        let left = s
            .app
            .store
            .read(|tx| report_keys::stale_by_keys(tx, u, now + Duration::days(1)))
            .unwrap();
        let fast = s
            .app
            .store
            .read(|tx| report_keys::stale(tx, u, now + Duration::days(1)))
            .unwrap();
        assert_eq!(fast, left);
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn pay(id: &str, fen: i64, on: &str) -> Payment {
    Payment {
        id: id.into(),
        amount_fen: fen,
        paid_on: day(on),
        method: PayMethod::Transfer,
        payer: None,
        receipt_no: id.into(),
        recorded_by: "u".into(),
        recorded_at: Utc::now(),
    }
}

fn refund(id: &str, fen: i64, on: &str) -> Refund {
    Refund {
        id: id.into(),
        amount_fen: fen,
        refunded_on: day(on),
        reason: "退".into(),
        recorded_by: "u".into(),
        recorded_at: Utc::now(),
    }
}

fn account(deal: &str, officer: &str, disbursed: &str, fee: i64) -> FeeAccount {
    FeeAccount {
        deal_id: deal.into(),
        officer_id: officer.into(),
        disbursed_on: day(disbursed),
        disbursed_fen: 10_000_000,
        fee_fen: fee,
        fee_rule: "test".into(),
        rebate_fen: 0,
        payments: vec![],
        refunds: vec![],
        waivers: vec![],
        rebate_receipts: vec![],
        lines: vec![],
    }
}

/// Paid and refunded per officer on `from..=to`, and outstanding per officer and
/// disbursement day, straight from the accounts.
type Brute = (
    BTreeMap<String, (i64, i64)>,
    BTreeMap<String, Vec<(NaiveDate, i64)>>,
);

fn brute(accounts: &[FeeAccount], from: NaiveDate, to: NaiveDate) -> Brute {
    let mut moved: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut due: BTreeMap<String, BTreeMap<NaiveDate, i64>> = BTreeMap::new();
    for a in accounts {
        let e = moved.entry(a.officer_id.clone()).or_default();
        for p in a
            .payments
            .iter()
            .filter(|p| p.paid_on >= from && p.paid_on <= to)
        {
            e.0 += p.amount_fen;
        }
        for r in a
            .refunds
            .iter()
            .filter(|r| r.refunded_on >= from && r.refunded_on <= to)
        {
            e.1 += r.amount_fen;
        }
        if a.balance() > 0 {
            *due.entry(a.officer_id.clone())
                .or_default()
                .entry(a.disbursed_on)
                .or_default() += a.balance();
        }
    }
    (
        moved,
        due.into_iter()
            .map(|(o, m)| (o, m.into_iter().collect()))
            .collect(),
    )
}

/// Every period between 2026-01-25 and 2026-04-05 (every third day as a start and an end):
/// the rollups equal the accounts, per officer; `fees::drift` finds nothing.
fn assert_rollups_exact(store: &Store, accounts: &[FeeAccount]) {
    let officers = ["o1", "o2", "o3"];
    let first = day("2026-01-25");
    let last = day("2026-04-05");
    let mut from = first;
    while from <= last {
        let mut to = from;
        while to <= last {
            let (moved, due) = brute(accounts, from, to);
            store
                .read(|tx| {
                    let r = fees::Reader::scoped(tx, &All);
                    for o in officers {
                        let want = moved.get(o).copied().unwrap_or((0, 0));
                        assert_eq!(r.paid_refunded(o, from, to)?, want, "{o} {from}..={to}");
                        let want_due = due.get(o).cloned().unwrap_or_default();
                        assert_eq!(r.outstanding_by_day(o)?, want_due, "{o}");
                    }
                    Ok::<_, zhudai::store::Error>(())
                })
                .unwrap();
            to += Duration::days(3);
        }
        from += Duration::days(3);
    }
    // (The month totals `vol/`, `in/` are the payment use case's, not written here.)
    let drift: Vec<String> = store
        .read(fees::drift)
        .unwrap()
        .into_iter()
        .filter(|d| !d.contains(" vol/") && !d.contains(" in/") && !d.contains(" out/"))
        .collect();
    assert!(drift.is_empty(), "{drift:?}");
}

fn put(store: &Store, accounts: &mut Vec<FeeAccount>, a: FeeAccount) {
    let i = accounts.iter().position(|x| x.deal_id == a.deal_id);
    let before = i.map(|i| accounts[i].clone());
    store
        .write(|tx| fees::put_account(tx, before.as_ref(), &a))
        .unwrap();
    match i {
        Some(i) => accounts[i] = a,
        None => accounts.push(a),
    }
}

#[tokio::test]
async fn fee_rollups_equal_the_accounts_for_any_period_and_every_change() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let store = &s.app.store;
    let mut accounts = Vec::new();
    // Payments either side of month ends (31 Jan / 1 Feb, 28 Feb / 1 Mar, 31 Mar / 1 Apr).
    let mut a = account("d1", "o1", "2026-01-20", 300_000);
    a.payments = vec![
        pay("p1", 100_000, "2026-01-31"),
        pay("p2", 50_000, "2026-02-01"),
        pay("p3", 20_000, "2026-02-28"),
    ];
    put(store, &mut accounts, a);
    let mut b = account("d2", "o1", "2026-01-20", 200_000);
    b.payments = vec![pay("p4", 200_000, "2026-03-01")];
    put(store, &mut accounts, b);
    let mut c = account("d3", "o2", "2026-02-10", 500_000);
    c.payments = vec![
        pay("p5", 70_000, "2026-03-31"),
        pay("p6", 30_000, "2026-04-01"),
    ];
    put(store, &mut accounts, c);
    assert_rollups_exact(store, &accounts);

    // A refund, a later payment, a waiver.
    let mut a = accounts[0].clone();
    a.refunds.push(refund("r1", 40_000, "2026-03-02"));
    a.payments.push(pay("p7", 10_000, "2026-03-15"));
    put(store, &mut accounts, a);
    let mut c = accounts[2].clone();
    c.waivers.push(Waiver {
        id: "w1".into(),
        amount_fen: 100_000,
        reason: "减免".into(),
        by: "u".into(),
        at: Utc::now(),
    });
    put(store, &mut accounts, c);
    assert_rollups_exact(store, &accounts);

    // The deal moves to another officer: every figure moves with it.
    let mut a = accounts[0].clone();
    a.officer_id = "o3".into();
    put(store, &mut accounts, a);
    // Paid in full: nothing outstanding.
    let mut b = accounts[1].clone();
    b.fee_fen = 200_000;
    put(store, &mut accounts, b);
    assert_rollups_exact(store, &accounts);

    // Scope: an officer the caller does not see gives nothing.
    store
        .read(|tx| {
            let only = Only(BTreeSet::from(["o2".to_string()]));
            let r = fees::Reader::scoped(tx, &only);
            assert_eq!(
                r.paid_refunded("o3", day("2026-01-01"), day("2026-04-30"))?,
                (0, 0)
            );
            assert!(r.outstanding_by_day("o3")?.is_empty());
            assert_eq!(
                r.paid_refunded("o2", day("2026-01-01"), day("2026-04-30"))?,
                (100_000, 0)
            );
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
}

/// The rollup rows of a store: the buckets and the fee rollups.
type Rollups = (Vec<(String, u8, i64, u64)>, Vec<(String, i64)>);

fn rollup_rows(store: &Store) -> Rollups {
    use redb::ReadableTable;
    use zhudai::store::tables;
    store
        .read(|tx| {
            let buckets = tx
                .open_table(tables::OWNER_TOUCH_BUCKETS)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    let (o, l, b) = k.value();
                    (o.to_string(), l, b, v.value())
                })
                .collect();
            let totals = tx
                .open_table(tables::FEE_TOTALS)?
                .iter()?
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.value().to_string(), v.value())
                })
                .filter(|(k, _)| fees::ROLLUP_FAMILIES.iter().any(|f| k.starts_with(f)))
                .collect();
            Ok::<_, zhudai::store::Error>((buckets, totals))
        })
        .unwrap()
}

/// The 33 → 34 upgrade counts the buckets and the fee rollups from `owner_touch` and the
/// accounts: a store without them comes back with exactly what the writes kept. And the
/// batches resume: run two keys or accounts at a time, they build the same.
#[tokio::test]
async fn the_upgrade_builds_the_rollups_the_writes_keep() {
    use zhudai::store::{migrate, tables};
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    for n in 0..5u32 {
        let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
        owned(&admin, n, &sun).await;
        s.clock.advance(Duration::days(11));
    }
    let mut accounts = Vec::new();
    for (i, officer) in ["o1", "o2", "o1"].iter().enumerate() {
        let mut a = account(&format!("d{i}"), officer, "2026-02-03", 300_000);
        a.payments = vec![pay(&format!("p{i}"), 10_000 * (i as i64 + 1), "2026-02-27")];
        a.refunds = vec![refund(&format!("r{i}"), 1_000, "2026-03-03")];
        put(&s.app.store, &mut accounts, a);
    }
    let leads_kept = lead_rows(&s.app.store);
    assert!(!leads_kept.is_empty());
    let drift = s.app.store.read(zhudai::store::funnel::lead_drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    let kept = rollup_rows(&s.app.store);
    assert!(kept.0.len() >= 4 && kept.1.len() == 10, "{kept:?}");

    // Small resumable batches build the same.
    let (ready_buckets, ready_fees) = s
        .app
        .store
        .write(|tx| {
            tx.delete_table(tables::OWNER_TOUCH_BUCKETS)?;
            tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
            fees::clear_rollups(tx)?;
            let mut after: Option<String> = None;
            loop {
                let (last, n) = report_keys::buckets_batch(tx, after.as_deref(), 2)?;
                if n < 2 {
                    break;
                }
                after = last;
            }
            let mut after: Option<String> = None;
            loop {
                let (last, n) = fees::rollups_batch(tx, after.as_deref(), 2)?;
                if n < 2 {
                    break;
                }
                after = last;
            }
            Ok::<_, zhudai::store::Error>((true, true))
        })
        .unwrap();
    assert!(ready_buckets && ready_fees);
    assert_eq!(rollup_rows(&s.app.store), kept);

    // The upgrade from 32.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.redb");
    s.app.store.snapshot_to(&copy).unwrap();
    {
        let db = redb::Database::open(&copy).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::OWNER_TOUCH_BUCKETS).unwrap();
        {
            let mut t = tx.open_table(tables::FEE_TOTALS).unwrap();
            for (k, _) in &kept.1 {
                t.remove(k.as_str()).unwrap();
            }
            let mut c = tx.open_table(tables::COUNTERS).unwrap();
            for (k, _) in &leads_kept {
                c.remove(k.as_str()).unwrap();
            }
        }
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 33)
            .unwrap();
        tx.commit().unwrap();
    }
    let migrated = common::open_keyed(s.dir.path(), &copy);
    assert_eq!(
        migrate::stored_version(&migrated).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    assert_eq!(rollup_rows(&migrated), kept);
    assert_eq!(lead_rows(&migrated), leads_kept);
}

/// The lead counters `fl/…` of a store.
fn lead_rows(store: &Store) -> Vec<(String, u64)> {
    store
        .read(|tx| {
            let mut out = Vec::new();
            zhudai::store::pools::visit_counters(tx, "fl/", "fl0", |k, v| {
                out.push((k.to_string(), v));
            })?;
            Ok::<_, zhudai::store::Error>(out)
        })
        .unwrap()
}

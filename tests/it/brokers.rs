//! Issue 22.5 and 19.4: brokers (经纪人). An admin creates a broker tied to a channel; the
//! broker refers borrowers with consent and sees their own referrals masked with a status;
//! a referral de-duplicates like an application; the deal keeps the broker through to a
//! referral fee (`broker.fee`), finance's payable, and a cost of the channel in the ROI report.
//! That a broker reaches nothing else is walked in tests/it/scope_walk.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

fn today() -> (String, String) {
    let d = (common::epoch() + chrono::Duration::hours(8)).date_naive();
    (d.to_string(), d.format("%Y-%m").to_string())
}

pub const BROKER: &str = "wang_broker";

/// A channel of kind 经纪人 and a broker account on it; returns (channel id, broker id).
pub async fn broker(s: &TestServer, admin: &Client) -> (String, String) {
    let (st, ch) = admin
        .post(
            "/api/v1/channels",
            json!({"name": "经纪人-王", "kind": "经纪人"}),
        )
        .await;
    assert_eq!(st, 201, "{ch}");
    let channel = ch["id"].as_str().unwrap().to_string();
    let (st, u) = admin
        .post(
            "/api/v1/users",
            json!({"username": BROKER, "display_name": "王经纪", "password": TEAM_PASSWORD,
                   "roles": ["broker"], "phone": "13900001111",
                   "broker": {"channel_id": channel, "company": "某某咨询"}}),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    let _ = s;
    (channel, u["id"].as_str().unwrap().to_string())
}

pub fn referral(name: &str, phone: &str) -> Value {
    json!({"name": name, "phone": phone, "city": "成都", "amount_wan": 30,
           "purpose": "经营周转", "consent": true, "consent_version": 1})
}

async fn customer_id(admin: &Client, phone: &str) -> String {
    let (st, d) = admin
        .post("/api/v1/customers/check-duplicate", json!({"phone": phone}))
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["matches"].as_array().unwrap().len(), 1, "{d}");
    d["matches"][0]["customer_id"].as_str().unwrap().to_string()
}

fn channel_row(r: &Value, name: &str) -> Value {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["label"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no row {name}: {r}"))
}

async fn report(c: &Client, month: &str) -> Value {
    let (st, r) = c
        .get(&format!("/api/v1/reports/channels?from={month}&to={month}"))
        .await;
    assert_eq!(st, 200, "{r}");
    channel_row(&r, "经纪人-王")
}

#[tokio::test]
async fn broker_accounts_hold_the_broker_role_alone_and_name_a_channel() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, ch) = admin
        .post(
            "/api/v1/channels",
            json!({"name": "经纪人", "kind": "经纪人"}),
        )
        .await;
    assert_eq!(st, 201, "{ch}");
    let base = json!({"username": "b1", "display_name": "甲", "password": TEAM_PASSWORD,
                      "roles": ["broker"]});
    let field = |v: &Value| v["error"]["field"].as_str().unwrap_or("").to_string();
    let (st, v) = admin.post("/api/v1/users", base.clone()).await;
    assert_eq!((st.as_u16(), field(&v)), (400, "broker".into()), "{v}");
    let mut b = base.clone();
    b["broker"] = json!({"channel_id": "nope"});
    let (st, v) = admin.post("/api/v1/users", b).await;
    assert_eq!((st.as_u16(), field(&v)), (400, "broker.channel_id".into()));
    let mut b = base.clone();
    b["roles"] = json!(["broker", "sales"]);
    b["broker"] = json!({"channel_id": ch["id"]});
    let (st, v) = admin.post("/api/v1/users", b).await;
    assert_eq!((st.as_u16(), field(&v)), (400, "roles".into()));
    // Staff cannot be made brokers, nor a broker staff.
    let sales = common::add_user(&s, "xiao", &["sales"], None);
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{sales}"),
            Some(json!({"roles": ["broker"]})),
        )
        .await;
    assert_eq!((st.as_u16(), field(&v)), (400, "broker".into()), "{v}");
    let mut b = base.clone();
    b["broker"] = json!({"channel_id": ch["id"], "company": "某某咨询"});
    let (st, u) = admin.post("/api/v1/users", b).await;
    assert_eq!(st, 201, "{u}");
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", u["id"].as_str().unwrap()),
            Some(json!({"roles": ["broker", "sales"]})),
        )
        .await;
    assert_eq!((st.as_u16(), field(&v)), (400, "roles".into()), "{v}");
    let (st, list) = admin.get("/api/v1/brokers").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list[0]["channel_name"], "经纪人");
    assert_eq!(list[0]["company"], "某某咨询");
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    assert_eq!(xiao.get("/api/v1/brokers").await.0, 403);
    // A salesperson is no broker: the portal refuses them.
    assert_eq!(xiao.get("/api/v1/broker/referrals").await.0, 403);
}

#[tokio::test]
async fn a_referral_follows_through_to_the_deal_a_referral_fee_and_the_channel_cost() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (day, month) = today();
    let (channel, broker_id) = broker(&s, &admin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "cai", &["finance"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let cai = s.login("cai", TEAM_PASSWORD).await;
    let (st, v) = cai
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/channels/{channel}/costs/{month}"),
            Some(json!({"cost_fen": 100_000})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let b = s.login(BROKER, TEAM_PASSWORD).await;

    let (st, p) = b.get("/api/v1/broker/portal").await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        (&p["channel"], &p["company"], &p["consent_version"]),
        (&json!("经纪人-王"), &json!("某某咨询"), &json!(1))
    );
    // Consent first; an outdated consent text is refused.
    let mut r = referral("赵小龙", "13922223333");
    r["consent"] = json!(false);
    let (st, v) = b.post("/api/v1/broker/referrals", r).await;
    assert_eq!(
        (st.as_u16(), &v["error"]["field"]),
        (400, &json!("consent"))
    );
    let mut r = referral("赵小龙", "13922223333");
    r["consent_version"] = json!(0);
    let (st, v) = b.post("/api/v1/broker/referrals", r).await;
    assert_eq!(
        (st.as_u16(), &v["error"]["code"]),
        (409, &json!("referral_consent_outdated"))
    );
    let (st, v) = b
        .post(
            "/api/v1/broker/referrals",
            referral("赵小龙", "13922223333"),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        (&v["existing"], &v["status"]),
        (&json!(false), &json!("following"))
    );

    // The customer: the broker's channel, the consent version, assigned by the rule (the
    // only salesperson), never to the broker.
    let id = customer_id(&admin, "13922223333").await;
    let (st, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["channel"], "经纪人-王");
    assert_ne!(c["owner_id"], json!(broker_id));
    let (_, tl) = admin.get(&format!("/api/v1/customers/{id}/timeline")).await;
    assert!(tl.to_string().contains("经纪人 王经纪"), "{tl}");

    // The same borrower again: no second record; the broker hears 已有客户, nothing more; the
    // owner is told.
    let owner = c["owner_id"].as_str().unwrap().to_string();
    let (st, v) = b
        .post(
            "/api/v1/broker/referrals",
            referral("赵小龙", "139 2222 3333"),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        (&v["existing"], &v["message"]),
        (&json!(true), &json!("已有客户"))
    );
    assert!(!v.to_string().contains(&owner), "{v}");
    customer_id(&admin, "13922223333").await;
    let (_, n) = xiao.get("/api/v1/notices").await;
    assert!(
        n["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "referred"),
        "{n}"
    );

    // The broker's list: masked, a status, nothing of the firm's work.
    let (st, list) = b.get("/api/v1/broker/referrals").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"], 2);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["status_label"], "已有客户");
    assert_eq!(
        (
            &items[1]["name"],
            &items[1]["phone"],
            &items[1]["status_label"]
        ),
        (&json!("赵**"), &json!("139****3333"), &json!("待跟进"))
    );
    let text = list.to_string();
    for leak in ["赵小龙", "13922223333", &id, &owner] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    // Nothing else: the customer, the customer list, the notices.
    assert_eq!(b.get(&format!("/api/v1/customers/{id}")).await.0, 403);
    assert_eq!(b.get("/api/v1/customers").await.0, 403);
    assert_eq!(b.get("/api/v1/finance/referral-fees").await.0, 403);

    // The deal keeps the broker: signed → 已签约; disbursed and the fee collected → 已放款
    // and a referral fee of 20% of the fee collected, rounded down to the fen.
    let mut p = crate::products::salary_loan();
    p["fee"] = json!({"kind": "rate", "rate_bp": 300});
    p.as_object_mut().unwrap().remove("rebate_bp");
    let (st, p) = admin.post("/api/v1/products", p).await;
    assert_eq!(st, 201, "{p}");
    let (st, d) = admin
        .post(
            "/api/v1/deals",
            json!({"customer_id": id, "product_id": p["id"], "amount_fen": 10_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let deal = d["id"].as_str().unwrap().to_string();
    assert_eq!(
        (&d["broker_id"], &d["broker_name"]),
        (&json!(broker_id), &json!("王经纪")),
        "the deal keeps the broker: {d}"
    );
    let status = |list: &Value| list["items"][1]["status_label"].clone();
    for (k, body) in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
        json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
               "disbursed_on": day, "rate_bp": 1200, "term_months": 12,
               "method": "annuity", "first_repayment_date": "2099-01-02"}),
    ]
    .into_iter()
    .enumerate()
    {
        let (st, v) = admin
            .post(&format!("/api/v1/deals/{deal}/stage"), body)
            .await;
        assert_eq!(st, 200, "{v}");
        if k == 1 {
            let (_, list) = b.get("/api/v1/broker/referrals").await;
            assert_eq!(status(&list), "已签约");
        }
    }
    let (_, list) = b.get("/api/v1/broker/referrals").await;
    assert_eq!(status(&list), "已放款");
    let before = report(&cai, &month).await;
    assert_eq!(
        (&before["cost_fen"], &before["broker_fees_fen"]),
        (&json!(100_000), &json!(0))
    );
    // 3% of 80,000 元 = 2,400 元, paid in two parts; the fee falls due when it is collected.
    for (fen, no) in [(100_001, "R-1"), (139_999, "R-2")] {
        let (_, fees) = cai.get("/api/v1/finance/referral-fees").await;
        assert_eq!(fees["total"], 0, "{fees}");
        let (st, v) = cai
            .post(
                &format!("/api/v1/deals/{deal}/payments"),
                json!({"amount_fen": fen, "paid_on": day, "method": "transfer",
                       "payer": "赵小龙", "receipt_no": no}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, fees) = cai.get("/api/v1/finance/referral-fees").await;
    assert_eq!(st, 200, "{fees}");
    assert_eq!(fees["total"], 1, "{fees}");
    let f = &fees["items"][0];
    assert_eq!(
        (
            &f["deal_id"],
            &f["base_fen"],
            &f["amount_fen"],
            &f["month"],
            &f["broker_name"]
        ),
        (
            &json!(deal),
            &json!(240_000),
            &json!(48_000),
            &json!(month),
            &json!("王经纪")
        )
    );
    // The ROI report: the channel's cost grows by exactly the fee.
    let after = report(&cai, &month).await;
    assert_eq!(
        (
            &after["cost_fen"],
            &after["broker_fees_fen"],
            &after["fees_fen"]
        ),
        (&json!(148_000), &json!(48_000), &json!(240_000))
    );
    // (240,000 − 148,000) / 148,000 = 0.62162… → 6,216 bp.
    assert_eq!(after["roi_bp"], 6_216);

    // Finance marks it paid, once, audited; a salesperson may not.
    let fid = f["id"].as_str().unwrap().to_string();
    let pay = json!({"paid_on": day});
    let path = format!("/api/v1/finance/referral-fees/{fid}/paid");
    assert_eq!(xiao.post(&path, pay.clone()).await.0, 403);
    // Not paid before it fell due (today, when the deal's fee was collected).
    let due = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap();
    let (st, e) = cai
        .post(
            &path,
            json!({"paid_on": (due - chrono::Duration::days(1)).to_string()}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("paid_on")),
        "{e}"
    );
    let (st, v) = cai.post(&path, pay.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["paid"]["paid_on"], json!(day));
    let (st, v) = cai.post(&path, pay).await;
    assert_eq!(
        (st.as_u16(), &v["error"]["code"]),
        (409, &json!("referral_fee_paid"))
    );
    let (_, unpaid) = cai.get("/api/v1/finance/referral-fees").await;
    assert_eq!(unpaid["total"], 0);
    let (_, paid) = cai
        .get(&format!(
            "/api/v1/finance/referral-fees?month={month}&status=paid"
        ))
        .await;
    assert_eq!(paid["total"], 1, "{paid}");
    let (_, audit) = admin.get("/api/v1/audit?action=broker.fee_paid").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    let (_, audit) = admin.get("/api/v1/audit?action=broker.fee_due").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // Disabled like any user: the session ends.
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{broker_id}"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(b.get("/api/v1/broker/referrals").await.0, 401);
}

/// A deal for `customer`, signed and disbursed 80,000 元 today with a 3% fee (2,400 元).
async fn disbursed(admin: &Client, customer: &str, day: &str) -> String {
    let mut p = crate::products::salary_loan();
    p["fee"] = json!({"kind": "rate", "rate_bp": 300});
    p.as_object_mut().unwrap().remove("rebate_bp");
    let (st, p) = admin.post("/api/v1/products", p).await;
    assert_eq!(st, 201, "{p}");
    let (st, d) = admin
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer, "product_id": p["id"], "amount_fen": 10_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let deal = d["id"].as_str().unwrap().to_string();
    for body in [
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
        json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
               "disbursed_on": day, "rate_bp": 1200, "term_months": 12,
               "method": "annuity", "first_repayment_date": "2099-01-02"}),
    ] {
        let (st, v) = admin
            .post(&format!("/api/v1/deals/{deal}/stage"), body)
            .await;
        assert_eq!(st, 200, "{v}");
    }
    deal
}

#[tokio::test]
async fn a_broker_sees_only_their_own_referrals_and_the_firms_fee_rule_decides_the_fee() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (day, _) = today();
    broker(&s, &admin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let (_, ch) = admin
        .post(
            "/api/v1/channels",
            json!({"name": "经纪人-李", "kind": "经纪人"}),
        )
        .await;
    let (st, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "li_broker", "display_name": "李经纪", "password": TEAM_PASSWORD,
                   "roles": ["broker"], "broker": {"channel_id": ch["id"]}}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let wang = s.login(BROKER, TEAM_PASSWORD).await;
    let li = s.login("li_broker", TEAM_PASSWORD).await;
    let (st, _) = wang
        .post(
            "/api/v1/broker/referrals",
            referral("赵小龙", "13922223333"),
        )
        .await;
    assert_eq!(st, 201);
    // 李 sees none of 王's; the same borrower from 李 is 已有客户, counted for nobody else.
    let (_, list) = li.get("/api/v1/broker/referrals").await;
    assert_eq!(list["total"], 0, "{list}");
    let (st, v) = li
        .post(
            "/api/v1/broker/referrals",
            referral("赵小龙", "13922223333"),
        )
        .await;
    assert_eq!((st.as_u16(), &v["existing"]), (201, &json!(true)));
    let (_, list) = li.get("/api/v1/broker/referrals").await;
    assert_eq!(
        (&list["total"], &list["items"][0]["status"]),
        (&json!(1), &json!("existing"))
    );
    let (_, list) = wang.get("/api/v1/broker/referrals").await;
    assert_eq!(
        (&list["total"], &list["items"][0]["status"]),
        (&json!(1), &json!("following"))
    );
    // The customer stays 王's referral (李's duplicate changes nothing).
    let id = customer_id(&admin, "13922223333").await;
    let (_, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(c["channel"], "经纪人-王");

    // A failing broker.fee refuses the payment that would collect the fee: nothing written.
    let deal = disbursed(&admin, &id, &day).await;
    let plugins = s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("broker.rhai"),
        "fn referral_fee(deal, ctx) { throw \"返佣方案未定\"; }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let pay = json!({"amount_fen": 240_000, "paid_on": day, "method": "transfer",
                     "payer": "赵小龙", "receipt_no": "R-1"});
    let (st, e) = admin
        .post(&format!("/api/v1/deals/{deal}/payments"), pay.clone())
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("plugin_failed")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("返佣方案未定")
    );
    let (_, f) = admin.get(&format!("/api/v1/deals/{deal}/fees")).await;
    assert_eq!(
        (&f["paid_fen"], &f["stage"]),
        (&json!(0), &json!("disbursed")),
        "{f}"
    );
    let (_, fees) = admin.get("/api/v1/finance/referral-fees").await;
    assert_eq!(fees["total"], 0);
    // The firm's own rule: a flat 500 元 a deal.
    std::fs::write(
        plugins.join("broker.rhai"),
        "fn referral_fee(deal, ctx) { #{ fee_fen: 50000, rule: \"每单500元\" } }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (st, v) = admin
        .post(&format!("/api/v1/deals/{deal}/payments"), pay)
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, fees) = admin.get("/api/v1/finance/referral-fees").await;
    assert_eq!(
        (
            &fees["items"][0]["amount_fen"],
            &fees["items"][0]["rule"],
            &fees["items"][0]["broker_name"]
        ),
        (&json!(50_000), &json!("每单500元"), &json!("王经纪"))
    );
}

#[tokio::test]
async fn a_broker_refers_at_most_200_borrowers_a_day() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    broker(&s, &admin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let b = s.login(BROKER, TEAM_PASSWORD).await;
    for i in 0..200 {
        let (st, v) = b
            .post(
                "/api/v1/broker/referrals",
                referral("钱多多", &format!("1370000{i:04}")),
            )
            .await;
        assert_eq!(st, 201, "{i}: {v}");
    }
    let (st, _) = b
        .post(
            "/api/v1/broker/referrals",
            referral("钱多多", "13700009999"),
        )
        .await;
    assert_eq!(st, 429);
    let (_, list) = b.get("/api/v1/broker/referrals?limit=5").await;
    assert_eq!(list["total"], 200, "the refused one wrote nothing");
    assert!(list["next_cursor"].is_string());
    let (st, next) = b
        .get(&format!(
            "/api/v1/broker/referrals?limit=5&cursor={}",
            list["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (st.as_u16(), next["items"].as_array().map(Vec::len)),
        (200, Some(5))
    );
    // A bad limit or cursor is a 400 naming it, not silently clamped or read as the start.
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("cursor=zzz", "cursor"),
    ] {
        let (st, e) = b.get(&format!("/api/v1/broker/referrals?{q}")).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some(field)),
            "{q}: {e}"
        );
    }
    // The next Asia/Shanghai day starts afresh (a new session: the old one timed out).
    s.clock.advance(chrono::Duration::days(1));
    let b = s.login(BROKER, TEAM_PASSWORD).await;
    let (st, v) = b
        .post(
            "/api/v1/broker/referrals",
            referral("钱多多", "13700009999"),
        )
        .await;
    assert_eq!(st, 201, "{v}");
}

/// Removing the payment that settled a broker's deal left it at 收费 with the fee owed again
/// and the referral fee still due. Now the deal goes back to 放款 (history, audit) and the
/// unpaid referral fee is voided (audited; off finance's list and the channel's cost); once
/// the broker was paid, the removal is refused (a refund instead) and nothing is written. A
/// fee recomputed above what was collected takes the deal back too.
#[tokio::test]
async fn removing_the_settling_payment_takes_the_deal_back_and_voids_the_referral_fee() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (day, month) = today();
    broker(&s, &admin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let b = s.login(BROKER, TEAM_PASSWORD).await;
    let (st, _) = b
        .post(
            "/api/v1/broker/referrals",
            referral("赵小龙", "13922223333"),
        )
        .await;
    assert_eq!(st, 201);
    let id = customer_id(&admin, "13922223333").await;
    let deal = disbursed(&admin, &id, &day).await;
    let pay = |no: &str| {
        json!({"amount_fen": 240_000, "paid_on": day, "method": "transfer",
               "payer": "赵小龙", "receipt_no": no})
    };
    let payments = format!("/api/v1/deals/{deal}/payments");
    let (st, f) = admin.post(&payments, pay("R-1")).await;
    assert_eq!((st.as_u16(), &f["stage"]), (201, &json!("fee_collected")));
    let pid = f["payments"][0]["id"].as_str().unwrap().to_string();
    let (_, fees) = admin.get("/api/v1/finance/referral-fees").await;
    assert_eq!(fees["total"], 1, "{fees}");
    assert_eq!(report(&admin, &month).await["broker_fees_fen"], 48_000);

    let remove = |pid: &str| format!("{payments}/{pid}?reason=%E5%BD%95%E9%94%99");
    let (st, f) = admin
        .call(reqwest::Method::DELETE, &remove(&pid), None)
        .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(
        (&f["stage"], &f["balance_fen"]),
        (&json!("disbursed"), &json!(240_000)),
        "{f}"
    );
    let (_, d) = admin.get(&format!("/api/v1/deals/{deal}")).await;
    let last = d["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&d["stage"], &last["from"], &last["to"]),
        (
            &json!("disbursed"),
            &json!("fee_collected"),
            &json!("disbursed")
        ),
        "{d}"
    );
    assert!(
        last["note"].as_str().unwrap().contains("回款删除"),
        "{last}"
    );
    let (_, audit) = admin
        .get("/api/v1/audit?action=deal.stage_changed&limit=50")
        .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["detail"]["to"] == "disbursed"
                && a["detail"]["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("回款删除"))),
        "{audit}"
    );
    // The referral fee is void: not due, not in the month, not a cost of the channel.
    let (_, fees) = admin.get("/api/v1/finance/referral-fees").await;
    assert_eq!(fees["total"], 0, "{fees}");
    let (_, fees) = admin
        .get(&format!("/api/v1/finance/referral-fees?month={month}"))
        .await;
    assert_eq!(fees["total"], 0, "{fees}");
    assert_eq!(report(&admin, &month).await["broker_fees_fen"], 0);
    let (_, audit) = admin.get("/api/v1/audit?action=broker.fee_voided").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit["items"][0]["detail"]["amount_fen"], 48_000, "{audit}");

    // Paid again: settled, a referral fee due again; finance pays the broker. Removing the
    // payment now is refused and nothing is written.
    let (st, f) = admin.post(&payments, pay("R-2")).await;
    assert_eq!((st.as_u16(), &f["stage"]), (201, &json!("fee_collected")));
    let pid = f["payments"][0]["id"].as_str().unwrap().to_string();
    let (_, fees) = admin.get("/api/v1/finance/referral-fees").await;
    assert_eq!(fees["total"], 1, "{fees}");
    let fid = fees["items"][0]["id"].as_str().unwrap().to_string();
    let (st, v) = admin
        .post(
            &format!("/api/v1/finance/referral-fees/{fid}/paid"),
            json!({"paid_on": day}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, e) = admin
        .call(reqwest::Method::DELETE, &remove(&pid), None)
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("payment_referral_fee_paid")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("退款"),
        "{e}"
    );
    let (_, f) = admin.get(&format!("/api/v1/deals/{deal}/fees")).await;
    assert_eq!(
        (&f["stage"], &f["balance_fen"]),
        (&json!("fee_collected"), &json!(0)),
        "{f}"
    );
    let (_, paid) = admin
        .get(&format!(
            "/api/v1/finance/referral-fees?month={month}&status=paid"
        ))
        .await;
    assert_eq!(paid["total"], 1, "{paid}");

    // The firm's fee rule rises to 3,000 元: recomputed, 600 元 is owed again and the deal
    // goes back to 放款; the paid referral fee stays (it was paid on money collected).
    let plugins = s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("fee.rhai"),
        "fn fee(deal, ctx) { #{ fee_fen: 300000, rule: \"每笔 3000 元\" } }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (st, f) = admin
        .post(
            &format!("/api/v1/deals/{deal}/fee-recompute"),
            json!({"reason": "费率调整"}),
        )
        .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(
        (&f["stage"], &f["balance_fen"]),
        (&json!("disbursed"), &json!(60_000)),
        "{f}"
    );
    let (_, paid) = admin
        .get(&format!(
            "/api/v1/finance/referral-fees?month={month}&status=paid"
        ))
        .await;
    assert_eq!(paid["total"], 1, "{paid}");
    // Paid in full again: 收费, and no second referral fee (one per deal).
    let (st, f) = admin
        .post(
            &payments,
            json!({"amount_fen": 60_000, "paid_on": day, "method": "transfer",
                   "payer": "赵小龙", "receipt_no": "R-3"}),
        )
        .await;
    assert_eq!((st.as_u16(), &f["stage"]), (201, &json!("fee_collected")));
    let (_, all) = admin
        .get(&format!("/api/v1/finance/referral-fees?month={month}"))
        .await;
    assert_eq!(all["total"], 1, "{all}");
}

/// Review (session 30): voiding a referral fee took its cost out of its channel's month even
/// when that month was closed, changing final figures. A fee recomputed upward after the fee's
/// month closed is now refused (409 month_closed) and nothing is written.
#[tokio::test]
async fn a_referral_fee_in_a_closed_month_is_not_voided() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (day, month) = today();
    broker(&s, &admin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let b = s.login(BROKER, TEAM_PASSWORD).await;
    let (st, _) = b
        .post(
            "/api/v1/broker/referrals",
            referral("孙小美", "13922224444"),
        )
        .await;
    assert_eq!(st, 201);
    let id = customer_id(&admin, "13922224444").await;
    let deal = disbursed(&admin, &id, &day).await;
    let (st, f) = admin
        .post(
            &format!("/api/v1/deals/{deal}/payments"),
            json!({"amount_fen": 240_000, "paid_on": day, "method": "transfer",
                   "payer": "孙小美", "receipt_no": "R-1"}),
        )
        .await;
    assert_eq!((st.as_u16(), &f["stage"]), (201, &json!("fee_collected")));
    assert_eq!(report(&admin, &month).await["broker_fees_fen"], 48_000);

    // Into the next month; the fee's month is closed.
    s.clock.advance(chrono::Duration::days(15));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(&format!("/api/v1/finance/months/{month}/close"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let plugins = s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("fee.rhai"),
        "fn fee(deal, ctx) { #{ fee_fen: 300000, rule: \"每笔 3000 元\" } }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (st, e) = admin
        .post(
            &format!("/api/v1/deals/{deal}/fee-recompute"),
            json!({"reason": "费率调整"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_closed")),
        "{e}"
    );
    let (_, f) = admin.get(&format!("/api/v1/deals/{deal}/fees")).await;
    assert_eq!(
        (&f["stage"], &f["fee_fen"]),
        (&json!("fee_collected"), &json!(240_000)),
        "nothing written: {f}"
    );
    assert_eq!(report(&admin, &month).await["broker_fees_fen"], 48_000);
}

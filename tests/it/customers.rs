//! Customers: validation, masking, scope on every read, duplicate refusal (also under
//! concurrency), the scope-safe duplicate check, reveals with privilege and quota, and no
//! plaintext phone or ID number in the store file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::service::org::users::Actor;

const PASS: &str = common::TEAM_PASSWORD;
// A valid 18-digit number (GB 11643 check digit) from the standard's worked example.
const ID_NUMBER: &str = "11010519491231002X";

struct World {
    s: TestServer,
    admin: Client,
    mgr_a: Client,
    sales_a: Client,
    sales_b: Client,
}

async fn world() -> World {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let op = Actor::Operator;
    let a = s
        .app
        .org()
        .create_department(
            &op,
            zhudai::service::org::DepartmentInput {
                name: "一部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let b = s
        .app
        .org()
        .create_department(
            &op,
            zhudai::service::org::DepartmentInput {
                name: "二部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    for (name, role, dept) in [
        ("mgr_a", "manager", &a),
        ("sales_a", "sales", &a),
        ("sales_b", "sales", &b),
    ] {
        s.app
            .org()
            .update_user(
                &op,
                &common::add_user(&s, name, &[role], Some(dept)),
                zhudai::service::org::users::UserPatch {
                    display_name: Some(format!("{name}显示名")),
                    ..Default::default()
                },
                "t",
            )
            .unwrap();
    }
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mgr_a = s.login("mgr_a", PASS).await;
    let sales_a = s.login("sales_a", PASS).await;
    let sales_b = s.login("sales_b", PASS).await;
    World {
        s,
        admin,
        mgr_a,
        sales_a,
        sales_b,
    }
}

fn zhang() -> Value {
    json!({"name": "张三丰", "phone": "+86 138-0013-8000", "id_number": ID_NUMBER, "city": "成都",
           "company": "成都某某科技有限公司", "channel": "抖音广告", "grade": "B", "stars": 3,
           "tags": ["有房", "公积金"], "demand": {"amount_fen": 30000000, "term_months": 36, "purpose": "经营周转"},
           "profile": {"occupation": "employee", "monthly_income_fen": 1500000, "credit": {"overdue_count_2y": 0, "inquiries_3m": 2}}})
}

#[tokio::test]
async fn create_validates_masks_and_derives() {
    let w = world().await;
    for (change, field) in [
        (json!({"name": ""}), "name"),
        (json!({"phone": "1380013800"}), "phone"),
        (json!({"id_number": "110105194912310021"}), "id_number"),
        (json!({"grade": "Z"}), "grade"),
        (json!({"demand": {"amount_fen": -5}}), "demand.amount_fen"),
    ] {
        let mut body = zhang();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (st, e) = w.sales_a.post("/api/v1/customers", body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some(field)),
            "{e}"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .chars()
                .any(|c| c > '\u{2e80}'),
            "Chinese reason: {e}"
        );
    }
    let (st, c) = w.sales_a.post("/api/v1/customers", zhang()).await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["phone"], "138****8000");
    assert_eq!(c["id_number"], "110105********002X");
    assert_eq!(c["gender"], "female");
    // Age and gender, never the birth date: it is the 8 digits the masked number hides (this
    // test used to expect "1949-12-31" here, which handed every reader the whole ID number).
    assert_eq!(c["age"], 76);
    assert!(c.get("birth_date").is_none(), "{c}");
    assert_eq!(c["stage"], "lead");
    assert_eq!(c["demand"]["amount_fen"], 30000000);
    let (_, me) = w.sales_a.get("/api/v1/me").await;
    assert_eq!(c["owner_id"], me["user"]["id"]);
    w.s.stop().await;
}

#[tokio::test]
async fn scope_applies_to_read_list_edit_and_delete() {
    let w = world().await;
    let (_, c) = w.sales_a.post("/api/v1/customers", zhang()).await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/api/v1/customers/{id}");
    let (st, other) = w
        .sales_b
        .post(
            "/api/v1/customers",
            json!({"name": "李四", "phone": "13900139000"}),
        )
        .await;
    assert_eq!(st, 201, "{other}");

    assert_eq!(w.sales_a.get(&path).await.0, 200);
    assert_eq!(w.mgr_a.get(&path).await.0, 200, "manager of the department");
    assert_eq!(w.admin.get(&path).await.0, 200);
    let (st, e) = w.sales_b.get(&path).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (404, Some("not_found")),
        "out of scope looks absent"
    );
    assert_eq!(
        w.sales_b
            .get("/api/v1/customers/01NOSUCHCUSTOMER000000000")
            .await
            .0,
        404
    );
    assert_eq!(
        w.sales_b
            .call(Method::PATCH, &path, Some(json!({"stage": "lost"})))
            .await
            .0,
        404
    );

    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, page) = w.sales_b.get("/api/v1/customers").await;
    assert_eq!(names(&page), ["李四"]);
    assert_eq!(page["total"], 1);
    let (_, page) = w.mgr_a.get("/api/v1/customers").await;
    assert_eq!(names(&page), ["张三丰"]);
    // Oldest first here (the default is newest first).
    let (_, page) = w
        .admin
        .get("/api/v1/customers?limit=1&sort=created_at")
        .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = w
        .admin
        .get(&format!(
            "/api/v1/customers?limit=1&sort=created_at&cursor={cursor}"
        ))
        .await;
    assert_eq!(names(&page2), ["李四"]);
    assert!(page2["next_cursor"].is_null());
    let (_, page) = w.admin.get("/api/v1/customers?tag=有房").await;
    assert_eq!(names(&page), ["张三丰"]);

    let (st, c2) = w
        .sales_a
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stage": "contacted", "stars": 5})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), c2["stage"].as_str(), c2["stars"].as_u64()),
        (200, Some("contacted"), Some(5))
    );
    assert_eq!(
        w.sales_a.call(Method::DELETE, &path, None).await.0,
        403,
        "sales may not delete"
    );
    assert_eq!(w.mgr_a.call(Method::DELETE, &path, None).await.0, 204);
    assert_eq!(w.admin.get(&path).await.0, 404, "in the recycle bin");
    let _ = other;
    w.s.stop().await;
}

#[tokio::test]
async fn duplicates_are_refused_and_reported_without_leaking() {
    let w = world().await;
    let (_, c) = w.sales_a.post("/api/v1/customers", zhang()).await;
    // Same phone typed differently, and same ID number with another phone.
    for body in [
        json!({"name": "张三", "phone": "13800138000"}),
        json!({"name": "张三", "phone": "13700137000", "id_number": "11010519491231002x"}),
        json!({"name": "张三", "phone": "13700137000", "extra_phones": ["138 0013 8000"]}),
    ] {
        let (st, e) = w.sales_b.post("/api/v1/customers", body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (409, Some("duplicate")),
            "{e}"
        );
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("s*") && !msg.contains("sales_a显示名"),
            "owner masked: {msg}"
        );
    }
    // The duplicate check: out of scope → exists, but no id, masked names.
    let (st, d) = w
        .sales_b
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"phone": "138-0013-8000"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(d["exists"], true);
    let m = &d["matches"][0];
    assert_eq!(
        (
            m["by"].as_str(),
            m["name"].as_str(),
            m["customer_id"].is_null()
        ),
        (Some("phone"), Some("张**"), true)
    );
    assert_eq!(m["owner"], "s*********");
    // In scope → the id and names in clear.
    let (_, d) = w
        .sales_a
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"id_number": ID_NUMBER}),
        )
        .await;
    assert_eq!(d["matches"][0]["customer_id"], c["id"]);
    assert_eq!(d["matches"][0]["owner"], "sales_a显示名");
    let (_, d) = w
        .sales_b
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"name": "张三丰"}),
        )
        .await;
    assert_eq!(
        (d["exists"].as_bool(), d["matches"][0]["by"].as_str()),
        (Some(false), Some("name")),
        "a name alone is only a hint"
    );
    let (_, d) = w
        .sales_b
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"phone": "13600136000"}),
        )
        .await;
    assert_eq!(d, json!({"exists": false, "matches": []}));
    let (st, e) = w
        .sales_b
        .post("/api/v1/customers/check-duplicate", json!({}))
        .await;
    assert_eq!(st, 400, "{e}");

    // A customer in the recycle bin still blocks a new record with the same phone.
    let id = c["id"].as_str().unwrap();
    w.admin
        .call(Method::DELETE, &format!("/api/v1/customers/{id}"), None)
        .await;
    let (st, _) = w
        .sales_b
        .post(
            "/api/v1/customers",
            json!({"name": "张三", "phone": "13800138000"}),
        )
        .await;
    assert_eq!(st, 409);
    let (_, d) = w
        .admin
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"phone": "13800138000"}),
        )
        .await;
    assert_eq!(d["matches"][0]["in_recycle_bin"], true);
    w.s.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_phone_admit_exactly_one() {
    let w = world().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = if i % 2 == 0 {
            w.sales_a.http.clone()
        } else {
            w.sales_b.http.clone()
        };
        let csrf = if i % 2 == 0 {
            w.sales_a.csrf.clone()
        } else {
            w.sales_b.csrf.clone()
        };
        let url = w.s.url("/api/v1/customers");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-csrf-token", csrf.unwrap())
                .json(&json!({"name": format!("客户{i}"), "phone": "137 0000 1111"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let (_, page) = w.admin.get("/api/v1/customers").await;
    assert_eq!(page["total"], 1);
    w.s.stop().await;
}

#[tokio::test]
async fn reveals_need_the_privilege_count_against_the_quota_and_are_audited() {
    let w = world().await;
    let (_, c) = w.sales_a.post("/api/v1/customers", zhang()).await;
    let path = format!("/api/v1/customers/{}/unmask", c["id"].as_str().unwrap());
    // The built-in salesperson role (`phone.view_own`, 200 a day): the phone of their own
    // customer, one reveal at a time; never the ID number.
    let (st, r) = w.sales_a.post(&path, json!({"field": "phone"})).await;
    assert_eq!(
        (
            st.as_u16(),
            r["value"].as_str(),
            r["remaining_today"].as_u64()
        ),
        (200, Some("13800138000"), Some(199)),
        "sales role: the phone of their own customer"
    );
    let (st, e) = w.sales_a.post(&path, json!({"field": "id_number"})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "sales role: the ID number stays masked"
    );
    assert_eq!(
        w.sales_b.post(&path, json!({"field": "phone"})).await.0,
        404,
        "out of scope first"
    );
    let (st, r) = w.mgr_a.post(&path, json!({"field": "phone"})).await;
    assert_eq!(
        (
            st.as_u16(),
            r["value"].as_str(),
            r["remaining_today"].as_u64()
        ),
        (200, Some("13800138000"), Some(49))
    );
    assert_eq!(
        w.mgr_a.post(&path, json!({"field": "id_number"})).await.0,
        403,
        "manager: phone only"
    );
    let (st, r) = w.admin.post(&path, json!({"field": "id_number"})).await;
    assert_eq!(
        (
            st.as_u16(),
            r["value"].as_str(),
            r["remaining_today"].is_null()
        ),
        (200, Some(ID_NUMBER), true)
    );

    // Quota: cut the manager role to 2 a day.
    let (st, _) = w
        .admin
        .call(
            Method::PATCH,
            "/api/v1/roles/manager",
            Some(json!({"daily_reveal_quota": 2})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(w.mgr_a.post(&path, json!({"field": "phone"})).await.0, 200);
    let (st, e) = w.mgr_a.post(&path, json!({"field": "phone"})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("reveal_quota_exceeded"))
    );
    // The next day (Asia/Shanghai) the count starts again.
    w.s.clock.advance(chrono::Duration::hours(24));
    let mgr = w.s.login("mgr_a", PASS).await;
    assert_eq!(mgr.post(&path, json!({"field": "phone"})).await.0, 200);

    let admin = w.s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, audit) = admin.get("/api/v1/audit?action=customer.revealed").await;
    let items = audit["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        5,
        "every successful reveal, not the refused ones"
    );
    assert_eq!(items[0]["detail"]["field"], "phone");
    assert_eq!(items[0]["detail"]["basis"], "phone.view_full");
    let own = &items[items.len() - 1];
    assert_eq!(
        (own["actor"].as_str(), own["detail"]["basis"].as_str()),
        (Some("sales_a"), Some("phone.view_own")),
        "the salesperson's reveal is audited with its basis"
    );
    assert_eq!(items[0]["source"], "127.0.0.1");
    assert!(
        !audit.to_string().contains("13800138000"),
        "the audit log holds no plaintext"
    );
    w.s.stop().await;
}

#[tokio::test]
async fn no_plaintext_phone_or_id_number_in_the_store_file() {
    let w = world().await;
    let (st, _) = w.sales_a.post("/api/v1/customers", zhang()).await;
    assert_eq!(st, 201);
    let (st, _) = w
        .sales_a
        .post(
            "/api/v1/customers",
            json!({"name": "王五", "phone": "15900159000", "extra_phones": ["18600186000"]}),
        )
        .await;
    assert_eq!(st, 201);
    let data = w.s.stop().await;
    let bytes = std::fs::read(data.path().join("zhudai.redb")).unwrap();
    let has = |needle: &str| {
        bytes
            .windows(needle.len())
            .any(|win| win == needle.as_bytes())
    };
    for plain in [
        "13800138000",
        "15900159000",
        "18600186000",
        "11010519491231002X",
        "19491231",
    ] {
        assert!(!has(plain), "{plain} is in the store file");
    }
    assert!(
        has("张三丰") && has("138****8000"),
        "the scan does see stored text"
    );
}

#[tokio::test]
async fn flag_policy_creates_and_marks_the_duplicate() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.customers.on_duplicate = "flag".into();
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, first) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "甲", "phone": "13500135000"}),
        )
        .await;
    let (st, second) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "乙", "phone": "13500135000"}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(
        (
            first["duplicate_flag"].as_bool(),
            second["duplicate_flag"].as_bool()
        ),
        (Some(false), Some(true))
    );
    s.stop().await;
}

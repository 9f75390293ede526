//! Who may be given a customer. The user directory said `may_receive: false` for a finance
//! account, but the server checked only the caller's scope: an administrator could hand
//! customers by API to someone who cannot read or edit them (single transfer, bulk transfer,
//! assignment, a new customer's owner, an import's owner, approving a transfer request), and
//! manual assignment did not even check the scope. Every path now refuses, with the reason,
//! exactly the people the directory marks as not receiving.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::{form, post_form, wait_job};

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

async fn new_customer(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn owner_of(c: &Client, id: &str) -> Value {
    let (st, v) = c.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v["owner_id"].clone()
}

/// A 400 on `field` whose reason names the missing permission as the roles page does.
fn refused_for_permissions(st: reqwest::StatusCode, v: &Value, field: &str) {
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (400, Some(field)),
        "{v}"
    );
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("“编辑客户”") && !m.contains("customer.edit"),
        "{v}"
    );
}

#[tokio::test]
async fn no_path_gives_a_customer_to_someone_who_cannot_work_it() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let fin = common::add_user(&s, "fin", &["finance"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let c1 = new_customer(&admin, "钱多多", "13912340001").await;
    let c2 = new_customer(&admin, "孙小美", "13912340002").await;
    let admin_id = owner_of(&admin, &c1).await;

    // Single transfer.
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{c1}/transfer"),
            json!({"to_user": fin}),
        )
        .await;
    refused_for_permissions(st, &v, "to_user");
    // Bulk transfer.
    let (st, v) = admin
        .post(
            "/api/v1/customers/bulk",
            json!({"ids": [c1, c2], "action": "transfer", "to_user": fin}),
        )
        .await;
    refused_for_permissions(st, &v, "to_user");
    // Manual assignment.
    let (st, v) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c1], "to_user": fin}),
        )
        .await;
    refused_for_permissions(st, &v, "to_user");
    // A new customer's owner.
    let (st, v) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "周大福", "phone": "13912340003", "owner_id": fin}),
        )
        .await;
    refused_for_permissions(st, &v, "owner_id");
    // An import's owner.
    let (st, v) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "o.csv",
            "姓名,手机号\n吴一,13912340004\n".as_bytes(),
            &[("owner", "fin")],
        ),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (400, Some("owner")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("“编辑客户”"),
        "{v}"
    );
    // …and by the owner column, row by row.
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "o.csv",
            "姓名,手机号,负责人\n吴二,13912340005,fin\n吴三,13912340006,li\n".as_bytes(),
            &[],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (job["created"].as_u64(), job["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{job}"
    );
    assert_eq!(job["rejected_rows"][0]["field"], "owner", "{job}");

    // Nothing moved; a salesperson receives on every path.
    assert_eq!(owner_of(&admin, &c1).await, admin_id);
    assert_eq!(owner_of(&admin, &c2).await, admin_id);
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{c1}/transfer"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c2], "to_user": li}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(owner_of(&admin, &c2).await, json!(li));

    // The directory says the same.
    let (_, dir) = admin.get("/api/v1/users/directory").await;
    let may = |id: &str| {
        dir.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["may_receive"]
            .clone()
    };
    assert_eq!((may(&fin), may(&li)), (json!(false), json!(true)), "{dir}");
    s.stop().await;
}

/// A manager assigning by hand was not held to their department at all.
#[tokio::test]
async fn manual_assignment_stays_within_the_callers_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "华东", None);
    let west = common::add_department(&s, "华西", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let near = common::add_user(&s, "near", &["sales"], Some(&east));
    let far = common::add_user(&s, "far", &["sales"], Some(&west));
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let c = new_customer(&boss, "郑好", "13912340011").await;
    let (st, v) = boss
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c], "to_user": far}),
        )
        .await;
    assert_eq!(
        (
            st.as_u16(),
            v["error"]["field"].as_str(),
            v["error"]["message"].as_str()
        ),
        (400, Some("to_user"), Some("接收人不在你的数据范围内")),
        "{v}"
    );
    let (st, v) = boss
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c], "to_user": near}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Automatic assignment offered leads to anyone who may claim, also to a role that cannot
/// edit customers.
#[tokio::test]
async fn automatic_assignment_skips_who_cannot_work_customers() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "picker", "name": "只领不改", "capabilities": ["customer.read", "pool.claim"],
                   "scope": "self", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    common::add_user(&s, "pk", &["picker"], None);
    let c = new_customer(&admin, "冯远", "13912340021").await;
    let (st, v) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c], "auto": true}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["assigned"].as_u64(), v["items"][0]["user_id"].clone()),
        (Some(0), Value::Null),
        "{v}"
    );
    let li = common::add_user(&s, "li", &["sales"], None);
    let (st, v) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c], "auto": true}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["items"][0]["user_id"], json!(li), "{v}");
    s.stop().await;
}

/// Approving a transfer request gave the customer to a requester who can add leads but not
/// edit customers.
#[tokio::test]
async fn an_approved_request_needs_a_requester_who_can_work_the_customer() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "entry", "name": "录入员", "capabilities": ["customer.read", "customer.create"],
                   "scope": "self", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    common::add_user(&s, "owner", &["sales"], None);
    common::add_user(&s, "typist", &["entry"], None);
    let owner = s.login("owner", TEAM_PASSWORD).await;
    let typist = s.login("typist", TEAM_PASSWORD).await;
    let c = new_customer(&owner, "陈晨", "13912340031").await;
    let (st, r) = typist
        .post(
            "/api/v1/transfer-requests",
            json!({"phone": "13912340031", "reason": "客户主动联系我"}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let rid = r["id"].as_str().unwrap();
    let (st, v) = admin
        .post(
            &format!("/api/v1/transfer-requests/{rid}/decision"),
            json!({"approve": true}),
        )
        .await;
    refused_for_permissions(st, &v, "approve");
    let before = owner_of(&admin, &c).await;
    assert_eq!(before, owner_of(&owner, &c).await);
    let (_, lists) = admin.get("/api/v1/transfer-requests").await;
    assert_eq!(lists["to_decide"][0]["status"], "pending", "{lists}");
    s.stop().await;
}

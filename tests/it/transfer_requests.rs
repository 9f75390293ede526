//! Transfer requests (issue 17.6): the next step of a duplicate warning. The requester asks by
//! the number typed and never sees more than a masked name; the owner's manager decides; a
//! manager outside the customer's scope gets 404; approval moves the customer, audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::json;

const PHONE: &str = "13912340000";

/// Two departments: in 华东 the owner, the asker and their manager; in 华西 another manager.
struct Team {
    s: TestServer,
    admin: common::Client,
    owner: common::Client,
    asker: common::Client,
    lead: common::Client,
    other: common::Client,
}

impl Team {
    async fn start() -> Team {
        let s = TestServer::start(Fixture::WithAdmin).await;
        let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
        let east = common::add_department(&s, "华东", None);
        let west = common::add_department(&s, "华西", None);
        common::add_user(&s, "owner", &["sales"], Some(&east));
        common::add_user(&s, "asker", &["sales"], Some(&east));
        common::add_user(&s, "lead", &["manager"], Some(&east));
        common::add_user(&s, "other", &["manager"], Some(&west));
        let owner = s.login("owner", TEAM_PASSWORD).await;
        let asker = s.login("asker", TEAM_PASSWORD).await;
        let lead = s.login("lead", TEAM_PASSWORD).await;
        let other = s.login("other", TEAM_PASSWORD).await;
        Team {
            s,
            admin,
            owner,
            asker,
            lead,
            other,
        }
    }
}

#[tokio::test]
async fn a_duplicate_lead_is_requested_and_the_owners_manager_decides() {
    let Team {
        s: _server,
        admin,
        owner,
        asker,
        lead,
        other,
    } = Team::start().await;

    let (st, c) = owner
        .post(
            "/api/v1/customers",
            json!({"name": "欧阳娜娜", "phone": PHONE}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let (st, e) = asker
        .post(
            "/api/v1/customers",
            json!({"name": "欧阳娜娜", "phone": PHONE}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("duplicate")),
        "{e}"
    );

    let ask = json!({"phone": PHONE, "reason": "客户主动来电找我办理"});
    let (st, r) = asker.post("/api/v1/transfer-requests", ask.clone()).await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["status"], "pending");
    assert!(r["customer_id"].is_null(), "the requester gets no id: {r}");
    assert_eq!(r["customer_name"], "欧***", "masked: {r}");
    let rid = r["id"].as_str().unwrap().to_string();
    let (st, e) = asker.post("/api/v1/transfer-requests", ask.clone()).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("transfer_pending"))
    );
    let (st, e) = owner
        .post(
            "/api/v1/transfer-requests",
            json!({"phone": PHONE, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("transfer_not_needed")),
        "{e}"
    );
    let (st, e) = asker
        .post(
            "/api/v1/transfer-requests",
            json!({"phone": "13700000000", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("phone")),
        "{e}"
    );

    // The owner's manager sees it to decide; the other department's manager does not.
    let (_, lists) = lead.get("/api/v1/transfer-requests").await;
    assert_eq!(
        lists["to_decide"][0]["customer_id"],
        cid.as_str(),
        "{lists}"
    );
    assert_eq!(lists["to_decide"][0]["customer_name"], "欧阳娜娜");
    let (_, lists) = other.get("/api/v1/transfer-requests").await;
    assert_eq!(lists["to_decide"].as_array().unwrap().len(), 0, "{lists}");
    let decision = format!("/api/v1/transfer-requests/{rid}/decision");
    let (st, _) = other.post(&decision, json!({"approve": true})).await;
    assert_eq!(st, 404, "outside the other manager's scope");
    let (st, _) = asker.post(&decision, json!({"approve": true})).await;
    assert_eq!(st, 403, "a salesperson cannot decide");

    // Rejected with a note; the customer stays; asking again is allowed.
    let (st, e) = lead.post(&decision, json!({"approve": false})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("note"))
    );
    let (st, r) = lead
        .post(&decision, json!({"approve": false, "note": "已在跟进"}))
        .await;
    assert_eq!(
        (st.as_u16(), r["status"].as_str()),
        (200, Some("rejected")),
        "{r}"
    );
    let (st, _) = lead.post(&decision, json!({"approve": true})).await;
    assert_eq!(st, 409, "decided already");
    let (_, c) = owner.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(c["name"], "欧阳娜娜", "still the owner's");

    let (st, r) = asker.post("/api/v1/transfer-requests", ask).await;
    assert_eq!(st, 201, "{r}");
    let rid = r["id"].as_str().unwrap().to_string();
    let (st, r) = lead
        .post(
            &format!("/api/v1/transfer-requests/{rid}/decision"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), r["status"].as_str()),
        (200, Some("approved")),
        "{r}"
    );
    let (st, c) = asker.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(st, 200, "the requester's now: {c}");
    let (st, _) = owner.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(st, 404, "no longer the old owner's");
    let (_, mine) = asker.get("/api/v1/transfer-requests").await;
    assert_eq!(mine["mine"][0]["status"], "approved", "{mine}");
    assert_eq!(mine["mine"][0]["customer_id"], cid.as_str());
    assert_eq!(mine["mine"][1]["status"], "rejected");
    assert_eq!(mine["mine"][1]["note"], "已在跟进");
    for action in [
        "transfer.requested",
        "transfer.rejected",
        "transfer.approved",
        "customer.transferred",
    ] {
        let (_, a) = admin.get(&format!("/api/v1/audit?action={action}")).await;
        assert!(
            !a["items"].as_array().unwrap().is_empty(),
            "{action} audited"
        );
    }
}

/// Probe finding 27: a manager learned of a pending request only from a card on 工作台. Everyone
/// who may decide it now gets it in the bell (`transfer_requested`), marked done once decided.
#[tokio::test]
async fn the_approvers_bell_says_a_request_waits_and_then_that_it_was_decided() {
    let Team {
        s,
        admin,
        owner,
        asker,
        lead,
        other,
    } = Team::start().await;
    let (st, c) = owner
        .post(
            "/api/v1/customers",
            json!({"name": "司马光", "phone": PHONE}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, r) = asker
        .post(
            "/api/v1/transfer-requests",
            json!({"phone": PHONE, "reason": "客户主动来电找我办理"}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let rid = r["id"].as_str().unwrap().to_string();

    let requests = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "transfer_requested")
            .cloned()
            .collect()
    };
    for who in [&lead, &admin] {
        let (st, v) = who.get("/api/v1/notices").await;
        assert_eq!(st, 200, "{v}");
        let got = requests(&v);
        assert_eq!(got.len(), 1, "{v}");
        assert_eq!(
            (
                got[0]["customer_name"].as_str(),
                got[0]["by_name"].as_str(),
                got[0]["done"].as_bool()
            ),
            (Some("司马光"), Some("asker"), Some(false)),
            "{v}"
        );
    }
    // Not those who may not decide it: another department's manager, the owner (no
    // customer.transfer), the requester.
    for who in [&other, &owner, &asker] {
        let (_, v) = who.get("/api/v1/notices").await;
        assert!(requests(&v).is_empty(), "{v}");
    }

    let (st, v) = lead
        .post(
            &format!("/api/v1/transfer-requests/{rid}/decision"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = admin.get("/api/v1/notices").await;
    assert_eq!(
        requests(&v)[0]["done"],
        true,
        "decided by another approver: {v}"
    );
    s.stop().await;
}

//! Issue 14.8: the scope walk. Every route of the OpenAPI document has a declared scope rule
//! here (a new route without one fails this test), and every route that names an object is
//! called by every restricted role on an object outside its scope: the answer must be the one
//! a nonexistent id gets (so ids cannot be probed) and never a success.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::common;
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};

/// What the object named in a route's path is, and so who may reach it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// No object in the path: the caller's own data, lists (filtered by scope; their own
    /// tests check that), or open routes (health, setup, login).
    NoObject,
    /// `{id}` is a customer: seen by its owner's scope (and collaborators, pool members).
    Customer,
    /// `{id}` a customer, `{followup_id}` one of its follow-ups.
    Followup,
    /// `{id}` is a deal: seen by the scopes holding its officer or its assistant.
    Deal,
    /// `{id}` is a contract: seen with its deal (the scopes holding the deal's officer or
    /// assistant).
    Contract,
    /// `{id}` is a call: seen by the scopes that see its customer.
    Call,
    /// An import job: its creator's only.
    ImportJob,
    /// An API token: its user's only (or `user.manage`).
    Token,
    /// A saved customer view: its user's only.
    View,
    /// A public pool: its members' (administration with `pool.manage`; the scope of
    /// `pool.manage` holders is issue 14.2, not walked here).
    Pool,
    /// Organisation objects (users, departments, roles, fields, tag groups, templates,
    /// plugins, assignment settings) changed only with a capability and readable by the staff
    /// who need them: walked for the changes (not GETs), which must be refused alike for an
    /// existing and a nonexistent object.
    Organisation,
}

use Rule::*;

const ROUTES: &[(&str, &str, Rule)] = &[
    ("get", "/api/v1/assignment/users", NoObject),
    ("put", "/api/v1/assignment/users/{id}", Organisation),
    ("get", "/api/v1/audit", NoObject),
    ("post", "/api/v1/auth/login", NoObject),
    ("post", "/api/v1/auth/logout", NoObject),
    ("post", "/api/v1/backups/run", NoObject),
    ("get", "/api/v1/backups/status", NoObject),
    ("put", "/api/v1/backups/settings", NoObject),
    // Contract templates: the firm's documents, changed with settings.manage only.
    ("get", "/api/v1/contract-templates", NoObject),
    ("post", "/api/v1/contract-templates", NoObject),
    ("get", "/api/v1/contract-templates/placeholders", NoObject),
    ("get", "/api/v1/contract-templates/{id}", Organisation),
    ("put", "/api/v1/contract-templates/{id}", Organisation),
    (
        "get",
        "/api/v1/contract-templates/{id}/versions",
        Organisation,
    ),
    (
        "post",
        "/api/v1/contract-templates/{id}/preview",
        Organisation,
    ),
    ("get", "/api/v1/contracts/{id}", Contract),
    ("post", "/api/v1/contracts/{id}/link", Contract),
    ("get", "/api/v1/contracts/{id}/pdf", Contract),
    ("get", "/api/v1/contracts/{id}/verify", Contract),
    ("post", "/api/v1/contracts/{id}/void", Contract),
    // Ingestion by the PBX token; settings; the unmatched list (`customer.assign`).
    ("post", "/api/v1/calls", NoObject),
    ("get", "/api/v1/calls/config", NoObject),
    ("get", "/api/v1/calls/unmatched", NoObject),
    ("post", "/api/v1/calls/{id}/attach", Call),
    ("get", "/api/v1/calls/{id}/recording", Call),
    ("post", "/api/v1/calls/{id}/recording", Call),
    ("post", "/api/v1/calls/{id}/recording/fetch", Call),
    ("get", "/api/v1/customers/{id}/calls", Customer),
    ("post", "/api/v1/customers/{id}/call", Customer),
    // Call statistics over the caller's own scope (tests/it/calls.rs).
    ("get", "/api/v1/reports/calls", NoObject),
    ("get", "/api/v1/custom-fields", NoObject),
    ("post", "/api/v1/custom-fields", NoObject),
    ("delete", "/api/v1/custom-fields/{key}", Organisation),
    ("put", "/api/v1/custom-fields/{key}", Organisation),
    ("get", "/api/v1/customer-views", NoObject),
    ("post", "/api/v1/customer-views", NoObject),
    ("delete", "/api/v1/customer-views/{id}", View),
    ("get", "/api/v1/customers", NoObject),
    ("post", "/api/v1/customers", NoObject),
    ("post", "/api/v1/customers/assign", NoObject),
    ("post", "/api/v1/customers/bulk", NoObject),
    ("post", "/api/v1/customers/check-duplicate", NoObject),
    ("get", "/api/v1/customers/recycle-bin", NoObject),
    // Counts of the list's own matches in the caller's scope (tests/it/customer_list_index.rs).
    ("get", "/api/v1/customers/stage-counts", NoObject),
    ("delete", "/api/v1/customers/{id}", Customer),
    ("get", "/api/v1/customers/{id}", Customer),
    ("patch", "/api/v1/customers/{id}", Customer),
    ("post", "/api/v1/customers/{id}/claim", Customer),
    ("post", "/api/v1/customers/{id}/erase", Customer),
    ("get", "/api/v1/customers/{id}/followups", Customer),
    ("post", "/api/v1/customers/{id}/followups", Customer),
    (
        "patch",
        "/api/v1/customers/{id}/followups/{followup_id}",
        Followup,
    ),
    ("post", "/api/v1/customers/{id}/lock", Customer),
    ("get", "/api/v1/customers/{id}/matches", Customer),
    ("post", "/api/v1/customers/{id}/release", Customer),
    ("post", "/api/v1/customers/{id}/restore", Customer),
    ("get", "/api/v1/customers/{id}/timeline", Customer),
    ("post", "/api/v1/customers/{id}/transfer", Customer),
    ("post", "/api/v1/customers/{id}/unlock", Customer),
    ("post", "/api/v1/customers/{id}/unmask", Customer),
    ("get", "/api/v1/customers/{id}/deals", Customer),
    // Online application forms: settings.manage (forms and their submissions are the firm's
    // configuration; a submission's customer is reached through the customer routes).
    ("get", "/api/v1/application-forms", NoObject),
    ("post", "/api/v1/application-forms", NoObject),
    ("get", "/api/v1/application-forms/{id}", Organisation),
    ("put", "/api/v1/application-forms/{id}", Organisation),
    (
        "get",
        "/api/v1/application-forms/{id}/submissions",
        Organisation,
    ),
    // The duplicate check answers yes/no for numbers firm-wide (lead.check); no object.
    ("post", "/api/v1/leads/check", NoObject),
    // The public application (no login); the same as POST /apply/{slug}.
    ("post", "/api/v1/apply/{slug}", NoObject),
    // Writes the caller's own entries into a file; reads nothing stored.
    ("post", "/api/v1/leads/fresh.xlsx", NoObject),
    // Reads the caller's own upload; nothing stored.
    ("post", "/api/v1/leads/list-file", NoObject),
    ("get", "/api/v1/deals", NoObject),
    ("post", "/api/v1/deals", NoObject),
    ("get", "/api/v1/deals/board", NoObject),
    ("get", "/api/v1/deals/{id}", Deal),
    ("patch", "/api/v1/deals/{id}", Deal),
    ("post", "/api/v1/deals/{id}/stage", Deal),
    ("get", "/api/v1/deals/{id}/documents", Deal),
    ("post", "/api/v1/deals/{id}/documents", Deal),
    ("delete", "/api/v1/deals/{id}/documents/{item}", Deal),
    ("post", "/api/v1/deals/{id}/documents/{item}/moves", Deal),
    ("post", "/api/v1/deals/{id}/documents/{item}/handover", Deal),
    ("post", "/api/v1/deals/{id}/documents/{item}/files", Deal),
    (
        "get",
        "/api/v1/deals/{id}/documents/{item}/files/{blob}",
        Deal,
    ),
    ("post", "/api/v1/deals/{id}/attachments", Deal),
    ("get", "/api/v1/deals/{id}/attachments", Deal),
    ("delete", "/api/v1/deals/{id}/attachments/{blob}", Deal),
    // `{id}` is a file (blob) id, reached only through a deal the caller sees; walked with a
    // deal id it answers 404 alike; tests/it/documents.rs checks the scope with real files.
    ("get", "/api/v1/attachments/{id}", Deal),
    // Held documents of the deals the caller sees (their own test checks the filter).
    ("get", "/api/v1/documents/custody", NoObject),
    ("get", "/api/v1/documents/custody/export", NoObject),
    ("get", "/api/v1/deals/{id}/fees", Deal),
    ("get", "/api/v1/deals/{id}/payments", Deal),
    ("post", "/api/v1/deals/{id}/payments", Deal),
    ("delete", "/api/v1/deals/{id}/payments/{payment_id}", Deal),
    ("post", "/api/v1/deals/{id}/refunds", Deal),
    ("post", "/api/v1/deals/{id}/fee-waivers", Deal),
    ("post", "/api/v1/deals/{id}/rebate-receipts", Deal),
    ("post", "/api/v1/deals/{id}/fee-recompute", Deal),
    // Finance lists over the officers of the caller's scope (finance.read), months and the
    // caller's own statement (others' only in scope): tests/it/fees.rs.
    ("get", "/api/v1/finance/receivables", NoObject),
    ("get", "/api/v1/finance/overdue", NoObject),
    ("get", "/api/v1/finance/rebates", NoObject),
    ("get", "/api/v1/finance/payments", NoObject),
    ("get", "/api/v1/finance/months", NoObject),
    ("get", "/api/v1/finance/months/{month}", NoObject),
    ("post", "/api/v1/finance/months/{month}/close", NoObject),
    ("post", "/api/v1/finance/months/{month}/reopen", NoObject),
    ("get", "/api/v1/commissions", NoObject),
    ("get", "/api/v1/commissions/statement", NoObject),
    ("get", "/api/v1/commissions/statement.xlsx", NoObject),
    // Targets: the users and departments of the caller's scope (tests/it/fees.rs).
    ("get", "/api/v1/targets/progress", NoObject),
    ("put", "/api/v1/targets", NoObject),
    ("get", "/api/v1/deals/{id}/contracts", Deal),
    ("post", "/api/v1/deals/{id}/contracts", Deal),
    ("post", "/api/v1/deals/{id}/contract", Deal),
    // Channels and their ROI: finance's (finance.read / finance.edit), tests/it/channels.rs.
    ("get", "/api/v1/channels", NoObject),
    ("post", "/api/v1/channels", NoObject),
    ("put", "/api/v1/channels/{id}", Organisation),
    ("put", "/api/v1/channels/{id}/costs/{month}", Organisation),
    ("get", "/api/v1/reports/channels", NoObject),
    // Brokers: the portal is the broker's own (their referrals only, tests/it/brokers.rs);
    // the accounts list is user.manage's; referral fees are finance's, firm-wide.
    ("get", "/api/v1/broker/portal", NoObject),
    ("get", "/api/v1/broker/referrals", NoObject),
    ("post", "/api/v1/broker/referrals", NoObject),
    ("get", "/api/v1/brokers", NoObject),
    ("get", "/api/v1/finance/referral-fees", NoObject),
    (
        "post",
        "/api/v1/finance/referral-fees/{id}/paid",
        Organisation,
    ),
    ("get", "/api/v1/departments", NoObject),
    ("post", "/api/v1/departments", NoObject),
    ("delete", "/api/v1/departments/{id}", Organisation),
    ("patch", "/api/v1/departments/{id}", Organisation),
    ("get", "/api/v1/exports/customers", NoObject),
    // Counts over the caller's own scope (tests/it/funnels.rs).
    ("get", "/api/v1/funnels/customers", NoObject),
    ("get", "/api/v1/funnels/deals", NoObject),
    // The caller's own deals' reminders.
    ("get", "/api/v1/deals/reminders", NoObject),
    ("get", "/api/v1/health", NoObject),
    ("get", "/api/v1/import-templates", NoObject),
    ("post", "/api/v1/import-templates", NoObject),
    ("delete", "/api/v1/import-templates/{id}", Organisation),
    ("get", "/api/v1/imports", NoObject),
    ("post", "/api/v1/imports", NoObject),
    ("post", "/api/v1/imports/preview", NoObject),
    ("get", "/api/v1/imports/{id}", ImportJob),
    ("post", "/api/v1/imports/{id}/cancel", ImportJob),
    ("get", "/api/v1/imports/{id}/errors.xlsx", ImportJob),
    ("get", "/api/v1/me", NoObject),
    ("post", "/api/v1/me/password", NoObject),
    ("get", "/api/v1/plugins", NoObject),
    ("get", "/api/v1/plugins/{name}", Organisation),
    ("put", "/api/v1/plugins/{name}", Organisation),
    ("delete", "/api/v1/plugins/{name}", Organisation),
    ("post", "/api/v1/plugins/{name}/rollback", Organisation),
    ("post", "/api/v1/plugins/{name}/test", Organisation),
    ("get", "/api/v1/plugins/{name}/versions/{vid}", Organisation),
    ("get", "/api/v1/pools", NoObject),
    ("post", "/api/v1/pools", NoObject),
    ("post", "/api/v1/pools/sweep", NoObject),
    ("delete", "/api/v1/pools/{id}", Pool),
    ("get", "/api/v1/pools/{id}", Pool),
    ("patch", "/api/v1/pools/{id}", Pool),
    ("get", "/api/v1/pools/{id}/customers", Pool),
    // Products are the firm's configuration, not customer data: every user who reads
    // customers reads them; changes need product.manage.
    ("get", "/api/v1/products", NoObject),
    ("post", "/api/v1/products", NoObject),
    ("post", "/api/v1/products/import", NoObject),
    ("get", "/api/v1/products/sheet-template", NoObject),
    ("get", "/api/v1/products/{id}", Organisation),
    ("put", "/api/v1/products/{id}", Organisation),
    ("patch", "/api/v1/products/{id}", Organisation),
    ("get", "/api/v1/products/{id}/versions", Organisation),
    // The product is configuration; the customers listed are the caller's scope only
    // (tests/it/products.rs::the_reverse_match_lists_only_my_qualifying_customers).
    ("get", "/api/v1/products/{id}/candidates", Organisation),
    ("get", "/api/v1/reminders", NoObject),
    ("get", "/api/v1/notices", NoObject),
    ("get", "/api/v1/team/today", NoObject),
    // Counts over the caller's own scope (tests/it/trends.rs).
    ("get", "/api/v1/reports/trends", NoObject),
    // Counts over the caller's own scope (tests/it/reports.rs); the name is a report, not a record.
    ("get", "/api/v1/reports/{name}", NoObject),
    // Custom reports: the data a script gets is built from the caller's scope only
    // (tests/it/custom_reports.rs); the name is a report file, not a record.
    ("get", "/api/v1/reports/custom", NoObject),
    ("get", "/api/v1/reports/custom/{name}", NoObject),
    ("get", "/api/v1/roles", NoObject),
    ("post", "/api/v1/roles", NoObject),
    ("delete", "/api/v1/roles/{key}", Organisation),
    ("patch", "/api/v1/roles/{key}", Organisation),
    ("get", "/api/v1/search", NoObject),
    // The borrower's signing page: the one-time token is the authority (tests/it/contracts.rs:
    // a guessed token is 404, a used or expired one 410, nothing written).
    ("get", "/sign/{token}", NoObject),
    ("post", "/sign/{token}", NoObject),
    ("post", "/sign/{token}/open", NoObject),
    ("get", "/api/v1/setup", NoObject),
    ("post", "/api/v1/setup", NoObject),
    ("get", "/api/v1/tag-groups", NoObject),
    ("post", "/api/v1/tag-groups", NoObject),
    ("delete", "/api/v1/tag-groups/{id}", Organisation),
    ("put", "/api/v1/tag-groups/{id}", Organisation),
    ("get", "/api/v1/tokens", NoObject),
    // Transfer requests: the list is the caller's own and their scope's; a decision on a
    // customer outside the approver's scope is 404 (tests/it/transfer_requests.rs).
    ("get", "/api/v1/transfer-requests", NoObject),
    ("post", "/api/v1/transfer-requests", NoObject),
    (
        "post",
        "/api/v1/transfer-requests/{id}/decision",
        Organisation,
    ),
    ("post", "/api/v1/tokens", NoObject),
    ("delete", "/api/v1/tokens/{id}", Token),
    // A calculator: reads no stored data, so nothing in it can be out of scope.
    ("get", "/api/v1/tools/repayment-schedule", NoObject),
    ("get", "/api/v1/users", NoObject),
    ("post", "/api/v1/users", NoObject),
    ("get", "/api/v1/users/directory", NoObject),
    ("get", "/api/v1/users/{id}", Organisation),
    ("patch", "/api/v1/users/{id}", Organisation),
    ("post", "/api/v1/users/{id}/depart", Organisation),
    ("post", "/api/v1/users/{id}/reset-password", Organisation),
];

/// Every route of the OpenAPI document has a rule above, and every rule a route.
#[tokio::test]
async fn every_route_has_a_declared_scope_rule() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (st, doc) = s.client().get("/api/openapi.json").await;
    assert_eq!(st, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let declared: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = documented.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a scope rule (add them to ROUTES in tests/it/scope_walk.rs): {missing:?}"
    );
    let stale: Vec<_> = declared.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "rules for routes that no longer exist: {stale:?}"
    );
}

const NOBODY: &str = "01JZZZZZZZZZZZZZZZZZZZZZZZ";

/// The objects of an outsider (a salesperson of another department).
struct Theirs {
    customer: String,
    call: String,
    deal: String,
    contract: String,
    followup: String,
    job: String,
    token: String,
    view: String,
    pool: String,
    user: String,
    department: String,
}

fn fill(path: &str, rule: Rule, t: &Theirs, nobody: bool) -> String {
    let pick = |real: &str| {
        if nobody {
            NOBODY.to_string()
        } else {
            real.to_string()
        }
    };
    let id = match rule {
        Customer | Followup => pick(&t.customer),
        Deal => pick(&t.deal),
        Contract => pick(&t.contract),
        Call => pick(&t.call),
        ImportJob => pick(&t.job),
        Token => pick(&t.token),
        View => pick(&t.view),
        Pool => pick(&t.pool),
        Organisation if path.starts_with("/api/v1/departments") => pick(&t.department),
        Organisation => pick(&t.user),
        NoObject => String::new(),
    };
    path.replace("{id}", &id)
        .replace("{followup_id}", &pick(&t.followup))
        .replace("{key}", if nobody { "nobody_key" } else { "sales" })
        .replace(
            "{name}",
            if nobody {
                "nobody.plugin"
            } else {
                "pool.recall"
            },
        )
        .replace("{vid}", &pick("1"))
        .replace("{item}", "i1")
        .replace("{blob}", &"a".repeat(64))
}

async fn call(c: &Client, method: &str, path: &str) -> u16 {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
    c.call(m, path, body).await.0.as_u16()
}

#[tokio::test]
async fn out_of_scope_objects_answer_like_nonexistent_ones_for_every_role() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    // A manager (so they may import) of the other department.
    let outsider = common::add_user(&s, "outsider", &["manager"], Some(&west));
    let theirs_c = s.login("outsider", common::TEAM_PASSWORD).await;
    let (st, c) = theirs_c
        .post(
            "/api/v1/customers",
            json!({"name": "外部客户", "phone": "13822223333"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let customer = c["id"].as_str().unwrap().to_string();
    let (st, product) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{product}");
    let (st, deal) = theirs_c
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer, "product_id": product["id"],
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{deal}");
    let (st, contract) = theirs_c
        .post(
            &format!("/api/v1/deals/{}/contracts", deal["id"].as_str().unwrap()),
            json!({"template_id": "default-service-agreement"}),
        )
        .await;
    assert_eq!(st, 201, "{contract}");
    let (st, f) = theirs_c
        .post(
            &format!("/api/v1/customers/{customer}/followups"),
            json!({"kind": "call", "content": "电话沟通"}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let (st, job) = crate::import::post_form(
        &theirs_c,
        "/api/v1/imports",
        crate::import::form("x.csv", "姓名,手机号码\n王五,13833334444\n".as_bytes(), &[]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let (st, token) = theirs_c
        .post("/api/v1/tokens", json!({"name": "mine"}))
        .await;
    assert_eq!(st, 201, "{token}");
    let (st, view) = theirs_c
        .post(
            "/api/v1/customer-views",
            json!({"name": "我的视图", "filter": {}}),
        )
        .await;
    assert_eq!(st, 201, "{view}");
    let view = view["id"].as_str().unwrap().to_string();
    let (st, pool) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "西区公海", "department_id": west}),
        )
        .await;
    assert!(st.is_success(), "{pool}");
    // A call with a recording, matched to the outsider's customer.
    let (st, pbx) = admin.post("/api/v1/tokens", json!({"name": "pbx"})).await;
    assert_eq!(st, 201, "{pbx}");
    let pbx = pbx["token"].as_str().unwrap().to_string();
    let (st, c) = crate::calls::post_call(
        &s,
        &pbx,
        json!({"external_id": "walk", "direction": "out", "from": "8001", "to": "13822223333",
               "started_at": s.app.now(), "talk_seconds": 5, "result": "answered", "agent": "outsider"}),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    let their_call = c["id"].as_str().unwrap().to_string();
    let (_, calls) = admin
        .get(&format!("/api/v1/customers/{customer}/calls"))
        .await;
    assert_eq!(
        calls["items"][0]["id"],
        their_call.as_str(),
        "matched: {calls}"
    );
    let r = reqwest::Client::new()
        .post(s.url(&format!("/api/v1/calls/{their_call}/recording")))
        .bearer_auth(&pbx)
        .body(crate::calls::wav(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let t = Theirs {
        call: their_call,
        customer,
        deal: deal["id"].as_str().unwrap().to_string(),
        contract: contract["id"].as_str().unwrap().to_string(),
        followup: f["id"].as_str().unwrap().to_string(),
        job: job["id"].as_str().unwrap().to_string(),
        token: token["id"].as_str().unwrap().to_string(),
        view,
        pool: pool["id"].as_str().unwrap().to_string(),
        user: outsider,
        department: west.clone(),
    };

    // Every built-in role but admin, in the other department.
    let roles = ["sales", "manager", "finance", "documents", "service"];
    let mut failures = Vec::new();
    for role in roles {
        let name = format!("walker_{role}");
        common::add_user(&s, &name, &[role], Some(&east));
        let c = s.login(&name, common::TEAM_PASSWORD).await;
        let sees_every_customer = !["sales", "manager"].contains(&role);
        // Non-destructive methods first, so a leak cannot hide the ones after it.
        let mut order: Vec<&(&str, &str, Rule)> = ROUTES.iter().collect();
        order.sort_by_key(|(m, p, _)| *m == "delete" || p.ends_with("/erase"));
        for (method, path, rule) in order {
            let walk = match rule {
                NoObject => false,
                Customer | Followup | Deal | Contract | Call => !sees_every_customer,
                Pool => role != "manager",
                Organisation => *method != "get",
                ImportJob | Token | View => true,
            };
            if !walk {
                continue;
            }
            let theirs = call(&c, method, &fill(path, *rule, &t, false)).await;
            let none = call(&c, method, &fill(path, *rule, &t, true)).await;
            let ok = theirs == none
                && !(200..300).contains(&theirs)
                && (*method != "get" || [403, 404].contains(&theirs));
            if !ok {
                failures.push(format!(
                    "{role} {method} {path}: theirs {theirs}, nonexistent {none}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// What a broker (经纪人) may reach: their portal, their own account, and the routes open to
/// anyone (health, setup, login, the public application and signing pages).
const BROKER_REACHES: &[(&str, &str)] = &[
    ("get", "/api/v1/broker/portal"),
    ("get", "/api/v1/broker/referrals"),
    ("post", "/api/v1/broker/referrals"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/me/password"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/setup"),
    ("post", "/api/v1/setup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/apply/{slug}"),
    ("get", "/sign/{token}"),
    ("post", "/sign/{token}"),
    ("post", "/sign/{token}/open"),
];

/// Issue 22.5: a broker calls every other route of the document, on objects that exist, and
/// is refused (403, or 404 for a path that names nothing) every time: a route added later is
/// walked here too, with no rule to forget.
#[tokio::test]
async fn a_broker_reaches_nothing_but_their_portal() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales = common::add_user(&s, "xiao", &["sales"], None);
    let (_, broker_id) = crate::brokers::broker(&s, &admin).await;
    let b = s.login(crate::brokers::BROKER, common::TEAM_PASSWORD).await;
    let (st, v) = b
        .post(
            "/api/v1/broker/referrals",
            crate::brokers::referral("赵小龙", "13922223333"),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, d) = admin
        .post(
            "/api/v1/customers/check-duplicate",
            json!({"phone": "13922223333"}),
        )
        .await;
    let customer = d["matches"][0]["customer_id"].as_str().unwrap().to_string();
    let mut failures = Vec::new();
    for (method, path, _) in ROUTES {
        if BROKER_REACHES.contains(&(*method, *path)) {
            continue;
        }
        let filled = path
            .replace(
                "{id}",
                if path.contains("/users/") {
                    &sales
                } else {
                    &customer
                },
            )
            .replace("{followup_id}", &customer)
            .replace("{key}", "sales")
            .replace("{name}", "pool.recall")
            .replace("{vid}", "1")
            .replace("{item}", "i1")
            .replace("{month}", "2026-01")
            .replace("{slug}", "x")
            .replace("{token}", "x")
            .replace("{blob}", &"a".repeat(64));
        let status = call(&b, method, &filled).await;
        if status != 403 {
            failures.push(format!("broker {method} {path}: {status}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Still logged in, and what they reach works.
    let (st, me) = b.get("/api/v1/me").await;
    assert_eq!((st.as_u16(), &me["user"]["id"]), (200, &json!(broker_id)));
    assert_eq!(b.get("/api/v1/broker/referrals").await.0, 200);
}

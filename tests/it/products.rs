//! Credit products over HTTP: who may write them, validation naming the field, versions and the
//! audit, and matching a customer (every reason, scope).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

pub fn salary_loan() -> Value {
    json!({
        "name": "工薪贷", "lender": "某银行", "category": "credit",
        "min_amount_fen": 1_000_000, "max_amount_fen": 30_000_000,
        "min_term_months": 12, "max_term_months": 36,
        "min_rate_bp": 600, "max_rate_bp": 1200,
        "methods": ["annuity", "equal_principal"],
        "requirements": {
            "min_age": 22, "max_age": 55,
            "cities": ["上海市", "杭州"],
            "occupations": ["employee", "civil_servant"],
            "min_social_security_months": 12,
            "max_inquiries_3m": 4
        },
        "required_documents": ["身份证", "社保缴纳证明", "银行流水"],
        "fee": {"kind": "rate", "rate_bp": 300}, "rebate_bp": 100
    })
}

fn fund_loan() -> Value {
    json!({
        "name": "公积金贷", "lender": "某消金", "category": "provident_fund",
        "min_amount_fen": 500_000, "max_amount_fen": 50_000_000,
        "min_term_months": 12, "max_term_months": 60,
        "min_rate_bp": 400, "max_rate_bp": 900,
        "methods": ["annuity"],
        "requirements": {"min_provident_fund_months": 24, "min_provident_fund_base_fen": 500_000}
    })
}

async fn put(c: &common::Client, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
    c.call(Method::PUT, path, Some(body)).await
}

#[tokio::test]
async fn products_are_written_by_product_managers_and_read_by_staff() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let sales = s.login("xiao", TEAM_PASSWORD).await;

    let (st, e) = sales.post("/api/v1/products", salary_loan()).await;
    assert_eq!(st, 403, "a salesperson may not write products: {e}");

    let mut bad = salary_loan();
    bad["requirements"]["max_age"] = json!(18);
    let (st, e) = admin.post("/api/v1/products", bad).await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["field"], "requirements.max_age", "{e}");

    let (st, p) = admin.post("/api/v1/products", salary_loan()).await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(p["version"], 1);
    assert_eq!(
        p["requirements"]["cities"],
        json!(["上海", "杭州"]),
        "city names are stored without 市"
    );
    let id = p["id"].as_str().unwrap().to_string();

    let (st, e) = admin.post("/api/v1/products", salary_loan()).await;
    assert_eq!(st, 409, "same lender and name: {e}");
    assert_eq!(e["error"]["code"], "product_exists");

    // A salesperson reads the list (active first) and one product.
    let (st, list) = sales.get("/api/v1/products").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"], 1);
    let (st, one) = sales.get(&format!("/api/v1/products/{id}")).await;
    assert_eq!((st.as_u16(), &one["name"]), (200, &json!("工薪贷")));

    // A change is a new version; the same terms again are not.
    let mut changed = salary_loan();
    changed["min_rate_bp"] = json!(550);
    let (st, v2) = put(&admin, &format!("/api/v1/products/{id}"), changed.clone()).await;
    assert_eq!((st.as_u16(), &v2["version"]), (200, &json!(2)), "{v2}");
    let (_, same) = put(&admin, &format!("/api/v1/products/{id}"), changed.clone()).await;
    assert_eq!(same["version"], 2, "no change, no version");
    changed["active"] = json!(false);
    let (_, v3) = put(&admin, &format!("/api/v1/products/{id}"), changed).await;
    assert_eq!(v3["version"], 3);
    let (_, versions) = sales.get(&format!("/api/v1/products/{id}/versions")).await;
    let rates: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["min_rate_bp"].as_i64().unwrap())
        .collect();
    assert_eq!(rates, [600, 550, 550]);
    let (_, active) = sales.get("/api/v1/products?active=true").await;
    assert_eq!(active["total"], 0, "deactivated: {active}");

    let (_, audit) = admin.get("/api/v1/audit?action=product.updated").await;
    let row = &audit["items"][0];
    assert_eq!(row["detail"]["changed"], json!(["min_rate_bp"]), "{audit}");
    let (_, audit) = admin.get("/api/v1/audit?action=product.deactivated").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    let (st, _) = sales.get("/api/v1/products/nope").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_customer_is_matched_with_every_reason_and_only_in_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "da", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    for p in [salary_loan(), fund_loan()] {
        let (st, e) = admin.post("/api/v1/products", p).await;
        assert_eq!(st, 201, "{e}");
    }
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800138000", "city": "上海",
                   "demand": {"amount_fen": 10_000_000, "term_months": 12},
                   "profile": {"occupation": "employee", "social_security_months": 6,
                               "provident_fund_months": 36, "provident_fund_base_fen": 800_000,
                               "credit": {"inquiries_3m": 2}}}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap();

    let (st, m) = xiao.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (
            m["eligible"].as_u64(),
            m["needs_info"].as_u64(),
            m["ineligible"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{m}"
    );
    let first = &m["items"][0];
    assert_eq!(first["name"], "公积金贷", "eligible first: {m}");
    assert_eq!(first["status"], "eligible");
    assert_eq!(first["estimate"]["amount_fen"], 10_000_000, "{first}");
    assert_eq!(first["estimate"]["term_months"], 12);
    // ¥100,000 over 12 months at 4% and 9%, annuity: P·i·(1+i)^n / ((1+i)^n − 1) =
    // 8,514.990 and 8,745.148 yuan, half-up to the fen.
    assert_eq!(first["estimate"]["payment_min_fen"], 851_499, "{first}");
    assert_eq!(first["estimate"]["payment_max_fen"], 874_515, "{first}");
    let second = &m["items"][1];
    assert_eq!(second["status"], "ineligible");
    assert_eq!(
        second["failures"],
        json!([{"field": "min_social_security_months", "reason": "社保缴纳 6 个月，要求 ≥ 12 个月",
                "hint": "再缴 6 个月社保即可申请", "gap": 6}]),
        "{second}"
    );
    assert_eq!(second["near_miss"]["hint"], "再缴 6 个月社保即可申请");
    assert_eq!(
        second["missing"],
        json!([{"field": "id_number", "reason": "未填写身份证号（用于计算年龄）"}]),
        "{second}"
    );

    // The profile changes: the answer follows.
    let (st, e) = xiao
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"id_number": "11010519491231002X",
                        "profile": {"occupation": "employee", "social_security_months": 12,
                                    "provident_fund_months": 36, "provident_fund_base_fen": 800_000,
                                    "credit": {"inquiries_3m": 2}}})),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let (_, m) = xiao.get(&format!("/api/v1/customers/{id}/matches")).await;
    let salary = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "工薪贷")
        .unwrap();
    let reasons: Vec<&str> = salary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 1, "{salary}");
    assert!(
        reasons[0].starts_with("年龄 ") && reasons[0].ends_with("岁，要求 ≤ 55 岁"),
        "social security now met; the ID says born 1949: {reasons:?}"
    );

    // Another salesperson: 404, as for the customer itself.
    let (st, _) = da.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert_eq!(st, 404);
}

/// The default `products.score` caps a 信用贷 at 20 months of income and says so; a failing
/// plugin leaves the products listed unscored and says so in the report; the try-it panel
/// scores one product.
#[tokio::test]
async fn the_scoring_plugin_ranks_caps_and_its_failure_is_reported() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut credit = salary_loan();
    credit["requirements"] = json!({});
    let (_, credit) = admin.post("/api/v1/products", credit).await;
    let (_, fund) = admin.post("/api/v1/products", fund_loan()).await;
    let mut fund_req = fund_loan();
    fund_req["name"] = json!("无要求公积金贷");
    fund_req["requirements"] = json!({});
    let (st, e) = admin.post("/api/v1/products", fund_req).await;
    assert_eq!(st, 201, "{e}");
    let (_, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "孙八", "phone": "13900139000",
                   "demand": {"amount_fen": 20_000_000, "term_months": 12},
                   "profile": {"monthly_income_fen": 400_000}}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let (st, m) = admin.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert_eq!(st, 200, "{m}");
    assert!(m.get("plugin_error").is_none(), "{m}");
    let item = |m: &Value, pid: &Value| {
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| &i["product_id"] == pid)
            .cloned()
            .unwrap()
    };
    let c1 = item(&m, &credit["id"]);
    assert_eq!(c1["status"], "eligible", "{c1}");
    assert_eq!(c1["estimate"]["amount_fen"], 8_000_000, "¥4,000 × 20: {c1}");
    assert_eq!(c1["notes"], json!(["信用贷额度按月收入的20倍估算"]));
    // 1000 − 600/10 + 200 (the ¥200,000 asked is within the product's maximum).
    assert_eq!(c1["score"], 1140, "{c1}");
    // The fund loan lacks provident-fund facts: needs information, ranked after the eligible.
    let f = item(&m, &fund["id"]);
    assert_eq!(
        (f["status"].as_str(), f["score"].as_i64()),
        (Some("needs_info"), Some(860)),
        "1000 − 40 − 300 + 200: {f}"
    );
    let order: Vec<&str> = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["eligible", "eligible", "needs_info"], "{m}");
    assert_eq!(
        m["items"][0]["name"], "无要求公积金贷",
        "score 1160 before 1140: {m}"
    );

    // The try-it panel scores one product.
    let (st, t) = admin
        .post(
            "/api/v1/plugins/match/test",
            json!({"hook": "products.score", "customer_id": id, "product_id": credit["id"]}),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["decision"]["amount_max_fen"], 8_000_000, "{t}");

    // A broken plugin: listed unscored, the error reported.
    let (st, e) = admin
        .call(
            Method::PUT,
            "/api/v1/plugins/match",
            Some(json!({"source": "fn score(customer, product, ctx) { throw \"坏了\"; }"})),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let (_, m) = admin.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert!(m["plugin_error"].as_str().unwrap().contains("坏了"), "{m}");
    assert_eq!(m["eligible"], 2, "the requirements still decide: {m}");
    assert!(
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["score"] == 0),
        "{m}"
    );
    let (_, p) = admin.get("/api/v1/plugins/match").await;
    assert!(
        p.to_string().contains("坏了"),
        "the admin sees the failure on the plugin page: {p}"
    );
}

/// The reverse match: counts and pages over the caller's scope only; the exact age decides a
/// customer whose birth year leaves it open; a changed requirement changes the list.
#[tokio::test]
async fn the_reverse_match_lists_only_my_qualifying_customers() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "da", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let mut p = fund_loan();
    p["requirements"]["max_age"] = json!(76);
    let (_, p) = admin.post("/api/v1/products", p).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let qualified = json!({"provident_fund_months": 30, "provident_fund_base_fen": 600_000});
    let mut xiao_ids = vec![];
    for (k, profile) in [
        qualified.clone(),
        qualified.clone(),
        json!({"provident_fund_months": 12, "provident_fund_base_fen": 600_000}),
        json!({"provident_fund_months": 30}),
    ]
    .into_iter()
    .enumerate()
    {
        let (st, c) = xiao
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{k}"), "phone": format!("1380000000{k}"), "profile": profile}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        xiao_ids.push(c["id"].as_str().unwrap().to_string());
    }
    // Born 1949-12-31: 76 on the test clock's 2026-11-20, though 2026 − 1949 = 77.
    let (st, old) = da
        .post(
            "/api/v1/customers",
            json!({"name": "老周", "phone": "13900000009", "id_number": "11010519491231002X",
                   "profile": qualified}),
        )
        .await;
    assert_eq!(st, 201, "{old}");

    let url = format!("/api/v1/products/{pid}/candidates");
    let (st, page) = xiao.get(&url).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(
        (
            page["eligible"].as_u64(),
            page["needs_info"].as_u64(),
            page["scanned"].as_u64()
        ),
        (Some(0), Some(3), Some(4)),
        "no ID number: the age is unknown, so at best information is missing: {page}"
    );
    let (_, page) = da.get(&url).await;
    assert_eq!(
        (page["eligible"].as_u64(), page["scanned"].as_u64()),
        (Some(1), Some(1)),
        "the exact age, 76, decides: {page}"
    );
    assert_eq!(page["items"][0]["name"], "老周");
    assert_eq!(
        page["items"][0]["id_number"], "110105********002X",
        "masked as everywhere: {page}"
    );

    // Without the age requirement the salesperson's two qualified customers are eligible.
    let mut changed = fund_loan();
    changed["requirements"]["max_age"] = json!(75);
    let (st, _) = put(&admin, &format!("/api/v1/products/{pid}"), changed).await;
    assert_eq!(st, 200);
    let (_, page) = da.get(&url).await;
    assert_eq!(
        page["eligible"], 0,
        "75: both readings of the birth year fail: {page}"
    );
    let (st, _) = put(&admin, &format!("/api/v1/products/{pid}"), fund_loan()).await;
    assert_eq!(st, 200);
    let (_, page) = xiao.get(&format!("{url}?limit=1")).await;
    assert_eq!(
        (page["eligible"].as_u64(), page["needs_info"].as_u64()),
        (Some(2), Some(1)),
        "{page}"
    );
    assert_eq!(page["items"][0]["id"], xiao_ids[0].as_str());
    let after = page["next_after"].as_str().unwrap();
    let (_, page2) = xiao.get(&format!("{url}?limit=1&after={after}")).await;
    assert_eq!(page2["items"][0]["id"], xiao_ids[1].as_str());
    assert!(page2["next_after"].is_null(), "{page2}");
    let (_, info) = xiao.get(&format!("{url}?status=needs_info")).await;
    assert_eq!(info["items"][0]["id"], xiao_ids[3].as_str(), "{info}");
    // The admin sees all five.
    let (_, all) = admin.get(&url).await;
    assert_eq!(
        (all["eligible"].as_u64(), all["scanned"].as_u64()),
        (Some(3), Some(5)),
        "{all}"
    );
    // A deleted customer drops out.
    let (st, e) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", xiao_ids[0]),
            None,
        )
        .await;
    assert!(st.is_success(), "{e}");
    let (_, page) = xiao.get(&url).await;
    assert_eq!(page["eligible"], 1, "{page}");
    let (st, e) = xiao.get(&format!("{url}?limit=0")).await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("limit")));
}

/// Schema 17 fills the compact match rows of an existing store from the records (live
/// customers only).
#[tokio::test]
async fn the_upgrade_fills_the_match_rows_of_live_customers() {
    use redb::TableDefinition;
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    const MATCH: TableDefinition<&str, &[u8]> = TableDefinition::new("customer_match");
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut ids = vec![];
    for k in 0..3 {
        let (_, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{k}"), "phone": format!("1370000000{k}"),
                       "city": "杭州", "profile": {"social_security_months": 10 + k}}),
            )
            .await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", ids[2]),
            None,
        )
        .await;
    assert!(st.is_success());
    let data = s.stop().await;
    let path = data.path().join("zhudai.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(MATCH).unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", 16)
            .unwrap();
        tx.commit().unwrap();
    }
    let store = common::open_keyed(data.path(), &path);
    let mut seen = vec![];
    store
        .read(|tx| {
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .scan_match_rows(|id, row| {
                seen.push((
                    id.to_string(),
                    row.city.clone(),
                    row.profile.social_security_months,
                ));
                Ok(true)
            })
        })
        .unwrap();
    assert_eq!(
        seen,
        vec![
            (ids[0].clone(), Some("杭州".to_string()), Some(10)),
            (ids[1].clone(), Some("杭州".to_string()), Some(11)),
        ],
        "the deleted customer has no row"
    );
}

/// A multipart upload of `file` (and `dry_run`), built by hand.
async fn upload_sheet(c: &common::Client, file: &[u8], dry_run: bool) -> (u16, Value) {
    let b = "zhudai-test-boundary";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\n{dry_run}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"products.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let r = c
        .http
        .post(format!("{}/api/v1/products/import", c.base))
        .header("x-csrf-token", c.csrf.clone().unwrap())
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A product sheet: all or nothing, every bad cell named with its row, column and value; a
/// dry run writes nothing; a second import updates by lender + name as new versions.
#[tokio::test]
async fn a_product_sheet_imports_all_or_nothing() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let header = "产品名称,放款机构,类别,最低额度(万元),最高额度(万元),最短期限(月),最长期限(月),最低年利率(%),最高年利率(%),还款方式,年龄下限,年龄上限,可做城市,社保月数,近3月查询上限,须有房,服务费,返佣(%),内部编号\n";
    let bad = format!(
        "{header}工薪贷,某银行,信用贷,1,30,12,36,3.6,18,等额本息、等额本金,22,55,上海市、杭州,12,4,否,3%,1,A-01\n\
         房抵贷,某银行,抵押贷,十,500,12,120,3.2,6,先息后本,,,,,,是,5000,0.5,A-02\n\
         车主贷,某消金,车贷,5,20,12,36,7,24,按月付,,,,,,,,,A-03\n\
         工薪贷,某银行,信用贷,1,30,12,36,3.6,18,等额本息,,,,,,,,,A-04\n\
         税贷,某银行,税贷,10,100,12,36,4,9,等额本息,60,40,,,,,,,A-05\n"
    );
    let (st, r) = upload_sheet(&admin, bad.as_bytes(), false).await;
    assert_eq!(st, 200, "{r}");
    let errors: Vec<(u64, &str, &str)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap(),
                e["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "最低额度(万元)", "十"),
            (4, "还款方式", "按月付"),
            (5, "产品名称", "工薪贷"),
            (6, "年龄上限", "40"),
        ],
        "{r}"
    );
    assert_eq!(r["errors"][3]["reason"], "下限不能大于上限");
    assert_eq!(
        r["ignored_columns"],
        json!(["内部编号"]),
        "not silently dropped"
    );
    assert_eq!(r["created"], 0);
    let (_, list) = admin.get("/api/v1/products").await;
    assert_eq!(list["total"], 0, "nothing written: {list}");

    let good = format!(
        "{header}工薪贷,某银行,信用贷,1,30,12,36,3.6,18,等额本息、等额本金,22,55,上海市、杭州,12,4,否,3%,1,A-01\n\
         房抵贷,某银行,抵押贷,10,500,12,120,3.2,6,先息后本,,,,,,是,5000,0.5,A-02\n"
    );
    let (st, r) = upload_sheet(&xiao, good.as_bytes(), false).await;
    assert_eq!(st, 403, "a salesperson may not import products: {r}");
    let (_, r) = upload_sheet(&admin, good.as_bytes(), true).await;
    assert_eq!(
        (r["created"].as_u64(), r["dry_run"].as_bool()),
        (Some(2), Some(true)),
        "{r}"
    );
    let (_, list) = admin.get("/api/v1/products").await;
    assert_eq!(list["total"], 0, "a dry run writes nothing");
    let (_, r) = upload_sheet(&admin, good.as_bytes(), false).await;
    assert_eq!(r["created"], 2, "{r}");
    let (_, list) = admin.get("/api/v1/products").await;
    let salary = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "工薪贷")
        .unwrap()
        .clone();
    assert_eq!(salary["max_amount_fen"], 30_000_000);
    assert_eq!(salary["min_rate_bp"], 360);
    assert_eq!(salary["methods"], json!(["annuity", "equal_principal"]));
    assert_eq!(salary["requirements"]["cities"], json!(["上海", "杭州"]));
    assert_eq!(salary["requirements"]["requires_property"], false);
    assert_eq!(salary["fee"], json!({"kind": "rate", "rate_bp": 300}));
    assert_eq!(salary["rebate_bp"], 100);
    let mortgage = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "房抵贷")
        .unwrap();
    assert_eq!(
        mortgage["fee"],
        json!({"kind": "fixed", "amount_fen": 500_000})
    );
    assert_eq!(mortgage["requirements"]["requires_property"], true);

    // Again, with one rate changed: one new version, one unchanged.
    let changed = good.replace("3.2,6,先息后本", "3.3,6,先息后本");
    let (_, r) = upload_sheet(&admin, changed.as_bytes(), false).await;
    assert_eq!(
        (
            r["created"].as_u64(),
            r["updated"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(1)),
        "{r}"
    );
    let (_, v) = admin
        .get(&format!(
            "/api/v1/products/{}/versions",
            mortgage["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 2);

    let (st, e) = upload_sheet(&admin, "名称,机构\n".as_bytes(), false).await;
    assert_eq!(st, 200, "{e}");
    assert!(
        e["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["column"] == "产品名称" && x["reason"] == "缺少这一列"),
        "{e}"
    );
    let r = admin
        .http
        .get(format!("{}/api/v1/products/sheet-template", admin.base))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}产品名称,放款机构,类别,最低额度(万元)"),
        "{text}"
    );
}

/// The product sheet as Excel writes it: numbers as numbers (an amount, a rate of 3.6 typed as
/// a number), text as text.
#[tokio::test]
async fn a_product_sheet_in_xlsx_imports() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "产品名称",
        "放款机构",
        "类别",
        "最低额度(万元)",
        "最高额度(万元)",
        "最短期限(月)",
        "最长期限(月)",
        "最低年利率(%)",
        "最高年利率(%)",
        "还款方式",
        "社保月数",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (c, v) in ["公积金贷", "某银行", "公积金贷"].iter().enumerate() {
        sheet.write_string(1, c as u16, *v).unwrap();
    }
    for (c, v) in [
        (3u16, 1.0),
        (4, 50.0),
        (5, 12.0),
        (6, 60.0),
        (7, 3.6),
        (8, 9.0),
        (10, 12.0),
    ] {
        sheet.write_number(1, c, v).unwrap();
    }
    sheet.write_string(1, 9, "等额本息、先息后本").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (st, r) = upload_sheet(&admin, &bytes, false).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["created"].as_u64(), r["errors"].as_array().map(Vec::len)),
        (Some(1), Some(0)),
        "{r}"
    );
    let (_, list) = admin.get("/api/v1/products").await;
    let p = &list["items"][0];
    assert_eq!(
        (p["max_amount_fen"].as_i64(), p["min_rate_bp"].as_i64()),
        (Some(50_000_000), Some(360)),
        "{p}"
    );
    assert_eq!(p["methods"], json!(["annuity", "interest_only"]));
    assert_eq!(p["requirements"]["min_social_security_months"], 12);
}

/// The product shape of docs/api.md (the public contract): created with those names, read back
/// with them, changed with a merge patch; an unknown field is refused naming it, never dropped.
#[tokio::test]
async fn products_speak_the_public_contract() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let body = json!({
        "name": "房抵贷", "lender": "某银行", "category": "mortgage",
        "min_amount_fen": 10_000_000, "max_amount_fen": 500_000_000,
        "min_term_months": 12, "max_term_months": 120, "min_rate_bp": 350, "max_rate_bp": 800,
        "methods": ["annuity", "interest_only"],
        "requirements": {"min_age": 22, "max_age": 60, "cities": ["成都"],
                         "min_social_security_months": 6, "min_provident_fund_months": 0,
                         "requires_property": true, "requires_car": false,
                         "min_monthly_income_fen": 500_000, "max_inquiries_3m": 6,
                         "max_inquiries_6m": 10, "max_overdue_2y": 2, "min_license_months": 12,
                         "min_tax_rating": "B"},
        "required_documents": ["房产证", "身份证"],
        "fee": {"kind": "rate", "rate_bp": 200}, "rebate_bp": 50, "active": true
    });
    let (st, p) = admin.post("/api/v1/products", body).await;
    assert_eq!(st, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (st, got) = admin.get(&format!("/api/v1/products/{id}")).await;
    assert_eq!(st, 200);
    for (k, v) in [
        ("min_amount_fen", json!(10_000_000)),
        ("max_amount_fen", json!(500_000_000)),
        ("min_term_months", json!(12)),
        ("max_rate_bp", json!(800)),
        ("required_documents", json!(["房产证", "身份证"])),
        ("fee", json!({"kind": "rate", "rate_bp": 200})),
        ("rebate_bp", json!(50)),
        ("active", json!(true)),
    ] {
        assert_eq!(got[k], v, "{k} in {got}");
    }
    assert_eq!(got["requirements"]["min_age"], 22);
    assert_eq!(got["requirements"]["requires_property"], true);
    assert_eq!(got["requirements"]["min_license_months"], 12);
    assert_eq!(got["requirements"]["min_tax_rating"], "B");

    let (st, patched) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(
                json!({"max_rate_bp": 900, "fee": {"kind": "fixed", "amount_fen": 300_000},
                        "requirements": {"max_age": null}}),
            ),
        )
        .await;
    assert_eq!(st, 200, "{patched}");
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["max_rate_bp"], 900);
    assert_eq!(patched["min_rate_bp"], 350, "untouched fields stay");
    assert_eq!(
        patched["fee"],
        json!({"kind": "fixed", "amount_fen": 300_000})
    );
    assert!(patched["requirements"]["max_age"].is_null(), "null clears");
    assert_eq!(patched["requirements"]["min_age"], 22);

    let (st, err) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(json!({"requirements": {"min_agee": 30}})),
        )
        .await;
    assert_eq!(st, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("min_agee"),
        "{err}"
    );
    let (st, err) = admin
        .post("/api/v1/products", json!({"name": "x", "min_amount": 1}))
        .await;
    assert_eq!(st, 400, "{err}");
    let (_, after) = admin.get(&format!("/api/v1/products/{id}")).await;
    assert_eq!(after["version"], 2, "a refused patch writes nothing");
}

/// The products report's "matched": a product listed as eligible when someone asks the
/// matching of a customer counts once per customer, product and day (a second look the same
/// day adds nothing, the next day counts again; an ineligible product never); the report
/// shows matched → submitted → approved with the rates, and its totals recompute them.
#[tokio::test]
async fn matching_counts_once_per_customer_product_and_day_into_the_products_report() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "da", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let mut fund = String::new();
    for p in [salary_loan(), fund_loan()] {
        let (st, e) = admin.post("/api/v1/products", p).await;
        assert_eq!(st, 201, "{e}");
        if e["name"] == "公积金贷" {
            fund = e["id"].as_str().unwrap().to_string();
        }
    }
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800138000", "city": "上海",
                   "demand": {"amount_fen": 10_000_000, "term_months": 12},
                   "profile": {"occupation": "employee", "social_security_months": 6,
                               "provident_fund_months": 36, "provident_fund_base_fen": 800_000,
                               "credit": {"inquiries_3m": 2}}}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap();
    let (_, t) = admin.get("/api/v1/reports/trends").await;
    let day1 = t["to"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (st, m) = xiao.get(&format!("/api/v1/customers/{id}/matches")).await;
        assert_eq!(st, 200, "{m}");
        assert_eq!(m["eligible"], 1, "{m}");
    }
    let (st, _) = da.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert_eq!(st, 404, "out of scope: not matched, not counted");
    s.clock.advance(chrono::Duration::days(1));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, _) = xiao.get(&format!("/api/v1/customers/{id}/matches")).await;
    assert_eq!(st, 200);
    let (_, t) = admin.get("/api/v1/reports/trends").await;
    let day2 = t["to"].as_str().unwrap().to_string();
    // One deal of the matched product, submitted and approved.
    let (st, d) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": id, "product_id": fund, "amount_fen": 10_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let deal = d["id"].as_str().unwrap();
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收，系统补录"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
    ] {
        let (st, v) = admin
            .post(&format!("/api/v1/deals/{deal}/stage"), body)
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, r) = admin
        .get(&format!("/api/v1/reports/products?from={day1}&to={day2}"))
        .await;
    assert_eq!(st, 200, "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "the ineligible product has no row: {r}");
    let row = &rows[0];
    assert_eq!(row["product_id"], fund.as_str());
    assert_eq!(row["matched"], 2, "once on each day: {r}");
    assert_eq!(row["submitted"], 1);
    assert_eq!(row["applied_bp"], 5000);
    assert_eq!(row["approved"], 1);
    assert_eq!(row["approved_bp"], 10_000);
    assert_eq!(r["totals"]["matched"], 2);
    assert_eq!(r["totals"]["applied_bp"], 5000, "{r}");
    // Only day 1: the first look alone.
    let (_, r) = admin
        .get(&format!("/api/v1/reports/products?from={day1}&to={day1}"))
        .await;
    assert_eq!(r["rows"][0]["matched"], 1, "{r}");
    // Only today's dedup markers are kept.
    let markers = s
        .app
        .store
        .read(|tx| zhudai::store::pools::counters_with_prefix(tx, "matchseen/"))
        .unwrap();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert!(markers[0].0.starts_with(&format!("matchseen/{day2}/")));
}

/// A sheet re-import of a product leaves the requirements it has no column for as they were
/// (the debt-to-income limit was cleared, and over-limit customers matched); the limit has its
/// own column in the template.
#[tokio::test]
async fn a_sheet_reimport_keeps_the_debt_limit_it_has_no_column_for() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let body = json!({
        "name": "边界信用贷", "lender": "测试银行", "category": "credit",
        "min_amount_fen": 1_000_000, "max_amount_fen": 30_000_000,
        "min_term_months": 12, "max_term_months": 36,
        "min_rate_bp": 600, "max_rate_bp": 1200, "methods": ["annuity"],
        "requirements": {"max_debt_income_pct": 2000}
    });
    let (st, p) = admin.post("/api/v1/products", body).await;
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_str().unwrap().to_string();
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "负债高", "phone": "13700001009",
                   "profile": {"monthly_income_fen": 500_000,
                               "credit": {"existing_debt_fen": 20_000_000}}}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let status_of = |m: &Value| {
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["product_id"] == pid.as_str())
            .map(|i| i["status"].clone())
            .unwrap()
    };

    let header = "产品名称,放款机构,类别,最低额度(万元),最高额度(万元),最短期限(月),最长期限(月),最低年利率(%),最高年利率(%),还款方式\n";
    let sheet = format!("{header}边界信用贷,测试银行,信用贷,1,300,12,36,6,12,等额本息\n");
    let (st, r) = upload_sheet(&admin, sheet.as_bytes(), false).await;
    assert_eq!((st, r["updated"].as_u64()), (200, Some(1)), "{r}");
    let (_, p) = admin.get(&format!("/api/v1/products/{pid}")).await;
    assert_eq!(p["max_amount_fen"], 300_000_000, "{p}");
    assert_eq!(p["requirements"]["max_debt_income_pct"], 2000, "{p}");
    let (_, m) = admin.get(&format!("/api/v1/customers/{cid}/matches")).await;
    assert_eq!(status_of(&m), "ineligible", "{m}");

    // The column: 15 times the monthly income.
    let sheet = format!(
        "{}负债收入比上限(倍)\n边界信用贷,测试银行,信用贷,1,300,12,36,6,12,等额本息,15\n",
        header.trim_end().to_string() + ","
    );
    let (st, r) = upload_sheet(&admin, sheet.as_bytes(), false).await;
    assert_eq!((st, r["updated"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(r["ignored_columns"], json!([]), "{r}");
    let (_, p) = admin.get(&format!("/api/v1/products/{pid}")).await;
    assert_eq!(p["requirements"]["max_debt_income_pct"], 1500, "{p}");
    let t = admin
        .http
        .get(format!("{}/api/v1/products/sheet-template", admin.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(t.contains("负债收入比上限(倍)"), "{t}");
    s.stop().await;
}

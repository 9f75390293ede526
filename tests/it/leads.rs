//! The lead-vendor duplicate check (撞库, `POST /api/v1/leads/check`): plain and hashed numbers
//! answered yes/no and nothing else, the recycle bin counts and erasure does not, the
//! capability, the 1,000-entry cap, the per-token limits, the audit row with counts only, and
//! the schema-22 fill of the index for customers written before it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::config::Config;

fn sha(s: &str) -> String {
    zhudai::crypto::sha256_hex(s.as_bytes())
}

async fn customer(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn token(c: &Client) -> String {
    let (st, v) = c
        .post("/api/v1/tokens", json!({"name": "vendor check"}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn check(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(s.url("/api/v1/leads/check"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn plain_and_hashed_numbers_are_answered_yes_or_no_and_nothing_else() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    customer(&admin, "甲", "13800138000").await;
    let binned = customer(&admin, "乙", "13900139000").await;
    let erased = customer(&admin, "丙", "13700137000").await;
    let (st, _) = admin
        .call(Method::DELETE, &format!("/api/v1/customers/{binned}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = admin
        .post(
            &format!("/api/v1/customers/{erased}/erase"),
            json!({"request_ref": "PI-1"}),
        )
        .await;
    assert_eq!(st, 200);
    let t = token(&admin).await;

    let (st, v) = check(
        &s,
        &t,
        json!({"phones": ["138 0013 8000", "+86 139-0013-9000", "13700137000", "13600136000", "12345"],
               "sha256": [sha("13800138000").to_uppercase(), sha("13600136000"), sha("+8613800138000"), "xyz"]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let answers: Vec<Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["exists"].clone())
        .collect();
    assert_eq!(
        answers,
        [
            json!(true),  // live
            json!(true),  // in the recycle bin: still the firm's lead
            json!(false), // erased
            json!(false), // never a customer
            Value::Null,  // not a mobile number: an error, not a silent false
            json!(true),  // hash of the normalised form, either case
            json!(false),
            json!(false), // a hash of another form than the documented one matches nothing
            Value::Null,
        ]
    );
    for r in v["results"].as_array().unwrap() {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert!(
            keys == ["exists", "input"] || keys == ["error", "input"],
            "only yes/no per entry: {r}"
        );
    }
    assert_eq!(v["results"][4]["error"], "手机号应为11位");
    assert_eq!(v["results"][0]["input"], "138 0013 8000");
    assert_eq!(
        (&v["checked"], &v["existing"], &v["invalid"]),
        (&json!(7), &json!(3), &json!(2))
    );
    // The fresh ones as a workbook of text cells; anything else than a number or a hash is
    // refused (nothing but the vendor's numbers reaches the file).
    let xlsx = admin
        .http
        .post(s.url("/api/v1/leads/fresh.xlsx"))
        .header("x-csrf-token", admin.csrf.clone().unwrap())
        .json(&json!({"entries": ["13600136000", sha("13600136000")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    assert!(
        xlsx.bytes().await.unwrap().starts_with(b"PK"),
        "a ZIP (XLSX)"
    );
    let (st, e) = admin
        .post(
            "/api/v1/leads/fresh.xlsx",
            json!({"entries": ["=HYPERLINK(1)"]}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("entries"))
    );
    let text = v.to_string();
    assert!(!text.contains(&binned) && !text.contains("owner") && !text.contains("stage"));

    // Audited with the counts, never the numbers.
    let (_, audit) = admin.get("/api/v1/audit?action=lead.checked").await;
    let row = &audit["items"][0];
    assert_eq!(
        row["detail"],
        json!({"entries": 9, "checked": 7, "existing": 3, "invalid": 2})
    );
    assert!(!row.to_string().contains("13800138000"));

    // `zhudai doctor` recounts the index from the records: in step, then a key removed by hand
    // is reported.
    let drift = || s.app.store.read(zhudai::store::leads::drift).unwrap();
    assert_eq!(drift(), Vec::<String>::new());
    s.app
        .store
        .write(|tx| {
            let lead = s.app.fields.lead_index("13800138000");
            let mut t = tx.open_table(zhudai::store::tables::LEAD_CHECK)?;
            let key = {
                use redb::ReadableTable;
                // Keys hold the first 128 bits of the lead index as bytes, after a tag byte
                // (schema 35, `store::key_codec`).
                let mut prefix = vec![1u8];
                prefix.extend(hex::decode(&lead[..32]).unwrap());
                let first = t.range::<&[u8]>(prefix.as_slice()..)?.next().unwrap()?;
                assert!(first.0.value().starts_with(&prefix));
                first.0.value().to_vec()
            };
            t.remove(key.as_slice())?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let d = drift();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("missing"), "{d:?}");
    s.stop().await;
}

#[tokio::test]
async fn the_capability_the_cap_and_the_limits_are_enforced() {
    let mut config = Config::defaults().unwrap();
    config.leads.check_requests_per_minute = 3;
    config.leads.check_numbers_per_day = 1_500;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let sales = s.login("xiao", TEAM_PASSWORD).await;
    let st = token(&sales).await;
    let (code, e) = check(&s, &st, json!({"phones": ["13800138000"]})).await;
    assert_eq!(
        (code, &e["error"]["code"]),
        (403, &json!("forbidden")),
        "{e}"
    );
    // A session holding lead.check may use it too (the 撞库 page).
    let (code, _) = admin
        .post("/api/v1/leads/check", json!({"phones": ["13800138000"]}))
        .await;
    assert_eq!(code, 200);

    let t = token(&admin).await;
    let many: Vec<String> = (0..1_001).map(|i| format!("138{i:08}")).collect();
    let (code, e) = check(&s, &t, json!({"phones": many})).await;
    assert_eq!((code, &e["error"]["field"]), (400, &json!("phones")), "{e}");
    let (code, _) = check(&s, &t, json!({"phones": []})).await;
    assert_eq!(code, 400);
    // 1,000 is allowed; the day's numbers then run out before the minute's requests. The
    // browser's one number above counts: the day is the user's.
    let (code, v) = check(&s, &t, json!({"phones": many[..1000]})).await;
    assert_eq!((code, v["results"].as_array().unwrap().len()), (200, 1000));
    let (code, e) = check(&s, &t, json!({"phones": many[..500]})).await;
    assert_eq!(
        (code, &e["error"]["code"]),
        (429, &json!("throttled")),
        "{e}"
    );
    let (code, _) = check(&s, &t, json!({"phones": many[..499]})).await;
    assert_eq!(code, 200);
    let (code, _) = check(&s, &t, json!({"phones": ["13800138000"]})).await;
    assert_eq!(code, 429, "the day's numbers are used");
    // The day's numbers are the user's, whatever token asks: a second token minted by the same
    // user (any session can mint one) gets no fresh allowance, nor does the user's browser.
    let t2 = token(&admin).await;
    let (code, e) = check(&s, &t2, json!({"phones": ["13800138000"]})).await;
    assert_eq!(
        (code, &e["error"]["code"]),
        (429, &json!("throttled")),
        "a new token of the same user: {e}"
    );
    let (code, _) = admin
        .post("/api/v1/leads/check", json!({"phones": ["13800138000"]}))
        .await;
    assert_eq!(code, 429, "the user's browser shares the day's numbers");
    s.clock.advance(chrono::Duration::days(1));
    // The requests per minute are per token: three each.
    for _ in 0..3 {
        let (code, _) = check(&s, &t2, json!({"phones": ["13800138000"]})).await;
        assert_eq!(code, 200);
    }
    let (code, _) = check(&s, &t2, json!({"phones": ["13800138000"]})).await;
    assert_eq!(code, 429, "the minute's three requests are used");
    let (code, _) = check(&s, &t, json!({"phones": ["13800138000"]})).await;
    assert_eq!(code, 200, "another token's minute is its own");
    s.clock.advance(chrono::Duration::seconds(61));
    let (code, _) = check(&s, &t2, json!({"phones": ["13800138000"]})).await;
    assert_eq!(code, 200);
    s.stop().await;
}

#[tokio::test]
async fn customers_written_before_schema_22_are_filled_in_at_start() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = customer(&admin, "丁", "13500135000").await;
    // As a store upgraded from schema 21 looks: no lead index on the record, none in the
    // table, the fill pending.
    s.app
        .store
        .write(|tx| {
            use redb::ReadableTable;
            let mut t = tx.open_table(zhudai::store::tables::CUSTOMERS)?;
            let bytes = t.get(id.as_str())?.unwrap().value().to_vec();
            let mut c = zhudai::store::customer_codec::decode(&id, &bytes)?;
            c.phone.lead.clear();
            t.insert(
                id.as_str(),
                zhudai::store::customer_codec::encode(&c)?.as_slice(),
            )?;
            tx.delete_table(zhudai::store::tables::LEAD_CHECK)?;
            tx.open_table(zhudai::store::tables::LEAD_CHECK)?;
            tx.open_table(zhudai::store::tables::SETTINGS)?
                .insert(zhudai::store::leads::FILL_CURSOR, "")?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let (code, e) = admin
        .post("/api/v1/leads/check", json!({"phones": ["13500135000"]}))
        .await;
    assert_eq!(
        (code.as_u16(), &e["error"]["code"]),
        (503, &json!("lead_index_building"))
    );
    // The fill resumes batch by batch: a batch of one customer at a time, three customers.
    customer(&admin, "戊", "13500135001").await;
    customer(&admin, "己", "13500135002").await;
    let fields = &s.app.fields;
    let lead_of = |id: &str, field: &str, sealed: &zhudai::domain::customer::Sealed| {
        fields
            .decrypt(id, field, &sealed.enc)
            .map(|plain| fields.lead_index(&plain))
            .map_err(|e| e.to_string())
    };
    let mut rounds = Vec::new();
    loop {
        let done = s
            .app
            .store
            .write(|tx| zhudai::store::leads::fill_batch(tx, 1, &lead_of))
            .unwrap();
        rounds.push(done);
        if done {
            break;
        }
    }
    assert_eq!(
        rounds,
        [false, false, false, true],
        "one customer per batch, then done"
    );
    let (code, v) = admin
        .post(
            "/api/v1/leads/check",
            json!({"phones": ["13500135000", "13500135002"]}),
        )
        .await;
    assert_eq!(code.as_u16(), 200, "{v}");
    assert_eq!(v["existing"], 2);
    // Marked pending again (as after an interrupted upgrade): the restart fills what is left.
    s.app
        .store
        .write(|tx| {
            tx.open_table(zhudai::store::tables::SETTINGS)?
                .insert(zhudai::store::leads::FILL_CURSOR, "")?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let s = s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (code, v) = admin
        .post("/api/v1/leads/check", json!({"phones": ["13500135000"]}))
        .await;
    assert_eq!(
        (code.as_u16(), &v["results"][0]["exists"]),
        (200, &json!(true)),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_vendor_list_is_read_from_an_xlsx_or_csv_upload() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "手机号").unwrap();
    // Excel keeps a typed number as a number: read back without a fraction.
    sheet.write_number(1, 0, 13800138000.0).unwrap();
    sheet.write_string(2, 0, "139 0013 9000").unwrap();
    sheet.write_string(3, 0, "13800138000").unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    let (st, v) = crate::import::post_form(
        &admin,
        "/api/v1/leads/list-file",
        crate::import::form("vendor.xlsx", &xlsx, &[]),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["entries"], json!(["13800138000", "139 0013 9000"]));
    let (st, v) = crate::import::post_form(
        &admin,
        "/api/v1/leads/list-file",
        crate::import::form(
            "vendor.csv",
            "号码,备注\n13700137000,老客户\n".as_bytes(),
            &[],
        ),
    )
    .await;
    assert_eq!((st, &v["entries"]), (200, &json!(["13700137000"])), "{v}");
    s.stop().await;
}

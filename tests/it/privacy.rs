//! Masking holds against combination: an ID number's 8 hidden digits are the birth date, so a
//! reader without `id_number.view_full` must not find the birth date anywhere a customer leaves
//! the service (JSON, lists, search, timeline, reminders, pools, exports), and the store file
//! and the search index must not hold it beside the masked number.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

// GB 11643's worked example: born 1949-12-31, female.
const ID_NUMBER: &str = "11010519491231002X";
const MASKED: &str = "110105********002X";

/// Every way a birth date of 1949-12-31 could be written down.
fn birth_forms() -> Vec<String> {
    [
        "1949-12-31",
        "19491231",
        "1949/12/31",
        "1949.12.31",
        "1949年12月31日",
        "1949-12-31T",
        "12311949",
        "31/12/1949",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn completes_the_id(text: &str) -> Option<String> {
    if text.contains(ID_NUMBER) || text.contains(&ID_NUMBER.to_lowercase()) {
        return Some(ID_NUMBER.into());
    }
    birth_forms()
        .into_iter()
        .find(|f| text.contains(f.as_str()))
}

async fn download(c: &Client, path: &str) -> (u16, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{}", c.base, path))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// The cell text of every sheet of an XLSX file.
fn xlsx_text(bytes: &[u8]) -> String {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for cell in row {
                out.push_str(&cell.to_string());
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

struct World {
    s: TestServer,
    admin: Client,
    manager: Client,
    sales: Client,
    customer: String,
}

async fn world() -> World {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let dept = common::add_department(&s, "一部", None);
    common::add_user(&s, "mgr", &["manager"], Some(&dept));
    common::add_user(&s, "xiao", &["sales"], Some(&dept));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let manager = s.login("mgr", common::TEAM_PASSWORD).await;
    let sales = s.login("xiao", common::TEAM_PASSWORD).await;
    let (st, c) = sales
        .post(
            "/api/v1/customers",
            json!({"name": "张三丰", "phone": "13800138000", "id_number": ID_NUMBER,
                   "city": "成都", "tags": ["有房"]}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let customer = c["id"].as_str().unwrap().to_string();
    World {
        s,
        admin,
        manager,
        sales,
        customer,
    }
}

/// Everything a reader can get about the customer, as text, endpoint by endpoint.
async fn everything_seen_by(w: &World, who: &Client) -> Vec<(String, String)> {
    let id = &w.customer;
    let mut seen = Vec::new();
    for path in [
        format!("/api/v1/customers/{id}"),
        "/api/v1/customers".to_string(),
        "/api/v1/customers?q=张三丰".to_string(),
        "/api/v1/search?q=张三丰".to_string(),
        "/api/v1/search?q=002X".to_string(),
        format!("/api/v1/customers/{id}/timeline"),
        format!("/api/v1/customers/{id}/followups"),
        "/api/v1/reminders?due=today".to_string(),
        "/api/v1/reminders?due=overdue".to_string(),
    ] {
        let (st, v) = who.get(&path).await;
        seen.push((format!("GET {path} ({st})"), v.to_string()));
    }
    let (st, csv) = download(who, "/api/v1/exports/customers?format=csv").await;
    seen.push((
        format!("export csv ({st})"),
        String::from_utf8_lossy(&csv).into_owned(),
    ));
    let (st, xlsx) = download(who, "/api/v1/exports/customers?format=xlsx").await;
    let text = if st == 200 {
        xlsx_text(&xlsx)
    } else {
        String::new()
    };
    seen.push((format!("export xlsx ({st})"), text));
    seen
}

#[tokio::test]
async fn a_reader_without_view_full_cannot_complete_the_masked_id() {
    let w = world().await;
    let id = w.customer.clone();
    let mut seen: Vec<(String, String)> = Vec::new();

    // Writes answer with the customer too.
    let (st, v) = w
        .sales
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"city": "重庆"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id_number"], MASKED);
    assert_eq!(v["gender"], "female");
    assert_eq!(v["age"], 76, "age in completed years on 2026-11-20: {v}");
    assert!(
        v.get("birth_date").is_none_or(Value::is_null),
        "no birth date without the privilege: {v}"
    );
    seen.push(("PATCH".into(), v.to_string()));
    let (st, v) = w
        .sales
        .post(
            &format!("/api/v1/customers/{id}/followups"),
            json!({"kind": "call", "content": "约了周五面谈",
                   "next_at": common::epoch() + chrono::Duration::hours(3)}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    seen.push(("followup".into(), v.to_string()));

    // The owner and the department manager (who may reveal phones but not ID numbers).
    for who in [&w.sales, &w.manager] {
        seen.extend(everything_seen_by(&w, who).await);
    }
    // Through a pool: released, listed in the pool, claimed back.
    let (st, pools) = w.admin.get("/api/v1/pools").await;
    assert_eq!(st, 200, "{pools}");
    let (st, v) = w
        .sales
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "暂不需要"}),
        )
        .await;
    seen.push((format!("release ({st})"), v.to_string()));
    if let Some(pool) = v["pool_id"].as_str() {
        let (st, page) = w
            .sales
            .get(&format!("/api/v1/pools/{pool}/customers"))
            .await;
        seen.push((format!("pool page ({st})"), page.to_string()));
    }
    // Deleted and listed in the recycle bin (the manager's view of it).
    let (st, v) = w
        .manager
        .call(Method::DELETE, &format!("/api/v1/customers/{id}"), None)
        .await;
    seen.push((format!("delete ({st})"), v.to_string()));
    let (st, v) = w.admin.get("/api/v1/customers/recycle-bin").await;
    assert_eq!(st, 200);
    assert!(
        v.to_string().contains("张三丰"),
        "the bin lists the customer: {v}"
    );

    let mut endpoints_with_customer = 0;
    for (what, text) in &seen {
        if text.contains(MASKED) || text.contains("张三丰") {
            endpoints_with_customer += 1;
        }
        assert_eq!(
            completes_the_id(text),
            None,
            "{what} lets a reader without id_number.view_full complete the ID number: {text}"
        );
    }
    assert!(
        endpoints_with_customer >= 12,
        "the walk saw the customer in only {endpoints_with_customer} answers"
    );
    w.s.stop().await;
}

/// 权证专员 may see full ID numbers, but 50 a day, each one a reveal counted and audited: the
/// birth date beside the masked number is the full number, so it must not come with every
/// list and detail page (it did, 200 a page, with the counter untouched).
#[tokio::test]
async fn a_quota_limited_holder_of_view_full_completes_no_id_without_a_reveal() {
    let w = world().await;
    common::add_user(&w.s, "quan", &["documents"], None);
    let quan = w.s.login("quan", common::TEAM_PASSWORD).await;
    let (st, v) = quan.get(&format!("/api/v1/customers/{}", w.customer)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id_number"], MASKED);
    assert!(v["birth_date"].is_null(), "{v}");
    assert_eq!(v["age"], 76);
    for (what, text) in everything_seen_by(&w, &quan).await {
        assert_eq!(
            completes_the_id(&text),
            None,
            "{what} completes the ID number for a quota-limited reader: {text}"
        );
    }
    // The reveal is how they read it: counted, audited.
    let (st, r) = quan
        .post(
            &format!("/api/v1/customers/{}/unmask", w.customer),
            json!({"field": "id_number"}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["value"], ID_NUMBER, "{r}");
    let (_, a) = w.admin.get("/api/v1/audit?action=customer.revealed").await;
    assert_eq!(a["total"], 1, "{a}");
    w.s.stop().await;
}

/// A reader who sees a number masked knows all of it but a few digits, and a lookup by the
/// full number (the duplicate check, search, the list's `q`) says whether a guess is right: a
/// probe completed an ID number in 26 checks and a phone in 9,881, unthrottled and unaudited.
/// Lookups by number are metered per user (per minute, then per 24 hours, audited once) as
/// distinct numbers: a repeat tells nothing new and is not counted again (the list page and its
/// stage counts sent the same `q` and counted twice). Other searches are not metered, and
/// neither is a reader of every number in full.
#[tokio::test]
async fn lookups_by_number_are_metered_for_readers_of_masked_numbers() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.customers.number_lookups_per_minute = 5;
    config.customers.number_lookups_per_day = 12;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales = s.login("xiao", common::TEAM_PASSWORD).await;
    let (st, c) = sales
        .post(
            "/api/v1/customers",
            json!({"name": "张三丰", "phone": "13800138000", "id_number": ID_NUMBER}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let check = "/api/v1/customers/check-duplicate";
    let guess = |n: u32| json!({"phone": format!("138001{n:05}")});
    // Five guesses a minute: the sixth waits.
    for n in 0..5 {
        let (st, v) = sales.post(check, guess(n)).await;
        assert_eq!((st.as_u16(), &v["exists"]), (200, &json!(false)), "{v}");
    }
    let (st, v) = sales.post(check, guess(5)).await;
    assert_eq!(st, 429, "{v}");
    // What is metered is distinct numbers: one already looked up tells nothing new, and is
    // answered without counting.
    let (st, v) = sales.post(check, guess(0)).await;
    assert_eq!((st.as_u16(), &v["exists"]), (200, &json!(false)), "{v}");
    // Searching by a name is no number lookup.
    let (st, v) = sales.get("/api/v1/search?q=张三丰").await;
    assert_eq!((st.as_u16(), &v["total"]), (200, &json!(1)), "{v}");
    s.clock.advance(chrono::Duration::seconds(61));
    // Search by a full phone and by an ID number's last six digits count as well; the list
    // and its stage counts, sent with the same `q`, count once.
    let (st, _) = sales.get("/api/v1/search?q=138%200013%200001").await;
    assert_eq!(st, 200);
    let (st, _) = sales.get("/api/v1/customers?q=31002X").await;
    assert_eq!(st, 200);
    let (st, _) = sales.get("/api/v1/customers/stage-counts?q=31002X").await;
    assert_eq!(st, 200);
    for n in 10..13 {
        assert_eq!(sales.post(check, guess(n)).await.0, 200);
    }
    s.clock.advance(chrono::Duration::seconds(61));
    for n in 20..22 {
        assert_eq!(sales.post(check, guess(n)).await.0, 200);
    }
    // Twelve numbers in 24 hours: the day's allowance is spent, everywhere a new number is
    // looked up; one already looked up is still answered.
    let (st, v) = sales.post(check, guess(30)).await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("number_lookup_quota_exceeded")),
        "{v}"
    );
    let (st, v) = sales.post(check, guess(20)).await;
    assert_eq!(st, 200, "a repeat: {v}");
    for path in [
        "/api/v1/search?q=13800138000",
        "/api/v1/customers?q=13800138000",
        "/api/v1/customers/stage-counts?q=13800138000",
    ] {
        let (st, v) = sales.get(path).await;
        assert_eq!(st, 422, "{path}: {v}");
    }
    // A transfer request and a number set on a customer say whose a number is as well.
    let (st, v) = sales
        .post(
            "/api/v1/transfer-requests",
            json!({"phone": "13800130077", "reason": "客户来电"}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    let id = c["id"].as_str().unwrap();
    let (st, v) = sales
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"extra_phones": ["13800130078"]})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    let (st, v) = sales
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"city": "重庆"})),
        )
        .await;
    assert_eq!(st, 200, "an edit without a number is no lookup: {v}");
    assert_eq!(sales.get("/api/v1/search?q=张三丰").await.0, 200);
    // The administrator sees who ran out, once.
    let (_, a) = admin
        .get("/api/v1/audit?action=customer.number_lookups_exhausted")
        .await;
    assert_eq!(a["total"], 1, "{a}");
    // A reader of every number in full is not metered (it confirms nothing new).
    for n in 0..8 {
        assert_eq!(admin.post(check, guess(40 + n)).await.0, 200);
    }
    // A day later the allowance is back.
    s.clock.advance(chrono::Duration::hours(24));
    let sales = s.login("xiao", common::TEAM_PASSWORD).await;
    let (st, v) = sales.post(check, guess(50)).await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// The near-miss hint of a product's minimum age counted to the birthday ("13 天后满 22 岁")
/// is the birth date, the digits the masked ID number hides: only readers of birth dates get
/// it; everyone else the longest it can take, in years.
#[tokio::test]
async fn the_age_hint_tells_the_birthday_only_to_readers_of_birth_dates() {
    let w = world().await;
    let (st, p) = w
        .admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    // 21 on 2026-11-20, 22 on 2026-12-03; the product asks 22.
    let (st, c) = w
        .sales
        .post(
            "/api/v1/customers",
            json!({"name": "孙小年", "phone": "13800138009", "id_number": "110105200412030011"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap();
    let (st, m) = w
        .admin
        .get(&format!("/api/v1/customers/{id}/matches"))
        .await;
    assert_eq!(st, 200, "{m}");
    assert!(m.to_string().contains("13 天后满 22 岁"), "{m}");
    for who in [&w.sales, &w.manager] {
        let (st, m) = who.get(&format!("/api/v1/customers/{id}/matches")).await;
        assert_eq!(st, 200, "{m}");
        let text = m.to_string();
        assert!(
            !text.contains("天后满") && !text.contains("个月后满"),
            "{text}"
        );
        assert!(text.contains("最迟 1 年后满足年龄要求"), "{text}");
    }
    w.s.stop().await;
}

#[tokio::test]
async fn a_holder_of_view_full_gets_the_birth_date() {
    let w = world().await;
    let (st, v) = w
        .admin
        .get(&format!("/api/v1/customers/{}", w.customer))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["birth_date"], "1949-12-31");
    assert_eq!(v["age"], 76);
    w.s.stop().await;
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every term of every indexed field and every stored document of the live index generation:
/// the doc store is LZ4-compressed and terms sit in an FST, so grepping the files proves little.
fn index_contents(data: &std::path::Path) -> (Vec<String>, Vec<String>) {
    use tantivy::TantivyDocument;
    use tantivy::schema::document::Document;
    let root = data.join("index");
    let current = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let index = tantivy::Index::open_in_dir(root.join(current.trim())).unwrap();
    let schema = index.schema();
    let searcher = index.reader().unwrap().searcher();
    let mut terms = Vec::new();
    let mut docs = Vec::new();
    for segment in searcher.segment_readers() {
        for (field, entry) in schema.fields() {
            if !entry.is_indexed() {
                continue;
            }
            let inverted = segment.inverted_index(field).unwrap();
            let mut stream = inverted.terms().stream().unwrap();
            while stream.advance() {
                terms.push(String::from_utf8_lossy(stream.key()).into_owned());
            }
        }
        let store = segment.get_store_reader(0).unwrap();
        for doc in store.iter::<TantivyDocument>(None) {
            docs.push(doc.unwrap().to_json(&schema));
        }
    }
    (terms, docs)
}

#[tokio::test]
async fn neither_the_store_file_nor_the_index_holds_the_birth_date() {
    let w = world().await;
    // Positive control: the same forms typed into a plaintext field are found by the probes,
    // in the file and in the index.
    let control = "生于1960-01-01 即 19600101 或 1960/01/01 1960年01月01日";
    let (st, v) = w
        .admin
        .post(
            "/api/v1/customers",
            json!({"name": "对照", "phone": "13900139000", "address": control}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    w.s.app.lookup().search_catch_up().unwrap();
    let data = w.s.stop().await;

    let (terms, docs) = index_contents(data.path());
    assert!(
        terms.iter().any(|t| t.contains("19600101"))
            && docs.iter().any(|d| d.contains("1960-01-01")),
        "the index probe sees the control's date in terms and stored documents"
    );
    let in_terms: Vec<&String> = terms
        .iter()
        .filter(|t| t.contains("19491231") || t.contains("1949-12") || t.contains(ID_NUMBER))
        .collect();
    assert!(in_terms.is_empty(), "index terms: {in_terms:?}");
    for d in &docs {
        assert_eq!(completes_the_id(d), None, "stored document: {d}");
    }

    let bytes = std::fs::read(data.path().join("zhudai.redb")).unwrap();
    for form in ["1960-01-01", "19600101", "1960/01/01", "1960年01月01日"] {
        assert!(contains(&bytes, form), "the file probe finds {form}");
    }
    let mut found: Vec<String> = birth_forms()
        .into_iter()
        .filter(|f| contains(&bytes, f))
        .collect();
    for plain in [ID_NUMBER, "11010519491231", "19491231002X"] {
        if contains(&bytes, plain) {
            found.push(plain.into());
        }
    }
    assert!(found.is_empty(), "in the store file: {found:?}");
}

#[tokio::test]
async fn upgrading_a_store_that_kept_birth_dates_removes_them() {
    use redb::{ReadableTable, TableDefinition};
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    const CUSTOMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("customers");
    // The customer keys are bytes since schema 35 (`store::key_codec`): a kind byte first.
    const KEYS: TableDefinition<&[u8], ()> = TableDefinition::new("customer_keys_bin");
    let w = world().await;
    let id = w.customer.clone();
    // In the recycle bin: schema 11 also gives it the bin's key.
    let (st, _) = w
        .admin
        .call(Method::DELETE, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(st, 204);
    let data = w.s.stop().await;
    let path = data.path().join("zhudai.redb");
    // Back to what schema 10 wrote: the whole birth date in clear beside the masked number.
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(CUSTOMERS).unwrap();
            let bytes = t.get(id.as_str()).unwrap().unwrap().value().to_vec();
            let stored = zhudai::store::customer_codec::decode(&id, &bytes).unwrap();
            let mut v: Value = serde_json::to_value(&stored).unwrap();
            v.as_object_mut().unwrap().remove("birth_year");
            v["birth_date"] = json!("1949-12-31");
            let mut old = vec![1u8];
            old.extend(serde_json::to_vec(&v).unwrap());
            t.insert(id.as_str(), old.as_slice()).unwrap();
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", 10)
                .unwrap();
            let mut keys = tx.open_table(KEYS).unwrap();
            let bin: Vec<Vec<u8>> = keys
                .range::<&[u8]>(&b"b"[..]..&b"c"[..])
                .unwrap()
                .map(|r| r.unwrap().0.value().to_vec())
                .collect();
            assert_eq!(bin.len(), 1);
            keys.remove(bin[0].as_slice()).unwrap();
            let mut name = vec![b'n'];
            name.extend("张三丰".as_bytes());
            name.push(0);
            name.extend(ulid::Ulid::from_string(&id).unwrap().to_bytes());
            keys.remove(name.as_slice()).unwrap().unwrap();
        }
        tx.commit().unwrap();
    }
    assert!(contains(&std::fs::read(&path).unwrap(), "1949-12-31"));

    // Opened as the server opens it (the audit chain's key comes from the master key).
    let app = zhudai::open_app(
        data.path(),
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .unwrap();
    let store = &app.store;
    let c = store
        .read(|tx| {
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .any(&id)
        })
        .unwrap()
        .unwrap();
    assert_eq!((c.birth_year, c.legacy_birth_date), (Some(1949), None));
    assert_eq!(
        store
            .read(|tx| zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance
            )
            .in_bin(None))
            .unwrap(),
        vec![id.clone()]
    );
    assert_eq!(
        store
            .read(|tx| zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance
            )
            .ids_by_name("张三丰", 20))
            .unwrap(),
        vec![id.clone()]
    );
    drop(app);
    let bytes = std::fs::read(&path).unwrap();
    let left: Vec<String> = birth_forms()
        .into_iter()
        .filter(|f| contains(&bytes, f))
        .collect();
    assert!(left.is_empty(), "still in the store file: {left:?}");
}

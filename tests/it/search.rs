//! Customer search: every query kind finds the right customers, nothing outside the caller's
//! scope is ever returned or counted, the index follows edits, deletions and follow-ups, it
//! never holds a whole phone or ID number, and an online rebuild loses no concurrent update.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

const PASS: &str = common::TEAM_PASSWORD;

/// A valid 18-digit ID number from 17 digits (GB 11643 check digit appended).
fn id_number(first17: &str) -> String {
    let digits: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!(
        "{first17}{}",
        zhudai::domain::id_number::check_digit(&digits)
    )
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct World {
    s: TestServer,
    admin: Client,
    sales_a: Client,
    sales_b: Client,
}

async fn world() -> World {
    let s = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&s, "sales_a", &["sales"], None);
    common::add_user(&s, "sales_b", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales_a = s.login("sales_a", PASS).await;
    let sales_b = s.login("sales_b", PASS).await;
    World {
        s,
        admin,
        sales_a,
        sales_b,
    }
}

async fn create(c: &Client, body: Value) -> String {
    let (st, v) = c.post("/api/v1/customers", body).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn search(c: &Client, q: &str) -> Value {
    let (st, v) = c.get(&format!("/api/v1/search?q={}", enc(q))).await;
    assert_eq!(st, 200, "{q}: {v}");
    v
}

fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["customer"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// Sales A's customers (and one of sales B's that must never show up for A).
async fn seed(w: &World) -> (String, String) {
    let zhang = create(
        &w.sales_a,
        json!({"name": "张三丰", "phone": "13800138000", "id_number": id_number("51010519850307123"),
               "city": "成都", "company": "成都某某科技有限公司", "address": "锦江区春熙路88号",
               "channel": "抖音广告", "grade": "B", "tags": ["有房", "公积金"]}),
    )
    .await;
    create(
        &w.sales_a,
        json!({"name": "单雄信", "phone": "13900139001", "city": "重庆", "company": "重庆山城物流有限公司",
               "grade": "A", "channel": "转介绍"}),
    )
    .await;
    create(
        &w.sales_a,
        json!({"name": "曾小贤", "phone": "13700137002", "city": "成都", "grade": "C"}),
    )
    .await;
    // Sales B's customer shares a name fragment, the phone suffix, pinyin initials and city
    // with A's: whatever A types, it must stay invisible to A.
    let other = create(
        &w.sales_b,
        json!({"name": "张三", "phone": "13600138000", "id_number": id_number("51010519900101456"),
               "city": "成都", "company": "成都另一家科技公司", "address": "锦江区春熙路1号", "grade": "B",
               "tags": ["有房"]}),
    )
    .await;
    (zhang, other)
}

#[tokio::test]
async fn each_query_kind_finds_the_right_customers() {
    let w = world().await;
    let (zhang, _) = seed(&w).await;
    let full_id = id_number("51010519850307123");
    let id6 = &full_id[12..];
    let id4 = &id6[2..];
    let (st, _) = w
        .sales_a
        .post(
            &format!("/api/v1/customers/{zhang}/followups"),
            json!({"kind": "call", "content": "客户想办理抵押经营贷，下周带房产证上门"}),
        )
        .await;
    assert_eq!(st, 201);
    let cases: Vec<(&str, &[&str])> = vec![
        ("三丰", &["张三丰"]),
        ("张三丰", &["张三丰"]),
        ("张", &["张三丰"]),
        ("科技", &["张三丰"]),
        ("物流", &["单雄信"]),
        ("zsf", &["张三丰"]),
        ("zhangsanfeng", &["张三丰"]),
        ("zhangsan", &["张三丰"]),
        ("ZSF", &["张三丰"]),
        ("sxx", &["单雄信"]),
        ("shanxiongxin", &["单雄信"]),
        ("zxx", &["曾小贤"]),
        ("zengxiaoxian", &["曾小贤"]),
        ("8000", &["张三丰"]),
        ("８０００", &["张三丰"]),
        ("13800138000", &["张三丰"]),
        ("138-0013-8000", &["张三丰"]),
        (id4, &["张三丰"]),
        (id6, &["张三丰"]),
        (&full_id, &["张三丰"]),
        ("春熙路", &["张三丰"]),
        ("抵押", &["张三丰"]),
        ("房产证", &["张三丰"]),
        ("公积金", &["张三丰"]),
        ("抖音广告", &["张三丰"]),
        ("成都 张", &["张三丰"]),
        ("不存在的人", &[]),
        ("9999", &[]),
    ];
    for (q, want) in cases {
        let got = search(&w.sales_a, q).await;
        assert_eq!(names(&got), want, "query {q:?}: {got}");
        assert_eq!(got["total"], want.len(), "query {q:?}");
    }
    let both = search(&w.sales_a, "成都").await;
    let mut got = names(&both);
    got.sort();
    assert_eq!(got, ["张三丰", "曾小贤"]);
    // Highlights point at the matched characters; the phone stays masked.
    let hit = &search(&w.sales_a, "三丰").await["items"][0];
    assert_eq!(hit["highlights"][0]["field"], "name");
    assert_eq!(hit["highlights"][0]["ranges"], json!([[1, 3]]));
    let hit = &search(&w.sales_a, "8000").await["items"][0];
    assert_eq!(hit["customer"]["phone"], "138****8000");
    assert_eq!(hit["highlights"][0]["field"], "phone");
}

#[tokio::test]
async fn exact_name_ranks_first() {
    let w = world().await;
    create(&w.admin, json!({"name": "李四海", "phone": "13800000001"})).await;
    create(&w.admin, json!({"name": "李四", "phone": "13800000002"})).await;
    create(&w.admin, json!({"name": "王李四", "phone": "13800000003"})).await;
    let got = names(&search(&w.admin, "李四").await);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], "李四");
}

#[tokio::test]
async fn another_sales_customer_never_shows_for_any_query() {
    let w = world().await;
    let (_, other) = seed(&w).await;
    let other_id6 = &id_number("51010519900101456")[12..];
    for q in [
        "张三",
        "张",
        "三",
        "zs",
        "zhangsan",
        "8000",
        "13600138000",
        other_id6,
        &other_id6[2..],
        "科技",
        "成都",
        "春熙路",
        "有房",
        "另一家",
        "",
    ] {
        let v = search(&w.sales_a, q).await;
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["customer"]["id"].as_str().unwrap())
            .collect();
        assert!(!ids.contains(&other.as_str()), "{q:?} leaked: {v}");
        let text = v.to_string();
        assert!(!text.contains(&other), "{q:?} leaked the id");
        // Counts and facets are computed inside the scope too.
        let owners = v["facets"]["owner"].as_object().unwrap();
        assert!(owners.len() <= 1, "{q:?}: facets count other owners: {v}");
    }
    // B sees only B's; the admin sees both.
    assert_eq!(names(&search(&w.sales_b, "张三").await), ["张三"]);
    let all = search(&w.admin, "张三").await;
    assert_eq!(all["total"], 2);
    // The facets of the list page: A's three customers, by stage and grade.
    let v = search(&w.sales_a, "").await;
    assert_eq!(v["total"], 3);
    assert_eq!(v["facets"]["grade"], json!({"A": 1, "B": 1, "C": 1}));
    assert_eq!(v["facets"]["stage"], json!({"lead": 3}));
    // Search-as-you-type asks for no counts: same matches and total, no facets walked.
    let (st, v) = w.sales_a.get("/api/v1/search?q=&facets=false").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 3);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["facets"], json!({}));
}

#[tokio::test]
async fn facet_counts_under_the_cap_are_exact_and_say_so() {
    // Past 10,000 matches facets count the first 10,000 and say `facets_at_least` (unit test
    // `search::facets::tests::capped_counts_are_lower_bounds_flagged_and_exact_under_the_cap`);
    // under it they are exact and flagged so.
    let w = world().await;
    seed(&w).await;
    let v = search(&w.sales_a, "").await;
    assert_eq!(v["total"], 3);
    assert_eq!(v["facets"]["stage"], json!({"lead": 3}));
    assert_eq!(v["facets_at_least"], json!(false));
    let (st, v) = w.admin.get("/api/v1/search?q=&facets=false").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["facets_at_least"], json!(false));
}

#[tokio::test]
async fn the_index_follows_edits_deletions_and_transfers() {
    let w = world().await;
    let id = create(
        &w.sales_a,
        json!({"name": "欧阳锋", "phone": "13811112222"}),
    )
    .await;
    assert_eq!(names(&search(&w.sales_a, "欧阳").await), ["欧阳锋"]);
    let (st, _) = w
        .sales_a
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"name": "欧阳克"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(names(&search(&w.sales_a, "欧阳").await), ["欧阳克"]);
    assert!(names(&search(&w.sales_a, "欧阳锋").await).is_empty());
    // Transfer to B: gone from A's results, in B's.
    let b_id =
        w.s.app
            .store
            .read(|tx| zhudai::store::users::find_by_username(tx, "sales_b"))
            .unwrap()
            .unwrap()
            .id;
    let (st, v) = w
        .admin
        .post(
            &format!("/api/v1/customers/{id}/transfer"),
            json!({"to_user": b_id}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(names(&search(&w.sales_a, "欧阳").await).is_empty());
    assert_eq!(names(&search(&w.sales_b, "欧阳").await), ["欧阳克"]);
    // Deleted: not found by anyone.
    let (st, _) = w
        .admin
        .call(Method::DELETE, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(st, 204);
    assert!(names(&search(&w.admin, "欧阳").await).is_empty());
    assert!(names(&search(&w.admin, "2222").await).is_empty());
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            hits.extend(files_contain(&p, needle));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn the_index_never_holds_a_whole_phone_or_id_number() {
    let w = world().await;
    seed(&w).await;
    // Searching forces the index to catch up and commit.
    assert_eq!(search(&w.admin, "8000").await["total"], 2);
    let index = w.s.dir.path().join("index");
    for secret in [
        "13800138000".to_string(),
        "13600138000".to_string(),
        id_number("51010519850307123"),
        id_number("51010519900101456")[..17].to_string(),
        "0013800".to_string(),
    ] {
        assert!(
            files_contain(&index, secret.as_bytes()).is_empty(),
            "{secret} found in the index"
        );
    }
}

#[tokio::test]
async fn a_rebuild_while_people_work_loses_no_update() {
    let w = world().await;
    for i in 0..200 {
        create(
            &w.admin,
            json!({"name": format!("客户{i:03}"), "phone": format!("1380000{i:04}")}),
        )
        .await;
    }
    // Writes committed after the snapshot and before the swap must reach the new generation.
    let app = w.s.app.clone();
    let caller = app.access().caller_for(ADMIN).unwrap();
    let status = tokio::task::spawn_blocking(move || {
        app.lookup()
            .reindex(&|_, _| {}, &|| {
                // The update before the create: replayed in this order, the update meets the
                // new generation's bound on indexed ids as its build left it (the create would
                // raise it past this customer's id).
                let mut first = None;
                app.store
                    .read(|tx| {
                        zhudai::store::customers::Reader::unscoped(
                            tx,
                            zhudai::store::customers::Unscoped::Maintenance,
                        )
                        .scan_all(None, |c| {
                            let found = c.name == "客户000";
                            if found {
                                first = Some(c);
                            }
                            !found
                        })
                    })
                    .unwrap();
                let first = first.unwrap();
                app.customers()
                    .update_customer(
                        &caller,
                        &first.id,
                        serde_json::from_value(json!({"name": "客户零零零"})).unwrap(),
                        "test",
                    )
                    .unwrap();
                let c = app
                    .customers()
                    .create_customer(
                        &caller,
                        serde_json::from_value(
                            json!({"name": "重建期间新客户", "phone": "13912345678"}),
                        )
                        .unwrap(),
                        "test",
                    )
                    .unwrap();
                // The indexer of the old generation may run meanwhile; it must not lose these.
                app.lookup().search_catch_up().unwrap();
                let _ = c;
            })
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status.documents, 201, "{status:?}");
    assert_eq!(
        names(&search(&w.admin, "重建期间").await),
        ["重建期间新客户"]
    );
    assert_eq!(names(&search(&w.admin, "客户零零零").await), ["客户零零零"]);
    assert!(names(&search(&w.admin, "客户000").await).is_empty());
    assert_eq!(search(&w.admin, "").await["total"], 201);
    // Only the live generation is left on disk.
    let gens = std::fs::read_dir(w.s.dir.path().join("index"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("g-"))
        .count();
    assert_eq!(gens, 1);
}

#[tokio::test]
async fn an_index_from_another_store_is_rebuilt_not_trusted() {
    let w = world().await;
    seed(&w).await;
    assert_eq!(search(&w.admin, "").await["total"], 4);
    let index = w.s.dir.path().join("index");
    let dir = w.s.stop().await;
    // A fresh data directory with the old index copied in: its payload names another store.
    let s = TestServer::start(Fixture::WithAdmin).await;
    let target = s.dir.path().join("index");
    let _ = std::fs::remove_dir_all(&target);
    copy(&dir.path().join("index"), &target);
    let _ = index;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(search(&admin, "").await["total"], 0);
    assert!(names(&search(&admin, "张三丰").await).is_empty());
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

#[tokio::test]
async fn bad_queries_are_refused_with_the_field_named() {
    let w = world().await;
    let long = "长".repeat(101);
    let (st, v) = w
        .sales_a
        .get(&format!("/api/v1/search?q={}", enc(&long)))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (400, Some("q"))
    );
    let (st, v) = w.sales_a.get("/api/v1/search?q=a&cursor=zz").await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (400, Some("cursor"))
    );
    let (st, _) = w.s.client().get("/api/v1/search?q=a").await;
    assert_eq!(st, 401);
}

/// Issue 14.1: a cursor sized an allocation (`4294967296` aborted the process, `2^63-1` was a
/// "capacity overflow" panic). Every such cursor is a 400 naming `cursor`, and the server keeps
/// serving.
#[tokio::test]
async fn a_huge_search_cursor_is_refused_not_allocated() {
    let w = world().await;
    for c in [
        "10001",
        "2147483648",
        "4294967296",
        "1000000000000000000",
        "9223372036854775807",
        "18446744073709551615",
        "99999999999999999999999",
        "-1",
    ] {
        let (st, v) = w
            .sales_a
            .get(&format!("/api/v1/search?q=a&cursor={c}"))
            .await;
        assert_eq!(
            (st.as_u16(), v["error"]["field"].as_str()),
            (400, Some("cursor")),
            "cursor={c}: {v}"
        );
    }
    let (st, _) = w.sales_a.get("/api/v1/search?q=a&cursor=10000").await;
    assert_eq!(st, 200, "the deepest allowed page answers");
    let (st, _) = w.sales_a.get("/api/v1/search?q=a").await;
    assert_eq!(st, 200, "still serving");
}

#[tokio::test]
async fn doctor_inspection_reports_drift() {
    let w = world().await;
    seed(&w).await;
    assert_eq!(search(&w.admin, "").await["total"], 4);
    let app = w.s.app.clone();
    let clean = zhudai::search::inspect(&app.data_dir, &app.store, 100).unwrap();
    assert!(
        clean.trusted && clean.drifted.is_empty() && clean.pending == 0,
        "{clean:?}"
    );
    assert_eq!((clean.documents, clean.live_customers), (4, 4));
    // A record written behind the outbox's back (as a bug or a hand edit would).
    let mut c = app
        .store
        .read(|tx| {
            let mut first = None;
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .scan_all(None, |c| {
                first = Some(c);
                false
            })
            .map(|_| first)
        })
        .unwrap()
        .unwrap();
    c.id = "01ZZZZZZZZZZZZZZZZZZZZZZZZ".into();
    app.store
        .write(|tx| {
            let mut t = tx.open_table(zhudai::store::tables::CUSTOMERS).unwrap();
            t.insert(
                c.id.as_str(),
                zhudai::store::codec::encode(&c).unwrap().as_slice(),
            )
            .unwrap();
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let drift = zhudai::search::inspect(&app.data_dir, &app.store, 100).unwrap();
    assert_eq!(drift.drifted, vec![c.id.clone()], "{drift:?}");
    // A rebuild repairs it.
    app.lookup().reindex(&|_, _| {}, &|| {}).unwrap();
    let healed = zhudai::search::inspect(&app.data_dir, &app.store, 100).unwrap();
    assert!(
        healed.drifted.is_empty() && healed.documents == 5,
        "{healed:?}"
    );
}

#[tokio::test]
async fn customers_waiting_in_a_pool_are_found_by_its_members_only() {
    let w = world().await;
    common::add_user(&w.s, "sales_c", &["sales"], None);
    let sales_c = w.s.login("sales_c", PASS).await;
    let b_id =
        w.s.app
            .store
            .read(|tx| zhudai::store::users::find_by_username(tx, "sales_b"))
            .unwrap()
            .unwrap()
            .id;
    let (st, pool) = w
        .admin
        .post(
            "/api/v1/pools",
            json!({"name": "一号公海", "members": [b_id]}),
        )
        .await;
    assert_eq!(st, 201, "{pool}");
    let id = create(
        &w.sales_a,
        json!({"name": "公孙胜", "phone": "13855556666"}),
    )
    .await;
    assert!(names(&search(&w.sales_b, "公孙").await).is_empty());
    let (st, v) = w
        .sales_a
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "联系不上", "pool_id": pool["id"]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // The member finds it (masked), the former owner and a non-member do not.
    let found = search(&w.sales_b, "公孙").await;
    assert_eq!(names(&found), ["公孙胜"]);
    assert_eq!(found["items"][0]["customer"]["phone"], "138****6666");
    assert!(names(&search(&w.sales_b, "6666").await) == ["公孙胜"]);
    assert!(names(&search(&w.sales_a, "公孙").await).is_empty());
    assert!(names(&search(&sales_c, "gs").await).is_empty());
    assert!(names(&search(&sales_c, "6666").await).is_empty());
    // Claimed by the member: now it is theirs (and still found), no longer a pool customer.
    let (st, v) = w
        .sales_b
        .post(&format!("/api/v1/customers/{id}/claim"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(names(&search(&w.sales_b, "公孙胜").await), ["公孙胜"]);
    assert!(names(&search(&sales_c, "公孙").await).is_empty());
}

async fn list(c: &Client, query: String) -> Value {
    let (st, v) = c.get(&format!("/api/v1/customers?{query}")).await;
    assert_eq!(st, 200, "{query}: {v}");
    v
}

#[tokio::test]
async fn the_customer_list_q_filter_uses_the_same_engine_and_scope() {
    let w = world().await;
    seed(&w).await;
    let names_of = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Pinyin and fragments work in the list; B's 张三 never shows for A.
    assert_eq!(
        names_of(&list(&w.sales_a, format!("q={}", enc("zs"))).await),
        ["张三丰"]
    );
    let v = list(&w.sales_a, format!("q={}", enc("成都"))).await;
    assert_eq!(v["total"], 2);
    // Other filters combine with q.
    let v = list(&w.sales_a, format!("q={}&grade=C", enc("成都"))).await;
    assert_eq!(names_of(&v), ["曾小贤"]);
    // Paging through the ranked matches.
    let v = list(&w.sales_a, format!("q={}&limit=1", enc("成都"))).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let cursor = v["next_cursor"].as_str().unwrap().to_string();
    let v2 = list(
        &w.sales_a,
        format!("q={}&limit=1&cursor={cursor}", enc("成都")),
    )
    .await;
    assert_eq!(v2["items"].as_array().unwrap().len(), 1);
    assert_ne!(names_of(&v), names_of(&v2));
    assert!(v2["next_cursor"].is_null());
    // The admin sees both 张三 and 张三丰, exact name first.
    let v = list(&w.admin, format!("q={}", enc("张三"))).await;
    assert_eq!(names_of(&v), ["张三", "张三丰"]);
}

#[tokio::test]
async fn an_unreadable_current_file_is_an_error_not_a_rebuild_that_deletes_the_index() {
    let w = world().await;
    seed(&w).await;
    assert_eq!(search(&w.admin, "").await["total"], 4);
    let index = w.s.dir.path().join("index");
    let generation = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    let generation = generation.trim().to_string();
    // CURRENT cannot be read (here: a directory in its place, as an I/O error would look).
    std::fs::remove_file(index.join("CURRENT")).unwrap();
    std::fs::create_dir(index.join("CURRENT")).unwrap();
    let s = w.s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (status, body) = admin.get("/api/v1/search?q=").await;
    assert_ne!(status, 200, "answered from a rebuilt index: {body}");
    assert!(
        index.join(&generation).is_dir(),
        "the live generation was deleted"
    );
}

/// The indexer adds a customer that is new to the index without deleting its id first (its id
/// is above every id indexed). An update must still replace the document: within one commit
/// window (the create and the update read from the outbox in different passes), after a
/// commit, and after the index is reopened by a restart.
#[test]
fn an_update_replaces_the_document_in_one_window_after_a_commit_and_after_a_reopen() {
    use zhudai::service::search::SearchQuery;
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch()));
    let open = || {
        zhudai::open_app(
            dir.path(),
            zhudai::config::Config::defaults().unwrap(),
            clock.clone(),
        )
        .unwrap()
    };
    let app = open();
    common::set_up_admin(&app);
    let caller = app.access().caller_for(ADMIN).unwrap();
    // The index is opened (built empty) first, so what follows is applied from the outbox.
    app.lookup().search_catch_up().unwrap();
    let rename = |app: &zhudai::service::App, id: &str, name: &str| {
        app.customers()
            .update_customer(
                &caller,
                id,
                serde_json::from_value(json!({ "name": name })).unwrap(),
                "test",
            )
            .unwrap();
    };
    let found = |app: &zhudai::service::App, q: &str| -> Vec<String> {
        let q = SearchQuery {
            q: Some(q.into()),
            ..Default::default()
        };
        let page = app.lookup().search_customers(&caller, &q).unwrap();
        page.items.iter().map(|h| h.customer.id.clone()).collect()
    };
    let a = app
        .customers()
        .create_customer(
            &caller,
            serde_json::from_value(json!({"name": "甲一", "phone": "13800000001"})).unwrap(),
            "test",
        )
        .unwrap()
        .id;
    // 2,100 more customers: the outbox is read 2,000 entries at a time, so the create and the
    // update below are applied in different passes before one commit.
    let mut csv = String::from("name,phone\n");
    for i in 0..2_100 {
        csv.push_str(&format!("客户{i},1390000{i:04}\n"));
    }
    let report = app
        .imports()
        .import_bytes(
            &caller,
            csv.as_bytes(),
            &zhudai::service::import::ImportOptions::default(),
            "test",
            &mut |_, _| {},
        )
        .unwrap();
    assert_eq!(report.created, 2_100);
    rename(&app, &a, "乙二");
    assert_eq!(app.lookup().search_catch_up().unwrap(), 2_102);
    assert_eq!(app.lookup().search_status().unwrap().documents, 2_101);
    assert_eq!(found(&app, "乙二"), [a.as_str()]);
    assert!(found(&app, "甲一").is_empty());
    // After a commit.
    rename(&app, &a, "丙三");
    app.lookup().search_catch_up().unwrap();
    assert_eq!(app.lookup().search_status().unwrap().documents, 2_101);
    assert_eq!(found(&app, "丙三"), [a.as_str()]);
    assert!(found(&app, "乙二").is_empty());
    // After a restart: the index reopened from its files.
    drop(app);
    let app = open();
    rename(&app, &a, "丁四");
    app.lookup().search_catch_up().unwrap();
    assert_eq!(app.lookup().search_status().unwrap().documents, 2_101);
    assert_eq!(found(&app, "丁四"), [a.as_str()]);
    assert!(found(&app, "丙三").is_empty());
}

/// Polls `done` every 10 ms until it holds; fails the test after 10 s, saying what it waited for.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("waited 10 s for {what}");
}

/// `server.search_concurrency` holds: with 2 slots, six searches started at once never run
/// more than 2 at a time, and 2 do run together; with 1 slot, waiting searches are let in in
/// the order they arrived. Then the two routes that take a slot still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_take_turns_in_arrival_order() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    for slots in [2, 1] {
        let mut config = zhudai::config::Config::defaults().unwrap();
        config.server.search_concurrency = slots;
        let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for k in 0..6 {
            let (app, running, most, started) = (
                Arc::clone(&s.app),
                Arc::clone(&running),
                Arc::clone(&most),
                Arc::clone(&order),
            );
            tasks.push(tokio::spawn(async move {
                app.searching(move |_| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    started.lock().unwrap().push(k);
                    std::thread::sleep(Duration::from_millis(60));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }));
            if slots == 1 {
                // The next search arrives only once this one has started or waits for a slot.
                let arrived = || order.lock().unwrap().len() + s.app.search_slots().2 > k;
                until(&format!("search {k} to arrive"), arrived).await;
            }
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), slots as usize, "slots {slots}");
        if slots == 1 {
            assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
        }
        let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
        let (st, body) = admin.get("/api/v1/search?q=%E5%BC%A0").await;
        assert_eq!(st, reqwest::StatusCode::OK, "{body}");
        let (st, body) = admin.get("/api/v1/customers").await;
        assert_eq!(st, reqwest::StatusCode::OK, "{body}");
    }
}

/// A search or list page whose client gives up while it waits for a slot leaves the queue:
/// the request's future, which holds its place in the queue, is dropped with the connection,
/// so `zhudai_search_waiting` counts it while it waits and no longer once the client has gone,
/// while the slot is still taken; after that the next one runs at once. Both routes wait
/// for the slot (the list page too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_whose_client_left_leaves_the_queue() {
    use std::sync::Arc;
    use std::time::Duration;

    let mut config = zhudai::config::Config::defaults().unwrap();
    config.server.search_concurrency = 1;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // The one slot is taken until `release` is sent.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let app = Arc::clone(&s.app);
    let holder = tokio::spawn(async move {
        app.searching(move |_| {
            let _ = held.recv_timeout(Duration::from_secs(20));
            Ok(())
        })
        .await
    });
    let wait_for = |want: (usize, usize)| {
        let app = Arc::clone(&s.app);
        async move {
            let reached = || {
                let (_, running, waiting) = app.search_slots();
                (running, waiting) == want
            };
            until(&format!("slots (running, waiting) at {want:?}"), reached).await;
        }
    };
    wait_for((1, 0)).await;
    for path in ["/api/v1/search?q=%E5%BC%A0", "/api/v1/customers"] {
        // The request arrives and waits; then its client goes away.
        let request = admin.http.get(s.url(path)).send();
        let client = tokio::spawn(request);
        wait_for((1, 1)).await;
        client.abort();
        assert!(client.await.unwrap_err().is_cancelled());
        // The slot is still taken, and nobody waits for it any more.
        wait_for((1, 0)).await;
    }
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    wait_for((0, 0)).await;
    let (st, body) = admin.get("/api/v1/search?q=%E5%BC%A0").await;
    assert_eq!(st, reqwest::StatusCode::OK, "{body}");
}

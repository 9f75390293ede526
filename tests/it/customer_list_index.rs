//! The customer list served from the search index agrees with the reference path that reads
//! and filters every record, page by page (items, totals, cursors), for generated customers
//! across filters, sort orders, callers and page sizes; and a list right after a write sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer, add_user};
use serde_json::json;
use zhudai::domain::customer::Stage;
use zhudai::service::access::auth::Caller;
use zhudai::service::customers::{CustomerFilter, DueFilter, Sort, Whose};
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::Actor;
use zhudai::store::customers;

const STAGES: [Stage; 3] = [Stage::Lead, Stage::Contacted, Stage::Won];

/// Writes `n` varied customers straight to the store (owners, collaborators, pools, tags,
/// channels, grades with case variants, shared names and instants for ties, deleted ones).
fn generate(s: &TestServer, n: usize, owners: &[Option<String>], collab: &str) {
    let now = s.app.now();
    let mut synth = zhudai::synth::Generator::new(7, now);
    let grades = [Some("A"), Some("B"), Some("a"), None];
    let channels = [Some("微信"), Some("Wechat"), Some("wechat"), None];
    let tag_sets: [&[&str]; 5] = [
        &[],
        &["vip"],
        &["VIP", "老客户"],
        &["老客户"],
        &["急", "vip"],
    ];
    let mut records = Vec::new();
    for i in 0..n {
        let synth_c = synth.customer();
        let owner = owners[i % owners.len()].clone();
        let mut c = s
            .app
            .platform()
            .demo_record(&synth_c, owner.clone(), "test")
            .unwrap();
        // Ids are not in creation order: the created_at sort is by id, as it always was.
        let created = now - Duration::hours(((i * 37) % 24 * 9) as i64);
        c.created_at = created;
        c.updated_at = now - Duration::minutes((i % 11) as i64 * 13);
        c.stage = STAGES[i % STAGES.len()];
        c.grade = grades[i % grades.len()].map(String::from);
        c.channel = channels[(i / 2) % channels.len()].map(String::from);
        c.tags = tag_sets[i % tag_sets.len()]
            .iter()
            .map(|t| t.to_string())
            .collect();
        c.duplicate_flag = i % 7 == 0;
        c.collaborators = if i % 9 == 0 {
            vec![collab.to_string()]
        } else {
            Vec::new()
        };
        if i % 5 == 0 {
            c.name = "张伟".into();
        }
        c.next_followup_at = match i % 6 {
            0 => None,
            1 => Some(now - Duration::days(2)),
            2 => Some(now + Duration::minutes((i % 4) as i64)),
            3 => Some(now + Duration::days(3)),
            4 => Some(now - Duration::hours(20)),
            _ => Some(now + Duration::hours(30)),
        };
        if owner.is_none() {
            c.pool_id = Some("pool-1".into());
        }
        if i % 23 == 0 {
            c.deleted_at = Some(now);
        }
        records.push(c);
    }
    s.app
        .store
        .write(|tx| {
            for c in &records {
                customers::put(tx, None, c)?;
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
}

fn filters(me: &str, other: &str) -> Vec<CustomerFilter> {
    let today = s_today();
    let base = CustomerFilter::default();
    let mut out = vec![base.clone()];
    let sorts = [
        Sort::CreatedAt,
        Sort::CreatedAtDesc,
        Sort::UpdatedAt,
        Sort::UpdatedAtDesc,
        Sort::NextFollowupAt,
        Sort::Name,
    ];
    let narrowing: Vec<CustomerFilter> = vec![
        base.clone(),
        CustomerFilter {
            stage: Some(Stage::Contacted),
            ..base.clone()
        },
        CustomerFilter {
            grade: Some("A".into()),
            ..base.clone()
        },
        CustomerFilter {
            grade: Some("a".into()),
            channel: Some("wechat".into()),
            ..base.clone()
        },
        CustomerFilter {
            tag: Some("vip,老客户".into()),
            ..base.clone()
        },
        CustomerFilter {
            tag: Some("VIP".into()),
            ..base.clone()
        },
        CustomerFilter {
            owner: Some(other.into()),
            ..base.clone()
        },
        CustomerFilter {
            channel: Some("微信".into()),
            flagged: Some(false),
            ..base.clone()
        },
        CustomerFilter {
            flagged: Some(true),
            ..base.clone()
        },
        CustomerFilter {
            created_from: Some(today - Duration::days(2)),
            created_to: Some(today - Duration::days(1)),
            ..base.clone()
        },
        CustomerFilter {
            created_from: Some(today),
            ..base.clone()
        },
        CustomerFilter {
            due: Some(DueFilter::Today),
            ..base.clone()
        },
        CustomerFilter {
            due: Some(DueFilter::Overdue),
            ..base.clone()
        },
        CustomerFilter {
            due: Some(DueFilter::None),
            ..base.clone()
        },
        CustomerFilter {
            whose: Some(Whose::Mine),
            ..base.clone()
        },
        CustomerFilter {
            whose: Some(Whose::Team),
            stage: Some(Stage::Lead),
            ..base.clone()
        },
        CustomerFilter {
            owner: Some(me.into()),
            tag: Some("急".into()),
            due: Some(DueFilter::Overdue),
            ..base.clone()
        },
        CustomerFilter {
            channel: Some("nobody uses this".into()),
            ..base.clone()
        },
    ];
    for n in &narrowing {
        for sort in sorts {
            out.push(CustomerFilter {
                sort: Some(sort),
                ..n.clone()
            });
        }
    }
    out
}

/// Today in Asia/Shanghai at the harness's epoch (the clock is not advanced here).
fn s_today() -> chrono::NaiveDate {
    (common::epoch() + Duration::hours(8)).date_naive()
}

/// Pages through both paths with the same cursors (at most `max_pages`); returns the number
/// of pages compared.
fn compare(
    s: &TestServer,
    caller: &Caller,
    f: &CustomerFilter,
    limit: usize,
    max_pages: usize,
) -> usize {
    let mut f = CustomerFilter {
        limit: Some(limit),
        ..f.clone()
    };
    let mut pages = 0;
    loop {
        let indexed = s
            .app
            .customers()
            .list_customers_indexed(caller, &f)
            .unwrap()
            .expect("the index serves the list");
        let scanned = s
            .app
            .customers()
            .list_customers_scanned(caller, &f)
            .unwrap();
        assert_eq!(
            serde_json::to_value(&indexed).unwrap(),
            serde_json::to_value(&scanned).unwrap(),
            "{} page {pages} of {f:?}",
            caller.user.username
        );
        pages += 1;
        match indexed.next_cursor {
            Some(c) if pages < max_pages => f.cursor = Some(c),
            _ => return pages,
        }
    }
}

#[tokio::test]
async fn index_and_scan_agree_on_every_filter_sort_and_page() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let dept = s
        .app
        .org()
        .create_department(
            &Actor::Operator,
            DepartmentInput {
                name: "一部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let mgr = add_user(&s, "mgr", &["manager"], Some(&dept));
    let sales = add_user(&s, "sales", &["sales"], Some(&dept));
    let loner = add_user(&s, "loner", &["sales"], None);
    let admin = s.app.access().caller_for(ADMIN).unwrap().user.id;
    let owners = [
        Some(admin.clone()),
        Some(mgr.clone()),
        Some(sales.clone()),
        None,
        Some(loner.clone()),
        Some(sales.clone()),
    ];
    generate(&s, 260, &owners, &loner);
    let mut compared = 0;
    for (name, other) in [(ADMIN, &sales), ("mgr", &sales), ("loner", &admin)] {
        let caller = s.app.access().caller_for(name).unwrap();
        let me = caller.user.id.clone();
        for f in filters(&me, other) {
            if f.sort == Some(Sort::Name) {
                stage_counts_agree(&s, &caller, &f);
            }
            // The first pages of small pages, and every page of large ones.
            compared += compare(&s, &caller, &f, 9, 3);
            compared += compare(&s, &caller, &f, 200, usize::MAX);
        }
    }
    assert!(compared > 700, "{compared} pages compared");

    // A cursor that is no match (any more) is refused by both paths alike.
    let caller = s.app.access().caller_for(ADMIN).unwrap();
    let first = s
        .app
        .customers()
        .list_customers_indexed(&caller, &CustomerFilter::default())
        .unwrap()
        .unwrap();
    let f = CustomerFilter {
        stage: Some(Stage::Won),
        cursor: Some(first.items[0].id.clone()),
        ..CustomerFilter::default()
    };
    let (indexed, scanned) = (
        s.app
            .customers()
            .list_customers_indexed(&caller, &f)
            .map(|_| ()),
        s.app
            .customers()
            .list_customers_scanned(&caller, &f)
            .map(|_| ()),
    );
    if first.items[0].stage != Stage::Won {
        assert!(indexed.is_err() && scanned.is_err());
    }
    let junk = CustomerFilter {
        cursor: Some("not-an-id".into()),
        ..CustomerFilter::default()
    };
    assert!(
        s.app
            .customers()
            .list_customers_indexed(&caller, &junk)
            .is_err()
    );
    assert!(
        s.app
            .customers()
            .list_customers_scanned(&caller, &junk)
            .is_err()
    );
}

#[tokio::test]
async fn the_list_shows_a_write_at_once() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, body) = c.get("/api/v1/customers").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["total"], 0);
    let (st, created) = c
        .post(
            "/api/v1/customers",
            json!({"name": "刚录入", "phone": "13800001111", "grade": "A"}),
        )
        .await;
    assert!(st.is_success(), "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    // No indexer run in between: the list catches the index up itself.
    let (_, body) = c.get("/api/v1/customers?grade=A").await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["items"][0]["id"], id.as_str());
    let (st, _) = c
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"grade": "B"})),
        )
        .await;
    assert!(st.is_success());
    let (_, body) = c.get("/api/v1/customers?grade=A").await;
    assert_eq!(body["total"], 0, "{body}");
    let (_, body) = c.get("/api/v1/customers?grade=B&sort=name").await;
    assert_eq!(body["total"], 1, "{body}");
    let (st, _) = c
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{id}"),
            None,
        )
        .await;
    assert!(st.is_success());
    let (_, body) = c.get("/api/v1/customers").await;
    assert_eq!(body["total"], 0, "deleted customers leave the list: {body}");
}

#[tokio::test]
async fn an_index_of_an_older_version_is_rebuilt_for_the_list() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    for (name, phone, grade) in [
        ("老索引甲", "13800002222", "A"),
        ("老索引乙", "13800003333", "B"),
    ] {
        let (st, body) = c
            .post(
                "/api/v1/customers",
                json!({"name": name, "phone": phone, "grade": grade}),
            )
            .await;
        assert!(st.is_success(), "{body}");
    }
    let (_, body) = c.get("/api/v1/customers?sort=name").await;
    assert_eq!(body["total"], 2, "{body}");
    let old = s.app.lookup().search_status().unwrap().generation;
    // Make the live generation look like one written by the previous schema version.
    let meta = s.dir.path().join("index").join(&old).join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let current = format!("\\\"v\\\":{}", zhudai::search::fields::INDEX_VERSION);
    assert!(text.contains(&current), "{text}");
    std::fs::write(&meta, text.replace(&current, "\\\"v\\\":3")).unwrap();
    let s = s.restart().await;
    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, body) = c.get("/api/v1/customers?grade=A&sort=updated_at").await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["items"][0]["name"], "老索引甲");
    assert_ne!(
        s.app.lookup().search_status().unwrap().generation,
        old,
        "rebuilt"
    );
}

/// The stage chips above the customer list count the customers the list shows, by the same
/// path: for a salesperson who also sees customers waiting in a pool (search finds those,
/// the list does not), with and without a search word, and under the view's `whose`.
#[tokio::test]
async fn stage_chips_count_what_the_list_shows() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let dept = common::add_department(&s, "一部", None);
    let me = add_user(&s, "sales_a", &["sales"], Some(&dept));
    let mate = add_user(&s, "sales_b", &["sales"], Some(&dept));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, pool) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "公海", "department_id": null, "settings": {"no_signing_days": null}}),
        )
        .await;
    assert_eq!(st, 201, "{pool}");
    let people = [
        ("天桥甲", &me, "lead"),
        ("天桥乙", &me, "lead"),
        ("天桥丙", &me, "contacted"),
        ("历下丁", &me, "won"),
        ("天桥戊", &mate, "lead"),
        ("天桥己", &mate, "qualified"),
        ("天桥庚", &mate, "signed"),
    ];
    let mut ids = Vec::new();
    for (i, (name, owner, stage)) in people.iter().enumerate() {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": name, "phone": format!("1380000{i:04}"), "owner_id": owner, "stage": stage}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    // Two of the teammate's customers wait in the firm's pool, which the salesperson uses.
    let mate_c = s.login("sales_b", common::TEAM_PASSWORD).await;
    for id in &ids[5..] {
        let (st, e) = mate_c
            .post(
                &format!("/api/v1/customers/{id}/release"),
                json!({"reason": "无法联系"}),
            )
            .await;
        assert_eq!(st, 200, "{e}");
    }
    let c = s.login("sales_a", common::TEAM_PASSWORD).await;
    let (_, found) = c.get("/api/v1/search?q=天桥&limit=1").await;
    let (_, listed) = c.get("/api/v1/customers?q=天桥").await;
    assert!(
        found["total"].as_u64() > listed["total"].as_u64(),
        "search also finds the customers waiting in the pool: {found} {listed}"
    );
    for query in [
        "q=天桥",
        "",
        "whose=mine",
        "whose=team",
        "q=天桥&whose=mine",
        "grade=Z",
    ] {
        let (st, counts) = c
            .get(&format!("/api/v1/customers/stage-counts?{query}"))
            .await;
        assert_eq!(st, 200, "{counts}");
        let counts = counts["stage"].as_object().unwrap().clone();
        let (_, list) = c.get(&format!("/api/v1/customers?{query}")).await;
        let sum: u64 = counts.values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(
            Some(sum),
            list["total"].as_u64(),
            "{query}: {counts:?} {list}"
        );
        for (stage, n) in &counts {
            let (_, one) = c
                .get(&format!("/api/v1/customers?{query}&stage={stage}"))
                .await;
            assert_eq!(one["total"], *n, "{query} stage {stage}");
        }
        // The stage asked for does not narrow its own chips.
        let (_, narrowed) = c
            .get(&format!("/api/v1/customers/stage-counts?{query}&stage=won"))
            .await;
        assert_eq!(narrowed["stage"].as_object(), Some(&counts), "{query}");
    }
    let (_, counts) = c.get("/api/v1/customers/stage-counts?q=天桥").await;
    assert_eq!(counts["stage"], json!({"lead": 2, "contacted": 1}));
    let (_, counts) = c.get("/api/v1/customers/stage-counts").await;
    assert_eq!(
        counts["stage"],
        json!({"lead": 2, "contacted": 1, "won": 1}),
        "their own four, not the pool's"
    );
    let (st, e) = c.get("/api/v1/customers/stage-counts?due=someday").await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("query")),
        "{e}"
    );
}

/// The stage counts the index gives agree with the records read and filtered, per stage.
fn stage_counts_agree(s: &TestServer, caller: &Caller, f: &CustomerFilter) {
    let counts = s
        .app
        .customers()
        .customer_stage_counts(caller, f)
        .unwrap()
        .stage;
    let mut listed_total = 0;
    for stage in Stage::ALL {
        let one = CustomerFilter {
            stage: Some(stage),
            limit: Some(1),
            ..f.clone()
        };
        let total = s
            .app
            .customers()
            .list_customers_scanned(caller, &one)
            .unwrap()
            .total;
        listed_total += total;
        assert_eq!(
            counts.get(stage.key()).copied().unwrap_or(0),
            total,
            "{stage:?} of {f:?}: {counts:?}"
        );
    }
    assert!(counts.values().all(|n| *n > 0), "{counts:?}");
    assert_eq!(counts.values().sum::<u64>(), listed_total);
}

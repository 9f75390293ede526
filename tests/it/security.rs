//! Issue 14 (security hardening): one regression test per finding of the black-box probe.

use crate::common;
use crate::import::{form, post_form, wait_job};

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};

/// Issue 14.5: a 40,000-character cell made `errors.xlsx` a 500 (Excel's limit is 32,767), so
/// the whole report was lost; formula-looking cells went out without the export's defusing.
#[tokio::test]
async fn the_error_report_cuts_overlong_cells_and_defuses_formulas() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let long = "长".repeat(40_000);
    let csv = format!("姓名,手机号码\n{long},12345\n张三,=HYPERLINK(\"http://x\")\n");
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("long.csv", csv.as_bytes(), &[("on_duplicate", "skip")]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let job = wait_job(&admin, &id).await;
    assert_eq!(job["rejected"].as_u64(), Some(2), "{job}");
    let r = admin
        .http
        .get(format!("{}/api/v1/imports/{id}/errors.xlsx", admin.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows.len(),
        3,
        "{:?}",
        rows.iter().map(|r| &r[0]).collect::<Vec<_>>()
    );
    let name = &rows[1][1];
    assert!(name.starts_with("长长长"));
    assert!(name.contains("内容过长已截断，原文 40000 字"), "says so");
    assert!(name.encode_utf16().count() <= 32_767);
    assert_eq!(
        rows[2][2], "'=HYPERLINK(\"http://x\")",
        "defused as in the export"
    );
}

async fn bearer_status(s: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .get(s.url("/api/v1/me"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Issue 14.7: disabling a user did not revoke their API tokens (enabling again brought them
/// back); departure neither. Both revoke for good, in the same transaction.
#[tokio::test]
async fn disabling_or_departing_revokes_api_tokens_for_good() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let token_for = |id: String| {
        let admin = &admin;
        async move {
            let (st, t) = admin
                .post(
                    "/api/v1/tokens",
                    serde_json::json!({"name": "pbx", "user_id": id}),
                )
                .await;
            assert_eq!(st, 201, "{t}");
            t["token"].as_str().unwrap().to_string()
        }
    };
    let sun_token = token_for(sun.clone()).await;
    let li_token = token_for(li.clone()).await;
    assert_eq!(bearer_status(&s, &sun_token).await, 200);
    let patch = |status: &'static str| {
        let admin = &admin;
        let sun = sun.clone();
        async move {
            let (st, v) = admin
                .call(
                    reqwest::Method::PATCH,
                    &format!("/api/v1/users/{sun}"),
                    Some(serde_json::json!({"status": status})),
                )
                .await;
            assert_eq!(st, 200, "{v}");
        }
    };
    patch("disabled").await;
    assert_eq!(bearer_status(&s, &sun_token).await, 401);
    patch("active").await;
    assert_eq!(
        bearer_status(&s, &sun_token).await,
        401,
        "enabling again does not bring the token back"
    );
    let (_, all) = admin.get("/api/v1/tokens?all=true").await;
    let revoked = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user_id"] == sun.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    assert_eq!(bearer_status(&s, &li_token).await, 200);
    let (st, v) = admin
        .post(
            &format!("/api/v1/users/{li}/depart"),
            serde_json::json!({"to_user": sun}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(bearer_status(&s, &li_token).await, 401);
}

/// Issue 14.7: API tokens had no default expiry. Without `expires_in_days` a token lives
/// `session.token_default_days` (90 unless configured).
#[tokio::test]
async fn tokens_expire_after_the_configured_default() {
    for (days, config) in [
        (90, zhudai::config::Config::defaults().unwrap()),
        (7, {
            let mut c = zhudai::config::Config::defaults().unwrap();
            c.session.token_default_days = 7;
            c
        }),
    ] {
        let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
        let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
        let (st, t) = admin
            .post("/api/v1/tokens", serde_json::json!({"name": "crm"}))
            .await;
        assert_eq!(st, 201, "{t}");
        let expires: chrono::DateTime<chrono::Utc> =
            t["expires_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires, common::epoch() + chrono::Duration::days(days));
    }
}

/// Issue 14.7: a department-scope manager could give a customer to a user outside their scope
/// (transfer, bulk transfer, create for someone).
#[tokio::test]
async fn a_manager_cannot_give_customers_outside_their_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let mate = common::add_user(&s, "mate", &["sales"], Some(&east));
    let stranger = common::add_user(&s, "stranger", &["sales"], Some(&west));
    let boss = s.login("boss", common::TEAM_PASSWORD).await;
    let (st, c) = boss
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "钱七", "phone": "13811112222"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap();
    let tpath = format!("/api/v1/customers/{id}/transfer");
    let (st, e) = boss
        .post(&tpath, serde_json::json!({"to_user": stranger}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("to_user")),
        "{e}"
    );
    let (st, e) = boss
        .post(
            "/api/v1/customers/bulk",
            serde_json::json!({"ids": [id], "action": "transfer", "to_user": stranger}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("to_user")),
        "{e}"
    );
    let (st, e) = boss
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "孙八", "phone": "13811113333", "owner_id": stranger}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("owner_id")),
        "{e}"
    );
    let (st, moved) = boss
        .post(&tpath, serde_json::json!({"to_user": mate}))
        .await;
    assert_eq!(
        (st.as_u16(), moved["owner_id"].as_str()),
        (200, Some(mate.as_str()))
    );
}

/// Issue 14.7: names and follow-up text accepted NUL, ESC/ANSI, the RTL override and
/// zero-width characters. Single-line fields refuse them; follow-up content keeps newlines only.
#[tokio::test]
async fn control_bidi_and_zero_width_characters_are_refused() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for bad in [
        "张\u{0}三",
        "张三\u{1b}[31m",
        "张\u{202E}三",
        "张\u{200B}三",
        "张\n三",
    ] {
        let (st, e) = admin
            .post(
                "/api/v1/customers",
                serde_json::json!({"name": bad, "phone": "13811112222"}),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("name")),
            "{bad:?}: {e}"
        );
    }
    let (st, e) = admin
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "张三", "phone": "13811112222", "company": "a\u{202E}b"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("company"))
    );
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "张三", "phone": "13811112222"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let fpath = format!("/api/v1/customers/{}/followups", c["id"].as_str().unwrap());
    for bad in [
        "约了\u{0}下午",
        "\u{1b}[2J清屏",
        "a\u{202E}b",
        "零\u{200B}宽",
    ] {
        let (st, e) = admin
            .post(&fpath, serde_json::json!({"kind": "call", "content": bad}))
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("content")),
            "{bad:?}: {e}"
        );
    }
    let (st, f) = admin
        .post(
            &fpath,
            serde_json::json!({"kind": "call", "content": "第一行\n第二行"}),
        )
        .await;
    assert_eq!(st, 201, "newlines stay in multi-line text: {f}");
    // Other names: departments, pools, saved views, tokens.
    for (path, body) in [
        (
            "/api/v1/departments",
            serde_json::json!({"name": "销售\u{202E}部"}),
        ),
        ("/api/v1/pools", serde_json::json!({"name": "公海\u{0}"})),
        (
            "/api/v1/customer-views",
            serde_json::json!({"name": "我的\u{200B}视图"}),
        ),
        (
            "/api/v1/tokens",
            serde_json::json!({"name": "pbx\u{1b}[31m"}),
        ),
    ] {
        let (st, e) = admin.post(path, body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("name")),
            "{path}: {e}"
        );
    }
}

/// Issue 14.7: `next_followup_at` took 9999-12-31 and 1900-01-01 through PATCH while
/// follow-ups limit it to a year ahead; `POST /customers` ignored unknown fields.
#[tokio::test]
async fn next_followup_bounds_and_unknown_fields_apply_to_every_write() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, e) = admin
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "张三", "phone": "13811112222", "nmae": "x"}),
        )
        .await;
    assert_eq!(st, 400, "unknown field refused: {e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("nmae"),
        "{e}"
    );
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "张三", "phone": "13811112222"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let path = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
    for bad in ["9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"] {
        let (st, e) = admin
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(serde_json::json!({"next_followup_at": bad})),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some("next_followup_at")),
            "{bad}: {e}"
        );
    }
    let ok = (common::epoch() + chrono::Duration::days(30)).to_rfc3339();
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"next_followup_at": ok})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

/// Issue 14.7: `GET /audit` gave the size of the whole log as `total` whatever the filters.
#[tokio::test]
async fn audit_total_counts_what_the_filters_match() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        let (st, _) = s
            .client()
            .post(
                "/api/v1/auth/login",
                serde_json::json!({"username": "nobody", "password": "wrong password"}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let (_, all) = admin.get("/api/v1/audit?limit=1").await;
    let (_, failed) = admin
        .get("/api/v1/audit?action=auth.login_failed&limit=1")
        .await;
    assert_eq!(failed["total"], 3, "{failed}");
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    assert!(all["total"].as_u64().unwrap() > 3);
    let (_, by_actor) = admin.get("/api/v1/audit?actor=nobody").await;
    assert_eq!(by_actor["total"], 3, "{by_actor}");
}

/// Issue 14.7: a full phone typed with `+86 ` or in groups (`138 1234 5678`) found nothing,
/// although docs/search.md says it does.
#[tokio::test]
async fn a_full_phone_typed_in_groups_is_found() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "张三", "phone": "13812345678", "city": "成都"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    for q in [
        "+86 13812345678",
        "138 1234 5678",
        "+86 138 1234 5678",
        "成都 138 1234 5678",
    ] {
        let enc: String = q
            .bytes()
            .map(|b| match b {
                b'0'..=b'9' | b'a'..=b'z' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (st, v) = admin.get(&format!("/api/v1/search?q={enc}")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["total"], 1, "{q}: {v}");
        assert_eq!(v["items"][0]["customer"]["id"], c["id"], "{q}");
    }
    let (_, v) = admin.get("/api/v1/search?q=138%201234%205679").await;
    assert_eq!(v["total"], 0, "another number: {v}");
}

/// Issue 14.7: after a kill -9 (changes written, not yet in the index) doctor said FAIL "run
/// zhudai reindex" although the next start heals the index. The state is made by importing
/// with the server stopped and then putting back the index as it was before the import.
#[tokio::test]
async fn doctor_warns_that_a_lagging_index_catches_up_at_the_next_start() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let bin = env!("CARGO_BIN_EXE_zhudai");
    let dir = data.path().to_str().unwrap();
    let import = |from: usize| {
        let file = data.path().join(format!("名单{from}.csv"));
        let mut csv = String::from("姓名,手机号码\n");
        for i in from..from + 20 {
            csv.push_str(&format!("客户{i},1391234{i:04}\n"));
        }
        std::fs::write(&file, csv).unwrap();
        let out = std::process::Command::new(bin)
            .args([
                "--data",
                dir,
                "import",
                file.to_str().unwrap(),
                "--owner",
                ADMIN,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    import(0);
    let index = data.path().join("index");
    let saved = tempfile::tempdir().unwrap();
    common::copy_dir(&index, saved.path());
    import(100);
    std::fs::remove_dir_all(&index).unwrap();
    common::copy_dir(saved.path(), &index);
    let out = std::process::Command::new(bin)
        .args(["--data", dir, "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("search index"))
        .unwrap_or_default();
    assert!(line.starts_with("warn"), "{text}");
    assert!(
        line.contains("the index will catch up at the next start"),
        "{text}"
    );
}

async fn bearer_call(
    s: &TestServer,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(s.url(path))
        .header("authorization", format!("Bearer {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Probe finding 5: a token could mint tokens that outlived it and change the password; a
/// password reset (the admin's answer to a compromised account) or change left the account's
/// tokens working.
#[tokio::test]
async fn tokens_need_a_session_to_be_made_and_end_with_the_password() {
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let sun_client = s.login("sun", common::TEAM_PASSWORD).await;
    let (st, t) = sun_client
        .post("/api/v1/tokens", json!({"name": "mine"}))
        .await;
    assert_eq!(st, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    for (path, body) in [
        (
            "/api/v1/tokens",
            json!({"name": "child", "expires_in_days": 3650}),
        ),
        (
            "/api/v1/me/password",
            json!({"current_password": common::TEAM_PASSWORD, "new_password": "brand new pass"}),
        ),
    ] {
        let (st, v) = bearer_call(&s, &token, path, body).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("session_required")),
            "{path}: {v}"
        );
    }
    // Warm: the token is answered from the auth cache before the reset.
    for _ in 0..2 {
        assert_eq!(bearer_status(&s, &token).await, 200);
    }
    let (st, v) = admin
        .post(
            &format!("/api/v1/users/{sun}/reset-password"),
            json!({"password": "second password!"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"sessions_ended": 1, "tokens_revoked": 1}));
    assert_eq!(bearer_status(&s, &token).await, 401, "the reset revoked it");
    let (_, page) = admin.get("/api/v1/audit?action=user.password_reset").await;
    assert_eq!(page["items"][0]["detail"]["tokens_revoked"], 1, "{page}");

    // The user's own change ends their tokens too, like their sessions.
    let sun_client = s.login("sun", "second password!").await;
    let (_, t) = sun_client
        .post("/api/v1/tokens", json!({"name": "again"}))
        .await;
    let token = t["token"].as_str().unwrap().to_string();
    assert_eq!(bearer_status(&s, &token).await, 200);
    let (st, _) = sun_client
        .post(
            "/api/v1/me/password",
            json!({"current_password": "second password!", "new_password": "third password!"}),
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(bearer_status(&s, &token).await, 401);
    let (_, page) = admin
        .get("/api/v1/audit?action=user.password_changed")
        .await;
    assert_eq!(page["items"][0]["detail"]["tokens_revoked"], 1, "{page}");
}

/// Probe finding 9: a failed login wrote whatever was typed as the username (often the
/// password, typed in the wrong box) into the permanent audit log.
#[tokio::test]
async fn a_failed_login_keeps_only_a_well_formed_username() {
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    for name in ["MyS3cret!Pass word", "nobody"] {
        let (st, _) = s
            .client()
            .post(
                "/api/v1/auth/login",
                json!({"username": name, "password": "x"}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, page) = admin.get("/api/v1/audit?action=auth.login_failed").await;
    let seen: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["detail"]["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("nobody", "unknown_user"),
            ("(invalid username)", "unknown_user")
        ]
    );
    let text = page.to_string();
    assert!(!text.contains("MyS3cret"), "{text}");
}

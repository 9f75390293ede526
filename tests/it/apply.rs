//! Online applications (在线申请): a form defined by the admin, the public page with its own
//! CSP, one submission → one customer placed by the assignment rule with the consent versions,
//! the same phone again → an event and a notice, never a second record; the honeypot, the
//! minimum fill time, the size limit and the rate limits each refuse with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::config::Config;

fn form_body(slug: &str) -> Value {
    json!({"slug": slug, "title": "快速申请贷款", "channel": "官网表单",
           "fields": ["name", "city", "amount", "has_property"],
           "consent_general": "我们将收集您的姓名、手机号用于贷款咨询。",
           "consent_sensitive": "房产信息属于敏感个人信息，仅用于评估贷款方案。",
           "frame_ancestors": ["https://www.example.com"],
           "min_fill_seconds": 5})
}

async fn new_form(admin: &Client, slug: &str) -> Value {
    let (st, f) = admin
        .post("/api/v1/application-forms", form_body(slug))
        .await;
    assert_eq!(st, 201, "{f}");
    f
}

/// The page as a visitor gets it: status, CSP, and the ticket in its hidden field.
async fn page(s: &TestServer, slug: &str) -> (u16, String, String) {
    let resp = reqwest::get(s.url(&format!("/apply/{slug}")))
        .await
        .unwrap();
    let st = resp.status().as_u16();
    let csp = resp
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let html = resp.text().await.unwrap();
    let ticket = html
        .split("name=\"ticket\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    (st, csp, ticket)
}

async fn submit(s: &TestServer, slug: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(s.url(&format!("/apply/{slug}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

fn application(ticket: &str, phone: &str) -> Value {
    json!({"name": "周八", "phone": phone, "city": "成都", "amount": "30",
           "has_property": "yes", "consent_general": "on", "consent_sensitive": "on",
           "ticket": ticket})
}

async fn customers_total(s: &TestServer) -> u64 {
    s.app
        .store
        .read(|tx| {
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .count_all()
        })
        .unwrap()
}

#[tokio::test]
async fn a_submission_makes_one_assigned_customer_and_the_same_phone_none() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let xiao_id = common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let f = new_form(&admin, "web").await;
    assert_eq!(f["path"], "/apply/web");
    assert_eq!(f["consent_general"]["version"], 1);

    let (st, csp, ticket) = page(&s, "web").await;
    assert_eq!(st, 200);
    assert!(
        csp.contains("frame-ancestors https://www.example.com")
            && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let (st, _, _) = page(&s, "nope").await;
    assert_eq!(st, 404);

    // Too fast: refused, nothing written.
    let (st, e) = submit(&s, "web", application(&ticket, "13800138000")).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("apply_too_fast")),
        "{e}"
    );
    assert_eq!(customers_total(&s).await, 0);
    s.clock.advance(chrono::Duration::seconds(6));
    let (st, v) = submit(&s, "web", application(&ticket, "138 0013 8000")).await;
    assert_eq!((st, &v), (200, &json!({"ok": true})));
    assert_eq!(customers_total(&s).await, 1);
    // The contract's API path is the same submission: a repeat is de-duplicated.
    let resp = reqwest::Client::new()
        .post(s.url("/api/v1/apply/web"))
        .json(&application(&ticket, "13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(customers_total(&s).await, 1);

    // The officer the rule chose sees it: the notice, then the record with the consent.
    let (_, n) = xiao.get("/api/v1/notices").await;
    assert_eq!(n["items"].as_array().unwrap().len(), 2, "{n}");
    assert_eq!(n["items"][0]["by_name"], Value::Null, "given by the system");
    let id = n["items"][0]["customer_id"].as_str().unwrap().to_string();
    let (_, c) = xiao.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(c["owner_id"], xiao_id.as_str());
    assert_eq!(c["channel"], "官网表单");
    assert_eq!(c["city"], "成都");
    assert_eq!(c["demand"]["amount_fen"], 30_000_000);
    assert_eq!(c["profile"]["has_property"], true);
    assert_eq!(
        c["consent"]["notice_version"],
        "web: general v1, sensitive v1"
    );

    // An edited consent text is version 2; the same phone again adds no customer.
    let mut body = form_body("web");
    body["consent_general"] = json!("新版个人信息处理规则。");
    let (st, f2) = admin
        .call(
            Method::PUT,
            &format!("/api/v1/application-forms/{}", f["id"].as_str().unwrap()),
            Some(body),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &f2["consent_general"]["version"]),
        (200, &json!(2))
    );
    assert_eq!(f2["consent_sensitive"]["version"], 1);
    let (_, _, ticket) = page(&s, "web").await;
    s.clock.advance(chrono::Duration::seconds(6));
    let mut again = application(&ticket, "+86 13800138000");
    again["consent_sensitive"] = Value::Null;
    again["has_property"] = Value::Null;
    let (st, _) = submit(&s, "web", again).await;
    assert_eq!(st, 200);
    assert_eq!(customers_total(&s).await, 1, "never a second record");
    let (_, n) = xiao.get("/api/v1/notices").await;
    assert_eq!(n["items"][2]["kind"], "applied", "{n}");
    let (_, tl) = xiao.get(&format!("/api/v1/customers/{id}/timeline")).await;
    assert!(tl.to_string().contains("\"applied\""), "{tl}");

    let (_, subs) = admin
        .get(&format!(
            "/api/v1/application-forms/{}/submissions",
            f["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(subs["total"], 3);
    let items = subs["items"].as_array().unwrap();
    assert_eq!(
        (
            &items[0]["new_customer"],
            &items[0]["consent_general_version"],
            &items[0]["consent_sensitive_version"]
        ),
        (&json!(false), &json!(2), &json!(0))
    );
    assert_eq!(items[2]["new_customer"], true);
    assert_eq!(items[2]["phone_masked"], "138****8000");
    assert!(!subs.to_string().contains("13800138000"));
    // Forms are the admin's: a salesperson is refused.
    let (st, _) = xiao.get("/api/v1/application-forms").await;
    assert_eq!(st, 403);
    s.stop().await;
}

#[tokio::test]
async fn honeypot_size_consent_and_rate_limits_refuse_with_nothing_written() {
    let mut config = Config::defaults().unwrap();
    config.leads.apply_per_phone_per_day = 1;
    config.leads.apply_per_address_per_hour = 4;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let f = new_form(&admin, "ad").await;
    let (_, _, ticket) = page(&s, "ad").await;
    s.clock.advance(chrono::Duration::seconds(6));

    let mut bot = application(&ticket, "13900139000");
    bot["website"] = json!("http://spam.example");
    let (st, e) = submit(&s, "ad", bot).await;
    assert_eq!((st, &e["error"]["code"]), (409, &json!("apply_refused")));
    let mut big = application(&ticket, "13900139000");
    big["purpose"] = json!("x".repeat(20_000));
    let (st, e) = submit(&s, "ad", big).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (413, &json!("apply_too_large")),
        "{e}"
    );
    let (st, e) = submit(&s, "ad", application("1.bad", "13900139000")).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("apply_ticket_invalid"))
    );
    let mut no_consent = application(&ticket, "13900139000");
    no_consent["consent_general"] = Value::Null;
    let (st, e) = submit(&s, "ad", no_consent).await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("consent_general")));
    // Property answered without the separate consent for sensitive information.
    let mut no_sensitive = application(&ticket, "13900139000");
    no_sensitive["consent_sensitive"] = Value::Null;
    let (st, e) = submit(&s, "ad", no_sensitive).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("consent_sensitive"))
    );
    assert_eq!(customers_total(&s).await, 0);

    // Per phone: one a day (the address has used 2 of its 4 above: attempts that got past the
    // ticket).
    let (st, _) = submit(&s, "ad", application(&ticket, "13900139000")).await;
    assert_eq!(st, 200);
    let (st, e) = submit(&s, "ad", application(&ticket, "13900139000")).await;
    assert_eq!((st, &e["error"]["code"]), (429, &json!("throttled")), "{e}");
    // Per address: the fifth attempt this hour.
    let (st, e) = submit(&s, "ad", application(&ticket, "13600136000")).await;
    assert_eq!((st, &e["error"]["code"]), (429, &json!("throttled")), "{e}");
    assert_eq!(customers_total(&s).await, 1);
    let (_, subs) = admin
        .get(&format!(
            "/api/v1/application-forms/{}/submissions",
            f["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(subs["total"], 1);
    let (_, audit) = admin.get("/api/v1/audit?action=customer.applied").await;
    assert_eq!(audit["total"], 1);
    s.stop().await;
}

#[tokio::test]
async fn the_html_form_posts_and_answers_pages() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let mut body = form_body("html");
    body["min_fill_seconds"] = json!(0);
    body["frame_ancestors"] = json!([]);
    let (st, _) = admin.post("/api/v1/application-forms", body).await;
    assert_eq!(st, 201);
    let (_, csp, ticket) = page(&s, "html").await;
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let post = |form: Vec<(&'static str, String)>| {
        let url = s.url("/apply/html");
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded_body(&form))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (st, html) = post(vec![
        ("ticket", ticket.clone()),
        ("phone", "12".into()),
        ("consent_general", "v1".into()),
        ("name", "<script>x</script>".into()),
    ])
    .await;
    assert_eq!(st, 400);
    assert!(
        html.contains("手机号应为11位") && html.contains("&lt;script&gt;"),
        "{html}"
    );
    let (st, html) = post(vec![
        ("ticket", ticket),
        ("phone", "13700137000".into()),
        ("consent_general", "v1".into()),
        ("website", String::new()),
    ])
    .await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("提交成功"));
    // The name was left empty: the record gets one from the phone's last digits.
    let (_, subs) = admin.get("/api/v1/application-forms").await;
    assert_eq!(subs["items"][0]["submissions"], 1);
    s.stop().await;
}

fn serde_urlencoded_body(pairs: &[(&'static str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The consent recorded is the one the visitor saw: a text edited between the page and the
/// post is refused (409 `consent_outdated`, nothing recorded), and the page shows the new text.
#[tokio::test]
async fn a_consent_text_edited_after_the_page_was_served_is_refused() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let mut body = form_body("web");
    body["min_fill_seconds"] = json!(0);
    let (st, f) = admin.post("/api/v1/application-forms", body.clone()).await;
    assert_eq!(st, 201, "{f}");
    let (_, _, ticket) = page(&s, "web").await;
    body["consent_general"] = json!("新版本同意文字：我们会把您的信息提供给第三方机构");
    let (st, f) = admin
        .call(
            Method::PUT,
            &format!("/api/v1/application-forms/{}", f["id"].as_str().unwrap()),
            Some(body),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &f["consent_general"]["version"]),
        (200, &json!(2)),
        "{f}"
    );
    let (st, e) = submit(&s, "web", application(&ticket, "13811110060")).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("consent_outdated")),
        "{e}"
    );
    // The HTML form: the same refusal, with the form shown again with the new text.
    let resp = reqwest::Client::new()
        .post(s.url("/apply/web"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded_body(&[
            ("ticket", ticket.clone()),
            ("phone", "13811110060".into()),
            ("consent_general", "v1".into()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("新版本同意文字") && html.contains("value=\"v2\""),
        "{html}"
    );
    assert_eq!(customers_total(&s).await, 0);
    let (_, audit) = admin.get("/api/v1/audit?action=customer.applied").await;
    assert_eq!(audit["total"], 0);
    // A page served after the edit is accepted.
    let (_, _, ticket) = page(&s, "web").await;
    let (st, e) = submit(&s, "web", application(&ticket, "13811110060")).await;
    assert_eq!(st, 200, "{e}");
    s.stop().await;
}

/// The JSON application: a consent says yes (true, "on", "true", "1", "v<version>") or is a 400
/// naming it; numbers may be JSON numbers; an unknown key, a field the form does not ask and
/// an amount of 0 are 400s naming the field.
#[tokio::test]
async fn the_json_application_names_every_field_it_refuses() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let mut body = form_body("web");
    body["min_fill_seconds"] = json!(0);
    let (st, _) = admin.post("/api/v1/application-forms", body).await;
    assert_eq!(st, 201);
    let (_, _, ticket) = page(&s, "web").await;
    let api = |body: Value| {
        let url = s.url("/api/v1/apply/web");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let with = |k: &str, v: Value| {
        let mut a = application(&ticket, "13811110047");
        a[k] = v;
        a
    };
    for (body, field) in [
        (with("consent_general", json!("no")), "consent_general"),
        (with("consent_general", json!("false")), "consent_general"),
        (with("consent_general", json!(false)), "consent_general"),
        (with("consent_sensitive", json!("0")), "consent_sensitive"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!(0)), "amount"),
        (with("amount", json!(1.5)), "amount"),
        (with("extra", json!("x")), "extra"),
        (with("monthly_income", json!("9000")), "monthly_income"),
    ] {
        let (st, e) = api(body.clone()).await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body} → {e}"
        );
    }
    assert_eq!(customers_total(&s).await, 0);
    let (st, e) = api(with("amount", json!(30))).await;
    assert_eq!(st, 200, "{e}");
    let mut yes = with("consent_general", json!(true));
    yes["phone"] = json!("13811110048");
    yes["consent_sensitive"] = json!("v1");
    let (st, e) = api(yes).await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(customers_total(&s).await, 2);
    s.stop().await;
}

/// The separate consent for sensitive information is needed only when sensitive answers are
/// given: `consent_sensitive: false` (or "false", "off", "0", "no") with none given is accepted
/// and records no sensitive consent; with a sensitive answer it is refused naming the field.
#[tokio::test]
async fn no_sensitive_consent_is_needed_when_no_sensitive_answer_is_given() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    new_form(&admin, "plain").await;
    let (_, _, ticket) = page(&s, "plain").await;
    s.clock.advance(chrono::Duration::seconds(6));
    let phones = [
        "13900139001",
        "13900139002",
        "13900139003",
        "13900139004",
        "13900139005",
    ];
    let values = [
        json!(false),
        json!("false"),
        json!("off"),
        json!("0"),
        json!("no"),
    ];
    for (phone, declined) in phones.iter().zip(values.iter()) {
        let body = json!({"name": "周九", "phone": phone, "city": "成都", "amount": "30",
                          "consent_general": "on", "consent_sensitive": declined,
                          "ticket": ticket});
        let (st, e) = submit(&s, "plain", body).await;
        assert_eq!(st, 200, "{declined}: {e}");
    }
    assert_eq!(customers_total(&s).await, 5);
    let (_, subs) = admin.get("/api/v1/application-forms").await;
    let id = subs["items"][0]["id"].as_str().unwrap().to_string();
    let (_, subs) = admin
        .get(&format!("/api/v1/application-forms/{id}/submissions"))
        .await;
    for item in subs["items"].as_array().unwrap() {
        assert_eq!(item["consent_sensitive_version"], 0, "{item}");
    }
    // A sensitive answer with the consent declined: refused, naming the field.
    let body = json!({"phone": "13900139006", "has_property": "yes", "consent_general": "on",
                      "consent_sensitive": false, "ticket": ticket});
    let (st, e) = submit(&s, "plain", body).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("consent_sensitive")),
        "{e}"
    );
    // The general consent declined is still a refusal of its own.
    let body = json!({"phone": "13900139007", "consent_general": false, "ticket": ticket});
    let (st, e) = submit(&s, "plain", body).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("consent_general")),
        "{e}"
    );
    assert_eq!(customers_total(&s).await, 5);
    s.stop().await;
}

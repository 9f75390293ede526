//! Contracts (issue 20.3–20.5): versioned templates with a strict placeholder check and a
//! preview; a frozen contract, its one-time signing link (works once, expires, a re-issue
//! kills the old one; a guessed, used or expired link writes nothing), the consents recorded
//! with their versions, verification that catches a changed byte, the deal's 签约 accepting a
//! signed contract without the override, the PDF, and who reads the full text.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

/// A valid 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const ID_NUMBER: &str = "11010519491231002X";

struct Setup {
    s: TestServer,
    admin: Client,
    sales: Client,
    deal: String,
}

async fn setup() -> Setup {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let sales = s.login("xiao", TEAM_PASSWORD).await;
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    let (st, c) = sales
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800138000", "id_number": ID_NUMBER}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, d) = sales
        .post(
            "/api/v1/deals",
            json!({"customer_id": c["id"], "product_id": p["id"],
                   "amount_fen": 30_000_000, "term_months": 36}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    Setup {
        deal: d["id"].as_str().unwrap().to_string(),
        s,
        admin,
        sales,
    }
}

async fn contract(c: &Client, deal: &str) -> Value {
    let (st, v) = c
        .post(
            &format!("/api/v1/deals/{deal}/contracts"),
            json!({"template_id": "default-service-agreement"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v
}

/// The token of a signing URL.
fn token(link: &Value) -> String {
    let url = link["signing_url"].as_str().unwrap();
    assert!(url.contains("/sign/"), "{url}");
    url.rsplit('/').next().unwrap().to_string()
}

async fn page(s: &TestServer, token: &str) -> (u16, String, String) {
    let r = s
        .client()
        .http
        .get(s.url(&format!("/sign/{token}")))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (st, r.text().await.unwrap(), csp)
}

async fn sign(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let (st, v) = s.client().post(&format!("/sign/{token}"), body).await;
    (st.as_u16(), v)
}

fn good() -> Value {
    json!({"consents": {"general": true, "sensitive_pi": true}, "signature_png": PNG,
           "typed_name": "钱七", "verify": ID_NUMBER})
}

/// The stored bytes of a contract and the audit log's size: what "nothing written" compares.
async fn written(s: &TestServer, admin: &Client, id: &str) -> (Vec<u8>, u64) {
    let raw = s
        .app
        .store
        .read(|tx| zhudai::store::contracts::raw_bytes(tx, id))
        .unwrap()
        .unwrap();
    let (_, audit) = admin.get("/api/v1/audit?limit=1").await;
    (raw, audit["total"].as_u64().unwrap())
}

#[tokio::test]
async fn templates_are_versioned_checked_and_previewed() {
    let t = setup().await;
    let (st, list) = t.admin.get("/api/v1/contract-templates").await;
    assert_eq!(st, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"default-service-agreement") && ids.contains(&"default-pi-authorisation")
    );

    // A misspelt placeholder is refused, naming it and its line.
    let (st, e) = t
        .admin
        .post(
            "/api/v1/contract-templates",
            json!({"name": "服务费确认书", "kind": "fee_confirmation",
                   "body": "<p>确认</p>\n<p>{{ customer.nmae }}</p>"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("body")),
        "{e}"
    );
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("customer.nmae") && msg.contains("第 2 行"),
        "{msg}"
    );
    // A salesperson may not write templates.
    let (st, _) = t
        .sales
        .post(
            "/api/v1/contract-templates",
            json!({"name": "x", "kind": "other", "body": "x"}),
        )
        .await;
    assert_eq!(st, 403);

    let (st, v1) = t
        .admin
        .post(
            "/api/v1/contract-templates",
            json!({"name": "服务费确认书", "kind": "fee_confirmation",
                   "body": "<p>{{ customer.name }} 确认服务费：{{ product.fee }}</p>"}),
        )
        .await;
    assert_eq!(st, 201, "{v1}");
    assert_eq!(v1["version"], 1);
    let id = v1["id"].as_str().unwrap();
    let (st, v2) = t
        .admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/contract-templates/{id}"),
            Some(json!({"name": "服务费确认书", "kind": "fee_confirmation",
                        "body": "<p>{{ customer.name }}（{{ customer.id_number }}）确认服务费：{{ product.fee }}</p>"})),
        )
        .await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    let (_, versions) = t
        .admin
        .get(&format!("/api/v1/contract-templates/{id}/versions"))
        .await;
    let vs: Vec<i64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(vs, vec![2, 1]);

    // Preview against a real deal: the saved text, then an unsaved one with an error.
    let (st, p) = t
        .admin
        .post(
            &format!("/api/v1/contract-templates/{id}/preview"),
            json!({"deal_id": t.deal}),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    let html = p["html"].as_str().unwrap();
    assert!(html.contains("钱七") && html.contains(ID_NUMBER), "{html}");
    let (_, p) = t
        .admin
        .post(
            &format!("/api/v1/contract-templates/{id}/preview"),
            json!({"deal_id": t.deal, "body": "a\nb\n{{ deal.amount }}"}),
        )
        .await;
    assert_eq!(p["error"]["line"], 3, "{p}");
    assert_eq!(p["error"]["placeholder"], "deal.amount", "{p}");
    let (_, ph) = t.admin.get("/api/v1/contract-templates/placeholders").await;
    assert!(
        ph.as_array()
            .unwrap()
            .iter()
            .any(|p| p["path"] == "customer.id_number")
    );

    // A contract names the version it was made from.
    let (st, c) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/contracts", t.deal),
            json!({"template_id": id}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["template_version"], 2);
}

#[tokio::test]
async fn a_link_signs_once_records_the_consents_and_the_deal_moves_to_signed() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["state"], "draft");
    // The officer without id_number.view_full reads the masked copy; admin the full one.
    assert!(c["masked"].as_bool().unwrap());
    assert!(!c["content"].as_str().unwrap().contains(ID_NUMBER));
    let (_, full) = t.admin.get(&format!("/api/v1/contracts/{id}")).await;
    assert!(
        full["content"].as_str().unwrap().contains(ID_NUMBER),
        "{full}"
    );
    // 权证专员 may see ID numbers but not phones: the full copy holds the phone too, so they
    // read the masked one (the PDF alike); their phone reveal is refused as before.
    common::add_user(&t.s, "quan", &["documents"], None);
    let quan = t.s.login("quan", TEAM_PASSWORD).await;
    let (st, copy) = quan.get(&format!("/api/v1/contracts/{id}")).await;
    assert_eq!(st, 200, "{copy}");
    let text = copy["content"].as_str().unwrap();
    assert!(copy["masked"].as_bool().unwrap(), "{copy}");
    assert!(
        !text.contains("13800138000") && !text.contains(ID_NUMBER),
        "{text}"
    );
    // Nor the full text's hash: the masked copy with a guess at the hidden digits, hashed,
    // would confirm the number (about 30 guesses for an ID number whose age is shown).
    let hash = full["content_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64, "{full}");
    assert!(copy["content_sha256"].is_null(), "{copy}");
    assert!(c["content_sha256"].is_null(), "{c}");
    let (_, v) = quan.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(!v.to_string().contains(&hash), "{v}");
    let (_, v) = t.admin.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["computed_sha256"], hash.as_str(), "{v}");
    let pdf = quan
        .http
        .get(format!("{}/api/v1/contracts/{id}/pdf", quan.base))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let admin_pdf = t
        .admin
        .http
        .get(format!("{}/api/v1/contracts/{id}/pdf", t.admin.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // The rendering is deterministic: the same copy gives the same bytes.
    let quan_pdf = pdf.bytes().await.unwrap();
    assert!(quan_pdf != admin_pdf, "the PDF is the masked copy");

    // 签约 needs the override while no contract is signed.
    let (st, v) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "visited", "note": "到店"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, e) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "signed"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("deal_contract_required"))
    );

    let (st, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(st, 200, "{link}");
    let tok = token(&link);
    assert_eq!(link["contract"]["state"], "sent");

    // The page: the masked copy (whoever holds the link, the salesperson who forwards it
    // too, reads no more than staff without reveals), both consents, a tight CSP, and a box
    // for the borrower's ID number; typed, the contract comes in full.
    let (st, html, csp) = page(&t.s, &tok).await;
    assert_eq!(st, 200, "{html}");
    assert!(
        !html.contains(ID_NUMBER) && !html.contains("13800138000"),
        "{html}"
    );
    assert!(html.contains("110105********002X") && html.contains("sensitive_pi"));
    assert!(html.contains("id=\"verify-input\""), "{html}");
    assert!(
        !html.contains(&hash),
        "the hash comes with the full text: {html}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let open = |typed: &str| {
        let c = t.s.client();
        let path = format!("/sign/{tok}/open");
        let body = json!({"verify": typed});
        async move {
            let (st, v) = c.post(&path, body).await;
            (st.as_u16(), v)
        }
    };
    let (st, e) = open("110105194912310011").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("verify")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("还可尝试 4 次"),
        "{e}"
    );
    let (st, opened) = open("110105 19491231 002x").await;
    assert_eq!(st, 200, "{opened}");
    assert!(
        opened["content"].as_str().unwrap().contains(ID_NUMBER),
        "{opened}"
    );
    assert_eq!(opened["content_sha256"], hash.as_str(), "{opened}");
    // Signing needs the number too (the page sends what was typed).
    let mut b = good();
    b.as_object_mut().unwrap().remove("verify");
    let (st, e) = sign(&t.s, &tok, b).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("verify")),
        "{e}"
    );

    // A missing consent, a non-PNG: refused, nothing written.
    let before = written(&t.s, &t.admin, &id).await;
    let mut b = good();
    b["consents"]["sensitive_pi"] = json!(false);
    let (st, e) = sign(&t.s, &tok, b).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("consents.sensitive_pi")),
        "{e}"
    );
    let mut b = good();
    b["signature_png"] = json!("R0lGODlhAQABAAAAACw=");
    let (st, e) = sign(&t.s, &tok, b).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("signature_png")),
        "{e}"
    );
    assert_eq!(written(&t.s, &t.admin, &id).await, before);

    let (st, v) = sign(&t.s, &tok, good()).await;
    assert_eq!(st, 200, "{v}");
    let after = written(&t.s, &t.admin, &id).await;

    // A second use and a guessed token: clear refusals, nothing written.
    let (st, html, _) = page(&t.s, &tok).await;
    assert_eq!(st, 410);
    assert!(html.contains("已使用"), "{html}");
    let (st, e) = sign(&t.s, &tok, good()).await;
    assert_eq!((st, &e["error"]["code"]), (410, &json!("sign_link_gone")));
    let guess = "ab".repeat(32);
    let (st, html, _) = page(&t.s, &guess).await;
    assert_eq!(st, 404);
    assert!(html.contains("不存在"));
    assert_eq!(sign(&t.s, &guess, good()).await.0, 404);
    assert_eq!(sign(&t.s, "short", good()).await.0, 404);
    assert_eq!(written(&t.s, &t.admin, &id).await, after);

    // The record: state, consents with their versions, the signature, the audit row.
    let (_, c) = t.sales.get(&format!("/api/v1/contracts/{id}")).await;
    assert_eq!(c["state"], "signed");
    let s = &c["signed"];
    assert_eq!(s["typed_name"], "钱七");
    assert_eq!(s["link_id"], link["link_id"]);
    assert_eq!(s["consents"][0]["key"], "general");
    assert_eq!(s["consents"][1]["key"], "sensitive_pi");
    assert_eq!(s["consents"][1]["version"], 1);
    assert!(
        s["consents"][1]["text"]
            .as_str()
            .unwrap()
            .contains("第二十九条")
    );
    assert!(
        s["signature_png"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert!(!s["ip"].as_str().unwrap().is_empty());
    let (_, audit) = t.admin.get("/api/v1/audit?action=contract.signed").await;
    assert_eq!(audit["total"], 1, "{audit}");
    let (_, v) = t.sales.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["ok"], true, "{v}");

    // Signed cannot change: no void, no new link.
    let (st, e) = t
        .sales
        .post(
            &format!("/api/v1/contracts/{id}/void"),
            json!({"reason": "改"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("contract_signed"))
    );
    let (st, _) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(st, 409);

    // 签约 now goes without the override, and none is audited.
    let (st, v) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "signed"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, audit) = t.admin.get("/api/v1/audit?action=deal.override").await;
    assert_eq!(audit["total"], 0);

    // The PDF.
    let r = t
        .admin
        .http
        .get(t.s.url(&format!("/api/v1/contracts/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    assert!(bytes.len() > 2_000, "{} bytes", bytes.len());
}

#[tokio::test]
async fn links_expire_and_a_new_link_kills_the_old_one() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap().to_string();
    let (_, first) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    let (_, second) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    let (old, new) = (token(&first), token(&second));
    let (st, html, _) = page(&t.s, &old).await;
    assert_eq!(st, 410);
    assert!(html.contains("最新的链接"), "{html}");
    assert_eq!(page(&t.s, &new).await.0, 200);

    // 72 hours (the default) later the link is expired: 410, nothing written.
    t.s.clock.advance(chrono::Duration::hours(72));
    // Sessions ended meanwhile: sign in again.
    let admin = t.s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales = t.s.login("xiao", TEAM_PASSWORD).await;
    let before = written(&t.s, &admin, &id).await;
    let (st, html, _) = page(&t.s, &new).await;
    assert_eq!(st, 410);
    assert!(html.contains("过期"), "{html}");
    assert_eq!(sign(&t.s, &new, good()).await.0, 410);
    assert_eq!(written(&t.s, &admin, &id).await, before);
    let (_, c) = sales.get(&format!("/api/v1/contracts/{id}")).await;
    assert_eq!(c["state"], "sent");

    // A void contract's link is dead too.
    let (_, third) = sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    let (st, v) = sales
        .post(
            &format!("/api/v1/contracts/{id}/void"),
            json!({"reason": "金额有误"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(page(&t.s, &token(&third)).await.0, 410);
}

/// Rewrites the stored contract through the store.
fn tamper(s: &TestServer, id: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let mut raw = s
        .app
        .store
        .read(|tx| zhudai::store::contracts::raw_bytes(tx, id))
        .unwrap()
        .unwrap();
    f(&mut raw);
    s.app
        .store
        .write(|tx| zhudai::store::contracts::overwrite_raw(tx, id, &raw))
        .unwrap();
}

#[tokio::test]
async fn a_changed_byte_fails_verification_and_the_signed_stage_needs_the_override_again() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap().to_string();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(sign(&t.s, &token(&link), good()).await.0, 200);
    let (_, v) = t.sales.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["ok"], true);

    // One hex digit of the encrypted content flipped.
    tamper(&t.s, &id, |raw| {
        let at = raw
            .windows(b"\"content_enc\":\"1:".len())
            .position(|w| w == b"\"content_enc\":\"1:")
            .unwrap()
            + b"\"content_enc\":\"1:".len()
            + 60;
        raw[at] = if raw[at] == b'0' { b'1' } else { b'0' };
    });
    let (_, v) = t.sales.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("改动"), "{v}");

    // Content re-encrypted by someone holding the key but not matching the frozen hash.
    let forged =
        t.s.app
            .fields
            .encrypt(&id, "content", "<p>改过的合同</p>")
            .unwrap();
    tamper(&t.s, &id, |raw| {
        let mut v: Value = serde_json::from_slice(&raw[1..]).unwrap();
        v["content_enc"] = json!(forged);
        let mut out = vec![raw[0]];
        out.extend(serde_json::to_vec(&v).unwrap());
        *raw = out;
    });
    let (_, v) = t.admin.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_ne!(v["computed_sha256"], v["content_sha256"]);

    // A contract that does not verify does not count for 签约.
    t.sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "visited", "note": "到店"}),
        )
        .await;
    let (st, e) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "signed"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("deal_contract_required"))
    );
}

#[tokio::test]
async fn contracts_outside_the_deals_scope_are_404() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap();
    let west = common::add_department(&t.s, "西区", None);
    common::add_user(&t.s, "other", &["sales"], Some(&west));
    let other = t.s.login("other", TEAM_PASSWORD).await;
    for path in [
        format!("/api/v1/contracts/{id}"),
        format!("/api/v1/contracts/{id}/verify"),
        format!("/api/v1/contracts/{id}/pdf"),
        format!("/api/v1/deals/{}/contracts", t.deal),
    ] {
        assert_eq!(other.get(&path).await.0, 404, "{path}");
    }
    let (st, _) = other
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(st, 404);
}

#[test]
fn docs_list_every_placeholder() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contracts.md")).unwrap();
    for p in zhudai::domain::contract::PLACEHOLDERS {
        assert!(
            doc.contains(&format!("| `{}` |", p.path)),
            "docs/contracts.md lists {}",
            p.path
        );
    }
}

/// Key rotation re-seals a contract's encrypted text and signature: it still verifies under
/// the new key.
#[tokio::test]
async fn a_signed_contract_still_verifies_after_key_rotation() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap().to_string();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(sign(&t.s, &token(&link), good()).await.0, 200);
    let data = t.s.stop().await;
    let dir = data.path();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", dir.to_str().unwrap(), "doctor", "--rotate-key"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let app = zhudai::open_app(
        dir,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    let raw = app
        .store
        .read(|tx| zhudai::store::contracts::raw_bytes(tx, &id))
        .unwrap()
        .unwrap();
    let stored: zhudai::domain::contract::Contract = serde_json::from_slice(&raw[1..]).unwrap();
    let v = zhudai::service::contracts::verify(&app.fields, &stored);
    assert!(v.ok, "{v:?}");
    assert_eq!(v.signature_ok, Some(true));
}

#[tokio::test]
async fn a_signed_authorisation_alone_does_not_make_the_deal_signed() {
    let t = setup().await;
    let (st, c) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/contracts", t.deal),
            json!({"template_id": "default-pi-authorisation"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["kind"], "authorisation");
    let id = c["id"].as_str().unwrap();
    let (st, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    assert_eq!(st, 200, "{link}");
    let (st, v) = sign(&t.s, &token(&link), good()).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "visited", "note": "到店"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // Signed and verified, but an authorisation: 签约 still needs the agreement.
    let (_, check) = t.sales.get(&format!("/api/v1/contracts/{id}/verify")).await;
    assert_eq!(check["ok"], true, "{check}");
    let (st, e) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "signed"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("deal_contract_required")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("居间服务协议")
    );
    // The service agreement signed: 签约 goes through.
    let agreement = contract(&t.sales, &t.deal).await;
    let aid = agreement["id"].as_str().unwrap();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{aid}/link"), json!({}))
        .await;
    let (st, v) = sign(&t.s, &token(&link), good()).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/stage", t.deal),
            json!({"stage": "signed"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

/// Issue 20: erasing the borrower deletes the content of the contracts never signed (links
/// die) and keeps the signed ones (PIPL art. 47, statutory retention), from then on shown in
/// full to administrators only; the result says how many were kept and why.
#[tokio::test]
async fn erasure_deletes_unsigned_contracts_and_keeps_signed_ones_for_admins_only() {
    let t = setup().await;
    // A signed agreement, a sent authorisation (live link), a draft agreement.
    let signed = contract(&t.sales, &t.deal).await;
    let signed_id = signed["id"].as_str().unwrap().to_string();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{signed_id}/link"), json!({}))
        .await;
    assert_eq!(sign(&t.s, &token(&link), good()).await.0, 200);
    let (st, sent) = t
        .sales
        .post(
            &format!("/api/v1/deals/{}/contracts", t.deal),
            json!({"template_id": "default-pi-authorisation"}),
        )
        .await;
    assert_eq!(st, 201, "{sent}");
    let sent_id = sent["id"].as_str().unwrap().to_string();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{sent_id}/link"), json!({}))
        .await;
    let live_token = token(&link);
    let draft = contract(&t.sales, &t.deal).await;
    let draft_id = draft["id"].as_str().unwrap().to_string();

    let (_, d) = t.sales.get(&format!("/api/v1/deals/{}", t.deal)).await;
    let customer = d["customer_id"].as_str().unwrap().to_string();
    let (st, r) = t
        .admin
        .post(
            &format!("/api/v1/customers/{customer}/erase"),
            json!({"request_ref": "PI-2026-101"}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (&r["contracts_erased"], &r["contracts_retained"]),
        (&json!(2), &json!(1)),
        "{r}"
    );
    assert!(
        r["retained_reason"]
            .as_str()
            .unwrap()
            .contains("第四十七条"),
        "{r}"
    );

    // The unsigned ones: void, content, masked copy and hash gone, nothing of the borrower
    // left in the stored record; the live link is dead (410), nothing signs.
    for id in [&sent_id, &draft_id] {
        let (_, c) = t.admin.get(&format!("/api/v1/contracts/{id}")).await;
        assert_eq!(
            (&c["state"], &c["content"], &c["content_sha256"]),
            (
                &json!("void"),
                &json!(zhudai::domain::contract::ERASED_NOTE),
                &Value::Null
            ),
            "{c}"
        );
        assert!(c["erasure_note"].is_string(), "{c}");
        let raw =
            t.s.app
                .store
                .read(|tx| zhudai::store::contracts::raw_bytes(tx, id))
                .unwrap()
                .unwrap();
        let raw = String::from_utf8_lossy(&raw);
        assert!(!raw.contains("钱七") && !raw.contains("1101"), "{raw}");
        let (_, v) = t.admin.get(&format!("/api/v1/contracts/{id}/verify")).await;
        assert_eq!(v["ok"], false);
    }
    let (st, _, _) = page(&t.s, &live_token).await;
    assert_eq!(st, 410, "the sent link died with the content");

    // The signed one: kept; the officer reads only the retention note, no signature, no
    // address; its PDF is refused. The administrator reads it in full and it verifies.
    let (_, c) = t.sales.get(&format!("/api/v1/contracts/{signed_id}")).await;
    assert_eq!(c["state"], "signed");
    assert_eq!(c["content"], zhudai::domain::contract::RETAINED_NOTE, "{c}");
    assert_eq!(
        (
            &c["signed"]["signature_png"],
            &c["signed"]["ip"],
            &c["signed"]["typed_name"]
        ),
        (&json!(""), &json!(""), &json!(null)),
        "{c}"
    );
    let r = t
        .sales
        .http
        .get(t.s.url(&format!("/api/v1/contracts/{signed_id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let (_, c) = t.admin.get(&format!("/api/v1/contracts/{signed_id}")).await;
    assert!(c["content"].as_str().unwrap().contains(ID_NUMBER), "{c}");
    assert!(
        c["signed"]["signature_png"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png")
    );
    let (_, v) = t
        .admin
        .get(&format!("/api/v1/contracts/{signed_id}/verify"))
        .await;
    assert_eq!(v["ok"], true, "{v}");
    let r = t
        .admin
        .http
        .get(t.s.url(&format!("/api/v1/contracts/{signed_id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, audit) = t.admin.get("/api/v1/audit?action=customer.erased").await;
    assert_eq!(
        audit["items"][0]["detail"]["contracts_retained"], 1,
        "{audit}"
    );
    // The deal's name snapshot is gone too; its stage is untouched.
    let (_, d) = t.admin.get(&format!("/api/v1/deals/{}", t.deal)).await;
    assert_eq!(
        (&d["customer_name"], &d["stage"]),
        (&json!("已删除"), &json!("invited")),
        "{d}"
    );
}

/// `POST /deals/{id}/contract {"template"}` (docs/api.md): one call freezes the contract and
/// answers its signing link; the template is named by id, name or kind; an unknown one is a
/// 400 naming `template`, and nothing is frozen.
#[tokio::test]
async fn one_call_freezes_a_contract_and_answers_its_signing_link() {
    let t = setup().await;
    let path = format!("/api/v1/deals/{}/contract", t.deal);
    let (st, e) = t.sales.post(&path, json!({"template": "租赁合同"})).await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("template")),
        "{e}"
    );
    let (_, list) = t
        .sales
        .get(&format!("/api/v1/deals/{}/contracts", t.deal))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");

    let (st, link) = t
        .sales
        .post(&path, json!({"template": "service_agreement"}))
        .await;
    assert_eq!(st, 201, "{link}");
    assert_eq!(link["contract"]["template_id"], "default-service-agreement");
    let (st, html, _) = page(&t.s, &token(&link)).await;
    assert_eq!(st, 200, "{html}");
    let (st, link2) = t
        .sales
        .post(&path, json!({"template": "居间服务协议"}))
        .await;
    assert_eq!(st, 201, "{link2}");
    assert_ne!(link2["contract"]["id"], link["contract"]["id"]);
}

/// Probe: `contract.created` and `contract.signed` carried the full text's SHA-256, which an
/// audit reader without the full-copy privilege could confirm a guess against (the masked copy
/// with the hidden ID digits filled in, ~25 tries). The entries now carry an HMAC of the text
/// under a server key: stable for the same text, useless offline.
#[tokio::test]
async fn the_audit_log_does_not_carry_the_full_text_s_plain_hash() {
    let t = setup().await;
    let c = contract(&t.sales, &t.deal).await;
    let id = c["id"].as_str().unwrap().to_string();
    let (_, link) = t
        .sales
        .post(&format!("/api/v1/contracts/{id}/link"), json!({}))
        .await;
    let (st, v) = sign(&t.s, &token(&link), good()).await;
    assert_eq!(st, 200, "{v}");
    let (_, full) = t.admin.get(&format!("/api/v1/contracts/{id}")).await;
    let hash = full["content_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64, "{full}");
    // An audit reader who may not read the full copy.
    let (st, v) = t
        .admin
        .post(
            "/api/v1/roles",
            json!({"key": "auditor", "name": "审计", "capabilities": ["audit.view"]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    common::add_user(&t.s, "shen", &["auditor"], None);
    let auditor = t.s.login("shen", TEAM_PASSWORD).await;
    let mut seals = Vec::new();
    for action in ["contract.created", "contract.signed"] {
        let (st, page) = auditor.get(&format!("/api/v1/audit?action={action}")).await;
        assert_eq!(st, 200, "{page}");
        assert!(!page.to_string().contains(&hash), "{action}: {page}");
        let seal = page["items"][0]["detail"]["content_hmac"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(seal.len(), 64, "{action}: {page}");
        seals.push(seal);
    }
    assert_eq!(seals[0], seals[1], "the same text, the same seal");
    t.s.stop().await;
}

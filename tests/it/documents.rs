//! Document custody (权证) and the encrypted blob store over HTTP: uploads sniffed, limited and
//! encrypted (no plaintext anywhere in the data directory, with a positive control), ranged
//! downloads, scope (404 outside it for the checklist, moves, uploads and files), the custody
//! machine and its hand-over history, the held and overdue lists with the manual clock, the
//! export, erasure removing files, backup → restore byte for byte, and doctor finding a missing
//! blob and a tampered file failing to read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::path::Path;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// A distinctive string inside every test scan: no file of the data directory may contain it.
const MARKER: &[u8] = b"ZHUDAI-SCAN-PLAINTEXT-4b1d";

/// A PNG signature, then `n` bytes of pattern, then the marker (not a valid image: the
/// server only reads the magic number).
fn scan(n: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend((0..n).map(|i| (i * 7 % 251) as u8));
    v.extend_from_slice(MARKER);
    v
}

async fn setup(s: &TestServer) -> (Client, String, String) {
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    let product = p["id"].as_str().unwrap().to_string();
    common::add_user(s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800138000"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, d) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c["id"], "product_id": product,
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    (
        xiao,
        d["id"].as_str().unwrap().to_string(),
        c["id"].as_str().unwrap().to_string(),
    )
}

async fn upload(c: &Client, path: &str, body: Vec<u8>) -> (u16, Value) {
    let mut req = c
        .http
        .post(format!("{}{path}", c.base))
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(t) = &c.csrf {
        req = req.header("x-csrf-token", t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn download(c: &Client, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut req = c.http.get(format!("{}{path}", c.base));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

async fn mv(c: &Client, deal: &str, item: &str, body: Value) -> (u16, Value) {
    let (st, v) = c
        .post(
            &format!("/api/v1/deals/{deal}/documents/{item}/moves"),
            body,
        )
        .await;
    (st.as_u16(), v)
}

fn files_containing(dir: &Path, needle: &[u8], out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            files_containing(&p, needle, out);
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            out.push(p.display().to_string());
        }
    }
}

#[tokio::test]
async fn a_scan_is_stored_encrypted_served_in_ranges_and_only_in_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (xiao, deal, _) = setup(&s).await;

    // The checklist starts from the product's documents, before anything is written.
    let (st, list) = xiao.get(&format!("/api/v1/deals/{deal}/documents")).await;
    assert_eq!(st, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["身份证", "社保缴纳证明", "银行流水"]);
    assert_eq!(list["items"][0]["status"], "pending");
    assert_eq!(list["items"][0]["moves"], json!(["received"]));

    // Upload: the type comes from the bytes, whatever the client claims.
    let data = scan(200_000);
    let files = format!("/api/v1/deals/{deal}/documents/i1/files");
    let (st, f) = upload(
        &xiao,
        &format!("{files}?name=%E8%BA%AB%E4%BB%BD%E8%AF%81.png"),
        data.clone(),
    )
    .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(f["content_type"], "image/png");
    assert_eq!(f["size"], data.len());
    assert_eq!(f["name"], "身份证.png");
    let blob = f["blob"].as_str().unwrap().to_string();
    let (st, e) = upload(
        &xiao,
        &files,
        b"<html><script>alert(1)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("file_type_refused"))
    );
    let (st, _) = upload(&xiao, &files, Vec::new()).await;
    assert_eq!(st, 400);
    let (st, e) = upload(&xiao, "/api/v1/deals/nope/documents/i1/files", scan(10)).await;
    assert_eq!(st, 404, "{e}");
    let (st, _) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/documents/i99/files"),
        scan(10),
    )
    .await;
    assert_eq!(st, 404);

    // Whole file, then ranges: first bytes, the middle, a suffix, beyond the end.
    let url = format!("{files}/{blob}");
    let r = download(&xiao, &url, None).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(h["accept-ranges"], "bytes");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(
        cd.starts_with("attachment;") && cd.contains("filename*=UTF-8''%E8%BA%AB"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    let n = data.len();
    for (range, from, to) in [
        ("bytes=0-15", 0, 15),
        ("bytes=65530-131080", 65530, 131_080),
        ("bytes=-100", n - 100, n - 1),
        ("bytes=150000-", 150_000, n - 1),
    ] {
        let r = download(&xiao, &url, Some(range)).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"].to_str().unwrap(),
            format!("bytes {from}-{to}/{n}")
        );
        assert_eq!(
            r.bytes().await.unwrap().to_vec(),
            data[from..=to],
            "{range}"
        );
    }
    let r = download(&xiao, &url, Some(&format!("bytes={n}-"))).await;
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{n}")
    );

    // Another salesperson does not see the deal: 404 for everything of it.
    common::add_user(&s, "li", &["sales"], None);
    let li = s.login("li", TEAM_PASSWORD).await;
    assert_eq!(download(&li, &url, None).await.status(), 404);
    assert_eq!(
        li.get(&format!("/api/v1/deals/{deal}/documents")).await.0,
        404
    );
    assert_eq!(mv(&li, &deal, "i1", json!({"to": "received"})).await.0, 404);
    assert_eq!(upload(&li, &files, scan(10)).await.0, 404);
    // An admin sees it; the blob id under another item of the deal is not its file.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(download(&admin, &url, None).await.status(), 200);
    let other = format!("/api/v1/deals/{deal}/documents/i2/files/{blob}");
    assert_eq!(download(&admin, &other, None).await.status(), 404);

    // No plaintext anywhere in the data directory; the same scan finds a plain copy.
    let mut found = Vec::new();
    files_containing(s.dir.path(), MARKER, &mut found);
    assert!(found.is_empty(), "plaintext found in {found:?}");
    std::fs::write(s.dir.path().join("control.bin"), &data).unwrap();
    files_containing(s.dir.path(), MARKER, &mut found);
    assert_eq!(found.len(), 1, "the scan finds a plain file: {found:?}");
    std::fs::remove_file(s.dir.path().join("control.bin")).unwrap();

    // A changed byte in the stored file: the read fails (an error, not garbage).
    let path = s.dir.path().join("blobs").join(&blob[..2]).join(&blob);
    let mut raw = std::fs::read(&path).unwrap();
    raw[100] ^= 0x01;
    std::fs::write(&path, &raw).unwrap();
    let r = download(&xiao, &url, None).await;
    assert_eq!(r.status(), 500);
    assert!(
        !r.bytes()
            .await
            .unwrap()
            .windows(8)
            .any(|w| w == &data[16..24])
    );
}

#[tokio::test]
async fn hand_overs_follow_the_machine_and_land_in_history_timeline_audit_and_lists() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (xiao, deal, customer) = setup(&s).await;
    common::add_user(&s, "quan", &["documents"], None);
    let quan = s.login("quan", TEAM_PASSWORD).await;

    // Illegal: straight from pending to lent out.
    let (st, e) = mv(
        &quan,
        &deal,
        "i1",
        json!({"to": "lent_out", "recipient": "张经理"}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("document_move_illegal")),
        "{e}"
    );
    assert_eq!(
        e["error"]["details"],
        json!({"from": "pending", "to": "lent_out"})
    );

    // `…/handover` (the name docs/api.md gives) is the same move as `…/moves`.
    let (st, item) = quan
        .post(
            &format!("/api/v1/deals/{deal}/documents/i1/handover"),
            json!({"to": "received"}),
        )
        .await;
    let st = st.as_u16();
    assert_eq!(st, 200, "{item}");
    assert_eq!(item["status"], "received");
    assert_eq!(item["custodian_name"], "quan");
    // Lent out needs the recipient.
    let (st, e) = mv(&quan, &deal, "i1", json!({"to": "lent_out"})).await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("recipient")));
    let (st, item) = mv(
        &xiao,
        &deal,
        "i1",
        json!({"to": "lent_out", "recipient": "银行张经理", "note": "面签"}),
    )
    .await;
    assert_eq!(st, 200, "{item}");
    let h = &item["history"];
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[1]["giver"], "xiao");
    assert_eq!(h[1]["receiver"], "银行张经理");
    assert_eq!(h[1]["note"], "面签");
    // A second item is only received; a third added by hand and removed while pending.
    assert_eq!(
        mv(&quan, &deal, "i2", json!({"to": "received"})).await.0,
        200
    );
    let (st, added) = quan
        .post(
            &format!("/api/v1/deals/{deal}/documents"),
            json!({"name": "结婚证"}),
        )
        .await;
    assert_eq!(st, 201, "{added}");
    assert_eq!(added["id"], "i4");
    let (st, e) = quan
        .post(
            &format!("/api/v1/deals/{deal}/documents"),
            json!({"name": "结婚证"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("name"))
    );
    let (st, e) = quan
        .call(
            Method::DELETE,
            &format!("/api/v1/deals/{deal}/documents/i2"),
            None,
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("document_not_pending"))
    );
    let (st, _) = quan
        .call(
            Method::DELETE,
            &format!("/api/v1/deals/{deal}/documents/i4"),
            None,
        )
        .await;
    assert_eq!(st, 204);

    // The customer's timeline and the audit log have the hand-overs.
    let (_, tl) = xiao
        .get(&format!("/api/v1/customers/{customer}/timeline"))
        .await;
    let text = tl.to_string();
    assert!(
        text.contains(r#""from":"身份证""#) && text.contains(r#""to":"lent_out""#),
        "{text}"
    );
    assert!(text.contains("xiao → 银行张经理（面签）"), "{text}");
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, audit) = admin.get("/api/v1/audit?limit=50").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "document.received",
        "document.lent_out",
        "document.added",
        "document.removed",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }

    // The 权证 page: both held, one lent out; not overdue until 14 days have passed.
    let (st, page) = quan.get("/api/v1/documents/custody").await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["total"], 2);
    assert_eq!(page["overdue_days"], 14);
    let (_, lent) = quan.get("/api/v1/documents/custody?status=lent_out").await;
    assert_eq!(lent["total"], 1);
    assert_eq!(lent["items"][0]["holder"], "银行张经理");
    assert_eq!(lent["items"][0]["customer_name"], "钱七");
    let (_, od) = quan.get("/api/v1/documents/custody?overdue=1").await;
    assert_eq!(od["total"], 0);
    s.clock.advance(chrono::Duration::days(14));
    // Sessions do not last two weeks (nor an idle hour): log in again after each jump.
    let quan = s.login("quan", TEAM_PASSWORD).await;
    assert_eq!(
        quan.get("/api/v1/documents/custody?overdue=1").await.1["total"],
        0
    );
    s.clock.advance(chrono::Duration::hours(1));
    let quan = s.login("quan", TEAM_PASSWORD).await;
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, od) = quan.get("/api/v1/documents/custody?overdue=1").await;
    assert_eq!(od["total"], 1, "{od}");
    assert_eq!(od["items"][0]["overdue"], true);
    assert_eq!(od["items"][0]["days_out"], 14);
    // Back from the lender: off the overdue list.
    assert_eq!(
        mv(&quan, &deal, "i1", json!({"to": "received"})).await.0,
        200
    );
    assert_eq!(
        quan.get("/api/v1/documents/custody?overdue=1").await.1["total"],
        0
    );
    assert_eq!(
        quan.get("/api/v1/documents/custody?status=pending").await.0,
        400
    );

    // Scope: another salesperson sees nothing held; the officer sees their deal's.
    common::add_user(&s, "li", &["sales"], None);
    let li = s.login("li", TEAM_PASSWORD).await;
    assert_eq!(li.get("/api/v1/documents/custody").await.1["total"], 0);
    assert_eq!(xiao.get("/api/v1/documents/custody").await.1["total"], 2);
    // Finance reads, but records nothing.
    common::add_user(&s, "cai", &["finance"], None);
    let cai = s.login("cai", TEAM_PASSWORD).await;
    assert_eq!(cai.get("/api/v1/documents/custody").await.1["total"], 2);
    assert_eq!(
        mv(&cai, &deal, "i2", json!({"to": "returned"})).await.0,
        403
    );

    // Paging: one at a time, every item once.
    let (_, p1) = quan.get("/api/v1/documents/custody?limit=1").await;
    let cursor = p1["next_cursor"].as_str().unwrap().to_string();
    let (_, p2) = quan
        .get(&format!(
            "/api/v1/documents/custody?limit=1&cursor={cursor}"
        ))
        .await;
    assert_ne!(p1["items"][0]["item_id"], p2["items"][0]["item_id"]);
    assert!(p2["next_cursor"].is_null());

    // The export: XLSX, audited.
    let r = quan
        .http
        .get(format!("{}/api/v1/documents/custody/export", quan.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-export-rows"], "2");
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    let (_, audit) = admin.get("/api/v1/audit?limit=5").await;
    assert_eq!(audit["items"][0]["action"], "document.exported");

    // The officer changes: the held keys follow (doctor's recount agrees, see below).
    common::add_user(&s, "wang", &["sales"], None);
    let wang = s.login("wang", TEAM_PASSWORD).await;
    let wang_id = s
        .app
        .store
        .read(zhudai::store::users::all)
        .unwrap()
        .into_iter()
        .find(|u| u.username == "wang")
        .unwrap()
        .id;
    let (st, v) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{deal}"),
            Some(json!({"officer_id": wang_id})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(wang.get("/api/v1/documents/custody").await.1["total"], 2);
    assert_eq!(xiao.get("/api/v1/documents/custody").await.1["total"], 0);
    let drift = s.app.store.read(zhudai::store::custody::drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

#[tokio::test]
async fn erasure_removes_the_customers_files() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (xiao, deal, customer) = setup(&s).await;
    let files = format!("/api/v1/deals/{deal}/documents/i1/files");
    let (st, f) = upload(&xiao, &files, scan(1000)).await;
    assert_eq!(st, 201, "{f}");
    let blob = f["blob"].as_str().unwrap().to_string();
    // The same file under a second item: one blob, two references.
    let (st, f2) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/documents/i2/files"),
        scan(1000),
    )
    .await;
    assert_eq!(st, 201, "{f2}");
    assert_eq!(f2["blob"], blob.as_str());
    let path = s.dir.path().join("blobs").join(&blob[..2]).join(&blob);
    assert!(path.exists());

    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{customer}/erase"),
            json!({"request_ref": "PIPL-1"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert!(!path.exists(), "the file is gone");
    assert!(
        s.app
            .store
            .read(|tx| zhudai::store::blobs::get(tx, &blob))
            .unwrap()
            .is_none()
    );
    assert!(
        s.app
            .store
            .read(zhudai::store::blobs::pending_deletions)
            .unwrap()
            .is_empty()
    );
    let (_, list) = admin.get(&format!("/api/v1/deals/{deal}/documents")).await;
    assert_eq!(list["items"][0]["files"], json!([]));

    // A file that cannot be removed (here: a directory stands in its place): the erasure
    // commits, the removal stays queued, doctor reports it, and the next start retries it.
    let (st, c2) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "赵九", "phone": "13900139000"}),
        )
        .await;
    assert_eq!(st, 201, "{c2}");
    let (_, d2) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c2["id"], "product_id": list_product(&admin).await,
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    let deal2 = d2["id"].as_str().unwrap().to_string();
    let (st, f) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal2}/documents/i1/files"),
        scan(777),
    )
    .await;
    assert_eq!(st, 201, "{f}");
    let blob2 = f["blob"].as_str().unwrap().to_string();
    let path2 = s.dir.path().join("blobs").join(&blob2[..2]).join(&blob2);
    std::fs::remove_file(&path2).unwrap();
    std::fs::create_dir_all(path2.join("stuck")).unwrap();
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/erase", c2["id"].as_str().unwrap()),
            json!({"request_ref": "PIPL-2"}),
        )
        .await;
    assert!(st.is_success(), "the erasure itself commits: {v}");
    let queued = s
        .app
        .store
        .read(zhudai::store::blobs::pending_deletions)
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, blob2);
    let dir = s.stop().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", dir.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(text.contains("FAIL  blob removals: 1 file(s)"), "{text}");
    // Cleared by hand to a plain file again: the next start removes it and the queue row.
    std::fs::remove_dir_all(&path2).unwrap();
    std::fs::write(&path2, b"ciphertext").unwrap();
    let app = zhudai::open_app(
        dir.path(),
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    assert!(!path2.exists());
    assert!(
        app.store
            .read(zhudai::store::blobs::pending_deletions)
            .unwrap()
            .is_empty()
    );
}

async fn list_product(admin: &Client) -> String {
    let (_, ps) = admin.get("/api/v1/products").await;
    ps["items"][0]["id"]
        .as_str()
        .or_else(|| ps[0]["id"].as_str())
        .unwrap()
        .to_string()
}

fn zhudai(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(args)
        .env("ZHUDAI_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn backup_restore_round_trips_blobs_and_doctor_finds_a_missing_one() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (xiao, deal, _) = setup(&s).await;
    let data = scan(150_000);
    let files = format!("/api/v1/deals/{deal}/documents/i1/files");
    let (st, f) = upload(&xiao, &files, data.clone()).await;
    assert_eq!(st, 201, "{f}");
    let blob = f["blob"].as_str().unwrap().to_string();
    // An upload cut short leaves a partial file in blobs/tmp: never in a backup.
    std::fs::write(s.dir.path().join("blobs/tmp/cut.part"), b"partial").unwrap();
    let clock = s.clock.clone();
    let dir = s.stop().await;
    let d = dir.path().to_str().unwrap();

    let out = zhudai(&["--data", d, "doctor"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("ok    blobs: 1 file(s), each present"),
        "{text}"
    );
    assert!(text.contains("ok    document keys"), "{text}");

    let work = tempfile::tempdir().unwrap();
    let pass = work.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple 2026").unwrap();
    let archive = work.path().join("b.age");
    let out = zhudai(&[
        "--data",
        d,
        "backup",
        "--out",
        archive.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = work.path().join("restored");
    let out = zhudai(&[
        "restore",
        archive.to_str().unwrap(),
        "--to",
        target.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = format!("blobs/{}/{blob}", &blob[..2]);
    assert_eq!(
        std::fs::read(target.join(&rel)).unwrap(),
        std::fs::read(dir.path().join(&rel)).unwrap(),
        "the encrypted file byte for byte"
    );
    assert!(!target.join("blobs/tmp/cut.part").exists());

    // The restored directory serves the same plaintext.
    let restored = tempfile::TempDir::new_in(work.path()).unwrap();
    common::copy_dir(&target, restored.path());
    let app = zhudai::open_app(
        restored.path(),
        zhudai::config::Config::defaults().unwrap(),
        clock,
    )
    .unwrap();
    let meta = app
        .store
        .read(|tx| zhudai::store::blobs::get(tx, &blob))
        .unwrap()
        .unwrap();
    let mut r = app.blobs.open(&blob, meta.size, &meta.key).unwrap();
    assert_eq!(r.read_all().unwrap(), data);
    drop(app);

    // A deleted blob file: doctor says so and fails.
    std::fs::remove_file(dir.path().join(&rel)).unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/ff")).unwrap();
    std::fs::write(dir.path().join("blobs/ff").join("f".repeat(64)), b"x").unwrap();
    let out = zhudai(&["--data", d, "doctor"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(
        text.contains("FAIL  blobs: 1 of 1 missing on disk"),
        "{text}"
    );
    assert!(text.contains("warn  blobs: 1 orphaned file(s)"), "{text}");
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_nothing() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.documents.upload_limit_bytes = 4096;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let (xiao, deal, _) = setup(&s).await;
    let files = format!("/api/v1/deals/{deal}/documents/i1/files");
    let (st, e) = upload(&xiao, &files, scan(100_000)).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("file_too_large")),
        "{e}"
    );
    let (st, f) = upload(&xiao, &files, scan(4000)).await;
    assert_eq!(st, 201, "just under the limit: {f}");
    let tmp = s.dir.path().join("blobs/tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "no partial file left"
    );
    // Nothing was recorded for the refused one: one blob, one file.
    assert_eq!(
        s.app.store.read(zhudai::store::blobs::all).unwrap().len(),
        1
    );
}

/// The deal's own attachments (docs/api.md: `POST /deals/{id}/attachments?name=` with the raw
/// body, `GET /attachments/{id}`): stored encrypted, listed, served whole and in ranges by id —
/// a checklist scan too — only through a deal the caller sees (404 otherwise, as for an id that
/// does not exist), and gone with the customer's erasure.
#[tokio::test]
async fn deal_attachments_are_served_by_id_within_scope_and_erased() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (xiao, deal, customer) = setup(&s).await;
    let data = scan(70_000);
    let (st, f) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/attachments?name=%E6%B5%81%E6%B0%B4.png"),
        data.clone(),
    )
    .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(
        (f["name"].as_str(), f["size"].as_u64()),
        (Some("流水.png"), Some(data.len() as u64))
    );
    let blob = f["blob"].as_str().unwrap().to_string();
    // The same file again, under another name: refused naming the one already there.
    let (st, e) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/attachments?name=again.png"),
        data.clone(),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("attachment_exists")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("流水.png"),
        "{e}"
    );
    let (st, e) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/attachments"),
        b"MZ\x90\0".to_vec(),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("file_type_refused"))
    );
    let (st, list) = xiao.get(&format!("/api/v1/deals/{deal}/attachments")).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The checklist is untouched by it.
    let (_, items) = xiao.get(&format!("/api/v1/deals/{deal}/documents")).await;
    assert!(
        items["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["files"] == json!([]))
    );

    let url = format!("/api/v1/attachments/{blob}");
    let r = download(&xiao, &url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    let r = download(&xiao, &url, Some("bytes=100-199")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[100..200]);
    // A scan of the checklist is reachable by its id the same way.
    let (st, scan_file) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/documents/i1/files"),
        scan(500),
    )
    .await;
    assert_eq!(st, 201, "{scan_file}");
    let scan_url = format!(
        "/api/v1/attachments/{}",
        scan_file["blob"].as_str().unwrap()
    );
    assert_eq!(download(&xiao, &scan_url, None).await.status(), 200);

    // Out of scope: like an id that does not exist.
    common::add_user(&s, "li", &["sales"], None);
    let li = s.login("li", TEAM_PASSWORD).await;
    assert_eq!(download(&li, &url, None).await.status(), 404);
    assert_eq!(download(&li, &scan_url, None).await.status(), 404);
    assert_eq!(
        download(
            &xiao,
            &format!("/api/v1/attachments/{}", "b".repeat(64)),
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        li.get(&format!("/api/v1/deals/{deal}/attachments")).await.0,
        404
    );
    assert_eq!(
        upload(&li, &format!("/api/v1/deals/{deal}/attachments"), scan(10))
            .await
            .0,
        404
    );

    // A wrong upload is removed (out of scope: 404, nothing removed); the file goes with it.
    let (st, wrong) = upload(
        &xiao,
        &format!("/api/v1/deals/{deal}/attachments"),
        scan(900),
    )
    .await;
    assert_eq!(st, 201, "{wrong}");
    let wrong_blob = wrong["blob"].as_str().unwrap().to_string();
    let wrong_path = s
        .dir
        .path()
        .join("blobs")
        .join(&wrong_blob[..2])
        .join(&wrong_blob);
    assert!(wrong_path.exists());
    let del = format!("/api/v1/deals/{deal}/attachments/{wrong_blob}");
    assert_eq!(li.call(reqwest::Method::DELETE, &del, None).await.0, 404);
    assert!(wrong_path.exists());
    let (st, _) = xiao.call(reqwest::Method::DELETE, &del, None).await;
    assert_eq!(st, 204);
    assert!(
        !wrong_path.exists(),
        "the removed attachment's file is gone"
    );
    assert_eq!(xiao.call(reqwest::Method::DELETE, &del, None).await.0, 404);
    let (_, list) = xiao.get(&format!("/api/v1/deals/{deal}/attachments")).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // Erasure takes the attachment with the scans.
    let path = s.dir.path().join("blobs").join(&blob[..2]).join(&blob);
    assert!(path.exists());
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{customer}/erase"),
            json!({"request_ref": "PIPL-2"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert!(!path.exists(), "the attachment's file is gone");
    assert_eq!(download(&admin, &url, None).await.status(), 404);
    let (_, list) = admin
        .get(&format!("/api/v1/deals/{deal}/attachments"))
        .await;
    assert_eq!(list, json!([]));
}

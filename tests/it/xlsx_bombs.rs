//! Issue 14.4: XLSX decompression bombs. The files are generated here (up to ~5 MB each, too
//! large to commit for what they say): a ZIP written by hand whose deflate streams are built
//! symbol by symbol (fixed Huffman codes: 13 bits per 258 bytes), so a part inflates to 800 MB
//! without the test ever holding the inflated bytes.

use std::path::Path;

use crate::common;
use crate::import::{form, post_form, wait_job};

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};

/// Bits, least significant first, as deflate packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code: most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let rev = code.reverse_bits() >> (32 - len);
        self.put(rev, len);
    }
    fn align(&mut self) {
        if self.n > 0 {
            self.put(0, 8 - self.n);
        }
    }
    fn literal(&mut self, b: u8) {
        if b < 144 {
            self.code(0x30 + u32::from(b), 8);
        } else {
            self.code(0x190 + u32::from(b) - 144, 9);
        }
    }
    fn stored(&mut self, data: &[u8], last: bool) {
        self.put(u32::from(last), 1);
        self.put(0, 2);
        self.align();
        let len = data.len() as u16;
        self.put(u32::from(len), 16);
        self.put(u32::from(!len), 16);
        for b in data {
            self.put(u32::from(*b), 8);
        }
    }
    /// `pattern` repeated `times`, as one fixed-Huffman block: the pattern as literals, then
    /// copies of 258 bytes at distance `pattern.len()` (at most 32).
    fn repeated(&mut self, pattern: &[u8], times: u64) {
        let p = pattern.len() as u64;
        assert!((1..=32).contains(&p));
        self.put(0, 1);
        self.put(1, 2);
        for b in pattern {
            self.literal(*b);
        }
        let rest = p * times - p;
        let (dcode, extra_bits, base) = match p {
            1..=4 => (p - 1, 0, p),
            5..=8 => (4 + (p - 5) / 2, 1, 5 + (p - 5) / 2 * 2),
            9..=16 => (6 + (p - 9) / 4, 2, 9 + (p - 9) / 4 * 4),
            _ => (8 + (p - 17) / 8, 3, 17 + (p - 17) / 8 * 8),
        };
        for _ in 0..rest / 258 {
            self.code(0xC5, 8); // length 258 (symbol 285)
            self.code(dcode as u32, 5);
            self.put((p - base) as u32, extra_bits);
        }
        for i in 0..rest % 258 {
            self.literal(pattern[((p + rest / 258 * 258 + i) % p) as usize]);
        }
        self.code(0, 7); // end of block
    }
}

fn crc_of(data: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h
}

/// One ZIP part: stored as is, or deflated as `prefix + pattern×times + suffix`.
struct PartData {
    name: &'static str,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u64,
}

fn stored(name: &'static str, text: &str) -> PartData {
    PartData {
        name,
        method: 0,
        data: text.as_bytes().to_vec(),
        crc: crc_of(text.as_bytes()).finalize(),
        size: text.len() as u64,
    }
}

fn bomb(name: &'static str, prefix: &str, pattern: &str, times: u64, suffix: &str) -> PartData {
    let mut bits = Bits::default();
    bits.stored(prefix.as_bytes(), false);
    bits.repeated(pattern.as_bytes(), times);
    bits.stored(suffix.as_bytes(), true);
    bits.align();
    let mut crc = crc_of(prefix.as_bytes());
    let (mut base, mut t, mut rep) = (crc_of(pattern.as_bytes()), times, crc32fast::Hasher::new());
    while t > 0 {
        if t & 1 == 1 {
            rep.combine(&base);
        }
        let b = base.clone();
        base.combine(&b);
        t >>= 1;
    }
    crc.combine(&rep);
    crc.combine(&crc_of(suffix.as_bytes()));
    PartData {
        name,
        method: 8,
        data: bits.out,
        crc: crc.finalize(),
        size: (prefix.len() + suffix.len()) as u64 + pattern.len() as u64 * times,
    }
}

fn zip(parts: &[PartData]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for p in parts {
        let offset = out.len() as u32;
        let size = u32::try_from(p.size).unwrap();
        le32(&mut out, 0x0403_4b50);
        for x in [20, 0, p.method, 0, 33] {
            le16(&mut out, x);
        }
        for x in [p.crc, p.data.len() as u32, size] {
            le32(&mut out, x);
        }
        le16(&mut out, p.name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(p.name.as_bytes());
        out.extend_from_slice(&p.data);
        le32(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, p.method, 0, 33] {
            le16(&mut central, x);
        }
        for x in [p.crc, p.data.len() as u32, size] {
            le32(&mut central, x);
        }
        for x in [p.name.len() as u16, 0, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(p.name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0, 0, parts.len() as u16, parts.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, central.len() as u32);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const DOC: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A one-sheet workbook: shared strings 0 = 姓名, 1 = 手机号码, 2 = the name in row 2.
fn workbook(shared: PartData, sheet: PartData) -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#.to_string();
    zip(&[
        stored("[Content_Types].xml", &types),
        stored(
            "_rels/.rels",
            &format!(
                r#"<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        stored(
            "xl/workbook.xml",
            &format!(
                r#"<workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        stored(
            "xl/_rels/workbook.xml.rels",
            &format!(
                r#"<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{DOC}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
            ),
        ),
        shared,
        sheet,
    ])
}

fn sst_head() -> String {
    format!(r#"<sst xmlns="{MAIN}"><si><t>姓名</t></si><si><t>手机号码</t></si><si><t>"#)
}
const SST_TAIL: &str = "</t></si></sst>";

fn sheet_head() -> String {
    format!(
        r#"<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="inlineStr"><is><t>1380013800"#
    )
}
const SHEET_TAIL: &str = "</t></is></c></row></sheetData></worksheet>";

/// The control: the same construction, nothing big (row 2: 张三丰 13800138000).
pub fn harmless() -> Vec<u8> {
    workbook(
        bomb(
            "xl/sharedStrings.xml",
            &sst_head(),
            "张",
            1,
            &format!("三丰{SST_TAIL}"),
        ),
        bomb(
            "xl/worksheets/sheet1.xml",
            &sheet_head(),
            "0",
            1,
            SHEET_TAIL,
        ),
    )
}

/// One shared string of 800 MB (the probe's file).
pub fn one_huge_shared_string() -> Vec<u8> {
    workbook(
        bomb(
            "xl/sharedStrings.xml",
            &sst_head(),
            "a",
            800 << 20,
            SST_TAIL,
        ),
        bomb(
            "xl/worksheets/sheet1.xml",
            &sheet_head(),
            "0",
            1,
            SHEET_TAIL,
        ),
    )
}

/// Five million tiny shared strings (each costs memory beyond its text).
pub fn many_shared_strings() -> Vec<u8> {
    workbook(
        bomb(
            "xl/sharedStrings.xml",
            &sst_head(),
            "a</t></si><si><t>",
            5_000_000,
            SST_TAIL,
        ),
        bomb(
            "xl/worksheets/sheet1.xml",
            &sheet_head(),
            "0",
            1,
            SHEET_TAIL,
        ),
    )
}

/// One inline cell of 800 MB in the sheet (per-cell limit; the sheet itself is streamed).
pub fn one_huge_inline_cell() -> Vec<u8> {
    workbook(
        bomb(
            "xl/sharedStrings.xml",
            &sst_head(),
            "张",
            1,
            &format!("三丰{SST_TAIL}"),
        ),
        bomb(
            "xl/worksheets/sheet1.xml",
            &sheet_head(),
            "0",
            800 << 20,
            SHEET_TAIL,
        ),
    )
}

fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("one_huge_shared_string", one_huge_shared_string()),
        ("many_shared_strings", many_shared_strings()),
        ("one_huge_inline_cell", one_huge_inline_cell()),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.xlsx"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The generator makes real workbooks: the control reads as rows; each bomb is small on disk.
#[test]
fn the_generated_workbooks_are_valid_and_the_bombs_small() {
    use zhudai::service::import::source;
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "harmless", &harmless());
    let enc = source::sniff(&p).unwrap();
    let mut rows = Vec::new();
    source::each_row(&p, enc, &mut |_, r| {
        rows.push(r);
        Ok(true)
    })
    .unwrap();
    assert_eq!(
        rows,
        [vec!["姓名", "手机号码"], vec!["张三丰", "13800138000"]]
    );
    for (name, b) in bombs() {
        assert!(b.len() < 6 << 20, "{name}: {} bytes", b.len());
    }
}

/// Every XLSX path refuses each bomb with the field `file`, before allocating it: the upload
/// (raw body and form), the mapping preview.
#[tokio::test]
async fn every_upload_path_refuses_each_bomb() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for (name, bytes) in bombs() {
        let (st, v) = post_form(
            &admin,
            "/api/v1/imports/preview",
            form("b.xlsx", &bytes, &[]),
        )
        .await;
        assert_eq!(st, 400, "{name} preview: {v}");
        assert_eq!(v["error"]["field"], "file", "{name} preview: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("超出限制"),
            "{name} preview: {v}"
        );
        // A job (form upload) fails with the reason.
        let (st, job) = post_form(&admin, "/api/v1/imports", form("b.xlsx", &bytes, &[])).await;
        assert_eq!(st, 202, "{name} job: {job}");
        let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "failed", "{name} job: {job}");
        assert!(
            job["error"].as_str().unwrap_or("").contains("超出限制"),
            "{name} job: {job}"
        );
        let r = admin
            .http
            .post(format!("{}/api/v1/imports?dry_run=true", admin.base))
            .header("x-csrf-token", admin.csrf.clone().unwrap())
            .header("content-type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (400, Some("file")),
            "{name} raw: {v}"
        );
    }
    let (st, v) = post_form(
        &admin,
        "/api/v1/imports/preview",
        form("ok.xlsx", &harmless(), &[]),
    )
    .await;
    assert_eq!(st, 200, "the control passes: {v}");
}

/// The per-sheet and total limits (a gigabyte is slow to inflate in a debug test: the limits
/// are parameters, checked here small).
#[test]
fn sheet_and_total_limits_apply() {
    use zhudai::service::import::xlsx_guard::{LIMITS, XlsxLimits, check};
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "harmless", &harmless());
    check(&p, &LIMITS).unwrap();
    let sheet = XlsxLimits {
        sheet_bytes: 100,
        ..LIMITS
    };
    let e = check(&p, &sheet).unwrap_err().to_string();
    assert!(e.contains("工作表"), "{e}");
    let total = XlsxLimits {
        total_bytes: 1000,
        ..LIMITS
    };
    let e = check(&p, &total).unwrap_err().to_string();
    assert!(e.contains("合计"), "{e}");
}

/// Peak memory of `zhudai import BOMB --dry-run` in a child process, from its VmHWM (sampled
/// every 2 ms until it exits; the high-water mark only grows, so only a peak reached in the
/// last sample interval could be missed).
fn peak_rss_kb(data: &Path, file: &Path) -> (u64, std::process::Output) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", data.to_str().unwrap(), "import"])
        .arg(file)
        .args(["--owner", ADMIN, "--dry-run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (peak, child.wait_with_output().unwrap())
}

#[tokio::test]
async fn the_import_command_stays_under_300_mb_on_each_bomb() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    for (name, bytes) in bombs() {
        let file = write(data.path(), name, &bytes);
        let (peak_kb, out) = peak_rss_kb(data.path(), &file);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{name}: peak RSS {} MB", peak_kb / 1024);
        assert!(peak_kb > 0, "{name}: VmHWM was read");
        assert!(peak_kb < 300 * 1024, "{name}: peak {peak_kb} kB");
        assert!(!out.status.success(), "{name} refused: {text}");
        assert!(text.contains("超出限制"), "{name}: {text}");
    }
}

//! The signed contract as a PDF (krilla, with an embedded subset of Noto Sans SC,
//! `assets/fonts/`): the contract's text, the drawn signature, and a certificate page (hashes,
//! template version, time, address, user agent, link id, consents with their versions).
//!
//! krilla draws single lines: the HTML is reduced to blocks (headings, paragraphs, list items)
//! and wrapped here by a fixed width per character (a full em for CJK, a little over half for
//! ASCII), which keeps every line inside the margin for this font.

use krilla::Document;
use krilla::geom::{Point, Size, Transform};
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

use super::UseCases;
use crate::domain::contract::{Contract, ContractState};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};

static FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoSansSC-GB2312.otf");

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0;
const BODY: f32 = 10.5;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    H1,
    H2,
    Para,
    Item,
}

impl Style {
    fn size(self) -> f32 {
        match self {
            Style::H1 => 16.0,
            Style::H2 => 12.0,
            Style::Para | Style::Item => BODY,
        }
    }
}

/// Decodes the entities minijinja's HTML escaping and template authors write.
fn entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                .ok()
                .and_then(char::from_u32),
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The HTML reduced to styled blocks of text.
fn blocks(html: &str) -> Vec<(Style, String)> {
    let mut out = Vec::new();
    let mut style = Style::Para;
    let mut text = String::new();
    let flush = |style: Style, text: &mut String, out: &mut Vec<(Style, String)>| {
        let t = entities(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        if !t.is_empty() {
            out.push((style, t));
        }
        text.clear();
    };
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            text.push_str(&rest[lt..]);
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let block = matches!(
            name.as_str(),
            "h1" | "h2" | "h3" | "h4" | "p" | "li" | "div" | "br" | "tr" | "ol" | "ul" | "table"
        );
        if block {
            flush(style, &mut text, &mut out);
            style = match (closing, name.as_str()) {
                (false, "h1") => Style::H1,
                (false, "h2" | "h3" | "h4") => Style::H2,
                (false, "li") => Style::Item,
                _ => Style::Para,
            };
        } else if name == "td" || name == "th" {
            text.push(' ');
        }
    }
    text.push_str(rest);
    flush(style, &mut text, &mut out);
    out
}

fn width(c: char, size: f32) -> f32 {
    if c.is_ascii() { size * 0.6 } else { size }
}

/// Greedy wrap at `max` points.
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut w = 0.0;
    for c in text.chars() {
        let cw = width(c, size);
        // Closing punctuation never starts a line: it hangs into the margin instead.
        let hangs = "，。、；：！？）」』》】,.;:!?)".contains(c);
        if w + cw > max && !line.is_empty() && !hangs {
            lines.push(std::mem::take(&mut line));
            w = 0.0;
            if c == ' ' {
                continue;
            }
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lines laid out on pages: (page, x, baseline y, size, text).
struct Layout {
    pages: Vec<Vec<(f32, f32, f32, String)>>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    fn ensure(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN {
            self.new_page();
        }
    }

    fn text(&mut self, style: Style, text: &str) {
        let size = style.size();
        let (indent, gap) = match style {
            Style::H1 => (0.0, 10.0),
            Style::H2 => (0.0, 6.0),
            Style::Item => (14.0, 3.0),
            Style::Para => (0.0, 4.0),
        };
        let max = PAGE_W - 2.0 * MARGIN - indent;
        let text = if style == Style::Item {
            format!("• {text}")
        } else {
            text.to_string()
        };
        for line in wrap(&text, size, max) {
            self.ensure(size * 1.6);
            self.y += size * 1.3;
            let x = if style == Style::H1 {
                let w: f32 = line.chars().map(|c| width(c, size)).sum();
                ((PAGE_W - w) / 2.0).max(MARGIN)
            } else {
                MARGIN + indent
            };
            if let Some(p) = self.pages.last_mut() {
                p.push((x, self.y, size, line));
            }
            self.y += size * 0.35;
        }
        self.y += gap;
    }
}

/// The certificate page's lines; the full text's hash only on the full copy's (`full`).
fn certificate(c: &Contract, full: bool) -> Vec<String> {
    let state = match c.state {
        ContractState::Signed => "已签署",
        ContractState::Sent => "待签署",
        ContractState::Draft => "草稿（未发送）",
        ContractState::Void => "已作废",
    };
    let mut lines = vec![
        format!("合同：{}（编号 {}）", c.title, c.id),
        format!("业务单：{}", c.deal_id),
        format!("模板：{} 第 {} 版", c.template_id, c.template_version),
        format!("状态：{state}"),
        if full {
            format!("合同内容 SHA-256：{}", c.content_sha256)
        } else {
            "合同内容 SHA-256：仅在完整副本中显示".to_string()
        },
    ];
    if let Some(s) = &c.signing {
        lines.push(format!("签署时间：{}", s.at.to_rfc3339()));
        lines.push(format!("签署 IP：{}", s.ip));
        lines.push(format!("浏览器：{}", s.user_agent));
        lines.push(format!("签署链接编号：{}", s.link_id));
        lines.push(format!("签名图片 SHA-256：{}", s.signature_sha256));
        for g in &s.consents {
            lines.push(format!("同意「{}」第 {} 版：{}", g.key, g.version, g.text));
        }
    } else {
        lines.push("尚未签署：本文件不是已签署合同。".into());
    }
    lines.push(
        "说明：本合同以手写签名图像签署，未使用依法设立的电子认证服务机构（CA）证书，\
         不属于《电子签名法》第十三条所称的可靠电子签名；内容完整性以上述哈希核验。"
            .into(),
    );
    lines
}

/// The PDF of a contract: text, signature (when signed), certificate page.
/// The PDF of `content`; `full`: the full copy, whose certificate page carries the full text's
/// hash (a masked copy's does not: the hash would confirm a guess at the hidden digits).
fn render(c: &Contract, content: &str, full: bool, signature: Option<&[u8]>) -> Result<Vec<u8>> {
    let font = Font::new(krilla::Data::from(FONT), 0)
        .ok_or_else(|| Error::Internal("the embedded contract font does not load".into()))?;
    let mut l = Layout::new();
    for (style, text) in blocks(content) {
        l.text(style, &text);
    }
    // The signature block follows the text on its last page when it fits.
    let sig = match (signature, c.signing.as_ref()) {
        (Some(png), Some(s)) => {
            let image = krilla::image::Image::from_png(krilla::Data::from(png.to_vec()), true)
                .map_err(|e| Error::Internal(format!("signature image: {e}")))?;
            let (pw, ph) = image.size();
            let w = 180.0_f32;
            let h = (w * ph as f32 / pw.max(1) as f32).clamp(20.0, 120.0);
            l.ensure(h + 60.0);
            l.text(Style::Para, "借款人签名：");
            let at = (l.pages.len() - 1, MARGIN, l.y);
            l.y += h + 6.0;
            let when =
                s.at.with_timezone(&crate::service::customers::shanghai())
                    .format("%Y-%m-%d %H:%M:%S (UTC+8)")
                    .to_string();
            let name = s.typed_name.as_deref().unwrap_or("（未填写）");
            l.text(
                Style::Para,
                &format!("签署人输入的姓名：{name}　签署时间：{when}"),
            );
            let size =
                Size::from_wh(w, h).ok_or_else(|| Error::Internal("signature size".into()))?;
            Some((at, image, size))
        }
        _ => None,
    };
    // Certificate page.
    l.new_page();
    l.text(Style::H1, "电子签署证书");
    for line in certificate(c, full) {
        l.text(Style::Para, &line);
    }

    let mut doc = Document::new();
    let settings =
        || PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| Error::Internal("page size".into()));
    let mut sig = sig;
    for (n, lines) in l.pages.iter().enumerate() {
        let mut page = doc.start_page_with(settings()?);
        let mut surface = page.surface();
        for (x, y, size, text) in lines {
            surface.draw_text(
                Point::from_xy(*x, *y),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        if let Some(((p, x, y), _, _)) = &sig
            && *p == n
        {
            let (x, y) = (*x, *y);
            if let Some((_, image, size)) = sig.take() {
                surface.push_transform(&Transform::from_translate(x, y));
                surface.draw_image(image, size);
                surface.pop();
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| Error::Internal(format!("PDF: {e:?}")))
}

impl UseCases<'_> {
    /// `GET /contracts/{id}/pdf`: the contract in full for holders of `id_number.view_full`,
    /// else its masked copy (the certificate's hash is always the full contract's). After the
    /// borrower's erasure: a retained signed contract in full for administrators only, else
    /// refused (`contract_erased`).
    pub fn contract_pdf(&self, caller: &Caller, id: &str) -> Result<(String, Vec<u8>)> {
        let c = self.read_contract(caller, id)?;
        if let Some(e) = c.erasure
            && !(e.retained && super::may_read_retained(caller))
        {
            return Err(Error::Refused {
                code: "contract_erased",
                message: if e.retained {
                    "借款人已删除个人信息：该已签署合同依法仅作保存，只有管理员可以导出".into()
                } else {
                    "借款人已删除个人信息：该合同的内容已清除".into()
                },
                details: serde_json::json!({"retained": e.retained}),
            });
        }
        let full = c.erasure.is_some() || super::reads_full_copy(caller);
        let content = if full {
            super::decrypt_content(&self.fields, &c).ok_or_else(|| {
                Error::Internal(format!("contract {}: content does not decrypt", c.id))
            })?
        } else {
            c.content_masked.clone()
        };
        let png = super::signature_png(&self.fields, &c);
        let bytes = render(&c, &content, full, png.as_deref())?;
        Ok((format!("contract-{}.pdf", c.id), bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_texts_hash_is_on_the_full_copys_certificate_only() {
        let hash = "ab".repeat(32);
        let c: Contract = serde_json::from_value(serde_json::json!({
            "id": "c1", "deal_id": "d1", "customer_id": "k1", "template_id": "t",
            "template_version": 1, "title": "居间服务协议", "kind": "service_agreement",
            "content_enc": "", "content_sha256": hash, "content_masked": "", "consents": [],
            "state": "sent", "link": null, "signing": null, "void_reason": null,
            "created_by": "u", "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z"}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(certificate(&c, true).iter().any(|l| l.contains(&hash)));
        assert!(!certificate(&c, false).iter().any(|l| l.contains(&hash)));
    }

    #[test]
    fn html_becomes_blocks_and_wraps_inside_the_margin() {
        let b = blocks("<h1>居间服务协议</h1>\n<p>甲方：张三 &amp; 李四</p><ol><li>一</li></ol>");
        assert_eq!(
            b,
            vec![
                (Style::H1, "居间服务协议".to_string()),
                (Style::Para, "甲方：张三 & 李四".to_string()),
                (Style::Item, "一".to_string()),
            ]
        );
        let lines = wrap(
            &format!("{}，下一句", "借".repeat(46)),
            BODY,
            PAGE_W - 2.0 * MARGIN,
        );
        assert!(!lines[1].starts_with('，'), "{lines:?}");
        let long = "借".repeat(100);
        let lines = wrap(&long, BODY, PAGE_W - 2.0 * MARGIN);
        assert!(lines.len() > 1);
        for l in &lines {
            let w: f32 = l.chars().map(|c| width(c, BODY)).sum();
            assert!(w <= PAGE_W - 2.0 * MARGIN + BODY);
        }
    }
}

//! Contracts (合同): templates with placeholders, the frozen contract a borrower signs through a
//! one-time link, and what signing records. No I/O here: the store keeps them, the service
//! decides who may do what.
//!
//! Templates are minijinja (sandboxed: no loader, so no file is ever read; HTML autoescape;
//! strict undefined, so a misspelt placeholder is an error naming it; a fuel limit, so a loop
//! cannot run away). The placeholders a template may use are [`PLACEHOLDERS`], one table that
//! the render context, the editor's list and docs/contracts.md are checked against.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// 居间服务协议.
    ServiceAgreement,
    /// 授权书 (e.g. personal-information and credit-enquiry authorisation).
    Authorisation,
    /// 服务费确认书.
    FeeConfirmation,
    /// 其他.
    Other,
}

impl TemplateKind {
    pub fn label(self) -> &'static str {
        match self {
            TemplateKind::ServiceAgreement => "居间服务协议",
            TemplateKind::Authorisation => "授权书",
            TemplateKind::FeeConfirmation => "服务费确认书",
            TemplateKind::Other => "其他",
        }
    }
}

/// One saved version of a template; the current one is the highest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContractTemplate {
    pub id: String,
    pub name: String,
    pub kind: TemplateKind,
    /// 1, 2, …: every save is a new version; contracts name the version they were made from.
    pub version: u32,
    /// The template text (minijinja, HTML autoescaped).
    pub body: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// User id of who saved this version (`system` for the seeded ones).
    pub updated_by: String,
}

/// Limits of a template's text and of rendering it.
pub const MAX_BODY_BYTES: usize = 100_000;
pub const MAX_NAME_CHARS: usize = 60;
/// Instructions a render may run (minijinja fuel): generous for any contract, finite for a
/// loop over `range(10**9)`.
pub const RENDER_FUEL: u64 = 200_000;
/// Bytes a rendered contract may have.
pub const MAX_RENDERED_BYTES: usize = 400_000;

/// A placeholder: its path in the template, what it holds (zh, en), and whether it is
/// personal data that the masked copy shows masked.
pub struct Placeholder {
    pub path: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub masked_in_copy: bool,
}

const fn p(path: &'static str, zh: &'static str, en: &'static str) -> Placeholder {
    Placeholder {
        path,
        zh,
        en,
        masked_in_copy: false,
    }
}

/// Every placeholder a template may use. The render context has exactly these (a test holds
/// it), and docs/contracts.md lists them (another test holds that).
pub const PLACEHOLDERS: &[Placeholder] = &[
    p(
        "firm.name",
        "本公司名称（配置 contracts.firm_name）",
        "the firm's name (config contracts.firm_name)",
    ),
    p(
        "firm.address",
        "本公司地址（contracts.firm_address）",
        "the firm's address (contracts.firm_address)",
    ),
    p(
        "firm.phone",
        "本公司电话（contracts.firm_phone）",
        "the firm's phone (contracts.firm_phone)",
    ),
    p("customer.name", "借款人姓名", "the borrower's name"),
    Placeholder {
        path: "customer.id_number",
        zh: "借款人身份证号（合同正本为全号，员工查看的副本为掩码）",
        en: "the borrower's ID number (in full in the contract; masked in the staff copy)",
        masked_in_copy: true,
    },
    Placeholder {
        path: "customer.phone",
        zh: "借款人手机号（正本全号，副本掩码）",
        en: "the borrower's phone (full in the contract, masked in the staff copy)",
        masked_in_copy: true,
    },
    p(
        "customer.address",
        "借款人地址（未填为空）",
        "the borrower's address (empty when unknown)",
    ),
    p("deal.id", "业务单编号", "the deal's id"),
    p(
        "deal.amount_fen",
        "申请金额（分，整数）",
        "the requested amount in fen",
    ),
    p(
        "deal.amount_yuan",
        "申请金额（元，千分位两位小数，如 300,000.00）",
        "the requested amount in yuan, e.g. 300,000.00",
    ),
    p("deal.term_months", "期限（月）", "the term in months"),
    p(
        "deal.officer_name",
        "经办业务员姓名",
        "the officer's display name",
    ),
    p("product.name", "产品名称", "the product's name"),
    p("product.lender", "资金方（银行/机构）", "the lender"),
    p(
        "product.fee",
        "服务费条款文字（如「放款金额的 3.00%」）",
        "the service-fee terms in words",
    ),
    p(
        "product.fee_rate_bp",
        "服务费率（基点，固定收费时为空）",
        "the fee rate in basis points (empty for a fixed fee)",
    ),
    p(
        "product.fee_fixed_fen",
        "固定服务费（分，按比例收费时为空）",
        "the fixed fee in fen (empty for a rate)",
    ),
    p(
        "contract.date",
        "合同生成日期（如 2026年12月05日）",
        "the date the contract was made",
    ),
];

/// What a freeze needs from the deal, customer, product and firm.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub firm_name: String,
    pub firm_address: String,
    pub firm_phone: String,
    pub customer_name: String,
    pub id_number_full: String,
    pub id_number_masked: String,
    pub phone_full: String,
    pub phone_masked: String,
    pub customer_address: String,
    pub deal_id: String,
    pub amount_fen: i64,
    pub term_months: u32,
    pub officer_name: String,
    pub product_name: String,
    pub lender: String,
    pub fee_rate_bp: Option<u32>,
    pub fee_fixed_fen: Option<i64>,
    pub date: chrono::NaiveDate,
}

/// Fen as yuan with thousands separators and two decimals: 30000000 → "300,000.00".
pub fn yuan(fen: i64) -> String {
    let neg = fen < 0;
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}{grouped}.{:02}", if neg { "-" } else { "" }, abs % 100)
}

fn fee_words(f: &Facts) -> String {
    match (f.fee_rate_bp, f.fee_fixed_fen) {
        (Some(bp), _) => format!("放款金额的 {}.{:02}%", bp / 100, bp % 100),
        (None, Some(fen)) => format!("固定 {} 元", yuan(fen)),
        (None, None) => "无服务费".into(),
    }
}

/// The render context: every [`PLACEHOLDERS`] path. `full`: the contract itself (full ID
/// number and phone); otherwise the staff copy (masked).
pub fn context(f: &Facts, full: bool) -> serde_json::Value {
    let pick = |full_v: &str, masked: &str| {
        if full {
            full_v.to_string()
        } else {
            masked.to_string()
        }
    };
    serde_json::json!({
        "firm": {"name": f.firm_name, "address": f.firm_address, "phone": f.firm_phone},
        "customer": {
            "name": f.customer_name,
            "id_number": pick(&f.id_number_full, &f.id_number_masked),
            "phone": pick(&f.phone_full, &f.phone_masked),
            "address": f.customer_address,
        },
        "deal": {
            "id": f.deal_id,
            "amount_fen": f.amount_fen,
            "amount_yuan": yuan(f.amount_fen),
            "term_months": f.term_months,
            "officer_name": f.officer_name,
        },
        "product": {
            "name": f.product_name,
            "lender": f.lender,
            "fee": fee_words(f),
            "fee_rate_bp": f.fee_rate_bp,
            "fee_fixed_fen": f.fee_fixed_fen,
        },
        "contract": {"date": f.date.format("%Y年%m月%d日").to_string()},
    })
}

/// A template that does not render: where and why, in Chinese for the editor.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RenderError {
    /// 1-based line in the template, when known.
    pub line: Option<usize>,
    /// The placeholder or expression at fault, as written in the template, when known.
    pub placeholder: Option<String>,
    pub message: String,
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.set_fuel(Some(RENDER_FUEL));
    env.set_recursion_limit(50);
    env
}

fn render_error(e: &minijinja::Error, source: &str) -> RenderError {
    let placeholder = e
        .range()
        .and_then(|r| source.get(r))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let why = match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            "没有这个占位符（请对照占位符列表检查拼写）".to_string()
        }
        minijinja::ErrorKind::SyntaxError => {
            format!("模板语法错误：{}", e.detail().unwrap_or("无法解析"))
        }
        minijinja::ErrorKind::OutOfFuel => "模板运算过多（循环过大），已停止".to_string(),
        _ => format!("模板无法渲染：{}", e.detail().unwrap_or("未知错误")),
    };
    let message = match (&placeholder, e.line()) {
        (Some(p), Some(l)) => format!("第 {l} 行「{p}」：{why}"),
        (None, Some(l)) => format!("第 {l} 行：{why}"),
        (Some(p), None) => format!("「{p}」：{why}"),
        (None, None) => why,
    };
    RenderError {
        line: e.line(),
        placeholder,
        message,
    }
}

/// Renders `body` with `ctx` (HTML-escaped values).
pub fn render(body: &str, ctx: &serde_json::Value) -> Result<String, RenderError> {
    let env = environment();
    let tmpl = env
        .template_from_named_str("contract.html", body)
        .map_err(|e| render_error(&e, body))?;
    let out = tmpl
        .render(minijinja::Value::from(minijinja::value::Serde(ctx)))
        .map_err(|e| render_error(&e, body))?;
    if out.len() > MAX_RENDERED_BYTES {
        return Err(RenderError {
            line: None,
            placeholder: None,
            message: format!("渲染结果超过 {} KB", MAX_RENDERED_BYTES / 1000),
        });
    }
    Ok(out)
}

/// A consent the borrower gives by ticking its own box, with the version of its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    /// `general` (the contract's terms) or `sensitive_pi` (PIPL art. 29 separate consent).
    pub key: String,
    pub version: u32,
    pub label: String,
    pub text: String,
}

/// The consents every contract asks for, in order. A changed text gets a new version (and the
/// old one stays in the contracts that recorded it).
pub fn consents() -> Vec<Consent> {
    vec![
        Consent {
            key: "general".into(),
            version: 1,
            label: "同意合同条款".into(),
            text: "本人已完整阅读上述合同全部条款，理解其含义，自愿签署并同意受其约束。".into(),
        },
        Consent {
            key: "sensitive_pi".into(),
            version: 1,
            label: "单独同意处理敏感个人信息".into(),
            text: "根据《个人信息保护法》第二十九条，本人单独同意贵司为办理本次贷款居间服务，处理本人的身份证件号码、财产状况、收入、征信等敏感个人信息，并在必要范围内提供给合同所列资金方；本人知悉处理的必要性及对个人权益的影响，并可依法撤回同意。".into(),
        },
    ]
}

/// Where a contract stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContractState {
    /// Frozen, no signing link yet.
    Draft,
    /// A signing link was issued.
    Sent,
    /// Signed through the link; cannot change any more.
    Signed,
    /// Withdrawn before signing.
    Void,
}

/// A one-time signing link: only the SHA-256 of its token is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningLink {
    pub id: String,
    pub token_sha256: String,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub expires_at: DateTime<Utc>,
}

/// A consent as ticked: the text and version shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GivenConsent {
    pub key: String,
    pub version: u32,
    pub text: String,
    pub agreed: bool,
}

/// What signing recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signing {
    pub at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    /// The name the borrower typed, if any.
    pub typed_name: Option<String>,
    pub consents: Vec<GivenConsent>,
    pub link_id: String,
    /// The hash of the content the borrower was shown (equal to the contract's).
    pub content_sha256: String,
    /// The signature PNG, encrypted with the field cipher (hex of the bytes inside).
    pub signature_enc: String,
    pub signature_sha256: String,
}

/// A frozen contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub id: String,
    pub deal_id: String,
    pub customer_id: String,
    pub template_id: String,
    pub template_version: u32,
    pub title: String,
    pub kind: TemplateKind,
    /// The rendered HTML as the borrower reads it (full ID number), encrypted.
    pub content_enc: String,
    /// SHA-256 (hex) of the rendered HTML's UTF-8 bytes.
    pub content_sha256: String,
    /// The same contract with personal numbers masked: what staff without
    /// `id_number.view_full` read.
    pub content_masked: String,
    pub consents: Vec<Consent>,
    pub state: ContractState,
    pub link: Option<SigningLink>,
    pub signing: Option<Signing>,
    pub void_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the borrower's personal information was erased (docs/contracts.md, "Erasure").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<ContractErasure>,
}

/// What erasure did to a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractErasure {
    pub at: DateTime<Utc>,
    /// A signed contract kept under PIPL art. 47 (a legally required retention period):
    /// stored as it was, shown only to administrators. `false`: its content was deleted.
    pub retained: bool,
}

/// Shown instead of an unsigned contract's content once the borrower's data was erased.
pub const ERASED_NOTE: &str = "（合同内容已按个人信息删除请求清除）";
/// Shown instead of a retained signed contract's content to everyone but administrators.
pub const RETAINED_NOTE: &str = "（已签署合同：借款人已申请删除个人信息，依《个人信息保护法》第四十七条仅在法定保存期限内存储，除管理员外不再展示）";

/// Bytes a signature image may have.
pub const MAX_SIGNATURE_BYTES: usize = 300 * 1024;
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Whether `bytes` is a PNG by its magic number (the client's word is not taken).
pub fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(PNG_MAGIC)
}

/// Id of the seeded 居间服务协议.
pub const SEED_SERVICE_AGREEMENT: &str = "default-service-agreement";
/// Id of the seeded 个人信息处理授权书.
pub const SEED_PI_AUTHORISATION: &str = "default-pi-authorisation";

/// The templates a new store starts with (version 1).
pub fn seeded(now: DateTime<Utc>) -> Vec<ContractTemplate> {
    let t = |id: &str, name: &str, kind, body: &str| ContractTemplate {
        id: id.into(),
        name: name.into(),
        kind,
        version: 1,
        body: body.into(),
        active: true,
        created_at: now,
        updated_at: now,
        updated_by: "system".into(),
    };
    vec![
        t(
            SEED_SERVICE_AGREEMENT,
            "居间服务协议",
            TemplateKind::ServiceAgreement,
            include_str!("contract_seed/service_agreement.html"),
        ),
        t(
            SEED_PI_AUTHORISATION,
            "个人信息处理授权书",
            TemplateKind::Authorisation,
            include_str!("contract_seed/pi_authorisation.html"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            firm_name: "某某助贷".into(),
            customer_name: "张三".into(),
            id_number_full: "110105199001011234".into(),
            id_number_masked: "110105********1234".into(),
            phone_full: "13812345678".into(),
            phone_masked: "138****5678".into(),
            amount_fen: 30_000_000,
            term_months: 36,
            fee_rate_bp: Some(300),
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap_or_default(),
            ..Facts::default()
        }
    }

    fn lookup<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
        path.split('.').try_fold(v, |v, k| v.get(k))
    }

    fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match v.as_object() {
            Some(m) => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(x, &p, out);
                }
            }
            None => out.push(prefix.to_string()),
        }
    }

    #[test]
    fn the_context_has_exactly_the_documented_placeholders() {
        let ctx = context(&facts(), true);
        let mut have = Vec::new();
        leaves(&ctx, "", &mut have);
        have.sort();
        let mut listed: Vec<String> = PLACEHOLDERS.iter().map(|p| p.path.to_string()).collect();
        listed.sort();
        assert_eq!(have, listed);
        for p in PLACEHOLDERS {
            assert!(lookup(&ctx, p.path).is_some(), "{}", p.path);
        }
    }

    #[test]
    fn full_and_masked_copies() {
        let body =
            "{{ customer.name }} {{ customer.id_number }} {{ deal.amount_yuan }} {{ product.fee }}";
        let full = render(body, &context(&facts(), true)).unwrap();
        assert_eq!(full, "张三 110105199001011234 300,000.00 放款金额的 3.00%");
        let masked = render(body, &context(&facts(), false)).unwrap();
        assert!(masked.contains("110105********1234"));
        assert!(!masked.contains("19900101"));
    }

    #[test]
    fn a_misspelt_placeholder_is_named_with_its_line() {
        let e = render("第一行\n{{ customer.nmae }}", &context(&facts(), true)).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.placeholder.as_deref(), Some("customer.nmae"));
        assert!(e.message.contains("customer.nmae"), "{}", e.message);
    }

    #[test]
    fn values_are_escaped_and_loops_run_out_of_fuel() {
        let mut f = facts();
        f.customer_name = "<script>x</script>".into();
        let out = render("{{ customer.name }}", &context(&f, true)).unwrap();
        assert!(!out.contains("<script>"));
        let e = render(
            "{% for i in range(100000000) %}{{ i }}{% endfor %}",
            &context(&f, true),
        )
        .unwrap_err();
        assert!(
            e.message.contains("运算过多") || e.message.contains("渲染"),
            "{}",
            e.message
        );
        let e = render("{% include 'x' %}", &context(&f, true)).unwrap_err();
        assert!(!e.message.is_empty(), "no loader: nothing to include");
        let e = render("{{ x ", &context(&f, true)).unwrap_err();
        assert!(e.message.contains("语法"), "{}", e.message);
    }

    #[test]
    fn the_seeded_templates_render() {
        for t in seeded(chrono::Utc::now()) {
            let out = render(&t.body, &context(&facts(), true)).unwrap();
            assert!(
                out.contains("张三") && out.contains("110105199001011234"),
                "{}",
                t.id
            );
        }
    }

    #[test]
    fn yuan_groups_thousands() {
        assert_eq!(yuan(30_000_000), "300,000.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456_789), "1,234,567.89");
        assert!(is_png(b"\x89PNG\r\n\x1a\nrest"));
        assert!(!is_png(b"GIF89a"));
    }
}

//! Importing a product sheet (产品表): one row per product, the columns named in Chinese as
//! agencies keep them (CSV in UTF-8 or GBK, or the first sheet of an XLSX). A row whose lender
//! and name match an existing product replaces its terms (a new version when anything changed);
//! any other row creates a product. All or nothing: one bad cell and nothing is written, and
//! every bad cell is reported with its row, column, value and reason.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::loan::Method;
use crate::domain::product::{self, Category, ProductInput, Requirements, ServiceFee};
use crate::domain::profile::{Occupation, TaxRating};
use crate::service::access::audit;
use crate::service::access::auth::Caller;
use crate::service::import::{parse_money, parse_yes_no, parse_yuan, source};
use crate::service::{Error, Result, new_id};
use crate::store;

type Set = fn(&mut ProductInput, &str) -> std::result::Result<(), String>;

/// One column: the headers it is recognised by (the first is the template's), the field path
/// it fills (what a validation error names) and how a cell is read.
struct Column {
    headers: &'static [&'static str],
    field: &'static str,
    set: Set,
}

fn wan(v: &str) -> std::result::Result<i64, String> {
    let v = v.trim().trim_end_matches("万元").trim_end_matches('万');
    parse_money(v, 1_000_000).ok_or_else(|| "应为金额（万元）".to_string())
}

fn yuan(v: &str) -> std::result::Result<i64, String> {
    parse_yuan(v).ok_or_else(|| "应为金额（元）".to_string())
}

fn pct_bp(v: &str) -> std::result::Result<u32, String> {
    let v = v.trim().trim_end_matches('%');
    parse_money(v, 100)
        .and_then(|bp| u32::try_from(bp).ok())
        .ok_or_else(|| "应为百分数，如 4.9 或 4.9%".to_string())
}

fn int(v: &str) -> std::result::Result<u32, String> {
    v.trim()
        .trim_end_matches(['月', '岁', '次', '个'])
        .parse()
        .map_err(|_| "应为不带小数的整数".to_string())
}

fn yes(v: &str) -> std::result::Result<bool, String> {
    parse_yes_no(v).ok_or_else(|| "应为 是/否".to_string())
}

fn list(v: &str) -> Vec<String> {
    v.split([',', '，', '、', ';', '；', '/', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn methods(v: &str) -> std::result::Result<Vec<Method>, String> {
    list(v)
        .iter()
        .map(|m| {
            Method::from_key(m)
                .or(match m.as_str() {
                    "等额本息" => Some(Method::Annuity),
                    "等额本金" => Some(Method::EqualPrincipal),
                    "先息后本" => Some(Method::InterestOnly),
                    "到期还本付息" | "到期还本" => Some(Method::Bullet),
                    _ => None,
                })
                .ok_or_else(|| {
                    format!(
                        "无法识别的还款方式「{m}」（等额本息、等额本金、先息后本、到期还本付息）"
                    )
                })
        })
        .collect()
}

fn req(p: &mut ProductInput) -> &mut Requirements {
    &mut p.requirements
}

const COLUMNS: &[Column] = &[
    Column {
        headers: &["产品名称", "产品"],
        field: "name",
        set: |p, v| {
            p.name = v.to_string();
            Ok(())
        },
    },
    Column {
        headers: &["放款机构", "机构", "资方", "银行"],
        field: "lender",
        set: |p, v| {
            p.lender = v.to_string();
            Ok(())
        },
    },
    Column {
        headers: &["类别", "产品类别", "类型"],
        field: "category",
        set: |p, v| {
            p.category = Category::parse(v)
                .ok_or("应为 信用贷、抵押贷、车贷、经营贷、税贷、公积金贷、保单贷 或 其他")?;
            Ok(())
        },
    },
    Column {
        headers: &["最低额度(万元)", "最低额度（万元）", "最低额度"],
        field: "min_amount_fen",
        set: |p, v| {
            p.amount_min_fen = wan(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["最高额度(万元)", "最高额度（万元）", "最高额度"],
        field: "max_amount_fen",
        set: |p, v| {
            p.amount_max_fen = wan(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["最短期限(月)", "最短期限（月）", "最短期限"],
        field: "min_term_months",
        set: |p, v| {
            p.term_min_months = int(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["最长期限(月)", "最长期限（月）", "最长期限"],
        field: "max_term_months",
        set: |p, v| {
            p.term_max_months = int(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["最低年利率(%)", "最低年利率（%）", "最低年利率"],
        field: "min_rate_bp",
        set: |p, v| {
            p.rate_min_bp = pct_bp(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["最高年利率(%)", "最高年利率（%）", "最高年利率"],
        field: "max_rate_bp",
        set: |p, v| {
            p.rate_max_bp = pct_bp(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["还款方式"],
        field: "methods",
        set: |p, v| {
            p.methods = methods(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["年龄下限", "最低年龄"],
        field: "requirements.min_age",
        set: |p, v| {
            req(p).age_min = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["年龄上限", "最高年龄"],
        field: "requirements.max_age",
        set: |p, v| {
            req(p).age_max = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["可做城市", "城市"],
        field: "requirements.cities",
        set: |p, v| {
            req(p).cities = list(v);
            Ok(())
        },
    },
    Column {
        headers: &["职业要求", "职业"],
        field: "requirements.occupations",
        set: |p, v| {
            req(p).occupations = list(v)
                .iter()
                .map(|o| Occupation::parse(o).ok_or(format!("无法识别的职业「{o}」")))
                .collect::<std::result::Result<_, _>>()?;
            Ok(())
        },
    },
    Column {
        headers: &["最低月收入(元)", "最低月收入（元）", "最低月收入"],
        field: "requirements.min_monthly_income_fen",
        set: |p, v| {
            req(p).min_monthly_income_fen = Some(yuan(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["社保月数", "社保至少(月)", "社保要求(月)"],
        field: "requirements.min_social_security_months",
        set: |p, v| {
            req(p).min_social_security_months = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["公积金月数", "公积金至少(月)", "公积金要求(月)"],
        field: "requirements.min_provident_fund_months",
        set: |p, v| {
            req(p).min_provident_fund_months = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["公积金基数(元)", "公积金基数（元）", "最低公积金基数"],
        field: "requirements.min_provident_fund_base_fen",
        set: |p, v| {
            req(p).min_provident_fund_base_fen = Some(yuan(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["须有房", "要求有房"],
        field: "requirements.requires_property",
        set: |p, v| {
            req(p).property_required = yes(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["房产未抵押", "要求房产未抵押"],
        field: "requirements.property_unmortgaged",
        set: |p, v| {
            req(p).property_unmortgaged = yes(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["须有车", "要求有车"],
        field: "requirements.requires_car",
        set: |p, v| {
            req(p).car_required = yes(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["近2年逾期上限", "近2年逾期次数上限"],
        field: "requirements.max_overdue_2y",
        set: |p, v| {
            req(p).max_overdue_2y = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["无当前逾期", "不能有当前逾期"],
        field: "requirements.no_current_overdue",
        set: |p, v| {
            req(p).no_current_overdue = yes(v)?;
            Ok(())
        },
    },
    Column {
        headers: &["近1月查询上限"],
        field: "requirements.max_inquiries_1m",
        set: |p, v| {
            req(p).max_inquiries_1m = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["近3月查询上限"],
        field: "requirements.max_inquiries_3m",
        set: |p, v| {
            req(p).max_inquiries_3m = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["近6月查询上限"],
        field: "requirements.max_inquiries_6m",
        set: |p, v| {
            req(p).max_inquiries_6m = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["负债收入比上限(倍)", "负债收入比上限", "负债收入比"],
        field: "requirements.max_debt_income_pct",
        set: |p, v| {
            // Times the monthly income (20 = debt up to 20 months of income), to 0.01.
            let pct = parse_money(v.trim().trim_end_matches('倍'), 100)
                .and_then(|x| u32::try_from(x).ok())
                .ok_or("应为月收入的倍数，如 20 或 15.5")?;
            req(p).max_debt_income_pct = Some(pct);
            Ok(())
        },
    },
    Column {
        headers: &["信用卡使用率上限(%)", "信用卡使用率上限"],
        field: "requirements.max_card_utilization_pct",
        set: |p, v| {
            req(p).max_card_utilization_pct = Some(int(v.trim_end_matches('%'))?);
            Ok(())
        },
    },
    Column {
        headers: &["营业执照月数", "营业执照至少(月)"],
        field: "requirements.min_license_months",
        set: |p, v| {
            req(p).min_licence_age_months = Some(int(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["纳税等级", "纳税信用等级"],
        field: "requirements.min_tax_rating",
        set: |p, v| {
            req(p).min_tax_rating = Some(TaxRating::parse(v).ok_or("应为 A、B、M、C 或 D")?);
            Ok(())
        },
    },
    Column {
        headers: &["年纳税额(元)", "年纳税额（元）", "年纳税额"],
        field: "requirements.min_annual_tax_fen",
        set: |p, v| {
            req(p).min_annual_tax_fen = Some(yuan(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["年营业额(元)", "年营业额（元）", "年营业额"],
        field: "requirements.min_annual_turnover_fen",
        set: |p, v| {
            req(p).min_annual_turnover_fen = Some(yuan(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["所需材料", "材料"],
        field: "required_documents",
        set: |p, v| {
            p.documents = list(v);
            Ok(())
        },
    },
    Column {
        headers: &["服务费"],
        field: "fee",
        set: |p, v| {
            let v = v.trim();
            p.fees.service_fee = Some(if v.ends_with('%') {
                ServiceFee::Rate { bp: pct_bp(v)? }
            } else {
                ServiceFee::Fixed { fen: yuan(v)? }
            });
            Ok(())
        },
    },
    Column {
        headers: &["返佣(%)", "返佣（%）", "返佣"],
        field: "rebate_bp",
        set: |p, v| {
            p.fees.lender_rebate_bp = Some(pct_bp(v)?);
            Ok(())
        },
    },
    Column {
        headers: &["启用", "状态"],
        field: "active",
        set: |p, v| {
            p.active = match v.trim() {
                "停用" => false,
                "启用" => true,
                other => yes(other)?,
            };
            Ok(())
        },
    },
    Column {
        headers: &["备注"],
        field: "notes",
        set: |p, v| {
            p.notes = Some(v.to_string());
            Ok(())
        },
    },
];

const REQUIRED: [&str; 10] = [
    "name",
    "lender",
    "category",
    "min_amount_fen",
    "max_amount_fen",
    "min_term_months",
    "max_term_months",
    "min_rate_bp",
    "max_rate_bp",
    "methods",
];

fn column_for(header: &str) -> Option<&'static Column> {
    let h = header.trim();
    COLUMNS.iter().find(|c| c.headers.contains(&h))
}

/// The headers of the sheet template, in order.
pub fn template_headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.headers[0]).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SheetError {
    /// The line in the file (the header is line 1).
    pub row: usize,
    /// The column's header as written in the file (empty for a missing column).
    pub column: String,
    pub field: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductImportReport {
    pub dry_run: bool,
    /// Products created (or that would be, in a dry run); 0 when there are errors.
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Every bad cell; when there is any, nothing was written.
    pub errors: Vec<SheetError>,
    /// Headers not recognised: their cells were not read.
    pub ignored_columns: Vec<String>,
    /// Template columns the sheet does not have: the products it updates keep those values
    /// (a sheet without a column never clears a requirement).
    pub kept_columns: Vec<String>,
}

/// The most rows a product sheet may have.
const MAX_ROWS: usize = 5_000;

fn blank() -> ProductInput {
    ProductInput {
        name: String::new(),
        lender: String::new(),
        category: Category::Other,
        amount_min_fen: 0,
        amount_max_fen: 0,
        term_min_months: 0,
        term_max_months: 0,
        rate_min_bp: 0,
        rate_max_bp: 0,
        methods: vec![],
        requirements: Requirements::default(),
        documents: vec![],
        fees: Default::default(),
        active: true,
        notes: None,
    }
}

/// The rows of the file as products, or every problem found.
/// A sheet as read: the good rows (with their line), every problem, the unknown headers.
struct Sheet {
    rows: Vec<(usize, ProductInput)>,
    errors: Vec<SheetError>,
    ignored: Vec<String>,
    /// The columns the sheet does not have: an updated product keeps their values.
    absent: Vec<&'static Column>,
}

fn read_sheet(path: &Path) -> Result<Sheet> {
    let encoding = source::sniff(path)?;
    let mut header: Option<Vec<Option<&'static Column>>> = None;
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut ignored = Vec::new();
    source::each_row(path, encoding, &mut |line, cells| {
        let Some(cols) = &header else {
            let cols: Vec<_> = cells.iter().map(|h| column_for(h)).collect();
            for (h, c) in cells.iter().zip(&cols) {
                if c.is_none() && !h.is_empty() {
                    ignored.push(h.clone());
                }
            }
            for field in REQUIRED {
                if !cols.iter().flatten().any(|c| c.field == field) {
                    let c = COLUMNS.iter().find(|c| c.field == field);
                    errors.push(SheetError {
                        row: line,
                        column: c.map_or(field, |c| c.headers[0]).to_string(),
                        field: field.to_string(),
                        value: String::new(),
                        reason: "缺少这一列".into(),
                    });
                }
            }
            names = cells;
            header = Some(cols);
            return Ok(true);
        };
        if rows.len() >= MAX_ROWS {
            return Err(Error::validation("file", format!("产品表最多{MAX_ROWS}行")));
        }
        let mut p = blank();
        let mut ok = true;
        for (k, cell) in cells.iter().enumerate() {
            let (Some(Some(col)), false) = (cols.get(k), cell.is_empty()) else {
                continue;
            };
            if let Err(reason) = (col.set)(&mut p, cell) {
                ok = false;
                errors.push(SheetError {
                    row: line,
                    column: names.get(k).cloned().unwrap_or_default(),
                    field: col.field.to_string(),
                    value: cell.clone(),
                    reason,
                });
            }
        }
        if ok {
            product::normalise(&mut p);
            if let Err((field, reason)) = product::check(&p) {
                let k = cols
                    .iter()
                    .position(|c| c.is_some_and(|c| field.starts_with(c.field)));
                errors.push(SheetError {
                    row: line,
                    column: k.and_then(|k| names.get(k).cloned()).unwrap_or_default(),
                    field: field.to_string(),
                    value: k.and_then(|k| cells.get(k).cloned()).unwrap_or_default(),
                    reason,
                });
            } else {
                rows.push((line, p));
            }
        }
        Ok(true)
    })?;
    if header.is_none() {
        return Err(Error::validation("file", "文件是空的"));
    }
    let absent = COLUMNS
        .iter()
        .filter(|c| {
            !header
                .iter()
                .flatten()
                .flatten()
                .any(|h| h.field == c.field)
        })
        .collect();
    Ok(Sheet {
        rows,
        errors,
        ignored,
        absent,
    })
}

impl crate::service::products::UseCases<'_> {
    /// Imports a product sheet; see the module documentation.
    pub fn import_products(
        &self,
        caller: &Caller,
        path: &Path,
        dry_run: bool,
        source: &str,
    ) -> Result<ProductImportReport> {
        caller.require(Capability::ProductManage)?;
        let Sheet {
            rows,
            mut errors,
            ignored: ignored_columns,
            absent,
        } = read_sheet(path)?;
        // Two rows naming one product: the second would silently win.
        for (i, (line, p)) in rows.iter().enumerate() {
            if let Some((first, _)) = rows[..i]
                .iter()
                .find(|(_, q)| q.lender == p.lender && q.name == p.name)
            {
                errors.push(SheetError {
                    row: *line,
                    column: "产品名称".into(),
                    field: "name".into(),
                    value: p.name.clone(),
                    reason: format!("与第{first}行是同一机构的同名产品"),
                });
            }
        }
        let mut report = ProductImportReport {
            dry_run,
            created: 0,
            updated: 0,
            unchanged: 0,
            errors,
            ignored_columns,
            kept_columns: Vec::new(),
        };
        if !report.errors.is_empty() {
            report.errors.sort_by_key(|e| e.row);
            return Ok(report);
        }
        let now = self.now();
        let mut bad = Vec::new();
        self.store.write(|tx| {
            let existing = store::products::all_w(tx)?;
            // Updates first take the values of the columns the sheet lacks from the product,
            // and are checked again as a whole: nothing is written if one fails.
            let mut merged = Vec::with_capacity(rows.len());
            for (line, mut terms) in rows {
                let found = existing
                    .iter()
                    .find(|e| e.terms.lender == terms.lender && e.terms.name == terms.name);
                if let Some(before) = found
                    && !absent.is_empty()
                {
                    terms = keep_absent(terms, &before.terms, &absent)?;
                    if let Err((field, reason)) = product::check(&terms) {
                        bad.push(SheetError {
                            row: line,
                            column: String::new(),
                            field: field.to_string(),
                            value: String::new(),
                            reason: format!("{reason}（含表中没有的列，沿用产品现有的值）"),
                        });
                    }
                }
                merged.push((found, terms));
            }
            if !bad.is_empty() {
                return Ok(());
            }
            for (found, terms) in merged {
                match found {
                    Some(before) if before.terms == terms => report.unchanged += 1,
                    Some(before) => {
                        report.updated += 1;
                        if dry_run {
                            continue;
                        }
                        let p = crate::domain::product::Product {
                            terms,
                            version: before.version + 1,
                            updated_at: now,
                            updated_by: caller.user.id.clone(),
                            ..before.clone()
                        };
                        store::products::put(tx, &p)?;
                        audit::record(
                            tx,
                            now,
                            audit::by_user(
                                &caller.user,
                                "product.updated",
                                source,
                                Some(p.id.clone()),
                                json!({"name": p.terms.name, "version": p.version, "sheet": true}),
                            ),
                        )?;
                    }
                    None => {
                        report.created += 1;
                        if dry_run {
                            continue;
                        }
                        let p = crate::domain::product::Product {
                            id: new_id(now),
                            terms,
                            version: 1,
                            created_at: now,
                            updated_at: now,
                            updated_by: caller.user.id.clone(),
                        };
                        store::products::put(tx, &p)?;
                        audit::record(
                            tx,
                            now,
                            audit::by_user(
                                &caller.user,
                                "product.created",
                                source,
                                Some(p.id.clone()),
                                json!({"name": p.terms.name, "lender": p.terms.lender, "sheet": true}),
                            ),
                        )?;
                    }
                }
            }
            Ok::<_, Error>(())
        })?;
        if !bad.is_empty() {
            report.errors = bad;
            report.created = 0;
            report.updated = 0;
            report.unchanged = 0;
            return Ok(report);
        }
        if report.updated + report.unchanged > 0 {
            report.kept_columns = absent.iter().map(|c| c.headers[0].to_string()).collect();
        }
        Ok(report)
    }
}

/// `terms` with the fields of the `absent` columns taken from `before`. A column's field is
/// its path in the product's JSON (`requirements.max_debt_income_pct`, `fee`).
fn keep_absent(
    terms: ProductInput,
    before: &ProductInput,
    absent: &[&'static Column],
) -> Result<ProductInput> {
    let json = |e: serde_json::Error| Error::Internal(format!("product sheet merge: {e}"));
    let mut to = serde_json::to_value(&terms).map_err(json)?;
    let from = serde_json::to_value(before).map_err(json)?;
    for c in absent {
        let pointer = format!("/{}", c.field.replace('.', "/"));
        let Some(value) = from.pointer(&pointer) else {
            continue;
        };
        let (parent, key) = match pointer.rsplit_once('/') {
            Some((p, k)) => (p.to_string(), k.to_string()),
            None => continue,
        };
        let slot = if parent.is_empty() {
            Some(&mut to)
        } else {
            to.pointer_mut(&parent)
        };
        if let Some(serde_json::Value::Object(map)) = slot {
            map.insert(key, value.clone());
        }
    }
    serde_json::from_value(to).map_err(json)
}

//! Columns of an import file: the fields a column can fill, header recognition (Chinese and
//! English names, or a mapping), and turning one row's cells into a customer input.

use std::collections::{BTreeMap, HashSet};

use crate::domain::custom_field::{self, CustomField, Kind};
use crate::domain::customer::{CustomerInput, Demand, Profile};
use crate::service::{Error, Result};

use super::Mapping;
use super::profile_columns::{self, PROFILE_FIELDS};

/// The fields a column can go to, with the Chinese name shown in the mapping step and in the
/// error report.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "姓名"),
    ("phone", "手机号"),
    ("extra_phones", "其他电话"),
    ("id_number", "身份证号"),
    ("city", "城市"),
    ("address", "地址"),
    ("company", "单位名称"),
    ("channel", "渠道"),
    ("grade", "客户等级"),
    ("stars", "星级"),
    ("intent", "意向"),
    ("tags", "标签"),
    ("notes", "备注"),
    ("entered_at", "录入时间"),
    ("stage", "客户阶段"),
    ("amount_wan", "贷款金额（万元）"),
    ("amount_yuan", "贷款金额（元）"),
    ("term_months", "贷款期限（月）"),
    ("purpose", "贷款用途"),
    ("owner", "负责人（用户名）"),
];

/// Every built-in field a column can go to: [`FIELDS`], then the profile's.
pub fn all_fields() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    FIELDS.iter().chain(PROFILE_FIELDS)
}

/// The Chinese name of a field key: a custom field's label, its key when no longer defined;
/// other keys (`file`) pass through.
pub fn field_label(field: &str, defs: &[CustomField]) -> String {
    if let Some(key) = field.strip_prefix("custom.") {
        return defs
            .iter()
            .find(|d| d.key == key)
            .map_or_else(|| key.to_string(), |d| d.label.clone());
    }
    all_fields()
        .find(|(k, _)| *k == field)
        .map_or_else(|| field.to_string(), |(_, l)| l.to_string())
}

/// Recognised column → field. Headers are compared after removing spaces and turning
/// full-width brackets into ASCII ones.
pub fn field_for(header: &str) -> Option<&'static str> {
    let h: String = header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    Some(match h.as_str() {
        "姓名" | "客户姓名" | "名字" | "客户名称" | "客户" | "name" => "name",
        "手机" | "手机号" | "手机号码" | "联系电话" | "电话" | "联系方式" | "phone" | "mobile" => {
            "phone"
        }
        "其他电话" | "备用电话" | "extra_phones" => "extra_phones",
        "身份证" | "身份证号" | "身份证号码" | "证件号" | "id_number" => "id_number",
        "城市" | "所在城市" | "city" => "city",
        "地址" | "住址" | "家庭地址" | "address" => "address",
        "单位" | "单位名称" | "公司" | "公司名称" | "工作单位" | "company" => {
            "company"
        }
        "渠道" | "来源" | "客户来源" | "channel" => "channel",
        "等级" | "客户等级" | "grade" => "grade",
        "星级" | "stars" => "stars",
        "意向" | "意向度" | "intent" => "intent",
        "标签" | "tags" => "tags",
        "阶段" | "客户阶段" | "跟进阶段" | "跟进状态" | "stage" => "stage",
        "备注" | "说明" | "备注信息" | "notes" => "notes",
        "录入时间" | "录入日期" | "创建时间" | "登记时间" | "登记日期" | "entered_at" => {
            "entered_at"
        }
        "贷款金额(万元)"
        | "需求金额(万元)"
        | "金额(万元)"
        | "贷款需求(万元)"
        | "需求(万元)"
        | "贷款额度(万元)" => "amount_wan",
        "贷款金额(元)" | "需求金额(元)" | "贷款金额" | "金额" | "amount_yuan" => {
            "amount_yuan"
        }
        "贷款期限(月)" | "期限(月)" | "贷款期限" | "期限" | "term_months" => {
            "term_months"
        }
        "贷款用途" | "用途" | "purpose" => "purpose",
        "负责人" | "归属人" | "所属业务员" | "owner" => "owner",
        other => return profile_columns::profile_field_for(other),
    })
}

/// A 录入时间 cell as old systems and spreadsheets write it, read as Shanghai time: `2025-03-01`,
/// `2025/3/1`, `2025.3.1`, `2025年3月1日`, each optionally followed by `10:20` or `10:20:30`.
fn entered_at_of(cell: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
    // RFC 3339 with its own offset (what `zhudai demo` and most systems' APIs write).
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(cell.trim()) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let s = cell
        .trim()
        .replace(['年', '月', '/', '.'], "-")
        .replace('日', " ");
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d.trim(), Some(t.trim())),
        None => (s, None),
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let time = match time.filter(|t| !t.is_empty()) {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
            .ok()?,
    };
    let local = NaiveDateTime::new(date, time);
    Some(chrono::DateTime::from_naive_utc_and_offset(
        local - chrono::Duration::hours(8),
        chrono::Utc,
    ))
}

/// A stage cell: the Chinese labels the UI shows (and their common variants) or the API's names.
fn stage_of(cell: &str) -> Option<crate::domain::customer::Stage> {
    use crate::domain::customer::Stage;
    let c = cell.trim().to_lowercase();
    Some(match c.as_str() {
        "新线索" | "线索" | "新客户" | "lead" => Stage::Lead,
        "已联系" | "联系中" | "跟进中" | "contacted" => Stage::Contacted,
        "有资质" | "资质合格" | "qualified" => Stage::Qualified,
        "已邀约" | "邀约" | "invited" => Stage::Invited,
        "已上门" | "已面谈" | "上门" | "visited" => Stage::Visited,
        "已签约" | "签约" | "signed" => Stage::Signed,
        "已放款" | "放款" | "成交" | "已成交" | "won" => Stage::Won,
        "已流失" | "流失" | "lost" => Stage::Lost,
        "无效" | "无效客户" | "invalid" => Stage::Invalid,
        _ => return None,
    })
}

/// A decimal string in `unit` fen per 1 (100 for yuan, 1_000_000 for 万元) → fen, exactly.
pub fn parse_money(raw: &str, unit: i64) -> Option<i64> {
    let s: String = raw
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = unit.to_string().len() as u32 - 1; // decimal places that still fit in fen
    if frac.len() as u32 > digits {
        return None;
    }
    let int_v: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10i64.checked_pow(digits - frac.len() as u32)?;
    int_v
        .checked_mul(unit)?
        .checked_add(frac_v.checked_mul(scale)?)
}

/// A money cell in yuan → fen, as agencies write it: "1,234.50", "¥1234元", "12万", "12.5万元".
pub fn parse_yuan(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let s = s.trim_start_matches(['¥', '￥']).trim();
    let s = s.strip_suffix('元').unwrap_or(s).trim_end();
    match s.strip_suffix('万') {
        Some(wan) => parse_money(wan, 1_000_000),
        None => parse_money(s, 100),
    }
}

/// A custom-field cell → its stored value, through the same rules as the API
/// ([`custom_field::validate_value`]); money is written in yuan and becomes fen first. The
/// reason names the column.
pub(super) fn custom_cell(
    def: &CustomField,
    header: &str,
    raw: &str,
) -> std::result::Result<serde_json::Value, (String, String)> {
    let value = match def.kind {
        Kind::Money => match parse_yuan(raw) {
            Some(fen) => custom_field::validate_value(def, &fen.to_string()),
            None => Err((
                format!("custom.{}", def.key),
                format!("{}应为金额（元），如 1,234.50 或 12万", def.label),
            )),
        },
        _ => custom_field::validate_value(def, raw),
    };
    value.map_err(|(field, reason)| (field, format!("列“{}”：{reason}", header.trim())))
}

pub(super) fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', ',', '，', '、', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// What one row gives: the customer input and the owner named in an `owner` column.
pub(super) type RowInput = (CustomerInput, Option<String>);

/// One row to a customer input, or the first problem with it (field, reason).
pub(super) fn row_input(
    columns: &[Option<String>],
    headers: &[String],
    defs: &[CustomField],
    row: &[String],
) -> std::result::Result<RowInput, (String, String)> {
    let mut input = CustomerInput::default();
    let mut demand = Demand::default();
    let mut profile = Profile::default();
    let mut owner = None;
    for (i, field) in columns.iter().enumerate() {
        let (Some(field), Some(v)) = (field, row.get(i)) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let bad = |reason: &str| (field.to_string(), reason.to_string());
        match field.as_str() {
            "name" => input.name = Some(v.clone()),
            "phone" => input.phone = Some(v.clone()),
            "extra_phones" => input.extra_phones = Some(split_list(v)),
            "id_number" => input.id_number = Some(v.clone()),
            "city" => input.city = Some(v.clone()),
            "address" => input.address = Some(v.clone()),
            "company" => input.company = Some(v.clone()),
            "channel" => input.channel = Some(v.clone()),
            "grade" => input.grade = Some(v.to_uppercase()),
            "stars" => input.stars = Some(v.parse().map_err(|_| bad("星级应为0到5的整数"))?),
            "intent" => input.intent = Some(v.clone()),
            "tags" => input.tags = Some(split_list(v)),
            "notes" => input.notes = Some(v.clone()),
            "entered_at" => {
                input.entered_at = Some(entered_at_of(v).ok_or_else(|| {
                    bad("录入时间格式不正确（如 2025-03-01、2025/3/1 10:20 或 2025年3月1日）")
                })?)
            }
            "stage" => {
                input.stage = Some(stage_of(v).ok_or_else(|| {
                    bad("客户阶段应为：新线索、已联系、有资质、已邀约、已上门、已签约、已放款、已流失、无效")
                })?)
            }
            "amount_wan" => {
                demand.amount_fen =
                    Some(parse_money(v, 1_000_000).ok_or_else(|| bad("贷款金额格式不正确"))?)
            }
            "amount_yuan" => {
                demand.amount_fen = Some(parse_yuan(v).ok_or_else(|| bad("贷款金额格式不正确"))?)
            }
            "term_months" => {
                demand.term_months = Some(v.parse().map_err(|_| bad("贷款期限应为整数月"))?)
            }
            "purpose" => demand.purpose = Some(v.clone()),
            "owner" => owner = Some(v.clone()),
            other if other.starts_with("profile.") => {
                match profile_columns::set(&mut profile, other, v) {
                    Ok(true) => {}
                    Ok(false) => return Err(bad("未知的资质字段")),
                    Err(reason) => {
                        let header = headers.get(i).map_or(other, String::as_str);
                        return Err(bad(&format!("列“{}”：{reason}", header.trim())));
                    }
                }
            }
            other => {
                if let Some(key) = other.strip_prefix("custom.") {
                    let Some(def) = defs.iter().find(|d| d.key == key) else {
                        return Err(bad("未定义的自定义字段"));
                    };
                    let header = headers.get(i).map_or(key, String::as_str);
                    let value = custom_cell(def, header, v)?;
                    input
                        .custom
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key.to_string(), value);
                }
            }
        }
    }
    if demand != Demand::default() {
        input.demand = Some(demand);
    }
    if profile != Profile::default() {
        input.profile = Some(profile);
    }
    Ok((input, owner))
}

/// Is `field` something a column may go to? (`custom.<key>` when that custom field exists.)
pub(super) fn known_target(field: &str, defs: &[CustomField]) -> bool {
    all_fields().any(|(k, _)| *k == field)
        || field
            .strip_prefix("custom.")
            .is_some_and(|k| defs.iter().any(|d| d.key == k))
}

/// The automatic mapping of a header: a built-in field, else the custom field whose name
/// (label) or key the header is.
pub fn auto_field(header: &str, defs: &[CustomField]) -> Option<String> {
    if let Some(f) = field_for(header) {
        return Some(f.to_string());
    }
    let h = header.trim();
    defs.iter()
        .find(|d| d.active && (d.label == h || d.key == h))
        .map(|d| format!("custom.{}", d.key))
}

/// The field of each column: the importer's choice, else the template's, else automatic.
pub fn resolve_columns(
    headers: &[String],
    explicit: &Mapping,
    defs: &[CustomField],
) -> Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let field = match explicit.get(h.trim()) {
            Some(None) => None,
            Some(Some(f)) if f.is_empty() || f == "ignore" => None,
            Some(Some(f)) if known_target(f, defs) => Some(f.clone()),
            Some(Some(f)) => {
                return Err(Error::validation(
                    "mapping",
                    format!("列“{h}”映射到的字段“{f}”不存在"),
                ));
            }
            None => auto_field(h, defs),
        };
        out.push(field);
    }
    let mut seen = HashSet::new();
    for f in out.iter().flatten() {
        if !seen.insert(f.as_str()) {
            return Err(Error::validation(
                "mapping",
                format!("字段“{}”被多个列使用", field_label(f, defs)),
            ));
        }
    }
    for (needed, label) in [("name", "姓名"), ("phone", "手机号")] {
        if !out.iter().any(|f| f.as_deref() == Some(needed)) {
            return Err(Error::validation("file", format!("缺少必需的列：{label}")));
        }
    }
    Ok(out)
}

/// The header is the first of the first rows that names at least two known columns (files
/// often start with a title line, and merged title cells leave blanks).
pub(super) fn is_header(row: &[String], explicit: &Mapping) -> bool {
    row.iter()
        .filter(|c| field_for(c).is_some() || explicit.contains_key(c.trim()))
        .count()
        >= 2
}

/// Rows looked at for a header before giving up.
pub(super) const HEADER_SEARCH: usize = 5;

pub(super) fn no_header() -> Error {
    Error::validation("file", "找不到表头：至少需要“姓名”和“手机号”两列")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        assert_eq!(parse_money("30", 1_000_000), Some(30_000_000));
        assert_eq!(parse_money("30.5", 1_000_000), Some(30_500_000));
        assert_eq!(parse_money("0.0001", 1_000_000), Some(100));
        assert_eq!(parse_money("1,234.56", 100), Some(123_456));
        assert_eq!(parse_money("1.234", 100), None, "below a fen");
        assert_eq!(parse_money("abc", 100), None);
        assert_eq!(parse_money("-5", 100), None);
        assert_eq!(parse_yuan("1,234.50"), Some(123_450));
        assert_eq!(parse_yuan("12万"), Some(12_000_000));
        assert_eq!(parse_yuan("¥12.5万元"), Some(12_500_000));
        assert_eq!(parse_yuan("300元"), Some(30_000));
        assert_eq!(parse_yuan("万"), None);
    }

    #[test]
    fn headers_are_recognised() {
        assert_eq!(field_for(" 贷款金额（万元） "), Some("amount_wan"));
        assert_eq!(field_for("联系电话"), Some("phone"));
        assert_eq!(field_for("负责人"), Some("owner"));
        assert_eq!(field_for("备注"), Some("notes"));
        // Issue 17.3: the 万元 demand column and a stage column are recognised.
        assert_eq!(field_for("贷款需求（万元）"), Some("amount_wan"));
        assert_eq!(field_for("客户阶段"), Some("stage"));
    }

    #[test]
    fn stage_cells_read_the_labels_people_type() {
        use crate::domain::customer::Stage;
        for (cell, stage) in [
            ("新线索", Stage::Lead),
            ("已联系", Stage::Contacted),
            ("有资质", Stage::Qualified),
            ("已上门", Stage::Visited),
            ("已放款", Stage::Won),
            (" 无效 ", Stage::Invalid),
            ("signed", Stage::Signed),
        ] {
            assert_eq!(stage_of(cell), Some(stage), "{cell}");
        }
        assert_eq!(stage_of("随便"), None);
    }

    #[test]
    fn entry_dates_read_as_shanghai_time() {
        let at = |s: &str| entered_at_of(s).map(|t| t.to_rfc3339());
        for cell in [
            "2025-03-01",
            "2025/3/1",
            "2025.3.1",
            "2025年3月1日",
            " 2025-3-1 ",
        ] {
            assert_eq!(
                at(cell).as_deref(),
                Some("2025-02-28T16:00:00+00:00"),
                "{cell}"
            );
        }
        assert_eq!(
            at("2025/3/1 10:20").as_deref(),
            Some("2025-03-01T02:20:00+00:00")
        );
        assert_eq!(
            at("2025年3月1日 10:20:30").as_deref(),
            Some("2025-03-01T02:20:30+00:00")
        );
        // RFC 3339 keeps its own offset (`zhudai demo` writes these).
        assert_eq!(
            at("2026-11-15T08:55:12+00:00").as_deref(),
            Some("2026-11-15T08:55:12+00:00")
        );
        assert_eq!(
            at("2026-11-15T08:55:12+08:00").as_deref(),
            Some("2026-11-15T00:55:12+00:00")
        );
        assert_eq!(
            at("2026-11-15T08:55:12Z").as_deref(),
            Some("2026-11-15T08:55:12+00:00")
        );
        for bad in [
            "2025-13-01",
            "昨天",
            "3/1/2025",
            "2025-03-01 25:00",
            "2026-11-15T08:55:12+25:00",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_explicit_mapping_wins_and_is_checked() {
        let h: Vec<String> = ["客户", "电话", "备注", "城市"].map(String::from).to_vec();
        let custom = [CustomField {
            key: "wechat".into(),
            label: "微信号".into(),
            kind: Kind::Text,
            options: vec![],
            required: false,
            order: 0,
            active: true,
            show_in_list: false,
        }];
        let m = Mapping::from([
            ("客户".to_string(), Some("name".to_string())),
            ("电话".to_string(), Some("phone".to_string())),
            ("备注".to_string(), Some("custom.wechat".to_string())),
            ("城市".to_string(), None),
        ]);
        assert_eq!(
            resolve_columns(&h, &m, &custom).unwrap(),
            [
                Some("name".into()),
                Some("phone".into()),
                Some("custom.wechat".into()),
                None
            ]
        );
        let bad = Mapping::from([("备注".to_string(), Some("custom.qq".to_string()))]);
        assert!(
            resolve_columns(&h, &bad, &custom).is_err(),
            "unknown custom field"
        );
        let twice = Mapping::from([("城市".to_string(), Some("name".to_string()))]);
        assert!(
            resolve_columns(&h, &twice, &custom).is_err(),
            "two columns, one field"
        );
        // A header that is a custom field's name maps to it automatically.
        let h2: Vec<String> = ["姓名", "手机", "微信号"].map(String::from).to_vec();
        assert_eq!(
            resolve_columns(&h2, &Mapping::new(), &custom).unwrap()[2],
            Some("custom.wechat".into())
        );
    }
}

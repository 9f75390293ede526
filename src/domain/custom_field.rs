//! A firm's own customer fields (自定义字段): their definitions and the rules a value must
//! follow. Pure: the service validates API input with [`validate_json`], imports parse cells
//! with [`validate_value`], and both get the same stored JSON shape back.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Number,
    /// Integer fen.
    Money,
    /// `YYYY-MM-DD`.
    Date,
    Select,
    MultiSelect,
}

/// One field definition, keyed by `key` (stored in `custom_fields`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomField {
    /// Stable key used in `custom.<key>`.
    pub key: String,
    /// What the form shows (Chinese).
    pub label: String,
    pub kind: Kind,
    /// Allowed values of `select` and `multi_select`.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
    /// Position in forms and lists (ascending).
    #[serde(default)]
    pub order: i32,
    /// Inactive fields are kept on records but no longer offered, required or exported.
    #[serde(default = "yes")]
    pub active: bool,
    /// Shown as a column of the customer list unless the user has chosen their own columns.
    #[serde(default)]
    pub show_in_list: bool,
}

fn yes() -> bool {
    true
}

pub type Problem = (String, String);

fn field(key: &str) -> String {
    format!("custom.{key}")
}

/// Checks a definition before it is saved.
pub fn check_definition(d: &CustomField) -> Result<(), Problem> {
    let key_ok = !d.key.is_empty()
        && d.key.chars().count() <= 32
        && d.key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !key_ok {
        return Err((
            "key".into(),
            "字段键应为1到32个字母、数字、下划线或汉字".into(),
        ));
    }
    if d.label.trim().is_empty() || d.label.chars().count() > 32 {
        return Err(("label".into(), "字段名称不能为空，最多32个字符".into()));
    }
    if !super::text::single_line_ok(&d.label) {
        return Err(("label".into(), super::text::REFUSED.into()));
    }
    let choice = matches!(d.kind, Kind::Select | Kind::MultiSelect);
    if choice && d.options.is_empty() {
        return Err(("options".into(), "单选或多选字段至少需要一个选项".into()));
    }
    if d.options.len() > 100
        || d.options
            .iter()
            .any(|o| o.trim().is_empty() || o.chars().count() > 32)
    {
        return Err((
            "options".into(),
            "选项不能为空，最多100个、每个最多32个字符".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if !d.options.iter().all(|o| seen.insert(o)) {
        return Err(("options".into(), "选项不能重复".into()));
    }
    Ok(())
}

fn money_from_text(raw: &str) -> Option<i64> {
    let v: i64 = raw.trim().parse().ok()?;
    (0..=1_000_000_000_000).contains(&v).then_some(v)
}

/// A value given as text (an import cell, a form input) → the stored JSON value.
/// Money is integer fen; dates are `YYYY-MM-DD`; multi-select values are separated by
/// `;`, `；`, `,`, `，`, `、` or `|`.
pub fn validate_value(def: &CustomField, raw: &str) -> Result<Value, Problem> {
    let raw = raw.trim();
    let bad = |reason: String| (field(&def.key), reason);
    let label = &def.label;
    match def.kind {
        Kind::Text => {
            if raw.chars().count() > 200 {
                return Err(bad(format!("{label}最多200个字符")));
            }
            Ok(Value::String(raw.to_string()))
        }
        Kind::Number => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| {
                // Keep integers as integers in the stored JSON.
                match raw.parse::<i64>() {
                    Ok(i) => Some(Value::from(i)),
                    Err(_) => serde_json::Number::from_f64(f).map(Value::Number),
                }
            })
            .ok_or_else(|| bad(format!("{label}应为数字"))),
        Kind::Money => money_from_text(raw)
            .map(Value::from)
            .ok_or_else(|| bad(format!("{label}应为以分为单位的非负整数"))),
        Kind::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| raw.len() == 10)
            .map(|d| Value::String(d.to_string()))
            .ok_or_else(|| bad(format!("{label}应为日期，格式 YYYY-MM-DD"))),
        Kind::Select => {
            if def.options.iter().any(|o| o == raw) {
                Ok(Value::String(raw.to_string()))
            } else {
                Err(bad(format!("{label}的值「{raw}」不在选项中")))
            }
        }
        Kind::MultiSelect => {
            let parts: Vec<&str> = raw
                .split([';', '；', ',', '，', '、', '|'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            multi(def, parts.iter().copied())
        }
    }
}

fn multi<'a>(def: &CustomField, values: impl Iterator<Item = &'a str>) -> Result<Value, Problem> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !def.options.iter().any(|o| o == v) {
            return Err((
                field(&def.key),
                format!("{}的值「{v}」不在选项中", def.label),
            ));
        }
        let v = Value::String(v.to_string());
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

/// A value given as JSON (the API) → the stored JSON value, or the problem.
pub fn validate_json(def: &CustomField, v: &Value) -> Result<Value, Problem> {
    let bad = |reason: String| (field(&def.key), reason);
    let label = &def.label;
    match (def.kind, v) {
        (Kind::Text | Kind::Date | Kind::Select, Value::String(s)) => validate_value(def, s),
        (Kind::Number, Value::Number(n)) => Ok(Value::Number(n.clone())),
        (Kind::Number, Value::String(s)) => validate_value(def, s),
        (Kind::Money, Value::Number(n)) => n
            .as_i64()
            .and_then(|i| money_from_text(&i.to_string()))
            .map(Value::from)
            .ok_or_else(|| bad(format!("{label}应为以分为单位的非负整数"))),
        (Kind::MultiSelect, Value::Array(items)) => {
            let strs: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            match strs {
                Some(s) => multi(def, s.into_iter()),
                None => Err(bad(format!("{label}应为选项文字的列表"))),
            }
        }
        (Kind::MultiSelect, Value::String(s)) => validate_value(def, s),
        (Kind::Text | Kind::Date | Kind::Select, _) => Err(bad(format!("{label}应为文字"))),
        (Kind::Number, _) => Err(bad(format!("{label}应为数字"))),
        (Kind::Money, _) => Err(bad(format!("{label}应为以分为单位的非负整数"))),
        (Kind::MultiSelect, _) => Err(bad(format!("{label}应为选项文字的列表"))),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Validates a whole `custom` map against the definitions: unknown keys are refused, empty
/// values (null, "", []) remove the key, and on `creating` every active required field must
/// be present. Returns the normalised map.
pub fn validate_map(
    defs: &[CustomField],
    input: &BTreeMap<String, Value>,
    creating: bool,
) -> Result<BTreeMap<String, Value>, Problem> {
    let mut out = BTreeMap::new();
    for (k, v) in input {
        let Some(def) = defs.iter().find(|d| &d.key == k) else {
            return Err((field(k), format!("未定义的自定义字段「{k}」")));
        };
        if is_empty(v) {
            continue;
        }
        out.insert(k.clone(), validate_json(def, v)?);
    }
    if creating {
        required_present(defs, &out)?;
    }
    Ok(out)
}

/// Every active required field has a value.
pub fn required_present(
    defs: &[CustomField],
    values: &BTreeMap<String, Value>,
) -> Result<(), Problem> {
    match defs
        .iter()
        .find(|d| d.active && d.required && !values.contains_key(&d.key))
    {
        Some(d) => Err((field(&d.key), format!("{}不能为空", d.label))),
        None => Ok(()),
    }
}

/// How a stored value reads in an export cell.
pub fn display(def: &CustomField, v: &Value) -> String {
    match (def.kind, v) {
        (Kind::Money, Value::Number(n)) => n
            .as_i64()
            .map(|f| format!("{}.{:02}", f / 100, f % 100))
            .unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(";"),
        (_, Value::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(key: &str, kind: Kind) -> CustomField {
        CustomField {
            key: key.into(),
            label: "字段".into(),
            kind,
            options: vec!["甲".into(), "乙".into()],
            required: false,
            order: 0,
            active: true,
            show_in_list: false,
        }
    }

    #[test]
    fn text_values_parse_per_kind() {
        let ok: Vec<(Kind, &str, Value)> = vec![
            (Kind::Text, " 微信 ", json!("微信")),
            (Kind::Number, "3", json!(3)),
            (Kind::Number, "2.5", json!(2.5)),
            (Kind::Money, "150000", json!(150000)),
            (Kind::Date, "2026-11-26", json!("2026-11-26")),
            (Kind::Select, "甲", json!("甲")),
            (Kind::MultiSelect, "甲；乙、甲", json!(["甲", "乙"])),
        ];
        for (kind, raw, want) in ok {
            assert_eq!(validate_value(&def("k", kind), raw).unwrap(), want, "{raw}");
        }
        let bad: Vec<(Kind, &str)> = vec![
            (Kind::Number, "三"),
            (Kind::Money, "1500.50"),
            (Kind::Money, "-1"),
            (Kind::Date, "2026/11/26"),
            (Kind::Date, "2026-02-30"),
            (Kind::Select, "丙"),
            (Kind::MultiSelect, "甲;丙"),
        ];
        for (kind, raw) in bad {
            let e = validate_value(&def("k", kind), raw).unwrap_err();
            assert_eq!(e.0, "custom.k", "{raw}");
        }
    }

    #[test]
    fn maps_refuse_unknown_keys_and_missing_required() {
        let mut req = def("wx", Kind::Text);
        req.required = true;
        let defs = vec![req, def("amt", Kind::Money)];
        let e =
            validate_map(&defs, &BTreeMap::from([("nope".into(), json!(1))]), false).unwrap_err();
        assert_eq!(e.0, "custom.nope");
        let e = validate_map(&defs, &BTreeMap::new(), true).unwrap_err();
        assert_eq!(e.0, "custom.wx");
        let e = validate_map(
            &defs,
            &BTreeMap::from([("wx".into(), json!("a")), ("amt".into(), json!(1.5))]),
            true,
        )
        .unwrap_err();
        assert_eq!(e.0, "custom.amt");
        let ok = validate_map(
            &defs,
            &BTreeMap::from([("wx".into(), json!("a")), ("amt".into(), json!(""))]),
            true,
        )
        .unwrap();
        assert_eq!(ok, BTreeMap::from([("wx".into(), json!("a"))]));
    }

    #[test]
    fn definitions_are_checked() {
        let mut d = def("微信号", Kind::Text);
        assert!(check_definition(&d).is_ok());
        d.key = "a b".into();
        assert_eq!(check_definition(&d).unwrap_err().0, "key");
        let mut s = def("s", Kind::Select);
        s.options.clear();
        assert_eq!(check_definition(&s).unwrap_err().0, "options");
    }
}

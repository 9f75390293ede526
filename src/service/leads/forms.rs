//! Defining online application forms (`settings.manage`): slug, title, the fields asked, the
//! channel the leads count for, the consent texts with their versions (editing a text bumps its
//! version), the sites allowed to embed the form, and the minimum fill time. And the list of a
//! form's submissions, paged from its keys, phones masked.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::service::access::audit;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result, new_id};
use crate::store::applications::{self, ConsentText, Form, Submission};

/// The fields a form may ask besides the phone (always asked), in display order: key, label.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "姓名"),
    ("city", "所在城市"),
    ("amount", "贷款金额（万元）"),
    ("purpose", "贷款用途"),
    ("monthly_income", "月收入（元）"),
    ("has_property", "名下有房"),
    ("has_car", "名下有车"),
];

/// Fields whose answers are sensitive personal information (financial situation and
/// property): only with the separate consent (PIPL art. 29).
pub const SENSITIVE: &[&str] = &["monthly_income", "has_property", "has_car"];

/// Minimum fill time of a form that does not say.
const DEFAULT_MIN_FILL_SECONDS: u32 = 3;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// 2–40 of `a-z`, `0-9`, `-`: the address `/apply/<slug>`.
    pub slug: String,
    pub title: String,
    #[serde(default)]
    pub intro: Option<String>,
    /// From `name, city, amount, purpose, monthly_income, has_property, has_car`.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The channel (来源渠道) the leads count for.
    pub channel: String,
    pub consent_general: String,
    pub consent_sensitive: String,
    /// Origins allowed to embed the form (`https://www.example.com`), at most 5.
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    /// 0–600 seconds; absent: 3.
    #[serde(default)]
    pub min_fill_seconds: Option<u32>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FormView {
    #[serde(flatten)]
    pub form: Form,
    /// Submissions so far.
    pub submissions: u64,
    /// The public address, relative to the server (`/apply/<slug>`).
    pub path: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FormList {
    pub items: Vec<FormView>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionPage {
    pub items: Vec<Submission>,
    pub next_cursor: Option<String>,
    pub total: u64,
}

fn text(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Error::validation(field, format!("不能为空，最多{max}个字")));
    }
    Ok(v.to_string())
}

fn single_line(field: &str, v: &str, max: usize) -> Result<String> {
    let v = text(field, v, max)?;
    if !crate::domain::text::single_line_ok(&v) {
        return Err(Error::validation(field, crate::domain::text::REFUSED));
    }
    Ok(v)
}

/// An origin for CSP `frame-ancestors`: scheme, host and optional port, nothing that could
/// end the directive or add another.
fn origin_ok(o: &str) -> bool {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.len() <= 200
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:*".contains(&b))
    })
}

fn checked(input: &FormInput) -> Result<FormInput> {
    let slug = input.slug.trim().to_string();
    let slug_ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return Err(Error::validation(
            "slug",
            "地址标识应为2到40个小写字母、数字或连字符",
        ));
    }
    let mut fields = Vec::new();
    for f in &input.fields {
        if !FIELDS.iter().any(|(k, _)| k == f) {
            return Err(Error::validation("fields", format!("未知字段 {f}")));
        }
        if !fields.contains(f) {
            fields.push(f.clone());
        }
    }
    if input.frame_ancestors.len() > 5 || !input.frame_ancestors.iter().all(|o| origin_ok(o)) {
        return Err(Error::validation(
            "frame_ancestors",
            "允许嵌入的网站应为 https://域名 形式，最多5个",
        ));
    }
    let min_fill_seconds = input.min_fill_seconds.unwrap_or(DEFAULT_MIN_FILL_SECONDS);
    if min_fill_seconds > 600 {
        return Err(Error::validation(
            "min_fill_seconds",
            "最短填写时间应为0到600秒",
        ));
    }
    Ok(FormInput {
        slug,
        title: single_line("title", &input.title, 60)?,
        intro: match input.intro.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => Some(text("intro", i, 500)?),
            _ => None,
        },
        fields,
        channel: single_line("channel", &input.channel, 40)?,
        consent_general: text("consent_general", &input.consent_general, 5000)?,
        consent_sensitive: text("consent_sensitive", &input.consent_sensitive, 5000)?,
        frame_ancestors: input.frame_ancestors.clone(),
        min_fill_seconds: Some(min_fill_seconds),
        active: input.active,
    })
}

/// The consent text as edited: the same version when unchanged, the next one otherwise.
fn versioned(before: Option<&ConsentText>, text: String) -> ConsentText {
    match before {
        Some(b) if b.text == text => b.clone(),
        Some(b) => ConsentText {
            text,
            version: b.version + 1,
        },
        None => ConsentText { text, version: 1 },
    }
}

impl crate::service::leads::UseCases<'_> {
    fn view(&self, tx: &crate::store::ReadTransaction, form: Form) -> Result<FormView> {
        Ok(FormView {
            submissions: applications::submission_count(tx, &form.id)?,
            path: format!("/apply/{}", form.slug),
            form,
        })
    }

    pub fn list_forms(&self, caller: &Caller) -> Result<FormList> {
        caller.require(Capability::SettingsManage)?;
        self.store.read(|tx| {
            let items = applications::forms(tx)?
                .into_iter()
                .map(|f| self.view(tx, f))
                .collect::<Result<Vec<_>>>()?;
            Ok(FormList {
                total: items.len(),
                items,
                next_cursor: None,
            })
        })
    }

    pub fn get_form(&self, caller: &Caller, id: &str) -> Result<FormView> {
        caller.require(Capability::SettingsManage)?;
        self.store.read(|tx| {
            let f = applications::form(tx, id)?.ok_or(Error::NotFound)?;
            self.view(tx, f)
        })
    }

    /// Creates (`id` = None) or replaces a form; audited.
    pub fn save_form(
        &self,
        caller: &Caller,
        id: Option<&str>,
        input: FormInput,
        source: &str,
    ) -> Result<FormView> {
        caller.require(Capability::SettingsManage)?;
        let input = checked(&input)?;
        let now = self.now();
        let saved = self.store.write(|tx| {
            let before = match id {
                Some(id) => Some(applications::form_w(tx, id)?.ok_or(Error::NotFound)?),
                None => None,
            };
            let form_id = before
                .as_ref()
                .map(|b| b.id.clone())
                .unwrap_or_else(|| new_id(now));
            if applications::slug_owner_w(tx, &input.slug)?.is_some_and(|o| o != form_id) {
                return Err(Error::Conflict {
                    code: "apply_slug_taken",
                    message: "该地址标识已被其他表单使用".into(),
                });
            }
            let form = Form {
                id: form_id,
                slug: input.slug.clone(),
                title: input.title.clone(),
                intro: input.intro.clone(),
                fields: input.fields.clone(),
                channel: input.channel.clone(),
                consent_general: versioned(
                    before.as_ref().map(|b| &b.consent_general),
                    input.consent_general.clone(),
                ),
                consent_sensitive: versioned(
                    before.as_ref().map(|b| &b.consent_sensitive),
                    input.consent_sensitive.clone(),
                ),
                frame_ancestors: input.frame_ancestors.clone(),
                min_fill_seconds: input.min_fill_seconds.unwrap_or(DEFAULT_MIN_FILL_SECONDS),
                active: input
                    .active
                    .unwrap_or(before.as_ref().is_none_or(|b| b.active)),
                acting_user_id: caller.user.id.clone(),
                created_at: before.as_ref().map(|b| b.created_at).unwrap_or(now),
                updated_at: now,
            };
            applications::put_form(tx, before.as_ref(), &form)?;
            let action = if before.is_some() {
                "application_form.updated"
            } else {
                "application_form.created"
            };
            let detail = json!({"slug": form.slug, "channel": form.channel, "active": form.active,
                "consent_general_version": form.consent_general.version,
                "consent_sensitive_version": form.consent_sensitive.version});
            let entry = audit::by_user(&caller.user, action, source, Some(form.id.clone()), detail);
            audit::record(tx, now, entry)?;
            Ok::<_, Error>(form)
        })?;
        self.store.read(|tx| self.view(tx, saved))
    }

    /// A form's submissions, newest first, from its keys (`cursor`: the last id of the
    /// previous page).
    pub fn submissions(
        &self,
        caller: &Caller,
        id: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<SubmissionPage> {
        caller.require(Capability::SettingsManage)?;
        let limit = limit.unwrap_or(50).clamp(1, 200);
        self.store.read(|tx| {
            applications::form(tx, id)?.ok_or(Error::NotFound)?;
            let items = applications::submissions_before(tx, id, cursor, limit)?;
            let next_cursor = (items.len() == limit)
                .then(|| items.last().map(|s| s.id.clone()))
                .flatten();
            Ok(SubmissionPage {
                total: applications::submission_count(tx, id)?,
                items,
                next_cursor,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_cannot_break_out_of_the_directive() {
        assert!(origin_ok("https://www.example.com"));
        assert!(origin_ok("https://*.example.com:8443"));
        for bad in [
            "www.example.com",
            "https://",
            "https://a.com; script-src *",
            "https://a.com 'unsafe-inline'",
            "javascript:alert(1)",
        ] {
            assert!(!origin_ok(bad), "{bad}");
        }
    }

    #[test]
    fn an_edited_consent_text_gets_the_next_version() {
        let v1 = versioned(None, "A".into());
        assert_eq!(v1.version, 1);
        assert_eq!(versioned(Some(&v1), "A".into()).version, 1);
        assert_eq!(versioned(Some(&v1), "B".into()).version, 2);
    }
}

//! Online application forms (在线申请) and their submissions (schema 24). A form is found by
//! its slug through `s:<slug>` in `application_keys`; a form's submissions are
//! `f:<form id>/<submission id>` keys (ULIDs: time order), paged newest first from the
//! cursor, counted by `apply/<form id>` in `counters` in the submission's transaction.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, pools, tables};

/// A consent text shown on the form, with the version a submission records. Editing the text
/// bumps the version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentText {
    pub text: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Form {
    pub id: String,
    /// The public address: `/apply/<slug>`.
    pub slug: String,
    pub title: String,
    pub intro: Option<String>,
    /// Which fields the form asks for besides the phone, from `service::leads::forms::FIELDS`.
    pub fields: Vec<String>,
    /// The channel (来源渠道) the leads count for: the customer's `channel`.
    pub channel: String,
    /// General consent to processing personal information (PIPL art. 13/14).
    pub consent_general: ConsentText,
    /// The separate consent for sensitive personal information (PIPL art. 29): financial
    /// situation, property, credit.
    pub consent_sensitive: ConsentText,
    /// Sites allowed to embed the form in an iframe (CSP `frame-ancestors`); empty: none.
    pub frame_ancestors: Vec<String>,
    /// A submission sooner than this after the page was served is refused (bots).
    pub min_fill_seconds: u32,
    pub active: bool,
    /// The account the form's leads are created by: its scope offers the candidates of the
    /// assignment rule (the admin who last saved the form).
    pub acting_user_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One submission as recorded: what was consented to, and where the lead went. Personal
/// data stays on the customer record; only the masked phone is kept here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    pub id: String,
    pub form_id: String,
    pub customer_id: String,
    /// A new customer (`true`) or an existing one who applied again.
    pub new_customer: bool,
    pub phone_masked: String,
    pub consent_general_version: u32,
    pub consent_sensitive_version: u32,
    pub at: chrono::DateTime<chrono::Utc>,
}

fn slug_key(slug: &str) -> String {
    format!("s:{slug}")
}

fn count_key(form: &str) -> String {
    format!("apply/{form}")
}

pub fn form_w(tx: &WriteTransaction, id: &str) -> Result<Option<Form>> {
    super::org::decode_one(
        &tx.open_table(tables::APPLICATION_FORMS)?,
        id,
        "application_forms",
    )
}

pub fn form(tx: &ReadTransaction, id: &str) -> Result<Option<Form>> {
    super::org::decode_one(
        &tx.open_table(tables::APPLICATION_FORMS)?,
        id,
        "application_forms",
    )
}

/// The form with this slug.
pub fn by_slug(tx: &ReadTransaction, slug: &str) -> Result<Option<Form>> {
    let id = tx
        .open_table(tables::APPLICATION_KEYS)?
        .get(slug_key(slug).as_str())?
        .map(|v| v.value().to_string());
    match id {
        Some(id) => form(tx, &id),
        None => Ok(None),
    }
}

/// The id of the form holding `slug`, in a write transaction.
pub fn slug_owner_w(tx: &WriteTransaction, slug: &str) -> Result<Option<String>> {
    Ok(tx
        .open_table(tables::APPLICATION_KEYS)?
        .get(slug_key(slug).as_str())?
        .map(|v| v.value().to_string()))
}

/// Writes a form and moves its slug key.
pub fn put_form(tx: &WriteTransaction, before: Option<&Form>, f: &Form) -> Result<()> {
    let mut keys = tx.open_table(tables::APPLICATION_KEYS)?;
    if let Some(b) = before {
        keys.remove(slug_key(&b.slug).as_str())?;
    }
    keys.insert(slug_key(&f.slug).as_str(), f.id.as_str())?;
    tx.open_table(tables::APPLICATION_FORMS)?
        .insert(f.id.as_str(), codec::encode(f)?.as_slice())?;
    Ok(())
}

/// Every form (a firm has a handful: the admin's list), newest first.
pub fn forms(tx: &ReadTransaction) -> Result<Vec<Form>> {
    let t = tx.open_table(tables::APPLICATION_FORMS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(codec::decode::<Form>("application_forms", v.value())?);
    }
    out.reverse();
    Ok(out)
}

/// Records a submission (its key and the form's counter with it).
pub fn add_submission(tx: &WriteTransaction, s: &Submission) -> Result<()> {
    tx.open_table(tables::APPLICATION_SUBMISSIONS)?
        .insert(s.id.as_str(), codec::encode(s)?.as_slice())?;
    tx.open_table(tables::APPLICATION_KEYS)?
        .insert(format!("f:{}/{}", s.form_id, s.id).as_str(), "")?;
    pools::bump(tx, &count_key(&s.form_id))?;
    Ok(())
}

/// How many submissions a form has had.
pub fn submission_count(tx: &ReadTransaction, form: &str) -> Result<u64> {
    pools::counter(tx, &count_key(form))
}

/// Up to `limit` submissions of a form older than the cursor (a submission id), newest first.
pub fn submissions_before(
    tx: &ReadTransaction,
    form: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<Submission>> {
    let keys = tx.open_table(tables::APPLICATION_KEYS)?;
    let subs = tx.open_table(tables::APPLICATION_SUBMISSIONS)?;
    let start = format!("f:{form}/");
    let end = match before {
        Some(id) => format!("f:{form}/{id}"),
        None => format!("f:{form}0"),
    };
    let mut out = Vec::new();
    for row in keys.range(start.as_str()..end.as_str())?.rev().take(limit) {
        let (k, _) = row?;
        let id = k.value().rsplit('/').next().unwrap_or_default().to_string();
        if let Some(v) = subs.get(id.as_str())? {
            out.push(codec::decode::<Submission>(
                "application_submissions",
                v.value(),
            )?);
        }
    }
    Ok(out)
}

//! Document custody (权证): the originals a deal's borrower hands to the agency (property
//! certificate, ID card, marriage certificate …), where each is, and every hand-over. The rules,
//! no I/O (docs/documents.md).
//!
//! A deal's checklist starts from the documents its product asked for when the deal was made;
//! items can be added, and removed while still pending. Each item moves
//! `pending → received → lent_out → received …` and ends `returned` or `lost`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an original document is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocStatus {
    /// Asked for, not yet handed over (待收).
    Pending,
    /// Held by the agency (在库).
    Received,
    /// Lent to the lender (借出), with the recipient's name.
    LentOut,
    /// Given back to the borrower (已归还).
    Returned,
    /// Lost (遗失).
    Lost,
}

impl DocStatus {
    pub const ALL: [DocStatus; 5] = [
        DocStatus::Pending,
        DocStatus::Received,
        DocStatus::LentOut,
        DocStatus::Returned,
        DocStatus::Lost,
    ];

    pub fn key(self) -> &'static str {
        match self {
            DocStatus::Pending => "pending",
            DocStatus::Received => "received",
            DocStatus::LentOut => "lent_out",
            DocStatus::Returned => "returned",
            DocStatus::Lost => "lost",
        }
    }

    pub fn from_key(s: &str) -> Option<DocStatus> {
        DocStatus::ALL.into_iter().find(|d| d.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            DocStatus::Pending => "待收",
            DocStatus::Received => "在库",
            DocStatus::LentOut => "借出",
            DocStatus::Returned => "已归还",
            DocStatus::Lost => "遗失",
        }
    }

    /// The firm holds it or is answerable for it now (the 权证 page lists these).
    pub fn held(self) -> bool {
        matches!(self, DocStatus::Received | DocStatus::LentOut)
    }

    /// The audit action of a move into this status.
    pub fn action(self) -> &'static str {
        match self {
            DocStatus::Pending => "document.added",
            DocStatus::Received => "document.received",
            DocStatus::LentOut => "document.lent_out",
            DocStatus::Returned => "document.returned",
            DocStatus::Lost => "document.lost",
        }
    }
}

/// The moves the custody machine allows. `lent_out → received`: the lender gives it back;
/// `lent_out → returned`: the lender gives it straight to the borrower.
pub fn allowed(from: DocStatus, to: DocStatus) -> bool {
    use DocStatus::*;
    matches!(
        (from, to),
        (Pending, Received)
            | (Received, LentOut)
            | (Received, Returned)
            | (Received, Lost)
            | (LentOut, Received)
            | (LentOut, Returned)
            | (LentOut, Lost)
    )
}

/// A scan or photo attached to an item (a blob of the blob store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocFile {
    /// The blob id (64 hex digits).
    pub blob: String,
    /// The name the uploader gave (display only).
    pub name: String,
    /// Sniffed from the bytes.
    pub content_type: String,
    pub size: u64,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// One hand-over (or loss) of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Handover {
    pub at: DateTime<Utc>,
    /// The user who recorded it.
    pub by: String,
    pub from: DocStatus,
    pub to: DocStatus,
    /// Who gave the document (a person's name as recorded).
    pub giver: Option<String>,
    /// Who received it.
    pub receiver: Option<String>,
    pub note: Option<String>,
}

/// One document of a deal's checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocItem {
    pub id: String,
    pub name: String,
    /// Asked for by the product (not added by hand).
    pub from_product: bool,
    pub status: DocStatus,
    /// The user answerable for it while the firm holds it.
    pub custodian_id: Option<String>,
    /// Who has it outside the firm while lent out.
    pub holder: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    /// Since when it is lent out (the overdue list counts from here).
    pub out_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    #[serde(default)]
    pub files: Vec<DocFile>,
    #[serde(default)]
    pub history: Vec<Handover>,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

/// A deal's checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    pub deal_id: String,
    pub items: Vec<DocItem>,
    /// The number of the next item id (`i<n>`): ids are never reused.
    pub next_item: u32,
    /// Files attached to the deal itself, outside the checklist (`POST
    /// /deals/{id}/attachments`): a bank statement export, a screenshot of the lender's answer.
    #[serde(default)]
    pub attachments: Vec<DocFile>,
}

pub const MAX_NAME: usize = 40;
pub const MAX_NOTE: usize = 200;
pub const MAX_ITEMS: usize = 60;
pub const MAX_FILES: usize = 20;
/// Files attached to a deal itself (besides the checklist's).
pub const MAX_ATTACHMENTS: usize = 60;

impl Checklist {
    /// The checklist of a new deal (or of an older deal, on its first change): one pending
    /// item per document its product asked for.
    pub fn from_documents(
        deal_id: &str,
        documents: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Checklist {
        let mut c = Checklist {
            deal_id: deal_id.to_string(),
            items: Vec::new(),
            next_item: 1,
            attachments: Vec::new(),
        };
        for d in documents {
            c.push(d.clone(), true, by, now);
        }
        c
    }

    fn push(&mut self, name: String, from_product: bool, by: &str, now: DateTime<Utc>) -> &DocItem {
        let id = format!("i{}", self.next_item);
        self.next_item += 1;
        self.items.push(DocItem {
            id,
            name,
            from_product,
            status: DocStatus::Pending,
            custodian_id: None,
            holder: None,
            received_at: None,
            out_at: None,
            closed_at: None,
            notes: None,
            files: Vec::new(),
            history: Vec::new(),
            added_by: by.to_string(),
            added_at: now,
        });
        &self.items[self.items.len() - 1]
    }

    /// Adds an item by hand.
    pub fn add(
        &mut self,
        name: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<&DocItem, (&'static str, String)> {
        let name = check_text("name", name, MAX_NAME, true)?.unwrap_or_default();
        if self.items.len() >= MAX_ITEMS {
            return Err(("name", format!("每笔业务最多{MAX_ITEMS}项资料")));
        }
        if self.items.iter().any(|i| i.name == name) {
            return Err(("name", "清单中已有同名资料".into()));
        }
        Ok(self.push(name, false, by, now))
    }

    pub fn item_mut(&mut self, id: &str) -> Option<&mut DocItem> {
        self.items.iter_mut().find(|i| i.id == id)
    }

    pub fn item(&self, id: &str) -> Option<&DocItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// Why a change of an item is refused: a code the UI knows and a Chinese reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Illegal { from: DocStatus, to: DocStatus },
    NotPending,
    Field(&'static str, String),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Illegal { .. } => "document_move_illegal",
            Refusal::NotPending => "document_not_pending",
            Refusal::Field(..) => "validation",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::Illegal { from, to } => {
                format!("资料当前为“{}”，不能改为“{}”", from.label(), to.label())
            }
            Refusal::NotPending => "只能删除尚未收取的资料".into(),
            Refusal::Field(_, r) => r.clone(),
        }
    }
}

/// A trimmed optional single-line text (a name, a recipient) within `max` characters: no
/// control, bidirectional or zero-width character (docs/api.md, "Text").
pub fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, (&'static str, String)> {
    checked(field, s, max, required, false)
}

/// [`check_text`] for a note: line breaks allowed.
fn check_note(
    field: &'static str,
    s: &str,
    max: usize,
) -> Result<Option<String>, (&'static str, String)> {
    checked(field, s, max, false, true)
}

fn checked(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
    multiline: bool,
) -> Result<Option<String>, (&'static str, String)> {
    let t = s.trim();
    if t.is_empty() {
        return if required {
            Err((field, "不能为空".into()))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > max {
        return Err((field, format!("最多{max}个字符")));
    }
    if multiline && !super::text::multi_line_ok(t) {
        return Err((field, super::text::REFUSED_MULTI.into()));
    }
    if !multiline && !super::text::single_line_ok(t) {
        return Err((field, super::text::REFUSED.into()));
    }
    Ok(Some(t.to_string()))
}

/// A move asked of an item.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub to: DocStatus,
    /// Lent out: the lender's person who takes it (required). Received: who handed it in
    /// (default: the borrower). Returned: who took it back (default: the borrower).
    pub recipient: Option<&'a str>,
    pub note: Option<&'a str>,
    /// The user recording it, and their display name.
    pub by: &'a str,
    pub by_name: &'a str,
    pub now: DateTime<Utc>,
}

/// Who hands a document to whom when the borrower is not named.
pub const BORROWER: &str = "借款人";

/// Applies a move to `item`: status, custodian, dates, and one hand-over in its history.
pub fn apply(item: &mut DocItem, m: &Move<'_>) -> Result<Handover, Refusal> {
    let from = item.status;
    if !allowed(from, m.to) {
        return Err(Refusal::Illegal { from, to: m.to });
    }
    let field = |e: (&'static str, String)| Refusal::Field(e.0, e.1);
    let recipient =
        check_text("recipient", m.recipient.unwrap_or(""), MAX_NAME, false).map_err(field)?;
    let note = check_note("note", m.note.unwrap_or(""), MAX_NOTE).map_err(field)?;
    let me = Some(m.by_name.to_string());
    let (giver, receiver) = match m.to {
        DocStatus::Received if from == DocStatus::LentOut => (item.holder.clone(), me),
        DocStatus::Received => (recipient.or_else(|| Some(BORROWER.into())), me),
        DocStatus::LentOut => {
            let Some(r) = recipient else {
                return Err(Refusal::Field(
                    "recipient",
                    "借出须填写接收人（贷款机构经办人）".into(),
                ));
            };
            (me, Some(r))
        }
        DocStatus::Returned => {
            let giver = if from == DocStatus::LentOut {
                item.holder.clone()
            } else {
                me
            };
            (giver, recipient.or_else(|| Some(BORROWER.into())))
        }
        DocStatus::Lost => {
            if note.is_none() {
                return Err(Refusal::Field("note", "遗失须填写情况说明".into()));
            }
            (None, None)
        }
        DocStatus::Pending => (None, None),
    };
    match m.to {
        DocStatus::Received => {
            item.custodian_id = Some(m.by.to_string());
            item.holder = None;
            item.out_at = None;
            if item.received_at.is_none() {
                item.received_at = Some(m.now);
            }
        }
        DocStatus::LentOut => {
            item.holder = receiver.clone();
            item.out_at = Some(m.now);
        }
        DocStatus::Returned | DocStatus::Lost => {
            item.holder = None;
            item.out_at = None;
            item.closed_at = Some(m.now);
        }
        DocStatus::Pending => {}
    }
    item.status = m.to;
    let h = Handover {
        at: m.now,
        by: m.by.to_string(),
        from,
        to: m.to,
        giver,
        receiver,
        note,
    };
    item.history.push(h.clone());
    Ok(h)
}

/// Is an item lent out since `out_at` overdue at `now` after `days` days?
pub fn overdue(out_at: DateTime<Utc>, now: DateTime<Utc>, days: u32) -> bool {
    now - out_at > chrono::Duration::days(i64::from(days))
}

#[cfg(test)]
#[path = "custody_tests.rs"]
mod tests;

//! Follow-ups (跟进): a logged contact with a customer, optionally setting when to contact them
//! next (which becomes the owner's reminder).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowupKind {
    Call,
    Visit,
    Wechat,
    Sms,
    Note,
}

impl FollowupKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [FollowupKind; 5] = [
        FollowupKind::Call,
        FollowupKind::Wechat,
        FollowupKind::Visit,
        FollowupKind::Sms,
        FollowupKind::Note,
    ];

    /// The wire name (`call`, `wechat`…), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowupKind::Call => "call",
            FollowupKind::Visit => "visit",
            FollowupKind::Wechat => "wechat",
            FollowupKind::Sms => "sms",
            FollowupKind::Note => "note",
        }
    }

    /// The zh-CN label (report columns).
    pub fn label(self) -> &'static str {
        match self {
            FollowupKind::Call => "电话",
            FollowupKind::Visit => "面谈",
            FollowupKind::Wechat => "微信",
            FollowupKind::Sms => "短信",
            FollowupKind::Note => "备注",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Followup {
    pub id: String,
    pub customer_id: String,
    pub author_id: String,
    pub kind: FollowupKind,
    pub content: String,
    pub outcome: Option<String>,
    /// When to contact the customer next; becomes a reminder for the owner.
    pub next_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct FollowupInput {
    pub kind: FollowupKind,
    pub content: String,
    pub outcome: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
}

/// A follow-up may be corrected by its author for this long, then it is history.
pub const EDIT_WINDOW_HOURS: i64 = 24;

pub fn check(input: &FollowupInput, now: DateTime<Utc>) -> Result<(), (&'static str, String)> {
    let len = input.content.trim().chars().count();
    if len == 0 {
        return Err(("content", "跟进内容不能为空".into()));
    }
    if len > 2000 {
        return Err(("content", "跟进内容最多2000个字符".into()));
    }
    if !super::text::multi_line_ok(&input.content) {
        return Err(("content", super::text::REFUSED_MULTI.into()));
    }
    if input
        .outcome
        .as_ref()
        .is_some_and(|o| o.chars().count() > 64)
    {
        return Err(("outcome", "跟进结果最多64个字符".into()));
    }
    if input
        .outcome
        .as_ref()
        .is_some_and(|o| !super::text::single_line_ok(o))
    {
        return Err(("outcome", super::text::REFUSED.into()));
    }
    if let Some(next) = input.next_at {
        check_next_at(next, now).map_err(|r| ("next_at", r))?;
    }
    Ok(())
}

/// When the next contact may be: not in the past (5 minutes of clock slack), at most a year
/// ahead. The same bound for a follow-up's `next_at` and a customer's `next_followup_at`.
pub fn check_next_at(next: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if next < now - Duration::minutes(5) {
        return Err("下次跟进时间不能早于现在".into());
    }
    if next > now + Duration::days(366) {
        return Err("下次跟进时间不能超过一年".into());
    }
    Ok(())
}

pub fn editable(f: &Followup, editor: &str, now: DateTime<Utc>) -> bool {
    f.author_id == editor && now - f.created_at <= Duration::hours(EDIT_WINDOW_HOURS)
}

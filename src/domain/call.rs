//! Phone calls reported by a PBX or call centre (issue 22.1): their shape and the checks on
//! what an integration sends. Numbers are personal data: the record keeps them encrypted
//! (`crypto::field`) with a masked form for display; the customer-side number's blind index
//! is what matches a call to a customer (docs/calls.md).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Longest external call id an integration may send (Asterisk `uniqueid`, FreeSWITCH UUID).
pub const MAX_EXTERNAL_ID: usize = 128;
/// Longest agent label (user id, username or extension).
pub const MAX_AGENT: usize = 64;
/// A number as sent: digits with `+`, `-`, spaces; at most this many characters.
pub const MAX_NUMBER: usize = 32;
/// Ring and talk seconds above a day are a PBX error.
pub const MAX_SECONDS: u32 = 86_400;
/// Calls before this day are a PBX clock that was never set (the epoch, 1970), not a call.
pub const EARLIEST_CALL: &str = "2000-01-01T00:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer called in: the caller (`from`) is the customer's number.
    In,
    /// The agent called out: the callee (`to`) is the customer's number.
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    Answered,
    NoAnswer,
    Busy,
    Rejected,
}

impl CallResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Answered => "answered",
            CallResult::NoAnswer => "no_answer",
            CallResult::Busy => "busy",
            CallResult::Rejected => "rejected",
        }
    }
}

/// A call's recording in the blob store (reference `call:<call id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recording {
    pub blob: String,
    pub size: u64,
    pub content_type: String,
    pub at: DateTime<Utc>,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: String,
    /// The PBX's own id of the call: the same id twice is the same call.
    pub external_id: String,
    pub direction: Direction,
    /// Caller number, encrypted; `from_masked` for display.
    pub from_enc: String,
    pub from_masked: String,
    /// Callee number, encrypted; `to_masked` for display.
    pub to_enc: String,
    pub to_masked: String,
    pub started_at: DateTime<Utc>,
    pub ring_seconds: u32,
    pub talk_seconds: u32,
    pub result: CallResult,
    /// The agent as sent (user id, username or extension); one that matched no user is kept
    /// as `agent_label` has it (a phone number masked).
    pub agent: String,
    /// The user the agent resolved to, if any.
    pub user_id: Option<String>,
    /// The customer the call was matched or attached to; `None`: waiting in the unmatched list.
    pub customer_id: Option<String>,
    pub recording: Option<Recording>,
    pub created_at: DateTime<Utc>,
}

/// What an integration posts.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The PBX's id of the call (idempotency key). Optional: without it the key is derived
    /// from the direction, both numbers, the start and the agent (`CallInput::key`), so the
    /// same CDR posted twice is still one call.
    #[serde(default)]
    pub external_id: Option<String>,
    pub direction: Direction,
    /// Caller number.
    pub from: String,
    /// Callee number.
    pub to: String,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub ring_seconds: u32,
    #[serde(default)]
    pub talk_seconds: u32,
    pub result: CallResult,
    /// User id, username or extension of the agent.
    pub agent: String,
}

/// The digits of a number as a PBX writes it (`+86 138-0013-8000` → `8613800138000`).
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// A number masked for display: a mainland mobile as `138****8000`, anything else with only
/// its last 4 digits (`****1234`), short extensions as `****`.
pub fn mask(number: &str) -> String {
    if let Ok(m) = super::phone::parse(number) {
        return m.masked();
    }
    let d = digits(number);
    if d.len() > 6 {
        format!("****{}", &d[d.len() - 4..])
    } else {
        "****".to_string()
    }
}

/// The agent as kept and shown when it matched no user: an extension as sent, but a label
/// that holds a telephone number (a PBX that reports a forwarded mobile as the agent) masked
/// like the call's numbers: more than six digits is a number, not a label. An agent that
/// matched a user is that user's own extension, id or username and is kept as sent.
pub fn agent_label(agent: &str) -> String {
    let agent = agent.trim();
    let d = digits(agent);
    if d.len() > 6 {
        mask(&d)
    } else {
        agent.to_string()
    }
}

impl CallInput {
    /// The idempotency key: the PBX's `external_id`, or `cdr:` and the SHA-256 (hex, 32
    /// characters) of what identifies a call record when the PBX sends no id.
    pub fn key(&self) -> String {
        if let Some(id) = &self.external_id {
            return id.trim().to_string();
        }
        use sha2::Digest;
        // A mainland mobile however it is written (`+86 138-…`, `138…`), else its digits.
        let number =
            |n: &str| super::phone::parse(n).map_or_else(|_| digits(n), |m| m.as_str().to_string());
        let fields = format!(
            "{:?}|{}|{}|{}|{}",
            self.direction,
            number(&self.from),
            number(&self.to),
            self.started_at.to_rfc3339(),
            self.agent.trim()
        );
        let hash = sha2::Sha256::digest(fields.as_bytes());
        let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("cdr:{hex}")
    }
}

/// Checks an input against `now`; the error names the field, in Chinese.
pub fn check(input: &CallInput, now: DateTime<Utc>) -> Result<(), (&'static str, String)> {
    let id = input.external_id.as_deref().map(str::trim).unwrap_or("-");
    if id.is_empty() || id.chars().count() > MAX_EXTERNAL_ID || id.chars().any(char::is_control) {
        return Err((
            "external_id",
            format!("通话编号不能为空，且不超过{MAX_EXTERNAL_ID}个字符"),
        ));
    }
    for (field, n) in [("from", &input.from), ("to", &input.to)] {
        let ok_chars = n
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
        if digits(n).is_empty() || n.chars().count() > MAX_NUMBER || !ok_chars {
            return Err((field, "号码格式不正确".into()));
        }
    }
    if input.agent.trim().is_empty() || input.agent.chars().count() > MAX_AGENT {
        return Err(("agent", format!("坐席不能为空，且不超过{MAX_AGENT}个字符")));
    }
    if input.ring_seconds > MAX_SECONDS {
        return Err(("ring_seconds", "振铃时长超出范围".into()));
    }
    if input.talk_seconds > MAX_SECONDS {
        return Err(("talk_seconds", "通话时长超出范围".into()));
    }
    if input.result != CallResult::Answered && input.talk_seconds > 0 {
        return Err(("talk_seconds", "未接通的通话不能有通话时长".into()));
    }
    if input.started_at > now + Duration::minutes(5) {
        return Err(("started_at", "通话开始时间不能晚于现在".into()));
    }
    let earliest = EARLIEST_CALL
        .parse::<DateTime<Utc>>()
        .map_err(|e| ("started_at", e.to_string()))?;
    if input.started_at < earliest {
        return Err((
            "started_at",
            "通话开始时间早于2000年，请检查电话系统的时钟".into(),
        ));
    }
    Ok(())
}

impl CallInput {
    /// The customer-side number: the caller of an inbound call, the callee of an outbound one.
    pub fn customer_number(&self) -> &str {
        match self.direction {
            Direction::In => &self.from,
            Direction::Out => &self.to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Change<'a> = Box<dyn Fn(&mut CallInput) + 'a>;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_900_000, 0).unwrap_or_default()
    }

    fn input() -> CallInput {
        CallInput {
            external_id: Some("1733380000.42".into()),
            direction: Direction::Out,
            from: "8001".into(),
            to: "138 0013 8000".into(),
            started_at: now(),
            ring_seconds: 5,
            talk_seconds: 60,
            result: CallResult::Answered,
            agent: "8001".into(),
        }
    }

    #[test]
    fn numbers_are_masked_whatever_their_form() {
        assert_eq!(mask("+86 138-0013-8000"), "138****8000");
        assert_eq!(mask("02887654321"), "****4321");
        assert_eq!(mask("8001"), "****");
    }

    #[test]
    fn an_agent_holding_a_number_is_masked_like_one() {
        assert_eq!(agent_label(" 8001 "), "8001");
        assert_eq!(agent_label("xiao"), "xiao");
        assert_eq!(agent_label("SIP/8001"), "SIP/8001");
        assert_eq!(agent_label("13800138000"), "138****8000");
        assert_eq!(agent_label("SIP/13800138000"), "138****8000");
        assert_eq!(agent_label("028-87654321"), "****4321");
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        let now = now();
        assert!(check(&input(), now).is_ok());
        assert_eq!(input().customer_number(), "138 0013 8000");
        let mut i = input();
        i.direction = Direction::In;
        assert_eq!(i.customer_number(), "8001");
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|i| i.external_id = Some(" ".into())),
                "external_id",
            ),
            (Box::new(|i| i.to = "13800<b>".into()), "to"),
            (Box::new(|i| i.from = "".into()), "from"),
            (Box::new(|i| i.agent = "".into()), "agent"),
            (
                Box::new(|i| i.talk_seconds = MAX_SECONDS + 1),
                "talk_seconds",
            ),
            (
                Box::new(|i| i.result = CallResult::NoAnswer),
                "talk_seconds",
            ),
            (
                Box::new(|i| i.started_at = now + Duration::hours(1)),
                "started_at",
            ),
            (
                Box::new(|i| i.started_at = DateTime::UNIX_EPOCH),
                "started_at",
            ),
        ];
        for (change, field) in cases {
            let mut i = input();
            change(&mut i);
            assert_eq!(check(&i, now).map_err(|e| e.0), Err(field));
        }
    }
}

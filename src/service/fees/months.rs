//! Month close (月结): finance freezes a month — payments, refunds and commission lines dated in
//! it can no longer be created, changed or removed (`month_closed`), and its statements are
//! frozen with a SHA-256 over their canonical form, which `GET /finance/months/{m}` verifies
//! against the stored lines. Reopening is an admin's, with a reason; both are audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::fee;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store;
use crate::store::fees::{MonthClose, Reopening};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthView {
    pub month: String,
    /// The month has ended (Asia/Shanghai): only then may it be closed.
    pub over: bool,
    pub closed: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// The frozen hash (at the last close).
    pub hash: Option<String>,
    /// The hash of the stored lines now (shown with `GET /finance/months/{m}`).
    pub current_hash: Option<String>,
    /// A closed month: whether the stored lines still give the frozen hash.
    pub verified: Option<bool>,
    pub lines: u64,
    pub total_fen: i64,
    pub received_fen: i64,
    pub refunded_fen: i64,
    pub reopened: Vec<Reopening>,
}

fn month_arg(m: &str) -> Result<String> {
    fee::parse_month(m).ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))
}

fn refused(code: &'static str, message: String, month: &str) -> Error {
    Error::Refused {
        code,
        message,
        details: json!({"month": month}),
    }
}

impl crate::service::fees::UseCases<'_> {
    fn month_view(&self, m: &str, verify: bool) -> Result<MonthView> {
        let (rec, lines, received, refunded) = self.store.read(|tx| {
            let rec = store::fees::month(tx, m)?;
            let lines = if verify {
                Some(store::fees::month_lines(tx, m)?)
            } else {
                None
            };
            let received = store::fees::total(tx, &format!("in/{m}"))?;
            let refunded = store::fees::total(tx, &format!("out/{m}"))?;
            Ok::<_, Error>((rec, lines, received, refunded))
        })?;
        let current_hash = lines.as_ref().map(|l| fee::statement_hash(l));
        let rec = rec.unwrap_or(MonthClose {
            month: m.to_string(),
            closed: false,
            closed_at: None,
            closed_by: None,
            hash: None,
            lines: lines.as_ref().map_or(0, |l| l.len() as u64),
            total_fen: lines
                .as_ref()
                .map_or(0, |l| l.iter().map(|x| x.amount_fen).sum()),
            reopened: Vec::new(),
        });
        let verified = (rec.closed && verify).then(|| current_hash == rec.hash);
        Ok(MonthView {
            over: rec.month < fee::month_of(super::today(self.now())),
            month: rec.month,
            closed: rec.closed,
            closed_at: rec.closed_at,
            closed_by: rec.closed_by,
            hash: rec.hash,
            current_hash,
            verified,
            lines: rec.lines,
            total_fen: rec.total_fen,
            received_fen: received,
            refunded_fen: refunded,
            reopened: rec.reopened,
        })
    }

    /// `GET /finance/months/{m}`: the month's state; a closed month's frozen hash verified.
    pub fn month(&self, caller: &Caller, m: &str) -> Result<MonthView> {
        caller.require(Capability::FinanceRead)?;
        let m = month_arg(m)?;
        self.month_view(&m, true)
    }

    /// `GET /finance/months`: the last twelve months up to this one, newest first.
    pub fn months(&self, caller: &Caller) -> Result<Vec<MonthView>> {
        caller.require(Capability::FinanceRead)?;
        let mut m = fee::month_of(super::today(self.now()));
        let mut out = Vec::new();
        for _ in 0..12 {
            out.push(self.month_view(&m, false)?);
            let d = chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                .map_err(|e| Error::Internal(e.to_string()))?;
            let Some(prev) = d.checked_sub_months(chrono::Months::new(1)) else {
                break;
            };
            m = fee::month_of(prev);
        }
        Ok(out)
    }

    /// `POST /finance/months/{m}/close` (`finance.edit`): a month that is over (the current
    /// and later months 409 `month_not_over`).
    pub fn close_month(&self, caller: &Caller, m: &str, source: &str) -> Result<MonthView> {
        caller.require(Capability::FinanceEdit)?;
        let m = month_arg(m)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            // Only a month that is over: payments of the current one are still coming in.
            if m >= fee::month_of(super::today(w.now())) {
                return Err(refused(
                    "month_not_over",
                    format!("{m} 还没结束，不能月结"),
                    &m,
                ));
            }
            let before = store::fees::month(w.tx, &m)?;
            if before.as_ref().is_some_and(|c| c.closed) {
                return Err(refused("month_already_closed", format!("{m} 已经月结"), &m));
            }
            let lines = store::fees::month_lines(w.tx, &m)?;
            let hash = fee::statement_hash(&lines);
            let c = MonthClose {
                month: m.clone(),
                closed: true,
                closed_at: Some(w.now()),
                closed_by: Some(caller.user.id.clone()),
                hash: Some(hash.clone()),
                lines: lines.len() as u64,
                total_fen: lines.iter().map(|l| l.amount_fen).sum(),
                reopened: before.map(|b| b.reopened).unwrap_or_default(),
            };
            store::fees::put_month(w.tx, &c)?;
            w.audit(
                "month.closed",
                Some(&m),
                json!({"hash": hash, "lines": c.lines, "total_fen": c.total_fen}),
            )
        })?;
        self.month_view(&m, true)
    }

    /// `POST /finance/months/{m}/reopen` (admins), with a reason.
    pub fn reopen_month(
        &self,
        caller: &Caller,
        m: &str,
        req: ReopenRequest,
        source: &str,
    ) -> Result<MonthView> {
        caller.require(Capability::FinanceEdit)?;
        if !caller.user.is_admin() {
            return Err(Error::Forbidden("admin".into()));
        }
        let reason = req.reason.trim().to_string();
        if reason.is_empty() {
            return Err(Error::validation("reason", "请填写重开原因"));
        }
        let m = month_arg(m)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let Some(mut c) = store::fees::month(w.tx, &m)?.filter(|c| c.closed) else {
                return Err(refused(
                    "month_not_closed",
                    format!("{m} 没有月结，无需重开"),
                    &m,
                ));
            };
            c.closed = false;
            c.reopened.push(Reopening {
                at: w.now(),
                by: caller.user.id.clone(),
                reason: reason.clone(),
            });
            store::fees::put_month(w.tx, &c)?;
            w.audit(
                "month.reopened",
                Some(&m),
                json!({"reason": reason, "frozen_hash": c.hash}),
            )
        })?;
        self.month_view(&m, true)
    }
}

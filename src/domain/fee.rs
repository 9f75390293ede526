//! Fees (服务费), payments (回款), refunds, waivers, the lender's rebate (返佣) and commission
//! lines: the money rules, no I/O. Money is integer fen, rates are basis points.
//!
//! Rounding rules (docs/finance.md lists them all):
//! - a rate of an amount (`amount × bp / 10_000`) is rounded half up to the fen
//!   ([`rate_of`]), for the agreed fee, the rebate and the default commission scheme;
//! - a clawback is the original commission times the share of the fee refunded so far,
//!   rounded half away from zero, minus what earlier refunds already clawed back
//!   ([`clawback`]): the refunds of a fully refunded fee claw back exactly the commission.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::product::ServiceFee;

/// `amount × bp / 10_000`, rounded half up to the fen (half away from zero for a negative
/// amount).
pub fn rate_of(amount_fen: i64, bp: u32) -> i64 {
    div_round(i128::from(amount_fen) * i128::from(bp), 10_000)
}

/// `n / d` rounded half away from zero (`d > 0`).
fn div_round(n: i128, d: i128) -> i64 {
    let q = if n >= 0 {
        (2 * n + d) / (2 * d)
    } else {
        -((-2 * n + d) / (2 * d))
    };
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// The fee the product's terms give on a disbursed amount (what the default `deal.fee`
/// plugin computes): a fixed amount, or the rate rounded half up.
pub fn agreed_fee(terms: Option<ServiceFee>, disbursed_fen: i64) -> i64 {
    match terms {
        None => 0,
        Some(ServiceFee::Fixed { fen }) => fen,
        Some(ServiceFee::Rate { bp }) => rate_of(disbursed_fen, bp),
    }
}

/// The lender's rebate on a disbursed amount.
pub fn rebate(bp: Option<u32>, disbursed_fen: i64) -> i64 {
    bp.map_or(0, |bp| rate_of(disbursed_fen, bp))
}

/// How a payment came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayMethod {
    /// 转账
    Transfer,
    /// 现金
    Cash,
    /// 微信
    Wechat,
    /// 支付宝
    Alipay,
    /// 其他
    Other,
}

impl PayMethod {
    pub fn label(self) -> &'static str {
        match self {
            PayMethod::Transfer => "转账",
            PayMethod::Cash => "现金",
            PayMethod::Wechat => "微信",
            PayMethod::Alipay => "支付宝",
            PayMethod::Other => "其他",
        }
    }
}

/// A payment of the fee by the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: String,
    pub amount_fen: i64,
    pub paid_on: NaiveDate,
    pub method: PayMethod,
    pub payer: Option<String>,
    pub receipt_no: String,
    /// User id.
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Money given back to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refund {
    pub id: String,
    pub amount_fen: i64,
    pub refunded_on: NaiveDate,
    pub reason: String,
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Part of the fee a manager lets go (减免).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Waiver {
    pub id: String,
    pub amount_fen: i64,
    pub reason: String,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Money received from the lender against the rebate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RebateReceipt {
    pub id: String,
    pub amount_fen: i64,
    pub received_on: NaiveDate,
    pub receipt_no: String,
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// A deal's fee account: the agreed fee and everything received, refunded and waived, and the
/// rebate the lender owes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeeAccount {
    pub deal_id: String,
    pub officer_id: String,
    pub disbursed_on: NaiveDate,
    pub disbursed_fen: i64,
    /// The agreed fee (from `deal.fee`).
    pub fee_fen: i64,
    /// How the fee was computed (the plugin's rule text).
    pub fee_rule: String,
    pub rebate_fen: i64,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    pub waivers: Vec<Waiver>,
    pub rebate_receipts: Vec<RebateReceipt>,
    /// The store keys of the commission lines written for this deal (payments, clawbacks).
    #[serde(default)]
    pub lines: Vec<String>,
}

fn sum(it: impl Iterator<Item = i64>) -> i64 {
    it.fold(0i64, i64::saturating_add)
}

impl FeeAccount {
    pub fn paid(&self) -> i64 {
        sum(self.payments.iter().map(|p| p.amount_fen))
    }
    pub fn refunded(&self) -> i64 {
        sum(self.refunds.iter().map(|r| r.amount_fen))
    }
    pub fn waived(&self) -> i64 {
        sum(self.waivers.iter().map(|w| w.amount_fen))
    }
    /// fee − paid + refunded − waived.
    pub fn balance(&self) -> i64 {
        self.fee_fen - self.paid() + self.refunded() - self.waived()
    }
    pub fn rebate_received(&self) -> i64 {
        sum(self.rebate_receipts.iter().map(|r| r.amount_fen))
    }
    pub fn rebate_balance(&self) -> i64 {
        self.rebate_fen - self.rebate_received()
    }
    /// Paid in full: something was due and nothing is left.
    pub fn settled(&self) -> bool {
        self.fee_fen > 0 && self.balance() <= 0
    }

    /// A payment may not be zero, negative or more than the balance.
    pub fn check_payment(&self, amount_fen: i64) -> Result<(), (&'static str, String)> {
        positive(amount_fen)?;
        let balance = self.balance();
        if amount_fen > balance {
            return Err((
                "amount_fen",
                format!("超过未收余额（{}）", yuan(balance.max(0))),
            ));
        }
        Ok(())
    }

    /// A refund may not exceed what was paid and not yet refunded.
    pub fn check_refund(&self, amount_fen: i64) -> Result<(), (&'static str, String)> {
        positive(amount_fen)?;
        let left = self.paid() - self.refunded();
        if amount_fen > left {
            return Err((
                "amount_fen",
                format!("退款不能超过已收未退金额（{}）", yuan(left)),
            ));
        }
        Ok(())
    }

    /// A waiver may not exceed the balance.
    pub fn check_waiver(&self, amount_fen: i64) -> Result<(), (&'static str, String)> {
        positive(amount_fen)?;
        let balance = self.balance();
        if amount_fen > balance {
            return Err((
                "amount_fen",
                format!("减免不能超过未收余额（{}）", yuan(balance.max(0))),
            ));
        }
        Ok(())
    }

    /// A rebate receipt may not exceed the rebate outstanding.
    pub fn check_rebate_receipt(&self, amount_fen: i64) -> Result<(), (&'static str, String)> {
        positive(amount_fen)?;
        let left = self.rebate_balance();
        if amount_fen > left {
            return Err((
                "amount_fen",
                format!("超过返佣未收金额（{}）", yuan(left.max(0))),
            ));
        }
        Ok(())
    }
}

fn positive(amount_fen: i64) -> Result<(), (&'static str, String)> {
    if amount_fen <= 0 {
        return Err(("amount_fen", "金额应大于0".into()));
    }
    Ok(())
}

/// Money in messages and rule texts, grouped as the UI shows it: `1,234.50元`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    let whole = (f / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}元", f % 100)
}

/// `YYYY-MM` of a date.
pub fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// A `YYYY-MM` month as typed, else `None`.
pub fn parse_month(s: &str) -> Option<String> {
    let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()?;
    (month_of(d) == s).then(|| s.to_string())
}

/// The month after `m` (`YYYY-MM`).
pub fn next_month(m: &str) -> Option<String> {
    let d = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok()?;
    d.checked_add_months(chrono::Months::new(1)).map(month_of)
}

/// What a commission line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// On a payment.
    Commission,
    /// On a refund in the month of the original lines.
    Clawback,
    /// On a refund whose original lines are in a closed month: it lands in the refund's (open)
    /// month and names the originals.
    Adjustment,
}

/// One commission line of a user's monthly statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionLine {
    pub id: String,
    /// `YYYY-MM`: the month of the payment or refund date.
    pub month: String,
    pub on: NaiveDate,
    pub user_id: String,
    /// `officer`, `assistant`, `manager` or a firm's own role name.
    pub role: String,
    pub deal_id: String,
    /// The payment or refund the line is for.
    pub source_id: String,
    pub kind: LineKind,
    /// Negative for clawbacks and adjustments.
    pub amount_fen: i64,
    /// The scheme's rule text (Chinese).
    pub rule: String,
    /// An adjustment: the original lines (`<month>/<line id>`) it corrects.
    #[serde(default)]
    pub adjusts: Vec<String>,
}

/// A line the scheme (`commission.split`) returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitLine {
    pub user_id: String,
    pub role: String,
    pub amount_fen: i64,
    pub rule: String,
}

/// The clawback of one refund from the commission lines of the deal's payments.
///
/// `original`: the commission (not clawback) lines of the deal, `paid`: the gross of its
/// payments, `refunded_before`: refunds before this one. Per (user, role): the commission
/// times the share refunded so far, rounded half away from zero, minus the same for the
/// refunds before: after every refund of a whole fee the sum clawed back is the commission.
pub fn clawback(
    original: &[CommissionLine],
    paid: i64,
    refunded_before: i64,
    refund: i64,
) -> Vec<(String, String, i64, Vec<String>)> {
    let mut by: Vec<(String, String, i64, Vec<String>)> = Vec::new();
    for l in original.iter().filter(|l| l.kind == LineKind::Commission) {
        let line_ref = format!("{}/{}", l.month, l.id);
        match by
            .iter_mut()
            .find(|(u, r, _, _)| *u == l.user_id && *r == l.role)
        {
            Some(e) => {
                e.2 += l.amount_fen;
                e.3.push(line_ref);
            }
            None => by.push((
                l.user_id.clone(),
                l.role.clone(),
                l.amount_fen,
                vec![line_ref],
            )),
        }
    }
    if paid <= 0 {
        return Vec::new();
    }
    by.into_iter()
        .filter_map(|(user, role, total, refs)| {
            let t = i128::from(total);
            let after = div_round(t * i128::from(refunded_before + refund), i128::from(paid));
            let before = div_round(t * i128::from(refunded_before), i128::from(paid));
            let claw = -(after - before);
            (claw != 0).then_some((user, role, claw, refs))
        })
        .collect()
}

/// The canonical serialisation of a month's statements for its frozen hash: one line per
/// commission line in key order (`month`, `user`, `id`), fields separated by `\t`.
pub fn canonical(lines: &[CommissionLine]) -> String {
    let mut sorted: Vec<&CommissionLine> = lines.iter().collect();
    sorted.sort_by(|a, b| (&a.month, &a.user_id, &a.id).cmp(&(&b.month, &b.user_id, &b.id)));
    let mut out = String::new();
    for l in sorted {
        let kind = match l.kind {
            LineKind::Commission => "commission",
            LineKind::Clawback => "clawback",
            LineKind::Adjustment => "adjustment",
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            l.month,
            l.user_id,
            l.id,
            l.on,
            l.role,
            l.deal_id,
            l.source_id,
            kind,
            l.amount_fen,
            l.rule.replace(['\t', '\n'], " "),
            l.adjusts.join(",")
        ));
    }
    out
}

/// SHA-256 of [`canonical`], lowercase hex.
pub fn statement_hash(lines: &[CommissionLine]) -> String {
    let digest = Sha256::digest(canonical(lines).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn account(fee: i64) -> FeeAccount {
        FeeAccount {
            deal_id: "d".into(),
            officer_id: "o".into(),
            disbursed_on: day("2026-11-02"),
            disbursed_fen: 10_000_000,
            fee_fen: fee,
            fee_rule: String::new(),
            rebate_fen: 50_000,
            payments: Vec::new(),
            refunds: Vec::new(),
            waivers: Vec::new(),
            rebate_receipts: Vec::new(),
            lines: Vec::new(),
        }
    }

    fn pay(a: &mut FeeAccount, fen: i64) {
        a.payments.push(Payment {
            id: format!("p{}", a.payments.len()),
            amount_fen: fen,
            paid_on: day("2026-11-03"),
            method: PayMethod::Transfer,
            payer: None,
            receipt_no: "R1".into(),
            recorded_by: "u".into(),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        });
    }

    fn refund(a: &mut FeeAccount, fen: i64) {
        a.refunds.push(Refund {
            id: format!("r{}", a.refunds.len()),
            amount_fen: fen,
            refunded_on: day("2026-12-03"),
            reason: "客户退费".into(),
            recorded_by: "u".into(),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        });
    }

    #[test]
    fn the_agreed_fee_is_fixed_or_a_rate_rounded_half_up() {
        assert_eq!(agreed_fee(None, 10_000_000), 0);
        assert_eq!(
            agreed_fee(Some(ServiceFee::Fixed { fen: 88_800 }), 1),
            88_800
        );
        // 3% of 123,456.78 元 = 3,703.7034 元 → 3,703.70
        assert_eq!(
            agreed_fee(Some(ServiceFee::Rate { bp: 300 }), 12_345_678),
            370_370
        );
        // 1.5 fen → 2; 1.49 fen → 1
        assert_eq!(agreed_fee(Some(ServiceFee::Rate { bp: 300 }), 50), 2);
        assert_eq!(agreed_fee(Some(ServiceFee::Rate { bp: 149 }), 100), 1);
        assert_eq!(rebate(Some(50), 10_000_000), 50_000);
        assert_eq!(rebate(None, 10_000_000), 0);
        assert_eq!(rate_of(-50, 300), -2, "half away from zero");
    }

    #[test]
    fn partial_payments_refunds_and_waivers_move_the_balance_to_the_fen() {
        let mut a = account(300_000);
        assert_eq!(a.balance(), 300_000);
        a.check_payment(100_001).unwrap();
        pay(&mut a, 100_001);
        pay(&mut a, 99_999);
        assert_eq!((a.paid(), a.balance()), (200_000, 100_000));
        assert_eq!(a.check_payment(100_001).unwrap_err().0, "amount_fen");
        assert_eq!(a.check_payment(0).unwrap_err().1, "金额应大于0");
        refund(&mut a, 30_000);
        assert_eq!(a.balance(), 130_000);
        assert_eq!(a.check_refund(170_001).unwrap_err().0, "amount_fen");
        a.check_refund(170_000).unwrap();
        a.check_waiver(130_000).unwrap();
        assert!(a.check_waiver(130_001).is_err());
        a.waivers.push(Waiver {
            id: "w".into(),
            amount_fen: 30_000,
            reason: "老客户".into(),
            by: "m".into(),
            at: chrono::DateTime::UNIX_EPOCH,
        });
        assert_eq!(a.balance(), 100_000);
        assert!(!a.settled());
        pay(&mut a, 100_000);
        assert_eq!(a.balance(), 0);
        assert!(a.settled());
        assert!(!account(0).settled(), "nothing due is not 'collected'");
    }

    #[test]
    fn the_rebate_is_its_own_receivable() {
        let mut a = account(300_000);
        assert_eq!(a.rebate_balance(), 50_000);
        assert!(a.check_rebate_receipt(50_001).is_err());
        a.rebate_receipts.push(RebateReceipt {
            id: "b".into(),
            amount_fen: 20_000,
            received_on: day("2026-11-20"),
            receipt_no: "L1".into(),
            recorded_by: "f".into(),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        });
        assert_eq!(a.rebate_balance(), 30_000);
        assert_eq!(
            a.balance(),
            300_000,
            "the rebate does not pay the customer's fee"
        );
    }

    fn line(user: &str, role: &str, fen: i64) -> CommissionLine {
        CommissionLine {
            id: format!("{user}{role}{fen}"),
            month: "2026-11".into(),
            on: day("2026-11-03"),
            user_id: user.into(),
            role: role.into(),
            deal_id: "d".into(),
            source_id: "p".into(),
            kind: LineKind::Commission,
            amount_fen: fen,
            rule: "r".into(),
            adjusts: Vec::new(),
        }
    }

    #[test]
    fn refunds_claw_back_proportionally_and_exactly_in_total() {
        // 3,333.33 元 of commission on a 33,333.33 元 fee, refunded in three parts.
        let orig = vec![line("o", "officer", 333_333), line("a", "assistant", 1)];
        let paid = 3_333_333;
        let c1 = clawback(&orig, paid, 0, 1_111_111);
        assert_eq!(c1[0].2, -111_111);
        assert_eq!(c1[0].3, vec!["2026-11/oofficer333333".to_string()]);
        // 1 fen × 1/3 = 0.33 → 0: no line.
        assert_eq!(c1.len(), 1);
        let c2 = clawback(&orig, paid, 1_111_111, 1_111_111);
        assert_eq!(c2[0].2, -111_111);
        // the assistant's 1 fen × 2/3 = 0.67 → 1 after the second refund
        assert_eq!(c2[1].2, -1);
        let c3 = clawback(&orig, paid, 2_222_222, 1_111_111);
        assert_eq!(c3[0].2, -111_111);
        assert_eq!(c3.len(), 1);
        let officer: i64 = [&c1, &c2, &c3]
            .iter()
            .flat_map(|c| c.iter())
            .filter(|l| l.0 == "o")
            .map(|l| l.2)
            .sum();
        assert_eq!(officer, -333_333);
        // Half of 1,000.01 元 → 500.005 → 500.01 (half away from zero)
        let c = clawback(&[line("o", "officer", 100_001)], 200_000, 0, 100_000);
        assert_eq!(c[0].2, -50_001);
    }

    #[test]
    fn months_parse_and_advance() {
        assert_eq!(parse_month("2026-11").as_deref(), Some("2026-11"));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("2026-1"), None);
        assert_eq!(next_month("2026-12").as_deref(), Some("2027-01"));
        assert_eq!(month_of(day("2026-02-28")), "2026-02");
        assert_eq!(yuan(-123_405), "-1,234.05元");
        assert_eq!(yuan(10_000_000), "100,000.00元");
        assert_eq!(yuan(99_999), "999.99元");
        assert_eq!(yuan(123_456_789_012), "1,234,567,890.12元");
        assert_eq!(yuan(5), "0.05元");
    }

    #[test]
    fn the_statement_hash_changes_with_any_byte() {
        let lines = vec![line("o", "officer", 100), line("a", "assistant", 5)];
        let h = statement_hash(&lines);
        assert_eq!(h.len(), 64);
        let reordered = vec![lines[1].clone(), lines[0].clone()];
        assert_eq!(statement_hash(&reordered), h, "order does not matter");
        let mut changed = lines.clone();
        changed[0].amount_fen = 101;
        assert_ne!(statement_hash(&changed), h);
    }
}

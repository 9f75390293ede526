//! Brokers' referrals and referral fees (schema 29, docs/brokers.md).
//!
//! - `referrals`: id → [`Referral`]. A broker's list is its `b:<broker>/<referral>` keys in
//!   `referral_keys` (ULIDs: time order), paged newest first; its size is the counter
//!   `referrals/<broker>` in `counters`, bumped in the referral's transaction.
//! - `referral_fees`: id → [`ReferralFee`], keyed `m:<month due>/<fee>` (finance's list of a
//!   month), `u:<fee>` while unpaid, `d:<deal>` → fee id (one fee per deal). An unpaid fee is
//!   voided (removed, its audit row keeps it) when its deal's fee is no longer collected.
//!
//! A broker sees the status of a referral, never the customer: [`status_of`] reads the
//! customer's stage and the stage of its most advanced open deal here, inside `store`, and
//! hands out the status alone.

use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, pools, tables};
use crate::domain::customer::{Customer, Stage};
use crate::domain::deal::DealStage;

/// One referral as recorded: whom it went to and what was consented to. The customer's data
/// stays on the customer record; the broker's list shows the masked name and phone kept here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Referral {
    pub id: String,
    pub broker_id: String,
    pub customer_id: String,
    /// A new customer (`true`) or one the firm already had (the broker is told 已有客户 only).
    pub new_customer: bool,
    /// `张**`
    pub name_masked: String,
    /// `138****5678`
    pub phone_masked: String,
    pub city: Option<String>,
    /// The version of the borrower's consent text the broker confirmed.
    pub consent_version: u32,
    pub at: DateTime<Utc>,
}

/// Where a referral stands, as its broker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// 已有客户: the firm already had the borrower (nothing more is shown).
    Existing,
    /// 待跟进: a lead, being followed up.
    Following,
    /// 已签约: a deal signed (signed, submitted, approved).
    Signed,
    /// 已放款: a deal disbursed (or its fee collected).
    Disbursed,
    /// 未成交: lost, invalid, deleted, or every deal rejected or withdrawn.
    Closed,
}

/// A referral fee owed to a broker for one deal (a payable of finance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferralFee {
    pub id: String,
    pub deal_id: String,
    pub broker_id: String,
    pub channel_id: String,
    /// The channel's name when the fee fell due: the ROI report counts the fee as its cost.
    pub channel_name: String,
    /// `YYYY-MM`: the month the deal's fee was collected, when the fee falls due.
    pub month: String,
    /// What the rule computed from: the deal's fee collected (fen).
    pub base_fen: i64,
    pub amount_fen: i64,
    /// How `broker.fee` computed it (Chinese).
    pub rule: String,
    pub due_at: DateTime<Utc>,
    pub paid: Option<FeePaid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeePaid {
    pub paid_on: NaiveDate,
    pub by: String,
    pub at: DateTime<Utc>,
}

fn count_key(broker: &str) -> String {
    format!("referrals/{broker}")
}

/// Records a referral, its key and the broker's counter.
pub fn add_referral(tx: &WriteTransaction, r: &Referral) -> Result<()> {
    tx.open_table(tables::REFERRALS)?
        .insert(r.id.as_str(), codec::encode(r)?.as_slice())?;
    tx.open_table(tables::REFERRAL_KEYS)?
        .insert(format!("b:{}/{}", r.broker_id, r.id).as_str(), "")?;
    pools::bump(tx, &count_key(&r.broker_id))?;
    Ok(())
}

/// How many referrals a broker has made.
pub fn referral_count(tx: &ReadTransaction, broker: &str) -> Result<u64> {
    pools::counter(tx, &count_key(broker))
}

/// Up to `limit` referrals of `broker` older than the cursor (a referral id), newest first.
pub fn referrals_before(
    tx: &ReadTransaction,
    broker: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<Referral>> {
    let keys = tx.open_table(tables::REFERRAL_KEYS)?;
    let rows = tx.open_table(tables::REFERRALS)?;
    let start = format!("b:{broker}/");
    let end = match before {
        Some(id) => format!("b:{broker}/{id}"),
        None => format!("b:{broker}0"),
    };
    let mut out = Vec::new();
    for row in keys.range(start.as_str()..end.as_str())?.rev().take(limit) {
        let (k, _) = row?;
        let id = k.value().rsplit('/').next().unwrap_or_default().to_string();
        if let Some(v) = rows.get(id.as_str())? {
            out.push(codec::decode::<Referral>("referrals", v.value())?);
        }
    }
    Ok(out)
}

/// The status of a referral's customer: its stage and its most advanced open deal's, and
/// nothing else of it.
pub fn status_of(tx: &ReadTransaction, r: &Referral) -> Result<ReferralStatus> {
    if !r.new_customer {
        return Ok(ReferralStatus::Existing);
    }
    let customer: Option<Customer> = tx
        .open_table(tables::CUSTOMERS)?
        .get(r.customer_id.as_str())?
        .map(|v| super::customer_codec::decode(&r.customer_id, v.value()))
        .transpose()?;
    let Some(c) = customer.filter(|c| c.deleted_at.is_none()) else {
        return Ok(ReferralStatus::Closed);
    };
    Ok(match super::deals::lead_stage(tx, &c.id)? {
        Some(DealStage::Disbursed | DealStage::FeeCollected) => ReferralStatus::Disbursed,
        Some(DealStage::Signed | DealStage::Submitted | DealStage::Approved) => {
            ReferralStatus::Signed
        }
        _ if matches!(c.stage, Stage::Lost | Stage::Invalid) => ReferralStatus::Closed,
        _ if matches!(c.stage, Stage::Won) => ReferralStatus::Disbursed,
        _ => ReferralStatus::Following,
    })
}

pub fn fee_w(tx: &WriteTransaction, id: &str) -> Result<Option<ReferralFee>> {
    super::org::decode_one(&tx.open_table(tables::REFERRAL_FEES)?, id, "referral_fees")
}

/// The fee already owed for a deal, if any.
pub fn fee_of_deal(tx: &WriteTransaction, deal_id: &str) -> Result<Option<ReferralFee>> {
    let id = tx
        .open_table(tables::REFERRAL_KEYS)?
        .get(format!("d:{deal_id}").as_str())?
        .map(|v| v.value().to_string());
    match id {
        Some(id) => fee_w(tx, &id),
        None => Ok(None),
    }
}

/// Writes a fee and its keys; a new fee (`before` = `None`) counts as a cost of its channel
/// in its month (`store::channels`, metric `broker_fees`).
pub fn put_fee(tx: &WriteTransaction, before: Option<&ReferralFee>, f: &ReferralFee) -> Result<()> {
    let mut keys = tx.open_table(tables::REFERRAL_KEYS)?;
    keys.insert(format!("m:{}/{}", f.month, f.id).as_str(), "")?;
    keys.insert(format!("d:{}", f.deal_id).as_str(), f.id.as_str())?;
    if f.paid.is_some() {
        keys.remove(format!("u:{}", f.id).as_str())?;
    } else {
        keys.insert(format!("u:{}", f.id).as_str(), "")?;
    }
    tx.open_table(tables::REFERRAL_FEES)?
        .insert(f.id.as_str(), codec::encode(f)?.as_slice())?;
    if before.is_none() {
        super::channels::on_referral_fee(tx, &f.month, &f.channel_name, f.amount_fen)?;
    }
    Ok(())
}

/// Voids an unpaid fee whose deal's fee is no longer collected (the settling payment was
/// removed, or the agreed fee recomputed upward): the fee and its keys go, and its cost leaves
/// its channel's month. The deal may fall due again (a new fee) once it is settled again.
pub fn void_fee(tx: &WriteTransaction, f: &ReferralFee) -> Result<()> {
    let mut keys = tx.open_table(tables::REFERRAL_KEYS)?;
    keys.remove(format!("m:{}/{}", f.month, f.id).as_str())?;
    keys.remove(format!("d:{}", f.deal_id).as_str())?;
    keys.remove(format!("u:{}", f.id).as_str())?;
    tx.open_table(tables::REFERRAL_FEES)?
        .remove(f.id.as_str())?;
    super::channels::on_referral_fee(tx, &f.month, &f.channel_name, -f.amount_fen)
}

/// The fees due in `month` (`YYYY-MM`), oldest first: one range of keys.
pub fn fees_of_month(tx: &ReadTransaction, month: &str) -> Result<Vec<ReferralFee>> {
    let keys = tx.open_table(tables::REFERRAL_KEYS)?;
    let rows = tx.open_table(tables::REFERRAL_FEES)?;
    let mut out = Vec::new();
    for row in keys.range(format!("m:{month}/").as_str()..format!("m:{month}0").as_str())? {
        let (k, _) = row?;
        let id = k.value().rsplit('/').next().unwrap_or_default().to_string();
        if let Some(v) = rows.get(id.as_str())? {
            out.push(codec::decode::<ReferralFee>("referral_fees", v.value())?);
        }
    }
    Ok(out)
}

/// Up to `limit` unpaid fees, oldest first.
pub fn unpaid(tx: &ReadTransaction, limit: usize) -> Result<Vec<ReferralFee>> {
    let keys = tx.open_table(tables::REFERRAL_KEYS)?;
    let rows = tx.open_table(tables::REFERRAL_FEES)?;
    let mut out = Vec::new();
    for row in keys.range("u:".."u;")?.take(limit) {
        let (k, _) = row?;
        let id = k.value().trim_start_matches("u:").to_string();
        if let Some(v) = rows.get(id.as_str())? {
            out.push(codec::decode::<ReferralFee>("referral_fees", v.value())?);
        }
    }
    Ok(out)
}

//! Contract templates (every version kept) and frozen contracts with their signing links.
//!
//! Tables: `contract_templates` (id → the current version), `contract_template_versions`
//! (`<id>/<version, 8 digits>` → that version), `contracts` (id → contract), `contract_keys`:
//! `d:<deal>/<contract>` → "" (a deal's contracts) and `l:<token sha256>` → contract id (the
//! live signing link; removed when the link is used, re-issued or the contract voided).
//!
//! Contracts are read outside `store` through a [`Reader`] made from what the caller sees of
//! deals (a contract is seen with its deal; out of scope is `None`, like absent), or by a
//! signing token's hash ([`by_link`]: the token is the borrower's authority, nothing else).

use redb::{ReadableTable, WriteTransaction};

use super::customers::Tx;
use super::deals::SeesDeals;
use super::{Result, codec, tables};
use crate::domain::contract::{Contract, ContractState, ContractTemplate};

macro_rules! open {
    ($tx:expr, $table:expr, |$t:ident| $body:expr) => {
        match $tx {
            Tx::Read(tx) => {
                let $t = tx.open_table($table)?;
                $body
            }
            Tx::Write(tx) => {
                let $t = tx.open_table($table)?;
                $body
            }
        }
    };
}

fn version_key(id: &str, version: u32) -> String {
    format!("{id}/{version:08}")
}

/// Writes a template version: the current row and its version row.
pub fn put_template(tx: &WriteTransaction, t: &ContractTemplate) -> Result<()> {
    let bytes = codec::encode(t)?;
    tx.open_table(tables::CONTRACT_TEMPLATES)?
        .insert(t.id.as_str(), bytes.as_slice())?;
    tx.open_table(tables::CONTRACT_TEMPLATE_VERSIONS)?
        .insert(version_key(&t.id, t.version).as_str(), bytes.as_slice())?;
    Ok(())
}

/// A template's current version.
pub fn template<'t>(tx: impl Into<Tx<'t>>, id: &str) -> Result<Option<ContractTemplate>> {
    open!(tx.into(), tables::CONTRACT_TEMPLATES, |t| t
        .get(id)?
        .map(|v| codec::decode("contract_templates", v.value()))
        .transpose())
}

/// Every template (the firm keeps a handful: a settings-sized table, like roles).
pub fn templates<'t>(tx: impl Into<Tx<'t>>) -> Result<Vec<ContractTemplate>> {
    open!(tx.into(), tables::CONTRACT_TEMPLATES, |t| {
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            out.push(codec::decode("contract_templates", v.value())?);
        }
        Ok(out)
    })
}

/// One version of a template.
pub fn template_version<'t>(
    tx: impl Into<Tx<'t>>,
    id: &str,
    version: u32,
) -> Result<Option<ContractTemplate>> {
    open!(tx.into(), tables::CONTRACT_TEMPLATE_VERSIONS, |t| t
        .get(version_key(id, version).as_str())?
        .map(|v| codec::decode("contract_template_versions", v.value()))
        .transpose())
}

/// Every version of a template, newest first.
pub fn template_versions<'t>(tx: impl Into<Tx<'t>>, id: &str) -> Result<Vec<ContractTemplate>> {
    let (start, end) = (format!("{id}/"), format!("{id}0"));
    open!(tx.into(), tables::CONTRACT_TEMPLATE_VERSIONS, |t| {
        let mut out = Vec::new();
        for row in t.range(start.as_str()..end.as_str())?.rev() {
            let (_, v) = row?;
            out.push(codec::decode("contract_template_versions", v.value())?);
        }
        Ok(out)
    })
}

/// Writes a contract and its keys (`before`: as it was, if any): the deal key, the link key
/// while the contract has a live link, and a dead-link key (`x:<token sha256>` → why) for a
/// link that was used, replaced or voided, so a second use is told apart from a guess.
pub fn put(tx: &WriteTransaction, before: Option<&Contract>, c: &Contract) -> Result<()> {
    tx.open_table(tables::CONTRACTS)?
        .insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    let mut keys = tx.open_table(tables::CONTRACT_KEYS)?;
    keys.insert(format!("d:{}/{}", c.deal_id, c.id).as_str(), "")?;
    let live = |x: &Contract| {
        x.link
            .as_ref()
            .filter(|_| x.state == ContractState::Sent)
            .map(|l| l.token_sha256.clone())
    };
    let (old, new) = (before.and_then(live), live(c));
    if let Some(old) = &old
        && new.as_ref() != Some(old)
    {
        keys.remove(format!("l:{old}").as_str())?;
        let why = match c.state {
            ContractState::Signed => DEAD_USED,
            ContractState::Void => DEAD_VOID,
            _ => DEAD_REPLACED,
        };
        keys.insert(format!("x:{old}").as_str(), why)?;
    }
    if let Some(new) = &new {
        keys.insert(format!("l:{new}").as_str(), c.id.as_str())?;
    }
    Ok(())
}

/// Why a link is dead: used to sign.
pub const DEAD_USED: &str = "used";
/// A newer link was issued.
pub const DEAD_REPLACED: &str = "replaced";
/// The contract was voided.
pub const DEAD_VOID: &str = "void";

/// What a signing token finds.
#[derive(Debug)]
pub enum Link {
    /// A live link's contract (its expiry is for the caller to check against its clock).
    Live(Box<Contract>),
    /// A link that existed and is no more: [`DEAD_USED`], [`DEAD_REPLACED`], [`DEAD_VOID`].
    Dead(String),
    /// Never issued (a guess).
    Unknown,
}

/// A deal's contracts, newest first, unscoped (erasure: the caller checked who may).
pub fn of_deal_w(tx: &WriteTransaction, deal_id: &str) -> Result<Vec<Contract>> {
    let mut out = Vec::new();
    for id in ids_of_deal(Tx::Write(tx), deal_id)? {
        if let Some(c) = get_raw(Tx::Write(tx), &id)? {
            out.push(c);
        }
    }
    Ok(out)
}

fn get_raw(tx: Tx<'_>, id: &str) -> Result<Option<Contract>> {
    open!(tx, tables::CONTRACTS, |t| t
        .get(id)?
        .map(|v| codec::decode("contracts", v.value()))
        .transpose())
}

fn ids_of_deal(tx: Tx<'_>, deal_id: &str) -> Result<Vec<String>> {
    let (start, end) = (format!("d:{deal_id}/"), format!("d:{deal_id}0"));
    open!(tx, tables::CONTRACT_KEYS, |t| {
        let mut out = Vec::new();
        for row in t.range(start.as_str()..end.as_str())?.rev() {
            let (k, _) = row?;
            out.push(k.value()[start.len()..].to_string());
        }
        Ok(out)
    })
}

/// What a signing token (by its SHA-256) finds.
pub fn by_link<'t>(tx: impl Into<Tx<'t>>, token_sha256: &str) -> Result<Link> {
    let tx = tx.into();
    let (id, dead) = open!(tx, tables::CONTRACT_KEYS, |t| (
        t.get(format!("l:{token_sha256}").as_str())?
            .map(|v| v.value().to_string()),
        t.get(format!("x:{token_sha256}").as_str())?
            .map(|v| v.value().to_string())
    ));
    if let Some(id) = id {
        return Ok(match get_raw(tx, &id)? {
            Some(c) => Link::Live(Box::new(c)),
            None => Link::Unknown,
        });
    }
    Ok(dead.map_or(Link::Unknown, Link::Dead))
}

/// The signed contracts of a deal (for the `signed` stage, in the move's transaction, after
/// the deal's scope was checked).
pub fn signed_of_deal(tx: &WriteTransaction, deal_id: &str) -> Result<Vec<Contract>> {
    let mut out = Vec::new();
    for id in ids_of_deal(Tx::Write(tx), deal_id)? {
        if let Some(c) = get_raw(Tx::Write(tx), &id)?
            && c.state == ContractState::Signed
        {
            out.push(c);
        }
    }
    Ok(out)
}

/// Every contract id (key rotation re-seals each contract's encrypted text and signature).
pub fn all_ids<'t>(tx: impl Into<Tx<'t>>) -> Result<Vec<String>> {
    open!(tx.into(), tables::CONTRACTS, |t| {
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, _) = row?;
            out.push(k.value().to_string());
        }
        Ok(out)
    })
}

/// A contract by id whoever's deal it is (key rotation only).
pub fn for_maintenance(tx: &WriteTransaction, id: &str) -> Result<Option<Contract>> {
    get_raw(Tx::Write(tx), id)
}

/// A stored contract's bytes as they are, for tests and `doctor` that check tampering.
pub fn raw_bytes<'t>(tx: impl Into<Tx<'t>>, id: &str) -> Result<Option<Vec<u8>>> {
    open!(tx.into(), tables::CONTRACTS, |t| Ok(t
        .get(id)?
        .map(|v| v.value().to_vec())))
}

/// Overwrites a stored contract's bytes (tests of verification only).
pub fn overwrite_raw(tx: &WriteTransaction, id: &str, bytes: &[u8]) -> Result<()> {
    tx.open_table(tables::CONTRACTS)?.insert(id, bytes)?;
    Ok(())
}

/// The one way to read contracts by id or deal from outside `store`: with their deal's scope.
pub struct Reader<'t> {
    tx: Tx<'t>,
    sees: &'t dyn SeesDeals,
}

impl<'t> Reader<'t> {
    pub fn scoped(tx: impl Into<Tx<'t>>, sees: &'t dyn SeesDeals) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            sees,
        }
    }

    fn sees_deal(&self, deal_id: &str) -> Result<bool> {
        Ok(super::deals::Reader::scoped(self.tx, self.sees)
            .get(deal_id)?
            .is_some())
    }

    /// The contract when the reader sees its deal; `None` when absent or out of scope alike.
    pub fn get(&self, id: &str) -> Result<Option<Contract>> {
        match get_raw(self.tx, id)? {
            Some(c) if self.sees_deal(&c.deal_id)? => Ok(Some(c)),
            _ => Ok(None),
        }
    }

    /// A deal's contracts, newest first; `None` when the reader does not see the deal.
    pub fn of_deal(&self, deal_id: &str) -> Result<Option<Vec<Contract>>> {
        if !self.sees_deal(deal_id)? {
            return Ok(None);
        }
        let mut out = Vec::new();
        for id in ids_of_deal(self.tx, deal_id)? {
            if let Some(c) = get_raw(self.tx, &id)? {
                out.push(c);
            }
        }
        Ok(Some(out))
    }
}

//! The audit log: append-only and hash-chained. Each entry carries an HMAC-SHA256, under a
//! key derived from the master key (`crypto::audit_key`), of the previous entry's hash and its
//! own content, so editing, deleting or reordering any entry breaks the chain at that point,
//! and whoever holds the store file but not the key cannot recompute the chain afterwards.
//! Deleting the newest entries leaves a valid chain: that is caught against the head kept
//! outside the store (`audit_anchor`, backup manifests, the value `doctor` prints). Entries
//! are written in the same transaction as the change they record. Nothing in zhudai deletes
//! them. Before schema 12 the chain was plain SHA-256; migration 12 re-keys it ([`rekey`]).

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Error, Result, WriteTransaction, codec, tables};

const T: &str = "audit";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The user's id, or `None` for anonymous callers (failed logins) and the system.
    pub actor_id: Option<String>,
    /// Username as typed or known, or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `auth.login`, `auth.login_failed`, `setup.completed`.
    pub action: String,
    pub target: Option<String>,
    /// Action-specific facts (never plaintext personal data).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Source address of the request, or `cli`.
    pub source: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Every action the audit log can hold, by area. A use case writes one of these and nothing
/// else (checked when an entry is appended in debug builds, and on the source by
/// `tests/it/audit_actions.rs`); the UI has a label for each in both dictionaries and offers
/// each in the audit page's filter (`web-assets/i18n/check.mjs` fails otherwise).
pub const ACTIONS: &[&str] = &[
    "auth.login",
    "auth.login_failed",
    "auth.login_throttled",
    "auth.logout",
    "setup.completed",
    "user.created",
    "user.updated",
    "user.password_reset",
    "user.password_changed",
    "user.departed",
    "department.created",
    "department.updated",
    "department.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "token.created",
    "token.revoked",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.restored",
    "customer.erased",
    "customer.purged",
    "customer.revealed",
    "customer.number_lookups_exhausted",
    "customer.exported",
    "customer.export_refused",
    "report.exported",
    "customer.imported",
    "customer.transferred",
    "transfer.requested",
    "transfer.approved",
    "transfer.rejected",
    "customer.bulk",
    "customer.consent_changed",
    "customer.claimed",
    "customer.released",
    "customer.recalled",
    "customer.locked",
    "customer.unlocked",
    "customer.assigned",
    "followup.edited",
    "custom_field.created",
    "custom_field.updated",
    "custom_field.deleted",
    "tag_group.saved",
    "tag_group.deleted",
    "import_template.created",
    "import_template.deleted",
    "pool.created",
    "pool.updated",
    "pool.deleted",
    "pool.swept",
    "product.created",
    "product.updated",
    "product.activated",
    "product.deactivated",
    "deal.created",
    "deal.updated",
    "deal.stage_changed",
    "deal.override",
    "document.added",
    "document.removed",
    "document.received",
    "document.lent_out",
    "document.returned",
    "document.lost",
    "document.attached",
    "document.exported",
    "lead.checked",
    "application_form.created",
    "application_form.updated",
    "customer.applied",
    "fee.payment",
    "fee.refund",
    "fee.waived",
    "fee.recomputed",
    "fee.rebate_received",
    "fee.payment_removed",
    "broker.referral",
    "broker.fee_due",
    "broker.fee_paid",
    "broker.fee_voided",
    "month.closed",
    "month.reopened",
    "target.set",
    "contract_template.created",
    "contract_template.updated",
    "contract.created",
    "contract.link_issued",
    "contract.voided",
    "contract.signed",
    "call.ingested",
    "call.attached",
    "call.recording_added",
    "call.recording_played",
    "call.dialed",
    "channel.created",
    "channel.updated",
    "channel.cost_set",
    "assignment.user_updated",
    "plugin.saved",
    "plugin.deleted",
    "plugin.disk_edit",
    "backup.requested",
    "backup.settings_changed",
    "backup.completed",
    "backup.failed",
    "backup.snapshot",
    "key.rotated",
    CHAIN_KEYED,
];

/// What a use case records; sequence, time and hashes are filled in by [`append`].
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub source: String,
}

/// The key of the chain's HMAC; never stored, derived from the master key at open.
/// Carries the fingerprint of the master key it comes from (`settings.key_check`), so a
/// store is never re-sealed under a key that did not write it.
#[derive(Clone)]
pub struct AuditKey {
    key: [u8; 32],
    master_check: String,
}

impl AuditKey {
    pub fn new(key: [u8; 32], master_check: String) -> AuditKey {
        AuditKey { key, master_check }
    }

    pub fn master_check(&self) -> &str {
        &self.master_check
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The newest entry of a chain: its sequence number and hash. Written as `<seq>:<hash>`, the
/// form `doctor` prints for the operator to keep and `--audit-head` takes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Head, String> {
        let (seq, hash) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{s}: expected <seq>:<hash>"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("{seq}: not an entry number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash}: not a 64-digit hex hash"));
        }
        Ok(Head {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// How the entries of a chain are sealed: the plain SHA-256 of schemas before 12, or keyed.
#[derive(Debug, Clone, Copy)]
pub enum Sealing<'a> {
    Legacy,
    Keyed(&'a AuditKey),
}

/// The entry's content without its hash: serde_json writes struct fields in declaration
/// order and maps sorted, so these bytes are stable.
fn content(entry: &AuditEntry) -> Result<Vec<u8>> {
    let mut unsigned = entry.clone();
    unsigned.hash = String::new();
    serde_json::to_vec(&unsigned).map_err(|e| Error::Encode(e.to_string()))
}

fn seal(sealing: Sealing<'_>, entry: &AuditEntry) -> Result<String> {
    let content = content(entry)?;
    Ok(match sealing {
        Sealing::Legacy => {
            let mut h = Sha256::new();
            h.update(entry.prev_hash.as_bytes());
            h.update(&content);
            hex::encode(h.finalize())
        }
        Sealing::Keyed(key) => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.key)
                .map_err(|e| Error::Encode(e.to_string()))?;
            mac.update(entry.prev_hash.as_bytes());
            mac.update(&[0]);
            mac.update(&content);
            hex::encode(mac.finalize().into_bytes())
        }
    })
}

/// What the two JSON fields after `source` look like with both hashes empty: serde_json
/// writes struct fields in declaration order, so an entry serialised with empty hashes ends
/// with exactly these bytes.
const EMPTY_HASHES: &[u8] = b"\x2c\x22prev_hash\x22:\x22\x22\x2c\x22hash\x22:\x22\x22}";
// The JSON pieces below are spelt with `\x22` for the quote: `tests/it/audit_actions.rs`
// reads string literals by splitting the source at quote characters.
const PREV_OPEN: &[u8] = b"\x2c\x22prev_hash\x22:\x22";
const PREV_CLOSE_EMPTY_HASH: &[u8] = b"\x22\x2c\x22hash\x22:\x22\x22}";
const HASH_OPEN: &[u8] = b"\x22\x2c\x22hash\x22:\x22";
const HASH_CLOSE: &[u8] = b"\x22}";

/// [`seal`] (keyed) and [`codec::encode`] of `entry` with `prev_hash` and its hash, from one
/// serialisation: `entry` has empty hashes; its JSON is written once and both hashes (hex,
/// nothing to escape) spliced in. `content` and `stored` are scratch buffers; `stored` ends
/// up holding the encoded entry, byte for byte what `codec::encode` writes. Returns the hash.
fn seal_spliced(
    key_mac: &Hmac<Sha256>,
    entry: &AuditEntry,
    prev_hash: &str,
    content: &mut Vec<u8>,
    stored: &mut Vec<u8>,
) -> Result<String> {
    if !entry.prev_hash.is_empty()
        || !entry.hash.is_empty()
        || !prev_hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(Error::Misuse(
            "seal_spliced takes an entry without hashes and a hex previous hash".into(),
        ));
    }
    content.clear();
    serde_json::to_writer(&mut *content, entry).map_err(|e| Error::Encode(e.to_string()))?;
    let Some(body) = content
        .len()
        .checked_sub(EMPTY_HASHES.len())
        .filter(|&n| content.get(n..) == Some(EMPTY_HASHES))
    else {
        return Err(Error::Encode(
            "audit entry JSON does not end with its hashes".into(),
        ));
    };
    content.truncate(body);
    content.extend_from_slice(PREV_OPEN);
    content.extend_from_slice(prev_hash.as_bytes());
    let with_prev = content.len();
    content.extend_from_slice(PREV_CLOSE_EMPTY_HASH);
    let mut mac = key_mac.clone();
    mac.update(prev_hash.as_bytes());
    mac.update(&[0]);
    mac.update(content.as_slice());
    let hash = hex::encode(mac.finalize().into_bytes());
    stored.clear();
    stored.push(codec::FORMAT_JSON);
    stored.extend_from_slice(content.get(..with_prev).unwrap_or_default());
    stored.extend_from_slice(HASH_OPEN);
    stored.extend_from_slice(hash.as_bytes());
    stored.extend_from_slice(HASH_CLOSE);
    Ok(hash)
}

/// Appends one entry at the end of the chain; returns its sequence number. Refused when the
/// store was opened without the audit key (an entry that no one could verify is no entry).
pub fn append(tx: &WriteTransaction, at: DateTime<Utc>, new: NewAudit) -> Result<u64> {
    append_many(tx, at, vec![new])?;
    tx.audit_head()
        .map(|h| h.seq)
        .ok_or_else(|| Error::Misuse("the audit head was not noted after an append".into()))
}

/// [`append`] for many entries at one instant, in the order given, with one table handle:
/// the same chain as one [`append`] after the other.
pub fn append_many(tx: &WriteTransaction, at: DateTime<Utc>, entries: Vec<NewAudit>) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let key = tx.audit_key().ok_or(Error::AuditKeyMissing)?;
    let mut table = tx.open_table(tables::AUDIT)?;
    // The entry this transaction appended last is the chain's head: no need to read and
    // decode it back (a sweep appends thousands per transaction).
    let (mut seq, mut prev_hash) = match tx.audit_head() {
        Some(head) => (head.seq, head.hash),
        None => match table.last()? {
            Some((k, v)) => {
                let last: AuditEntry = codec::decode(T, v.value())?;
                (k.value(), last.hash)
            }
            None => (0, GENESIS.to_string()),
        },
    };
    // Each entry serialised once, without its two hashes (this part does not depend on the
    // chain); the chain then only splices the hashes in and computes the HMAC.
    let key_mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.key)
        .map_err(|e| Error::Encode(e.to_string()))?;
    let mut content = Vec::with_capacity(512);
    let mut stored = Vec::with_capacity(512);
    let mut index = Index::open(tx)?;
    for new in entries {
        debug_assert!(
            ACTIONS.contains(&new.action),
            "audit action {} is not in store::audit::ACTIONS",
            new.action
        );
        seq += 1;
        let entry = AuditEntry {
            seq,
            at,
            actor_id: new.actor_id,
            actor: new.actor,
            action: new.action.to_string(),
            target: new.target,
            detail: new.detail,
            source: new.source,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let hash = seal_spliced(&key_mac, &entry, &prev_hash, &mut content, &mut stored)?;
        table.insert(seq, stored.as_slice())?;
        index.add(seq, &entry)?;
        prev_hash = hash;
    }
    index.finish()?;
    tx.note_audit_head(Head {
        seq,
        hash: prev_hash,
    });
    Ok(())
}

/// The newest entry, if any.
pub fn head(tx: &ReadTransaction) -> Result<Option<Head>> {
    let table = tx.open_table(tables::AUDIT)?;
    head_of(&table)
}

fn head_of(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<Option<Head>> {
    match table.last()? {
        Some((k, v)) => {
            let e: AuditEntry = codec::decode(T, v.value())?;
            Ok(Some(Head {
                seq: k.value(),
                hash: e.hash,
            }))
        }
        None => Ok(None),
    }
}

/// The stored hash of entry `seq`, if there is such an entry.
pub fn hash_at(tx: &ReadTransaction, seq: u64) -> Result<Option<String>> {
    let table = tx.open_table(tables::AUDIT)?;
    match table.get(seq)? {
        Some(v) => Ok(Some(codec::decode::<AuditEntry>(T, v.value())?.hash)),
        None => Ok(None),
    }
}

/// How a chain stands against a head kept outside the store.
#[derive(Debug, PartialEq, Eq)]
pub enum AgainstAnchor {
    /// The chain ends at the anchor.
    Matches,
    /// The chain holds the anchored entry unchanged and `by` newer ones (the anchor lags).
    Extends { by: u64 },
    /// The chain ends before the anchored entry: newest entries were deleted.
    Truncated { chain_ends_at: u64 },
    /// The anchored entry is there but is not the one anchored: rewritten.
    Rewritten,
}

pub fn against(tx: &ReadTransaction, anchor: &Head) -> Result<AgainstAnchor> {
    let last = head(tx)?.map(|h| h.seq).unwrap_or(0);
    if anchor.seq > last {
        return Ok(AgainstAnchor::Truncated {
            chain_ends_at: last,
        });
    }
    if anchor.seq == 0 {
        return Ok(if last == 0 {
            AgainstAnchor::Matches
        } else {
            AgainstAnchor::Extends { by: last }
        });
    }
    match hash_at(tx, anchor.seq)? {
        Some(h) if h == anchor.hash && anchor.seq == last => Ok(AgainstAnchor::Matches),
        Some(h) if h == anchor.hash => Ok(AgainstAnchor::Extends {
            by: last - anchor.seq,
        }),
        Some(_) => Ok(AgainstAnchor::Rewritten),
        None => Ok(AgainstAnchor::Truncated {
            chain_ends_at: last,
        }),
    }
}

/// Re-seals every entry under `to` after checking it as sealed by `from`; returns the entries
/// re-sealed and the first entry that did not verify under `from`, if one did not (the caller
/// decides whether a broken chain may be re-keyed: the migration records the break in the new
/// chain; a key rotation refuses). One write transaction.
pub fn rekey(
    tx: &redb::WriteTransaction,
    from: Sealing<'_>,
    to: &AuditKey,
) -> Result<(u64, Option<(u64, String)>)> {
    let mut table = tx.open_table(tables::AUDIT)?;
    let mut seqs = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
    for row in table.iter()? {
        seqs.push(row?.0.value());
    }
    let mut old_prev = GENESIS.to_string();
    let mut new_prev = GENESIS.to_string();
    let mut broken = None;
    for (expected, seq) in (1u64..).zip(seqs.iter().copied()) {
        let Some(bytes) = table.get(seq)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let mut e: AuditEntry = codec::decode(T, &bytes)?;
        if broken.is_none() {
            let why = if seq != expected {
                Some(format!("entry {expected} is missing"))
            } else if e.seq != seq {
                Some("sequence number was changed".to_string())
            } else if e.prev_hash != old_prev {
                Some("does not follow the previous entry".to_string())
            } else if seal(from, &e)? != e.hash {
                Some("content does not match its hash".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                broken = Some((seq, why));
            }
        }
        old_prev = e.hash.clone();
        e.prev_hash = new_prev;
        e.hash = seal(Sealing::Keyed(to), &e)?;
        new_prev = e.hash.clone();
        table.insert(seq, codec::encode(&e)?.as_slice())?;
    }
    Ok((seqs.len() as u64, broken))
}

/// Newest first, optionally only one action or one actor; `before` pages backwards.
pub fn list(
    tx: &ReadTransaction,
    action: Option<&str>,
    actor: Option<&str>,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<AuditEntry>, u64)> {
    let filter = Filter {
        action,
        actor,
        actor_id: None,
    };
    list_where(tx, &filter, before, limit)
}

/// What [`list_where`] keeps: entries matching every field given.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter<'a> {
    pub action: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub actor_id: Option<&'a str>,
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.action.is_none() && self.actor.is_none() && self.actor_id.is_none()
    }

    fn matches(&self, e: &AuditEntry) -> bool {
        self.action.is_none_or(|a| e.action == a)
            && self.actor.is_none_or(|a| e.actor == a)
            && self
                .actor_id
                .is_none_or(|a| e.actor_id.as_deref() == Some(a))
    }
}

/// [`list`] with the acting account's id among the filters. A filter is served from its keys
/// in `audit_by` and its total from `audit_counts`; a combination without keys of its own
/// walks the keys of its narrowest part (by their totals) and checks each entry, so no
/// filter reads the whole log.
pub fn list_where(
    tx: &ReadTransaction,
    filter: &Filter<'_>,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<AuditEntry>, u64)> {
    let table = tx.open_table(tables::AUDIT)?;
    let upper = before.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    if filter.is_empty() {
        for row in table.range(..upper)?.rev().take(limit) {
            out.push(codec::decode(T, row?.1.value())?);
        }
        return Ok((out, table.len()?));
    }
    let by = tx.open_table(tables::AUDIT_BY)?;
    let counts = tx.open_table(tables::AUDIT_COUNTS)?;
    let count =
        |prefix: &[u8]| -> Result<u64> { Ok(counts.get(prefix)?.map(|v| v.value()).unwrap_or(0)) };
    let entry = |seq: u64| -> Result<AuditEntry> {
        let row = table.get(seq)?.ok_or_else(|| Error::Corrupt {
            table: "audit_by",
            message: format!("names audit entry {seq}, which the log does not hold"),
        })?;
        codec::decode(T, row.value())
    };
    let exact = match (filter.action, filter.actor_id, filter.actor) {
        (Some(a), None, None) => Some(filter_prefix(BY_ACTION, &[a])),
        (None, Some(i), None) => Some(filter_prefix(BY_ACTOR_ID, &[i])),
        (None, None, Some(n)) => Some(filter_prefix(BY_ACTOR, &[n])),
        (Some(a), Some(i), None) => Some(filter_prefix(BY_ACTOR_ID_ACTION, &[i, a])),
        _ => None,
    };
    if let Some(prefix) = exact {
        for seq in seqs_before(&by, &prefix, upper)?.take(limit) {
            out.push(entry(seq?)?);
        }
        return Ok((out, count(&prefix)?));
    }
    // A combination with a name: the narrowest of its parts' keys, each entry checked.
    let mut parts = Vec::new();
    if let (Some(i), Some(a)) = (filter.actor_id, filter.action) {
        parts.push(filter_prefix(BY_ACTOR_ID_ACTION, &[i, a]));
    }
    if let Some(a) = filter.action {
        parts.push(filter_prefix(BY_ACTION, &[a]));
    }
    if let Some(i) = filter.actor_id {
        parts.push(filter_prefix(BY_ACTOR_ID, &[i]));
    }
    if let Some(n) = filter.actor {
        parts.push(filter_prefix(BY_ACTOR, &[n]));
    }
    let mut narrowest: Option<(u64, Vec<u8>)> = None;
    for prefix in parts {
        let n = count(&prefix)?;
        if narrowest.as_ref().is_none_or(|(least, _)| n < *least) {
            narrowest = Some((n, prefix));
        }
    }
    let Some((_, prefix)) = narrowest else {
        return Ok((out, 0));
    };
    let mut total = 0;
    for seq in seqs_before(&by, &prefix, u64::MAX)? {
        let seq = seq?;
        let e = entry(seq)?;
        if !filter.matches(&e) {
            continue;
        }
        total += 1;
        if seq < upper && out.len() < limit {
            out.push(e);
        }
    }
    Ok((out, total))
}

/// Kind bytes of `audit_by` and `audit_counts` keys.
const BY_ACTION: u8 = b'a';
const BY_ACTOR_ID: u8 = b'i';
const BY_ACTOR: u8 = b'n';
const BY_ACTOR_ID_ACTION: u8 = b'p';

/// A filter's key prefix: its kind, then each value's length (u16 big-endian) and bytes, so
/// no value is a prefix of another's key.
fn filter_prefix(kind: u8, values: &[&str]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + values.iter().map(|v| 2 + v.len()).sum::<usize>() + 8);
    key.push(kind);
    for v in values {
        let bytes = v.as_bytes();
        // A value past 64 KiB (none is: actions, ids and names are short) keys as its first
        // 64 KiB, so its keys stay well-formed.
        let len = bytes.len().min(usize::from(u16::MAX));
        key.extend_from_slice(&(len as u16).to_be_bytes());
        key.extend_from_slice(bytes.get(..len).unwrap_or_default());
    }
    key
}

/// The sequence numbers under `prefix` below `upper`, newest first.
fn seqs_before<'t>(
    by: &'t redb::ReadOnlyTable<&'static [u8], ()>,
    prefix: &[u8],
    upper: u64,
) -> Result<impl Iterator<Item = Result<u64>> + 't> {
    let mut from = prefix.to_vec();
    from.extend_from_slice(&0u64.to_be_bytes());
    let mut to = prefix.to_vec();
    to.extend_from_slice(&upper.to_be_bytes());
    let range = by.range::<&[u8]>(from.as_slice()..to.as_slice())?;
    Ok(range.rev().map(|row| {
        let (k, _) = row?;
        split_key(k.value())
            .map(|(_, seq)| seq)
            .ok_or_else(|| Error::Corrupt {
                table: "audit_by",
                message: "a key shorter than its sequence number".into(),
            })
    }))
}

/// An `audit_by` key as its filter prefix and the entry's sequence number (its last 8 bytes);
/// `None` for a key too short to hold one.
fn split_key(k: &[u8]) -> Option<(&[u8], u64)> {
    let (prefix, seq) = k.split_at_checked(k.len().checked_sub(8)?)?;
    Some((prefix, u64::from_be_bytes(<[u8; 8]>::try_from(seq).ok()?)))
}

/// The filters an entry answers, as key prefixes.
fn prefixes(e: &AuditEntry) -> Vec<Vec<u8>> {
    let mut out = vec![
        filter_prefix(BY_ACTION, &[&e.action]),
        filter_prefix(BY_ACTOR, &[&e.actor]),
    ];
    if let Some(id) = &e.actor_id {
        out.push(filter_prefix(BY_ACTOR_ID, &[id]));
        out.push(filter_prefix(BY_ACTOR_ID_ACTION, &[id, &e.action]));
    }
    out
}

/// The filter keys of entries being appended, with their totals summed in memory and written
/// once ([`Index::finish`]): a sweep appends thousands of entries of one action and actor.
struct Index<'t> {
    by: redb::Table<'t, &'static [u8], ()>,
    counts: redb::Table<'t, &'static [u8], u64>,
    added: std::collections::HashMap<Vec<u8>, u64>,
}

impl<'t> Index<'t> {
    fn open(tx: &'t redb::WriteTransaction) -> Result<Self> {
        Ok(Index {
            by: tx.open_table(tables::AUDIT_BY)?,
            counts: tx.open_table(tables::AUDIT_COUNTS)?,
            added: std::collections::HashMap::new(),
        })
    }

    /// Keys `e`, stored under `seq`, under each filter it answers.
    fn add(&mut self, seq: u64, e: &AuditEntry) -> Result<()> {
        for mut key in prefixes(e) {
            let at = key.len();
            key.extend_from_slice(&seq.to_be_bytes());
            self.by.insert(key.as_slice(), ())?;
            key.truncate(at);
            *self.added.entry(key).or_default() += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        for (key, n) in self.added.drain() {
            let before = self.counts.get(key.as_slice())?.map_or(0, |v| v.value());
            self.counts.insert(key.as_slice(), before + n)?;
        }
        Ok(())
    }
}

/// Migration 39 over one batch: the filter keys and totals of the entries after `after` (a
/// sequence number), `limit` of them.
pub fn index_batch(
    tx: &redb::WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let from = match after {
        None => 0,
        Some(a) => {
            a.parse::<u64>().map_err(|e| Error::Corrupt {
                table: "settings",
                message: format!("migration 39's cursor {a:?}: {e}"),
            })? + 1
        }
    };
    let table = tx.open_table(tables::AUDIT)?;
    let mut index = Index::open(tx)?;
    let mut last = None;
    let mut n = 0;
    for row in table.range(from..)?.take(limit) {
        let (k, v) = row?;
        let e: AuditEntry = codec::decode(T, v.value())?;
        index.add(k.value(), &e)?;
        last = Some(k.value().to_string());
        n += 1;
    }
    index.finish()?;
    Ok((last, n))
}

/// Where the filters' keys and totals differ from a recount of the log (`zhudai doctor`): up
/// to `max` differences. Every key must name an entry that answers its filter, and each
/// filter must have as many keys, and as large a total, as the log has entries answering it.
pub fn index_drift(tx: &ReadTransaction, max: usize) -> Result<Vec<String>> {
    let log = tx.open_table(tables::AUDIT)?;
    let mut expected: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for row in log.iter()? {
        let e: AuditEntry = codec::decode(T, row?.1.value())?;
        for prefix in prefixes(&e) {
            *expected.entry(prefix).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    // The keys, each checked against its entry, counted per filter.
    let mut keyed: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for row in tx.open_table(tables::AUDIT_BY)?.iter()? {
        let (k, _) = row?;
        let k = k.value();
        let Some((prefix, seq)) = split_key(k) else {
            if out.len() < max {
                out.push(format!("a key shorter than a sequence number: {k:?}"));
            }
            continue;
        };
        let answers = match log.get(seq)? {
            Some(v) => {
                let e: AuditEntry = codec::decode(T, v.value())?;
                prefixes(&e).iter().any(|p| p.as_slice() == prefix)
            }
            None => false,
        };
        if !answers && out.len() < max {
            out.push(format!(
                "{} names entry {seq}, which does not answer it",
                show_prefix(prefix)
            ));
        }
        *keyed.entry(prefix.to_vec()).or_default() += 1;
    }
    let counts = tx.open_table(tables::AUDIT_COUNTS)?;
    let mut counted: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for row in counts.iter()? {
        let (k, v) = row?;
        counted.insert(k.value().to_vec(), v.value());
    }
    let all: std::collections::BTreeSet<&Vec<u8>> = expected
        .keys()
        .chain(keyed.keys())
        .chain(counted.keys())
        .collect();
    for prefix in all {
        let want = expected.get(prefix).copied().unwrap_or(0);
        let keys = keyed.get(prefix).copied().unwrap_or(0);
        let total = counted.get(prefix).copied().unwrap_or(0);
        if keys != want || total != want {
            out.push(format!(
                "{}: {keys} key(s) and a total of {total}, the log holds {want}",
                show_prefix(prefix)
            ));
        }
    }
    out.truncate(max);
    Ok(out)
}

/// A filter key prefix as `kind:value/value`, for a person reading `doctor`.
fn show_prefix(k: &[u8]) -> String {
    let Some((&kind, mut rest)) = k.split_first() else {
        return String::new();
    };
    let mut values = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (value, tail) = tail.split_at(len);
        values.push(String::from_utf8_lossy(value).into_owned());
        rest = tail;
    }
    format!("{}:{}", char::from(kind), values.join("/"))
}

/// Entries about `target` made at or after `since`, newest first, among the `within` newest
/// entries of the log: what happened to a record since a client read it (an edit conflict's
/// account), never a search of the whole log.
pub fn recent_about(
    tx: &WriteTransaction,
    target: &str,
    since: DateTime<Utc>,
    within: usize,
) -> Result<Vec<AuditEntry>> {
    let table = tx.open_table(tables::AUDIT)?;
    let mut out = Vec::new();
    for row in table.iter()?.rev().take(within) {
        let e: AuditEntry = codec::decode(T, row?.1.value())?;
        if e.at < since {
            break;
        }
        if e.target.as_deref() == Some(target) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Result of walking the whole chain.
#[derive(Debug, PartialEq)]
pub struct ChainCheck {
    pub entries: u64,
    /// The newest entry, when the chain has one.
    pub head: Option<Head>,
    /// The first entry that does not verify, and why.
    pub first_broken: Option<(u64, String)>,
    /// The chain as it was before it was keyed (schema 12) did not verify: recorded by the
    /// migration in an `audit.chain_keyed` entry, so the break stays visible.
    pub legacy_break: Option<String>,
}

/// What the migration that keys the chain records about the chain it found.
pub const CHAIN_KEYED: &str = "audit.chain_keyed";

pub fn verify(tx: &ReadTransaction, key: &AuditKey) -> Result<ChainCheck> {
    let table = tx.open_table(tables::AUDIT)?;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    let mut legacy_break = None;
    for (expected_seq, row) in (1u64..).zip(table.iter()?) {
        let (k, v) = row?;
        let seq = k.value();
        entries += 1;
        let broken = |why: String| {
            Ok(ChainCheck {
                entries,
                head: None,
                first_broken: Some((seq, why)),
                legacy_break: None,
            })
        };
        if seq != expected_seq {
            return broken(format!("entry {expected_seq} is missing"));
        }
        let e: AuditEntry = match codec::decode(T, v.value()) {
            Ok(e) => e,
            Err(err) => return broken(format!("unreadable: {err}")),
        };
        if e.seq != seq {
            return broken("sequence number was changed".into());
        }
        if e.prev_hash != prev {
            return broken("does not follow the previous entry".into());
        }
        if seal(Sealing::Keyed(key), &e)? != e.hash {
            return broken(
                "content does not match its keyed hash (edited, or rehashed without the key)"
                    .into(),
            );
        }
        if e.action == CHAIN_KEYED
            && let Some(b) = e.detail.get("legacy_break").and_then(|b| b.as_str())
        {
            legacy_break = Some(format!(
                "entry {b} (found when the chain was keyed, at entry {seq})"
            ));
        }
        prev = e.hash;
    }
    Ok(ChainCheck {
        entries,
        head: head_of(&table)?,
        first_broken: None,
        legacy_break,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every filter and combination answers, page by page, what a walk of the whole log
    /// keeping the matching entries answers; the totals too. Then the index is dropped and
    /// rebuilt by migration 39's batches of 7 (resuming from each cursor), with the same
    /// answers and no drift.
    #[test]
    fn filtered_pages_come_from_the_index_and_equal_a_walk_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open_keyed(
            &dir.path().join("s.redb"),
            super::super::DEFAULT_CACHE_BYTES,
            Some(AuditKey::new([3; 32], String::new())),
        )
        .unwrap();
        let people = [
            (Some("01U1"), "wang"),
            (Some("01U2"), "li"),
            (None, "system"),
            (None, "wang"),
        ];
        let actions = ["customer.updated", "customer.recalled", "auth.login"];
        let at = DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap();
        for round in 0..9 {
            store
                .write(|tx| {
                    let batch = (0..(round % 4 + 1))
                        .map(|i| {
                            let (id, name) = people[(round * 3 + i) % people.len()];
                            NewAudit {
                                actor_id: id.map(str::to_string),
                                actor: name.to_string(),
                                action: actions[(round + i * 2) % actions.len()],
                                target: None,
                                detail: serde_json::json!({}),
                                source: "cli".into(),
                            }
                        })
                        .collect();
                    append_many(tx, at, batch)
                })
                .unwrap();
        }
        let walk = |f: &Filter<'_>, before: Option<u64>, limit: usize| {
            store
                .read(|tx| {
                    let all: Vec<AuditEntry> = tx
                        .open_table(tables::AUDIT)?
                        .iter()?
                        .rev()
                        .map(|r| codec::decode(T, r?.1.value()))
                        .collect::<Result<_>>()?;
                    let hits: Vec<AuditEntry> = all.into_iter().filter(|e| f.matches(e)).collect();
                    let total = hits.len() as u64;
                    let page = hits
                        .into_iter()
                        .filter(|e| e.seq < before.unwrap_or(u64::MAX))
                        .take(limit)
                        .collect::<Vec<_>>();
                    Ok::<_, Error>((page, total))
                })
                .unwrap()
        };
        let check_all = |label: &str| {
            let mut filters = vec![Filter::default()];
            for action in [
                None,
                Some("customer.updated"),
                Some("auth.login"),
                Some("none.such"),
            ] {
                for actor_id in [None, Some("01U1"), Some("01U2")] {
                    for actor in [None, Some("wang"), Some("system")] {
                        filters.push(Filter {
                            action,
                            actor,
                            actor_id,
                        });
                    }
                }
            }
            let mut nonempty = 0;
            for f in &filters {
                for (before, limit) in [(None, 3), (Some(12), 2), (Some(4), 50), (None, 100)] {
                    let got = store.read(|tx| list_where(tx, f, before, limit)).unwrap();
                    let want = walk(f, before, limit);
                    assert_eq!(got, want, "{label}: {f:?} before {before:?} limit {limit}");
                    nonempty += usize::from(!got.0.is_empty());
                }
            }
            assert!(
                nonempty > 40,
                "{label}: the filters found entries ({nonempty})"
            );
            let drift = store.read(|tx| index_drift(tx, 10)).unwrap();
            assert!(drift.is_empty(), "{label}: {drift:?}");
        };
        check_all("appended");

        store
            .write(|tx| {
                tx.delete_table(tables::AUDIT_BY)?;
                tx.delete_table(tables::AUDIT_COUNTS)?;
                tx.open_table(tables::AUDIT_BY)?;
                tx.open_table(tables::AUDIT_COUNTS)?;
                Ok::<_, Error>(())
            })
            .unwrap();
        let drift = store.read(|tx| index_drift(tx, 10)).unwrap();
        assert!(!drift.is_empty(), "an empty index drifts from the log");
        let mut cursor: Option<String> = None;
        let mut batches = 0;
        loop {
            let (last, n) = store
                .write(|tx| index_batch(tx, cursor.as_deref(), 7))
                .unwrap();
            batches += 1;
            if n < 7 {
                break;
            }
            cursor = last;
        }
        assert!(batches >= 3, "{batches} batches");
        check_all("rebuilt in batches");

        // A key naming an entry that does not answer its filter is drift, even when the
        // totals still add up (one key moved from one entry to another).
        store
            .write(|tx| {
                let mut by = tx.open_table(tables::AUDIT_BY)?;
                let prefix = filter_prefix(BY_ACTION, &["auth.login"]);
                let first = by
                    .range::<&[u8]>(prefix.as_slice()..)?
                    .next()
                    .ok_or(Error::Misuse("no auth.login key".into()))??
                    .0
                    .value()
                    .to_vec();
                by.remove(first.as_slice())?;
                let mut wrong = prefix.clone();
                let other = (1..u64::MAX)
                    .find(|s| {
                        let mut k = prefix.clone();
                        k.extend_from_slice(&s.to_be_bytes());
                        by.get(k.as_slice()).map(|g| g.is_none()).unwrap_or(false)
                    })
                    .unwrap();
                wrong.extend_from_slice(&other.to_be_bytes());
                by.insert(wrong.as_slice(), ())?;
                Ok::<_, Error>(())
            })
            .unwrap();
        let drift = store.read(|tx| index_drift(tx, 10)).unwrap();
        assert!(
            drift.iter().any(|d| d.contains("does not answer it")),
            "{drift:?}"
        );
    }

    /// The spliced seal and encoding equal the plain ones (a clone serialised for the HMAC,
    /// the whole entry encoded again), for entries with and without optional fields, odd
    /// characters in the detail and the source.
    #[test]
    fn spliced_seal_equals_the_plain_one() {
        let key = AuditKey::new([7; 32], String::new());
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.key).unwrap();
        let at = DateTime::<Utc>::from_timestamp(1_780_000_000, 123_000_000).unwrap();
        let entries = [
            (None, None, serde_json::json!({})),
            (
                Some("01J0USER".to_string()),
                Some("01J0CUSTOMER".to_string()),
                serde_json::json!({"from": "u1", "pool_id": "p\\1", "reason": "超过30天未跟进\n\u{22}"}),
            ),
        ];
        let (mut content, mut stored) = (Vec::new(), Vec::new());
        let mut prev = GENESIS.to_string();
        for (seq, (actor_id, target, detail)) in entries.into_iter().enumerate() {
            let mut entry = AuditEntry {
                seq: seq as u64 + 1,
                at,
                actor_id,
                actor: "system \"x\"".into(),
                action: "customer.recalled".into(),
                target,
                detail,
                source: "pool sweep".into(),
                prev_hash: String::new(),
                hash: String::new(),
            };
            let hash = seal_spliced(&mac, &entry, &prev, &mut content, &mut stored).unwrap();
            entry.prev_hash = prev;
            let plain = seal(Sealing::Keyed(&key), &entry).unwrap();
            assert_eq!(hash, plain);
            entry.hash = plain;
            assert_eq!(stored, codec::encode(&entry).unwrap());
            let back: AuditEntry = codec::decode(T, &stored).unwrap();
            assert_eq!(back, entry);
            prev = hash;
        }
    }
}

//! The compact encoding of customer records (format 2, schema 32).
//!
//! Format 1 (JSON, `store::codec`) spells every field name in every record and keeps the
//! sealed values as hex text: about 1.5 KB for an imported customer. Format 2 is postcard
//! (positional, varint integers) of [`V2`], a mirror of [`Customer`] with the hex inside
//! sealed values kept as bytes and times as seconds and nanoseconds: about a third of that.
//!
//! Positional means the layout is fixed: `V2` and every type it holds (profile, demand,
//! consent, the enums) must not gain, lose or reorder a field or a variant. A change to any of
//! them is a new format (3) with its own mirror, and [`decode`] keeps reading 1 and 2. The
//! test `layout_is_pinned` holds the bytes of a full record and fails on such a change.
//!
//! Readers dispatch on the format byte, so JSON records written before schema 32 stay readable
//! while the migration rewrites them in batches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Result, codec};
use crate::domain::customer::{Consent, Customer, Demand, Profile, RuleFields, Sealed, Stage};
use crate::domain::id_number::Gender;

pub const FORMAT_COMPACT: u8 = 2;
/// Format 3 (schema 35, what [`encode`] writes): format 2 with the ids (the record's own,
/// owner, pool, collaborators, creator, broker, previous owner) as 16 ULID bytes, a sealed
/// value's tail left out when it is the last four characters of its mask, the pool reasons
/// the application writes itself as one byte ([`KNOWN_TEXTS`]), and the times but the
/// creation and the original entry as their distance from the creation ([`Dt`]). [`V3`] is positional
/// like [`V2`], with its own pinned layout.
pub const FORMAT_3: u8 = 3;
/// Format 4 (schema 36, what [`encode`] writes): format 3 without the record's own id (an
/// empty text in its place: the id is the key, which every reader has), 15 bytes less. The
/// decoders take the key for it; for the older formats the id stored in the record is kept.
pub const FORMAT_4: u8 = 4;
const T: &str = "customers";

/// A text that is usually `<prefix><lower-case hex>` (ciphertexts `g1:…`, blind indexes): kept
/// as the prefix and the bytes, which is exact (the hex is written back lower-case, and only
/// lower-case hex is packed). Anything else is kept as text.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Packed {
    Text(String),
    Hex(String, Vec<u8>),
}

fn pack(s: &str) -> Packed {
    let start = s.rfind(':').map_or(0, |i| i + 1);
    let body = &s[start..];
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if !body.is_empty()
        && body.len().is_multiple_of(2)
        && body.bytes().all(|b| lower_hex(&b))
        && let Ok(bytes) = hex::decode(body)
    {
        return Packed::Hex(s[..start].to_string(), bytes);
    }
    Packed::Text(s.to_string())
}

fn unpack(p: Packed) -> String {
    match p {
        Packed::Text(s) => s,
        Packed::Hex(prefix, bytes) => prefix + hex::encode(bytes).as_str(),
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct SealedV2 {
    enc: Packed,
    bidx: Packed,
    masked: String,
    tail: String,
    lead: Packed,
}

impl SealedV2 {
    fn of(s: &Sealed) -> Self {
        SealedV2 {
            enc: pack(&s.enc),
            bidx: pack(&s.bidx),
            masked: s.masked.clone(),
            tail: s.tail.clone(),
            lead: pack(&s.lead),
        }
    }
    fn into_sealed(self) -> Sealed {
        Sealed {
            enc: unpack(self.enc),
            bidx: unpack(self.bidx),
            masked: self.masked,
            tail: self.tail,
            lead: unpack(self.lead),
        }
    }
}

/// An instant as seconds and nanoseconds since the epoch: exact, any year chrono holds.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
struct Time(i64, u32);

impl Time {
    fn of(t: DateTime<Utc>) -> Self {
        Time(t.timestamp(), t.timestamp_subsec_nanos())
    }
    fn at(self) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp(self.0, self.1).ok_or_else(|| Error::Corrupt {
            table: T,
            message: format!("time out of range: {}.{}", self.0, self.1),
        })
    }
}

fn time_of(t: Option<DateTime<Utc>>) -> Option<Time> {
    t.map(Time::of)
}

fn at(t: Option<Time>) -> Result<Option<DateTime<Utc>>> {
    t.map(Time::at).transpose()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct ConsentV2 {
    basis: String,
    notice_version: Option<String>,
    channel: Option<String>,
    at: Time,
}

/// The stored layout of format 2: [`Customer`]'s fields in a fixed order.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct V2 {
    id: String,
    name: String,
    phone: SealedV2,
    extra_phones: Vec<SealedV2>,
    id_number: Option<SealedV2>,
    gender: Option<Gender>,
    birth_year: Option<i32>,
    city: Option<String>,
    address: Option<String>,
    company: Option<String>,
    channel: Option<String>,
    stage: Stage,
    grade: Option<String>,
    stars: u8,
    intent: Option<String>,
    tags: Vec<String>,
    demand: Demand,
    profile: Profile,
    /// The custom fields as JSON text (their values are any JSON), empty when there are none.
    custom: String,
    owner_id: Option<String>,
    pool_id: Option<String>,
    collaborators: Vec<String>,
    consent: Option<ConsentV2>,
    last_followup_at: Option<Time>,
    next_followup_at: Option<Time>,
    duplicate_flag: bool,
    created_by: String,
    broker_id: Option<String>,
    created_at: Time,
    updated_at: Time,
    deleted_at: Option<Time>,
    held_since: Option<Time>,
    locked: bool,
    pool_entered_at: Option<Time>,
    previous_owner_id: Option<String>,
    pool_reason: Option<String>,
    notes: Option<String>,
    entered_at: Option<Time>,
}

/// `c` in the current format (4, the format byte first).
pub fn encode(c: &Customer) -> Result<Vec<u8>> {
    let mut v = V3::of(c)?;
    v.id = Id::Text(String::new());
    let mut out = vec![FORMAT_4];
    out.extend(postcard::to_allocvec(&v).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(out)
}

/// `c` in format 3 (schema 35; the format byte first). Never written by the store any more:
/// for the tests of the schema-36 rewrite and of format 3's pinned layout.
pub fn encode_format_3(c: &Customer) -> Result<Vec<u8>> {
    let v = V3::of(c)?;
    let mut out = vec![FORMAT_3];
    out.extend(postcard::to_allocvec(&v).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(out)
}

/// `c` in format 2 (schemas 32 to 34; the format byte first). Never written by the store any
/// more: for the tests of the schema-35 rewrite and of format 2's pinned layout.
pub fn encode_format_2(c: &Customer) -> Result<Vec<u8>> {
    let custom = if c.custom.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&c.custom).map_err(|e| Error::Encode(e.to_string()))?
    };
    let v = V2 {
        id: c.id.clone(),
        name: c.name.clone(),
        phone: SealedV2::of(&c.phone),
        extra_phones: c.extra_phones.iter().map(SealedV2::of).collect(),
        id_number: c.id_number.as_ref().map(SealedV2::of),
        gender: c.gender,
        birth_year: c.birth_year,
        city: c.city.clone(),
        address: c.address.clone(),
        company: c.company.clone(),
        channel: c.channel.clone(),
        stage: c.stage,
        grade: c.grade.clone(),
        stars: c.stars,
        intent: c.intent.clone(),
        tags: c.tags.clone(),
        demand: c.demand.clone(),
        profile: c.profile.clone(),
        custom,
        owner_id: c.owner_id.clone(),
        pool_id: c.pool_id.clone(),
        collaborators: c.collaborators.clone(),
        consent: c.consent.as_ref().map(|k| ConsentV2 {
            basis: k.basis.clone(),
            notice_version: k.notice_version.clone(),
            channel: k.channel.clone(),
            at: Time::of(k.at),
        }),
        last_followup_at: time_of(c.last_followup_at),
        next_followup_at: time_of(c.next_followup_at),
        duplicate_flag: c.duplicate_flag,
        created_by: c.created_by.clone(),
        broker_id: c.broker_id.clone(),
        created_at: Time::of(c.created_at),
        updated_at: Time::of(c.updated_at),
        deleted_at: time_of(c.deleted_at),
        held_since: time_of(c.held_since),
        locked: c.locked,
        pool_entered_at: time_of(c.pool_entered_at),
        previous_owner_id: c.previous_owner_id.clone(),
        pool_reason: c.pool_reason.clone(),
        notes: c.notes.clone(),
        entered_at: time_of(c.entered_at),
    };
    let mut out = vec![FORMAT_COMPACT];
    out.extend(postcard::to_allocvec(&v).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(out)
}

fn from_v2(v: V2) -> Result<Customer> {
    let custom: BTreeMap<String, serde_json::Value> = if v.custom.is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_str(&v.custom).map_err(|e| Error::Corrupt {
            table: T,
            message: format!("custom fields: {e}"),
        })?
    };
    Ok(Customer {
        id: v.id,
        name: v.name,
        phone: v.phone.into_sealed(),
        extra_phones: v
            .extra_phones
            .into_iter()
            .map(SealedV2::into_sealed)
            .collect(),
        id_number: v.id_number.map(SealedV2::into_sealed),
        gender: v.gender,
        birth_year: v.birth_year,
        legacy_birth_date: None,
        city: v.city,
        address: v.address,
        company: v.company,
        channel: v.channel,
        stage: v.stage,
        grade: v.grade,
        stars: v.stars,
        intent: v.intent,
        tags: v.tags,
        demand: v.demand,
        profile: v.profile,
        custom,
        owner_id: v.owner_id,
        pool_id: v.pool_id,
        collaborators: v.collaborators,
        consent: v
            .consent
            .map(|k| {
                Ok::<_, Error>(Consent {
                    basis: k.basis,
                    notice_version: k.notice_version,
                    channel: k.channel,
                    at: k.at.at()?,
                })
            })
            .transpose()?,
        last_followup_at: at(v.last_followup_at)?,
        next_followup_at: at(v.next_followup_at)?,
        duplicate_flag: v.duplicate_flag,
        created_by: v.created_by,
        broker_id: v.broker_id,
        created_at: v.created_at.at()?,
        updated_at: v.updated_at.at()?,
        deleted_at: at(v.deleted_at)?,
        held_since: at(v.held_since)?,
        locked: v.locked,
        pool_entered_at: at(v.pool_entered_at)?,
        previous_owner_id: v.previous_owner_id,
        pool_reason: v.pool_reason,
        notes: v.notes,
        entered_at: at(v.entered_at)?,
    })
}

/// A stored customer record in any format, stored under the key `id`.
pub fn decode(id: &str, bytes: &[u8]) -> Result<Customer> {
    match bytes.first() {
        Some(&FORMAT_4) => {
            let v: V3 = postcard::from_bytes(&bytes[1..]).map_err(|e| Error::Corrupt {
                table: T,
                message: format!("format 4: {e}"),
            })?;
            let mut c = from_v2(v.into_v2()?)?;
            c.id = id.to_string();
            Ok(c)
        }
        Some(&FORMAT_3) => {
            let v: V3 = postcard::from_bytes(&bytes[1..]).map_err(|e| Error::Corrupt {
                table: T,
                message: format!("format 3: {e}"),
            })?;
            from_v2(v.into_v2()?)
        }
        Some(&FORMAT_COMPACT) => {
            let v: V2 = postcard::from_bytes(&bytes[1..]).map_err(|e| Error::Corrupt {
                table: T,
                message: format!("format 2: {e}"),
            })?;
            from_v2(v)
        }
        _ => codec::decode(T, bytes),
    }
}

/// A customer record decoded for display (the detail read): what the masked view shows, with
/// the sealed values' ciphertexts, blind indexes and lead indexes left unread, except the ID
/// number's ciphertext (the age comes from it) kept as bytes rather than re-hexed into text.
/// `customer`'s sealed values carry only `masked` and `tail`: a `Shown` is never written back
/// (nothing in the store takes one) and is consumed by the view that reads it.
pub struct Shown {
    pub customer: Customer,
    /// The ID number's ciphertext: its key generation and the nonce‖ciphertext bytes.
    pub id_number_enc: Option<Ciphertext>,
}

/// A sealed value's ciphertext as stored: `<generation>:<hex>`, the hex as bytes.
pub struct Ciphertext {
    pub generation: String,
    pub bytes: Vec<u8>,
}

impl Ciphertext {
    /// From the text form (format 1 records, or a value that is not packed).
    fn of_text(s: &str) -> Option<Ciphertext> {
        let (generation, body) = s.split_once(':')?;
        Some(Ciphertext {
            generation: generation.to_string(),
            bytes: hex::decode(body).ok()?,
        })
    }
}

/// [`Packed`] read in place: the same bytes on disk, nothing allocated.
#[derive(Deserialize)]
enum PackedRef<'a> {
    Text(&'a str),
    Hex(&'a str, &'a [u8]),
}

impl PackedRef<'_> {
    fn ciphertext(&self) -> Option<Ciphertext> {
        match self {
            PackedRef::Text(s) => Ciphertext::of_text(s),
            // `<generation>:` then the bytes; a prefix without its colon is not a ciphertext.
            PackedRef::Hex(prefix, bytes) => Some(Ciphertext {
                generation: prefix.strip_suffix(':')?.to_string(),
                bytes: bytes.to_vec(),
            }),
        }
    }
}

/// [`SealedV2`] read for display: only `masked` and `tail` are taken.
#[derive(Deserialize)]
struct SealedShown<'a> {
    #[serde(borrow)]
    enc: PackedRef<'a>,
    #[serde(borrow)]
    _bidx: PackedRef<'a>,
    masked: String,
    tail: String,
    #[serde(borrow)]
    _lead: PackedRef<'a>,
}

impl SealedShown<'_> {
    fn into_shown(self) -> Sealed {
        Sealed {
            enc: String::new(),
            bidx: String::new(),
            masked: self.masked,
            tail: self.tail,
            lead: String::new(),
        }
    }
}

/// [`V2`] field for field (postcard is positional: the same order and types), the sealed
/// values as [`SealedShown`] and the custom fields' JSON borrowed.
#[derive(Deserialize)]
struct V2Shown<'a> {
    id: String,
    name: String,
    #[serde(borrow)]
    phone: SealedShown<'a>,
    #[serde(borrow)]
    extra_phones: Vec<SealedShown<'a>>,
    #[serde(borrow)]
    id_number: Option<SealedShown<'a>>,
    gender: Option<Gender>,
    birth_year: Option<i32>,
    city: Option<String>,
    address: Option<String>,
    company: Option<String>,
    channel: Option<String>,
    stage: Stage,
    grade: Option<String>,
    stars: u8,
    intent: Option<String>,
    tags: Vec<String>,
    demand: Demand,
    profile: Profile,
    custom: &'a str,
    owner_id: Option<String>,
    pool_id: Option<String>,
    collaborators: Vec<String>,
    consent: Option<ConsentV2>,
    last_followup_at: Option<Time>,
    next_followup_at: Option<Time>,
    duplicate_flag: bool,
    created_by: String,
    broker_id: Option<String>,
    created_at: Time,
    updated_at: Time,
    deleted_at: Option<Time>,
    held_since: Option<Time>,
    locked: bool,
    pool_entered_at: Option<Time>,
    previous_owner_id: Option<String>,
    pool_reason: Option<String>,
    notes: Option<String>,
    entered_at: Option<Time>,
}

fn corrupt(message: String) -> Error {
    Error::Corrupt { table: T, message }
}

/// A stored customer record in any format, stored under the key `id`, decoded for display
/// ([`Shown`]).
pub fn decode_shown(id: &str, bytes: &[u8]) -> Result<Shown> {
    if is_legacy(bytes) {
        // Format 1 (JSON, before the schema-32 rewrite): the whole record, as [`decode`].
        let mut customer: Customer = codec::decode(T, bytes)?;
        let id_number_enc = match &customer.id_number {
            Some(s) => Some(
                Ciphertext::of_text(&s.enc)
                    .ok_or_else(|| corrupt("id_number: malformed ciphertext".into()))?,
            ),
            None => None,
        };
        let c = &mut customer;
        for s in std::iter::once(&mut c.phone)
            .chain(c.extra_phones.iter_mut())
            .chain(c.id_number.iter_mut())
        {
            *s = Sealed {
                enc: String::new(),
                bidx: String::new(),
                masked: std::mem::take(&mut s.masked),
                tail: std::mem::take(&mut s.tail),
                lead: String::new(),
            };
        }
        return Ok(Shown {
            customer,
            id_number_enc,
        });
    }
    let v: V2Shown = if bytes[0] == FORMAT_3 || bytes[0] == FORMAT_4 {
        postcard::from_bytes::<V3Shown>(&bytes[1..])
            .map_err(|e| corrupt(format!("format 3: {e}")))?
            .into_v2()?
    } else {
        postcard::from_bytes(&bytes[1..]).map_err(|e| corrupt(format!("format 2: {e}")))?
    };
    let custom: BTreeMap<String, serde_json::Value> = if v.custom.is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_str(v.custom).map_err(|e| corrupt(format!("custom fields: {e}")))?
    };
    let id_number_enc = match &v.id_number {
        Some(s) => Some(
            s.enc
                .ciphertext()
                .ok_or_else(|| corrupt("id_number: malformed ciphertext".into()))?,
        ),
        None => None,
    };
    let customer = Customer {
        id: if bytes[0] == FORMAT_4 {
            id.to_string()
        } else {
            v.id
        },
        name: v.name,
        phone: v.phone.into_shown(),
        extra_phones: v
            .extra_phones
            .into_iter()
            .map(SealedShown::into_shown)
            .collect(),
        id_number: v.id_number.map(SealedShown::into_shown),
        gender: v.gender,
        birth_year: v.birth_year,
        legacy_birth_date: None,
        city: v.city,
        address: v.address,
        company: v.company,
        channel: v.channel,
        stage: v.stage,
        grade: v.grade,
        stars: v.stars,
        intent: v.intent,
        tags: v.tags,
        demand: v.demand,
        profile: v.profile,
        custom,
        owner_id: v.owner_id,
        pool_id: v.pool_id,
        collaborators: v.collaborators,
        consent: v
            .consent
            .map(|k| {
                Ok::<_, Error>(Consent {
                    basis: k.basis,
                    notice_version: k.notice_version,
                    channel: k.channel,
                    at: k.at.at()?,
                })
            })
            .transpose()?,
        last_followup_at: at(v.last_followup_at)?,
        next_followup_at: at(v.next_followup_at)?,
        duplicate_flag: v.duplicate_flag,
        created_by: v.created_by,
        broker_id: v.broker_id,
        created_at: v.created_at.at()?,
        updated_at: v.updated_at.at()?,
        deleted_at: at(v.deleted_at)?,
        held_since: at(v.held_since)?,
        locked: v.locked,
        pool_entered_at: at(v.pool_entered_at)?,
        previous_owner_id: v.previous_owner_id,
        pool_reason: v.pool_reason,
        notes: v.notes,
        entered_at: at(v.entered_at)?,
    };
    Ok(Shown {
        customer,
        id_number_enc,
    })
}

/// The rule fields of a stored customer record in any format, stored under the key `id`.
pub fn decode_rule_fields(id: &str, bytes: &[u8]) -> Result<RuleFields> {
    match bytes.first() {
        Some(&FORMAT_COMPACT | &FORMAT_3 | &FORMAT_4) => {
            decode(id, bytes).map(|c| RuleFields::from(&c))
        }
        _ => codec::decode(T, bytes),
    }
}

/// What a customer record decodes to: the whole [`Customer`], or only its [`RuleFields`].
pub trait FromRecord: Sized {
    fn from_record(id: &str, bytes: &[u8]) -> Result<Self>;
}

impl FromRecord for Customer {
    fn from_record(id: &str, bytes: &[u8]) -> Result<Self> {
        decode(id, bytes)
    }
}

impl FromRecord for RuleFields {
    fn from_record(id: &str, bytes: &[u8]) -> Result<Self> {
        decode_rule_fields(id, bytes)
    }
}

/// Whether a stored record is still in format 1 (the schema-32 migration rewrites those).
pub fn is_legacy(bytes: &[u8]) -> bool {
    !matches!(bytes.first(), Some(&FORMAT_COMPACT | &FORMAT_3 | &FORMAT_4))
}

/// Whether a stored record is in an older format than [`encode`] writes (1 to 3: the
/// schema-35 and schema-36 migrations rewrite those).
pub fn is_older(bytes: &[u8]) -> bool {
    bytes.first() != Some(&FORMAT_4)
}

use super::event_codec::Id;

/// Texts the application itself writes into records, stored as their index in format 3.
/// Append only: an index, once written, always means the same text. 0: the pool reason of a
/// customer no salesperson could take (`service::pools::rules::REASON_NOBODY`, which a test
/// holds equal).
const KNOWN_TEXTS: [&str; 1] = ["没有可分配的业务员"];

/// A text that is often one of [`KNOWN_TEXTS`].
#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Known {
    Index(u8),
    Text(String),
}

impl Known {
    fn of(s: &str) -> Known {
        match KNOWN_TEXTS.iter().position(|k| *k == s) {
            Some(i) => Known::Index(i as u8),
            None => Known::Text(s.to_string()),
        }
    }

    fn text(self) -> Result<String> {
        match self {
            Known::Index(i) => KNOWN_TEXTS
                .get(usize::from(i))
                .map(|s| s.to_string())
                .ok_or_else(|| corrupt(format!("unknown text index {i}"))),
            Known::Text(s) => Ok(s),
        }
    }
}

fn ids_of(v: &[String]) -> Vec<Id> {
    v.iter().map(|s| Id::of(s)).collect()
}

fn texts(v: Vec<Id>) -> Vec<String> {
    v.into_iter().map(Id::text).collect()
}

/// An instant as its distance from the record's `created_at` (format 3): whole seconds and
/// nanoseconds apart, each a zigzag varint, so a time equal to the creation (an imported
/// customer's update and pool entry) is two bytes. Exact.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
struct Dt(i64, i32);

impl Dt {
    fn of(created: DateTime<Utc>, t: DateTime<Utc>) -> Dt {
        // Nanoseconds are below 2·10⁹ (a leap second), so the difference fits an i32.
        let nanos = t.timestamp_subsec_nanos() as i64 - created.timestamp_subsec_nanos() as i64;
        Dt(
            t.timestamp().wrapping_sub(created.timestamp()),
            nanos as i32,
        )
    }

    fn after(self, created: Time) -> Result<Time> {
        let secs = created.0.checked_add(self.0);
        let nanos = u32::try_from(i64::from(created.1) + i64::from(self.1)).ok();
        match (secs, nanos) {
            (Some(s), Some(n)) => Ok(Time(s, n)),
            _ => Err(corrupt(format!("time out of range: {self:?}"))),
        }
    }
}

/// How many characters of the mask a left-out tail is.
const TAIL_CHARS: usize = 4;

/// `tail` left out (`None`) when it is exactly the last [`TAIL_CHARS`] characters of `masked`.
fn tail_of(masked: &str, tail: &str) -> Option<String> {
    let derived = last_chars(masked, TAIL_CHARS);
    if derived.is_some_and(|d| d == tail) {
        None
    } else {
        Some(tail.to_string())
    }
}

fn last_chars(s: &str, n: usize) -> Option<&str> {
    let start = s.char_indices().rev().nth(n - 1)?.0;
    Some(&s[start..])
}

fn tail_back(masked: &str, tail: Option<String>) -> Result<String> {
    match tail {
        Some(t) => Ok(t),
        None => last_chars(masked, TAIL_CHARS)
            .map(str::to_string)
            .ok_or_else(|| corrupt("a left-out tail with a short mask".into())),
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct SealedV3 {
    enc: Packed,
    bidx: Packed,
    masked: String,
    tail: Option<String>,
    lead: Packed,
}

impl SealedV3 {
    fn of(s: &Sealed) -> Self {
        SealedV3 {
            enc: pack(&s.enc),
            bidx: pack(&s.bidx),
            tail: tail_of(&s.masked, &s.tail),
            masked: s.masked.clone(),
            lead: pack(&s.lead),
        }
    }

    fn into_v2(self) -> Result<SealedV2> {
        Ok(SealedV2 {
            enc: self.enc,
            bidx: self.bidx,
            tail: tail_back(&self.masked, self.tail)?,
            masked: self.masked,
            lead: self.lead,
        })
    }
}

/// The stored layout of format 3: [`V2`] with ids as [`Id`], tails as [`SealedV3`] and the
/// pool reason as [`Known`].
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct V3 {
    id: Id,
    name: String,
    phone: SealedV3,
    extra_phones: Vec<SealedV3>,
    id_number: Option<SealedV3>,
    gender: Option<Gender>,
    birth_year: Option<i32>,
    city: Option<String>,
    address: Option<String>,
    company: Option<String>,
    channel: Option<String>,
    stage: Stage,
    grade: Option<String>,
    stars: u8,
    intent: Option<String>,
    tags: Vec<String>,
    demand: Demand,
    profile: Profile,
    custom: String,
    owner_id: Option<Id>,
    pool_id: Option<Id>,
    collaborators: Vec<Id>,
    consent: Option<ConsentV2>,
    last_followup_at: Option<Dt>,
    next_followup_at: Option<Dt>,
    duplicate_flag: bool,
    created_by: Id,
    broker_id: Option<Id>,
    created_at: Time,
    updated_at: Dt,
    deleted_at: Option<Dt>,
    held_since: Option<Dt>,
    locked: bool,
    pool_entered_at: Option<Dt>,
    previous_owner_id: Option<Id>,
    pool_reason: Option<Known>,
    notes: Option<String>,
    entered_at: Option<Time>,
}

impl V3 {
    fn of(c: &Customer) -> Result<V3> {
        let custom = if c.custom.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&c.custom).map_err(|e| Error::Encode(e.to_string()))?
        };
        let id = |s: &Option<String>| s.as_deref().map(Id::of);
        Ok(V3 {
            id: Id::of(&c.id),
            name: c.name.clone(),
            phone: SealedV3::of(&c.phone),
            extra_phones: c.extra_phones.iter().map(SealedV3::of).collect(),
            id_number: c.id_number.as_ref().map(SealedV3::of),
            gender: c.gender,
            birth_year: c.birth_year,
            city: c.city.clone(),
            address: c.address.clone(),
            company: c.company.clone(),
            channel: c.channel.clone(),
            stage: c.stage,
            grade: c.grade.clone(),
            stars: c.stars,
            intent: c.intent.clone(),
            tags: c.tags.clone(),
            demand: c.demand.clone(),
            profile: c.profile.clone(),
            custom,
            owner_id: id(&c.owner_id),
            pool_id: id(&c.pool_id),
            collaborators: ids_of(&c.collaborators),
            consent: c.consent.as_ref().map(|k| ConsentV2 {
                basis: k.basis.clone(),
                notice_version: k.notice_version.clone(),
                channel: k.channel.clone(),
                at: Time::of(k.at),
            }),
            last_followup_at: c.last_followup_at.map(|t| Dt::of(c.created_at, t)),
            next_followup_at: c.next_followup_at.map(|t| Dt::of(c.created_at, t)),
            duplicate_flag: c.duplicate_flag,
            created_by: Id::of(&c.created_by),
            broker_id: id(&c.broker_id),
            created_at: Time::of(c.created_at),
            updated_at: Dt::of(c.created_at, c.updated_at),
            deleted_at: c.deleted_at.map(|t| Dt::of(c.created_at, t)),
            held_since: c.held_since.map(|t| Dt::of(c.created_at, t)),
            locked: c.locked,
            pool_entered_at: c.pool_entered_at.map(|t| Dt::of(c.created_at, t)),
            previous_owner_id: id(&c.previous_owner_id),
            pool_reason: c.pool_reason.as_deref().map(Known::of),
            notes: c.notes.clone(),
            entered_at: time_of(c.entered_at),
        })
    }

    /// The same record in format 2's layout (exact: every id and tail comes back as it was).
    fn into_v2(self) -> Result<V2> {
        Ok(V2 {
            id: self.id.text(),
            name: self.name,
            phone: self.phone.into_v2()?,
            extra_phones: self
                .extra_phones
                .into_iter()
                .map(SealedV3::into_v2)
                .collect::<Result<_>>()?,
            id_number: self.id_number.map(SealedV3::into_v2).transpose()?,
            gender: self.gender,
            birth_year: self.birth_year,
            city: self.city,
            address: self.address,
            company: self.company,
            channel: self.channel,
            stage: self.stage,
            grade: self.grade,
            stars: self.stars,
            intent: self.intent,
            tags: self.tags,
            demand: self.demand,
            profile: self.profile,
            custom: self.custom,
            owner_id: self.owner_id.map(Id::text),
            pool_id: self.pool_id.map(Id::text),
            collaborators: texts(self.collaborators),
            consent: self.consent,
            last_followup_at: self
                .last_followup_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            next_followup_at: self
                .next_followup_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            duplicate_flag: self.duplicate_flag,
            created_by: self.created_by.text(),
            broker_id: self.broker_id.map(Id::text),
            created_at: self.created_at,
            updated_at: self.updated_at.after(self.created_at)?,
            deleted_at: self
                .deleted_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            held_since: self
                .held_since
                .map(|d| d.after(self.created_at))
                .transpose()?,
            locked: self.locked,
            pool_entered_at: self
                .pool_entered_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            previous_owner_id: self.previous_owner_id.map(Id::text),
            pool_reason: self.pool_reason.map(Known::text).transpose()?,
            notes: self.notes,
            entered_at: self.entered_at,
        })
    }
}

/// [`SealedV3`] read for display, as [`SealedShown`].
#[derive(Deserialize)]
struct SealedV3Shown<'a> {
    #[serde(borrow)]
    enc: PackedRef<'a>,
    #[serde(borrow)]
    _bidx: PackedRef<'a>,
    masked: String,
    tail: Option<String>,
    #[serde(borrow)]
    _lead: PackedRef<'a>,
}

impl<'a> SealedV3Shown<'a> {
    fn into_v2(self) -> Result<SealedShown<'a>> {
        Ok(SealedShown {
            enc: self.enc,
            _bidx: self._bidx,
            tail: tail_back(&self.masked, self.tail)?,
            masked: self.masked,
            _lead: self._lead,
        })
    }
}

/// [`V3`] field for field, read for display as [`V2Shown`] is.
#[derive(Deserialize)]
struct V3Shown<'a> {
    id: Id,
    name: String,
    #[serde(borrow)]
    phone: SealedV3Shown<'a>,
    #[serde(borrow)]
    extra_phones: Vec<SealedV3Shown<'a>>,
    #[serde(borrow)]
    id_number: Option<SealedV3Shown<'a>>,
    gender: Option<Gender>,
    birth_year: Option<i32>,
    city: Option<String>,
    address: Option<String>,
    company: Option<String>,
    channel: Option<String>,
    stage: Stage,
    grade: Option<String>,
    stars: u8,
    intent: Option<String>,
    tags: Vec<String>,
    demand: Demand,
    profile: Profile,
    custom: &'a str,
    owner_id: Option<Id>,
    pool_id: Option<Id>,
    collaborators: Vec<Id>,
    consent: Option<ConsentV2>,
    last_followup_at: Option<Dt>,
    next_followup_at: Option<Dt>,
    duplicate_flag: bool,
    created_by: Id,
    broker_id: Option<Id>,
    created_at: Time,
    updated_at: Dt,
    deleted_at: Option<Dt>,
    held_since: Option<Dt>,
    locked: bool,
    pool_entered_at: Option<Dt>,
    previous_owner_id: Option<Id>,
    pool_reason: Option<Known>,
    notes: Option<String>,
    entered_at: Option<Time>,
}

impl<'a> V3Shown<'a> {
    fn into_v2(self) -> Result<V2Shown<'a>> {
        Ok(V2Shown {
            id: self.id.text(),
            name: self.name,
            phone: self.phone.into_v2()?,
            extra_phones: self
                .extra_phones
                .into_iter()
                .map(SealedV3Shown::into_v2)
                .collect::<Result<_>>()?,
            id_number: self.id_number.map(SealedV3Shown::into_v2).transpose()?,
            gender: self.gender,
            birth_year: self.birth_year,
            city: self.city,
            address: self.address,
            company: self.company,
            channel: self.channel,
            stage: self.stage,
            grade: self.grade,
            stars: self.stars,
            intent: self.intent,
            tags: self.tags,
            demand: self.demand,
            profile: self.profile,
            custom: self.custom,
            owner_id: self.owner_id.map(Id::text),
            pool_id: self.pool_id.map(Id::text),
            collaborators: texts(self.collaborators),
            consent: self.consent,
            last_followup_at: self
                .last_followup_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            next_followup_at: self
                .next_followup_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            duplicate_flag: self.duplicate_flag,
            created_by: self.created_by.text(),
            broker_id: self.broker_id.map(Id::text),
            created_at: self.created_at,
            updated_at: self.updated_at.after(self.created_at)?,
            deleted_at: self
                .deleted_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            held_since: self
                .held_since
                .map(|d| d.after(self.created_at))
                .transpose()?,
            locked: self.locked,
            pool_entered_at: self
                .pool_entered_at
                .map(|d| d.after(self.created_at))
                .transpose()?,
            previous_owner_id: self.previous_owner_id.map(Id::text),
            pool_reason: self.pool_reason.map(Known::text).transpose()?,
            notes: self.notes,
            entered_at: self.entered_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::Occupation;

    fn sealed(enc: &str, bidx: &str, lead: &str) -> Sealed {
        Sealed {
            enc: enc.into(),
            bidx: bidx.into(),
            masked: "138****5678".into(),
            tail: "5678".into(),
            lead: lead.into(),
        }
    }

    fn full() -> Customer {
        let t = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap_or_default();
        let json = serde_json::json!({
            "id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "name": "张三",
            "phone": {"enc": "g1:00ff", "bidx": "ab", "masked": "138****5678", "tail": "5678"},
            "id_number": null, "gender": "female", "city": "深圳", "address": null,
            "company": null, "channel": "抖音", "stage": "qualified", "grade": "A",
            "intent": null, "owner_id": null, "pool_id": null, "consent": null,
            "last_followup_at": null, "next_followup_at": null, "created_by": "u1",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "deleted_at": null
        });
        let mut c: Customer = serde_json::from_value(json).unwrap();
        c.phone = sealed("g1:0a1b2c", "9f8e", "77aa");
        c.extra_phones = vec![sealed("not hex at all", "", "")];
        c.id_number = Some(sealed("g1:ABCD", "00", ""));
        c.birth_year = Some(1990);
        c.stars = 3;
        c.tags = vec!["高意向".into()];
        c.demand.amount_fen = Some(50_000_000);
        c.profile.occupation = Some(Occupation::BusinessOwner);
        c.profile.has_property = Some(true);
        c.custom
            .insert("wx".into(), serde_json::json!({"a": [1, "二"]}));
        c.owner_id = Some("u2".into());
        c.collaborators = vec!["u3".into()];
        c.consent = Some(Consent {
            basis: "consent".into(),
            notice_version: Some("v1".into()),
            channel: None,
            at: t,
        });
        c.last_followup_at = Some(t);
        c.held_since = Some(t);
        c.locked = true;
        c.broker_id = Some("b1".into());
        c.notes = Some("第一行\n第二行".into());
        c.entered_at = Some(t);
        c.updated_at = t;
        c
    }

    #[test]
    fn every_field_round_trips_exactly() {
        let c = full();
        let bytes = encode_format_2(&c).unwrap();
        assert_eq!(bytes[0], FORMAT_COMPACT);
        assert_eq!(decode(&c.id, &bytes).unwrap(), c);
        assert_eq!(
            decode_rule_fields(&c.id, &bytes).unwrap(),
            RuleFields::from(&c),
            "rule fields from format 2"
        );
        // The same record in JSON (format 1) reads to the same customer.
        let json = codec::encode(&c).unwrap();
        assert!(is_legacy(&json) && !is_legacy(&bytes));
        assert_eq!(decode(&c.id, &json).unwrap(), c);
        assert!(
            bytes.len() * 2 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn hex_is_packed_only_when_it_comes_back_the_same() {
        for s in [
            "", "g1:00ff", "abc", "ABCD", "g1:ABCD", "00", ":", "a:b:0f", "x:", "é0",
        ] {
            assert_eq!(unpack(pack(s)), s, "{s:?}");
        }
        assert_eq!(pack("g1:00ff"), Packed::Hex("g1:".into(), vec![0, 255]));
        assert_eq!(pack("ABCD"), Packed::Text("ABCD".into()));
    }

    #[test]
    fn truncated_or_garbage_is_corrupt() {
        let c = full();
        let bytes = encode(&c).unwrap();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(decode(&c.id, &bytes[..cut]), Err(Error::Corrupt { .. })),
                "cut at {cut}"
            );
        }
    }

    /// The display decode reads the same record as [`decode`], minus the sealed values'
    /// ciphertexts and indexes, in both formats; the ID number's ciphertext comes back as bytes.
    #[test]
    fn shown_is_the_record_without_ciphertexts_and_indexes() {
        let mut c = full();
        for id_enc in ["g1:ABCD", "1:00ff10"] {
            c.id_number = Some(sealed(id_enc, "00", ""));
            for bytes in [
                encode(&c).unwrap(),
                encode_format_2(&c).unwrap(),
                codec::encode(&c).unwrap(),
            ] {
                let shown = decode_shown(&c.id, &bytes).unwrap();
                let mut want = c.clone();
                for s in std::iter::once(&mut want.phone)
                    .chain(want.extra_phones.iter_mut())
                    .chain(want.id_number.iter_mut())
                {
                    s.enc.clear();
                    s.bidx.clear();
                    s.lead.clear();
                }
                assert_eq!(shown.customer, want, "{id_enc}, format {}", bytes[0]);
                let enc = shown.id_number_enc.unwrap();
                let (generation, hex_body) = id_enc.split_once(':').unwrap();
                assert_eq!(enc.generation, generation);
                assert_eq!(enc.bytes, hex::decode(hex_body).unwrap());
            }
        }
        c.id_number = None;
        assert!(
            decode_shown(&c.id, &encode(&c).unwrap())
                .unwrap()
                .id_number_enc
                .is_none()
        );
        let bytes = encode(&full()).unwrap();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(
                    decode_shown(&c.id, &bytes[..cut]),
                    Err(Error::Corrupt { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    /// The bytes of a full record are fixed: a field or variant added, removed or moved in
    /// `V2` or any type it holds (Profile, Demand, Consent, Gender, Stage, Occupation…) changes
    /// them. That change needs a format 3 with its own mirror, not an edit of format 2.
    #[test]
    fn layout_is_pinned() {
        let bytes = encode_format_2(&full()).unwrap();
        let digest = crate::crypto::sha256_hex(&bytes);
        assert_eq!(
            digest,
            "ddf96ec8175b6bb3a6f0c96a175176217a05bc213bca3eb2bfeca52d372653b8",
            "the format-2 layout changed ({} bytes): add a format 3 instead",
            bytes.len()
        );
    }

    /// Format 3 reads back every field exactly, is smaller than format 2 for ULID ids, a tail
    /// that ends its mask and a known pool reason, and keeps the others as they are.
    #[test]
    fn format_3_round_trips_and_is_smaller() {
        let mut c = full();
        let ulid = |n: u128| ulid::Ulid::from(n).to_string();
        c.id = ulid(1);
        c.owner_id = Some(ulid(2));
        c.pool_id = Some(ulid(3));
        c.created_by = ulid(4);
        c.previous_owner_id = Some("not a ulid".into());
        c.collaborators = vec![ulid(5), "u3".into(), ulid(6).to_lowercase()];
        c.pool_reason = Some(KNOWN_TEXTS[0].into());
        let mut odd = sealed("g1:00", "ab", "");
        odd.tail = "56".into();
        let mut short = sealed("g1:01", "cd", "");
        short.masked = "1*".into();
        short.tail = String::new();
        c.extra_phones = vec![odd, short, sealed("x", "", "")];
        // Times as distances from the creation: equal, earlier, later, a leap second.
        c.updated_at = c.created_at;
        c.held_since = DateTime::from_timestamp(1_000, 999_999_999);
        c.pool_entered_at = DateTime::from_timestamp(4_000_000_000, 1);
        c.deleted_at = DateTime::from_timestamp(1_764_000_059, 1_500_000_000);
        assert!(c.deleted_at.is_some());
        for reason in [Some(KNOWN_TEXTS[0]), Some("客户要求"), None] {
            c.pool_reason = reason.map(str::to_string);
            let (v3, v2) = (encode_format_3(&c).unwrap(), encode_format_2(&c).unwrap());
            assert_eq!(v3[0], FORMAT_3);
            assert!(!is_legacy(&v3) && is_older(&v3) && is_older(&v2));
            // Format 4: format 3 without the id, read back with the key.
            let v4 = encode(&c).unwrap();
            assert_eq!(v4[0], FORMAT_4);
            assert!(!is_legacy(&v4) && !is_older(&v4));
            assert_eq!(
                v4.len() + 15,
                v3.len(),
                "the 16 bytes of the id, less an empty text"
            );
            assert_eq!(decode(&c.id, &v4).unwrap(), c);
            assert_eq!(decode_shown(&c.id, &v4).unwrap().customer.id, c.id);
            assert_eq!(decode(&c.id, &v3).unwrap(), c);
            assert_eq!(decode(&c.id, &v2).unwrap(), c);
            assert_eq!(
                decode_rule_fields(&c.id, &v3).unwrap(),
                RuleFields::from(&c)
            );
            assert!(v3.len() + 40 < v2.len(), "{} vs {}", v3.len(), v2.len());
        }
        assert_eq!(
            KNOWN_TEXTS[0],
            crate::service::pools::rules::REASON_NOBODY,
            "index 0 is the pool reason of a customer nobody could take"
        );
        let bytes = encode(&c).unwrap();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                decode(&c.id, &bytes[..cut]),
                Err(Error::Corrupt { .. })
            ));
            assert!(matches!(
                decode_shown(&c.id, &bytes[..cut]),
                Err(Error::Corrupt { .. })
            ));
        }
    }

    /// Format 3's bytes are fixed as format 2's are: a change is a format 4.
    #[test]
    fn layout_3_is_pinned() {
        let bytes = encode_format_3(&full()).unwrap();
        let digest = crate::crypto::sha256_hex(&bytes);
        assert_eq!(
            digest,
            "d84969a56c2aefea817dc73562be6f491f9f38fe898f621367ae8bc1cdfe9bb7",
            "the format-3 layout changed ({} bytes): add a format 4 instead",
            bytes.len()
        );
    }

    /// Format 4's bytes are format 3's without the id: pinned as well.
    #[test]
    fn layout_4_is_pinned() {
        let bytes = encode(&full()).unwrap();
        assert_eq!(bytes[0], FORMAT_4);
        let digest = crate::crypto::sha256_hex(&bytes);
        assert_eq!(
            digest,
            "f57b87810e75a197cf69061e1ec353ac9314fc0b8e9a5e709fde31307cfd82f1",
            "the format-4 layout changed ({} bytes): add a format 5 instead",
            bytes.len()
        );
    }
}

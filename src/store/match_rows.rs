//! The compact match view of every live customer (schema 17): exactly what product matching
//! reads — owner, collaborators, city, birth year, whether an ID number is on file, the loan
//! need and the qualification profile — in a small binary encoding, so matching a product
//! against a million customers (the reverse match) never parses a customer record. Written only
//! by [`sync`], which `customers::put` calls for every customer write; a deleted customer has no
//! row.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Error, Result, tables};
use crate::domain::customer::{Customer, Demand, Occupation, Profile, TaxRating};

const T: &str = "customer_match";
const FORMAT: u8 = 1;

/// One customer as matching sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchRow {
    pub owner_id: Option<String>,
    pub collaborators: Vec<String>,
    pub city: Option<String>,
    /// From the ID number; the exact age needs the number itself (boundary cases only).
    pub birth_year: Option<i32>,
    pub has_id_number: bool,
    pub demand: Demand,
    pub profile: Profile,
}

impl From<&Customer> for MatchRow {
    fn from(c: &Customer) -> MatchRow {
        MatchRow {
            owner_id: c.owner_id.clone(),
            collaborators: c.collaborators.clone(),
            city: c.city.clone(),
            birth_year: c.birth_year,
            has_id_number: c.id_number.is_some(),
            demand: Demand {
                amount_fen: c.demand.amount_fen,
                term_months: c.demand.term_months,
                purpose: None,
            },
            profile: c.profile.clone(),
        }
    }
}

const OCCUPATIONS: [Occupation; 5] = [
    Occupation::Employee,
    Occupation::CivilServant,
    Occupation::BusinessOwner,
    Occupation::Freelancer,
    Occupation::Other,
];
const RATINGS: [TaxRating; 5] = [
    TaxRating::A,
    TaxRating::B,
    TaxRating::C,
    TaxRating::D,
    TaxRating::M,
];

fn idx<T: PartialEq>(all: &[T], v: &Option<T>) -> Option<i64> {
    let v = v.as_ref()?;
    all.iter().position(|x| x == v).map(|i| i as i64)
}

fn b(v: Option<bool>) -> Option<i64> {
    v.map(i64::from)
}

fn u(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

/// The numeric slots, in a fixed order (the format: never reorder, only append).
fn slots(r: &MatchRow) -> [Option<i64>; 24] {
    let p = &r.profile;
    let (c, bz) = (&p.credit, &p.business);
    [
        idx(&OCCUPATIONS, &p.occupation),
        p.monthly_income_fen,
        u(p.social_security_months),
        u(p.provident_fund_months),
        p.provident_fund_base_fen,
        b(p.has_property),
        p.property_value_fen,
        b(p.property_mortgaged),
        b(p.has_car),
        p.car_value_fen,
        u(c.overdue_count_2y),
        b(c.current_overdue),
        u(c.inquiries_1m),
        u(c.inquiries_3m),
        u(c.inquiries_6m),
        c.existing_debt_fen,
        u(c.card_utilization_pct),
        u(bz.licence_age_months),
        bz.annual_tax_fen,
        idx(&RATINGS, &bz.tax_rating),
        bz.annual_turnover_fen,
        r.demand.amount_fen,
        u(r.demand.term_months),
        r.birth_year.map(i64::from),
    ]
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    // Zigzag, then LEB128.
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as i64);
    out.extend(s.as_bytes());
}

pub fn encode(r: &MatchRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.push(FORMAT);
    let values = slots(r);
    let mut mask = 0u32;
    for (i, v) in values.iter().enumerate() {
        if v.is_some() {
            mask |= 1 << i;
        }
    }
    let flags = u8::from(r.has_id_number)
        | (u8::from(r.owner_id.is_some()) << 1)
        | (u8::from(r.city.is_some()) << 2);
    out.push(flags);
    out.extend(mask.to_le_bytes());
    for v in values.into_iter().flatten() {
        put_varint(&mut out, v);
    }
    for s in [&r.owner_id, &r.city].into_iter().flatten() {
        put_str(&mut out, s);
    }
    put_varint(&mut out, r.collaborators.len() as i64);
    for s in &r.collaborators {
        put_str(&mut out, s);
    }
    out
}

struct Cursor<'a> {
    id: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn corrupt(&self, what: &str) -> Error {
        Error::Corrupt {
            table: T,
            message: format!("customer {}: {what}", self.id),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<i64> {
        let mut z = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            z |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(self.corrupt("varint too long"))
    }

    fn string(&mut self) -> Result<String> {
        let n = usize::try_from(self.varint()?).map_err(|_| self.corrupt("length"))?;
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| self.corrupt("length"))?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.corrupt("truncated string"))?;
        self.at = end;
        String::from_utf8(s.to_vec()).map_err(|_| self.corrupt("not UTF-8"))
    }
}

pub fn decode(id: &str, bytes: &[u8]) -> Result<MatchRow> {
    let mut c = Cursor { id, bytes, at: 0 };
    if c.byte()? != FORMAT {
        return Err(c.corrupt("unknown format"));
    }
    let flags = c.byte()?;
    let mut mask = [0u8; 4];
    for m in &mut mask {
        *m = c.byte()?;
    }
    let mask = u32::from_le_bytes(mask);
    let mut v = [None; 24];
    for (i, slot) in v.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *slot = Some(c.varint()?);
        }
    }
    let bad = |c: &Cursor<'_>, i: usize| c.corrupt(&format!("slot {i} out of range"));
    let u32_at = |c: &Cursor<'_>, i: usize| -> Result<Option<u32>> {
        v[i].map(|x| u32::try_from(x).map_err(|_| bad(c, i)))
            .transpose()
    };
    let bool_at = |i: usize| v[i].map(|x| x != 0);
    let pick = |c: &Cursor<'_>, i: usize, n: usize| -> Result<Option<usize>> {
        v[i].map(|x| {
            usize::try_from(x)
                .ok()
                .filter(|&k| k < n)
                .ok_or_else(|| bad(c, i))
        })
        .transpose()
    };
    let mut row = MatchRow {
        has_id_number: flags & 1 != 0,
        ..MatchRow::default()
    };
    let p = &mut row.profile;
    p.occupation = pick(&c, 0, OCCUPATIONS.len())?.map(|k| OCCUPATIONS[k]);
    p.monthly_income_fen = v[1];
    p.social_security_months = u32_at(&c, 2)?;
    p.provident_fund_months = u32_at(&c, 3)?;
    p.provident_fund_base_fen = v[4];
    p.has_property = bool_at(5);
    p.property_value_fen = v[6];
    p.property_mortgaged = bool_at(7);
    p.has_car = bool_at(8);
    p.car_value_fen = v[9];
    p.credit.overdue_count_2y = u32_at(&c, 10)?;
    p.credit.current_overdue = bool_at(11);
    p.credit.inquiries_1m = u32_at(&c, 12)?;
    p.credit.inquiries_3m = u32_at(&c, 13)?;
    p.credit.inquiries_6m = u32_at(&c, 14)?;
    p.credit.existing_debt_fen = v[15];
    p.credit.card_utilization_pct = u32_at(&c, 16)?;
    p.business.licence_age_months = u32_at(&c, 17)?;
    p.business.annual_tax_fen = v[18];
    p.business.tax_rating = pick(&c, 19, RATINGS.len())?.map(|k| RATINGS[k]);
    p.business.annual_turnover_fen = v[20];
    row.demand.amount_fen = v[21];
    row.demand.term_months = u32_at(&c, 22)?;
    row.birth_year = v[23]
        .map(|y| i32::try_from(y).map_err(|_| bad(&c, 23)))
        .transpose()?;
    if flags & 2 != 0 {
        row.owner_id = Some(c.string()?);
    }
    if flags & 4 != 0 {
        row.city = Some(c.string()?);
    }
    let n = c.varint()?;
    for _ in 0..n {
        row.collaborators.push(c.string()?);
    }
    if c.at != bytes.len() {
        return Err(c.corrupt("trailing bytes"));
    }
    Ok(row)
}

/// Keeps `c`'s row in step with the record: written for a live customer, removed for a deleted
/// one.
pub(super) fn sync(tx: &WriteTransaction, c: &Customer) -> Result<()> {
    let mut table = tx.open_table(tables::CUSTOMER_MATCH)?;
    if c.deleted_at.is_some() {
        table.remove(c.id.as_str())?;
    } else {
        table.insert(c.id.as_str(), encode(&MatchRow::from(c)).as_slice())?;
    }
    Ok(())
}

/// [`sync`] for many customers with one table handle (a recall sweep's batch).
pub(super) fn sync_many(tx: &WriteTransaction, cs: &[&Customer]) -> Result<()> {
    let mut table = tx.open_table(tables::CUSTOMER_MATCH)?;
    for c in cs {
        if c.deleted_at.is_some() {
            table.remove(c.id.as_str())?;
        } else {
            table.insert(c.id.as_str(), encode(&MatchRow::from(*c)).as_slice())?;
        }
    }
    Ok(())
}

/// One batch of filling the table from the records (the 16 → 17 migration).
pub fn rebuild_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut rows: Vec<(String, Vec<u8>)> = Vec::new();
    let done = super::customers::records_batch_w(tx, after, limit, |c| {
        if c.deleted_at.is_none() {
            rows.push((c.id.clone(), encode(&MatchRow::from(c))));
        }
        Ok(())
    })?;
    let mut table = tx.open_table(tables::CUSTOMER_MATCH)?;
    for (id, bytes) in &rows {
        table.insert(id.as_str(), bytes.as_slice())?;
    }
    Ok(done)
}

/// Every row in id order, until `visit` answers false (the reader filters by scope).
pub(super) fn scan(
    tx: &ReadTransaction,
    mut visit: impl FnMut(&str, MatchRow) -> Result<bool>,
) -> Result<()> {
    let table = tx.open_table(tables::CUSTOMER_MATCH)?;
    for row in table.iter()? {
        let (k, v) = row?;
        if !visit(k.value(), decode(k.value(), v.value())?)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{Business, Credit};

    #[test]
    fn a_row_round_trips_with_every_slot_and_none() {
        let full = MatchRow {
            owner_id: Some("u1".into()),
            collaborators: vec!["u2".into(), "u3".into()],
            city: Some("上海".into()),
            birth_year: Some(1990),
            has_id_number: true,
            demand: Demand {
                amount_fen: Some(30_000_000),
                term_months: Some(36),
                purpose: None,
            },
            profile: Profile {
                occupation: Some(Occupation::Other),
                monthly_income_fen: Some(-5),
                social_security_months: Some(600),
                provident_fund_months: Some(0),
                provident_fund_base_fen: Some(1_000_000_000_000),
                has_property: Some(true),
                property_value_fen: Some(1),
                property_mortgaged: Some(false),
                has_car: Some(false),
                car_value_fen: Some(i64::MAX),
                credit: Credit {
                    overdue_count_2y: Some(999),
                    current_overdue: Some(true),
                    inquiries_1m: Some(1),
                    inquiries_3m: Some(2),
                    inquiries_6m: Some(3),
                    existing_debt_fen: Some(i64::MIN),
                    card_utilization_pct: Some(100),
                },
                business: Business {
                    licence_age_months: Some(48),
                    annual_tax_fen: Some(7),
                    tax_rating: Some(TaxRating::M),
                    annual_turnover_fen: Some(8),
                },
            },
        };
        assert_eq!(decode("c", &encode(&full)).unwrap(), full);
        let empty = MatchRow::default();
        assert_eq!(decode("c", &encode(&empty)).unwrap(), empty);
        let mut bytes = encode(&full);
        bytes.pop();
        assert!(decode("c", &bytes).is_err(), "a truncated row is corrupt");
        bytes = encode(&full);
        bytes.push(0);
        assert!(decode("c", &bytes).is_err(), "trailing bytes are corrupt");
    }
}

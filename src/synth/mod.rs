//! Deterministic, realistic synthetic customers for `zhudai demo`, tests and benchmarks.
//! The same seed and `now` always give the same sequence; ID numbers and phones are valid
//! yet unique and drawn from number ranges that never reach a real person.

mod data;
mod followup;
mod names;
mod profile;
pub mod rng;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde::Serialize;
use std::fmt::Write as _;

use crate::domain::id_number::{self, Gender};
use crate::domain::phone;

use data::{City, District};
pub use rng::Rng;

/// One follow-up record (call, visit, chat…) in a customer's history.
#[derive(Debug, Clone, Serialize)]
pub struct SynthFollowup {
    pub at: DateTime<Utc>,
    /// "call" | "visit" | "wechat" | "sms" | "note"
    pub kind: &'static str,
    pub content: String,
    pub outcome: &'static str,
}

/// A synthetic customer. Vocabulary fields are `&'static str` from fixed tables so that
/// generating millions of customers allocates only the genuinely per-customer text.
/// Money is in fen (0.01 yuan).
#[derive(Debug, Clone, Serialize)]
pub struct SynthCustomer {
    pub name: String,
    pub gender: Gender,
    pub birth_date: NaiveDate,
    /// 18 characters, valid check digit; area code, birth date and gender digit agree
    /// with `district`, `birth_date` and `gender`.
    pub id_number: String,
    /// 11 digits in the 1349 / 17400 satellite ranges (see [`Generator`]).
    pub phone: String,
    pub extra_phones: Vec<String>,
    pub city: &'static str,
    pub district: &'static str,
    pub address: String,
    pub company: Option<String>,
    pub channel: &'static str,
    /// "lead" | "contacted" | "qualified" | "invited" | "visited" | "signed" | "won" |
    /// "lost" | "invalid"
    pub stage: &'static str,
    /// 'A' (best) ..= 'D'
    pub grade: char,
    /// 0..=5
    pub stars: u8,
    /// "high" | "medium" | "low"
    pub intent: &'static str,
    pub tags: Vec<&'static str>,
    pub demand_amount_fen: i64,
    pub demand_term_months: u32,
    pub demand_purpose: &'static str,
    /// "employee" | "business_owner" | "self_employed" | "civil_servant" | "freelancer"
    pub occupation: &'static str,
    pub monthly_income_fen: i64,
    pub social_security_months: u32,
    pub provident_fund_months: u32,
    pub provident_fund_base_fen: i64,
    pub has_property: bool,
    /// 0 when `has_property` is false.
    pub property_value_fen: i64,
    pub has_car: bool,
    pub overdue_count_2y: u32,
    pub inquiries_3m: u32,
    /// Always ≥ `inquiries_3m` (the 6-month window contains the 3-month one).
    pub inquiries_6m: u32,
    pub existing_debt_fen: i64,
    pub created_at: DateTime<Utc>,
    /// Sorted by time, all within `[created_at, now]`.
    pub followups: Vec<SynthFollowup>,
}

const FEN_PER_YUAN: i64 = 100;
const FEN_PER_WAN: i64 = 1_000_000;

/// Numbers in the phone pool: 10^7 in 1349xxxxxxx plus 10^6 in 17400xxxxxx.
const PHONE_POOL: u64 = 11_000_000;
/// Extra phones are taken from the top of the pool, at most this many.
const MAX_EXTRA_PHONES: u64 = 1_000_000;
/// A birth date/area/gender cell holds 500 sequence numbers (odd or even 000..999).
const SEQ_PER_CELL: u16 = 500;
/// Birth dates are drawn as "days before today" within this window (see AGE_BANDS).
const BIRTH_DAY_LO: u64 = data::MIN_AGE as u64 * 36525 / 100;
const BIRTH_DAY_HI: u64 = data::MAX_AGE as u64 * 36525 / 100;
const BIRTH_WINDOW: u64 = BIRTH_DAY_HI - BIRTH_DAY_LO;

/// Deterministic generator of synthetic customers.
///
/// Uniqueness guarantees, per `Generator` value:
/// * Phone numbers (primary and extra) are all distinct for the first 10,000,000
///   customers. The pool is 1349xxxxxxx (10^7 numbers, a former satellite segment)
///   plus 17400xxxxxx (10^6, Tiantong satellite), neither of which reaches ordinary
///   subscribers, so demo data never rings a real person. Primary phones take pool
///   slots from the bottom, extra phones from the top, and extra phones stop after
///   1,000,000 have been issued; after 11,000,000 numbers the pool wraps and repeats.
/// * ID numbers are distinct as long as no (area code, birth date, gender) cell is
///   asked for more than 500 people; full cells spill to the next birth date, so in
///   practice uniqueness holds for far more than 10^8 customers.
///
/// The generator keeps a table of used ID sequence numbers of about 4.5 MB.
pub struct Generator {
    rng: Rng,
    now: DateTime<Utc>,
    /// The calendar date in China at `now`; birth dates and local times refer to it.
    today: NaiveDate,
    /// Seed-derived key of the keyed permutations (phone numbers, ID sequence offsets).
    key: u64,
    customers: u64,
    extra_phones: u64,
    /// Index of each district's area code in `id_cells` (Dongguan towns share one).
    district_slot: Vec<Vec<usize>>,
    /// Used sequence numbers per (area code slot, birth day, gender).
    id_cells: Vec<u16>,
}

impl Generator {
    /// `now` anchors everything time-related: ages, creation times (the 365 days before
    /// it) and follow-ups (never after it). Same seed and `now`, same customers.
    pub fn new(seed: u64, now: DateTime<Utc>) -> Generator {
        let mut codes: Vec<u32> = Vec::new();
        let district_slot = data::CITIES
            .iter()
            .map(|city| {
                city.districts
                    .iter()
                    .map(|d| match codes.iter().position(|&c| c == d.code) {
                        Some(i) => i,
                        None => {
                            codes.push(d.code);
                            codes.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let cells = codes.len() * BIRTH_WINDOW as usize * 2;
        Generator {
            rng: Rng::new(seed),
            now,
            today: china_date(now),
            key: rng::mix64(seed ^ 0x5048_4F4E_455F_4B45),
            customers: 0,
            extra_phones: 0,
            district_slot,
            id_cells: vec![0; cells],
        }
    }

    /// How many customers this generator has produced so far.
    pub fn generated(&self) -> u64 {
        self.customers
    }

    /// A plausible name for a (synthetic) employee of the agency.
    pub fn staff_name(&mut self) -> String {
        let gender = if self.rng.chance(500) {
            Gender::Male
        } else {
            Gender::Female
        };
        self.person_name(gender)
    }

    /// The next customer of the sequence.
    pub fn customer(&mut self) -> SynthCustomer {
        let index = self.customers;
        self.customers += 1;

        // Loan applicants skew male (the borrower is usually the business owner).
        let gender = if self.rng.chance(620) {
            Gender::Male
        } else {
            Gender::Female
        };
        let band = self.rng.weighted_pick(data::AGE_BANDS);
        let days_old = self.rng.range(
            i64::from(band.0) * 36525 / 100,
            i64::from(band.1) * 36525 / 100,
        ) as u64;
        let city_index = self.weighted_city();
        let city = &data::CITIES[city_index];
        let district_index = self.rng.below(city.districts.len() as u64) as usize;
        let district = &city.districts[district_index];
        let slot = self.district_slot[city_index][district_index];
        let (id_number, birth_date) = self.id_number(district, slot, days_old, gender);
        let age = (days_old * 100 / 36525) as u32;

        let name = self.person_name(gender);
        let phone = self.phone_at(index);
        let mut extra_phones = Vec::new();
        if self.extra_phones < MAX_EXTRA_PHONES && self.rng.chance(40) {
            extra_phones.push(self.phone_at(PHONE_POOL - 1 - self.extra_phones));
            self.extra_phones += 1;
        }

        let occupation = self.rng.weighted_pick(data::OCCUPATIONS);
        let p = self.profile(occupation, age, city);
        let company = self.company(occupation, city);
        let address = self.address(district, city);
        let stage = self.rng.weighted_pick(data::STAGES);
        let (created_at, schedule) = self.created_at(stage);
        let grade = profile::grade(&p, self.rng.range(-1, 2));
        let stars = self.stars(stage, grade);
        let intent = self.intent(stage);

        let mut c = SynthCustomer {
            name,
            gender,
            birth_date,
            id_number,
            phone,
            extra_phones,
            city: city.name,
            district: district.name,
            address,
            company,
            channel: self.rng.weighted_pick(data::CHANNELS),
            stage,
            grade,
            stars,
            intent,
            tags: Vec::new(),
            demand_amount_fen: p.demand_amount_fen,
            demand_term_months: p.demand_term_months,
            demand_purpose: p.demand_purpose,
            occupation,
            monthly_income_fen: p.monthly_income_fen,
            social_security_months: p.social_security_months,
            provident_fund_months: p.provident_fund_months,
            provident_fund_base_fen: p.provident_fund_base_fen,
            has_property: p.has_property,
            property_value_fen: p.property_value_fen,
            has_car: p.has_car,
            overdue_count_2y: p.overdue_count_2y,
            inquiries_3m: p.inquiries_3m,
            inquiries_6m: p.inquiries_6m,
            existing_debt_fen: p.existing_debt_fen,
            created_at,
            followups: Vec::new(),
        };
        c.tags = self.tags(&c);
        c.followups = followup::write(&mut self.rng, &c, &schedule, self.now);
        c
    }

    fn weighted_city(&mut self) -> usize {
        let total: u64 = data::CITIES.iter().map(|c| u64::from(c.weight)).sum();
        let mut r = self.rng.below(total);
        for (i, c) in data::CITIES.iter().enumerate() {
            let w = u64::from(c.weight);
            if r < w {
                return i;
            }
            r -= w;
        }
        0
    }

    fn person_name(&mut self, gender: Gender) -> String {
        let mut s = String::with_capacity(12);
        s.push_str(self.rng.weighted_pick(names::SURNAMES));
        let (own, other) = match gender {
            Gender::Male => (names::GIVEN_MALE, names::GIVEN_FEMALE),
            Gender::Female => (names::GIVEN_FEMALE, names::GIVEN_MALE),
        };
        let chars = if self.rng.chance(780) { 2 } else { 1 };
        for _ in 0..chars {
            // Mostly gender-typical characters, but names are not strictly gendered.
            let list = if self.rng.chance(950) { own } else { other };
            s.push_str(self.rng.pick(list));
        }
        s
    }

    /// Builds an ID number that is unique within this generator (see the type docs).
    fn id_number(
        &mut self,
        district: &District,
        slot: usize,
        days_old: u64,
        gender: Gender,
    ) -> (String, NaiveDate) {
        let parity = usize::from(gender == Gender::Male);
        let mut day = days_old.clamp(BIRTH_DAY_LO, BIRTH_DAY_HI - 1) - BIRTH_DAY_LO;
        let mut cell = (slot * BIRTH_WINDOW as usize + day as usize) * 2 + parity;
        // A full cell moves the birth date one day; bounded so a (theoretically) full
        // table degrades to duplicates instead of looping forever.
        for _ in 0..BIRTH_WINDOW {
            if self.id_cells[cell] < SEQ_PER_CELL {
                break;
            }
            day = (day + 1) % BIRTH_WINDOW;
            cell = (slot * BIRTH_WINDOW as usize + day as usize) * 2 + parity;
        }
        let used = self.id_cells[cell];
        self.id_cells[cell] = used.saturating_add(1);
        // Start each cell at a keyed offset so sequence numbers do not all begin at 000.
        let start = rng::mix64(self.key ^ cell as u64) % u64::from(SEQ_PER_CELL);
        let seq = ((start + u64::from(used)) % u64::from(SEQ_PER_CELL)) * 2 + parity as u64;

        let birth = self
            .today
            .checked_sub_days(Days::new(BIRTH_DAY_LO + day))
            .unwrap_or(self.today);
        let mut buf = [0u8; 17];
        write_digits(&mut buf[..6], u64::from(district.code));
        write_digits(&mut buf[6..14], u64::from(ymd(birth)));
        write_digits(&mut buf[14..17], seq);
        let mut s = String::with_capacity(18);
        s.extend(buf.iter().map(|&b| char::from(b)));
        s.push(id_number::check_digit(&buf));
        debug_assert!(
            id_number::parse(&s, self.today).is_ok(),
            "bad synthetic ID {s}"
        );
        (s, birth)
    }

    /// Maps a pool slot to a phone number through a keyed permutation, so consecutive
    /// customers get unrelated-looking numbers while distinct slots stay distinct.
    fn phone_at(&self, slot: u64) -> String {
        let slot = slot % PHONE_POOL;
        // Every 11th slot goes to the 17400 range so both ranges appear throughout.
        let (k, r) = (slot / 11, slot % 11);
        let mut buf = [0u8; 11];
        if r == 0 {
            buf[..5].copy_from_slice(b"17400");
            write_digits(&mut buf[5..], permute(k, 1_000, 1_000, self.key));
        } else {
            buf[..4].copy_from_slice(b"1349");
            let idx = k * 10 + (r - 1);
            write_digits(&mut buf[4..], permute(idx, 1_000, 10_000, self.key));
        }
        let s: String = buf.iter().map(|&b| char::from(b)).collect();
        debug_assert!(phone::parse(&s).is_ok(), "bad synthetic phone {s}");
        s
    }

    fn company(&mut self, occupation: &str, city: &City) -> Option<String> {
        let has = match occupation {
            "business_owner" => true,
            "employee" => self.rng.chance(400),
            "self_employed" => self.rng.chance(200),
            _ => false,
        };
        if !has {
            return None;
        }
        let first = self.rng.below(data::BRAND_CHARS.len() as u64) as usize;
        // A second, different character: offset by 1..len so it never repeats the first.
        let len = data::BRAND_CHARS.len();
        let second = (first + 1 + self.rng.below(len as u64 - 1) as usize) % len;
        let mut s = String::with_capacity(48);
        s.push_str(city.name);
        s.push_str(data::BRAND_CHARS[first]);
        s.push_str(data::BRAND_CHARS[second]);
        s.push_str(self.rng.pick(data::INDUSTRIES));
        s.push_str("有限公司");
        Some(s)
    }

    fn address(&mut self, district: &District, city: &City) -> String {
        let mut s = String::with_capacity(64);
        s.push_str(district.name);
        s.push_str(self.rng.pick(city.roads));
        // Low house numbers are far more common than high ones.
        let cap = 1 + self.rng.below(400);
        let no = 1 + self.rng.below(cap);
        let building = 1 + self.rng.below(30);
        let unit = 1 + self.rng.below(4);
        let floor = 1 + self.rng.below(32);
        let room = 1 + self.rng.below(4);
        // Writing to a String cannot fail.
        let _ = write!(s, "{no}号{building}栋{unit}单元{floor}{room:02}");
        s
    }

    /// Picks the creation time and plans the follow-ups together: older records are
    /// rarer (the book grows), and a customer must be old enough for their history to
    /// have happened before `now`.
    fn created_at(&mut self, stage: &str) -> (DateTime<Utc>, followup::Schedule) {
        let hour = self.rng.weighted_pick(data::HOURS);
        let time_of_day = i64::from(hour) * 3600 + self.rng.range(0, 3600);
        let schedule = followup::schedule(&mut self.rng, stage, time_of_day);
        let now_time_of_day =
            i64::from((self.now + TimeDelta::hours(8)).num_seconds_from_midnight());
        let overshoot = time_of_day + schedule.duration() - now_time_of_day;
        let min_days = (overshoot.max(0) + followup::DAY - 1) / followup::DAY;
        // Histories are at most a few months, so this cap never bites in practice.
        let min_days = (min_days as u64).min(364);
        let span = 365 - min_days;
        let days_ago = min_days + self.rng.below(span).min(self.rng.below(span));
        let day = self
            .today
            .checked_sub_days(Days::new(days_ago))
            .unwrap_or(self.today);
        let created =
            day.and_time(NaiveTime::MIN).and_utc() + TimeDelta::seconds(time_of_day - 8 * 3600);
        (created, schedule)
    }

    fn stars(&mut self, stage: &str, grade: char) -> u8 {
        let base: i64 = match grade {
            'A' => 3,
            'B' => 2,
            'C' => 1,
            _ => 0,
        };
        let bonus = match stage {
            "visited" | "signed" | "won" => 1,
            "lost" | "invalid" => -2,
            _ => 0,
        };
        (base + bonus + self.rng.range(-1, 2)).clamp(0, 5) as u8
    }

    fn intent(&mut self, stage: &str) -> &'static str {
        let weights: [u32; 3] = match stage {
            "visited" | "signed" | "won" => [80, 18, 2],
            "invited" | "qualified" => [40, 50, 10],
            "lost" => [0, 30, 70],
            "invalid" => [0, 0, 100],
            _ => [15, 45, 40],
        };
        self.rng.weighted_pick(&[
            ("high", weights[0]),
            ("medium", weights[1]),
            ("low", weights[2]),
        ])
    }

    /// Staff tag what they notice, so a true fact is usually, not always, tagged.
    fn tags(&mut self, c: &SynthCustomer) -> Vec<&'static str> {
        let mut tags = Vec::with_capacity(8);
        let mut tag = |rng: &mut Rng, cond: bool, t: &'static str| {
            if cond && rng.chance(850) {
                tags.push(t);
            }
        };
        let r = &mut self.rng;
        tag(r, c.has_property, "有房");
        tag(r, c.has_car, "有车");
        tag(r, c.provident_fund_months >= 6, "公积金");
        tag(r, c.social_security_months >= 6, "社保");
        tag(r, c.occupation == "business_owner", "企业主");
        tag(r, c.occupation == "self_employed", "个体户");
        tag(r, c.occupation == "civil_servant", "公务员");
        let clean = c.overdue_count_2y == 0 && c.inquiries_6m <= 3;
        tag(r, clean, "征信良好");
        tag(r, c.inquiries_6m >= 8, "征信花");
        tag(r, c.overdue_count_2y > 0, "有逾期");
        tag(r, c.existing_debt_fen > c.monthly_income_fen * 36, "负债高");
        let urgent = r.chance(180);
        tag(r, urgent, "急用钱");
        let policy = r.chance(60);
        tag(r, policy, "有保单");
        tags
    }
}

/// The calendar date in China (UTC+8, no daylight saving) at `t`.
fn china_date(t: DateTime<Utc>) -> NaiveDate {
    (t + TimeDelta::hours(8)).date_naive()
}

fn ymd(d: NaiveDate) -> u32 {
    use chrono::Datelike;
    d.year().unsigned_abs() * 10_000 + d.month() * 100 + d.day()
}

/// Writes `value` as zero-padded ASCII decimal filling `out` (higher digits dropped).
fn write_digits(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A keyed bijection on `0..a*b` (a 4-round Feistel network over Z_a × Z_b whose
/// halves swap moduli each round), so distinct inputs always give distinct outputs.
fn permute(x: u64, a: u64, b: u64, key: u64) -> u64 {
    let (mut l, mut r) = (x / b % a, x % b);
    let (mut ml, mut mr) = (a, b);
    for round in 0..4u64 {
        let f = rng::mix64(r ^ key.rotate_left(round as u32 * 16) ^ (round << 56)) % ml;
        (l, r) = (r, (l + f) % ml);
        (ml, mr) = (mr, ml);
    }
    l * mr + r
}

#[cfg(test)]
mod tests;

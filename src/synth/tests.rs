//! Tests of the synthetic-data generator: determinism, validity and uniqueness.

use std::collections::HashSet;

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 9, 30, 0).unwrap()
}

#[test]
fn same_seed_same_sequence() {
    let mut a = Generator::new(42, now());
    let mut b = Generator::new(42, now());
    for _ in 0..500 {
        let (x, y) = (a.customer(), b.customer());
        assert_eq!(format!("{x:?}"), format!("{y:?}"));
    }
    assert_eq!(a.staff_name(), b.staff_name());
    assert_eq!(a.generated(), 500);

    let mut c = Generator::new(43, now());
    let differ = (0..50)
        .filter(|_| a.customer().phone != c.customer().phone)
        .count();
    assert!(differ > 40);
}

#[test]
fn permutation_is_a_bijection() {
    let mut seen = vec![false; 10 * 1000];
    for x in 0..10 * 1000 {
        let y = permute(x, 10, 1000, 12345) as usize;
        assert!(!seen[y], "collision at {x}");
        seen[y] = true;
    }
}

#[test]
fn ten_thousand_customers_are_valid_and_plausible() {
    let now = now();
    let today = china_date(now);
    let mut g = Generator::new(7, now);
    let mut stages = std::collections::HashMap::new();
    let mut surnames_with_special_reading = 0;
    for _ in 0..10_000 {
        let c = g.customer();
        let id = id_number::parse(&c.id_number, today).unwrap();
        assert_eq!(id.as_str(), c.id_number);
        assert_eq!(id.birth_date(), c.birth_date);
        assert_eq!(id.gender(), c.gender);
        assert!((19..=61).contains(&id.age_on(today)), "{}", c.id_number);
        let district = data::CITIES
            .iter()
            .find(|city| city.name == c.city)
            .and_then(|city| city.districts.iter().find(|d| d.name == c.district))
            .unwrap();
        assert_eq!(c.id_number[..6], district.code.to_string());
        assert!(c.address.starts_with(c.district));

        assert_eq!(phone::parse(&c.phone).unwrap().as_str(), c.phone);
        assert!(c.phone.starts_with("1349") || c.phone.starts_with("17400"));
        for p in &c.extra_phones {
            phone::parse(p).unwrap();
        }

        assert!(c.name.chars().count() >= 2 && c.name.chars().count() <= 4);
        if [
            "单", "曾", "解", "仇", "区", "查", "朴", "盖", "乐", "缪", "覃", "翟",
        ]
        .iter()
        .any(|s| c.name.starts_with(s))
        {
            surnames_with_special_reading += 1;
        }
        assert!(('A'..='D').contains(&c.grade));
        assert!(c.stars <= 5);
        assert!(["high", "medium", "low"].contains(&c.intent));
        assert!(c.inquiries_6m >= c.inquiries_3m);
        assert!((5 * FEN_PER_WAN..=300 * FEN_PER_WAN).contains(&c.demand_amount_fen));
        assert_eq!(c.demand_amount_fen % FEN_PER_WAN, 0);
        assert!([12, 24, 36, 60, 120].contains(&c.demand_term_months));
        assert_eq!(c.has_property, c.property_value_fen > 0);
        assert_eq!(c.provident_fund_months > 0, c.provident_fund_base_fen > 0);
        assert!(c.monthly_income_fen > 0 && c.existing_debt_fen >= 0);
        if let Some(company) = &c.company {
            assert!(company.starts_with(c.city) && company.ends_with("有限公司"));
        }

        assert!(c.created_at <= now && c.created_at > now - TimeDelta::days(366));
        let mut prev = c.created_at;
        for f in &c.followups {
            assert!(f.at >= prev && f.at <= now, "{f:?} of {c:?}");
            assert!(["call", "visit", "wechat", "sms", "note"].contains(&f.kind));
            assert!(!f.content.is_empty() && !f.outcome.is_empty());
            prev = f.at;
        }
        let n = c.followups.len();
        let (lo, hi) = match c.stage {
            "lead" => (0, 1),
            "won" => (3, 8),
            _ => (0, 8),
        };
        assert!((lo..=hi).contains(&n), "{} has {n} follow-ups", c.stage);
        if c.stage == "won" {
            assert_eq!(c.followups.last().unwrap().outcome, "已放款");
        }
        *stages.entry(c.stage).or_insert(0u32) += 1;
    }
    let count = |s: &str| stages.get(s).copied().unwrap_or(0);
    let leads = count("lead");
    assert!(stages.values().all(|&n| n <= leads), "{stages:?}");
    assert!(count("won") < leads / 4 && count("won") > 0, "{stages:?}");
    assert_eq!(stages.len(), 9, "{stages:?}");
    assert!(surnames_with_special_reading > 0);
}

#[test]
fn phones_and_ids_unique_over_200k() {
    let mut g = Generator::new(2024, now());
    let mut phones = HashSet::with_capacity(220_000);
    let mut ids = HashSet::with_capacity(200_000);
    for _ in 0..200_000 {
        let c = g.customer();
        assert!(ids.insert(c.id_number), "duplicate ID");
        assert!(phones.insert(c.phone), "duplicate phone");
        for p in c.extra_phones {
            assert!(phones.insert(p), "duplicate extra phone");
        }
    }
    assert!(phones.len() > 200_000);
}

#[test]
fn every_pool_slot_is_a_distinct_valid_phone() {
    // Exhaustive over the 17400 share and a 1349 stretch: the mapping is injective.
    let g = Generator::new(1, now());
    let mut seen = HashSet::new();
    for slot in (0..PHONE_POOL).step_by(11).take(1_000_000 / 20) {
        assert!(seen.insert(g.phone_at(slot)));
    }
    for slot in 0..50_000 {
        let p = g.phone_at(slot);
        assert!(p.len() == 11 && (slot % 11 == 0 || seen.insert(p)));
    }
    assert_eq!(g.phone_at(PHONE_POOL + 5), g.phone_at(5));
}

#[test]
fn staff_names_look_like_names() {
    let mut g = Generator::new(3, now());
    for _ in 0..100 {
        let n = g.staff_name();
        assert!((2..=4).contains(&n.chars().count()), "{n}");
    }
}

#[test]
fn birth_dates_cover_age_bands() {
    let mut g = Generator::new(11, now());
    let today = NaiveDate::from_ymd_opt(2025, 6, 15).unwrap();
    let ages: Vec<i64> = (0..2000)
        .map(|_| (today - g.customer().birth_date).num_days() / 365)
        .collect();
    assert!(ages.iter().any(|&a| a < 25) && ages.iter().any(|&a| a >= 50));
}

#[test]
fn generated_profiles_read_as_typed_profiles() {
    use crate::domain::customer::Occupation;
    for (o, _) in data::OCCUPATIONS {
        assert!(Occupation::parse(o).is_some(), "{o}");
    }
    let mut g = Generator::new(7, now());
    for _ in 0..2000 {
        let c = g.customer();
        let p = crate::domain::customer::Profile {
            monthly_income_fen: Some(c.monthly_income_fen),
            social_security_months: Some(c.social_security_months),
            provident_fund_months: Some(c.provident_fund_months),
            provident_fund_base_fen: Some(c.provident_fund_base_fen),
            property_value_fen: Some(c.property_value_fen),
            credit: crate::domain::customer::Credit {
                overdue_count_2y: Some(c.overdue_count_2y),
                inquiries_3m: Some(c.inquiries_3m),
                inquiries_6m: Some(c.inquiries_6m),
                existing_debt_fen: Some(c.existing_debt_fen),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(crate::domain::profile::check(&p), Ok(()), "{c:?}");
    }
}

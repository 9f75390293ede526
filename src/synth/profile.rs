//! The financial side of a synthetic customer (income, social insurance, assets, credit
//! record, loan demand), drawn with correlations a loan officer would recognise.

use super::rng::Rng;
use super::{FEN_PER_WAN, FEN_PER_YUAN, Generator, data};
use data::City;

/// Financial profile, drawn before the customer is assembled.
pub(super) struct Profile {
    pub(super) monthly_income_fen: i64,
    pub(super) social_security_months: u32,
    pub(super) provident_fund_months: u32,
    pub(super) provident_fund_base_fen: i64,
    pub(super) has_property: bool,
    pub(super) property_value_fen: i64,
    pub(super) has_car: bool,
    pub(super) overdue_count_2y: u32,
    pub(super) inquiries_3m: u32,
    pub(super) inquiries_6m: u32,
    pub(super) existing_debt_fen: i64,
    pub(super) demand_amount_fen: i64,
    pub(super) demand_term_months: u32,
    pub(super) demand_purpose: &'static str,
    pub(super) occupation_is_owner: bool,
}

impl Generator {
    pub(super) fn profile(&mut self, occupation: &'static str, age: u32, city: &City) -> Profile {
        let r = &mut self.rng;
        // Monthly income ranges in yuan, by occupation.
        let (lo, hi) = match occupation {
            "business_owner" => (15_000, 150_000),
            "self_employed" => (6_000, 50_000),
            "civil_servant" => (6_000, 20_000),
            "freelancer" => (3_000, 25_000),
            _ => (4_000, 30_000),
        };
        // min of two draws skews incomes towards the low end, as in reality.
        let income_yuan = r.range(lo, hi).min(r.range(lo, hi)) / 100 * 100;
        let working_months = i64::from(age.saturating_sub(19)) * 12;

        let (ss_p, pf_p) = match occupation {
            "civil_servant" => (990, 950),
            "employee" => (880, 450),
            "business_owner" => (500, 300),
            "self_employed" => (300, 60),
            _ => (250, 50),
        };
        let months = |r: &mut Rng, p: u32| -> u32 {
            if r.chance(p) {
                r.range(3, working_months.clamp(4, 240)) as u32
            } else {
                0
            }
        };
        let social_security_months = months(r, ss_p);
        let provident_fund_months = months(r, pf_p);
        let provident_fund_base_fen = if provident_fund_months > 0 {
            let pct = r.range(60, 101);
            (income_yuan * pct / 100).clamp(2_000, 36_000) / 10 * 10 * FEN_PER_YUAN
        } else {
            0
        };

        let owner = occupation == "business_owner";
        let mut prop_p = 300 + if owner { 250 } else { 0 };
        if age >= 35 {
            prop_p += 150;
        }
        let has_property = r.chance(prop_p);
        let property_value_fen = if has_property {
            r.range(city.property_wan.0, city.property_wan.1 + 1) * FEN_PER_WAN
        } else {
            0
        };
        let has_car = r.chance(if owner { 650 } else { 380 });

        let overdue_count_2y = if r.chance(780) {
            0
        } else {
            r.range(1, 7) as u32
        };
        let inquiries_3m = r.weighted_pick(&[
            (0u32, 25),
            (1, 20),
            (2, 18),
            (3, 12),
            (4, 8),
            (5, 6),
            (6, 4),
            (8, 4),
            (10, 3),
        ]);
        let extra_cap = 1 + r.range(0, 7);
        let inquiries_6m = inquiries_3m + r.range(0, extra_cap) as u32;

        let mut existing_debt_yuan = 0;
        if has_property && r.chance(500) {
            // Remaining mortgage: 20–60 % of the home's value.
            existing_debt_yuan += property_value_fen / FEN_PER_YUAN * r.range(20, 61) / 100;
        }
        if r.chance(550) {
            // Credit cards and consumer loans.
            existing_debt_yuan += r.range(1, 31) * 10_000;
        }
        let existing_debt_fen = existing_debt_yuan / 100 * 100 * FEN_PER_YUAN;

        // Demand, in 万 yuan: secured products allow much larger amounts.
        let (dlo, dhi) = if has_property {
            (30, 301)
        } else if owner {
            (20, 201)
        } else if provident_fund_months >= 12 {
            (10, 81)
        } else {
            (5, 51)
        };
        let demand_wan = r.range(dlo, dhi).min(r.range(dlo, dhi)).clamp(5, 300);
        let secured = has_property && demand_wan >= 50;
        let terms = if secured {
            data::TERMS_SECURED
        } else {
            data::TERMS_UNSECURED
        };
        let demand_term_months = r.weighted_pick(terms);
        let demand_purpose = if owner && r.chance(600) {
            "经营周转"
        } else {
            r.weighted_pick(data::PURPOSES)
        };

        Profile {
            monthly_income_fen: income_yuan * FEN_PER_YUAN,
            social_security_months,
            provident_fund_months,
            provident_fund_base_fen,
            has_property,
            property_value_fen,
            has_car,
            overdue_count_2y,
            inquiries_3m,
            inquiries_6m,
            existing_debt_fen,
            demand_amount_fen: demand_wan * FEN_PER_WAN,
            demand_term_months,
            demand_purpose,
            occupation_is_owner: owner,
        }
    }
}

/// Grade from a simple credit score plus noise, as a loan officer's gut feeling would be.
pub(super) fn grade(p: &Profile, noise: i64) -> char {
    let mut score = noise;
    if p.has_property {
        score += 3;
    }
    if p.provident_fund_months >= 12 {
        score += 2;
    }
    if p.social_security_months >= 12 {
        score += 1;
    }
    if p.monthly_income_fen >= 15_000 * FEN_PER_YUAN {
        score += 1;
    }
    if p.monthly_income_fen >= 30_000 * FEN_PER_YUAN {
        score += 1;
    }
    if p.occupation_is_owner {
        score += 1;
    }
    match p.overdue_count_2y {
        0 => score += 2,
        1 | 2 => {}
        _ => score -= 2,
    }
    if p.inquiries_6m >= 8 {
        score -= 2;
    }
    if p.existing_debt_fen > p.monthly_income_fen * 36 {
        score -= 1;
    }
    match score {
        7.. => 'A',
        4..=6 => 'B',
        2..=3 => 'C',
        _ => 'D',
    }
}

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::domain::loan::{Method, schedule};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn loan(principal_fen: i64, annual_rate_bp: i64, months: u32, method: Method) -> Schedule {
    schedule(&LoanTerms {
        principal_fen,
        annual_rate_bp,
        months,
        method,
        first_date: d(2027, 1, 31),
    })
    .unwrap()
}

/// Newton's method on the annuity equation `pv = pmt · (1 − (1+r)^−n) / r`: an independent
/// way to the monthly rate of level payments.
fn newton_annuity_rate(pv: f64, pmt: f64, n: i32) -> f64 {
    let mut r: f64 = 0.01;
    for _ in 0..100 {
        let v = (1.0 + r).powi(-n);
        let f = pmt * (1.0 - v) / r - pv;
        let df = pmt * (f64::from(n) * v / (1.0 + r) / r - (1.0 - v) / (r * r));
        r -= f / df;
    }
    r
}

fn bp(monthly: f64) -> i64 {
    (monthly * 120_000.0).round() as i64
}

/// With no fee, a loan whose interest is charged monthly on the balance costs exactly its
/// nominal rate, whatever the method: the convention is 12 × the monthly IRR.
#[test]
fn no_fee_costs_the_nominal_rate() {
    assert_eq!(
        comprehensive_cost(&loan(100_000_000, 490, 360, Method::Annuity), &[]),
        Ok(490)
    );
    for method in [
        Method::Annuity,
        Method::EqualPrincipal,
        Method::InterestOnly,
    ] {
        for (p, rate, n) in [
            (100_000_000, 490, 360),
            (5_000_000, 0, 12),
            (2_000_000, 1_800, 24),
            (30_000_000, 2_400, 36),
            (1_000_000, 3_599, 7),
            (10_000_000, 100_000, 600),
        ] {
            let s = loan(p, rate, n, method);
            assert_eq!(
                comprehensive_cost(&s, &[]),
                Ok(rate),
                "{method:?} {p} {rate} {n}"
            );
        }
    }
}

/// ¥100,000 over 12 months at 12% 等额本息 with a ¥2,000 service fee paid at disbursement:
/// the borrower has ¥98,000 for twelve payments of ¥8,884.88, which is 15.85% a year — the
/// fee adds 3.85 points. Checked against Newton's method on the annuity equation.
#[test]
fn an_upfront_fee_raises_the_cost() {
    let s = loan(10_000_000, 1200, 12, Method::Annuity);
    assert_eq!(s.periods[0].payment_fen, 888_488);
    let cost = comprehensive_cost(&s, &[Fee::upfront(&s, 200_000)]).unwrap();
    let expected = bp(newton_annuity_rate(9_800_000.0, 888_488.0, 12));
    assert_eq!(cost, expected);
    assert_eq!(cost, 1585);
    // The published 30-year loan with a 1% fee up front: 4.9% becomes 4.99%.
    let s = loan(100_000_000, 490, 360, Method::Annuity);
    let cost = comprehensive_cost(&s, &[Fee::upfront(&s, 1_000_000)]).unwrap();
    assert_eq!(cost, bp(newton_annuity_rate(99_000_000.0, 530_727.0, 360)));
    assert_eq!(cost, 499);
}

/// A monthly fee on an interest-only loan is more interest: ¥100,000 at 6% with a ¥500 fee
/// each month costs exactly 12% (6% + 500 × 12 / 100,000). On an annuity loan the fee adds
/// to the level payment (Newton on the annuity equation again).
#[test]
fn a_monthly_fee_raises_the_cost() {
    let s = loan(10_000_000, 600, 24, Method::InterestOnly);
    let fees = Fee::monthly(&s.terms, 50_000).unwrap();
    assert_eq!(fees.len(), 24);
    assert_eq!(fees[1].date, d(2027, 2, 28));
    assert_eq!(comprehensive_cost(&s, &fees), Ok(1200));

    let s = loan(10_000_000, 1200, 12, Method::Annuity);
    let fees = Fee::monthly(&s.terms, 30_000).unwrap();
    let cost = comprehensive_cost(&s, &fees).unwrap();
    assert_eq!(
        cost,
        bp(newton_annuity_rate(10_000_000.0, 888_488.0 + 30_000.0, 12))
    );
    // 12% + 6.35 points: the fee is 0.3% of the whole loan a month while the balance falls, so it
    // costs far more than 0.3% × 12 = 3.6 points.
    assert_eq!(cost, 1835);
    // Both fees together cost more than either.
    let both: Vec<Fee> = fees
        .iter()
        .copied()
        .chain([Fee::upfront(&s, 200_000)])
        .collect();
    assert!(comprehensive_cost(&s, &both).unwrap() > cost);
}

/// 到期还本付息 with simple interest: ¥100,000 at 12% for 12 months repays ¥112,000 once;
/// monthly compounding of r must give 1.12 over 12 months: r = 1.12^(1/12) − 1, 11.39% a year —
/// below the nominal 12% because nothing is repaid early. One month costs the nominal rate.
#[test]
fn a_bullet_loan() {
    let s = loan(10_000_000, 1200, 12, Method::Bullet);
    let expected = bp(1.12f64.powf(1.0 / 12.0) - 1.0);
    assert_eq!(expected, 1139);
    assert_eq!(comprehensive_cost(&s, &[]), Ok(expected));
    assert_eq!(
        comprehensive_cost(&loan(10_000_000, 1200, 1, Method::Bullet), &[]),
        Ok(1200)
    );
    // A monthly fee still falls every month of the term, not once.
    let fees = Fee::monthly(&s.terms, 10_000).unwrap();
    assert_eq!(fees.len(), 12);
    assert!(comprehensive_cost(&s, &fees).unwrap() > expected + 100);
}

#[test]
fn months_are_the_loans_months() {
    let first = d(2027, 1, 31);
    assert_eq!(months_from_start(first, d(2026, 12, 31)), Some(0.0));
    assert_eq!(months_from_start(first, first), Some(1.0));
    assert_eq!(months_from_start(first, d(2027, 2, 28)), Some(2.0));
    assert_eq!(months_from_start(first, d(2027, 3, 31)), Some(3.0));
    // 03-14 is 14 of the 31 days from the end of month 2 (02-28) to the end of month 3.
    let t = months_from_start(first, d(2027, 3, 14)).unwrap();
    assert!((t - (2.0 + 14.0 / 31.0)).abs() < 1e-12, "{t}");
    assert_eq!(months_from_start(first, d(2026, 11, 30)), Some(-1.0));
    assert_eq!(
        months_from_start(d(2027, 1, 15), d(2027, 1, 20)),
        Some(1.0 + 5.0 / 31.0)
    );
}

#[test]
fn refusals_are_errors_not_panics() {
    let s = loan(1_000_000, 1200, 12, Method::Annuity);
    // A fee up front as large as the loan: nothing is received, no rate balances the flows.
    assert_eq!(
        comprehensive_cost(&s, &[Fee::upfront(&s, 1_000_000)]),
        Err(IrrError::NoSignChange)
    );
    assert_eq!(
        comprehensive_cost(&s, &[Fee::upfront(&s, -1)]),
        Err(IrrError::BadFee)
    );
    assert_eq!(monthly_irr(&[]), Err(IrrError::NoSignChange));
    assert_eq!(
        monthly_irr(&[(0.0, 5), (1.0, 7)]),
        Err(IrrError::NoSignChange)
    );
    assert_eq!(
        monthly_irr(&[(0.0, 1), (1e-9, -1_000_000_000_000_000_000)]),
        Err(IrrError::OutOfRange)
    );
    assert_eq!(annual_bp(f64::INFINITY), Err(IrrError::OutOfRange));
    assert_eq!(annual_bp(1e300), Err(IrrError::OutOfRange));
    // The largest loans and fees the API accepts still give a rate.
    let s = loan(1, 100_000, 1, Method::Annuity);
    let fees = Fee::monthly(&s.terms, MAX_FEE_FEN).unwrap();
    assert!(comprehensive_cost(&s, &fees).unwrap() > 1_000_000_000_000_000);
    // Money back at a loss: a negative rate is a rate.
    assert_eq!(monthly_irr(&[(0.0, 100), (1.0, -50)]).map(bp), Ok(bp(-0.5)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every monthly method without a fee costs its nominal rate; a fee never lowers it.
    #[test]
    fn cost_is_nominal_without_fees_and_rises_with_them(
        p in 1_000_000i64..=10_000_000_000,
        rate in 0i64..=3_600,
        n in 1u32..=360,
        method in prop::sample::select(vec![Method::Annuity, Method::EqualPrincipal, Method::InterestOnly]),
        fee in 0i64..=500_000,
    ) {
        let s = loan(p, rate, n, method);
        prop_assert_eq!(comprehensive_cost(&s, &[]), Ok(rate));
        let with_fee = comprehensive_cost(&s, &[Fee::upfront(&s, fee)]).unwrap();
        prop_assert!(with_fee >= rate);
    }
}

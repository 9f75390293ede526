use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn terms(principal_fen: i64, annual_rate_bp: i64, months: u32, method: Method) -> LoanTerms {
    LoanTerms {
        principal_fen,
        annual_rate_bp,
        months,
        method,
        first_date: d(2027, 1, 15),
    }
}

fn run(principal_fen: i64, annual_rate_bp: i64, months: u32, method: Method) -> Schedule {
    schedule(&terms(principal_fen, annual_rate_bp, months, method)).unwrap()
}

/// ¥1,000,000 over 360 months at 4.9%, 等额本息: ¥5,307.27 every month (the figure bank
/// calculators publish), the first row as they print it, and the last month absorbing the
/// residue.
#[test]
fn published_annuity_figures() {
    let s = run(100_000_000, 490, 360, Method::Annuity);
    assert_eq!(s.periods.len(), 360);
    assert!(s.periods[..359].iter().all(|p| p.payment_fen == 530_727));
    let p1 = &s.periods[0];
    assert_eq!(
        (
            p1.payment_fen,
            p1.interest_fen,
            p1.principal_fen,
            p1.balance_fen
        ),
        (530_727, 408_333, 122_394, 99_877_606)
    );
    let p2 = &s.periods[1];
    // 998,776.06 × 4.9% / 12 = 4,078.3355… → 4,078.34.
    assert_eq!((p2.interest_fen, p2.principal_fen), (407_834, 122_893));
    let last = &s.periods[359];
    assert_eq!(last.balance_fen, 0);
    // The exact payment is 5,307.2672…: rounding up overpays 0.28 fen a month, which the
    // last month gives back (with the interest's own rounding): ¥5,305.19.
    assert_eq!(
        (last.payment_fen, last.principal_fen, last.interest_fen),
        (530_519, 528_362, 2_157)
    );
    assert_eq!(s.total_principal_fen, 100_000_000);
    assert_eq!(
        s.total_payment_fen,
        s.total_principal_fen + s.total_interest_fen
    );
    // 359 × 5,307.27 + 5,305.19 − 1,000,000.
    assert_eq!(s.total_interest_fen, 91_061_512);
}

/// The same loan 等额本金: first month ¥6,861.11 (¥2,777.78 principal + ¥4,083.33 interest),
/// second month ¥6,849.77 (interest on ¥997,222.22 = ¥4,071.99), falling ¥11.34 a month.
#[test]
fn published_equal_principal_figures() {
    let s = run(100_000_000, 490, 360, Method::EqualPrincipal);
    let (p1, p2) = (&s.periods[0], &s.periods[1]);
    assert_eq!(
        (p1.payment_fen, p1.principal_fen, p1.interest_fen),
        (686_111, 277_778, 408_333)
    );
    assert_eq!(
        (p2.payment_fen, p2.principal_fen, p2.interest_fen),
        (684_977, 277_778, 407_199)
    );
    assert_eq!(p1.payment_fen - p2.payment_fen, 1134);
    // 359 × 2,777.78 = 997,223.02, so the last month repays 2,776.98.
    assert_eq!(s.periods[359].principal_fen, 277_698);
    assert_eq!(s.total_principal_fen, 100_000_000);
}

/// The same schedule computed a different way: the annuity closed form and the balance after k
/// payments `B_k = P·q^k − A·(q^k − 1)/i` in floating point, against the integer code; the
/// integer schedule may drift from the exact one by at most one fen per period elapsed.
#[test]
fn annuity_matches_an_independent_closed_form() {
    for (p, bp, n) in [
        (100_000_000i64, 490i64, 360u32),
        (30_000_000, 385, 240),
        (5_000_000, 1200, 36),
        (1_234_567, 2400, 12),
        (88_888_888, 360, 120),
        (10_000, 3600, 6),
        (999_999_999_999, 99, 600),
    ] {
        let s = run(p, bp, n, Method::Annuity);
        let i = bp as f64 / 120_000.0;
        let q = 1.0 + i;
        let a = p as f64 * i * q.powi(n as i32) / (q.powi(n as i32) - 1.0);
        assert!(
            (s.periods[0].payment_fen as f64 - a).abs() <= 0.5 + 1e-6,
            "{p} {bp} {n}: payment {} vs {a}",
            s.periods[0].payment_fen
        );
        for (k, period) in s.periods.iter().enumerate() {
            let k1 = (k + 1) as i32;
            let balance = p as f64 * q.powi(k1) - a * (q.powi(k1) - 1.0) / i;
            let tolerance = f64::from(k1) + 0.01;
            assert!(
                (period.balance_fen as f64 - balance.max(0.0)).abs() <= tolerance,
                "{p} {bp} {n} period {k1}: balance {} vs {balance}",
                period.balance_fen
            );
        }
    }
}

/// Equal principal against the textbook formula written per month: payment_k =
/// P/n + (P − (k−1)·P/n)·i, within one fen per period elapsed.
#[test]
fn equal_principal_matches_the_textbook_formula() {
    for (p, bp, n) in [
        (100_000_000i64, 490i64, 360u32),
        (2_000_000, 1800, 24),
        (777_777, 3599, 7),
    ] {
        let s = run(p, bp, n, Method::EqualPrincipal);
        let i = bp as f64 / 120_000.0;
        let part = p as f64 / f64::from(n);
        for (k, period) in s.periods.iter().enumerate() {
            let expected = part + (p as f64 - k as f64 * part) * i;
            assert!(
                (period.payment_fen as f64 - expected).abs() <= (k + 1) as f64,
                "{p} {bp} {n} period {}: {} vs {expected}",
                k + 1,
                period.payment_fen
            );
        }
    }
}

#[test]
fn interest_only_and_bullet() {
    // ¥100,000 at 12% for 12 months.
    let s = run(10_000_000, 1200, 12, Method::InterestOnly);
    assert!(s.periods[..11].iter().all(|p| (
        p.payment_fen,
        p.principal_fen,
        p.interest_fen,
        p.balance_fen
    ) == (100_000, 0, 100_000, 10_000_000)));
    assert_eq!(s.periods[11].payment_fen, 10_100_000);
    assert_eq!(s.total_interest_fen, 1_200_000);

    // Simple interest for the whole term: 12% × 12/12 = ¥12,000, one payment at month 12.
    let s = run(10_000_000, 1200, 12, Method::Bullet);
    assert_eq!(s.periods.len(), 1);
    let p = &s.periods[0];
    assert_eq!(
        (
            p.no,
            p.date,
            p.payment_fen,
            p.principal_fen,
            p.interest_fen,
            p.balance_fen
        ),
        (1, d(2027, 12, 15), 11_200_000, 10_000_000, 1_200_000, 0)
    );
    assert_eq!(s.start_date, d(2026, 12, 15));
    // 7 months at 5%: 10,000.00 × 5% × 7/12 = 291.666… → ¥291.67.
    let s = run(1_000_000, 500, 7, Method::Bullet);
    assert_eq!(s.total_interest_fen, 29_167);
}

#[test]
fn interest_rounds_half_up_to_the_fen() {
    // 10,000 fen × 6 bp / 120,000 = 0.5 fen → 1; 9,999 fen → 0.49995 → 0.
    assert_eq!(interest(10_000, 6, 1), Ok(1));
    assert_eq!(interest(9_999, 6, 1), Ok(0));
    assert_eq!(interest(30_000, 6, 1), Ok(2)); // 1.5 → 2
    assert_eq!(interest(0, 100_000, 600), Ok(0));
    assert_eq!(
        interest(MAX_PRINCIPAL_FEN, MAX_RATE_BP, MAX_MONTHS),
        Ok(5_000_000_000_000_000)
    );
}

/// Same day of the month as the first date, clamped to the month's end; never drifts.
#[test]
fn dates_keep_the_day_of_month() {
    let mut t = terms(1_000_000, 490, 14, Method::Annuity);
    t.first_date = d(2027, 1, 31);
    let s = schedule(&t).unwrap();
    let dates: Vec<NaiveDate> = s.periods.iter().map(|p| p.date).collect();
    assert_eq!(
        dates[..5],
        [
            d(2027, 1, 31),
            d(2027, 2, 28),
            d(2027, 3, 31),
            d(2027, 4, 30),
            d(2027, 5, 31)
        ]
    );
    assert_eq!(dates[13], d(2028, 2, 29));
    assert_eq!(s.start_date, d(2026, 12, 31));
    t.first_date = d(2028, 3, 31);
    assert_eq!(schedule(&t).unwrap().start_date, d(2028, 2, 29));
    assert_eq!(month_end(d(2027, 1, 31), -1), Some(d(2026, 11, 30)));
}

/// A regular payment that would retire a tiny loan early is one fen less; an equal-principal
/// part that would leave the last month negative is rounded down.
#[test]
fn tiny_loans_never_overpay() {
    // ¥4 over 600 months at 0%: 400/600 rounds to 1 fen, which would repay it by month 400.
    let s = run(400, 0, 600, Method::Annuity);
    assert!(s.periods[..599].iter().all(|p| p.payment_fen == 0));
    assert_eq!(s.periods[599].payment_fen, 400);
    // 4 fen over 6 months: 0.67 rounds to 1, and 5 × 1 > 4: rounded down to 0.
    let s = run(4, 0, 6, Method::EqualPrincipal);
    assert!(s.periods[..5].iter().all(|p| p.principal_fen == 0));
    assert_eq!(s.periods[5].principal_fen, 4);
    // 10 fen over 6 months: 1.67 rounds to 2, 5 × 2 = 10 leaves 0 for the last: allowed.
    let s = run(10, 0, 6, Method::EqualPrincipal);
    assert_eq!(s.periods[5].principal_fen, 0);
    assert!(s.periods.iter().all(|p| p.balance_fen >= 0));
}

#[test]
fn bad_terms_name_their_field() {
    let ok = terms(100_000, 490, 12, Method::Annuity);
    let cases = [
        (
            LoanTerms {
                principal_fen: 0,
                ..ok
            },
            "principal_fen",
        ),
        (
            LoanTerms {
                principal_fen: -5,
                ..ok
            },
            "principal_fen",
        ),
        (
            LoanTerms {
                principal_fen: MAX_PRINCIPAL_FEN + 1,
                ..ok
            },
            "principal_fen",
        ),
        (
            LoanTerms {
                annual_rate_bp: -1,
                ..ok
            },
            "annual_rate_bp",
        ),
        (
            LoanTerms {
                annual_rate_bp: MAX_RATE_BP + 1,
                ..ok
            },
            "annual_rate_bp",
        ),
        (LoanTerms { months: 0, ..ok }, "months"),
        (LoanTerms { months: 601, ..ok }, "months"),
        (
            LoanTerms {
                first_date: d(3000, 1, 1),
                ..ok
            },
            "first_date",
        ),
        (
            LoanTerms {
                first_date: d(1899, 12, 31),
                ..ok
            },
            "first_date",
        ),
    ];
    for (t, field) in cases {
        let e = schedule(&t).unwrap_err();
        assert_eq!(e.field, field, "{t:?}");
        assert!(!e.reason.is_empty());
    }
    // The extremes themselves are accepted, for every method.
    for method in Method::ALL {
        for (p, bp, n) in [
            (MAX_PRINCIPAL_FEN, MAX_RATE_BP, MAX_MONTHS),
            (1, 0, 1),
            (1, MAX_RATE_BP, MAX_MONTHS),
        ] {
            let s = schedule(&LoanTerms {
                principal_fen: p,
                annual_rate_bp: bp,
                months: n,
                method,
                first_date: d(2999, 12, 31),
            })
            .unwrap();
            assert_eq!(s.total_principal_fen, p);
        }
    }
}

fn any_method() -> impl Strategy<Value = Method> {
    prop::sample::select(Method::ALL.to_vec())
}

fn any_terms() -> impl Strategy<Value = LoanTerms> {
    (
        prop_oneof![1i64..=100_000, 1i64..=MAX_PRINCIPAL_FEN],
        prop_oneof![0i64..=3_600, 0i64..=MAX_RATE_BP],
        prop_oneof![1u32..=36, 1u32..=MAX_MONTHS],
        any_method(),
        (2000i32..=2100, 1u32..=12, 1u32..=31),
    )
        .prop_map(
            |(principal_fen, annual_rate_bp, months, method, (y, m, day))| {
                let first_date = (0..4)
                    .find_map(|back| NaiveDate::from_ymd_opt(y, m, day - back))
                    .unwrap();
                LoanTerms {
                    principal_fen,
                    annual_rate_bp,
                    months,
                    method,
                    first_date,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Principal sums to the loan, the balance never goes negative and ends at 0, every part
    /// is non-negative, each payment is its principal plus its interest, the totals are the
    /// sums, the dates keep the first date's day of the month.
    #[test]
    fn schedules_add_up(t in any_terms()) {
        let s = schedule(&t).unwrap();
        let expected_len = if t.method == Method::Bullet { 1 } else { t.months as usize };
        prop_assert_eq!(s.periods.len(), expected_len);
        let principal: i64 = s.periods.iter().map(|p| p.principal_fen).sum();
        prop_assert_eq!(principal, t.principal_fen);
        prop_assert_eq!(s.total_principal_fen, t.principal_fen);
        prop_assert_eq!(s.periods.last().unwrap().balance_fen, 0);
        let mut balance = t.principal_fen;
        for p in &s.periods {
            prop_assert!(p.balance_fen >= 0 && p.principal_fen >= 0 && p.interest_fen >= 0, "{:?}", p);
            prop_assert_eq!(p.payment_fen, p.principal_fen + p.interest_fen);
            balance -= p.principal_fen;
            prop_assert_eq!(p.balance_fen, balance);
            prop_assert!(p.date.day() == t.first_date.day() || p.date.succ_opt().unwrap().day() == 1);
        }
        prop_assert_eq!(s.total_payment_fen, s.periods.iter().map(|p| p.payment_fen).sum::<i64>());
        prop_assert_eq!(s.total_interest_fen, s.periods.iter().map(|p| p.interest_fen).sum::<i64>());
        prop_assert_eq!(s.total_payment_fen, s.total_principal_fen + s.total_interest_fen);
        prop_assert!(s.periods.windows(2).all(|w| w[0].date < w[1].date));
        prop_assert_eq!(month_end(t.first_date, 0), Some(s.start_date));
    }

    /// 等额本息: every payment but the last is the same; 等额本金: every principal part but the
    /// last is the same; 先息后本: no principal before the last month.
    #[test]
    fn regular_parts_are_equal_except_the_last(t in any_terms()) {
        let s = schedule(&t).unwrap();
        let init = &s.periods[..s.periods.len() - 1];
        match t.method {
            Method::Annuity => prop_assert!(init.windows(2).all(|w| w[0].payment_fen == w[1].payment_fen)),
            Method::EqualPrincipal => prop_assert!(init.windows(2).all(|w| w[0].principal_fen == w[1].principal_fen)),
            Method::InterestOnly => prop_assert!(init.iter().all(|p| p.principal_fen == 0)),
            Method::Bullet => prop_assert!(init.is_empty()),
        }
    }
}

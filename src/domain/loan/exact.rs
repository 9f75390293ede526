//! The annuity payment computed exactly: the closed form `P·i·q^n / (q^n − 1)` with
//! `q = 1 + bp/120000` is a ratio of integers whose powers need up to ~10 700 bits (n = 600), so
//! the numerator and denominator are held in a minimal unsigned big integer and the quotient,
//! which fits an i64, is found by bisection. No floating point touches the payment.

use std::cmp::Ordering;

/// Months per year × 10 000 bp per 1: the monthly rate is `bp / 120 000`.
pub const RATE_DENOMINATOR: i64 = 120_000;

/// Unsigned integer, little-endian 64-bit limbs, no trailing zero limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u64>);

impl Big {
    fn from_u128(v: u128) -> Big {
        Big(vec![v as u64, (v >> 64) as u64]).trimmed()
    }

    fn trimmed(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn mul_u64(&self, m: u64) -> Big {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry = 0u128;
        for &limb in &self.0 {
            let v = u128::from(limb) * u128::from(m) + carry;
            out.push(v as u64);
            carry = v >> 64;
        }
        out.push(carry as u64);
        Big(out).trimmed()
    }

    fn add(&self, other: &Big) -> Big {
        let n = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u128;
        for k in 0..n {
            let v = u128::from(self.0.get(k).copied().unwrap_or(0))
                + u128::from(other.0.get(k).copied().unwrap_or(0))
                + carry;
            out.push(v as u64);
            carry = v >> 64;
        }
        out.push(carry as u64);
        Big(out).trimmed()
    }

    /// `self − other`; `None` when that would be negative.
    fn sub(&self, other: &Big) -> Option<Big> {
        if self.cmp_big(other) == Ordering::Less {
            return None;
        }
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0u64;
        for (k, &a) in self.0.iter().enumerate() {
            let b = other.0.get(k).copied().unwrap_or(0);
            let (d, o1) = a.overflowing_sub(b);
            let (d, o2) = d.overflowing_sub(borrow);
            out.push(d);
            borrow = u64::from(o1 || o2);
        }
        Some(Big(out).trimmed())
    }

    fn cmp_big(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn pow(base: u64, exp: u32) -> Big {
        (0..exp).fold(Big::from_u128(1), |acc, _| acc.mul_u64(base))
    }
}

/// The largest `a` in `0..=hi` with `den·a ≤ num` (`den` > 0).
fn quotient(num: &Big, den: &Big, hi: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, hi);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if den.mul_u64(mid).cmp_big(num) == Ordering::Greater {
            hi = mid - 1;
        } else {
            lo = mid;
        }
    }
    lo
}

/// The annuity payment `P·i·q^n / (q^n − 1)` rounded half-up to the fen, for a principal
/// `1..=10^13` fen, a rate `0..=100 000` bp and `1..=600` months (the callers' bounds; outside
/// them the answer is still exact but may not fit). A zero rate pays `P / n`, rounded half-up.
pub fn annuity_payment(principal_fen: i64, annual_rate_bp: i64, months: u32) -> Option<i64> {
    let p = u64::try_from(principal_fen).ok()?;
    let bp = u64::try_from(annual_rate_bp).ok()?;
    let n = u64::from(months);
    if n == 0 {
        return None;
    }
    if bp == 0 {
        return i64::try_from((2 * u128::from(p) + u128::from(n)) / (2 * u128::from(n))).ok();
    }
    let d = RATE_DENOMINATOR as u64;
    // q = N / D; payment = P·bp·N^n / (D·(N^n − D^n)).
    let nn = Big::pow(d + bp, months);
    let dn = Big::pow(d, months);
    let diff = nn.sub(&dn)?;
    // Half-up: floor((2·P·bp·N^n + D·(N^n − D^n)) / (2·D·(N^n − D^n))).
    let two_p_bp = u64::try_from(2 * u128::from(p) * u128::from(bp)).ok()?;
    let num = nn.mul_u64(two_p_bp).add(&diff.mul_u64(d));
    let den = diff.mul_u64(2 * d);
    // The payment never exceeds one month's principal plus interest: P·(1 + bp/D).
    let hi =
        u64::try_from(u128::from(p) + u128::from(p) * u128::from(bp) / u128::from(d) + 1).ok()?;
    i64::try_from(quotient(&num, &den, hi)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_arithmetic() {
        let a = Big::from_u128(u128::MAX);
        let b = a.add(&Big::from_u128(1));
        assert_eq!(b.0, vec![0, 0, 1]);
        assert_eq!(b.sub(&Big::from_u128(1)), Some(a.clone()));
        assert_eq!(Big::from_u128(1).sub(&Big::from_u128(2)), None);
        assert_eq!(
            Big::pow(10, 30),
            Big::from_u128(1_000_000_000_000_000_000_000_000_000_000)
        );
        assert_eq!(a.mul_u64(0), Big(vec![]));
        assert_eq!(quotient(&Big::from_u128(100), &Big::from_u128(7), 1000), 14);
        assert_eq!(quotient(&Big::from_u128(98), &Big::from_u128(7), 1000), 14);
        assert_eq!(quotient(&Big::from_u128(97), &Big::from_u128(7), 1000), 13);
    }

    #[test]
    fn published_annuity_payment() {
        // ¥1,000,000 over 30 years at 4.9%: ¥5,307.27 a month.
        assert_eq!(annuity_payment(100_000_000, 490, 360), Some(530_727));
        // No interest: P / n, half-up.
        assert_eq!(annuity_payment(1000, 0, 3), Some(333));
        assert_eq!(annuity_payment(1000, 0, 6), Some(167));
        // One month: principal plus a month's interest, half-up (1000 × 12%/12 = 10).
        assert_eq!(annuity_payment(1000, 1200, 1), Some(1010));
        assert_eq!(annuity_payment(50, 1200, 1), Some(51)); // 50.5 → 51
    }

    #[test]
    fn extremes_fit() {
        let p = super::super::MAX_PRINCIPAL_FEN;
        let top = annuity_payment(p, super::super::MAX_RATE_BP, 1).unwrap();
        assert_eq!(top, p + p * 5 / 6); // 10^13 × (1 + 1000%/12) = …333.33, half-up → down
        assert!(annuity_payment(p, super::super::MAX_RATE_BP, 600).is_some());
        assert_eq!(annuity_payment(1, 1, 600), Some(0));
        assert_eq!(annuity_payment(1, 0, 0), None);
    }
}

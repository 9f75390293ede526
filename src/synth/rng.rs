//! A small, fast, seedable PRNG (xoshiro256** seeded through SplitMix64) for synthetic
//! data. Not cryptographic: it only has to be reproducible across platforms and releases,
//! which is why it lives here instead of depending on an external RNG crate's stability.

/// One step of SplitMix64: advances `state` and returns a well-mixed output.
/// Also used on its own as a keyed hash where a bijective mixer is handy.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// The SplitMix64 finaliser: a bijection on u64 with good avalanche.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** by Blackman and Vigna.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the four state words from SplitMix64 as the authors recommend, which also
    /// guarantees the state is never all zeros.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        Rng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n`; returns 0 when `n == 0`.
    /// Lemire's multiply-and-reject method: unbiased, and almost never loops.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in the half-open range `lo..hi`; returns `lo` when the range is empty.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        // The span of any two i64 fits in u64, and lo + offset < hi cannot overflow.
        let span = hi.wrapping_sub(lo) as u64;
        lo.wrapping_add(self.below(span) as i64)
    }

    /// True with probability `p_per_mille / 1000` (values ≥ 1000 are always true).
    pub fn chance(&mut self, p_per_mille: u32) -> bool {
        self.below(1000) < u64::from(p_per_mille)
    }

    /// A uniformly chosen element. Returned by value because the tables hold `&'static
    /// str` and small numbers; for other types pick an index with [`Rng::below`].
    ///
    /// # Panics
    /// If `items` is empty (callers pass non-empty constant tables).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An element chosen with probability proportional to its weight. Linear scan: the
    /// tables here are short, and a scan beats building cumulative arrays per call.
    /// If every weight is zero the choice is uniform.
    ///
    /// # Panics
    /// If `items` is empty (callers pass non-empty constant tables).
    pub fn weighted_pick<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return self.pick(items).0;
        }
        let mut r = self.below(total);
        for &(item, w) in items {
            let w = u64::from(w);
            if r < w {
                return item;
            }
            r -= w;
        }
        // Unreachable because r < total; the last element keeps the signature total.
        items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_sequence() {
        // First outputs of SplitMix64 from seed 0 (reference values from Vigna's C code).
        let mut sm = 0u64;
        assert_eq!(splitmix64(&mut sm), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut sm), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut c = Rng::new(43);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(7);
        let mut seen = [0u32; 7];
        for _ in 0..70_000 {
            let v = r.below(7);
            seen[v as usize] += 1;
        }
        // Each bucket expects 10,000; ±10 % is > 30 standard deviations.
        assert!(
            seen.iter().all(|&n| (9_000..11_000).contains(&n)),
            "{seen:?}"
        );
        assert_eq!(r.below(0), 0);
        for _ in 0..10_000 {
            let v = r.range(-5, 5);
            assert!((-5..5).contains(&v));
        }
        assert_eq!(r.range(3, 3), 3);
        assert!(r.range(i64::MIN, i64::MAX) < i64::MAX);
    }

    #[test]
    fn chance_and_weighted_pick() {
        let mut r = Rng::new(9);
        let hits = (0..100_000).filter(|_| r.chance(250)).count();
        assert!((23_000..27_000).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0)));
        assert!((0..1000).all(|_| r.chance(1000)));

        let table = [("a", 1), ("b", 0), ("c", 3)];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            match r.weighted_pick(&table) {
                "a" => counts[0] += 1,
                "b" => counts[1] += 1,
                _ => counts[2] += 1,
            }
        }
        assert_eq!(counts[1], 0);
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        let zeros = [(1, 0), (2, 0)];
        assert!([1, 2].contains(&r.weighted_pick(&zeros)));
        assert!([1, 2, 3].contains(&r.pick(&[1, 2, 3])));
    }
}

//! The digests of the phone and ID-number keys of a file's earlier rows (the duplicate check
//! within one file), kept in buckets rather than one hash table.
//!
//! A million rows bring two million digests. A `HashSet<u64>` of that size holds 4 M slots
//! (9 bytes each, 38 MB) and, while it grows, the old table beside the new one (57 MB for a
//! moment). Here each digest's top bits choose one of 65,536 small vectors that grow by half
//! at a time: about 10 bytes a digest, and no moment where the whole set is copied.

/// Bits of a digest that choose its bucket.
const BUCKET_BITS: u32 = 16;

pub(super) struct DigestSet {
    buckets: Vec<Vec<u64>>,
}

impl Default for DigestSet {
    fn default() -> DigestSet {
        DigestSet {
            buckets: vec![Vec::new(); 1 << BUCKET_BITS],
        }
    }
}

impl DigestSet {
    fn bucket(&self, digest: u64) -> Option<&Vec<u64>> {
        self.buckets.get((digest >> (64 - BUCKET_BITS)) as usize)
    }

    pub(super) fn contains(&self, digest: u64) -> bool {
        self.bucket(digest).is_some_and(|b| b.contains(&digest))
    }

    /// Adds `digest`; false when it was there already.
    pub(super) fn insert(&mut self, digest: u64) -> bool {
        if self.contains(digest) {
            return false;
        }
        let Some(b) = self
            .buckets
            .get_mut((digest >> (64 - BUCKET_BITS)) as usize)
        else {
            return false;
        };
        if b.len() == b.capacity() {
            b.reserve_exact(b.len() / 2 + 4);
        }
        b.push(digest);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_found_once_inserted_and_inserted_once() {
        let mut set = DigestSet::default();
        // Digests that share a bucket (same top bits) and ones in the first and last bucket.
        let same_bucket = [
            0xabcd_0000_0000_0001,
            0xabcd_0000_0000_0002,
            0xabcd_ffff_ffff_ffff,
        ];
        let edges = [0, u64::MAX];
        for d in same_bucket.iter().chain(&edges) {
            assert!(!set.contains(*d));
            assert!(set.insert(*d));
            assert!(set.contains(*d));
            assert!(
                !set.insert(*d),
                "a second insert of {d:#x} reports a new digest"
            );
        }
        assert!(!set.contains(0xabcd_0000_0000_0003));
        assert!(!set.contains(1));
        // Many digests: every one found, none twice, nothing else.
        let many: Vec<u64> = (1..50_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for d in &many {
            assert!(set.insert(*d));
        }
        assert!(many.iter().all(|d| set.contains(*d) && !set.insert(*d)));
        assert!(!set.contains(0x1234_5678));
    }
}

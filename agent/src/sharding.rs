//! Which objects belong to this agent's shard, with kube-state-metrics' assignment: the FNV-1a
//! 64-bit hash of the object's UID fed to jump consistent hash (`pkg/sharding`,
//! `github.com/dgryski/go-jump`).
//!
//! The assignment must be bit-for-bit KSM's, so a cluster can move from KSM's shards to ours
//! (or mix them while migrating) without an object being exported twice or not at all. See
//! [`Shard::owns`].

use std::hash::Hasher;

/// One shard of `total`: objects whose UID hashes to `index` are this agent's.
///
/// # Invariants
/// `total >= 1`, and `index < total` as the config checks it; the one exception is an
/// autosharded instance whose pod's ordinal is not below its StatefulSet's replicas (scaled
/// down, not yet deleted), whose shard owns no object ([`crate::autoshard::shard_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, zero-based (`--shard`).
    pub index: u32,
    /// How many shards there are (`--total-shards`).
    pub total: u32,
}

impl Shard {
    /// Whether the object with `uid` belongs to this shard.
    pub fn owns(&self, uid: &str) -> bool {
        jump_hash(fnv1a_64(uid.as_bytes()), self.total) == self.index
    }
}

/// FNV-1a, 64 bits, as Go's `hash/fnv.New64a` computes it.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut h = fnv::FnvHasher::default();
    // `write`, not `write_str`: the latter appends a 0xff terminator.
    h.write(bytes);
    h.finish()
}

/// Jump consistent hash (Lamping & Veach, 2014): the bucket in `0..buckets` of `key`. Adding a
/// bucket moves only `1/buckets` of the keys. `buckets == 0` is treated as 1, as go-jump treats
/// a non-positive count.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let buckets = i64::from(buckets.max(1));
    let (mut b, mut j) = (-1_i64, 0_i64);
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // The paper's reference code: j = (b + 1) * (2^31 / ((key >> 33) + 1)).
        j = ((b + 1) as f64 * ((1_i64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    u32::try_from(b).expect("b is in 0..buckets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_64_matches_the_fnv_spec_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv, FNV-1a 64-bit).
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn jump_hash_matches_the_reference_outputs() {
        // go-jump's and the paper's reference implementations' test vectors.
        for (key, buckets, want) in [
            (1_u64, 1_u32, 0_u32),
            (42, 57, 43),
            (0xDEAD_10CC, 1, 0),
            (0xDEAD_10CC, 666, 361),
            (256, 1024, 520),
            (1, 128, 55),
            (129, 128, 120),
            (u64::MAX, 128, 92),
            (128, 100_000_000, 38_172_097),
            (0, 0, 0),
        ] {
            assert_eq!(jump_hash(key, buckets), want, "jump_hash({key}, {buckets})");
        }
    }

    #[test]
    fn shards_agree_with_kube_state_metrics_and_partition_the_objects() {
        // kube-state-metrics' own test: uid "test_uid" belongs to shard 0 of 2.
        assert!(Shard { index: 0, total: 2 }.owns("test_uid"));
        assert!(!Shard { index: 1, total: 2 }.owns("test_uid"));
        // Every uid belongs to exactly one of three shards, and the split is not degenerate.
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, total: 3 }).collect();
        let mut counts = [0_usize; 3];
        for i in 0..300 {
            let uid = format!("0b9e5a3c-{i:04}-4d0e-9a7f-2f6d1c8b3e5a");
            let owners: Vec<usize> = (0..3).filter(|s| shards[*s].owns(&uid)).collect();
            assert_eq!(owners.len(), 1, "{uid}: {owners:?}");
            counts[owners[0]] += 1;
        }
        assert!(counts.iter().all(|c| *c > 50), "{counts:?}");
    }
}

//! Customer-service text repeats itself: the bot's greeting and after-hours notice, an
//! agent's quick replies, a user's 在吗 and 人工. The text jobs' work depends only on a
//! message's text (and, for qa, who wrote it), so they do it once per distinct message
//! and give every row the shared result; the output is the same as working row by row.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

/// Rows grouped by key: the keys in order of first appearance, and for each row the
/// index of its key.
#[derive(Debug)]
pub struct Distinct<K> {
    pub keys: Vec<K>,
    pub key_of_row: Vec<u32>,
}

/// Shards the rows are grouped in, each by one rayon task: a day's texts are tens of
/// megabytes scattered over the heap, and reading them is most of the grouping's work,
/// so it is split between the cores.
const SHARDS: usize = 8;

/// A key with its hash, computed once in parallel and carried into the shard's map.
struct Hashed<K> {
    hash: u64,
    key: K,
}

impl<K> Hash for Hashed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: Eq> PartialEq for Hashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<K: Eq> Eq for Hashed<K> {}

/// Hands the precomputed hash of a `Hashed` key to the map unchanged.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, _: &[u8]) {
        unreachable!("Hashed writes its hash with write_u64")
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// The shard of a hash: its top bits after a multiply, so the bits the map itself
/// uses to place and tag keys still vary within a shard.
fn shard_of(hash: u64) -> usize {
    (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize % SHARDS
}

impl<K: Hash + Eq + Copy + Send + Sync> Distinct<K> {
    pub fn of(rows: impl IntoIterator<Item = K>) -> Distinct<K> {
        let rows: Vec<K> = rows.into_iter().collect();
        let hashes: Vec<u64> = rows
            .par_iter()
            .with_min_len(1024)
            .map(|key| FxBuildHasher.hash_one(key))
            .collect();
        // Each shard numbers its own keys: (row, key within the shard) for each of its
        // rows, and how many keys it found.
        let by_shard: Vec<(Vec<(u32, u32)>, usize)> = (0..SHARDS)
            .into_par_iter()
            .map(|shard| {
                let mut index: HashMap<Hashed<K>, u32, BuildHasherDefault<AlreadyHashed>> =
                    HashMap::default();
                let mut rows_of_shard = Vec::new();
                for (row, (&hash, &key)) in hashes.iter().zip(&rows).enumerate() {
                    if shard_of(hash) != shard {
                        continue;
                    }
                    let next = index.len() as u32;
                    let local = *index.entry(Hashed { hash, key }).or_insert(next);
                    rows_of_shard.push((row as u32, local));
                }
                (rows_of_shard, index.len())
            })
            .collect();
        // Number the keys in order of first appearance: one pass over the rows in
        // order, on integers only.
        let mut local_of_row = vec![0u32; rows.len()];
        let mut global_of_local: Vec<Vec<u32>> = Vec::with_capacity(SHARDS);
        for (rows_of_shard, keys_in_shard) in &by_shard {
            global_of_local.push(vec![u32::MAX; *keys_in_shard]);
            for &(row, local) in rows_of_shard {
                local_of_row[row as usize] = local;
            }
        }
        let mut keys = Vec::new();
        let key_of_row = rows
            .iter()
            .zip(&hashes)
            .zip(&local_of_row)
            .map(|((&key, &hash), &local)| {
                let global = &mut global_of_local[shard_of(hash)][local as usize];
                if *global == u32::MAX {
                    *global = keys.len() as u32;
                    keys.push(key);
                }
                *global
            })
            .collect();
        Distinct { keys, key_of_row }
    }

    /// The share of rows that repeat an earlier row, for benchmarks and summaries.
    pub fn repeated_share(&self) -> f64 {
        repeated_share(self.key_of_row.len(), self.keys.len())
    }
}

/// The share of `rows` that repeat an earlier one when `distinct` of them are distinct.
pub fn repeated_share(rows: usize, distinct: usize) -> f64 {
    if rows == 0 {
        return 0.0;
    }
    (rows - distinct) as f64 / rows as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_rows_share_one_key_in_order_of_first_appearance() {
        let distinct = Distinct::of(["在吗", "人工", "在吗", "谢谢", "人工", "在吗"]);
        assert_eq!(distinct.keys, ["在吗", "人工", "谢谢"]);
        assert_eq!(distinct.key_of_row, [0, 1, 0, 2, 1, 0]);
        assert!((distinct.repeated_share() - 0.5).abs() < 1e-9);
        assert_eq!(Distinct::<&str>::of([]).repeated_share(), 0.0);
    }

    proptest::proptest! {
        /// The sharded grouping numbers keys as one pass over the rows would.
        #[test]
        fn sharded_grouping_is_first_appearance_order(
            rows in proptest::collection::vec(0u16..300, 0..3000)
        ) {
            let distinct = Distinct::of(rows.iter().copied());
            let mut keys: Vec<u16> = Vec::new();
            let mut key_of_row = Vec::new();
            for row in &rows {
                let at = keys.iter().position(|key| key == row).unwrap_or_else(|| {
                    keys.push(*row);
                    keys.len() - 1
                });
                key_of_row.push(at as u32);
            }
            proptest::prop_assert_eq!(distinct.keys, keys);
            proptest::prop_assert_eq!(distinct.key_of_row, key_of_row);
        }
    }
}

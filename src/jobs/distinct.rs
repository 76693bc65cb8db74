//! Customer-service text repeats itself: the bot's greeting and after-hours notice, an
//! agent's quick replies, a user's 在吗 and 人工. The text jobs' work depends only on a
//! message's text (and, for qa, who wrote it), so they do it once per distinct message
//! and give every row the shared result; the output is the same as working row by row.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Rows grouped by key: the keys in order of first appearance, and for each row the
/// index of its key.
#[derive(Debug)]
pub struct Distinct<K> {
    pub keys: Vec<K>,
    pub key_of_row: Vec<u32>,
}

impl<K: Hash + Eq + Copy> Distinct<K> {
    pub fn of(rows: impl IntoIterator<Item = K>) -> Distinct<K> {
        let mut index: FxHashMap<K, u32> = FxHashMap::default();
        let mut keys = Vec::new();
        let key_of_row = rows
            .into_iter()
            .map(|key| {
                *index.entry(key).or_insert_with(|| {
                    keys.push(key);
                    (keys.len() - 1) as u32
                })
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
}

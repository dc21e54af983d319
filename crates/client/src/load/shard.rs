//! One worker's share of a run split across N workers, as a Kubernetes Indexed Job runs it:
//! the index comes from `JOB_COMPLETION_INDEX`, the count from `--shards`. Each worker takes
//! its part of the devices, attempts, publishers and rate, under client ids of its own.

/// Worker `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// An index without a count, or an index past it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("Error: a shard index ({0}) needs --shards (or IOTMOCK_LOAD_SHARDS)")]
    NoCount(u32),
    #[error("Error: shard index {index} is not below --shards {count}")]
    OutOfRange { index: u32, count: u32 },
}

impl Shard {
    /// The whole run in one worker.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: Option<u32>, count: Option<u32>) -> Result<Shard, ShardError> {
        match (index, count) {
            (None, None) => Ok(Shard::WHOLE),
            (Some(i), None) => Err(ShardError::NoCount(i)),
            (index, Some(count)) => {
                let index = index.unwrap_or(0);
                if count == 0 || index >= count {
                    return Err(ShardError::OutOfRange { index, count });
                }
                Ok(Shard { index, count })
            }
        }
    }

    /// This worker's part of `total`: the first `total % count` workers take one more, so the
    /// parts add up to `total` exactly.
    pub fn part(&self, total: u64) -> u64 {
        let (count, index) = (u64::from(self.count), u64::from(self.index));
        total / count + u64::from(index < total % count)
    }

    /// This worker's part of a rate.
    pub fn rate(&self, rate: f64) -> f64 {
        rate / f64::from(self.count)
    }

    /// This worker's part of a rate carried by `total` senders split with [`Shard::part`]: in
    /// proportion to the senders it takes (a worker left with none takes none of the rate).
    pub fn share(&self, rate: f64, total: u64) -> f64 {
        match total {
            0 => self.rate(rate),
            t => rate * self.part(t) as f64 / t as f64,
        }
    }

    /// A label that tells this worker's client ids and topics apart from the others'.
    pub fn label(&self) -> String {
        format!("w{}", self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parts_add_up_and_differ_by_at_most_one(total in 0u64..1_000_000, count in 1u32..64) {
            let parts: Vec<u64> = (0..count)
                .map(|index| Shard { index, count }.part(total))
                .collect();
            prop_assert_eq!(parts.iter().sum::<u64>(), total);
            let (min, max) = (parts.iter().min().copied(), parts.iter().max().copied());
            prop_assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
        }

        #[test]
        fn shares_of_a_rate_follow_the_senders(
            total in 1u64..100,
            count in 1u32..16,
            rate in 1.0f64..1e6,
        ) {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            let sum: f64 = shards.iter().map(|s| s.share(rate, total)).sum();
            prop_assert!((sum - rate).abs() <= rate * 1e-9);
            for s in shards.iter().filter(|s| s.part(total) == 0) {
                prop_assert_eq!(s.share(rate, total), 0.0);
            }
        }
    }

    #[test]
    fn index_and_count_are_checked() {
        assert_eq!(Shard::new(None, None), Ok(Shard::WHOLE));
        assert_eq!(Shard::new(Some(1), None), Err(ShardError::NoCount(1)));
        let out = Shard::new(Some(3), Some(3));
        assert_eq!(out, Err(ShardError::OutOfRange { index: 3, count: 3 }));
        assert_eq!(Shard::new(None, Some(4)), Ok(Shard { index: 0, count: 4 }));
    }
}

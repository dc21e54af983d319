//! The load generator: `handshake` (full mutual-TLS handshakes plus CONNECT/CONNACK),
//! `publish` (P publishers x S subscribers, end-to-end latency, lost and duplicated counts) and
//! `connections` (many connections opened at a rate and held at once).
//! Every run is bounded by count and by time and stops by itself.

pub mod chart;
pub mod cli;
pub mod compare;
pub mod connections;
mod connections_cli;
pub mod devices;
pub mod handshake;
pub mod html;
pub mod publish;
pub mod report;
pub mod shard;
pub mod timeline;

use std::time::{Duration, Instant};

/// When the `n`th operation of a schedule at `rate` per second that began at `start` is due;
/// `None` when it never is within reach (a rate that is zero, negative, not a number, or so
/// small that the time overflows).
pub fn due(start: Instant, n: u64, rate: f64) -> Option<Instant> {
    if rate.is_nan() || rate <= 0.0 {
        return None;
    }
    let after = Duration::try_from_secs_f64(n as f64 / rate).ok()?;
    start.checked_add(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_schedule_spreads_operations_evenly() {
        let t = Instant::now();
        assert_eq!(due(t, 0, 100.0), Some(t));
        assert_eq!(due(t, 50, 100.0), Some(t + Duration::from_millis(500)));
        assert_eq!(due(t, 1, f64::INFINITY), Some(t));
    }

    proptest! {
        #[test]
        fn any_rate_gives_a_time_or_none_and_never_panics(n in any::<u64>(), rate in any::<f64>()) {
            let t = Instant::now();
            if let Some(at) = due(t, n, rate) {
                prop_assert!(at >= t);
            }
            prop_assert!(rate > 0.0 || due(t, n, rate).is_none());
        }
    }
}

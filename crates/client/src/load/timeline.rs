//! Latencies by wall-clock second: what an HdrHistogram interval log holds, what `load merge`
//! adds up across workers, and what the report's rate-over-time chart draws. A task records
//! into its own histogram and hands it over when the second changes, so recording takes no
//! lock; slots are whole Unix seconds, so workers on different machines line up.

use super::report::histogram;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why an interval log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot write the interval log: {0}")]
    Write(String),
    #[error("line {line} of the interval log: {reason}")]
    Read { line: usize, reason: String },
}

/// The recording side: shared by every task of one run.
pub struct Timeline {
    start: Instant,
    /// Seconds since the Unix epoch at `start`.
    start_unix: f64,
    slots: Mutex<BTreeMap<u64, Histogram<u64>>>,
    /// Failed operations by Unix second.
    failed: Mutex<BTreeMap<u64, u64>>,
}

impl Timeline {
    /// Starts the clock. The load generator measures the real world, so it reads the wall
    /// clock itself (the mock's injected clock is for the mock's rules).
    #[allow(clippy::disallowed_methods)]
    pub fn new() -> Arc<Self> {
        let start_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Arc::new(Self {
            start: Instant::now(),
            start_unix,
            slots: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// Seconds since the Unix epoch when the run started.
    pub fn start_unix(&self) -> f64 {
        self.start_unix
    }

    fn slot_now(&self) -> u64 {
        (self.start_unix + self.start.elapsed().as_secs_f64()) as u64
    }

    /// Counts one failed operation, in the second it failed.
    pub fn failed(&self) {
        let slot = self.slot_now();
        if let Ok(mut failed) = self.failed.lock() {
            *failed.entry(slot).or_default() += 1;
        }
    }

    /// Failed operations by Unix second, so far.
    pub fn failures_by_second(&self) -> BTreeMap<u64, u64> {
        self.failed.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// A recorder for one task.
    pub fn recorder(self: &Arc<Self>) -> Recorder {
        Recorder {
            timeline: self.clone(),
            slot: self.slot_now(),
            local: histogram(),
        }
    }

    /// What was recorded so far (recorders hand theirs over when dropped).
    pub fn intervals(&self) -> Intervals {
        let slots = self.slots.lock().map(|s| s.clone()).unwrap_or_default();
        Intervals { slots }
    }
}

/// Records latencies (µs) for one task.
pub struct Recorder {
    timeline: Arc<Timeline>,
    slot: u64,
    local: Histogram<u64>,
}

impl Recorder {
    pub fn record(&mut self, micros: u64) {
        let slot = self.timeline.slot_now();
        if slot != self.slot {
            self.flush();
            self.slot = slot;
        }
        let _ = self.local.record(micros.max(1));
    }

    fn flush(&mut self) {
        if self.local.is_empty() {
            return;
        }
        if let Ok(mut slots) = self.timeline.slots.lock() {
            let _ = slots
                .entry(self.slot)
                .or_insert_with(histogram)
                .add(&self.local);
        }
        self.local.reset();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Latency histograms by Unix second: one run's, or several runs' added together.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    pub slots: BTreeMap<u64, Histogram<u64>>,
}

impl Intervals {
    /// Every interval added together: the run's whole latency distribution.
    pub fn total(&self) -> Histogram<u64> {
        let mut total = histogram();
        for h in self.slots.values() {
            let _ = total.add(h);
        }
        total
    }

    /// Samples per second, by Unix second.
    pub fn per_second(&self) -> Vec<(u64, u64)> {
        self.slots.iter().map(|(s, h)| (*s, h.len())).collect()
    }

    /// Adds `other` slot by slot (exact: counts are added, nothing is averaged).
    pub fn merge(&mut self, other: &Intervals) {
        for (slot, h) in &other.slots {
            let _ = self.slots.entry(*slot).or_insert_with(histogram).add(h);
        }
    }

    /// The HdrHistogram interval log (V2, deflated; values in µs, the max column in ms).
    pub fn to_log(&self) -> Result<Vec<u8>, LogError> {
        let base = self.slots.keys().next().copied().unwrap_or(0);
        let base_time = UNIX_EPOCH + Duration::from_secs(base);
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("iotmock load: latency in microseconds per one-second interval")
            .with_base_time(base_time)
            .with_start_time(base_time)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| LogError::Write(e.to_string()))?;
        for (slot, h) in &self.slots {
            let offset = Duration::from_secs(slot - base);
            writer
                .write_histogram(h, offset, Duration::from_secs(1), None)
                .map_err(|e| LogError::Write(format!("{e:?}")))?;
        }
        Ok(out)
    }

    /// Reads an interval log written by [`Intervals::to_log`] (or any V2 log with a BaseTime).
    pub fn from_log(bytes: &[u8]) -> Result<Intervals, LogError> {
        let mut out = Intervals::default();
        let mut base = Duration::ZERO;
        for (line, entry) in IntervalLogIterator::new(bytes).enumerate() {
            let bad = |reason: String| LogError::Read {
                line: line + 1,
                reason,
            };
            match entry.map_err(|e| bad(format!("{e:?}")))? {
                LogEntry::BaseTime(t) => base = t,
                LogEntry::StartTime(_) => {}
                LogEntry::Interval(i) => {
                    let h = decode(i.encoded_histogram()).map_err(bad)?;
                    let slot = (base + i.start_timestamp()).as_secs();
                    let _ = out.slots.entry(slot).or_insert_with(histogram).add(&h);
                }
            }
        }
        Ok(out)
    }
}

fn decode(encoded: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn intervals(samples: &[(u64, u64)]) -> Intervals {
        let mut out = Intervals::default();
        for (slot, v) in samples {
            let _ = out
                .slots
                .entry(1_800_000_000 + slot)
                .or_insert_with(histogram)
                .record(*v);
        }
        out
    }

    proptest! {
        // Each case deflates a few 2,000-bucket histograms: fewer cases keep it to a second.
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn logs_round_trip_and_merging_is_exact(
            a in proptest::collection::vec((0u64..6, 1u64..5_000_000), 0..200),
            b in proptest::collection::vec((0u64..6, 1u64..5_000_000), 0..200),
        ) {
            let (x, y) = (intervals(&a), intervals(&b));
            let mut merged = Intervals::from_log(&x.to_log().unwrap()).unwrap();
            merged.merge(&Intervals::from_log(&y.to_log().unwrap()).unwrap());
            let all: Vec<_> = a.iter().chain(&b).copied().collect();
            let direct = intervals(&all);
            prop_assert_eq!(merged.total(), direct.total());
            prop_assert_eq!(merged.per_second(), direct.per_second());
        }
    }

    #[test]
    fn recorders_hand_over_on_drop() {
        let timeline = Timeline::new();
        let mut r = timeline.recorder();
        r.record(5);
        r.record(0);
        drop(r);
        assert_eq!(timeline.intervals().total().len(), 2);
    }

    #[test]
    fn a_broken_log_names_its_line() {
        let err = Intervals::from_log(b"#c\n0.000,1.000,1.0,notbase64!!\n");
        assert!(err.is_err());
    }
}

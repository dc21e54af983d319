//! Backoff classification from reconnect intervals, independent of their scale.

use serde::Serialize;

/// How a device spaces its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backoff {
    /// Growing by a steady factor (about x2), with little spread.
    Exponential,
    /// Growing, with random spread around the growth.
    Jitter,
    /// Growing by a steady amount.
    Linear,
    /// The same wait every time.
    Constant,
    /// Too few intervals, or no pattern.
    Unknown,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Spread relative to the mean (coefficient of variation).
fn spread(v: &[f64]) -> f64 {
    let m = mean(v);
    if m == 0.0 {
        return 0.0;
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64;
    var.sqrt() / m.abs()
}

/// A steady growth factor of at least 1.5.
fn doubling(ratios: &[f64]) -> bool {
    spread(ratios) < 0.15 && mean(ratios) > 1.5
}

/// Classifies retry intervals (any unit). Needs at least three.
pub fn classify(intervals: &[f64]) -> Backoff {
    if intervals.len() < 3 || intervals.iter().any(|i| *i <= 0.0) {
        return Backoff::Unknown;
    }
    if spread(intervals) < 0.15 {
        return Backoff::Constant;
    }
    let ratios: Vec<f64> = intervals.windows(2).map(|w| w[1] / w[0]).collect();
    let diffs: Vec<f64> = intervals.windows(2).map(|w| w[1] - w[0]).collect();
    if doubling(&ratios) {
        return Backoff::Exponential;
    }
    // A fixed part in every interval (the time a device waits for CONNACK before it gives up)
    // hides the growth factor in the intervals but not in their differences.
    if diffs.iter().all(|d| *d > 0.0) && diffs.len() >= 2 {
        let growth: Vec<f64> = diffs.windows(2).map(|w| w[1] / w[0]).collect();
        if doubling(&growth) {
            return Backoff::Exponential;
        }
    }
    if spread(&diffs) < 0.15 && mean(&diffs) > 0.0 {
        return Backoff::Linear;
    }
    // Irregular, but growing: at least 15% a retry on the trend of the logarithms.
    if log_slope(intervals) > 1.15_f64.ln() {
        return Backoff::Jitter;
    }
    Backoff::Unknown
}

/// The least-squares slope of `ln(interval)` over the retry number.
fn log_slope(intervals: &[f64]) -> f64 {
    let ys: Vec<f64> = intervals.iter().map(|v| v.ln()).collect();
    let n = ys.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = mean(&ys);
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mx;
        num += dx * (y - my);
        den += dx * dx;
    }
    if den == 0.0 { 0.0 } else { num / den }
}

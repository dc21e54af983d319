//! The time source: `SystemClock` is the only reader of the host's clock; tests pass a
//! `ManualClock` and advance it.

use crate::EpochMillis;

/// The time source; tests pin it.
pub trait Clock: Send + Sync {
    fn now_millis(&self) -> EpochMillis;
}

/// The host's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the host's clock is read.
    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> EpochMillis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as EpochMillis)
            .unwrap_or(0)
    }
}

/// A clock tests move by hand (timeouts without waiting).
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: EpochMillis) -> Self {
        Self {
            ms: std::sync::atomic::AtomicI64::new(start_ms),
        }
    }

    /// Starts at the host's time now (so real certificates are within their validity).
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_millis())
    }

    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> EpochMillis {
        self.ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

//! Input coalescing on the MQTT I/O threads, the software form of a network card's adaptive
//! interrupt moderation (`ethtool -C rx-usecs`). Every wake-up of a thread costs the same
//! kernel work whatever it finds (a context switch, a `recv` that also acknowledges over TCP,
//! a `writev` that runs the receiver's side of loopback), so a stream that arrives one message
//! per `write()` spends most of its CPU on wake-ups.
//!
//! Only streams start a wait: QoS 0 PUBLISHes, which nobody waits an answer for (a wait started
//! for a QoS 1 PUBLISH, a request or an acknowledgement would slow a client that waits for the
//! reply). While a thread waits, everything on it waits (at most the window). A thread holds
//! off for [`Coalescing::window`] before going idle only when wake-ups are what it spends its
//! time on: its last round of work handled at least [`Coalescing::min_packets`] QoS 0
//! PUBLISHes but not yet a batch (unless it followed a wait), each packet in less than
//! `window / min_packets` on average, and its last idle spell ended within the window (so
//! waiting finds more). A quiet thread (a device and its shadow, request after request) and a
//! thread busy with real work (handshakes) never wait, and a burst followed by silence costs
//! one wait, after which the thread stops.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A round of `BATCH x min_packets` packets or more is a batch already.
const BATCH: u32 = 8;
/// The longest wait: everything on the thread (timers, other connections, the stop signal)
/// waits with it.
pub const MAX_WINDOW: Duration = Duration::from_millis(10);

/// What an I/O thread knows of its recent rounds of work.
#[derive(Debug, Default)]
struct Rounds {
    /// QoS 0 PUBLISHes handled since the thread last went idle.
    handled: Cell<u32>,
    /// When the thread last went idle (after any hold-off).
    idle_since: Cell<Option<Instant>>,
    /// When the thread last woke up.
    awake_since: Cell<Option<Instant>>,
    /// Whether the last idle spell ended within the window.
    streaming: Cell<bool>,
    /// Whether the last round ended in a wait.
    holding: Cell<bool>,
}

thread_local! {
    static ROUNDS: Rounds = Rounds::default();
}

/// Counts one QoS 0 PUBLISH handled on this thread.
pub(crate) fn streamed() {
    ROUNDS.with(|r| r.handled.set(r.handled.get().saturating_add(1)));
}

/// When an I/O thread holds off before looking for more input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalescing {
    /// How long a thread fed by a stream waits before it looks for more input (at most
    /// [`MAX_WINDOW`]). Zero turns coalescing off. Everything on the thread waits with it.
    pub window: Duration,
    /// The QoS 0 PUBLISHes a round of work must have handled for the wait to be worth it
    /// (0 counts as 1).
    pub min_packets: u32,
}

impl Coalescing {
    /// Never wait: every wake-up is handled as soon as it comes.
    pub const OFF: Coalescing = Coalescing {
        window: Duration::ZERO,
        min_packets: u32::MAX,
    };

    /// The window in force: the one asked for, at most [`MAX_WINDOW`].
    fn window(self) -> Duration {
        self.window.min(MAX_WINDOW)
    }

    /// Runs on an I/O thread just before it goes idle: ends the round, and waits the window
    /// if input is streaming (counting the wait in `waits` first).
    pub(crate) fn before_idle(self, waits: &AtomicU64) {
        ROUNDS.with(|r| {
            if let Some(wait) = self.hold_off(r, Instant::now()) {
                waits.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(wait);
            }
            r.idle_since.set(Some(Instant::now()));
        });
    }

    /// Runs on an I/O thread when it wakes up.
    pub(crate) fn after_idle(self) {
        ROUNDS.with(|r| self.woke(r, Instant::now()));
    }

    /// Ends a round at `now`: the wait before going idle, if any.
    fn hold_off(self, r: &Rounds, now: Instant) -> Option<Duration> {
        let handled = r.handled.replace(0);
        let (window, min) = (self.window(), self.min_packets.max(1));
        // Cheap packets: each took less than window / min_packets.
        let cheap = r.awake_since.take().is_some_and(|since| {
            let busy = now.saturating_duration_since(since);
            busy.saturating_mul(min) < window.saturating_mul(handled)
        });
        // A thread that already finds batches without waiting gains nothing by waiting (and
        // would slow a client that waits for acknowledgements); once waiting, it goes on as
        // long as each wait finds enough.
        let small = handled < min.saturating_mul(BATCH) || r.holding.get();
        let wait = !window.is_zero() && handled >= min && small && cheap && r.streaming.get();
        r.holding.set(wait);
        wait.then_some(window)
    }

    /// Ends an idle spell at `now`.
    fn woke(self, r: &Rounds, now: Instant) {
        if let Some(since) = r.idle_since.take() {
            r.streaming
                .set(now.saturating_duration_since(since) < self.window());
        }
        r.awake_since.set(Some(now));
    }

    /// Makes the calling thread's timers as precise as the window needs (Linux lets a timer
    /// fire up to 50 us late by default, which would half again a 100 us window), and never
    /// looser than that default. Best effort.
    pub(crate) fn tighten_timers(self) {
        if self.window().is_zero() {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            let tenth = u64::try_from((self.window() / 10).as_nanos()).unwrap_or(u64::MAX);
            let slack = std::num::NonZeroU64::new(tenth.clamp(1_000, 50_000));
            if let Err(e) = rustix::thread::set_current_timer_slack(slack) {
                tracing::debug!(error = %e, "timer slack left at the default");
            }
        }
    }
}

impl Default for Coalescing {
    /// 100 us, after rounds of 4 packets or more (docs/performance.md has the measured
    /// trade-off).
    fn default() -> Self {
        Coalescing {
            window: Duration::from_micros(100),
            min_packets: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Coalescing = Coalescing {
        window: Duration::from_micros(50),
        min_packets: 3,
    };

    const SHORT: Duration = Duration::from_micros(10);
    const LONG: Duration = Duration::from_millis(1);

    /// A round of `packets` that took `busy`, then an idle spell of `idle`; whether the round
    /// ended in a wait.
    fn round(r: &Rounds, c: Coalescing, packets: u32, busy: Duration, idle: Duration) -> bool {
        let woke = Instant::now();
        c.woke(r, woke);
        r.handled.set(packets);
        let waited = c.hold_off(r, woke + busy).is_some();
        r.idle_since.set(Some(woke + busy));
        c.woke(r, woke + busy + idle);
        waited
    }

    #[test]
    fn only_a_stream_of_short_busy_rounds_waits() {
        let r = Rounds::default();
        assert!(
            !round(&r, C, 5, SHORT, SHORT),
            "nothing is known of the input yet"
        );
        assert!(
            round(&r, C, 5, SHORT, SHORT),
            "busy, and input came back within the window"
        );
        assert!(
            round(&r, C, 3, SHORT, LONG),
            "still busy; but then a long silence"
        );
        assert!(
            !round(&r, C, 9, SHORT, SHORT),
            "busy, after a silence: no wait"
        );
        assert!(
            !round(&r, C, 2, SHORT, SHORT),
            "streaming again, but a quiet round"
        );
        assert!(
            !round(&r, C, 4, LONG, SHORT),
            "costly packets: wake-ups cost little"
        );
        assert!(
            !round(&r, C, 200, LONG, SHORT),
            "a batch found without waiting"
        );
        assert!(round(&r, C, 4, SHORT, SHORT), "busy and streaming");
        assert!(
            round(&r, C, 200, LONG, SHORT),
            "a batch found by waiting: go on"
        );
        assert!(
            !round(&r, C, 2, SHORT, SHORT),
            "a wait that found little: stop"
        );
        assert!(
            !round(&r, C, 200, LONG, SHORT),
            "a batch again, found without waiting"
        );
    }

    #[test]
    fn off_never_waits() {
        let r = Rounds::default();
        for _ in 0..3 {
            assert!(!round(&r, Coalescing::OFF, u32::MAX, SHORT, Duration::ZERO));
        }
    }

    #[test]
    fn a_huge_window_is_capped_and_zero_packets_count_as_one() {
        let c = Coalescing {
            window: Duration::MAX,
            min_packets: 0,
        };
        let r = Rounds::default();
        assert!(
            !round(&r, c, 1, SHORT, SHORT),
            "nothing is known of the input yet"
        );
        let woke = Instant::now();
        c.woke(&r, woke);
        r.handled.set(1);
        assert_eq!(c.hold_off(&r, woke + SHORT), Some(MAX_WINDOW));
    }

    #[test]
    fn packets_are_counted_per_thread() {
        std::thread::spawn(|| {
            (0..3).for_each(|_| streamed());
            ROUNDS.with(|r| assert_eq!(r.handled.get(), 3));
        })
        .join()
        .expect("the counting thread");
        ROUNDS.with(|r| assert_eq!(r.handled.get(), 0));
    }
}

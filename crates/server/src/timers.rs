//! What runs on time: every registered service's `tick` (job timeouts, fleet provisioning's
//! ownership tokens expiring), on the services' own workers; once a second, or at once for a
//! test that moved its clock.

use iotmock_broker::BrokerCore;
use iotmock_registry::Clock;
use std::sync::Arc;

/// What runs on time: the services' ticks, with the injected clock.
#[derive(Clone)]
pub(crate) struct Timers {
    pub core: BrokerCore,
    pub clock: Arc<dyn Clock>,
}

impl Timers {
    /// Queues a tick to every service.
    pub fn run(&self) {
        self.core.tick_services(self.clock.now_millis());
    }

    /// Ticks every service and waits until each has done it (and what was queued before).
    pub fn run_now(&self) {
        self.run();
        self.core.settle_services();
    }
}

/// Runs the timers once a second.
pub(crate) async fn tick(timers: Timers) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        every.tick().await;
        timers.run();
    }
}

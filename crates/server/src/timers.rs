//! What runs on time: job timeouts, and fleet provisioning's ownership tokens expiring; once a
//! second, or at once for a test that moved its clock.

use iotmock_broker::BrokerCore;
use iotmock_fleet::FleetService;
use iotmock_jobs::JobsService;
use iotmock_registry::Clock;
use std::sync::Arc;

/// What runs on time: job timeouts, and fleet provisioning's ownership tokens expiring.
#[derive(Clone)]
pub(crate) struct Timers {
    pub jobs: Arc<JobsService>,
    pub fleet: Arc<FleetService>,
    pub core: BrokerCore,
    pub clock: Arc<dyn Clock>,
}

impl Timers {
    pub fn run(&self) {
        let now = self.clock.now_millis();
        for notice in self.jobs.tick(now) {
            let payload = notice.payload.to_string().into();
            self.core.publish(&notice.topic, payload, 1, false);
        }
        self.fleet.tick(now);
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

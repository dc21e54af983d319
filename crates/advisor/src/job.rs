//! Job_Execution's job: created once the device is ready to hear of it, so a device that
//! follows either of AWS's documented workflows passes: it subscribes to `jobs/notify-next`
//! (or `jobs/notify`) and waits, or it asks (`jobs/get`, `jobs/start-next`); a device that does
//! neither gets the job [`JOB_WAIT_MS`] after its CONNECT. `JOB_CREATION=BEFORE_CONNECT`
//! creates it before the device connects, as Device Advisor's `JOB_JOBID` (an existing job)
//! does, for devices that look for pending jobs on start-up.

use crate::{Act, Case, Event, Timed};

/// How long after CONNECT the job is created when the device has neither subscribed to its
/// job notifications nor asked for its jobs.
pub const JOB_WAIT_MS: i64 = 2000;

impl Case {
    /// `Some` with the job's creation when now is the time for it.
    pub(crate) fn job_due(&mut self, t: &Timed) -> Option<Vec<Act>> {
        if self.asked {
            return None;
        }
        let prefix = format!("$aws/things/{}/jobs/", self.config.thing);
        let due = match &t.event {
            Event::Accepted { .. } => self.config.job_before_connect,
            Event::Connect { .. } => {
                self.job_connected_at.get_or_insert(t.at_ms);
                false
            }
            Event::In { packet, .. } if packet.kind == "SUBSCRIBE" => {
                packet.filters.iter().any(|f| {
                    ["notify-next", "notify"]
                        .iter()
                        .any(|n| iotmock_mqtt::topic::matches(f, &format!("{prefix}{n}")))
                })
            }
            Event::In { packet, .. } if packet.kind == "PUBLISH" => {
                let topic = packet.topic.as_deref().unwrap_or_default();
                ["get", "start-next", "$next/get"]
                    .iter()
                    .any(|asked| topic == format!("{prefix}{asked}"))
            }
            Event::Tick => self
                .job_connected_at
                .is_some_and(|at| t.at_ms >= at + JOB_WAIT_MS),
            _ => false,
        };
        if !due {
            return None;
        }
        self.asked = true;
        Some(vec![Act::CreateJob {
            id: "advisor-job".into(),
            document: self.config.job_document.clone(),
        }])
    }
}

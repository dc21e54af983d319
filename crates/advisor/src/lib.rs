//! Device conformance, as AWS Device Advisor judges it, without I/O: each case is a state
//! machine fed the device's observed timeline (connections, TLS, packets each way). It asks the
//! runner for actions (publish to the device, create a job, lift a fault) and ends with a
//! verdict and its reason. [`classify`] tells exponential, jittered, linear and constant
//! backoff apart from the ratios of the intervals, whatever their scale.

mod backoff;
mod cases;
mod catalog;
mod custom;
mod job;
mod long;
mod persistent;
mod policies;
mod reconnect;
#[cfg(test)]
mod tests;
mod tls;

pub use backoff::{Backoff, classify};
pub use cases::{Case, FRAGMENTS_PAYLOAD};
pub use catalog::{CaseId, all_cases, custom_auth_cases, qualification_cases};
pub use long::SCENARIOS;
pub use policies::judge_policies;
pub use tls::{AWS_SUITES, ServerCert, TlsEnd, judge_suites, suite_name};

use serde::Serialize;

/// What a case saw, in the runner's words (a mirror of the broker's timeline).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Accepted {
        conn: u64,
    },
    /// The device's ClientHello: offered cipher suites (IANA numbers) and SNI.
    Hello {
        conn: u64,
        suites: Vec<u16>,
        sni: Option<String>,
    },
    Handshake {
        conn: u64,
        end: TlsEnd,
    },
    Connect {
        conn: u64,
        client_id: String,
        clean_start: bool,
        keep_alive: u16,
    },
    In {
        conn: u64,
        packet: Packet,
    },
    Out {
        conn: u64,
        packet: Packet,
        withheld: bool,
    },
    Closed {
        conn: u64,
        reason: String,
    },
    /// Time passing (the runner sends one a second), for phases that end on time.
    Tick,
}

/// A packet as a case needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packet {
    pub kind: String,
    pub pkid: Option<u16>,
    pub topic: Option<String>,
    pub qos: u8,
    pub dup: bool,
    pub payload: Vec<u8>,
    pub filters: Vec<String>,
}

/// A timed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub at_ms: i64,
    pub event: Event,
}

/// Device Advisor's verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "FAIL")]
    Fail,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reason: String,
}

impl Verdict {
    pub fn pass(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Pass,
            reason: reason.into(),
        }
    }
    pub fn warn(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Warn,
            reason: reason.into(),
        }
    }
    pub fn fail(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            reason: reason.into(),
        }
    }
}

/// What a case asks the runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Publish to the device (QoS, topic, payload).
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: u8,
    },
    /// Create a job for the device's thing with this document.
    CreateJob { id: String, document: String },
    /// Stop misbehaving: clear the fault plan.
    LiftFaults,
    /// Misbehave this way from now on (replaces the fault plan).
    SetFaults(Faults),
    /// Drop the device's connection as DeleteConnection does; `clean_session` discards its
    /// persistent session too.
    Disconnect { clean_session: bool },
    /// Set `desired` on the device's shadow (the classic one when `shadow` is `None`), as
    /// UpdateThingShadow does, with this clientToken.
    SetDesired {
        shadow: Option<String>,
        state: serde_json::Value,
        client_token: String,
    },
    /// Renew the custom authorizer's grant now (the function is invoked again, as at
    /// `refreshAfterInSeconds`).
    RefreshGrant,
    /// End the custom authorizer's grant now (the connection is closed, as at
    /// `disconnectAfterInSeconds`).
    LapseGrant,
}

/// The clientToken Device Advisor's own shadow update carries.
pub const SHADOW_SETUP_TOKEN: &str = "DeviceAdvisorShadowTestCaseSetup";

/// Faults the broker plays for a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub withhold_connack: bool,
    pub withhold_puback: bool,
    pub withhold_suback: bool,
    pub withhold_pingresp: bool,
    /// Close the connection (no DISCONNECT) after this many packets from the device, CONNECT
    /// included.
    pub drop_after: Option<u32>,
}

/// Device Advisor's configuration keys a case reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub thing: String,
    pub client_id: String,
    /// TRIGGER_TOPIC: the topic the device publishes to or subscribes to.
    pub topic: String,
    /// PAYLOAD_SIZE in KB for the QoS 1 delivery.
    pub payload_kb: usize,
    /// RECONNECTION_ATTEMPTS for the backoff cases.
    pub attempts: usize,
    /// JOB_DOCUMENT.
    pub job_document: String,
    /// JOB_CREATION=BEFORE_CONNECT: Job_Execution's job exists before the device connects
    /// (otherwise it is created once the device subscribes to its job notifications or asks
    /// for its jobs).
    pub job_before_connect: bool,
    /// EXECUTION_TIMEOUT in seconds: how long the device has (the case's own otherwise).
    pub timeout_secs: Option<u64>,
    /// SHADOW_NAME: the named shadow the shadow cases watch (the classic one otherwise).
    pub shadow_name: Option<String>,
    /// REPORTED_STATE: what the device's first reports must contain, when given.
    pub reported_state: Option<serde_json::Value>,
    /// DESIRED_STATE: what Shadow_Update_Reported_State sets and waits to see reported.
    pub desired_state: serde_json::Value,
    /// The policies attached to the device's certificate, `(name, document)`; the runner
    /// fills them in.
    pub policies: Vec<(String, String)>,
    /// SCENARIOS: MQTT_Long_Duration's advanced scenarios to run (names, or ALL).
    pub scenarios: Vec<String>,
    /// TIME_COMPRESSION: how many times faster than Device Advisor the long phases run.
    pub compression: f64,
    /// LONG_SERVER_DISCONNECT_MINUTES (30-120), before compression.
    pub long_disconnect_min: u64,
    /// PHASE_TIMEOUT in seconds: how long each MQTT_Long_Duration phase may take.
    pub phase_timeout_secs: u64,
    /// STABLE_CONNECTION_SECONDS: how long MQTT_Long_Duration leaves the connection up before
    /// RECONNECT_BACK_OFF starts dropping it (a device resets its backoff after that long).
    pub stable_secs: u64,
}

impl Config {
    pub fn new(thing: &str) -> Self {
        Self {
            thing: thing.into(),
            client_id: thing.into(),
            topic: format!("device/{thing}/data"),
            payload_kb: 1,
            attempts: 5,
            job_document: r#"{"operation":"reboot"}"#.into(),
            job_before_connect: false,
            timeout_secs: None,
            shadow_name: None,
            reported_state: None,
            desired_state: serde_json::json!({"advisorCheck": "converged"}),
            policies: Vec::new(),
            scenarios: Vec::new(),
            compression: 600.0,
            long_disconnect_min: 30,
            phase_timeout_secs: 30,
            stable_secs: 3,
        }
    }

    /// The topic prefix of the watched shadow, ending in `/`.
    pub fn shadow_prefix(&self) -> String {
        match &self.shadow_name {
            Some(name) => format!("$aws/things/{}/shadow/name/{name}/", self.thing),
            None => format!("$aws/things/{}/shadow/", self.thing),
        }
    }

    /// Applies `KEY=VALUE` settings with Device Advisor's key names.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{key} must be a number, got '{v}'"))
        };
        match key {
            "TRIGGER_TOPIC" | "TOPIC" => self.topic = value.to_string(),
            "PAYLOAD_SIZE" => self.payload_kb = number(value)?.clamp(1, 128),
            "RECONNECTION_ATTEMPTS" => self.attempts = number(value)?.clamp(2, 20),
            "JOB_DOCUMENT" => self.job_document = value.to_string(),
            "JOB_CREATION" => {
                self.job_before_connect = match value.to_ascii_uppercase().as_str() {
                    "BEFORE_CONNECT" => true,
                    "ON_SUBSCRIBE" | "WHEN_READY" => false,
                    _ => {
                        return Err(format!(
                            "JOB_CREATION is BEFORE_CONNECT or WHEN_READY, not '{value}'"
                        ));
                    }
                }
            }
            "EXECUTION_TIMEOUT" => self.timeout_secs = Some(number(value)?.max(1) as u64),
            "SHADOW_NAME" => self.shadow_name = Some(value.to_string()),
            "REPORTED_STATE" => self.reported_state = Some(object(key, value)?),
            "DESIRED_STATE" => self.desired_state = object(key, value)?,
            "SCENARIOS" => self.scenarios = scenarios(value)?,
            "TIME_COMPRESSION" => self.compression = number(value)?.max(1) as f64,
            "PHASE_TIMEOUT" => self.phase_timeout_secs = number(value)?.max(1) as u64,
            "STABLE_CONNECTION_SECONDS" => self.stable_secs = number(value)? as u64,
            "LONG_SERVER_DISCONNECT_MINUTES" => {
                self.long_disconnect_min = number(value)?.clamp(30, 120) as u64
            }
            other => return Err(format!("unknown setting {other}")),
        }
        Ok(())
    }
}

/// SCENARIOS: a comma-separated list of MQTT_Long_Duration's advanced scenarios, or ALL.
fn scenarios(value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    match names
        .iter()
        .find(|n| *n != "ALL" && !SCENARIOS.contains(&n.as_str()))
    {
        Some(bad) => Err(format!(
            "unknown scenario {bad} (known: ALL, {})",
            SCENARIOS.join(", ")
        )),
        None => Ok(names),
    }
}

/// A setting that must be a JSON object.
fn object(key: &str, value: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(format!("{key} must be a JSON object, got '{value}'")),
    }
}

/// Whether `have` holds every leaf of `want` with the same value.
pub fn contains(have: &serde_json::Value, want: &serde_json::Value) -> bool {
    match (have, want) {
        (serde_json::Value::Object(h), serde_json::Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        _ => have == want,
    }
}

//! iotmock: a faithful, fast, offline stand-in for AWS IoT Core.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mock = iotmock::MockIotCore::builder().start().await?;
//! println!("aws --endpoint-url {} iot list-things", mock.api_url());
//! # Ok(()) }
//! ```

pub use iotmock_server::{
    ApiLimits, Builder, JobHandle, ManualClock, MockIotCore, NotReached, NotReported, Registry,
    RuleNotFound, ShadowError, ShadowHandle, SigV4Secrets,
};

/// The device-side MQTT client iotmock's own tests use (mutual TLS, MQTT 3.1.1 and 5, ALPN,
/// WebSocket): `TestDevice::connect` hands one out connected.
pub use iotmock_client as client;

/// Test certificate authorities: `TestCa::new("my root")` mints device certificates
/// (`ca.leaf("sensor-1")`) to register as a customer CA would.
pub use iotmock_testkit::{Minted, TestCa};

/// Job execution statuses, for [`JobHandle::wait_for`].
pub use iotmock_jobs::ExecStatus;

/// The allow-all policy `MockIotCore::create_device` attaches unless given one.
pub use iotmock_server::testing::ALLOW_ALL;

/// The console on the API port (`Builder::console`): its settings and refusal log.
pub use iotmock_server::console;

/// Helpers for in-process tests: `MockIotCore::create_device`, `retained_message` and
/// `watch_connections`.
pub use iotmock_server::testing;

/// Device conformance in firmware tests: run one of Device Advisor's cases against a device
/// future and get the verdict with its evidence.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// use iotmock::advisor::{CaseId, DeviceEnv, Outcome, check_device};
/// async fn my_firmware(env: DeviceEnv) {
///     // connect to env.host:env.port with env.ca_file, env.cert_file, env.key_file ...
/// }
/// let result = check_device(CaseId::MqttConnect, &[("EXECUTION_TIMEOUT", "10")], my_firmware).await?;
/// assert_eq!(result.verdict.outcome, Outcome::Pass, "{:#?}", result.evidence);
/// # Ok(()) }
/// ```
pub mod advisor {
    pub use iotmock_advisor::{CaseId, Outcome, Verdict, all_cases, qualification_cases};
    pub use iotmock_server::advisor::{
        CaseResult, Device, DeviceEnv, DeviceTask, Identity, RunOptions, check_device, run_case,
    };
}

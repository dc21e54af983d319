//! iotmock: a faithful, fast, offline stand-in for AWS IoT Core.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mock = iotmock::MockIotCore::builder().start().await?;
//! println!("aws --endpoint-url {} iot list-things", mock.api_url());
//! # Ok(()) }
//! ```

pub use iotmock_server::{
    ApiLimits, Builder, ManualClock, MockIotCore, NotReported, Registry, RuleNotFound, ShadowError,
    ShadowHandle, SigV4Secrets,
};

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

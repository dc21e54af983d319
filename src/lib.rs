//! iotmock: a faithful, fast, offline stand-in for AWS IoT Core.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mock = iotmock::MockIotCore::builder().start().await?;
//! println!("aws --endpoint-url {} iot list-things", mock.api_url());
//! # Ok(()) }
//! ```

pub use iotmock_server::{
    Builder, ManualClock, MockIotCore, NotReported, Registry, ShadowError, ShadowHandle,
};

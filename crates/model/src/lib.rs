//! Shared vocabulary of iotmock: certificate ids, status enums, ARNs and the AWS IoT error
//! codes. Every other crate speaks in these types; nothing here does I/O.

mod arn;
mod clock;
mod error;
mod status;

pub use arn::{Arn, partition_for_region};
pub use clock::{Clock, ManualClock, SystemClock, civil_from_days, days_from_civil};
pub use error::{ErrorCode, IotError, IotResult};
pub use status::{AutoRegistrationStatus, CaStatus, CertStatus, CertificateMode, ParseEnumError};

/// AWS IoT's certificate id: the lowercase hex SHA-256 of the certificate's DER encoding.
pub fn certificate_id(der: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

/// Milliseconds since the Unix epoch; every timestamp in the registry uses it.
pub type EpochMillis = i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_id_is_lowercase_hex_sha256() {
        assert_eq!(
            certificate_id(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

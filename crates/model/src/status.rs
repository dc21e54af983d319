//! The enums AWS IoT puts on the wire, with their exact spellings.

use std::fmt;
use std::str::FromStr;

/// A wire value that names no member of the enum it was given for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Value '{value}' is not a valid {field}; valid values: {allowed}")]
pub struct ParseEnumError {
    pub field: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $field:literal, { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(ParseEnumError {
                        field: $field,
                        value: s.to_string(),
                        allowed: concat!($($wire, " "),+),
                    }),
                }
            }
        }
    };
}

wire_enum!(
    /// Status of a device certificate.
    CertStatus, "CertificateStatus", {
        Active => "ACTIVE",
        Inactive => "INACTIVE",
        Revoked => "REVOKED",
        PendingTransfer => "PENDING_TRANSFER",
        RegisterInactive => "REGISTER_INACTIVE",
        PendingActivation => "PENDING_ACTIVATION",
    }
);

wire_enum!(
    /// Status of a CA certificate.
    CaStatus, "CACertificateStatus", {
        Active => "ACTIVE",
        Inactive => "INACTIVE",
    }
);

wire_enum!(
    /// How a certificate is bound to accounts: DEFAULT (one account per region) or SNI_ONLY.
    CertificateMode, "CertificateMode", {
        Default => "DEFAULT",
        SniOnly => "SNI_ONLY",
    }
);

wire_enum!(
    /// Whether a CA admits just-in-time registration of the devices it signs.
    AutoRegistrationStatus, "AutoRegistrationStatus", {
        Enable => "ENABLE",
        Disable => "DISABLE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips_through_its_wire_name() {
        for s in CertStatus::ALL {
            assert_eq!(s.as_str().parse::<CertStatus>(), Ok(*s));
        }
        for s in CaStatus::ALL {
            assert_eq!(s.as_str().parse::<CaStatus>(), Ok(*s));
        }
    }

    #[test]
    fn unknown_values_name_the_allowed_set() {
        let e = "BOGUS".parse::<CaStatus>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Value 'BOGUS' is not a valid CACertificateStatus; valid values: ACTIVE INACTIVE "
        );
    }
}

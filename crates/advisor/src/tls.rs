//! The TLS cases: what the device's ClientHello offers, and how it ends a handshake with a
//! server certificate it must refuse (or cope with).

use crate::cases::{Step, done, none};
use crate::{Case, CaseId, Event, Timed, Verdict};
use serde::Serialize;

/// How a TLS handshake ended, as the broker saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TlsEnd {
    Completed,
    /// The device aborted with this alert.
    Alert(String),
    /// The device closed the connection without an alert.
    Closed,
    Failed(String),
    TimedOut,
}

impl std::fmt::Display for TlsEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsEnd::Completed => f.write_str("completed"),
            TlsEnd::Alert(a) => write!(f, "aborted with alert {a}"),
            TlsEnd::Closed => f.write_str("closed without an alert"),
            TlsEnd::Failed(e) => write!(f, "failed: {e}"),
            TlsEnd::TimedOut => f.write_str("timed out"),
        }
    }
}

/// The server certificate a case has the broker present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCert {
    #[default]
    Standard,
    Large,
    Untrusted,
    WrongName,
    Expired,
}

/// The cipher suites AWS IoT supports (IANA number, OpenSSL name): TLS 1.3's three and the
/// TLS 1.2 list of AWS's transport-security page.
pub const AWS_SUITES: [(u16, &str); 21] = [
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    (0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
    (0xC023, "ECDHE-ECDSA-AES128-SHA256"),
    (0xC027, "ECDHE-RSA-AES128-SHA256"),
    (0xC009, "ECDHE-ECDSA-AES128-SHA"),
    (0xC013, "ECDHE-RSA-AES128-SHA"),
    (0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    (0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
    (0xC024, "ECDHE-ECDSA-AES256-SHA384"),
    (0xC028, "ECDHE-RSA-AES256-SHA384"),
    (0xC014, "ECDHE-RSA-AES256-SHA"),
    (0xC00A, "ECDHE-ECDSA-AES256-SHA"),
    (0x009C, "AES128-GCM-SHA256"),
    (0x003C, "AES128-SHA256"),
    (0x002F, "AES128-SHA"),
    (0x009D, "AES256-GCM-SHA384"),
    (0x003D, "AES256-SHA256"),
    (0x0035, "AES256-SHA"),
];

/// Names for suites clients often offer that AWS IoT does not list.
const OTHER_SUITES: [(u16, &str); 9] = [
    (0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"),
    (0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305"),
    (0xCCAA, "DHE-RSA-CHACHA20-POLY1305"),
    (0x009E, "DHE-RSA-AES128-GCM-SHA256"),
    (0x009F, "DHE-RSA-AES256-GCM-SHA384"),
    (0x0067, "DHE-RSA-AES128-SHA256"),
    (0x006B, "DHE-RSA-AES256-SHA256"),
    (0x0033, "DHE-RSA-AES128-SHA"),
    (0x0039, "DHE-RSA-AES256-SHA"),
];

/// A suite's name (OpenSSL's), or its number.
pub fn suite_name(suite: u16) -> String {
    AWS_SUITES
        .iter()
        .chain(OTHER_SUITES.iter())
        .find(|(n, _)| *n == suite)
        .map_or_else(|| format!("0x{suite:04X}"), |(_, name)| name.to_string())
}

/// Signalling values that are not suites: the renegotiation and fallback SCSVs, and GREASE.
fn signalling(suite: u16) -> bool {
    let [hi, lo] = suite.to_be_bytes();
    suite == 0x00FF || suite == 0x5600 || (hi == lo && hi & 0x0F == 0x0A)
}

/// TLS_Support_AWS_IoT_Cipher_Suites: PASS when every suite offered is one AWS supports,
/// WARN when some are not (named), FAIL when none is.
pub fn judge_suites(offered: &[u16]) -> Verdict {
    let real: Vec<u16> = offered
        .iter()
        .copied()
        .filter(|s| !signalling(*s))
        .collect();
    let name = |s: u16| {
        AWS_SUITES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, name)| *name)
    };
    let supported: Vec<&str> = real.iter().filter_map(|s| name(*s)).collect();
    let other: Vec<String> = real
        .iter()
        .filter(|s| name(**s).is_none())
        .map(|s| suite_name(*s))
        .collect();
    match (supported.is_empty(), other.is_empty()) {
        (true, _) => Verdict::fail(format!(
            "the ClientHello offers no cipher suite AWS IoT supports ({})",
            other.join(", ")
        )),
        (false, true) => Verdict::pass(format!(
            "every suite offered is supported: {}",
            supported.join(", ")
        )),
        (false, false) => Verdict::warn(format!(
            "supported: {}; not supported by AWS IoT: {}",
            supported.join(", "),
            other.join(", ")
        )),
    }
}

impl Case {
    pub(crate) fn tls(&mut self, t: &Timed) -> Step {
        match (&t.event, self.id) {
            (Event::Hello { suites, .. }, CaseId::TlsCipherSuites) => done(judge_suites(suites)),
            (Event::Handshake { end, .. }, _) => done(self.handshake(end)),
            _ => none(),
        }
    }

    fn handshake(&self, end: &TlsEnd) -> Verdict {
        let refuse = match self.id {
            CaseId::TlsUnsecureServerCert => "a server certificate no trusted CA signed",
            CaseId::TlsIncorrectSubjectName => "a server certificate for another host name",
            CaseId::TlsExpiredServerCert => "an expired server certificate",
            _ if *end == TlsEnd::Completed => {
                return Verdict::pass("the TLS handshake completed");
            }
            _ => return Verdict::fail(format!("the TLS handshake {end}")),
        };
        // close_notify ends a connection politely; it names no problem with the certificate.
        let silent =
            matches!(end, TlsEnd::Closed) || matches!(end, TlsEnd::Alert(a) if a == "CloseNotify");
        if silent && self.id == CaseId::TlsExpiredServerCert {
            return Verdict::warn(format!(
                "the device refused {refuse} but sent no alert naming the problem ({end})"
            ));
        }
        match end {
            TlsEnd::Completed => Verdict::fail(format!("the device accepted {refuse}")),
            TlsEnd::Alert(a) => Verdict::pass(format!("the device refused {refuse} (alert {a})")),
            TlsEnd::TimedOut => Verdict::fail(format!(
                "the device neither finished nor aborted the handshake with {refuse}"
            )),
            other => Verdict::pass(format!("the device refused {refuse} ({other})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Outcome};

    #[test]
    fn suites_pass_warn_or_fail_and_signals_are_ignored() {
        let rustls_aws = [
            0x1302, 0x1301, 0x1303, 0xC02C, 0xC02B, 0xC030, 0xC02F, 0x00FF,
        ];
        assert_eq!(judge_suites(&rustls_aws).outcome, Outcome::Pass);
        let grease = [0x0A0A, 0x1301, 0xFAFA, 0x5600];
        assert_eq!(judge_suites(&grease).outcome, Outcome::Pass);
        let with_chacha = [0x1301, 0xCCA9];
        let warn = judge_suites(&with_chacha);
        assert_eq!(warn.outcome, Outcome::Warn);
        assert!(
            warn.reason.contains("ECDHE-ECDSA-CHACHA20-POLY1305"),
            "{}",
            warn.reason
        );
        assert_eq!(judge_suites(&[0xCCA9, 0x00FF]).outcome, Outcome::Fail);
        assert_eq!(judge_suites(&[]).outcome, Outcome::Fail);
    }

    fn ends(id: CaseId, end: TlsEnd) -> Outcome {
        let mut case = Case::new(id, Config::new("d"));
        let t = Timed {
            at_ms: 0,
            event: Event::Handshake { conn: 1, end },
        };
        case.on(&t).1.map(|v| v.outcome).unwrap_or(Outcome::Fail)
    }

    #[test]
    fn a_bad_certificate_must_be_refused_and_expired_needs_an_alert() {
        let alert = || TlsEnd::Alert("BadCertificate".into());
        for id in [
            CaseId::TlsUnsecureServerCert,
            CaseId::TlsIncorrectSubjectName,
            CaseId::TlsExpiredServerCert,
        ] {
            assert_eq!(ends(id, TlsEnd::Completed), Outcome::Fail, "{id:?}");
            assert_eq!(ends(id, alert()), Outcome::Pass, "{id:?}");
            assert_eq!(ends(id, TlsEnd::TimedOut), Outcome::Fail, "{id:?}");
        }
        assert_eq!(
            ends(CaseId::TlsExpiredServerCert, TlsEnd::Closed),
            Outcome::Warn
        );
        assert_eq!(
            ends(CaseId::TlsUnsecureServerCert, TlsEnd::Closed),
            Outcome::Pass
        );
        let polite = TlsEnd::Alert("CloseNotify".into());
        assert_eq!(ends(CaseId::TlsExpiredServerCert, polite), Outcome::Warn);
        assert_eq!(
            ends(CaseId::TlsLargeServerCert, TlsEnd::Completed),
            Outcome::Pass
        );
        assert_eq!(ends(CaseId::TlsLargeServerCert, alert()), Outcome::Fail);
    }

    #[test]
    fn each_case_presents_its_certificate() {
        assert_eq!(
            CaseId::TlsExpiredServerCert.server_cert(),
            ServerCert::Expired
        );
        assert_eq!(CaseId::TlsConnect.server_cert(), ServerCert::Standard);
        let q = crate::qualification_cases();
        assert_eq!(q.len(), 11);
        assert!(q.iter().filter(|c| c.is_tls()).count() == 7);
    }
}

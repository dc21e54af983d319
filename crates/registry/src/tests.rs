//! Registry rules end to end, without the HTTP layer: the walkthrough and each refusal.
#![allow(clippy::unwrap_used)]

mod transfer;

use crate::*;
use iotmock_model::{CaStatus, CertStatus, ErrorCode};
use iotmock_testkit::{TestCa, csr, self_signed};
use std::sync::OnceLock;

const R: &str = "ap-northeast-1";

struct Fixed;
impl Clock for Fixed {
    fn now_millis(&self) -> iotmock_model::EpochMillis {
        SystemClock.now_millis()
    }
}

fn mock_ca() -> Arc<MockCa> {
    static CA: OnceLock<Arc<MockCa>> = OnceLock::new();
    CA.get_or_init(|| Arc::new(MockCa::generate(SystemClock.now_millis() / 1000).unwrap()))
        .clone()
}

fn registry_on(store: Box<dyn Store>) -> Registry {
    Registry::open(
        "123456789012",
        EndpointConfig::default(),
        store,
        Arc::new(Fixed),
        mock_ca(),
    )
    .unwrap()
}

fn registry() -> Registry {
    registry_on(Box::new(MemoryStore))
}

fn register_ca(reg: &mut Registry, ca: &TestCa, active: bool) -> String {
    let code = reg.get_registration_code(R).unwrap();
    let req = RegisterCa {
        ca_certificate: Some(ca.pem().into()),
        verification_certificate: Some(ca.verification_cert(&code).cert_pem),
        set_as_active: active,
        ..Default::default()
    };
    reg.register_ca_certificate(R, req).unwrap().1
}

fn code_of<T: std::fmt::Debug>(r: IotResult<T>) -> ErrorCode {
    r.unwrap_err().code
}

#[test]
fn walkthrough_registers_ca_then_device_found_by_issuer() {
    let mut reg = registry();
    let ca = TestCa::new("root");
    let ca_id = register_ca(&mut reg, &ca, false);
    assert_eq!(
        reg.describe_ca_certificate(R, &ca_id).unwrap().status,
        CaStatus::Inactive
    );
    reg.update_ca_certificate(R, &ca_id, Some("ACTIVE"), None, None, false)
        .unwrap();
    let dev = ca.leaf("deviceHoge");
    let got = reg
        .register_certificate(R, Some(&dev.cert_pem), None, true, None)
        .unwrap();
    let cert = reg.describe_certificate(R, &got.id).unwrap();
    assert_eq!(cert.ca_id.as_deref(), Some(ca_id.as_str()));
    assert_eq!(cert.status, CertStatus::Active);
    assert_eq!(
        got.arn,
        format!("arn:aws:iot:{R}:123456789012:cert/{}", got.id)
    );
    let page = reg
        .list_certificates(R, &PageRequest::default(), Some(&ca_id))
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[test]
fn registration_code_is_stable_until_deleted() {
    let mut reg = registry();
    let a = reg.get_registration_code(R).unwrap();
    assert_eq!(a.len(), 64);
    assert_eq!(reg.get_registration_code(R).unwrap(), a);
    assert_ne!(reg.get_registration_code("us-east-1").unwrap(), a);
    reg.delete_registration_code(R).unwrap();
    assert_ne!(reg.get_registration_code(R).unwrap(), a);
    reg.delete_registration_code(R).unwrap();
    assert_eq!(
        code_of(reg.delete_registration_code(R)),
        ErrorCode::ResourceNotFound
    );
}

#[test]
fn ca_registration_refusals() {
    let mut reg = registry();
    let code = reg.get_registration_code(R).unwrap();
    let ca = TestCa::new("ca");
    let other = TestCa::new("other");
    let req = |ver: Option<String>, mode: Option<&str>| RegisterCa {
        ca_certificate: Some(ca.pem().into()),
        verification_certificate: ver,
        certificate_mode: mode.map(str::to_string),
        ..Default::default()
    };
    let cases = [
        (req(None, None), ErrorCode::InvalidRequest),
        (
            req(Some(ca.verification_cert("nope").cert_pem), None),
            ErrorCode::RegistrationCodeValidation,
        ),
        (
            req(Some(other.verification_cert(&code).cert_pem), None),
            ErrorCode::CertificateValidation,
        ),
        (
            req(Some(ca.verification_cert(&code).cert_pem), Some("SNI_ONLY")),
            ErrorCode::InvalidRequest,
        ),
        (req(None, Some("BOGUS")), ErrorCode::InvalidRequest),
    ];
    for (r, want) in cases {
        assert_eq!(code_of(reg.register_ca_certificate(R, r)), want);
    }
    let leaf = ca.leaf("leaf");
    let not_ca = RegisterCa {
        ca_certificate: Some(leaf.cert_pem),
        verification_certificate: Some(ca.verification_cert(&code).cert_pem),
        ..Default::default()
    };
    assert_eq!(
        code_of(reg.register_ca_certificate(R, not_ca)),
        ErrorCode::CertificateValidation
    );
    assert!(reg.region(R).unwrap().cas.is_empty());
}

#[test]
fn duplicate_ca_leaves_the_first_untouched() {
    let mut reg = registry();
    let ca = TestCa::new("dup");
    let id = register_ca(&mut reg, &ca, true);
    let code = reg.get_registration_code(R).unwrap();
    let again = RegisterCa {
        ca_certificate: Some(ca.pem().into()),
        verification_certificate: Some(ca.verification_cert(&code).cert_pem),
        ..Default::default()
    };
    let e = reg.register_ca_certificate(R, again).unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(e.resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        reg.describe_ca_certificate(R, &id).unwrap().status,
        CaStatus::Active
    );
}

#[test]
fn device_registration_checks_ca_before_duplicates() {
    let mut reg = registry();
    let ca = TestCa::new("root");
    register_ca(&mut reg, &ca, true);
    let dev = ca.leaf("d");
    reg.register_certificate(R, Some(&dev.cert_pem), Some(ca.pem()), true, None)
        .unwrap();
    let code = reg.get_registration_code(R).unwrap();
    let verification = ca.verification_cert(&code);
    let e = reg
        .register_certificate(
            R,
            Some(&dev.cert_pem),
            Some(&verification.cert_pem),
            true,
            None,
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::CertificateState,
            "No CA certificate exists for the given certificate"
        )
    );
    let dup = reg
        .register_certificate(R, Some(&dev.cert_pem), None, true, None)
        .unwrap_err();
    assert_eq!(
        dup.message,
        "The certificate is already provisioned or registered"
    );
    let stranger = TestCa::new("unregistered");
    assert_eq!(
        code_of(reg.register_certificate(R, Some(&stranger.leaf("x").cert_pem), None, true, None)),
        ErrorCode::CertificateState
    );
    let forged = self_signed("selfSigned");
    assert_eq!(
        code_of(reg.register_certificate(R, Some(&forged.cert_pem), Some(ca.pem()), true, None)),
        ErrorCode::CertificateValidation
    );
    assert_eq!(
        code_of(reg.register_certificate(
            R,
            Some(&ca.expired_leaf("old").cert_pem),
            None,
            true,
            None
        )),
        ErrorCode::CertificateValidation
    );
}

#[test]
fn inactive_ca_refuses_device_registration() {
    let mut reg = registry();
    let ca = TestCa::new("inactive");
    register_ca(&mut reg, &ca, false);
    let e = reg
        .register_certificate(R, Some(&ca.leaf("d").cert_pem), None, true, None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::CertificateState);
}

#[test]
fn status_rules_and_delete_preconditions() {
    let mut reg = registry();
    let created = reg.create_keys_and_certificate(R, true).unwrap();
    let id = created.registered.id.clone();
    let arn = created.registered.arn.clone();
    reg.create_policy(
        R,
        "p",
        Some(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
    )
    .unwrap();
    reg.attach_policy(R, "p", &arn).unwrap();
    let e = reg.delete_certificate(R, &id, false).unwrap_err();
    assert_eq!(
        e.message,
        format!("Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}")
    );
    assert_eq!(
        code_of(reg.update_certificate(R, &id, Some("PENDING_TRANSFER"))),
        ErrorCode::CertificateState
    );
    reg.update_certificate(R, &id, Some("REVOKED")).unwrap();
    assert_eq!(
        code_of(reg.update_certificate(R, &id, Some("ACTIVE"))),
        ErrorCode::CertificateState
    );
    reg.create_thing(R, "t", CreateThing::default()).unwrap();
    reg.attach_thing_principal(R, "t", &arn, None).unwrap();
    assert_eq!(
        reg.delete_certificate(R, &id, false).unwrap_err().message,
        format!("Things must be detached before deletion (arn: {arn})")
    );
    reg.detach_thing_principal(R, "t", &arn).unwrap();
    assert_eq!(
        reg.delete_certificate(R, &id, false).unwrap_err().message,
        format!("Certificate policies must be detached before deletion (arn: {arn})")
    );
    reg.delete_certificate(R, &id, true).unwrap();
    assert!(reg.region(R).unwrap().attachments.is_empty());
    assert_eq!(
        code_of(reg.describe_certificate(R, &id)),
        ErrorCode::ResourceNotFound
    );
}

#[test]
fn policy_versions_and_deletion() {
    let mut reg = registry();
    let doc = r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}"#;
    reg.create_policy(R, "p", Some(doc)).unwrap();
    assert_eq!(
        code_of(reg.create_policy(R, "p", Some(doc))),
        ErrorCode::ResourceAlreadyExists
    );
    assert_eq!(
        code_of(reg.create_policy(R, "q", Some("nope"))),
        ErrorCode::MalformedPolicy
    );
    for _ in 0..4 {
        reg.create_policy_version(R, "p", Some(doc), false).unwrap();
    }
    let e = reg
        .create_policy_version(R, "p", Some(doc), true)
        .unwrap_err();
    assert_eq!(
        e.message,
        "The policy p already has the maximum number of versions (5)"
    );
    assert_eq!(
        code_of(reg.delete_policy_version(R, "p", "1")),
        ErrorCode::DeleteConflict
    );
    let e = reg.delete_policy(R, "p").unwrap_err();
    assert_eq!(
        e.message,
        "The policy cannot be deleted as versions other than than default version exist"
    );
    reg.set_default_policy_version(R, "p", "5").unwrap();
    for v in ["1", "2", "3", "4"] {
        reg.delete_policy_version(R, "p", v).unwrap();
    }
    let next = reg.create_policy_version(R, "p", Some(doc), false).unwrap();
    assert_eq!(next.version_id, 6, "version ids are never reused");
    reg.delete_policy_version(R, "p", "6").unwrap();
    reg.delete_policy(R, "p").unwrap();
}

#[test]
fn things_are_idempotent_and_versioned() {
    let mut reg = registry();
    let attrs = |kv: &[(&str, &str)]| {
        Some(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let a = reg
        .create_thing(
            R,
            "lamp",
            CreateThing {
                attributes: attrs(&[("a", "1")]),
                ..Default::default()
            },
        )
        .unwrap();
    let b = reg
        .create_thing(
            R,
            "lamp",
            CreateThing {
                attributes: attrs(&[("a", "1")]),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(
        code_of(reg.create_thing(R, "lamp", CreateThing::default())),
        ErrorCode::ResourceAlreadyExists
    );
    reg.update_thing(
        R,
        "lamp",
        UpdateThing {
            attributes: attrs(&[("b", "2")]),
            merge: true,
            ..Default::default()
        },
    )
    .unwrap();
    reg.update_thing(
        R,
        "lamp",
        UpdateThing {
            attributes: attrs(&[("a", "")]),
            merge: true,
            expected_version: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let t = reg.describe_thing(R, "lamp").unwrap();
    assert_eq!((t.version, t.attributes.len()), (3, 1));
    assert_eq!(
        code_of(reg.update_thing(
            R,
            "lamp",
            UpdateThing {
                expected_version: Some(1),
                ..Default::default()
            }
        )),
        ErrorCode::VersionConflict
    );
    reg.delete_thing(R, "nothing-here", None).unwrap();
    reg.delete_thing(R, "lamp", None).unwrap();
}

#[test]
fn csr_certificates_keep_the_csr_subject() {
    let mut reg = registry();
    let (pem, _) = csr("sensor-9");
    let (got, cert_pem) = reg
        .create_certificate_from_csr(R, Some(&pem), false)
        .unwrap();
    assert!(cert_pem.contains("BEGIN CERTIFICATE"));
    assert_eq!(
        reg.describe_certificate(R, &got.id).unwrap().status,
        CertStatus::Inactive
    );
    assert_eq!(
        code_of(reg.create_certificate_from_csr(R, Some("junk"), false)),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn sqlite_registry_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let ca = TestCa::new("durable");
    let (ca_id, cert_id);
    {
        let mut reg = registry_on(Box::new(iotmock_store::SqliteStore::open(&path).unwrap()));
        ca_id = register_ca(&mut reg, &ca, true);
        cert_id = reg
            .register_certificate(R, Some(&ca.leaf("d").cert_pem), None, true, None)
            .unwrap()
            .id;
        reg.create_policy(
            R,
            "p",
            Some(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
        )
        .unwrap();
        reg.create_thing(R, "t", CreateThing::default()).unwrap();
        let arn = reg.describe_certificate(R, &cert_id).unwrap().id.clone();
        reg.attach_policy(R, "p", &format!("arn:aws:iot:{R}:123456789012:cert/{arn}"))
            .unwrap();
    }
    let reg = registry_on(Box::new(iotmock_store::SqliteStore::open(&path).unwrap()));
    assert_eq!(
        reg.describe_ca_certificate(R, &ca_id).unwrap().status,
        CaStatus::Active
    );
    assert_eq!(
        reg.describe_certificate(R, &cert_id)
            .unwrap()
            .ca_id
            .as_deref(),
        Some(ca_id.as_str())
    );
    assert_eq!(
        reg.list_targets_for_policy(R, "p", &PageRequest::default())
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(reg.describe_thing(R, "t").is_ok());
}

#[test]
fn endpoints_are_stable_per_type() {
    let reg = registry();
    assert_eq!(
        reg.describe_endpoint(R, Some("iot:Data-ATS")).unwrap(),
        "localhost"
    );
    assert_eq!(
        code_of(reg.describe_endpoint(R, Some("iot:Bogus"))),
        ErrorCode::InvalidRequest
    );
    let mut aws_like = registry();
    aws_like.endpoint.domain = Some("amazonaws.com".into());
    let ats = aws_like.describe_endpoint(R, Some("iot:Data-ATS")).unwrap();
    assert!(
        ats.ends_with("-ats.iot.ap-northeast-1.amazonaws.com"),
        "{ats}"
    );
    assert_eq!(ats.split('-').next().unwrap().len(), 14);
    assert_eq!(
        aws_like.describe_endpoint(R, Some("iot:Data-ATS")).unwrap(),
        ats
    );
}

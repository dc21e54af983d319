//! Certificate transfer between two registries (two accounts), without the HTTP layer.

use super::*;

const B: &str = "111122223333";
const ALLOW: &str = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

fn registry_of(account: &str) -> Registry {
    let store = Box::new(MemoryStore);
    Registry::open(
        account,
        EndpointConfig::default(),
        store,
        Arc::new(Fixed),
        mock_ca(),
    )
    .unwrap()
}

/// An INACTIVE AWS-issued certificate: (id, arn).
fn inactive_cert(reg: &mut Registry) -> (String, String) {
    let (ca, now) = reg.issuer();
    let keys = mint_keys(&ca, now).unwrap();
    let out = reg.register_created_keys(R, keys, false).unwrap();
    (out.registered.id, out.registered.arn)
}

#[test]
fn transfer_refusals_name_the_rule() {
    let mut a = registry();
    let (id, arn) = inactive_cert(&mut a);
    for target in [None, Some("12"), Some("123456789012")] {
        let refused = a.transfer_certificate(R, &id, target, None);
        assert_eq!(code_of(refused), ErrorCode::InvalidRequest, "{target:?}");
    }
    let long = "x".repeat(129);
    let refused = a.transfer_certificate(R, &id, Some(B), Some(&long));
    assert_eq!(code_of(refused), ErrorCode::InvalidRequest);
    a.update_certificate(R, &id, Some("ACTIVE")).unwrap();
    let refused = a.transfer_certificate(R, &id, Some(B), None);
    assert_eq!(code_of(refused), ErrorCode::CertificateState);
    a.update_certificate(R, &id, Some("INACTIVE")).unwrap();

    a.create_policy(R, "p", Some(ALLOW)).unwrap();
    a.attach_policy(R, "p", &arn).unwrap();
    let refused = a.transfer_certificate(R, &id, Some(B), None).unwrap_err();
    assert_eq!(refused.code, ErrorCode::TransferConflict);
    assert!(refused.message.contains("policies are still attached"));
    a.detach_policy(R, "p", &arn, true).unwrap();
    a.create_thing(R, "t", CreateThing::default()).unwrap();
    a.attach_thing_principal(R, "t", &arn, None).unwrap();
    let refused = a.transfer_certificate(R, &id, Some(B), None);
    assert_eq!(code_of(refused), ErrorCode::TransferConflict);
    a.detach_thing_principal(R, "t", &arn).unwrap();

    assert_eq!(a.transfer_certificate(R, &id, Some(B), None).unwrap(), arn);
    let again = a.transfer_certificate(R, &id, Some(B), None);
    assert_eq!(code_of(again), ErrorCode::CertificateState);
    let update = a.update_certificate(R, &id, Some("ACTIVE"));
    assert_eq!(code_of(update), ErrorCode::CertificateState);
    let delete = a.delete_certificate(R, &id, true);
    assert_eq!(code_of(delete), ErrorCode::CertificateState);
}

#[test]
fn cancel_reject_and_accept_move_the_certificate() {
    let (mut a, mut b) = (registry(), registry_of(B));
    let (id, _) = inactive_cert(&mut a);
    let status = |r: &Registry| r.describe_certificate(R, &id).unwrap().status;

    a.transfer_certificate(R, &id, Some(B), Some("hi")).unwrap();
    a.cancel_certificate_transfer(R, &id).unwrap();
    assert_eq!(status(&a), CertStatus::Inactive);
    let again = a.cancel_certificate_transfer(R, &id);
    assert_eq!(code_of(again), ErrorCode::InvalidRequest);

    a.transfer_certificate(R, &id, Some(B), None).unwrap();
    let stranger = a.reject_certificate_transfer(R, &id, "999999999999", None);
    assert_eq!(code_of(stranger), ErrorCode::InvalidRequest);
    a.reject_certificate_transfer(R, &id, B, Some("no"))
        .unwrap();
    assert_eq!(status(&a), CertStatus::Inactive);
    let rejected = a
        .describe_certificate(R, &id)
        .unwrap()
        .transfer
        .clone()
        .unwrap();
    assert_eq!(rejected.reject_reason.as_deref(), Some("no"));
    assert!(rejected.reject_date.is_some());

    a.transfer_certificate(R, &id, Some(B), None).unwrap();
    b.check_receivable(R, &id).unwrap();
    let cert = a.release_certificate(R, &id, B).unwrap();
    let gone = a.describe_certificate(R, &id);
    assert_eq!(code_of(gone), ErrorCode::ResourceNotFound);
    b.receive_certificate(cert, "123456789012", true).unwrap();
    assert_eq!(status(&b), CertStatus::Active);
    assert_eq!(b.previous_owner(R, &id), Some("123456789012"));
    let received = b.describe_certificate(R, &id).unwrap();
    assert!(
        received
            .transfer
            .as_ref()
            .is_some_and(|t| t.accept_date.is_some())
    );
    let twice = b.check_receivable(R, &id);
    assert_eq!(code_of(twice), ErrorCode::TransferAlreadyCompleted);
}

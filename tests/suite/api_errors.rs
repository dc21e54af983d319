//! The spec's exact-message table, and bad input: each answered in AWS's shape, nothing changed.

use crate::support::{Api, label, mock};
use iotmock_testkit::TestCa;
use serde_json::json;

async fn count_certs(api: &Api) -> usize {
    api.get("/certificates?pageSize=250").await.ok()["certificates"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn certificate_deletion_messages() {
    let (_mock, api) = mock().await;
    let (id, arn) = api.create_cert().await;
    let msg = api
        .call("DELETE", &format!("/certificates/{id}"), &[], None)
        .await
        .err(406, "CertificateStateException");
    assert_eq!(
        msg,
        format!("Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}")
    );
    api.call(
        "PUT",
        &format!("/certificates/{id}?newStatus=INACTIVE"),
        &[],
        None,
    )
    .await
    .ok();
    api.post("/things/t", json!({})).await.ok();
    api.call(
        "PUT",
        "/things/t/principals",
        &[("x-amzn-principal", &arn)],
        None,
    )
    .await
    .ok();
    let msg = api
        .call("DELETE", &format!("/certificates/{id}"), &[], None)
        .await
        .err(409, "DeleteConflictException");
    assert_eq!(
        msg,
        format!("Things must be detached before deletion (arn: {arn})")
    );
    let msg = api
        .call("DELETE", "/things/t", &[], None)
        .await
        .err(400, "InvalidRequestException");
    assert_eq!(
        msg,
        "Cannot delete. Thing t is still attached to one or more principals"
    );
    api.call(
        "DELETE",
        "/things/t/principals",
        &[("x-amzn-principal", &arn)],
        None,
    )
    .await
    .ok();
    api.create_policy("p").await;
    api.call(
        "PUT",
        "/target-policies/p",
        &[],
        Some(json!({ "target": arn })),
    )
    .await
    .ok();
    let msg = api
        .call("DELETE", &format!("/certificates/{id}"), &[], None)
        .await
        .err(409, "DeleteConflictException");
    assert_eq!(
        msg,
        format!("Certificate policies must be detached before deletion (arn: {arn})")
    );
    let msg = api
        .call("DELETE", "/policies/p", &[], None)
        .await
        .err(409, "DeleteConflictException");
    assert_eq!(
        msg,
        "The policy cannot be deleted as the policy is attached to one or more principals (name=p)"
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/certificates/{id}?forceDelete=true"),
            &[],
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.call("DELETE", "/policies/p", &[], None).await.status,
        200,
        "force-delete detached the policy"
    );
}

#[tokio::test]
async fn policy_messages() {
    let (_mock, api) = mock().await;
    api.create_policy("p").await;
    let doc = json!({ "policyDocument": r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"# });
    let msg = api
        .post("/policies/p", doc.clone())
        .await
        .err(409, "ResourceAlreadyExistsException");
    assert_eq!(
        msg,
        "Policy cannot be created - name already exists (name=p)"
    );
    for _ in 0..4 {
        api.post("/policies/p/version", doc.clone()).await.ok();
    }
    let msg = api
        .post("/policies/p/version", doc)
        .await
        .err(409, "VersionsLimitExceededException");
    assert_eq!(
        msg,
        "The policy p already has the maximum number of versions (5)"
    );
    let msg = api
        .call("DELETE", "/policies/p", &[], None)
        .await
        .err(409, "DeleteConflictException");
    assert_eq!(
        msg,
        "The policy cannot be deleted as versions other than than default version exist"
    );
    api.call("DELETE", "/policies/p/version/1", &[], None)
        .await
        .err(409, "DeleteConflictException");
    let msg = api
        .post(
            "/policies/q",
            json!({ "policyDocument": "this is not json" }),
        )
        .await
        .err(400, "MalformedPolicyException");
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[tokio::test]
async fn registration_messages() {
    let (_mock, api) = mock().await;
    let ca = TestCa::new("root");
    api.register_ca(&ca, true).await;
    let dev = ca.leaf("d");
    api.post(
        "/certificate/register",
        json!({ "certificatePem": dev.cert_pem }),
    )
    .await
    .ok();
    let answer = api
        .post(
            "/certificate/register",
            json!({ "certificatePem": dev.cert_pem }),
        )
        .await;
    assert!(answer.body["resourceId"].is_string() && answer.body["resourceArn"].is_string());
    assert_eq!(
        answer.err(409, "ResourceAlreadyExistsException"),
        "The certificate is already provisioned or registered"
    );
    let stranger = TestCa::new("stranger");
    let msg = api
        .post("/certificate/register", json!({ "certificatePem": stranger.leaf("x").cert_pem, "caCertificatePem": stranger.pem() }))
        .await
        .err(406, "CertificateStateException");
    assert_eq!(msg, "No CA certificate exists for the given certificate");
    let msg = api
        .post(
            "/certificate/register",
            json!({ "certificatePem": ca.leaf("p").cert_pem, "status": "PENDING_ACTIVATION" }),
        )
        .await
        .err(406, "CertificateStateException");
    assert_eq!(
        msg,
        "Not allowed to register certificate with PENDING_ACTIVATION status"
    );
    let msg = api
        .get("/things/ghost/principals")
        .await
        .err(404, "ResourceNotFoundException");
    assert_eq!(
        msg,
        "Failed to list principals for thing ghost because the thing does not exist in your account"
    );
}

#[tokio::test]
async fn eleventh_ca_with_the_same_subject_is_refused() {
    let (_mock, api) = mock().await;
    for _ in 0..10 {
        api.register_ca(&TestCa::new("same subject"), false).await;
    }
    let code = api.get("/registrationcode").await.ok()["registrationCode"]
        .as_str()
        .unwrap()
        .to_string();
    let ca = TestCa::new("same subject");
    let body = json!({ "caCertificate": ca.pem(), "verificationCertificate": ca.verification_cert(&code).cert_pem });
    let msg = api
        .post("/cacertificate", body)
        .await
        .err(410, "LimitExceededException");
    assert_eq!(
        msg,
        "Limit reached for number of CA Certificates with same subject"
    );
}

#[tokio::test]
async fn bad_input_is_refused_in_aws_shape_and_changes_nothing() {
    let (_mock, api) = mock().await;
    api.create_cert().await;
    let ca = TestCa::new("ca");
    let key_pem = ca.minted.key_pem.clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("/certificate/register", b"{not json".to_vec(), "not valid JSON"),
        ("/certificate/register", b"[1,2]".to_vec(), "JSON object"),
        ("/certificate/register", json!({ "certificatePem": 7 }).to_string().into_bytes(), "must be a string"),
        ("/certificate/register-no-ca", json!({ "certificatePem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" }).to_string().into_bytes(), "certificatePem"),
        ("/certificate/register-no-ca", json!({ "certificatePem": key_pem }).to_string().into_bytes(), "where a CERTIFICATE is expected"),
        ("/certificate/register-no-ca", json!({ "certificatePem": "hello" }).to_string().into_bytes(), "is not PEM"),
        ("/certificate/register-no-ca", json!({}).to_string().into_bytes(), "certificatePem"),
        ("/certificates", json!({ "certificateSigningRequest": "junk" }).to_string().into_bytes(), "signing request"),
        ("/cacertificate", json!({ "caCertificate": ca.pem(), "certificateMode": "BOGUS" }).to_string().into_bytes(), "BOGUS"),
        ("/keys-and-certificate?setAsActive=maybe", Vec::new(), "true or false"),
        ("/certificate/register", vec![b' '; 1024 * 1024 + 10], "limit"),
    ];
    for (path, body, want) in cases {
        let answer = api.raw("POST", path, &[], body).await;
        assert!((400..500).contains(&answer.status), "{path}: {answer:?}");
        assert!(answer.error_type.is_some(), "{path}: {answer:?}");
        let msg = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(want),
            "{path}: '{msg}' should mention '{want}'"
        );
    }
    assert_eq!(count_certs(&api).await, 1);
    let msg = api
        .call(
            "PUT",
            &format!("/certificates/{}?newStatus=BOGUS", "a".repeat(64)),
            &[],
            None,
        )
        .await
        .err(400, "InvalidRequestException");
    assert!(msg.contains("BOGUS"));
    api.get("/certificates/abc")
        .await
        .err(400, "InvalidRequestException");
    api.call(
        "POST",
        &format!("/attached-policies/{}", label("not-an-arn")),
        &[],
        None,
    )
    .await
    .err(400, "InvalidRequestException");
}

#[tokio::test]
async fn unknown_routes_name_method_and_path() {
    let (_mock, api) = mock().await;
    let msg = api
        .get("/no/such/thing")
        .await
        .err(404, "UnknownOperationException");
    assert!(msg.contains("GET /no/such/thing"), "{msg}");
    api.call("PATCH", "/certificates", &[], None)
        .await
        .err(404, "UnknownOperationException");
}

//! Key and algorithm rules at registration: what AWS refuses is refused before it is stored;
//! what it accepts registers and connects.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_client::Version;
use serde_json::json;

#[tokio::test]
async fn an_rsa_1024_certificate_is_refused_at_registration() {
    let fleet = Fleet::new().await;
    let pem = include_str!("../../fixtures/certs/rsa1024.pem");
    let body = json!({ "certificatePem": pem, "status": "ACTIVE" });
    let msg = fleet
        .api
        .post("/certificate/register-no-ca", body)
        .await
        .err(400, "CertificateValidationException");
    assert!(msg.contains("1024 bits"), "{msg}");
    let listed = fleet.api.get("/certificates").await.ok();
    assert_eq!(
        listed["certificates"].as_array().map(Vec::len),
        Some(0),
        "never stored"
    );
}

#[tokio::test]
async fn p384_p521_and_rsa_keys_register_and_connect_over_tls_1_2_and_1_3() {
    let mut fleet = Fleet::new().await;
    let algs: [(&str, &'static rcgen::SignatureAlgorithm); 3] = [
        ("p384", &rcgen::PKCS_ECDSA_P384_SHA384),
        ("p521", &rcgen::PKCS_ECDSA_P521_SHA512),
        ("rsa", &rcgen::PKCS_RSA_SHA256),
    ];
    for (name, alg) in algs {
        let minted = fleet.ca.leaf_on(name, alg);
        let dev = fleet.register(minted, Some(ALLOW_ALL)).await;
        for tls12 in [false, true] {
            let mut tls = fleet.tls(&dev.minted);
            tls.tls12_only = tls12;
            let admitted = fleet
                .connect_with(tls, &format!("{name}-{tls12}"), Version::V311)
                .await;
            assert!(
                admitted.is_ok(),
                "{name} (TLS 1.2 only: {tls12}): {:?}",
                admitted.err()
            );
        }
    }
}

#[tokio::test]
async fn an_expired_verification_certificate_is_refused() {
    let fleet = Fleet::new().await;
    let ca = iotmock_testkit::TestCa::new("second CA");
    let code = fleet.api.get("/registrationcode").await.ok()["registrationCode"]
        .as_str()
        .expect("code")
        .to_string();
    let expired = ca.expired_leaf(&code);
    let body = json!({ "caCertificate": ca.pem(), "verificationCertificate": expired.cert_pem });
    let msg = fleet
        .api
        .post("/cacertificate?setAsActive=true", body)
        .await
        .err(400, "CertificateValidationException");
    assert!(msg.contains("verification certificate is expired"), "{msg}");
}

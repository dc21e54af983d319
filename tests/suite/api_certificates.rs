//! Registration codes, CA certificates and device certificates over HTTP.

use crate::support::{Api, REGION, mock};
use iotmock_pki::parse_certificate_pem;
use iotmock_testkit::{TestCa, csr, self_signed};
use serde_json::json;

#[tokio::test]
async fn ca_walkthrough_and_device_registration() {
    let (_mock, api) = mock().await;
    let code = api.get("/registrationcode").await.ok()["registrationCode"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 64);
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let ca = TestCa::new("walkthrough root");
    let ver = ca.verification_cert(&code);
    let out = api
        .post(
            "/cacertificate",
            json!({ "caCertificate": ca.pem(), "verificationCertificate": ver.cert_pem }),
        )
        .await
        .ok();
    let ca_id = out["certificateId"].as_str().unwrap();
    let ca_der = pem::parse(ca.pem()).unwrap().into_contents();
    assert_eq!(ca_id, iotmock_model::certificate_id(&ca_der));
    assert_eq!(
        out["certificateArn"],
        format!("arn:aws:iot:{REGION}:123456789012:cacert/{ca_id}")
    );

    let desc = api.get(&format!("/cacertificate/{ca_id}")).await.ok();
    let d = &desc["certificateDescription"];
    assert_eq!(
        (d["status"].as_str(), d["autoRegistrationStatus"].as_str()),
        (Some("INACTIVE"), Some("DISABLE"))
    );
    assert_eq!(d["certificateMode"], "DEFAULT");
    assert!(d["creationDate"].is_f64() || d["creationDate"].is_u64());
    assert!(
        d["validity"]["notAfter"].as_f64().unwrap() > d["validity"]["notBefore"].as_f64().unwrap()
    );

    let upd = api
        .call(
            "PUT",
            &format!("/cacertificate/{ca_id}?newStatus=ACTIVE&newAutoRegistrationStatus=ENABLE"),
            &[],
            None,
        )
        .await;
    assert_eq!(upd.status, 200);
    assert!(
        upd.raw.is_empty(),
        "empty-output operations answer with an empty body"
    );
    assert!(upd.request_id.is_some());
    let d = api.get(&format!("/cacertificate/{ca_id}")).await.ok();
    assert_eq!(d["certificateDescription"]["status"], "ACTIVE");
    assert_eq!(d["certificateDescription"]["customerVersion"], 2);

    let dev = ca.leaf("deviceHoge");
    let reg = api
        .post(
            "/certificate/register?setAsActive=true",
            json!({ "certificatePem": dev.cert_pem }),
        )
        .await
        .ok();
    let dev_id = reg["certificateId"].as_str().unwrap();
    let desc = api.get(&format!("/certificates/{dev_id}")).await.ok();
    let c = &desc["certificateDescription"];
    assert_eq!(
        (c["status"].as_str(), c["caCertificateId"].as_str()),
        (Some("ACTIVE"), Some(ca_id))
    );
    assert_eq!(c["transferData"], json!({}));
    assert_eq!(c["ownedBy"], "123456789012");

    let by_ca = api.get(&format!("/certificates-by-ca/{ca_id}")).await.ok();
    assert_eq!(by_ca["certificates"][0]["certificateId"], dev_id);
    let cas = api.get("/cacertificates").await.ok();
    assert_eq!(cas["certificates"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn registration_code_can_be_rotated() {
    let (_mock, api) = mock().await;
    let first = api.get("/registrationcode").await.ok()["registrationCode"].clone();
    assert_eq!(
        api.get("/registrationcode").await.ok()["registrationCode"],
        first
    );
    assert_eq!(
        api.call("DELETE", "/registrationcode", &[], None)
            .await
            .status,
        200
    );
    assert_ne!(
        api.get("/registrationcode").await.ok()["registrationCode"],
        first
    );
}

#[tokio::test]
async fn sni_only_ca_needs_no_verification_and_no_ca_registration_works() {
    let (_mock, api) = mock().await;
    let ca = TestCa::new("multi-account");
    let out = api
        .post(
            "/cacertificate",
            json!({ "caCertificate": ca.pem(), "certificateMode": "SNI_ONLY" }),
        )
        .await
        .ok();
    let d = api
        .get(&format!(
            "/cacertificate/{}",
            out["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(d["certificateDescription"]["certificateMode"], "SNI_ONLY");
    let leaf = self_signed("standalone");
    let reg = api
        .post(
            "/certificate/register-no-ca",
            json!({ "certificatePem": leaf.cert_pem, "status": "ACTIVE" }),
        )
        .await
        .ok();
    let d = api
        .get(&format!(
            "/certificates/{}",
            reg["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    let c = &d["certificateDescription"];
    assert_eq!(
        (c["certificateMode"].as_str(), c["status"].as_str()),
        (Some("SNI_ONLY"), Some("ACTIVE"))
    );
    assert!(c.get("caCertificateId").is_none());
}

#[tokio::test]
async fn aws_issued_certificates_chain_to_the_served_root_and_match_their_key() {
    let (_mock, api) = mock().await;
    let root_pem = String::from_utf8(api.get("/iotmock/AmazonRootCA1.pem").await.raw).unwrap();
    let root = parse_certificate_pem(&root_pem, "root").unwrap();
    let out = api
        .call("POST", "/keys-and-certificate?setAsActive=true", &[], None)
        .await
        .ok();
    let cert = parse_certificate_pem(out["certificatePem"].as_str().unwrap(), "cert").unwrap();
    assert!(cert.is_signed_by(&root));
    let private = pem::parse(out["keyPair"]["PrivateKey"].as_str().unwrap()).unwrap();
    assert_eq!(private.tag(), "RSA PRIVATE KEY");
    let key = aws_lc_rs::rsa::KeyPair::from_der(private.contents()).expect("PKCS#1 RSA key");
    assert_eq!(key.public_modulus_len(), 256, "RSA-2048");
    let public = pem::parse(out["keyPair"]["PublicKey"].as_str().unwrap()).unwrap();
    assert_eq!(public.contents(), cert.spki_raw.as_slice());
    let d = api
        .get(&format!(
            "/certificates/{}",
            out["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(d["certificateDescription"]["status"], "ACTIVE");

    let (csr_pem, _) = csr("sensor-1");
    let out = api
        .post(
            "/certificates",
            json!({ "certificateSigningRequest": csr_pem }),
        )
        .await
        .ok();
    let cert = parse_certificate_pem(out["certificatePem"].as_str().unwrap(), "cert").unwrap();
    assert!(cert.is_signed_by(&root));
    assert_eq!(cert.common_name.as_deref(), Some("sensor-1"));
    let d = api
        .get(&format!(
            "/certificates/{}",
            out["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(d["certificateDescription"]["status"], "INACTIVE");
}

#[tokio::test]
async fn certificate_status_updates_and_deletion() {
    let (_mock, api) = mock().await;
    let (id, _) = api.create_cert().await;
    for status in ["INACTIVE", "ACTIVE", "INACTIVE"] {
        assert_eq!(
            api.call(
                "PUT",
                &format!("/certificates/{id}?newStatus={status}"),
                &[],
                None
            )
            .await
            .status,
            200
        );
    }
    let d = api.get(&format!("/certificates/{id}")).await.ok();
    assert_eq!(d["certificateDescription"]["customerVersion"], 4);
    assert_eq!(
        api.call("DELETE", &format!("/certificates/{id}"), &[], None)
            .await
            .status,
        200
    );
    api.get(&format!("/certificates/{id}"))
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn listing_pages_with_markers_newest_first() {
    let (_mock, api) = mock().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(api.create_cert().await.0);
    }
    let mut seen = Vec::new();
    let mut dates = Vec::new();
    let mut path = "/certificates?pageSize=2".to_string();
    loop {
        let page = api.get(&path).await.ok();
        for c in page["certificates"].as_array().unwrap() {
            seen.push(c["certificateId"].as_str().unwrap().to_string());
            dates.push(c["creationDate"].as_f64().unwrap());
        }
        match page["nextMarker"].as_str() {
            Some(m) => {
                path = format!(
                    "/certificates?pageSize=2&marker={}",
                    crate::support::label(m)
                )
            }
            None => break,
        }
    }
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {dates:?}"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    ids.sort();
    assert_eq!(sorted, ids, "every certificate exactly once");
    let asc = api
        .get("/certificates?isAscendingOrder=true&pageSize=250")
        .await
        .ok();
    let asc_ids: Vec<_> = asc["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificateId"].as_str().unwrap().to_string())
        .collect();
    seen.reverse();
    assert_eq!(asc_ids, seen);
    assert!(asc.get("nextMarker").is_none());
}

#[tokio::test]
async fn delete_ca_requires_inactive_and_keeps_its_devices() {
    let (_mock, api) = mock().await;
    let ca = TestCa::new("to delete");
    let ca_id = api.register_ca(&ca, true).await;
    let dev = api
        .post(
            "/certificate/register",
            json!({ "certificatePem": ca.leaf("d").cert_pem }),
        )
        .await
        .ok();
    api.call("DELETE", &format!("/cacertificate/{ca_id}"), &[], None)
        .await
        .err(406, "CertificateStateException");
    api.call(
        "PUT",
        &format!("/cacertificate/{ca_id}?newStatus=INACTIVE"),
        &[],
        None,
    )
    .await
    .ok();
    assert_eq!(
        api.call("DELETE", &format!("/cacertificate/{ca_id}"), &[], None)
            .await
            .status,
        200
    );
    api.get(&format!("/cacertificate/{ca_id}"))
        .await
        .err(404, "ResourceNotFoundException");
    let d = api
        .get(&format!(
            "/certificates/{}",
            dev["certificateId"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(d["certificateDescription"]["caCertificateId"], ca_id);
}

#[tokio::test]
async fn resources_are_scoped_to_the_region_of_the_request() {
    let (_mock, api) = mock().await;
    let (id, arn) = api.create_cert().await;
    assert!(arn.starts_with(&format!("arn:aws:iot:{REGION}:")));
    let other = Api::new(api.addr, "eu-west-1");
    other
        .get(&format!("/certificates/{id}"))
        .await
        .err(404, "ResourceNotFoundException");
    assert_ne!(
        other.get("/registrationcode").await.ok()["registrationCode"],
        api.get("/registrationcode").await.ok()["registrationCode"]
    );
}

#[tokio::test]
async fn a_p521_csr_is_signed_and_an_rsa_1024_csr_refused() {
    let (_mock, api) = mock().await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "p521-device");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let out = api
        .post("/certificates", json!({ "certificateSigningRequest": csr }))
        .await
        .ok();
    let cert = parse_certificate_pem(out["certificatePem"].as_str().unwrap(), "cert").unwrap();
    assert_eq!(cert.common_name.as_deref(), Some("p521-device"));
    let small = include_str!("../../fixtures/certs/rsa1024.csr");
    let why = api
        .post(
            "/certificates",
            json!({ "certificateSigningRequest": small }),
        )
        .await
        .err(400, "InvalidRequestException");
    assert!(why.contains("1024 bits"), "{why}");
}

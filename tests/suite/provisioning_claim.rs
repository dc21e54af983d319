//! Fleet provisioning by trusted user: CreateProvisioningClaim's certificate connects, may
//! use only its template's provisioning topics, stays out of ListCertificates and stops
//! working after 5 minutes.

use crate::mqtt::{Fleet, assert_refused};
use crate::provisioning::{TEMPLATE, ask, template};
use iotmock_client::{TlsOptions, Version};
use serde_json::json;

#[tokio::test]
async fn a_claim_from_a_trusted_user_provisions_a_device_for_five_minutes() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let fleet = Fleet::on(mock).await;
    fleet
        .api
        .post("/provisioning-templates/none/provisioning-claim", json!({}))
        .await
        .err(404, "ResourceNotFoundException");
    template(&fleet, "fleet", TEMPLATE).await;
    let claim = fleet
        .api
        .post(
            "/provisioning-templates/fleet/provisioning-claim",
            json!({}),
        )
        .await
        .ok();
    let id = claim["certificateId"].as_str().unwrap().to_string();
    assert!(claim["expiration"].as_f64().is_some(), "{claim}");
    let listed = fleet.api.get("/certificates").await.ok();
    let ids: Vec<&str> = listed["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["certificateId"].as_str())
        .collect();
    assert!(!ids.contains(&id.as_str()), "claims are not listed");
    let tls = || {
        TlsOptions::new(fleet.mock.root_ca_pem()).identity(
            claim["certificatePem"].as_str().unwrap().to_string(),
            claim["keyPair"]["PrivateKey"].as_str().unwrap().to_string(),
        )
    };
    let (mut c, _) = fleet
        .connect_with(tls(), "factory", Version::V5)
        .await
        .unwrap();
    let create = "$aws/certificates/create/json";
    let provision = "$aws/provisioning-templates/fleet/provision/json";
    c.subscribe(&[(&format!("{create}/+"), 1), (&format!("{provision}/+"), 1)])
        .await
        .unwrap();
    let refused = c.subscribe(&[("elsewhere/#", 1)]).await.unwrap();
    assert_eq!(refused, vec![0x87], "only its template's topics");
    let (ok, keys) = ask(&mut c, "json", create, &json!({})).await;
    assert!(ok, "{keys}");
    let register = json!({ "certificateOwnershipToken": keys["certificateOwnershipToken"], "parameters": {"SerialNumber": "7"} });
    let (ok, done) = ask(&mut c, "json", provision, &register).await;
    assert!(ok, "{done}");
    assert_eq!(done["thingName"], "sensor-7");
    clock.advance(std::time::Duration::from_secs(301));
    assert_refused(
        fleet.connect_with(tls(), "late", Version::V5).await,
        Version::V5,
    );
}

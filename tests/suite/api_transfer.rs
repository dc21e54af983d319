//! Certificate transfer between two accounts of one mock: the rules on the source, accept,
//! reject and cancel, and a device whose certificate left and came back.

use crate::mqtt::{ALLOW_ALL, Fleet, assert_refused};
use crate::support::Api;
use iotmock_client::Version;
use serde_json::{Value, json};

const OTHER: &str = "111122223333";
const DEFAULT: &str = "123456789012";

async fn describe(api: &Api, id: &str) -> Value {
    api.get(&format!("/certificates/{id}")).await.ok()["certificateDescription"].clone()
}

async fn patch(api: &Api, path: &str, body: Option<Value>) -> crate::support::Answer {
    api.call("PATCH", path, &[], body).await
}

async fn transfer(api: &Api, id: &str, to: &str) -> crate::support::Answer {
    let body = json!({ "transferMessage": "yours now" });
    patch(
        api,
        &format!("/transfer-certificate/{id}?targetAwsAccount={to}"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn transfer_refuses_active_attached_and_bad_targets() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("transfer-rules", None).await;
    let api = &fleet.api;
    transfer(api, &dev.id, OTHER)
        .await
        .err(406, "CertificateStateException");
    fleet.set_status(&dev, "INACTIVE").await;
    let policy = fleet.attach(&dev, ALLOW_ALL).await;
    let msg = transfer(&fleet.api, &dev.id, OTHER)
        .await
        .err(409, "TransferConflictException");
    assert!(msg.contains("policies are still attached"), "{msg}");
    let target = json!({ "target": dev.arn });
    let detach = format!("/target-policies/{policy}");
    fleet.api.post(&detach, target).await.ok();
    for bad in ["1234", DEFAULT] {
        transfer(&fleet.api, &dev.id, bad)
            .await
            .err(400, "InvalidRequestException");
    }
    let out = transfer(&fleet.api, &dev.id, OTHER).await.ok();
    assert_eq!(out["transferredCertificateArn"], json!(dev.arn));
    let d = describe(&fleet.api, &dev.id).await;
    assert_eq!(d["status"], "PENDING_TRANSFER");
    assert_eq!(d["transferData"]["transferMessage"], "yours now");
    assert!(d["transferData"]["transferDate"].is_f64(), "{d}");
    let other = fleet.api.with_access_key(OTHER);
    let listed = other.get("/certificates").await.ok();
    let offered: Vec<&Value> = listed["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        offered.len(),
        1,
        "the target lists what it is offered: {listed}"
    );
    assert_eq!(offered[0]["status"], "PENDING_TRANSFER");
    assert_eq!(offered[0]["certificateArn"], json!(dev.arn));
    assert_eq!(describe(&other, &dev.id).await["ownedBy"], DEFAULT);
    let update = format!("/certificates/{}?newStatus=ACTIVE", dev.id);
    let api = &fleet.api;
    api.call("PUT", &update, &[], None)
        .await
        .err(406, "CertificateStateException");
    api.call("DELETE", &format!("/certificates/{}", dev.id), &[], None)
        .await
        .err(406, "CertificateStateException");
    patch(
        api,
        &format!("/accept-certificate-transfer/{}", dev.id),
        None,
    )
    .await
    .err(400, "InvalidRequestException");
}

#[tokio::test]
async fn cancel_and_reject_return_the_certificate_inactive() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("transfer-back", None).await;
    fleet.set_status(&dev, "INACTIVE").await;
    let (api, other) = (&fleet.api, fleet.api.with_access_key(OTHER));
    transfer(api, &dev.id, OTHER).await.ok();
    patch(
        api,
        &format!("/cancel-certificate-transfer/{}", dev.id),
        None,
    )
    .await
    .ok();
    assert_eq!(describe(api, &dev.id).await["status"], "INACTIVE");
    patch(
        api,
        &format!("/cancel-certificate-transfer/{}", dev.id),
        None,
    )
    .await
    .err(400, "InvalidRequestException");

    transfer(api, &dev.id, OTHER).await.ok();
    let reason = json!({ "rejectReason": "not ours" });
    let reject = format!("/reject-certificate-transfer/{}", dev.id);
    patch(&other, &reject, Some(reason)).await.ok();
    let d = describe(api, &dev.id).await;
    assert_eq!(d["status"], "INACTIVE");
    assert_eq!(d["transferData"]["rejectReason"], "not ours");
    assert!(d["transferData"]["rejectDate"].is_f64(), "{d}");
    patch(&other, &reject, None)
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn an_accepted_certificate_moves_and_a_returned_one_connects_again() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("transfer-accept", Some(ALLOW_ALL)).await;
    fleet.client(&dev, "before", Version::V5).await;
    fleet.set_status(&dev, "INACTIVE").await;
    let detach = json!({ "target": dev.arn });
    fleet
        .api
        .post("/target-policies/policy-1", detach)
        .await
        .ok();
    let (api, other) = (&fleet.api, fleet.api.with_access_key(OTHER));
    transfer(api, &dev.id, OTHER).await.ok();
    // Attached while the transfer is pending: it does not outlive the transfer here.
    let attach = json!({ "target": dev.arn });
    api.call("PUT", "/target-policies/policy-1", &[], Some(attach))
        .await
        .ok();
    let accept = format!("/accept-certificate-transfer/{}?setAsActive=true", dev.id);
    patch(&other, &accept, None).await.ok();
    let targets = api.post("/policy-targets/policy-1", json!({})).await.ok();
    assert_eq!(targets["targets"], json!([]), "{targets}");

    let moved = describe(&other, &dev.id).await;
    assert_eq!(moved["status"], "ACTIVE");
    assert_eq!(moved["ownedBy"], OTHER);
    assert_eq!(moved["previousOwnedBy"], DEFAULT);
    assert!(
        moved["certificateArn"]
            .as_str()
            .is_some_and(|a| a.contains(OTHER))
    );
    assert!(moved["transferData"]["acceptDate"].is_f64(), "{moved}");
    api.get(&format!("/certificates/{}", dev.id))
        .await
        .err(404, "ResourceNotFoundException");
    let cancel = format!("/cancel-certificate-transfer/{}", dev.id);
    patch(api, &cancel, None)
        .await
        .err(410, "TransferAlreadyCompletedException");
    patch(&other, &accept, None)
        .await
        .err(410, "TransferAlreadyCompletedException");
    assert_refused(
        fleet.connect(&dev, "elsewhere", Version::V5).await,
        Version::V5,
    );

    let update = format!("/certificates/{}?newStatus=INACTIVE", dev.id);
    other.call("PUT", &update, &[], None).await.ok();
    transfer(&other, &dev.id, DEFAULT).await.ok();
    let home = format!("/accept-certificate-transfer/{}?setAsActive=true", dev.id);
    patch(api, &home, None).await.ok();
    assert_eq!(describe(api, &dev.id).await["previousOwnedBy"], OTHER);
    fleet.attach(&dev, ALLOW_ALL).await;
    fleet.client(&dev, "after", Version::V5).await;
}

//! Job retry and abort configurations over real sockets: the device fails its execution over
//! MQTT and hears the next attempt through notify-next; the control plane shows every attempt.

use crate::mqtt::{ALLOW_ALL, BOTH, Fleet, next_on};
use serde_json::json;

#[tokio::test]
async fn a_failed_execution_comes_back_as_the_next_attempt_on_both_versions() {
    let mut fleet = Fleet::new().await;
    let bad = json!({ "targets": ["x"], "document": "{}",
        "jobExecutionsRetryConfig": { "criteriaList": [{ "failureType": "FAILED", "numberOfRetries": 11 }] } });
    let refused = fleet.api.call("PUT", "/jobs/bad", &[], Some(bad)).await;
    refused.err(400, "InvalidRequestException");
    for v in BOTH {
        let name = format!("valve-{v:?}");
        let arn = fleet
            .api
            .post(&format!("/things/{name}"), json!({}))
            .await
            .ok()["thingArn"]
            .clone();
        let dev = fleet.device(&name, Some(ALLOW_ALL)).await;
        let mut c = fleet.client(&dev, &name, v).await;
        let p = format!("$aws/things/{name}/jobs");
        c.subscribe(&[(&format!("{p}/notify-next"), 1)])
            .await
            .unwrap();
        let job = format!("flaky-{v:?}");
        let body = json!({ "targets": [arn], "document": "{}",
            "jobExecutionsRetryConfig": { "criteriaList": [{ "failureType": "FAILED", "numberOfRetries": 1 }] } });
        let path = format!("/jobs/{job}");
        fleet.api.call("PUT", &path, &[], Some(body)).await.ok();
        let first = next_on(&mut c, &format!("{p}/notify-next")).await;
        assert_eq!(first["execution"]["executionNumber"], 1);
        let update = format!("{p}/{job}/update");
        c.publish(&update, r#"{"status":"FAILED"}"#, 1, false)
            .await
            .unwrap();
        let second = next_on(&mut c, &format!("{p}/notify-next")).await;
        assert_eq!(second["execution"]["jobId"], job.as_str());
        assert_eq!(second["execution"]["executionNumber"], 2);
        assert_eq!(second["execution"]["status"], "QUEUED");
        let described = fleet.api.get(&path).await.ok();
        assert_eq!(
            described["job"]["jobExecutionsRetryConfig"]["criteriaList"][0]["numberOfRetries"],
            1
        );
        let things = fleet.api.get(&format!("/things/{name}/jobs")).await.ok();
        let summary = &things["executionSummaries"][0]["jobExecutionSummary"];
        assert_eq!(
            (
                summary["executionNumber"].clone(),
                summary["retryAttempt"].clone()
            ),
            (json!(2), json!(1))
        );
        let old = fleet
            .api
            .get(&format!("/things/{name}/jobs/{job}?executionNumber=1"))
            .await
            .ok();
        assert_eq!(old["execution"]["status"], "FAILED");
    }
}

//! Job configurations over real sockets (retry, scheduling, rollout, presigned URLs): the
//! device drives its executions over MQTT and hears what changes through notify-next; the
//! control plane shows every configuration and attempt.

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

/// `YYYY-MM-DDTHH:MM` of `ms`, rounded up to the next minute.
fn minute_after(ms: i64) -> String {
    let mins = ms.div_euclid(60_000) + 1;
    let (y, m, d) = iotmock_model::civil_from_days(mins.div_euclid(1440));
    let (h, min) = (mins.rem_euclid(1440) / 60, mins.rem_euclid(60));
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}")
}

#[tokio::test]
async fn a_scheduled_job_starts_on_the_clock_and_a_rollout_paces_it() {
    use iotmock_model::Clock as _;
    let (mock, clock) = crate::support::clocked_mock().await;
    let mut fleet = Fleet::on(mock).await;
    let mut arns = Vec::new();
    for i in 0..3 {
        let r = fleet.api.post(&format!("/things/door{i}"), json!({})).await;
        arns.push(r.ok()["thingArn"].clone());
    }
    let dev = fleet.device("door0", Some(ALLOW_ALL)).await;
    let mut c = fleet
        .client(&dev, "door0", iotmock_client::Version::V5)
        .await;
    let p = "$aws/things/door0/jobs";
    c.subscribe(&[(&format!("{p}/notify-next"), 1)])
        .await
        .unwrap();
    let soon = minute_after(clock.now_millis());
    let too_soon =
        json!({ "targets": arns, "document": "{}", "schedulingConfig": { "startTime": soon } });
    let refused = fleet
        .api
        .call("PUT", "/jobs/early", &[], Some(too_soon))
        .await;
    refused.err(400, "InvalidRequestException");
    let start = minute_after(clock.now_millis() + 30 * 60_000);
    let body = json!({ "targets": arns, "document": "{}",
        "schedulingConfig": { "startTime": start, "endBehavior": "STOP_ROLLOUT" },
        "jobExecutionsRolloutConfig": { "maximumPerMinute": 2 } });
    fleet
        .api
        .call("PUT", "/jobs/later", &[], Some(body))
        .await
        .ok();
    let job = fleet.api.get("/jobs/later").await.ok();
    assert_eq!(job["job"]["status"], "SCHEDULED");
    assert_eq!(job["job"]["schedulingConfig"]["startTime"], start.as_str());
    assert_eq!(
        job["job"]["jobExecutionsRolloutConfig"]["maximumPerMinute"],
        2
    );
    clock.advance(std::time::Duration::from_secs(32 * 60));
    let next = next_on(&mut c, &format!("{p}/notify-next")).await;
    assert_eq!(next["execution"]["jobId"], "later");
    let job = fleet.api.get("/jobs/later").await.ok();
    assert_eq!(job["job"]["status"], "IN_PROGRESS");
    assert_eq!(
        job["job"]["jobProcessDetails"]["numberOfQueuedThings"], 2,
        "two things in the first minute"
    );
}

#[tokio::test]
async fn presigned_url_placeholders_reach_the_device_signed() {
    let mock = iotmock::MockIotCore::builder()
        .aws_endpoint_url("http://127.0.0.1:4566")
        .start()
        .await
        .unwrap();
    let mut fleet = Fleet::on(mock).await;
    let arn = fleet.api.post("/things/ota", json!({})).await.ok()["thingArn"].clone();
    let dev = fleet.device("ota", Some(ALLOW_ALL)).await;
    let mut c = fleet
        .client(&dev, "ota", iotmock_client::Version::V311)
        .await;
    let p = "$aws/things/ota/jobs";
    c.subscribe(&[(&format!("{p}/notify-next"), 1)])
        .await
        .unwrap();
    let doc =
        json!({ "url": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/v2.bin}" });
    let body = json!({ "targets": [arn], "document": doc.to_string(),
        "presignedUrlConfig": { "roleArn": "arn:aws:iam::123456789012:role/ota", "expiresInSec": 120 } });
    fleet
        .api
        .call("PUT", "/jobs/ota-1", &[], Some(body))
        .await
        .ok();
    let next = next_on(&mut c, &format!("{p}/notify-next")).await;
    let url = next["execution"]["jobDocument"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:4566/firmware/v2.bin?"),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-Expires=120") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    let got = fleet.api.get("/jobs/ota-1/job-document").await.ok();
    assert!(
        got["document"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature=")
    );
}

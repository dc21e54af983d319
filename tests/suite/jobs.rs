//! Jobs over real sockets: the control plane creates and cancels, the device drives its
//! executions over MQTT (answers reach only the requester, subscribed or not), and notify /
//! notify-next reach subscribers.

use crate::mqtt::{ALLOW_ALL, BOTH, Fleet, next_on};
use iotmock_client::{DeviceClient, Version};
use serde_json::{Value, json};

/// A registered thing and a device connected as it; returns the thing ARN.
async fn thing(fleet: &mut Fleet, name: &str, v: Version) -> (String, DeviceClient) {
    let arn = fleet
        .api
        .post(&format!("/things/{name}"), json!({}))
        .await
        .ok()["thingArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let dev = fleet.device(name, Some(ALLOW_ALL)).await;
    (arn, fleet.client(&dev, name, v).await)
}

async fn create_job(fleet: &Fleet, id: &str, targets: &[&str]) -> Value {
    let doc = json!({"operation": "reboot"}).to_string();
    let body = json!({ "targets": targets, "document": doc });
    fleet
        .api
        .call("PUT", &format!("/jobs/{id}"), &[], Some(body))
        .await
        .ok()
}

#[tokio::test]
async fn a_job_from_creation_to_succeeded_on_both_versions() {
    let mut fleet = Fleet::new().await;
    for v in BOTH {
        let name = format!("pump-{v:?}");
        let (arn, mut c) = thing(&mut fleet, &name, v).await;
        let p = format!("$aws/things/{name}/jobs");
        c.subscribe(&[
            (&format!("{p}/notify-next"), 1),
            (&format!("{p}/notify"), 1),
        ])
        .await
        .expect("suback");
        let job = format!("job-{v:?}");
        let created = create_job(&fleet, &job, &[&arn]).await;
        assert_eq!(created["jobId"], job.as_str());
        let next = next_on(&mut c, &format!("{p}/notify-next")).await;
        assert_eq!(
            next["execution"]["jobDocument"],
            json!({"operation": "reboot"})
        );
        assert_eq!(next["execution"]["status"], "QUEUED");

        c.publish(
            &format!("{p}/start-next"),
            r#"{"clientToken":"s1"}"#,
            1,
            false,
        )
        .await
        .expect("puback");
        let started = next_on(&mut c, &format!("{p}/start-next/accepted")).await;
        assert_eq!(
            (
                started["clientToken"].clone(),
                started["execution"]["status"].clone()
            ),
            (json!("s1"), json!("IN_PROGRESS"))
        );
        assert_eq!(started["execution"]["versionNumber"], 2);
        assert!(
            started["timestamp"]
                .as_i64()
                .is_some_and(|t| t < 10_000_000_000),
            "epoch seconds"
        );

        let done = json!({"status":"SUCCEEDED","expectedVersion":"2","includeJobExecutionState":true,"clientToken":"u1"});
        c.publish(&format!("{p}/{job}/update"), done.to_string(), 1, false)
            .await
            .expect("puback");
        let accepted = next_on(&mut c, &format!("{p}/{job}/update/accepted")).await;
        assert_eq!(accepted["executionState"]["status"], "SUCCEEDED");
        let described = fleet.api.get(&format!("/jobs/{job}")).await.ok();
        assert_eq!(described["job"]["status"], "COMPLETED");
        assert_eq!(
            described["job"]["jobProcessDetails"]["numberOfSucceededThings"],
            1
        );
        let listed = fleet.api.get(&format!("/things/{name}/jobs")).await.ok();
        assert_eq!(
            listed["executionSummaries"][0]["jobExecutionSummary"]["status"],
            "SUCCEEDED"
        );

        c.publish(
            &format!("{p}/{job}/update"),
            r#"{"status":"FAILED"}"#,
            1,
            false,
        )
        .await
        .expect("puback");
        let rejected = next_on(&mut c, &format!("{p}/{job}/update/rejected")).await;
        assert_eq!(rejected["code"], "InvalidStateTransition");
        assert_eq!(rejected["executionState"]["status"], "SUCCEEDED");
    }
}

#[tokio::test]
async fn cancel_reaches_the_device_and_answers_go_only_to_the_requester() {
    let mut fleet = Fleet::new().await;
    let (arn, mut c) = thing(&mut fleet, "valve", Version::V311).await;
    let dev = fleet.device("bystander", Some(ALLOW_ALL)).await;
    let mut quiet = fleet.options("bystander", Version::V5);
    quiet.timeout = std::time::Duration::from_millis(300);
    let tls = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    let (mut other, _) = DeviceClient::connect(tls, &quiet).await.expect("admitted");
    other
        .subscribe(&[("$aws/things/valve/jobs/#", 1)])
        .await
        .expect("suback");
    create_job(&fleet, "open", &[&arn]).await;
    let p = "$aws/things/valve/jobs";
    c.publish(&format!("{p}/start-next"), "", 1, false)
        .await
        .expect("puback");
    next_on(&mut c, &format!("{p}/start-next/accepted")).await;
    let cancel = fleet
        .api
        .call(
            "PUT",
            "/jobs/open/cancel?force=true",
            &[],
            Some(json!({"comment":"stop"})),
        )
        .await
        .ok();
    assert_eq!(cancel["jobId"], "open");
    c.publish(
        &format!("{p}/open/update"),
        r#"{"status":"SUCCEEDED"}"#,
        1,
        false,
    )
    .await
    .expect("puback");
    let rejected = next_on(&mut c, &format!("{p}/open/update/rejected")).await;
    assert_eq!(rejected["executionState"]["status"], "CANCELED");
    let execution = fleet.api.get("/things/valve/jobs/open").await.ok();
    assert_eq!(
        (
            execution["execution"]["status"].clone(),
            execution["execution"]["forceCanceled"].clone()
        ),
        (json!("CANCELED"), json!(true))
    );
    while let Ok(m) = other.next_message().await {
        let answer = m.topic.ends_with("/accepted") || m.topic.ends_with("/rejected");
        assert!(!answer, "{} reached a bystander", m.topic);
    }
    let missing = fleet
        .api
        .call(
            "PUT",
            "/jobs/nope",
            &[],
            Some(json!({"targets":["arn:aws:iot:x:1:thing/ghost"],"document":"{}"})),
        )
        .await;
    missing.err(404, "ResourceNotFoundException");
    let source = fleet
        .api
        .call(
            "PUT",
            "/jobs/s3",
            &[],
            Some(json!({"targets":[arn],"documentSource":"https://x/y"})),
        )
        .await;
    source.err(400, "InvalidRequestException");
}

#[tokio::test]
async fn an_in_progress_timeout_driven_by_the_test_clock() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let mut fleet = Fleet::on(mock).await;
    let (arn, mut c) = thing(&mut fleet, "slow", Version::V5).await;
    let p = "$aws/things/slow/jobs";
    c.subscribe(&[(&format!("{p}/notify"), 1)])
        .await
        .expect("suback");
    let body = json!({ "targets": [arn], "document": "{}", "timeoutConfig": { "inProgressTimeoutInMinutes": 1 } });
    fleet
        .api
        .call("PUT", "/jobs/slowjob", &[], Some(body))
        .await
        .ok();
    next_on(&mut c, &format!("{p}/notify")).await;
    c.publish(&format!("{p}/start-next"), "{}", 1, false)
        .await
        .expect("puback");
    let started = next_on(&mut c, &format!("{p}/start-next/accepted")).await;
    assert_eq!(started["execution"]["approximateSecondsBeforeTimedOut"], 60);
    clock.advance(std::time::Duration::from_secs(61));
    let emptied = next_on(&mut c, &format!("{p}/notify")).await;
    assert_eq!(
        emptied["jobs"],
        json!({}),
        "the timed-out execution left the pending set"
    );
    let execution = fleet.api.get("/things/slow/jobs/slowjob").await.ok();
    assert_eq!(execution["execution"]["status"], "TIMED_OUT");
    let job = fleet.api.get("/jobs/slowjob").await.ok();
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfTimedOutThings"], 1);
}

#[tokio::test]
async fn the_http_device_plane_shares_paths_with_the_control_plane() {
    let mut fleet = Fleet::new().await;
    let (arn, mut c) = thing(&mut fleet, "gate", Version::V311).await;
    c.subscribe(&[("$aws/things/gate/jobs/notify-next", 1)])
        .await
        .expect("suback");
    create_job(&fleet, "lift", &[&arn]).await;
    next_on(&mut c, "$aws/things/gate/jobs/notify-next").await;
    let data = fleet.api.signed_for("iot-jobs-data");
    let pending = data.get("/things/gate/jobs").await.ok();
    assert_eq!(pending["queuedJobs"][0]["jobId"], "lift");
    let control = fleet.api.get("/things/gate/jobs").await.ok();
    assert_eq!(
        control["executionSummaries"][0]["jobId"], "lift",
        "the same path, signed for iot"
    );
    let started = data
        .call("PUT", "/things/gate/jobs/%24next", &[], Some(json!({})))
        .await
        .ok();
    assert_eq!(started["execution"]["status"], "IN_PROGRESS");
    assert_eq!(
        started["execution"]["jobDocument"],
        json!({"operation": "reboot"}).to_string(),
        "a string over HTTP"
    );
    assert_eq!(started["execution"]["thingName"], "gate");
    let described = data.get("/things/gate/jobs/lift").await.ok();
    assert_eq!(described["execution"]["versionNumber"], 2);
    let done = json!({"status":"SUCCEEDED","expectedVersion":2,"includeJobExecutionState":true});
    let updated = data.post("/things/gate/jobs/lift", done).await.ok();
    assert_eq!(updated["executionState"]["status"], "SUCCEEDED");
    let next = next_on(&mut c, "$aws/things/gate/jobs/notify-next").await;
    assert!(
        next.get("execution").is_none(),
        "MQTT subscribers hear about HTTP changes"
    );
    let again = data
        .post("/things/gate/jobs/lift", json!({"status":"FAILED"}))
        .await;
    again.err(409, "InvalidStateTransitionException");
}

#[tokio::test]
async fn a_continuous_job_reaches_a_thing_added_to_its_group_later() {
    let mut fleet = Fleet::new().await;
    let api = &fleet.api;
    let group = api
        .post(
            "/thing-groups/fleet-a",
            json!({"thingGroupProperties":{"thingGroupDescription":"pumps"}}),
        )
        .await
        .ok();
    let group_arn = group["thingGroupArn"].as_str().expect("arn").to_string();
    assert_eq!(
        api.get("/thing-groups/fleet-a").await.ok()["thingGroupProperties"]["thingGroupDescription"],
        "pumps"
    );
    let (_, mut first) = thing(&mut fleet, "member-1", Version::V5).await;
    let (_, mut late) = thing(&mut fleet, "member-2", Version::V311).await;
    let api = &fleet.api;
    let add = |t: &str| json!({ "thingGroupName": "fleet-a", "thingName": t });
    api.call(
        "PUT",
        "/thing-groups/addThingToThingGroup",
        &[],
        Some(add("member-1")),
    )
    .await
    .ok();
    let body = json!({ "targets": [group_arn], "document": "{}", "targetSelection": "CONTINUOUS" });
    api.call("PUT", "/jobs/rollout", &[], Some(body)).await.ok();
    first
        .publish("$aws/things/member-1/jobs/get", "{}", 1, false)
        .await
        .expect("puback");
    let pending = next_on(&mut first, "$aws/things/member-1/jobs/get/accepted").await;
    assert_eq!(pending["queuedJobs"][0]["jobId"], "rollout");

    late.subscribe(&[("$aws/things/member-2/jobs/notify-next", 1)])
        .await
        .expect("suback");
    api.call(
        "PUT",
        "/thing-groups/addThingToThingGroup",
        &[],
        Some(add("member-2")),
    )
    .await
    .ok();
    let next = next_on(&mut late, "$aws/things/member-2/jobs/notify-next").await;
    assert_eq!(
        next["execution"]["jobId"], "rollout",
        "a later member gets the CONTINUOUS job"
    );
    let members = api.get("/thing-groups/fleet-a/things").await.ok();
    assert_eq!(members["things"], json!(["member-1", "member-2"]));
    let groups = api.get("/things/member-2/thing-groups").await.ok();
    assert_eq!(groups["thingGroups"][0]["groupName"], "fleet-a");

    api.call(
        "PUT",
        "/thing-groups/removeThingFromThingGroup",
        &[],
        Some(add("member-2")),
    )
    .await
    .ok();
    let gone = next_on(&mut late, "$aws/things/member-2/jobs/notify-next").await;
    assert!(
        gone.get("execution").is_none(),
        "leaving the group removes the execution"
    );
    let execution = api.get("/things/member-2/jobs/rollout").await.ok();
    assert_eq!(execution["execution"]["status"], "REMOVED");
    assert_eq!(
        api.get("/jobs/rollout").await.ok()["job"]["status"],
        "IN_PROGRESS",
        "CONTINUOUS jobs stay open"
    );
}

#[tokio::test]
async fn jobs_and_executions_survive_a_restart_on_a_state_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mock = iotmock::MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .expect("starts");
    let mut fleet = Fleet::on(mock).await;
    let (arn, mut c) = thing(&mut fleet, "keeper", Version::V5).await;
    create_job(&fleet, "durable", &[&arn]).await;
    c.publish("$aws/things/keeper/jobs/start-next", "{}", 1, false)
        .await
        .expect("puback");
    next_on(&mut c, "$aws/things/keeper/jobs/start-next/accepted").await;
    let Fleet { mock, .. } = fleet;
    mock.shutdown().await;
    let mock = iotmock::MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .expect("restarts");
    let api = crate::support::Api::new(mock.api_addr(), crate::support::REGION);
    let e = api.get("/things/keeper/jobs/durable").await.ok();
    assert_eq!(
        (
            e["execution"]["status"].clone(),
            e["execution"]["versionNumber"].clone()
        ),
        (json!("IN_PROGRESS"), json!(2))
    );
    assert_eq!(
        api.get("/jobs/durable").await.ok()["job"]["status"],
        "IN_PROGRESS"
    );
}

#[tokio::test]
async fn update_job_and_delete_execution() {
    let mut fleet = Fleet::new().await;
    let (arn, mut c) = thing(&mut fleet, "lamp9", Version::V5).await;
    create_job(&fleet, "edit", &[&arn]).await;
    let api = &fleet.api;
    let patch =
        json!({"description": "new words", "timeoutConfig": {"inProgressTimeoutInMinutes": 5}});
    assert_eq!(
        api.call("PATCH", "/jobs/edit", &[], Some(patch))
            .await
            .status,
        200
    );
    let job = api.get("/jobs/edit").await.ok();
    assert_eq!(
        (
            job["job"]["description"].clone(),
            job["job"]["timeoutConfig"]["inProgressTimeoutInMinutes"].clone()
        ),
        (json!("new words"), json!(5))
    );
    let busy = api
        .call(
            "DELETE",
            "/things/lamp9/jobs/edit/executionNumber/1",
            &[],
            None,
        )
        .await;
    busy.err(409, "InvalidStateTransitionException");
    c.subscribe(&[("$aws/things/lamp9/jobs/notify", 1)])
        .await
        .expect("suback");
    let forced = api
        .call(
            "DELETE",
            "/things/lamp9/jobs/edit/executionNumber/1?force=true",
            &[],
            None,
        )
        .await;
    assert_eq!(forced.status, 200, "{forced:?}");
    let notify = next_on(&mut c, "$aws/things/lamp9/jobs/notify").await;
    assert_eq!(notify["jobs"], json!({}));
    api.get("/things/lamp9/jobs/edit")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn execution_numbers_and_timeouts_are_checked() {
    let mut fleet = Fleet::new().await;
    let (arn, mut c) = thing(&mut fleet, "valve", Version::V5).await;
    create_job(&fleet, "calibrate", &[&arn]).await;
    let p = "$aws/things/valve/jobs/calibrate";
    c.publish(&format!("{p}/get"), r#"{"executionNumber":1}"#, 1, false)
        .await
        .expect("puback");
    let found = next_on(&mut c, &format!("{p}/get/accepted")).await;
    assert_eq!(found["execution"]["executionNumber"], 1);
    c.publish(&format!("{p}/get"), r#"{"executionNumber":2}"#, 1, false)
        .await
        .expect("puback");
    let missing = next_on(&mut c, &format!("{p}/get/rejected")).await;
    assert_eq!(missing["code"], "ResourceNotFound");
    let update = r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":20000}"#;
    c.publish(&format!("{p}/update"), update, 1, false)
        .await
        .expect("puback");
    let refused = next_on(&mut c, &format!("{p}/update/rejected")).await;
    assert_eq!(refused["code"], "InvalidRequest");
    let body = json!({ "targets": [arn], "document": "{}", "timeoutConfig": { "inProgressTimeoutInMinutes": 0 } });
    fleet
        .api
        .call("PUT", "/jobs/too-short", &[], Some(body))
        .await
        .err(400, "InvalidRequestException");
}

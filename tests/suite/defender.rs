//! Device Defender metrics reports over MQTT, and ListMetricValues over the API.

use crate::mqtt::{ALLOW_ALL, Fleet, next_on};
use iotmock_client::Version;
use serde_json::json;

#[tokio::test]
async fn a_metrics_report_is_answered_and_its_values_listed() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "sensor-9", Version::V5).await;
    let base = "$aws/things/sensor-9/defender/metrics/json";
    let accepted = format!("{base}/accepted");
    let rejected = format!("{base}/rejected");
    c.subscribe(&[(accepted.as_str(), 1), (rejected.as_str(), 1)])
        .await
        .unwrap();
    let report = json!({ "header": { "report_id": 7, "version": "1.0" },
        "metrics": { "network_stats": { "bytes_out": 4096 } },
        "custom_metrics": { "temperature": [{ "number": 41.5 }] } });
    c.publish(base, report.to_string(), 1, false).await.unwrap();
    let answer = next_on(&mut c, &accepted).await;
    assert_eq!(answer["status"], "ACCEPTED");
    assert_eq!(answer["reportId"], 7);
    c.publish(base, r#"{"metrics":{}}"#, 1, false)
        .await
        .unwrap();
    let answer = next_on(&mut c, &rejected).await;
    assert_eq!(answer["statusDetails"]["ErrorCode"], "InvalidPayload");

    let path = "/metric-values?thingName=sensor-9&metricName=aws:all-bytes-out&startTime=2000-01-01T00:00:00Z&endTime=2100-01-01T00:00:00Z";
    let listed = fleet.api.get(path).await.ok();
    assert_eq!(
        listed["metricDatumList"][0]["value"],
        json!({ "count": 4096 })
    );
    let path =
        "/metric-values?thingName=sensor-9&metricName=temperature&startTime=0&endTime=4102444800";
    let listed = fleet.api.get(path).await.ok();
    assert_eq!(
        listed["metricDatumList"][0]["value"],
        json!({ "number": 41.5 })
    );
    fleet
        .api
        .get("/metric-values?thingName=sensor-9&metricName=temperature")
        .await
        .err(400, "InvalidRequestException");
}

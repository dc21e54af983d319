//! Policies, versions and attachments over HTTP.

use crate::support::{label, mock};
use serde_json::{Value, json};

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;

#[tokio::test]
async fn policy_lifecycle_with_versions() {
    let (_mock, api) = mock().await;
    let created = api.create_policy("pol").await;
    assert_eq!(created["policyVersionId"], "1");
    assert!(
        created["policyArn"]
            .as_str()
            .unwrap()
            .ends_with(":policy/pol")
    );
    let got = api.get("/policies/pol").await.ok();
    assert_eq!(
        (got["defaultVersionId"].as_str(), got["policyName"].as_str()),
        (Some("1"), Some("pol"))
    );
    assert_eq!(got["generationId"].as_str().unwrap().len(), 64);

    let v2 = api
        .post(
            "/policies/pol/version?setAsDefault=true",
            json!({ "policyDocument": DOC }),
        )
        .await
        .ok();
    assert_eq!(
        (
            v2["policyVersionId"].as_str(),
            v2["isDefaultVersion"].as_bool()
        ),
        (Some("2"), Some(true))
    );
    assert_eq!(
        api.get("/policies/pol").await.ok()["policyDocument"],
        DOC,
        "GetPolicy returns the default version verbatim"
    );
    let versions = api.get("/policies/pol/version").await.ok();
    let ids: Vec<&str> = versions["policyVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["2", "1"]);
    assert!(versions["policyVersions"][0]["createDate"].is_number());
    let v1 = api.get("/policies/pol/version/1").await.ok();
    assert_eq!(v1["isDefaultVersion"], false);
    assert_eq!(
        api.call("PATCH", "/policies/pol/version/1", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/policies/pol/version/1").await.ok()["isDefaultVersion"],
        true
    );
    assert_eq!(
        api.call("DELETE", "/policies/pol/version/2", &[], None)
            .await
            .status,
        200
    );
    api.get("/policies/pol/version/2")
        .await
        .err(404, "ResourceNotFoundException");
    let list = api.get("/policies").await.ok();
    assert_eq!(list["policies"][0]["policyName"], "pol");
    assert_eq!(
        api.call("DELETE", "/policies/pol", &[], None).await.status,
        200
    );
    api.get("/policies/pol")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn attachments_by_target_and_by_principal_header() {
    let (_mock, api) = mock().await;
    let (_, arn) = api.create_cert().await;
    api.create_policy("a").await;
    api.create_policy("b").await;
    assert_eq!(
        api.call(
            "PUT",
            "/target-policies/a",
            &[],
            Some(json!({ "target": arn }))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.call(
            "PUT",
            "/target-policies/a",
            &[],
            Some(json!({ "target": arn }))
        )
        .await
        .status,
        200,
        "re-attaching is a no-op"
    );
    let account = arn.split(':').nth(4).unwrap().to_string();
    let elsewhere = arn.replacen(&account, "999999999999", 1);
    api.call(
        "PUT",
        "/target-policies/a",
        &[],
        Some(json!({ "target": elsewhere })),
    )
    .await
    .err(404, "ResourceNotFoundException");
    assert_eq!(
        api.call(
            "PUT",
            "/principal-policies/b",
            &[("x-amzn-iot-principal", &arn)],
            None
        )
        .await
        .status,
        200
    );

    let attached = api
        .call(
            "POST",
            &format!("/attached-policies/{}?recursive=false", label(&arn)),
            &[],
            None,
        )
        .await
        .ok();
    let names: Vec<&str> = attached["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let by_principal = api
        .call(
            "GET",
            "/principal-policies",
            &[("x-amzn-iot-principal", &arn)],
            None,
        )
        .await
        .ok();
    assert_eq!(by_principal["policies"].as_array().unwrap().len(), 2);
    let targets = api.call("POST", "/policy-targets/a", &[], None).await.ok();
    assert_eq!(targets["targets"], json!([arn]));
    let principals = api
        .call(
            "GET",
            "/policy-principals",
            &[("x-amzn-iot-policy", "b")],
            None,
        )
        .await
        .ok();
    assert_eq!(principals["principals"], json!([arn]));

    assert_eq!(
        api.call(
            "POST",
            "/target-policies/a",
            &[],
            Some(json!({ "target": arn }))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.call(
            "DELETE",
            "/principal-policies/b",
            &[("x-amzn-iot-principal", &arn)],
            None
        )
        .await
        .status,
        200
    );
    let attached = api
        .call(
            "POST",
            &format!("/attached-policies/{}", label(&arn)),
            &[],
            None,
        )
        .await
        .ok();
    assert_eq!(attached["policies"], json!([]));
    assert_eq!(
        api.call(
            "POST",
            "/target-policies/a",
            &[],
            Some(json!({ "target": arn }))
        )
        .await
        .status,
        200,
        "detaching twice succeeds"
    );
}

#[tokio::test]
async fn attach_limits_and_unknown_targets() {
    let (_mock, api) = mock().await;
    let (_, arn) = api.create_cert().await;
    for i in 0..10 {
        api.create_policy(&format!("p{i}")).await;
        api.call(
            "PUT",
            &format!("/target-policies/p{i}"),
            &[],
            Some(json!({ "target": arn })),
        )
        .await
        .ok();
    }
    api.create_policy("eleventh").await;
    api.call(
        "PUT",
        "/target-policies/eleventh",
        &[],
        Some(json!({ "target": arn })),
    )
    .await
    .err(410, "LimitExceededException");
    let ghost = format!("{}{}", &arn[..arn.len() - 4], "0000");
    api.call(
        "PUT",
        "/target-policies/p0",
        &[],
        Some(json!({ "target": ghost })),
    )
    .await
    .err(404, "ResourceNotFoundException");
    api.call("POST", "/policy-targets/none", &[], None)
        .await
        .err(404, "ResourceNotFoundException");
    let body: Value = api
        .call(
            "POST",
            &format!("/attached-policies/{}", label(&ghost)),
            &[],
            None,
        )
        .await
        .body;
    assert!(body["message"].as_str().unwrap().contains("does not exist"));
}

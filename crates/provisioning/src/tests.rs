//! The template language, rule by rule.
#![allow(clippy::unwrap_used)]

use crate::{Override, Template};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// AWS's canonical fleet-provisioning template, with a mapping, a condition and a policy
/// document given as an object.
const FLEET: &str = r#"{
  "Parameters": {
    "SerialNumber": {"Type": "String"},
    "DeviceLocation": {"Type": "String", "Default": "Seattle"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}
  },
  "Mappings": {"Regions": {"Seattle": {"Tier": "gold"}, "Oslo": {"Tier": "silver"}}},
  "Conditions": {"IsGold": {"Fn::Equals": [{"Fn::FindInMap": ["Regions", {"Ref": "DeviceLocation"}, "Tier"]}, "gold"]}},
  "Resources": {
    "thing": {
      "Type": "AWS::IoT::Thing",
      "Properties": {
        "ThingName": {"Fn::Join": ["", ["ThingPrefix_", {"Ref": "SerialNumber"}]]},
        "AttributePayload": {"version": "v1", "serialNumber": {"Ref": "SerialNumber"}},
        "ThingGroups": ["v1-lightbulbs", {"Fn::Sub": "${DeviceLocation}-fleet"}]
      },
      "OverrideSettings": {"AttributePayload": "MERGE", "ThingGroups": "DO_NOTHING"}
    },
    "certificate": {
      "Type": "AWS::IoT::Certificate",
      "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}
    },
    "policy": {
      "Type": "AWS::IoT::Policy",
      "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}}
    },
    "goldPolicy": {
      "Type": "AWS::IoT::Policy",
      "Condition": "IsGold",
      "Properties": {"PolicyName": "gold"}
    }
  },
  "DeviceConfiguration": {
    "FallbackUrl": "https://www.example.com/test-site",
    "LocationUrl": {"Fn::Join": ["", ["https://example.aws/", {"Ref": "DeviceLocation"}]]},
    "Tier": {"Fn::FindInMap": ["Regions", {"Ref": "DeviceLocation"}, "Tier"]},
    "Second": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
    "Gold": {"Fn::If": ["IsGold", "yes", "no"]}
  }
}"#;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cert_id() -> BTreeMap<String, String> {
    map(&[("AWS::IoT::Certificate::Id", "abc123")])
}

#[test]
fn the_fleet_template_evaluates_to_its_resources() {
    let t = Template::parse(FLEET).unwrap();
    let plan = t
        .evaluate(&map(&[("SerialNumber", "42")]), &cert_id())
        .unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.name, "ThingPrefix_42");
    assert_eq!(thing.attributes["serialNumber"], "42");
    assert_eq!(thing.groups, ["v1-lightbulbs", "Seattle-fleet"]);
    assert_eq!(thing.overrides["AttributePayload"], Override::Merge);
    let cert = plan.certificate.unwrap();
    assert_eq!(
        (cert.id.as_deref(), cert.status.as_str()),
        (Some("abc123"), "ACTIVE")
    );
    assert_eq!(plan.policies.len(), 2, "the gold policy's condition holds");
    let documents: Vec<_> = plan
        .policies
        .iter()
        .filter_map(|p| p.document.clone())
        .collect();
    assert!(documents.len() == 1 && documents[0].contains("iot:Connect"));
    assert!(
        plan.policies
            .iter()
            .any(|p| p.name.as_deref() == Some("gold"))
    );
    let config = &plan.device_configuration;
    assert_eq!(config["LocationUrl"], "https://example.aws/Seattle");
    assert_eq!(
        (config["Tier"].as_str(), config["Second"].as_str()),
        ("gold", "b")
    );
    assert_eq!(config["Gold"], "yes");
    let oslo = t
        .evaluate(
            &map(&[("SerialNumber", "7"), ("DeviceLocation", "Oslo")]),
            &cert_id(),
        )
        .unwrap();
    assert_eq!(oslo.policies.len(), 1, "the condition is false for Oslo");
    assert_eq!(oslo.device_configuration["Gold"], "no");
}

#[test]
fn a_missing_parameter_names_itself() {
    let t = Template::parse(FLEET).unwrap();
    let e = t.evaluate(&BTreeMap::new(), &cert_id()).unwrap_err();
    assert_eq!(e.at, "Parameters.SerialNumber");
    assert!(e.to_string().contains("no Default"), "{e}");
}

#[test]
fn invalid_templates_are_refused_pointing_at_the_element() {
    let cases = [
        ("[]", "templateBody"),
        (r#"{"Resources": {}, "Outputs": {}}"#, "Outputs"),
        (
            r#"{"Resources": {"t": {"Type": "AWS::S3::Bucket"}}}"#,
            "Resources.t.Type",
        ),
        (
            r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Serial"}}}}}"#,
            "Resources.t.Properties.ThingName.Ref",
        ),
        (
            r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["-"]}}}}}"#,
            "Resources.t.Properties.ThingName.Fn::Join",
        ),
        (
            r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Base64": "x"}}}}}"#,
            "Resources.t.Properties.ThingName.Fn::Base64",
        ),
        (
            r#"{"Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {}}}}"#,
            "Resources.p.Properties",
        ),
        (
            r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Condition": "Nope", "Properties": {"ThingName": "x"}}}}"#,
            "Resources.t.Condition",
        ),
        (
            r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "x"}, "OverrideSettings": {"ThingGroups": "SOMETIMES"}}}}"#,
            "Resources.t.OverrideSettings.ThingGroups",
        ),
        (r#"{"Parameters": {"p": {}}}"#, "Parameters.p"),
        (
            r#"{"Parameters": {"A": {"Type": "String"}}, "DeviceConfiguration": {"x": {"Fn::Sub": "${A}-${B}"}}}"#,
            "DeviceConfiguration.x.Fn::Sub",
        ),
    ];
    for (body, at) in cases {
        let e = Template::parse(body).expect_err(body);
        assert_eq!(e.at, at, "{body}: {e}");
    }
    let long = format!(
        r#"{{"DeviceConfiguration": {{"x": "{}"}}}}"#,
        "y".repeat(10_300)
    );
    assert_eq!(Template::parse(&long).unwrap_err().at, "templateBody");
}

#[test]
fn select_out_of_range_and_a_missing_mapping_fail_at_evaluation() {
    let body = r#"{"Parameters": {"I": {"Type": "String"}},
      "Mappings": {"M": {"a": {"b": "c"}}},
      "DeviceConfiguration": {"x": {"Fn::Select": [{"Ref": "I"}, ["p", "q"]]},
                              "y": {"Fn::FindInMap": ["M", "a", {"Ref": "I"}]}}}"#;
    let t = Template::parse(body).unwrap();
    let e = t
        .evaluate(&map(&[("I", "5")]), &BTreeMap::new())
        .unwrap_err();
    assert!(e.message.contains("out of range"), "{e}");
    let e = t
        .evaluate(&map(&[("I", "1")]), &BTreeMap::new())
        .unwrap_err();
    assert_eq!(e.at, "DeviceConfiguration.y.Fn::FindInMap");
}

#[test]
fn jitp_templates_take_the_certificate_subject_and_a_policy_string() {
    let body = r#"{"Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
        "AWS::IoT::Certificate::Id": {"Type": "String"}},
      "Resources": {
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}}}}"#;
    let t = Template::parse(body).unwrap();
    let pseudo = map(&[
        ("AWS::IoT::Certificate::CommonName", "sensor-9"),
        ("AWS::IoT::Certificate::Id", "c0ffee"),
    ]);
    let plan = t.evaluate(&BTreeMap::new(), &pseudo).unwrap();
    assert_eq!(plan.thing.unwrap().name, "sensor-9");
    assert!(
        plan.policies[0]
            .document
            .as_deref()
            .unwrap()
            .starts_with("{\"Version\"")
    );
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_json(body in "\\PC{0,200}") {
        let _ = Template::parse(&body);
    }

    #[test]
    fn join_of_split_is_the_identity(parts in proptest::collection::vec("[a-z0-9]{0,6}", 1..6)) {
        let joined = parts.join(",");
        let body = r#"{"Parameters": {"S": {"Type": "String"}},
            "DeviceConfiguration": {"x": {"Fn::Join": [",", {"Fn::Split": [",", {"Ref": "S"}]}]}}}"#;
        let t = Template::parse(body).unwrap();
        let plan = t.evaluate(&map(&[("S", &joined)]), &BTreeMap::new()).unwrap();
        prop_assert_eq!(&plan.device_configuration["x"], &joined);
    }
}

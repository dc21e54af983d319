#![allow(clippy::unwrap_used)]

use crate::{DefenderService, report};
use iotmock_fleet::Format;
use proptest::prelude::*;
use serde_json::{Value, json};

fn answer(svc: &DefenderService, fmt: Format, doc: &Value, now: i64) -> (String, Value) {
    let payload = fmt.encode(doc);
    let p = svc.receive("us-east-1", "dev", fmt, &payload, now);
    (p.topic.to_string(), fmt.decode(&p.payload).unwrap())
}

#[test]
fn long_and_short_names_are_accepted_and_kept() {
    let svc = DefenderService::new("us-east-1");
    let long = json!({ "header": { "report_id": 1, "version": "1.0" },
        "metrics": { "network_stats": { "bytes_in": 10, "bytes_out": 20 },
            "tcp_connections": { "established_connections": { "connections": [{ "remote_addr": "10.0.0.1:443" }], "total": 1 } },
            "listening_tcp_ports": { "ports": [{ "port": 8080 }], "total": 1 } },
        "custom_metrics": { "cpu": [{ "number": 0.5 }] } });
    let (topic, doc) = answer(&svc, Format::Json, &long, 1000);
    assert_eq!(topic, "$aws/things/dev/defender/metrics/json/accepted");
    assert_eq!(
        (doc["status"].as_str(), doc["reportId"].as_i64()),
        (Some("ACCEPTED"), Some(1))
    );
    let short = json!({ "hed": { "rid": 2, "v": "1.0" }, "met": { "ns": { "bi": 30 } } });
    let (topic, _) = answer(&svc, Format::Cbor, &short, 2000);
    assert_eq!(topic, "$aws/things/dev/defender/metrics/cbor/accepted");
    let values = svc.metric_values("us-east-1", "dev", "aws:all-bytes-in", (0, 10_000));
    let counts: Vec<i64> = values
        .iter()
        .map(|d| d.value["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [30, 10], "newest first");
    let ips = svc.metric_values(
        "us-east-1",
        "dev",
        "aws:destination-ip-addresses",
        (0, 10_000),
    );
    assert_eq!(ips[0].value, json!({ "cidrs": ["10.0.0.1"] }));
    let cpu = svc.metric_values("us-east-1", "dev", "cpu", (0, 10_000));
    assert_eq!(cpu[0].value, json!({ "number": 0.5 }));
    assert!(
        svc.metric_values("us-east-1", "dev", "cpu", (0, 1000))
            .is_empty(),
        "the end is exclusive"
    );
}

#[test]
fn malformed_reports_are_rejected_with_aws_document() {
    let svc = DefenderService::new("us-east-1");
    for bad in [
        json!({ "metrics": {} }),
        json!({ "header": { "report_id": 1, "version": "1.0" } }),
        json!({ "header": { "report_id": "x", "version": "1.0" }, "metrics": {} }),
        json!({ "header": { "report_id": 1, "version": "one" }, "metrics": {} }),
        json!({ "header": { "report_id": 1, "version": "1.0" }, "custom_metrics": { "cpu": { "number": 0 } } }),
        json!({ "header": { "report_id": 1, "version": "1.0" }, "metrics": { "listening_udp_ports": { "ports": [{ "port": 0 }] } } }),
        json!({ "header": { "report_id": 1, "version": "1.0" }, "metrics": { "network_stats": { "bytes_in": -1 } } }),
    ] {
        let (topic, doc) = answer(&svc, Format::Json, &bad, 5);
        assert_eq!(
            topic, "$aws/things/dev/defender/metrics/json/rejected",
            "{bad}"
        );
        assert_eq!(doc["statusDetails"]["ErrorCode"], "InvalidPayload");
        assert_eq!(
            doc["statusDetails"]["ErrorMessage"],
            "Malformed metrics report"
        );
    }
    let p = svc.receive("us-east-1", "dev", Format::Json, b"not json", 5);
    assert!(p.topic.ends_with("/rejected"));
}

proptest! {
    #[test]
    fn reading_any_json_never_panics(doc in proptest::arbitrary::any::<Vec<u8>>()) {
        if let Ok(v) = serde_json::from_slice::<Value>(&doc) {
            let _ = report::read(&v);
        }
    }

    #[test]
    fn custom_numbers_round_trip(n in -1e9f64..1e9) {
        let doc = json!({ "hed": { "rid": 1, "v": "1.0" }, "cmet": { "m": [{ "number": n }] } });
        let r = report::read(&doc).unwrap();
        prop_assert_eq!(&r.metrics[0].1, &json!({ "number": n }));
    }
}

#[test]
fn the_report_id_key_of_accepted_answers_is_a_setting() {
    let svc = DefenderService::with_report_id_key("us-east-1", "report_id");
    let doc = json!({ "hed": { "rid": 9, "v": "1.0" }, "met": {} });
    let (_, answer) = answer(&svc, Format::Json, &doc, 1);
    assert_eq!(answer["report_id"], 9);
    assert!(answer.get("reportId").is_none());
}

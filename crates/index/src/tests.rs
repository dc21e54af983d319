#![allow(clippy::unwrap_used)]

use crate::book::RegionIndex;
use crate::config::{Config, FieldType, ThingMode};
use crate::doc::{Connectivity, ShadowDoc, ThingDoc};
use crate::eval::matches;
use crate::query::{Query, parse};
use crate::search::{self, Paging};
use proptest::prelude::*;
use serde_json::json;

fn thing(name: &str, attrs: &[(&str, &str)], temp: Option<f64>, connected: bool) -> ThingDoc {
    ThingDoc {
        name: name.into(),
        id: format!("id-{name}"),
        type_name: Some("sensor".into()),
        groups: vec!["floor1".into()],
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        version: 1,
        shadow: temp.map(|t| ShadowDoc {
            reported: Some(json!({ "temp": t, "fw": "v1.2 beta", "tags": [1, 2] })),
            desired: Some(json!({ "temp": 20 })),
            delta: (t != 20.0).then(|| json!({ "temp": 20 })),
            metadata: json!({}),
            version: 3,
        }),
        named: Default::default(),
        connectivity: Some(Connectivity {
            connected,
            timestamp: 1000,
            disconnect_reason: (!connected).then(|| "CLIENT_INITIATED_DISCONNECT".into()),
        }),
    }
}

fn full() -> Config {
    Config {
        thing_mode: ThingMode::RegistryAndShadow,
        connectivity: true,
        custom_fields: vec![crate::config::Field {
            name: "shadow.reported.temp".into(),
            kind: FieldType::Number,
        }],
        ..Config::default()
    }
}

fn hit(q: &str, d: &ThingDoc) -> bool {
    matches(&parse(q).unwrap(), &d.fields(&full()))
}

#[test]
fn terms_wildcards_ranges_and_booleans() {
    let d = thing("Kitchen-Sensor", &[("room", "kitchen")], Some(25.5), true);
    assert!(
        hit("thingName:kitchen*", &d),
        "values match case-insensitively"
    );
    assert!(
        !hit("thingname:Kitchen-Sensor", &d),
        "field names are case-sensitive"
    );
    assert!(hit("thingName:K?tchen-Sensor", &d));
    assert!(hit(
        "attributes.room:kitchen AND shadow.reported.temp>25",
        &d
    ));
    assert!(hit("shadow.reported.temp:[25 TO 26]", &d));
    assert!(!hit("shadow.reported.temp:{25.5 TO 26]", &d));
    assert!(hit("shadow.reported.temp:{25 TO *}", &d));
    assert!(
        hit("shadow.reported.fw:beta", &d),
        "words are split on whitespace"
    );
    assert!(hit("shadow.reported.fw:\"v1.2 beta\"", &d));
    assert!(
        hit("shadow.reported.tags:2", &d),
        "an array matches any element"
    );
    assert!(hit("shadow.hasDelta:true connectivity.connected:true", &d));
    assert!(hit("-attributes.room:hall", &d));
    assert!(hit("NOT attributes.room:hall", &d));
    assert!(hit("thingName:(kitchen* AND -hall*)", &d));
    assert!(hit("attributes.room:hall OR thingGroupNames:floor1", &d));
    assert!(hit("attributes.room:*", &d) && !hit("attributes.colour:*", &d));
    assert!(hit("*", &d));
    assert!(hit("kitchen", &d), "a bare term searches every field");
    assert!(hit("shadow.reported.temp:25.5", &d));
}

#[test]
fn unsupported_syntax_is_refused_with_its_position() {
    for (q, at) in [
        ("thingName:*abc", 10),
        ("thingName:abc~", 13),
        ("a b c d e f g h", 14),
        ("thingName:(abc", 14),
        ("thingName:[1 TO", 15),
        ("", 0),
        ("\"open", 0),
    ] {
        let e = parse(q).unwrap_err();
        assert_eq!(e.position, at, "{q}: {e}");
    }
    assert!(parse("a b c d e f g").is_ok(), "seven terms are allowed");
}

#[test]
fn connectivity_follows_the_document_and_off_modes_hide_fields() {
    let d = thing("t1", &[], Some(20.0), false);
    assert!(hit("connectivity.connected:false", &d));
    assert!(hit(
        "connectivity.disconnectReason:CLIENT_INITIATED_DISCONNECT",
        &d
    ));
    assert!(hit("shadow.hasDelta:false", &d));
    let registry = Config {
        thing_mode: ThingMode::Registry,
        ..Config::default()
    };
    let q = parse("shadow.reported.temp:20").unwrap();
    assert!(
        !matches(&q, &d.fields(&registry)),
        "REGISTRY does not index shadows"
    );
    let shown = d.to_json(&registry);
    assert!(shown.get("shadow").is_none() && shown.get("connectivity").is_none());
    let shown = d.to_json(&full());
    let shadow: serde_json::Value =
        serde_json::from_str(shown["shadow"].as_str().unwrap()).unwrap();
    assert_eq!(shadow["reported"]["temp"], json!(20.0));
}

#[test]
fn configuration_rules() {
    let off = Config::default();
    let e = off
        .updated(&json!({ "thingIndexingConfiguration": { "thingIndexingMode": "OFF", "thingConnectivityIndexingMode": "STATUS" } }))
        .unwrap_err();
    assert!(e.contains("thing indexing on"), "{e}");
    let e = off
        .updated(
            &json!({ "thingIndexingConfiguration": { "thingIndexingMode": "REGISTRY",
            "customFields": [{ "name": "shadow.reported.x", "type": "Number" }] } }),
        )
        .unwrap_err();
    assert!(e.contains("shadow indexing"), "{e}");
    let on = off
        .updated(
            &json!({ "thingIndexingConfiguration": { "thingIndexingMode": "REGISTRY_AND_SHADOW",
            "thingConnectivityIndexingMode": "STATUS" } }),
        )
        .unwrap();
    assert_eq!(on.schema(), "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS");
    assert_eq!(
        on.field_type("connectivity.connected"),
        Some(FieldType::Boolean)
    );
    let shown = on.to_json();
    assert_eq!(
        shown["thingIndexingConfiguration"]["thingConnectivityIndexingMode"],
        "STATUS"
    );
}

#[test]
fn aggregations_and_paging() {
    let docs: Vec<ThingDoc> = (0..5)
        .map(|i| thing(&format!("t{i}"), &[], Some(f64::from(i) * 10.0), i % 2 == 0))
        .collect();
    let config = full();
    let index = RegionIndex::build(docs, &config);
    let all = index.select(&Query::All);
    let (field, kind) = search::aggregation_field(&config, Some("shadow.reported.temp")).unwrap();
    let stats = search::statistics(&all, field, kind);
    assert_eq!(stats["statistics"]["count"], 5);
    assert_eq!(stats["statistics"]["average"], json!(20.0));
    assert_eq!(stats["statistics"]["maximum"], json!(40.0));
    let p = search::percentiles(&all, field, kind, &[50.0]).unwrap();
    assert_eq!(p["percentiles"][0]["value"], json!(20.0));
    let (cfield, ckind) =
        search::aggregation_field(&config, Some("connectivity.connected")).unwrap();
    let b = search::statistics(&all, cfield, ckind);
    assert_eq!(b["statistics"]["sum"], json!(3.0));
    let buckets = search::buckets(&all, cfield, 10);
    assert_eq!(
        buckets["buckets"][0],
        json!({ "keyValue": "true", "count": 3 })
    );
    assert_eq!(search::cardinality(&all, "thingName")["cardinality"], 5);
    assert!(search::aggregation_field(&config, Some("attributes.nope")).is_err());
    let paging = Paging {
        next_token: None,
        max_results: Some(2),
    };
    let (first, next) = search::page(all.clone(), &paging, |i| json!(i.doc.name)).unwrap();
    assert_eq!((first.len(), next.as_deref()), (2, Some("2")));
    let paging = Paging {
        next_token: Some("4"),
        max_results: Some(2),
    };
    let (last, next) = search::page(all, &paging, |i| json!(i.doc.name)).unwrap();
    assert_eq!((last, next), (vec![json!("t4")], None));
}

proptest! {
    #[test]
    fn parsing_never_panics(q in "\\PC{0,40}") {
        let _ = parse(&q);
    }

    /// A prefix query selects exactly the things whose name starts with the prefix
    /// (case-insensitively), as a scan over the names says.
    #[test]
    fn prefix_queries_agree_with_a_scan(
        names in prop::collection::btree_set("[a-c]{1,4}", 1..20),
        prefix in "[a-c]{1,2}",
    ) {
        let docs: Vec<ThingDoc> = names.iter().map(|n| thing(n, &[], None, true)).collect();
        let q = parse(&format!("thingName:{prefix}*")).unwrap();
        let config = full();
        let index = RegionIndex::build(docs, &config);
        let got: Vec<&str> = index.select(&q).iter().map(|i| i.doc.name.as_str()).collect();
        let mut want: Vec<&str> = names.iter().filter(|n| n.starts_with(&prefix)).map(String::as_str).collect();
        want.sort_unstable();
        prop_assert_eq!(got, want);
    }

    /// Ranges on numbers agree with comparing the numbers.
    #[test]
    fn ranges_agree_with_numeric_comparison(temps in prop::collection::vec(-50i32..50, 1..20), lo in -50i32..50, hi in -50i32..50) {
        let docs: Vec<ThingDoc> = temps.iter().enumerate()
            .map(|(i, t)| thing(&format!("t{i:02}"), &[], Some(f64::from(*t)), true)).collect();
        let q = parse(&format!("shadow.reported.temp:[{lo} TO {hi}}}")).unwrap();
        let config = full();
        let got = RegionIndex::build(docs, &config).select(&q).len();
        let want = temps.iter().filter(|t| **t >= lo && **t < hi).count();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn connectivity_follows_lifecycle_events_in_time_order_and_survives_takeovers() {
    let svc = crate::IndexService::open(Box::new(iotmock_store::MemoryStore), "us-east-1").unwrap();
    let event = |kind: &str, t: i64, reason: &str| {
        let topic = format!("$aws/events/presence/{kind}/dev");
        let body = json!({ "clientId": "dev", "timestamp": t, "disconnectReason": reason });
        (topic, body.to_string())
    };
    let (topic, body) = event("connected", 10, "");
    svc.heard("us-east-1", &topic, body.as_bytes());
    let (topic, body) = event("disconnected", 10, "DUPLICATE_CLIENTID");
    svc.heard("us-east-1", &topic, body.as_bytes());
    assert!(
        svc.connectivity("us-east-1")["dev"].connected,
        "the successor stays connected"
    );
    let (topic, body) = event("disconnected", 20, "MQTT_KEEP_ALIVE_TIMEOUT");
    svc.heard("us-east-1", &topic, body.as_bytes());
    let (topic, body) = event("connected", 15, "");
    svc.heard("us-east-1", &topic, body.as_bytes());
    let c = &svc.connectivity("us-east-1")["dev"];
    assert_eq!(
        (c.connected, c.timestamp),
        (false, 20),
        "an older event does not undo a newer one"
    );
    assert_eq!(
        c.disconnect_reason.as_deref(),
        Some("MQTT_KEEP_ALIVE_TIMEOUT")
    );
    assert!(
        svc.connectivity("eu-west-1").is_empty(),
        "regions are apart"
    );
}

proptest! {
    /// Whatever the query, the index selects exactly what evaluating it on every document
    /// selects: the inverted map only narrows.
    #[test]
    fn the_index_agrees_with_a_scan(
        rooms in prop::collection::vec(prop::sample::select(vec!["kitchen", "hall", "big hall", "Kitchen 2"]), 1..30),
        temps in prop::collection::vec(0i32..40, 30),
        query in prop::sample::select(vec![
            "attributes.room:kitchen", "attributes.room:hall", "attributes.room:\"big hall\"",
            "attributes.room:kitchen AND shadow.reported.temp:21", "shadow.reported.temp:21.0",
            "attributes.room:hall OR attributes.room:kitchen", "thingName:t1 OR attributes.room:2",
            "attributes.room:kit* AND shadow.reported.temp>20", "NOT attributes.room:hall",
            "attributes.room:HALL shadow.hasDelta:true",
            "shadow.reported.temp:[10 TO 10}", "shadow.reported.temp:[30 TO 10]",
            "shadow.reported.temp:[10 TO 10]", "shadow.reported.temp:{* TO 15}",
            "attributes.room:[a TO m]", "thingName:t1*", "attributes.room:big* OR shadow.reported.temp<3",
            "attributes.room:*", "shadow.reported.temp>=39 AND NOT thingName:t2*",
        ]),
    ) {
        let docs: Vec<ThingDoc> = rooms.iter().enumerate()
            .map(|(i, r)| thing(&format!("t{i}"), &[("room", r)], Some(f64::from(temps[i])), i % 2 == 0))
            .collect();
        let config = full();
        let q = parse(query).unwrap();
        let index = RegionIndex::build(docs.clone(), &config);
        let got: Vec<String> = index.select(&q).iter().map(|i| i.doc.name.clone()).collect();
        let mut want: Vec<String> = docs.iter().filter(|d| matches(&q, &d.fields(&config))).map(|d| d.name.clone()).collect();
        want.sort();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn documents_come_and_go() {
    let config = full();
    let mut index = RegionIndex::build(vec![thing("a", &[("room", "hall")], None, true)], &config);
    let q = parse("attributes.room:hall").unwrap();
    assert_eq!(index.select(&q).len(), 1);
    index.put(thing("a", &[("room", "kitchen")], None, true), &config);
    assert!(
        index.select(&q).is_empty(),
        "a replaced document leaves no stale term"
    );
    index.remove("a");
    assert!(index.select(&parse("*").unwrap()).is_empty());
}

#[test]
fn named_shadows_are_indexed_when_asked_for_by_name() {
    let mut d = thing("t", &[], None, true);
    let named = ShadowDoc {
        reported: Some(json!({ "speed": 7 })),
        metadata: json!({}),
        version: 1,
        ..ShadowDoc::default()
    };
    d.named.insert("motor".into(), named.clone());
    d.named.insert("other".into(), named);
    let mut config = Config {
        thing_mode: ThingMode::RegistryAndShadow,
        named_shadows: true,
        named_shadow_names: vec!["motor".into()],
        ..Config::default()
    };
    let q = |s: &str| parse(s).unwrap();
    assert!(matches(
        &q("shadow.name.motor.reported.speed:7"),
        &d.fields(&config)
    ));
    assert!(!matches(
        &q("shadow.name.other.reported.speed:7"),
        &d.fields(&config)
    ));
    let shown: serde_json::Value =
        serde_json::from_str(d.to_json(&config)["shadow"].as_str().unwrap()).unwrap();
    assert_eq!(shown["name"]["motor"]["reported"]["speed"], 7);
    config.named_shadows = false;
    assert!(!matches(
        &q("shadow.name.motor.reported.speed:7"),
        &d.fields(&config)
    ));
}

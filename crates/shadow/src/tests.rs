//! The shadow rules, one test each, and properties of the delta and the version.
#![allow(clippy::unwrap_used)]

use crate::{Op, ShadowKey, ShadowSettings, Shadows, delta, parse_topic};
use proptest::prelude::*;
use serde_json::{Value, json};

const R: &str = "us-east-1";
const T0: i64 = 1_700_000_000_000;

fn key() -> ShadowKey {
    ShadowKey::classic("lamp")
}

fn update(s: &mut Shadows, body: Value, at: i64) -> Result<crate::Updated, crate::ShadowError> {
    s.update(R, &key(), body.to_string().as_bytes(), at)
}

#[test]
fn a_shadow_that_never_existed_is_404_without_timestamp() {
    let s = Shadows::default();
    let e = s
        .get(R, &key(), br#"{"clientToken":"t1"}"#, T0)
        .unwrap_err();
    assert_eq!(e.message, "No shadow exists with name: 'lamp'");
    assert_eq!(
        e.document(1),
        json!({"code":404,"message":"No shadow exists with name: 'lamp'","clientToken":"t1"})
    );
    let named = s
        .get(R, &ShadowKey::named("lamp", "cfg"), b"", T0)
        .unwrap_err();
    assert_eq!(named.message, "No shadow exists with name: 'lamp~cfg'");
}

#[test]
fn updates_create_version_1_and_count_up() {
    let mut s = Shadows::default();
    let u = update(
        &mut s,
        json!({"state":{"reported":{"on":true}},"clientToken":"a"}),
        T0,
    )
    .unwrap();
    assert_eq!(u.accepted["version"], 1);
    assert_eq!(u.accepted["clientToken"], "a");
    assert_eq!(
        u.accepted["metadata"]["reported"]["on"]["timestamp"],
        T0 / 1000
    );
    assert!(
        u.documents.get("previous").is_none(),
        "no previous on the first update"
    );
    assert!(u.delta.is_none());
    let u = update(&mut s, json!({"state":{"desired":{"on":false}}}), T0 + 1000).unwrap();
    assert_eq!(u.documents["previous"]["version"], 1);
    assert_eq!(u.documents["current"]["version"], 2);
    let d = u.delta.unwrap();
    assert_eq!(
        (d["state"].clone(), d["version"].clone()),
        (json!({"on": false}), json!(2))
    );
    assert_eq!(d["metadata"]["on"]["timestamp"], T0 / 1000 + 1);
}

#[test]
fn a_reported_only_update_that_creates_a_difference_publishes_a_delta() {
    let mut s = Shadows::default();
    update(
        &mut s,
        json!({"state":{"desired":{"s":"great"},"reported":{"s":"great"}}}),
        T0,
    )
    .unwrap();
    let u = update(&mut s, json!({"state":{"reported":{"s":"awful"}}}), T0).unwrap();
    assert_eq!(u.delta.unwrap()["state"], json!({"s":"great"}));
}

#[test]
fn null_removes_keys_and_sections_and_state_null_clears_both() {
    let mut s = Shadows::default();
    update(
        &mut s,
        json!({"state":{"desired":{"a":1,"b":2},"reported":{"a":1}}}),
        T0,
    )
    .unwrap();
    update(&mut s, json!({"state":{"desired":{"b":null}}}), T0).unwrap();
    let got = s.get(R, &key(), b"", T0).unwrap();
    assert_eq!(got["state"]["desired"], json!({"a":1}));
    update(&mut s, json!({"state":{"desired":null}}), T0).unwrap();
    let got = s.get(R, &key(), b"", T0).unwrap();
    assert!(got["state"].get("desired").is_none() && got["state"]["reported"] == json!({"a":1}));
    let u = update(&mut s, json!({"state":null}), T0).unwrap();
    assert_eq!(u.accepted["version"], 4);
    let got = s.get(R, &key(), b"", T0).unwrap();
    assert_eq!(
        (got["state"].clone(), got["version"].clone()),
        (json!({}), json!(4)),
        "the shadow still exists"
    );
}

#[test]
fn untouched_leaves_keep_their_timestamps_and_arrays_get_one_per_element() {
    let mut s = Shadows::default();
    update(
        &mut s,
        json!({"state":{"desired":{"color":"red","rgb":[1,2,3]}}}),
        T0,
    )
    .unwrap();
    update(
        &mut s,
        json!({"state":{"desired":{"color":"blue"}}}),
        T0 + 5000,
    )
    .unwrap();
    let got = s.get(R, &key(), b"", T0).unwrap();
    let meta = &got["metadata"]["desired"];
    assert_eq!(meta["color"]["timestamp"], T0 / 1000 + 5);
    assert_eq!(
        meta["rgb"],
        json!([{"timestamp": T0 / 1000}, {"timestamp": T0 / 1000}, {"timestamp": T0 / 1000}])
    );
}

#[test]
fn version_conflicts_and_bad_requests_answer_with_aws_messages() {
    let mut s = Shadows::default();
    update(&mut s, json!({"state":{"reported":{"x":1}}}), T0).unwrap();
    let cases = [
        (
            json!({"state":{"reported":{"x":2}},"version":7,"clientToken":"c"}),
            409,
            "Version conflict",
        ),
        (
            json!({"state":{"reported":{"x":2}},"version":"one"}),
            400,
            "Invalid version",
        ),
        (
            json!({"state":{"reported":{}},"clientToken":"x".repeat(65)}),
            400,
            "Invalid clientToken",
        ),
        (
            json!({"clientToken":"c"}),
            400,
            "Missing required node: state",
        ),
        (json!({"state":5}), 400, "State node must be an object"),
        (
            json!({"state":{"desired":[1]}}),
            400,
            "Desired node must be an object",
        ),
        (
            json!({"state":{"reported":"x"}}),
            400,
            "Reported node must be an object",
        ),
        (
            json!({"state":{"other":{}}}),
            400,
            "State contains an invalid node",
        ),
        (
            json!({"state":{"desired":{"c":[null]}}}),
            400,
            "Invalid JSON",
        ),
    ];
    for (body, code, message) in cases {
        let e = update(&mut s, body.clone(), T0).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (code, message), "{body}");
    }
    let e = update(
        &mut s,
        json!({"state":{"reported":{"x":2}},"version":7,"clientToken":"c"}),
        T0,
    )
    .unwrap_err();
    assert_eq!(
        e.client_token.as_deref(),
        Some("c"),
        "the token is echoed on refusals"
    );
    assert_eq!(
        s.update(R, &key(), b"{not json", T0).unwrap_err().message,
        "Invalid JSON"
    );
    assert_eq!(
        s.update(R, &key(), &[0xff, 0xfe], T0).unwrap_err().code,
        415
    );
    let ok = update(
        &mut s,
        json!({"state":{"reported":{"x":3}},"version":1}),
        T0,
    )
    .unwrap();
    assert_eq!(ok.accepted["version"], 2);
}

#[test]
fn nesting_and_size_limits() {
    let mut s = Shadows::default();
    let mut deep = json!(1);
    for _ in 0..7 {
        deep = json!({ "n": deep });
    }
    let eight = update(
        &mut s,
        json!({"state":{"desired": {"n": deep.clone()}}}),
        T0,
    );
    assert!(eight.is_ok(), "8 levels, the section included, are allowed");
    let e = update(&mut s, json!({"state":{"desired": {"n": {"n": deep}}}}), T0).unwrap_err();
    assert_eq!(
        e.message,
        "JSON contains too many levels of nesting; maximum is 6"
    );
    let big = "x".repeat(8200);
    let e = update(&mut s, json!({"state":{"reported":{"blob": big}}}), T0).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (413, "The payload exceeds the maximum size allowed")
    );
    let version = s.get(R, &key(), b"", T0).unwrap()["version"].clone();
    assert_eq!(version, 1, "refused updates change nothing");
}

#[test]
fn delete_answers_the_current_version_and_recreation_continues_it() {
    let settings = ShadowSettings {
        tombstone_ms: 10_000,
        ..ShadowSettings::default()
    };
    let mut s = Shadows::new(settings);
    update(&mut s, json!({"state":{"reported":{"x":1}}}), T0).unwrap();
    update(&mut s, json!({"state":{"reported":{"x":2}}}), T0).unwrap();
    let d = s.delete(R, &key(), br#"{"clientToken":"d"}"#, T0).unwrap();
    assert_eq!(d.accepted["version"], 2);
    assert_eq!(d.accepted["clientToken"], "d");
    assert_eq!(s.delete(R, &key(), b"", T0).unwrap_err().code, 404);
    assert_eq!(s.get(R, &key(), b"", T0).unwrap_err().code, 404);
    let u = update(&mut s, json!({"state":{"reported":{"x":3}}}), T0 + 1000).unwrap();
    assert_eq!(
        u.accepted["version"], 3,
        "a re-created shadow continues the version"
    );
    s.delete(R, &key(), b"", T0 + 2000).unwrap();
    let u = update(&mut s, json!({"state":{"reported":{"x":4}}}), T0 + 20_000).unwrap();
    assert_eq!(
        u.accepted["version"], 1,
        "after the tombstone expires the version restarts"
    );
}

#[test]
fn throttling_answers_429_beyond_20_requests_a_second_per_shadow() {
    let settings = ShadowSettings {
        throttle: true,
        ..ShadowSettings::default()
    };
    let mut s = Shadows::new(settings);
    for _ in 0..20 {
        assert!(s.admit_request(R, &key(), T0).is_ok());
    }
    assert_eq!(s.admit_request(R, &key(), T0 + 999).unwrap_err().code, 429);
    assert!(
        s.admit_request(R, &ShadowKey::classic("other"), T0).is_ok(),
        "per shadow"
    );
    assert!(
        s.admit_request(R, &key(), T0 + 1000).is_ok(),
        "a new second"
    );
    assert!(
        Shadows::default().admit_request(R, &key(), T0).is_ok(),
        "off by default"
    );
}

#[test]
fn named_shadows_are_listed_without_the_classic_or_deleted_ones() {
    let mut s = Shadows::default();
    let body = br#"{"state":{"reported":{"x":1}}}"#;
    s.update(R, &key(), body, T0).unwrap();
    for name in ["b", "a", "gone"] {
        s.update(R, &ShadowKey::named("lamp", name), body, T0)
            .unwrap();
    }
    s.delete(R, &ShadowKey::named("lamp", "gone"), b"", T0)
        .unwrap();
    assert_eq!(s.list_named(R, "lamp"), vec!["a", "b"]);
    assert!(
        s.list_named("eu-west-1", "lamp").is_empty(),
        "regions are separate"
    );
}

#[test]
fn topics_name_the_shadow_and_operation() {
    assert_eq!(
        parse_topic("$aws/things/t1/shadow/update"),
        Some((ShadowKey::classic("t1"), Op::Update))
    );
    assert_eq!(
        parse_topic("$aws/things/t1/shadow/name/n:1/get"),
        Some((ShadowKey::named("t1", "n:1"), Op::Get))
    );
    assert_eq!(parse_topic("$aws/things/t1/shadow/update/accepted"), None);
    assert_eq!(parse_topic("$aws/things/t1/shadow/n1/update"), None);
    assert_eq!(parse_topic("$aws/things/a b/shadow/get"), None);
}

/// JSON trees of scalars and objects (arrays are values), a few levels deep.
fn tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (0i64..4).prop_map(Value::from),
        "[ab]".prop_map(Value::from),
        proptest::collection::vec(0i64..3, 0..3).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        proptest::collection::btree_map("[a-d]", inner, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

fn object(v: Value) -> Value {
    if v.is_object() { v } else { json!({ "v": v }) }
}

/// Every desired leaf is in reported with an equal value.
fn contains(reported: &Value, desired: &Value) -> bool {
    match (desired, reported) {
        (Value::Object(d), Value::Object(r)) => d.iter().all(|(k, dv)| match (dv, r.get(k)) {
            (Value::Object(m), _) if m.is_empty() => true,
            (_, Some(rv)) => contains(rv, dv),
            (_, None) => false,
        }),
        (Value::Object(d), _) => d.is_empty(),
        _ => desired == reported,
    }
}

proptest! {
    #[test]
    fn delta_is_empty_iff_reported_contains_desired(d in tree(), r in tree()) {
        let (d, r) = (object(d), object(r));
        prop_assert_eq!(delta(&d, Some(&r)).is_none(), contains(&r, &d));
    }

    #[test]
    fn merging_the_delta_into_reported_syncs_it(d in tree(), r in tree()) {
        let (d, r) = (object(d), object(r));
        if let Some(dl) = delta(&d, Some(&r)) {
            let mut merged = r.clone();
            json_patch::merge(&mut merged, &dl);
            prop_assert!(delta(&d, Some(&merged)).is_none(), "delta {dl} left over after the merge into {merged}");
        }
    }

    #[test]
    fn each_accepted_update_adds_exactly_one_version(updates in proptest::collection::vec((tree(), any::<bool>()), 1..6)) {
        let mut s = Shadows::default();
        let mut expected = 0;
        for (t, to_desired) in updates {
            let section = if to_desired { "desired" } else { "reported" };
            let body = json!({ "state": { section: object(t) } });
            if let Ok(u) = update(&mut s, body, T0) {
                expected += 1;
                prop_assert_eq!(u.accepted["version"].as_u64(), Some(expected));
            }
        }
    }
}

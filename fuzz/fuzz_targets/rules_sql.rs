//! IoT SQL: parse arbitrary text in both SQL versions and, when it parses, print it back and
//! evaluate it against a fixed JSON payload and a fixed binary payload.
#![no_main]
use iotmock_rules::sql::{Env, Message, Properties, SqlVersion, Template, Value, evaluate, parse};
use libfuzzer_sys::fuzz_target;

struct FakeEnv;

impl Env for FakeEnv {
    fn new_uuid(&self) -> String {
        "00000000-0000-4000-8000-000000000000".to_string()
    }
    fn rand(&self) -> f64 {
        0.5
    }
    fn thing_shadow(&self, thing: &str, _shadow: Option<&str>) -> Result<Value, String> {
        if thing == "t1" {
            Ok(Value::Object(vec![("state".into(), Value::Null)]))
        } else {
            Err("no shadow".into())
        }
    }
    fn registry_data(&self, api: &str, _thing: &str) -> Result<Value, String> {
        Ok(Value::String(api.to_string()))
    }
    fn lambda(&self, _function_arn: &str, input: &Value) -> Result<Value, String> {
        Ok(input.clone())
    }
}

const JSON: &[u8] = br#"{"a":1,"b":"x","c":[1,2,{"d":null}],"e":{"f":2.5,"g":true},"h":"TRUE"}"#;
const BINARY: &[u8] = &[0xff, 0x00, 0x7b, 0x22, 0x80];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let properties = Properties {
        user_properties: vec![("k".into(), "v".into())],
        ..Properties::default()
    };
    for version in [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23] {
        let _ = Template::parse(text, version, false);
        let Ok(stmt) = parse(text, version) else {
            continue;
        };
        let printed = stmt.to_string();
        assert_eq!(
            parse(&printed, version).as_ref(),
            Ok(&stmt),
            "printed as {printed}"
        );
        for payload in [JSON, BINARY] {
            let msg = Message {
                topic: "a/b",
                payload,
                client_id: Some("c"),
                principal: None,
                account: "123456789012",
                now_ms: 1_600_000_000_000,
                source_ip: None,
                trace_id: None,
                properties: &properties,
                parsed: None,
            };
            let _ = evaluate(&stmt, &msg, &FakeEnv);
        }
    }
});

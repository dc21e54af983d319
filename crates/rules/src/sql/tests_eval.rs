//! Evaluator tests: operators with Undefined, SELECT shapes, WHERE, nested queries, binary
//! payloads, SET variables, templates and aborts.

use super::tests_support::{FakeEnv, V15, V16, j, message, out, run, s, v, value_in};
use super::{Abort, Evaluation, Output, Template, Value, evaluate, parse};

const PAYLOAD: &str = r#"{"color":{"red":255,"green":0},"temperature":50,"name":"dev","on":"TRUE","n":null,"arr":[1,2,3]}"#;

#[test]
fn missing_attribute_is_undefined_and_null_is_null() {
    assert_eq!(value_in(V15, "nothing", PAYLOAD), Value::Undefined);
    assert_eq!(value_in(V15, "n", PAYLOAD), Value::Null);
    assert_eq!(value_in(V15, "color.red", PAYLOAD), Value::Int(255));
    assert_eq!(value_in(V15, "color.red.deeper", PAYLOAD), Value::Undefined);
    assert_eq!(value_in(V15, "arr[1]", PAYLOAD), Value::Int(2));
    assert_eq!(value_in(V15, "arr[7]", PAYLOAD), Value::Undefined);
}

#[test]
fn equality_rules() {
    assert_eq!(v("1 = 1.0"), Value::Bool(true));
    assert_eq!(v("'5' = 5"), Value::Bool(false));
    assert_eq!(v("'5' <> 5"), Value::Bool(true));
    assert_eq!(v("NULL = NULL"), Value::Bool(true));
    assert_eq!(v("NULL <> NULL"), Value::Bool(false));
    assert_eq!(v("x = 1"), Value::Undefined);
    assert_eq!(v("x <> 1"), Value::Undefined);
    assert_eq!(v("[1, 2] = [1, 2.0]"), Value::Bool(true));
    assert_eq!(v("[1, 2] = [2, 1]"), Value::Bool(false));
    assert_eq!(v("{'a': 1, 'b': 2} = {'b': 2, 'a': 1}"), Value::Bool(true));
    assert_eq!(v("{'a': 1} = {'a': 1, 'b': 2}"), Value::Bool(false));
    assert_eq!(v("true = 'true'"), Value::Bool(false));
}

#[test]
fn comparisons_convert_to_decimal() {
    assert_eq!(v("'10' > 9"), Value::Bool(true));
    assert_eq!(v("2.5 <= 2"), Value::Bool(false));
    assert_eq!(v("'abc' > 1"), Value::Undefined);
    assert_eq!(v("true > 1"), Value::Undefined);
    assert_eq!(v("x < 1"), Value::Undefined);
    assert_eq!(v("NULL < 1"), Value::Undefined);
    assert_eq!(v("'1e2' >= 100"), Value::Bool(true));
}

#[test]
fn logic_with_strings_and_undefined() {
    assert_eq!(v("true AND 'TRUE'"), Value::Bool(true));
    assert_eq!(v("'false' OR false"), Value::Bool(false));
    assert_eq!(v("true AND 1"), Value::Undefined);
    assert_eq!(v("false AND x"), Value::Undefined);
    assert_eq!(v("true OR x"), Value::Undefined);
    assert_eq!(v("NOT 'False'"), Value::Bool(true));
    assert_eq!(v("NOT 0"), Value::Undefined);
    assert_eq!(v("NOT x"), Value::Undefined);
}

#[test]
fn arithmetic() {
    assert_eq!(v("1 + 2"), Value::Int(3));
    assert_eq!(v("1 + 2.5"), Value::Decimal(3.5));
    assert_eq!(v("'1' + 2"), s("12"));
    assert_eq!(v("'1' + '2'"), s("12"));
    assert_eq!(v("'a' + true"), s("atrue"));
    assert_eq!(v("'a' + [1]"), s("a[1]"));
    assert_eq!(v("'a' + NULL"), Value::Undefined);
    assert_eq!(v("'a' + x"), Value::Undefined);
    assert_eq!(v("true + 1"), Value::Undefined);
    assert_eq!(v("7 / 2"), Value::Int(3));
    assert_eq!(v("-7 / 2"), Value::Int(-3));
    assert_eq!(v("7.0 / 2"), Value::Decimal(3.5));
    assert_eq!(v("'7' - 2"), Value::Decimal(5.0));
    assert_eq!(v("'x' - 2"), Value::Undefined);
    assert_eq!(v("1 / 0"), Value::Undefined);
    assert_eq!(v("1.5 / 0"), Value::Undefined);
    assert_eq!(v("7 % 3"), Value::Int(1));
    assert_eq!(v("-7 % 3"), Value::Int(-1));
    assert_eq!(v("7.5 % 2"), Value::Decimal(1.5));
    assert_eq!(v("7 % 0"), Value::Undefined);
    assert_eq!(v("3 * 4"), Value::Int(12));
    assert_eq!(v("-x"), Value::Undefined);
    assert_eq!(v("-'2'"), Value::Decimal(-2.0));
    assert_eq!(
        v("9223372036854775807 + 1"),
        Value::Decimal(9_223_372_036_854_775_808.0)
    );
}

#[test]
fn case_expressions() {
    assert_eq!(
        value_in(
            V15,
            "CASE color.red WHEN 0 THEN 'none' WHEN 255 THEN 'full' END",
            PAYLOAD
        ),
        s("full")
    );
    assert_eq!(v("CASE 3 WHEN 1 THEN 'a' END"), Value::Undefined);
    assert_eq!(v("CASE 3 WHEN 1 THEN 'a' ELSE 'z' END"), s("z"));
    assert_eq!(v("CASE x WHEN 1 THEN 'a' ELSE 'z' END"), Value::Undefined);
    assert_eq!(
        v("CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END"),
        s("b")
    );
}

#[test]
fn select_shapes() {
    assert_eq!(
        out(V15, "SELECT * FROM 't'", r#"{"b":1,"a":2}"#),
        r#"{"b":1,"a":2}"#
    );
    assert_eq!(
        out(V15, "SELECT color FROM 't'", PAYLOAD),
        r#"{"color":{"red":255,"green":0}}"#
    );
    assert_eq!(
        out(V15, "SELECT color.red FROM 't'", PAYLOAD),
        r#"{"red":255}"#
    );
    assert_eq!(
        out(V15, "SELECT color.red AS r FROM 't'", PAYLOAD),
        r#"{"r":255}"#
    );
    assert_eq!(
        out(V15, "SELECT *, 15 AS speed FROM 't'", r#"{"a":1}"#),
        r#"{"a":1,"speed":15}"#
    );
    assert_eq!(
        out(V15, "SELECT *, 2 AS a FROM 't'", r#"{"a":1}"#),
        r#"{"a":2}"#
    );
    assert_eq!(
        out(
            V15,
            "SELECT a.b AS x.y, 2 AS x.z FROM 't'",
            r#"{"a":{"b":1}}"#
        ),
        r#"{"x":{"y":1,"z":2}}"#
    );
    assert_eq!(
        out(V15, "SELECT missing, 1 AS one FROM 't'", "{}"),
        r#"{"one":1}"#
    );
    assert_eq!(out(V15, "SELECT missing FROM 't'", "{}"), "{}");
    assert_eq!(out(V15, "SELECT VALUE color.red FROM 't'", PAYLOAD), "255");
    assert_eq!(out(V15, "SELECT VALUE missing FROM 't'", PAYLOAD), "");
    assert_eq!(
        out(V15, "SELECT upper(name) FROM 't'", PAYLOAD),
        r#"{"_1":"DEV"}"#
    );
    assert_eq!(
        out(V16, "SELECT VALUE [1, name] FROM 't'", PAYLOAD),
        r#"[1,"dev"]"#
    );
}

#[test]
fn whole_decimals_become_ints_in_2016_only() {
    assert_eq!(out(V15, "SELECT 10.0 AS d FROM 't'", "{}"), r#"{"d":10.0}"#);
    assert_eq!(
        out(
            V16,
            "SELECT 10.0 AS d, cast(10 AS Decimal) AS c, 2.5 AS h FROM 't'",
            "{}"
        ),
        r#"{"d":10,"c":10,"h":2.5}"#
    );
}

#[test]
fn where_fails_closed_and_says_why() {
    let Evaluation::Filtered { why } =
        run(V15, "SELECT * FROM 't' WHERE temperature > 50", PAYLOAD)
    else {
        panic!()
    };
    assert_eq!(why, "WHERE temperature > 50 is false: temperature is 50");
    let Evaluation::Filtered { why } = run(V15, "SELECT * FROM 't' WHERE temp > 50", PAYLOAD)
    else {
        panic!()
    };
    assert_eq!(why, "WHERE is Undefined: temp is Undefined");
    let sql = "SELECT * FROM 't' WHERE name = 'dev' AND color.red < 10";
    let Evaluation::Filtered { why } = run(V15, sql, PAYLOAD) else {
        panic!()
    };
    assert_eq!(why, "WHERE color.red < 10 is false: color.red is 255");
    let Evaluation::Filtered { why } = run(V15, "SELECT * FROM 't' WHERE on", PAYLOAD) else {
        panic!()
    };
    assert_eq!(why, "WHERE on is \"TRUE\", not a Boolean: on is \"TRUE\"");
    assert!(matches!(
        run(V15, "SELECT * FROM 't' WHERE temperature = 50", PAYLOAD),
        Evaluation::Matched { .. }
    ));
}

#[test]
fn where_cannot_see_aliases() {
    let sql = "SELECT temperature AS t FROM 'x' WHERE t = 50";
    assert!(matches!(
        run(V15, sql, PAYLOAD),
        Evaluation::Filtered { .. }
    ));
}

#[test]
fn nested_queries() {
    let payload = r#"{"e":[{"n":"temperature","v":22.5},{"n":"humidity","v":40}]}"#;
    let sql = "SELECT (SELECT v FROM e WHERE n = 'temperature') AS t FROM 'x'";
    assert_eq!(out(V16, sql, payload), r#"{"t":[{"v":22.5}]}"#);
    let sql = "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v AS t FROM 'x'";
    assert_eq!(out(V16, sql, payload), r#"{"t":22.5}"#);
    let sql =
        "SELECT (SELECT VALUE n FROM e) AS names, (SELECT * FROM e WHERE v > 30) AS big FROM 'x'";
    assert_eq!(
        out(V16, sql, payload),
        r#"{"names":["temperature","humidity"],"big":[{"n":"humidity","v":40}]}"#
    );
    assert_eq!(
        out(V16, "SELECT (SELECT v FROM nothing) AS t FROM 'x'", payload),
        "{}"
    );
}

#[test]
fn binary_payloads() {
    let bytes = [0xffu8, 0x00, 0x10, 0x80];
    let env = FakeEnv::default();
    let eval = |sql: &str| evaluate(&parse(sql, V16).unwrap(), &message(&bytes), &env).unwrap();
    let Evaluation::Matched { output, .. } = eval("SELECT * FROM 't'") else {
        panic!()
    };
    assert_eq!(output, Output::Bytes(bytes.to_vec()));
    assert_eq!(output.to_bytes(), bytes.to_vec());
    let Evaluation::Matched { output, .. } =
        eval("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 't'")
    else {
        panic!()
    };
    assert_eq!(
        output.to_bytes(),
        br#"{"data":"/wAQgA==","ts":1600000000123}"#.to_vec()
    );
    assert!(matches!(
        eval("SELECT * FROM 't' WHERE device_type = 'x'"),
        Evaluation::Filtered { .. }
    ));
    let Evaluation::Matched { output, .. } = eval("SELECT *, 1 AS x FROM 't'") else {
        panic!()
    };
    assert_eq!(output, Output::Bytes(bytes.to_vec()));
    let Evaluation::Matched { output, .. } = eval("SELECT a FROM 't'") else {
        panic!()
    };
    assert_eq!(output.to_bytes(), b"{}".to_vec());
}

#[test]
fn empty_and_scalar_json_payloads() {
    assert_eq!(
        out(V16, "SELECT *, principal() AS p FROM 't'", ""),
        r#"{"p":"abc123"}"#
    );
    assert_eq!(out(V16, "SELECT * FROM 't'", "80"), "80");
    let sql = "SELECT VALUE decode(encode(*, 'base64'), 'base64') + 1 FROM 't'";
    assert_eq!(out(V16, sql, "80"), "81");
}

#[test]
fn set_variables_flow_everywhere() {
    let sql = "SET @t = temperature, @hot = @t > 40 SELECT @t AS t, @hot FROM 'x' WHERE @hot";
    let Evaluation::Matched { output, variables } = run(V16, sql, PAYLOAD) else {
        panic!()
    };
    assert_eq!(output.to_bytes(), br#"{"t":50,"hot":true}"#.to_vec());
    assert_eq!(
        variables,
        vec![
            ("t".to_string(), Value::Int(50)),
            ("hot".to_string(), Value::Bool(true))
        ]
    );
    let sql = "SET @c = color SELECT VALUE @c.red FROM 'x'";
    assert_eq!(out(V16, sql, PAYLOAD), "255");
}

#[test]
fn external_failures_abort() {
    let env = FakeEnv::default();
    let msg = message(PAYLOAD.as_bytes());
    let stmt = parse(
        "SELECT get_thing_shadow('nope', 'arn:role') AS s FROM 't'",
        V16,
    )
    .unwrap();
    let e = evaluate(&stmt, &msg, &env).unwrap_err();
    assert_eq!(
        e,
        Abort {
            function: "get_thing_shadow".into(),
            message: "no shadow for thing nope".into()
        }
    );
    let stmt = parse(
        "SELECT get_thing_shadow('t1', 'named', 'arn:role').name AS s FROM 't'",
        V16,
    )
    .unwrap();
    let Evaluation::Matched { output, .. } = evaluate(&stmt, &msg, &env).unwrap() else {
        panic!()
    };
    assert_eq!(output.to_bytes(), br#"{"s":"named"}"#.to_vec());
    let stmt = parse("SELECT aws_lambda('arn:f:fail', *) AS r FROM 't'", V15).unwrap();
    assert_eq!(
        evaluate(&stmt, &msg, &env).unwrap_err().function,
        "aws_lambda"
    );
    let stmt = parse("SELECT aws_lambda('arn:f', *).echo.name AS r FROM 't'", V15).unwrap();
    let Evaluation::Matched { output, .. } = evaluate(&stmt, &msg, &env).unwrap() else {
        panic!()
    };
    assert_eq!(output.to_bytes(), br#"{"r":"dev"}"#.to_vec());
    let stmt = parse("SELECT get_dynamodb('t', 'k', 1, 'arn') AS r FROM 't'", V16).unwrap();
    assert!(
        evaluate(&stmt, &msg, &env)
            .unwrap_err()
            .message
            .contains("DynamoDB")
    );
    let stmt = parse(
        "SELECT get_registry_data('DescribeThing', 't1', 'arn').api AS r FROM 't'",
        V15,
    )
    .unwrap();
    let Evaluation::Matched { output, .. } = evaluate(&stmt, &msg, &env).unwrap() else {
        panic!()
    };
    assert_eq!(output.to_bytes(), br#"{"r":"DescribeThing"}"#.to_vec());
}

#[test]
fn filtered_where_does_not_call_lambda_again() {
    let env = FakeEnv::default();
    let msg = message(PAYLOAD.as_bytes());
    let stmt = parse(
        "SELECT * FROM 't' WHERE aws_lambda('arn:f', 1).echo = 2",
        V15,
    )
    .unwrap();
    assert!(matches!(
        evaluate(&stmt, &msg, &env).unwrap(),
        Evaluation::Filtered { .. }
    ));
    assert_eq!(env.lambda_calls.get(), 1);
}

#[test]
fn templates_render_against_the_original_message() {
    let env = FakeEnv::default();
    let msg = message(PAYLOAD.as_bytes());
    let vars = vec![("v".to_string(), Value::Int(7))];
    let render = |t: &str| {
        Template::parse(t, V16, true)
            .unwrap()
            .render(&msg, &vars, &env)
            .unwrap()
    };
    assert_eq!(render("${topic()}/${timestamp()}"), "a/b/c/1600000000123");
    assert_eq!(
        render("t=${temperature} c=${color} m=${missing} n=${n}"),
        r#"t=50 c={"red":255,"green":0} m= n="#
    );
    assert_eq!(render("${@v * 2}-${topic(2)}"), "14-b");
    assert_eq!(render("${ts}"), "");
    assert_eq!(render("${10.0}"), "10");
    assert_eq!(render("plain"), "plain");
    assert_eq!(render("${'}'}x${'$'}"), "}x$");
    let t = Template::parse("${get_thing_shadow('nope', 'arn')}", V16, true).unwrap();
    assert!(t.render(&msg, &vars, &env).is_err());
}

#[test]
fn value_json_round_trip() {
    let text = r#"{"z":1,"a":[1,2.5,"x",null,true,{"k":{}}],"m":-3}"#;
    let value = j(text);
    assert_eq!(value.to_json_text(), text);
    assert_eq!(
        Value::from_json(&value.to_serde().unwrap())
            .to_json_text()
            .len(),
        text.len()
    );
    let with_undefined = Value::Object(vec![
        ("a".into(), Value::Undefined),
        ("b".into(), Value::Array(vec![Value::Undefined])),
    ]);
    assert_eq!(with_undefined.to_json_text(), r#"{"b":[]}"#);
    assert_eq!(Value::Undefined.to_json_text(), "");
    assert_eq!(Value::Undefined.to_serde(), None);
    assert_eq!(
        j(r#"{"a":1,"a":2,"b":3}"#).to_json_text(),
        r#"{"a":2,"b":3}"#
    );
}

#[test]
fn standard_conversions() {
    assert_eq!(
        Value::Decimal(22.5).to_sql_string().as_deref(),
        Some("22.5")
    );
    assert_eq!(Value::Null.to_sql_string(), None);
    assert_eq!(Value::Bool(false).to_sql_string().as_deref(), Some("false"));
    assert_eq!(s("2.7").to_int(), Some(2));
    assert_eq!(Value::Decimal(2.5).to_int(), Some(3));
    assert_eq!(Value::Decimal(-2.5).to_int(), Some(-3));
    assert_eq!(s("1.5E2").to_decimal(), Some(150.0));
    assert_eq!(s("1.5e-2").to_decimal(), Some(0.015));
    assert_eq!(s(" 1").to_decimal(), None);
    assert_eq!(s("1.").to_decimal(), None);
    assert_eq!(s("+1").to_decimal(), None);
    assert_eq!(s("TrUe").to_bool(), Some(true));
    assert_eq!(Value::Int(1).to_bool(), None);
}

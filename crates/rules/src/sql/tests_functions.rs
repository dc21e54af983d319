//! Function tests (P0 and P1): results from the AWS IoT developer guide's examples, and the
//! Undefined cases.

use super::Value;
use super::tests_support::{V15, V16, j, s, v, value_in};

const U: Value = Value::Undefined;

#[test]
fn message_functions() {
    assert_eq!(v("topic()"), s("a/b/c"));
    assert_eq!(v("topic(1)"), s("a"));
    assert_eq!(v("topic(3)"), s("c"));
    assert_eq!(v("topic(4)"), U);
    assert_eq!(v("topic(0)"), U);
    assert_eq!(v("topic('1')"), U);
    assert_eq!(v("clientid()"), s("c1"));
    assert_eq!(v("timestamp()"), Value::Int(1_600_000_000_123));
    assert_eq!(v("newuuid()"), s("00000000-0000-4000-8000-000000000001"));
    assert_eq!(v("principal()"), s("abc123"));
    assert_eq!(v("accountid()"), s("123456789012"));
    assert_eq!(v("sql_version()"), s("2016-03-23"));
    assert_eq!(value_in(V15, "sql_version()", "{}"), s("2015-10-08"));
    assert_eq!(v("traceid()"), U);
    assert_eq!(v("sourceip()"), s("10.0.0.1"));
}

#[test]
fn concat() {
    assert_eq!(v("concat()"), U);
    assert_eq!(v("concat(1)"), Value::Int(1));
    assert_eq!(v("concat('a', 1, true)"), s("a1true"));
    assert_eq!(v("concat([1, 2], 3, [4])"), j("[1,2,3,4]"));
    assert_eq!(v("concat(1, 2)"), U);
    assert_eq!(v("concat('a', x)"), U);
    assert_eq!(v("concat('a', NULL)"), U);
}

#[test]
fn replace_and_regexps() {
    assert_eq!(v("replace('abcabc', 'b', 'x')"), s("axcaxc"));
    assert_eq!(v("replace(123, 2, 9)"), s("193"));
    assert_eq!(v("replace('a', x, 'b')"), U);
    assert_eq!(v("regexp_matches('aaaa', 'a{2,}')"), Value::Bool(true));
    assert_eq!(v("regexp_matches('xaby', 'ab')"), Value::Bool(true));
    assert_eq!(v("regexp_matches('xy', 'ab')"), Value::Bool(false));
    assert_eq!(v("regexp_matches('x', '(')"), U);
    assert_eq!(v("regexp_replace('abcd', 'bc', 'x')"), s("axd"));
    assert_eq!(
        v("regexp_replace('a1b22', '([a-z])(\\d+)', '$2$1')"),
        s("1a22b")
    );
    assert_eq!(v("regexp_replace('ab', 'a', '\\$')"), s("$b"));
    assert_eq!(v("regexp_replace('ab', 'a', '$9')"), U);
    assert_eq!(v("regexp_substr('hihihello', '(hi)*')"), s("hihi"));
    assert_eq!(v("regexp_substr('hihihello', 'x')"), s(""));
    assert_eq!(v("regexp_substr(x, 'x')"), U);
}

#[test]
fn substring() {
    assert_eq!(v("substring('012345', 0)"), s("012345"));
    assert_eq!(v("substring('012345', 2)"), s("2345"));
    assert_eq!(v("substring('012345', 2.745)"), s("2345"));
    assert_eq!(v("substring(123, 2)"), s("3"));
    assert_eq!(v("substring('012345', -50, 50)"), s("012345"));
    assert_eq!(v("substring('012345', 3, 1)"), s(""));
    assert_eq!(v("substring('012345', 1, 3)"), s("12"));
    assert_eq!(v("substring(true, 1.2)"), s("rue"));
    assert_eq!(v("substring(x, 1)"), U);
    assert_eq!(v("substring('abc', 'x')"), U);
}

#[test]
fn case_and_trim() {
    assert_eq!(v("lower('HeLLo')"), s("hello"));
    assert_eq!(v("upper('hello')"), s("HELLO"));
    assert_eq!(v("lower(['HELLO'])"), s("[\"hello\"]"));
    assert_eq!(v("upper(x)"), U);
    assert_eq!(v("upper(NULL)"), U);
    assert_eq!(v("trim(' \t a b \t')"), s("a b"));
    assert_eq!(v("ltrim(' a ')"), s("a "));
    assert_eq!(v("rtrim(' a ')"), s(" a"));
    assert_eq!(v("trim(1)"), s("1"));
    assert_eq!(v("trim(NULL)"), U);
}

#[test]
fn cast() {
    assert_eq!(v("cast(2.7 AS Int)"), Value::Int(2));
    assert_eq!(v("cast(-2.5 AS Int)"), Value::Int(-3));
    assert_eq!(v("cast('2.7' AS Integer)"), Value::Int(2));
    assert_eq!(v("cast(true AS Int)"), Value::Int(1));
    assert_eq!(v("cast(false AS Decimal)"), Value::Decimal(0.0));
    assert_eq!(v("cast(3 AS Double)"), Value::Decimal(3.0));
    assert_eq!(v("cast(0 AS Boolean)"), Value::Bool(false));
    assert_eq!(v("cast(0.5 AS Bool)"), Value::Bool(true));
    assert_eq!(v("cast('TRUE' AS Boolean)"), Value::Bool(true));
    assert_eq!(v("cast('yes' AS Boolean)"), U);
    assert_eq!(v("cast(12 AS String)"), s("12"));
    assert_eq!(v("cast({'a': 1} AS varchar)"), s("{\"a\":1}"));
    assert_eq!(v("cast(NULL AS String)"), U);
    assert_eq!(v("cast(x AS Int)"), U);
    assert_eq!(v("cast('abc' AS Int)"), U);
    assert_eq!(v("cast(1 AS Blob)"), U);
}

#[test]
fn undefined_and_null_checks() {
    assert_eq!(v("isUndefined(x)"), Value::Bool(true));
    assert_eq!(v("isUndefined(NULL)"), Value::Bool(false));
    assert_eq!(v("isNull(NULL)"), Value::Bool(true));
    assert_eq!(v("isNull(x)"), Value::Bool(false));
    assert_eq!(v("get_or_default(x, 5)"), Value::Int(5));
    assert_eq!(v("get_or_default(NULL, 5)"), Value::Null);
    assert_eq!(v("get_or_default(1, 5)"), Value::Int(1));
}

#[test]
fn get() {
    assert_eq!(v("get([1, 2, 3], 1)"), Value::Int(2));
    assert_eq!(v("get([1, 2, 3], 3)"), U);
    assert_eq!(v("get([1, 2, 3], -1)"), U);
    assert_eq!(v("get('abc', 1)"), s("b"));
    assert_eq!(v("get('abc', 5)"), U);
    assert_eq!(
        value_in(V15, "get(*, 'my-key')", r#"{"my-key":7}"#),
        Value::Int(7)
    );
    assert_eq!(v("get({'a b': 1}, 'a b')"), Value::Int(1));
    assert_eq!(v("get(1, 1)"), U);
    assert_eq!(v("[10, 20][1]"), Value::Int(20));
}

#[test]
fn encode_and_decode() {
    assert_eq!(v("encode('hello', 'base64')"), s("aGVsbG8="));
    assert_eq!(v("encode(12, 'base64')"), s("MTI="));
    assert_eq!(v("encode('x', 'hex')"), U);
    assert_eq!(v("encode(x, 'base64')"), U);
    assert_eq!(
        value_in(V16, "encode(*, 'base64')", r#"{"a":1}"#),
        s("eyJhIjoxfQ==")
    );
    assert_eq!(v("decode('aGVsbG8=', 'base64')"), s("hello"));
    assert_eq!(v("decode('eyJhIjoxfQ==', 'base64').a"), Value::Int(1));
    assert_eq!(v("decode('eyJhIjoxfQ', 'base64').a"), Value::Int(1));
    assert_eq!(v("decode('!!!', 'base64')"), Value::Null);
    assert_eq!(v("decode('aGVsbG8=', 'proto')"), U);
    assert_eq!(v("decode(x, 'base64')"), U);
}

#[test]
fn starts_ends_index_length() {
    assert_eq!(v("startswith('abc', 'ab')"), Value::Bool(true));
    assert_eq!(v("startswith(123, 1)"), Value::Bool(true));
    assert_eq!(v("endswith('abc', 'bc')"), Value::Bool(true));
    assert_eq!(v("endswith('abc', 'b')"), Value::Bool(false));
    assert_eq!(v("startswith(NULL, 'a')"), U);
    assert_eq!(v("endswith('a', x)"), U);
    assert_eq!(v("indexof('abcd', 'cd')"), Value::Int(2));
    assert_eq!(v("indexof('héllo', 'l')"), Value::Int(2));
    assert_eq!(v("indexof('abcd', 'x')"), Value::Int(-1));
    assert_eq!(v("indexof(123, '2')"), U);
    assert_eq!(v("length('héllo')"), Value::Int(5));
    assert_eq!(v("length(false)"), Value::Int(5));
    assert_eq!(v("length(x)"), U);
}

#[test]
fn rounding() {
    assert_eq!(v("abs(-5)"), Value::Int(5));
    assert_eq!(v("abs(-5.5)"), Value::Decimal(5.5));
    assert_eq!(v("abs('-3')"), Value::Decimal(3.0));
    assert_eq!(v("abs('x')"), U);
    assert_eq!(v("floor(1.8)"), Value::Int(1));
    assert_eq!(v("floor(-1.2)"), Value::Int(-2));
    assert_eq!(v("ceil('1.2')"), Value::Int(2));
    assert_eq!(v("ceil(-1.8)"), Value::Int(-1));
    assert_eq!(v("round(1.5)"), Value::Int(2));
    assert_eq!(v("round(-1.5)"), Value::Int(-2));
    assert_eq!(v("round(-1.1)"), Value::Int(-1));
    assert_eq!(v("round(1.2)"), Value::Int(1));
    assert_eq!(v("round(7)"), Value::Int(7));
    assert_eq!(v("round(true)"), U);
    assert_eq!(v("mod(8, 3)"), Value::Int(2));
    assert_eq!(v("remainder(-8, 3)"), Value::Int(-2));
    assert_eq!(v("mod(8.5, '3')"), Value::Decimal(2.5));
    assert_eq!(v("mod(8, 0)"), U);
    assert_eq!(v("mod(x, 1)"), U);
}

#[test]
fn mqtt_properties() {
    assert_eq!(v("get_mqtt_property('format_indicator')"), s("UTF8_DATA"));
    assert_eq!(
        v("get_mqtt_property('content_type')"),
        s("application/json")
    );
    assert_eq!(v("get_mqtt_property('response_topic')"), U);
    assert_eq!(v("get_mqtt_property('correlation_data')"), s("YWJj"));
    assert_eq!(v("get_mqtt_property('nope')"), U);
    assert_eq!(v("get_user_properties('k')"), j(r#"["v1","v2"]"#));
    assert_eq!(v("get_user_properties('none')"), U);
    assert_eq!(
        v("get_user_properties()"),
        j(r#"[{"k":"v1"},{"x":"y"},{"k":"v2"}]"#)
    );
}

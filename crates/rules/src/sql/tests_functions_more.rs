//! Function tests (P2): hashes, math, bits, padding, time, transform.

use super::Value;
use super::tests_support::{V15, j, s, v, value_in};

const U: Value = Value::Undefined;

fn close(value: Value, want: f64) {
    match value {
        Value::Decimal(d) => assert!((d - want).abs() < 1e-12, "{d} vs {want}"),
        other => panic!("{other:?} vs {want}"),
    }
}

#[test]
fn hashes() {
    assert_eq!(
        value_in(V15, "md5(deviceid)", r#"{"deviceid":"iot123"}"#),
        s("e37f81fb397e595c4aeb5645b8cbbbd1")
    );
    assert_eq!(
        v("sha1('abc')"),
        s("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        v("sha256(1)"),
        s("6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b")
    );
    assert_eq!(v("md2(x)"), U);
    assert_eq!(v("sha512(NULL)"), U);
}

#[test]
fn math() {
    close(v("acos(0.5)"), 0.5f64.acos());
    close(v("asin('0.5')"), 0.5f64.asin());
    close(v("atan2(1, 0)"), std::f64::consts::FRAC_PI_2);
    close(v("cos(0)"), 1.0);
    close(v("exp(1)"), std::f64::consts::E);
    close(v("ln(1)"), 0.0);
    close(v("log(100)"), 2.0);
    close(v("sqrt(16)"), 4.0);
    close(v("power(2, 10)"), 1024.0);
    close(v("tanh(0)"), 0.0);
    assert_eq!(v("sqrt(-1)"), U);
    assert_eq!(v("acos(2)"), U);
    assert_eq!(v("ln(0)"), U);
    assert_eq!(v("sin('x')"), U);
    assert_eq!(v("power(x, 2)"), U);
}

#[test]
fn sign_and_trunc() {
    assert_eq!(v("sign(-21.5)"), Value::Int(-1));
    assert_eq!(v("sign(0)"), Value::Int(0));
    assert_eq!(v("sign('5')"), Value::Int(1));
    assert_eq!(v("sign(x)"), U);
    assert_eq!(v("trunc(2.3, 0)"), Value::Int(2));
    assert_eq!(v("trunc(2.3123, 2)"), Value::Decimal(2.31));
    assert_eq!(v("trunc(2.888, 2)"), Value::Decimal(2.88));
    assert_eq!(v("trunc(2.55, 2)"), Value::Decimal(2.55));
    assert_eq!(v("trunc(2.00, 5)"), Value::Int(2));
    assert_eq!(v("trunc(-2.99, 1)"), Value::Decimal(-2.9));
    assert_eq!(v("trunc(7, 2)"), Value::Int(7));
    assert_eq!(v("trunc(x, 2)"), U);
}

#[test]
fn bits() {
    assert_eq!(v("bitand(13, 5)"), Value::Int(5));
    assert_eq!(v("bitor(13, 5)"), Value::Int(13));
    assert_eq!(v("bitxor(13, 5)"), Value::Int(8));
    assert_eq!(v("bitnot(13)"), Value::Int(-14));
    assert_eq!(v("bitand(13.7, '5')"), Value::Int(5));
    assert_eq!(v("bitor(x, 1)"), U);
}

#[test]
fn characters_and_padding() {
    assert_eq!(v("chr(65)"), s("A"));
    assert_eq!(v("chr(300)"), U);
    assert_eq!(v("chr('65')"), U);
    assert_eq!(v("lpad('hello', 2)"), s("  hello"));
    assert_eq!(v("rpad('hello', 2)"), s("hello  "));
    assert_eq!(v("lpad(1, 0)"), s("1"));
    assert_eq!(v("lpad('a', -3)"), s("a"));
    assert_eq!(v("length(rpad('', 5000))"), Value::Int(1000));
    assert_eq!(v("lpad(x, 1)"), U);
    assert_eq!(v("rpad('a', 2.9)"), s("a  "));
    assert_eq!(v("rpad('a', 'b')"), U);
    assert_eq!(v("numbytes('héllo')"), Value::Int(6));
    assert_eq!(v("numbytes(x)"), U);
}

#[test]
fn nanvl_and_rand() {
    assert_eq!(v("nanvl(x, 1)"), Value::Int(1));
    assert_eq!(v("nanvl(NULL, 1)"), Value::Int(1));
    assert_eq!(v("nanvl(2, 1)"), Value::Int(2));
    assert_eq!(v("rand()"), Value::Decimal(0.25));
}

#[test]
fn transform() {
    let payload = r#"{"attributes":{"id":"d1"},"values":[{"a":1},{"a":2,"id":"old"},3]}"#;
    assert_eq!(
        value_in(
            super::tests_support::V16,
            "transform('enrichArray', attributes, values)",
            payload
        ),
        j(r#"[{"a":1,"id":"d1"},{"a":2,"id":"d1"},3]"#)
    );
    assert_eq!(
        value_in(
            super::tests_support::V16,
            "transform('other', attributes, values)",
            payload
        ),
        U
    );
    assert_eq!(v("transform('enrichArray', 1, [])"), U);
}

#[test]
fn parse_time_formats_epoch_ms() {
    assert_eq!(
        v("parse_time('yyyy-MM-dd HH:mm:ss.SSS', 1600000000123)"),
        s("2020-09-13 12:26:40.123")
    );
    assert_eq!(
        v("parse_time(\"yyyy-MM-dd'T'HH:mm:ssZ\", 0, 'UTC')"),
        s("1970-01-01T00:00:00+0000")
    );
    assert_eq!(
        v("parse_time('yyyy-MM-dd HH:mm ZZ', 0, '+05:30')"),
        s("1970-01-01 05:30 +05:30")
    );
    assert_eq!(
        v("parse_time('EEE, d MMM yy h:mm a', 1600000000123)"),
        s("Sun, 13 Sep 20 12:26 PM")
    );
    assert_eq!(v("parse_time('EEEE MMMM D', 0)"), s("Thursday January 1"));
    assert_eq!(v("parse_time('yyyy', timestamp(), 'America/New_York')"), U);
    assert_eq!(v("parse_time('yyyy qq', 0)"), U);
    assert_eq!(v("parse_time('yyyy', 'x')"), U);
    assert_eq!(v("parse_time('yyyy-MM-dd', -86400000)"), s("1969-12-31"));
}

#[test]
fn time_to_epoch_parses() {
    assert_eq!(
        v("time_to_epoch('2020-09-13 12:26:40.123', 'yyyy-MM-dd HH:mm:ss.SSS')"),
        Value::Int(1_600_000_000_123)
    );
    assert_eq!(
        v("time_to_epoch('2020-09-13T14:26:40+02:00', \"yyyy-MM-dd'T'HH:mm:ssXXX\")"),
        Value::Int(1_600_000_000_000)
    );
    assert_eq!(
        v("time_to_epoch('2020-09-13T12:26:40Z', \"uuuu-MM-dd'T'HH:mm:ssX\")"),
        Value::Int(1_600_000_000_000)
    );
    assert_eq!(
        v("time_to_epoch('1970-01-02', 'yyyy-MM-dd')"),
        Value::Int(86_400_000)
    );
    assert_eq!(
        v("time_to_epoch('13 Sep 2020 12:26:40 PM', 'dd MMM yyyy hh:mm:ss a')"),
        Value::Int(1_600_000_000_000)
    );
    assert_eq!(v("time_to_epoch('2020-02-30', 'yyyy-MM-dd')"), U);
    assert_eq!(v("time_to_epoch('2020-09-13x', 'yyyy-MM-dd')"), U);
    assert_eq!(v("time_to_epoch('20-09-13', 'yyyy-MM-dd')"), U);
    assert_eq!(v("time_to_epoch('12:00', 'HH:mm')"), U);
}

//! Parser tests: statement shape, versions, what is refused, error positions, printing.

use super::tests_support::{V15, V16};
use super::{BinOp, CastType, Expr, SelectItem, SqlVersion, Template, parse};

fn err(sql: &str, version: SqlVersion) -> String {
    match parse(sql, version) {
        Ok(stmt) => panic!("{sql} parsed as {stmt:?}"),
        Err(e) => e.message,
    }
}

fn expr(sql: &str) -> Expr {
    let stmt = parse(&format!("SELECT VALUE {sql}"), V16).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match stmt.items.into_iter().next() {
        Some(SelectItem::Expr { expr, .. }) => expr,
        other => panic!("{other:?}"),
    }
}

#[test]
fn version_strings() {
    assert_eq!(SqlVersion::parse(None), Ok(V15));
    assert_eq!(SqlVersion::parse(Some("2016-03-23")), Ok(V16));
    assert_eq!(SqlVersion::parse(Some("beta")), Ok(SqlVersion::Beta));
    let e = SqlVersion::parse(Some("2020-01-01")).unwrap_err();
    assert!(
        e.contains("2015-10-08") && e.contains("2016-03-23") && e.contains("beta"),
        "{e}"
    );
    assert_eq!(SqlVersion::Beta.as_str(), "beta");
}

#[test]
fn statement_parts() {
    let stmt = parse(
        "SELECT temp, color.red AS r FROM 'a/+/c' WHERE temp > 50",
        V15,
    )
    .unwrap();
    assert_eq!(stmt.topic_filter(), Some("a/+/c"));
    assert_eq!(stmt.version(), V15);
    assert_eq!(stmt.items.len(), 2);
    assert!(matches!(
        &stmt.where_clause,
        Some(Expr::Binary(BinOp::Gt, _, _))
    ));
    assert!(!stmt.uses_external());
    assert_eq!(
        parse("select * from '#'", V15).unwrap().items,
        vec![SelectItem::Star]
    );
    assert_eq!(parse("SELECT *", V15).unwrap().topic_filter(), None);
}

#[test]
fn from_needs_single_quotes() {
    let e = err("SELECT * FROM \"a/b\"", V15);
    assert!(
        e.starts_with("Expected a topic filter in single quotes at 1:15 (offset 14)"),
        "{e}"
    );
    assert!(err("SELECT * FROM a", V15).contains("single quotes"));
}

#[test]
fn error_names_position_and_expectation() {
    let e = parse("SELECT a, FROM 't'", V15).unwrap_err();
    assert_eq!(e.offset, 10);
    assert_eq!(
        e.message,
        "Expected an expression at 1:11 (offset 10), found 'FROM'"
    );
    let e = parse("SELECT a\nWHERE", V15).unwrap_err();
    assert_eq!(
        e.message,
        "Expected an expression at 2:6 (offset 14), found end of input"
    );
    assert!(err("SELECT 'abc", V15).contains("unterminated string"));
    assert!(err("SELECT a FROM 't' extra", V15).contains("Expected end of input"));
    assert!(err("SELECT a # b", V15).contains("unexpected character '#'"));
}

#[test]
fn keywords_are_case_insensitive_and_function_names_are_attributes() {
    let stmt = parse("select Round(x) as r from 't' where Not flag And TRUE", V15).unwrap();
    assert!(
        matches!(&stmt.items[0], SelectItem::Expr { expr: Expr::Call(n, _), .. } if n == "round")
    );
    assert_eq!(expr("timestamp"), Expr::Attr("timestamp".into()));
    assert_eq!(expr("timestamp()"), Expr::Call("timestamp".into(), vec![]));
    assert_eq!(
        expr("topic.x"),
        Expr::Field(Box::new(Expr::Attr("topic".into())), "x".into())
    );
    assert_eq!(expr("NULL"), Expr::Null);
    assert_eq!(expr("\"dq\""), Expr::String("dq".into()));
    assert_eq!(expr("'it''s'"), Expr::String("it's".into()));
}

#[test]
fn precedence_is_standard_sql() {
    assert_eq!(expr("1 + 2 * 3").to_string(), "(1 + (2 * 3))");
    assert_eq!(expr("a OR b AND c").to_string(), "(a OR (b AND c))");
    assert_eq!(expr("NOT a = b").to_string(), "(NOT (a = b))");
    assert_eq!(expr("NOT a AND b").to_string(), "((NOT a) AND b)");
    assert_eq!(expr("-a.b * 2").to_string(), "((-a.b) * 2)");
    assert_eq!(expr("a - b - c").to_string(), "((a - b) - c)");
    assert_eq!(expr("a < b + 1").to_string(), "(a < (b + 1))");
    assert_eq!(expr("a[0].b").to_string(), "a[0].b");
}

#[test]
fn undocumented_operators_are_refused() {
    for sql in [
        "SELECT a FROM 't' WHERE a IS NULL",
        "SELECT a WHERE a IN (1)",
        "SELECT a WHERE a LIKE 'x'",
    ] {
        assert!(err(sql, V16).contains("is not supported"), "{sql}");
    }
    assert!(err("SELECT a WHERE a BETWEEN 1 AND 2", V16).contains("'BETWEEN' is not supported"));
    assert!(err("SELECT a WHERE a != 1", V16).contains("'!='"));
}

#[test]
fn version_gates() {
    for sql in [
        "SELECT {'a': 1} AS o",
        "SELECT [1, 2] AS a",
        "SELECT (SELECT v FROM e) AS t",
        "SELECT encode(*, 'base64') AS d",
        "SELECT isUndefined(a) AS u",
        "SELECT cast(a AS Decimal) AS d",
        "SELECT cast(a AS Bool) AS d",
        "SELECT parse_time('yyyy', timestamp()) AS y",
        "SELECT get_thing_shadow('t', 'arn') AS s",
    ] {
        let e = err(sql, V15);
        assert!(e.contains("needs SQL version 2016-03-23"), "{sql}: {e}");
        assert!(parse(sql, V16).is_ok(), "{sql}");
        assert!(parse(sql, SqlVersion::Beta).is_ok(), "{sql}");
    }
    assert!(
        parse(
            "SELECT cast(a AS Double) AS d, cast(a AS varchar) AS s",
            V15
        )
        .is_ok()
    );
    assert_eq!(
        expr("cast(a AS Integer)"),
        Expr::Cast(Box::new(Expr::Attr("a".into())), CastType::Int)
    );
    assert_eq!(
        expr("cast(a AS Blob)"),
        Expr::Cast(
            Box::new(Expr::Attr("a".into())),
            CastType::Unknown("Blob".into())
        )
    );
}

#[test]
fn functions_are_checked() {
    assert_eq!(
        err("SELECT nosuch(a) AS x", V16),
        "Unknown function 'nosuch' at 1:8 (offset 7)"
    );
    assert!(err("SELECT upper(a, b) AS x", V16).contains("takes 1 argument, not 2"));
    assert!(err("SELECT substring(a) AS x", V16).contains("takes 2 to 3 arguments"));
    assert!(err("SELECT replace() AS x", V16).contains("takes 3 arguments"));
    assert!(parse("SELECT concat() AS x, concat(a, b, c, d) AS y", V16).is_ok());
}

#[test]
fn external_functions() {
    let stmt = parse(
        "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS r",
        V15,
    )
    .unwrap();
    assert!(stmt.uses_external());
    let stmt = parse(
        "SELECT a WHERE get_registry_data('DescribeThing', 't1', 'arn').x = 1",
        V15,
    )
    .unwrap();
    assert!(stmt.uses_external());
    let nested = parse("SELECT (SELECT VALUE aws_lambda('f', x) FROM e) AS r", V16).unwrap();
    assert!(nested.uses_external());
    assert!(Template::parse("${get_thing_shadow('t1', 'arn').x}", V16, true).is_ok());
    let e = Template::parse("x ${get_thing_shadow('t1', 'arn').x}", V16, false).unwrap_err();
    assert!(
        e.message
            .contains("External function 'get_thing_shadow' is not allowed"),
        "{}",
        e.message
    );
    assert_eq!(e.offset, 4);
}

#[test]
fn set_variables() {
    let stmt = parse(
        "SET @a = 1, @b = @a + 1 SELECT @b AS b FROM 't' WHERE @a = 1",
        V16,
    )
    .unwrap();
    assert_eq!(stmt.sets.len(), 2);
    assert!(err("SELECT @x AS x", V16).contains("Variable '@x' is not declared by SET"));
    assert!(err("SET @a = @a SELECT 1 AS x", V16).contains("not declared"));
    assert!(err("SET @a = 1, @a = 2 SELECT 1 AS x", V16).contains("set twice"));
    assert!(err("SET a = 1 SELECT 1 AS x", V16).contains("Expected a variable"));
    let many: Vec<String> = (0..11).map(|i| format!("@v{i} = {i}")).collect();
    let e = err(&format!("SET {} SELECT 1 AS x", many.join(", ")), V16);
    assert!(e.contains("More than 10 SET variables"), "{e}");
    let ten: Vec<String> = (0..10).map(|i| format!("@v{i} = {i}")).collect();
    assert!(parse(&format!("SET {} SELECT 1 AS x", ten.join(", ")), V16).is_ok());
    assert!(
        err(&format!("SET @{} = 1 SELECT 1 AS x", "a".repeat(65)), V16).contains("longer than 64")
    );
    assert!(err("SELECT 1 AS x SET @a = 1", V16).contains("Expected end of input"));
    assert!(
        err("SET @r = 'x' SELECT get_thing_shadow('t', @r) AS s", V16)
            .contains("cannot be a variable")
    );
    assert!(
        err(
            "SET @m = 'enrichArray' SELECT transform(@m, a, b) AS s",
            V16
        )
        .contains("cannot be a variable")
    );
}

#[test]
fn select_value_and_aliases() {
    let stmt = parse("SELECT VALUE color FROM 't'", V15).unwrap();
    assert!(stmt.value);
    let stmt = parse("SELECT value FROM 't'", V15).unwrap();
    assert!(!stmt.value);
    assert_eq!(
        stmt.items[0],
        SelectItem::Expr {
            expr: Expr::Attr("value".into()),
            alias: None
        }
    );
    assert!(err("SELECT VALUE a, b FROM 't'", V16).contains("exactly one expression"));
    let stmt = parse("SELECT foo.bar AS bar.baz FROM 't'", V15).unwrap();
    let SelectItem::Expr { alias, .. } = &stmt.items[0] else {
        panic!()
    };
    assert_eq!(
        alias.as_deref(),
        Some(&["bar".to_string(), "baz".to_string()][..])
    );
}

#[test]
fn case_forms() {
    assert!(matches!(
        expr("CASE a WHEN 1 THEN 'x' ELSE 'y' END"),
        Expr::Case {
            operand: Some(_),
            ..
        }
    ));
    assert!(matches!(
        expr("CASE WHEN a > 1 THEN 'x' END"),
        Expr::Case {
            operand: None,
            otherwise: None,
            ..
        }
    ));
    assert!(err("SELECT CASE a END AS x", V16).contains("Expected WHEN"));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("SELECT {}1{} AS x", "(".repeat(5000), ")".repeat(5000));
    assert!(err(&deep, V16).contains("nested too deeply"));
    let long = format!("SELECT a{} AS x", " + a".repeat(5000));
    assert!(err(&long, V16).contains("nested too deeply"));
    let path = format!("SELECT a{} AS x", ".b".repeat(5000));
    assert!(err(&path, V16).contains("nested too deeply"));
}

#[test]
fn statements_at_the_height_limit_print_to_accepted_text() {
    for n in 90..=99 {
        for sql in [
            format!("SELECT VALUE {}a", "- ".repeat(n)),
            format!("SELECT VALUE {}a", "NOT ".repeat(n)),
            format!("SELECT VALUE a{}", " + a".repeat(n)),
            format!("SELECT VALUE {}a{}", "(a + ".repeat(n), ")".repeat(n)),
            format!("SELECT VALUE {}a{}", "abs(".repeat(n), ")".repeat(n)),
            format!("SELECT VALUE a{}", "[0]".repeat(n)),
        ] {
            let Ok(stmt) = parse(&sql, V16) else { continue };
            let printed = stmt.to_string();
            assert_eq!(parse(&printed, V16).as_ref(), Ok(&stmt), "{sql}");
        }
    }
    assert!(parse(&format!("SELECT VALUE {}a", "- ".repeat(99)), V16).is_ok());
    assert!(parse(&format!("SELECT VALUE {}a", "- ".repeat(100)), V16).is_err());
}

#[test]
fn printing_round_trips() {
    for sql in [
        "SET @a = 1 SELECT VALUE @a FROM 't/#'",
        "SELECT *, 15 AS speed, color.red, 'it''s' AS q FROM 'a/b' WHERE (temp > 50) AND NOT flag",
        "SELECT (SELECT VALUE v FROM e WHERE n = 'temperature') AS t, {'a': [1, 2.5, NULL]} AS o",
        "SELECT encode(*, 'base64') AS d, cast(x AS String) AS s, CASE a WHEN 1 THEN 2 END AS c",
        "SELECT -(-1) AS n, a[1 + 1].b AS i, (a + 1).b AS f, 1e300 AS big",
    ] {
        let stmt = parse(sql, V16).unwrap();
        let printed = stmt.to_string();
        assert_eq!(
            parse(&printed, V16).as_ref(),
            Ok(&stmt),
            "{sql} printed as {printed}"
        );
    }
}

#[test]
fn templates_parse() {
    let t = Template::parse("${topic()}/${timestamp()}", V16, true).unwrap();
    assert!(!t.is_static());
    assert!(
        Template::parse("plain $ text {}", V16, true)
            .unwrap()
            .is_static()
    );
    let e = Template::parse("a ${1 +} b", V16, true).unwrap_err();
    assert_eq!(e.offset, 7);
    assert!(
        Template::parse("${a", V16, true)
            .unwrap_err()
            .message
            .contains("Expected '}'")
    );
    assert!(Template::parse("${ {'k': 1}.k }", V16, true).is_ok());
    assert!(Template::parse("${@undeclared}", V16, true).is_ok());
    assert!(!Template::parse("${'}'}x", V16, true).unwrap().is_static());
    assert!(Template::parse("${1} ${'", V16, true).is_err());
}

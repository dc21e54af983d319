//! Property tests: printed statements parse back to the same tree, evaluation never panics on
//! any payload, and the lexer and parser never panic on any text.

use proptest::prelude::*;

use super::parser::is_reserved;
use super::tests_support::{FakeEnv, V15, V16, message};
use super::{
    BinOp, CastType, Expr, Query, SelectItem, SetVar, SqlVersion, Statement, Template, UnaryOp,
    evaluate, parse,
};

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,5}".prop_filter("reserved", |s| !is_reserved(s) && s != "value")
}

fn leaf(vars: Vec<String>) -> BoxedStrategy<Expr> {
    let base = prop_oneof![
        (0i64..1_000_000).prop_map(Expr::Int),
        (0.0f64..1e6).prop_map(Expr::Decimal),
        "\\PC{0,6}".prop_map(Expr::String),
        any::<bool>().prop_map(Expr::Bool),
        Just(Expr::Null),
        ident().prop_map(Expr::Attr),
    ];
    if vars.is_empty() {
        base.boxed()
    } else {
        prop_oneof![base, prop::sample::select(vars).prop_map(Expr::Var)].boxed()
    }
}

const BIN_OPS: [BinOp; 13] = [
    BinOp::Or,
    BinOp::And,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Rem,
];
const CALLS: [(&str, usize); 7] = [
    ("upper", 1),
    ("concat", 2),
    ("substring", 3),
    ("get", 2),
    ("timestamp", 0),
    ("abs", 1),
    ("topic", 1),
];

fn expr(vars: Vec<String>) -> BoxedStrategy<Expr> {
    leaf(vars)
        .prop_recursive(4, 24, 3, |inner| {
            let item = select_item(inner.clone());
            prop_oneof![
                (inner.clone(), ident()).prop_map(|(e, n)| Expr::Field(Box::new(e), n)),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::Index(Box::new(a), Box::new(b))),
                (any::<bool>(), inner.clone()).prop_map(|(neg, e)| {
                    Expr::Unary(if neg { UnaryOp::Neg } else { UnaryOp::Not }, Box::new(e))
                }),
                (
                    prop::sample::select(BIN_OPS.to_vec()),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|(op, a, b)| Expr::Binary(
                        op,
                        Box::new(a),
                        Box::new(b)
                    )),
                (
                    prop::sample::select(CALLS.to_vec()),
                    prop::collection::vec(inner.clone(), 3)
                )
                    .prop_map(|((name, n), mut args)| {
                        args.truncate(n);
                        Expr::Call(name.to_string(), args)
                    }),
                (inner.clone(), 0usize..4).prop_map(|(e, t)| {
                    let ty = [
                        CastType::String,
                        CastType::Int,
                        CastType::Decimal,
                        CastType::Bool,
                    ][t]
                        .clone();
                    Expr::Cast(Box::new(e), ty)
                }),
                (
                    prop::option::of(inner.clone()),
                    prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                    prop::option::of(inner.clone())
                )
                    .prop_map(|(o, whens, e)| Expr::Case {
                        operand: o.map(Box::new),
                        whens,
                        otherwise: e.map(Box::new)
                    }),
                prop::collection::vec(("\\PC{0,4}", inner.clone()), 0..3).prop_map(Expr::Object),
                prop::collection::vec(inner.clone(), 0..3).prop_map(Expr::Array),
                (
                    any::<bool>(),
                    prop::collection::vec(item, 1..3),
                    inner.clone(),
                    prop::option::of(inner)
                )
                    .prop_map(|(value, mut items, from, where_clause)| {
                        if value {
                            items = vec![SelectItem::Expr {
                                expr: from.clone(),
                                alias: None,
                            }];
                        }
                        Expr::Query(Box::new(Query {
                            value,
                            items,
                            from,
                            where_clause,
                        }))
                    }),
            ]
        })
        .boxed()
}

fn select_item(e: impl Strategy<Value = Expr> + 'static) -> BoxedStrategy<SelectItem> {
    prop_oneof![
        1 => Just(SelectItem::Star),
        4 => (e, prop::option::of(prop::collection::vec(ident(), 1..3)))
            .prop_map(|(expr, alias)| SelectItem::Expr { expr, alias }),
    ]
    .boxed()
}

fn statement() -> impl Strategy<Value = Statement> {
    (
        0usize..3,
        any::<bool>(),
        prop::option::of("\\PC{0,8}"),
        any::<bool>(),
    )
        .prop_flat_map(|(n_sets, value, from, beta)| {
            let vars: Vec<String> = (0..n_sets).map(|i| format!("v{i}")).collect();
            let sets: Vec<BoxedStrategy<SetVar>> = (0..n_sets)
                .map(|i| {
                    let name = format!("v{i}");
                    expr(vars[..i].to_vec())
                        .prop_map(move |expr| SetVar {
                            name: name.clone(),
                            expr,
                        })
                        .boxed()
                })
                .collect();
            let items = if value {
                expr(vars.clone())
                    .prop_map(|expr| vec![SelectItem::Expr { expr, alias: None }])
                    .boxed()
            } else {
                prop::collection::vec(select_item(expr(vars.clone())), 1..4).boxed()
            };
            let version = if beta { SqlVersion::Beta } else { V16 };
            (
                sets,
                items,
                prop::option::of(expr(vars)),
                Just((value, from, version)),
            )
                .prop_map(|(sets, items, where_clause, (value, from, version))| {
                    Statement {
                        version,
                        sets,
                        value,
                        items,
                        from,
                        where_clause,
                    }
                })
        })
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    let json = prop_oneof![
        Just("1".to_string()),
        Just("\"s\"".to_string()),
        Just("null".to_string()),
        Just("[1,\"2\",{\"a\":3}]".to_string()),
        Just("{\"a\":{\"b\":[1,2]}}".to_string()),
        Just("-1.5e300".to_string()),
        Just("\"true\"".to_string()),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (prop::collection::vec(json, 0..6)).prop_map(|vals| {
            let fields: Vec<String> = ["a", "b", "e", "x", "v0", "n"]
                .iter()
                .zip(vals)
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", fields.join(",")).into_bytes()
        }),
    ]
}

const STATEMENTS: [&str; 12] = [
    "SELECT * FROM 't'",
    "SELECT *, encode(*, 'base64') AS d, timestamp() AS ts FROM 't' WHERE a > 1 OR b = 'x'",
    "SELECT VALUE decode(encode(*, 'base64'), 'base64') FROM 't'",
    "SELECT a.b[1] AS x.y, concat(a, b, e) AS c, substring(x, a, b) AS s FROM 't' WHERE NOT isNull(a)",
    "SELECT (SELECT VALUE a FROM e WHERE a > 0) AS q, transform('enrichArray', a, e) AS t FROM 't'",
    "SELECT a + b, a - b, a * b, a / b, a % b, -a, mod(a, b), round(a), trunc(a, b) FROM 't'",
    "SELECT cast(a AS Int) AS i, cast(b AS Decimal) AS d, cast(e AS Boolean) AS b, cast(x AS String) AS s FROM 't'",
    "SELECT parse_time('yyyy-MM-dd HH:mm:ss.SSS Z', a, b) AS p, time_to_epoch(x, e) AS t FROM 't'",
    "SELECT regexp_replace(x, a, b) AS r, regexp_substr(e, a) AS s, lpad(a, b) AS l, chr(a) AS c FROM 't'",
    "SET @v = a SELECT CASE @v WHEN 1 THEN 'one' ELSE get(e, 0) END AS c, sha512(e) AS h, power(a, b) AS p FROM 't'",
    "SELECT bitand(a, b), bitnot(x), sqrt(a), ln(b), atan2(a, b), sign(e), numbytes(x), indexof(x, a) FROM 't'",
    "SELECT aws_lambda('f', *) AS l FROM 't' WHERE get_thing_shadow(x, 'r').s = 1",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_statements_parse_back(stmt in statement()) {
        let printed = stmt.to_string();
        let parsed = parse(&printed, stmt.version);
        prop_assert_eq!(parsed.as_ref(), Ok(&stmt), "printed as {}", printed);
    }

    #[test]
    fn generated_statements_evaluate_without_panicking(stmt in statement(), body in payload()) {
        let env = FakeEnv::default();
        let _ = evaluate(&stmt, &message(&body), &env);
    }

    #[test]
    fn evaluation_never_panics(body in payload(), which in 0..STATEMENTS.len()) {
        let env = FakeEnv::default();
        for version in [V15, V16] {
            if let Ok(stmt) = parse(STATEMENTS[which], version) {
                let _ = evaluate(&stmt, &message(&body), &env);
            }
        }
    }

    #[test]
    fn parser_never_panics_on_text(text in "\\PC{0,80}") {
        let _ = parse(&text, V15);
        let _ = parse(&text, V16);
        let _ = Template::parse(&text, V16, false);
    }

    #[test]
    fn parser_never_panics_on_token_soup(tokens in prop::collection::vec(prop::sample::select(vec![
        "SELECT", "VALUE", "FROM", "WHERE", "SET", "@a", "=", "a", ".", "[", "]", "(", ")", "{", "}", ":",
        ",", "*", "'t'", "\"s\"", "1", "2.5", "-", "+", "AND", "NOT", "CASE", "WHEN", "THEN", "ELSE",
        "END", "AS", "cast", "concat", "${", "IS", "1e5", "get", "encode",
    ]), 0..30)) {
        let text = tokens.join(" ");
        for version in [V15, V16] {
            if let Ok(stmt) = parse(&text, version) {
                let printed = stmt.to_string();
                prop_assert_eq!(parse(&printed, version), Ok(stmt.clone()), "{} printed as {}", text, printed);
                let _ = evaluate(&stmt, &message(b"{\"a\":1}"), &FakeEnv::default());
            }
        }
        let _ = Template::parse(&text, V16, true);
    }
}

//! A Device Defender metrics report as AWS validates it: `header`/`hed` with `report_id`/`rid`
//! (an integer) and `version`/`v` (`Major.Minor`), then `metrics`/`met` and/or
//! `custom_metrics`/`cmet`, each block with its long or short names. What it holds becomes
//! metric values named as ListMetricValues names them (`aws:all-bytes-in`, ...).

use serde_json::{Map, Value, json};

/// One metric's value, in ListMetricValues' `MetricValue` shape.
pub type MetricValue = Value;

/// A report AWS would accept: its id and its metric values by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub report_id: i64,
    pub metrics: Vec<(String, MetricValue)>,
}

/// The member `long` or its short name `short`.
fn member<'a>(m: &'a Map<String, Value>, long: &str, short: &str) -> Option<&'a Value> {
    m.get(long).or_else(|| m.get(short))
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} must be an object"))
}

fn count(v: Option<&Value>, what: &str) -> Result<Option<i64>, String> {
    match v {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n)),
            _ => Err(format!("{what} must be a whole number, at least 0")),
        },
    }
}

/// Reads a report (`Err` names what is malformed; AWS answers every such report the same way).
pub fn read(doc: &Value) -> Result<Report, String> {
    let doc = object(doc, "the report")?;
    let header = member(doc, "header", "hed").ok_or("the report has no header")?;
    let header = object(header, "header")?;
    let report_id = member(header, "report_id", "rid")
        .and_then(Value::as_i64)
        .ok_or("header.report_id must be an integer")?;
    let version = member(header, "version", "v")
        .and_then(Value::as_str)
        .ok_or("header.version must be a string")?;
    let well_formed = version.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && (a.to_owned() + b).chars().all(|c| c.is_ascii_digit())
    });
    if !well_formed {
        return Err(format!("header.version {version:?} is not Major.Minor"));
    }
    let metrics = member(doc, "metrics", "met");
    let custom = member(doc, "custom_metrics", "cmet");
    if metrics.is_none() && custom.is_none() {
        return Err("the report has neither metrics nor custom_metrics".into());
    }
    let mut out = Vec::new();
    if let Some(m) = metrics {
        device_metrics(object(m, "metrics")?, &mut out)?;
    }
    if let Some(c) = custom {
        custom_metrics(object(c, "custom_metrics")?, &mut out)?;
    }
    Ok(Report {
        report_id,
        metrics: out,
    })
}

fn device_metrics(
    m: &Map<String, Value>,
    out: &mut Vec<(String, MetricValue)>,
) -> Result<(), String> {
    if let Some(tc) = member(m, "tcp_connections", "tc") {
        let tc = object(tc, "tcp_connections")?;
        if let Some(ec) = member(tc, "established_connections", "ec") {
            connections(object(ec, "established_connections")?, out)?;
        }
    }
    for (long, short, name) in [
        ("listening_tcp_ports", "tp", "tcp"),
        ("listening_udp_ports", "up", "udp"),
    ] {
        if let Some(block) = member(m, long, short) {
            ports(object(block, long)?, name, out)?;
        }
    }
    if let Some(ns) = member(m, "network_stats", "ns") {
        let ns = object(ns, "network_stats")?;
        for (long, short, metric) in [
            ("bytes_in", "bi", "aws:all-bytes-in"),
            ("bytes_out", "bo", "aws:all-bytes-out"),
            ("packets_in", "pi", "aws:all-packets-in"),
            ("packets_out", "po", "aws:all-packets-out"),
        ] {
            if let Some(n) = count(member(ns, long, short), &format!("network_stats.{long}"))? {
                out.push((metric.into(), json!({ "count": n })));
            }
        }
    }
    Ok(())
}

fn connections(
    ec: &Map<String, Value>,
    out: &mut Vec<(String, MetricValue)>,
) -> Result<(), String> {
    let mut cidrs = Vec::new();
    if let Some(list) = member(ec, "connections", "cs") {
        let list = list
            .as_array()
            .ok_or("established_connections.connections must be a list")?;
        for c in list {
            let c = object(c, "a connection")?;
            let remote = member(c, "remote_addr", "rad").and_then(Value::as_str);
            let remote = remote.ok_or("a connection needs remote_addr (ip:port)")?;
            let ip = remote.rsplit_once(':').map_or(remote, |(ip, _)| ip);
            if ip
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_err()
            {
                return Err(format!("remote_addr {remote:?} is not ip:port"));
            }
            cidrs.push(json!(ip.trim_matches(['[', ']'])));
        }
        out.push((
            "aws:destination-ip-addresses".into(),
            json!({ "cidrs": cidrs }),
        ));
    }
    if let Some(n) = count(member(ec, "total", "t"), "established_connections.total")? {
        out.push((
            "aws:num-established-tcp-connections".into(),
            json!({ "count": n }),
        ));
    }
    Ok(())
}

fn ports(
    block: &Map<String, Value>,
    proto: &str,
    out: &mut Vec<(String, MetricValue)>,
) -> Result<(), String> {
    if let Some(list) = member(block, "ports", "pts") {
        let list = list.as_array().ok_or("ports must be a list")?;
        let mut found = Vec::new();
        for p in list {
            let p = object(p, "a port")?;
            match member(p, "port", "pt").and_then(Value::as_i64) {
                Some(n) if (1..=65535).contains(&n) => found.push(json!(n)),
                _ => return Err("a listening port needs port between 1 and 65535".into()),
            }
        }
        out.push((
            format!("aws:listening-{proto}-ports"),
            json!({ "ports": found }),
        ));
    }
    if let Some(n) = count(member(block, "total", "t"), "ports.total")? {
        out.push((
            format!("aws:num-listening-{proto}-ports"),
            json!({ "count": n }),
        ));
    }
    Ok(())
}

/// `custom_metrics`: each value is an array of exactly one object holding `number`,
/// `number_list`, `string_list` or `ip_list`.
fn custom_metrics(
    c: &Map<String, Value>,
    out: &mut Vec<(String, MetricValue)>,
) -> Result<(), String> {
    for (name, v) in c {
        let one = match v.as_array().map(Vec::as_slice) {
            Some([one]) => object(one, name)?,
            _ => {
                return Err(format!(
                    "the custom metric {name} must be a list of one object"
                ));
            }
        };
        let value = if let Some(n) = one.get("number") {
            json!({ "number": n.as_f64().ok_or(format!("{name}.number must be a number"))? })
        } else if let Some(l) = one.get("number_list") {
            let ok = l.as_array().is_some_and(|l| l.iter().all(Value::is_number));
            if !ok {
                return Err(format!("{name}.number_list must be a list of numbers"));
            }
            json!({ "numbers": l })
        } else if let Some(l) = one.get("string_list") {
            let ok = l.as_array().is_some_and(|l| l.iter().all(Value::is_string));
            if !ok {
                return Err(format!("{name}.string_list must be a list of strings"));
            }
            json!({ "strings": l })
        } else if let Some(l) = one.get("ip_list") {
            let ok = l.as_array().is_some_and(|l| {
                l.iter().all(|ip| {
                    ip.as_str()
                        .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())
                })
            });
            if !ok {
                return Err(format!("{name}.ip_list must be a list of IP addresses"));
            }
            json!({ "cidrs": l })
        } else {
            return Err(format!(
                "the custom metric {name} holds none of number, number_list, string_list, ip_list"
            ));
        };
        out.push((name.clone(), value));
    }
    Ok(())
}

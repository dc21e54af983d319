//! `parse_time(pattern, ms[, tz])` (formats with a Joda-Time pattern) and
//! `time_to_epoch(text, pattern)` (parses with a JDK `DateTimeFormatter` pattern).
//!
//! Supported pattern letters: `y`/`u`/`Y` year, `M` month (`MMM` and `MMMM` as English
//! names), `d` day, `D` day of year (format only), `H` hour, `h` hour 1-12 with `a` AM/PM,
//! `m`, `s`, `S` fraction, `E` English day name, `Z`/`X`/`x` offsets, `z` zone, and `'quoted'`
//! text. Zones are `UTC`, `GMT`, `Z` and fixed offsets (`+05:30`); a region zone such as
//! `America/New_York` (which needs the tz database) gives Undefined, as does any other letter.
//! A parsed text without an offset is UTC; a text without a time of day is midnight.

use super::value::Value;
use iotmock_model::{civil_from_days, days_from_civil};

const DAY_MS: i64 = 86_400_000;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

pub fn call(name: &str, a: &[Value]) -> Option<Value> {
    let result = match name {
        "parse_time" => parse_time(a),
        "time_to_epoch" => time_to_epoch(a),
        _ => return None,
    };
    Some(result.unwrap_or(Value::Undefined))
}

/// A piece of a pattern: a letter repeated `count` times, or literal text.
#[derive(Debug, PartialEq)]
enum Piece {
    Field(char, usize),
    Text(String),
}

fn pieces(pattern: &str) -> Option<Vec<Piece>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('\''), Some('\'')) => {
                        text.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => break,
                    (Some(&other), _) => {
                        text.push(other);
                        i += 1;
                    }
                    (None, _) => return None,
                }
            }
            i += 1;
            out.push(Piece::Text(if text.is_empty() {
                "'".to_string()
            } else {
                text
            }));
        } else if c.is_ascii_alphabetic() {
            let count = chars[i..].iter().take_while(|&&x| x == c).count();
            out.push(Piece::Field(c, count));
            i += count;
        } else {
            out.push(Piece::Text(c.to_string()));
            i += 1;
        }
    }
    Some(out)
}

/// A zone name or offset, in seconds east of UTC.
fn zone_offset(tz: &str) -> Option<i64> {
    let upper = tz.to_ascii_uppercase();
    if ["UTC", "GMT", "Z", "UCT", "ETC/UTC", "ETC/GMT", "ZULU"].contains(&upper.as_str()) {
        return Some(0);
    }
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    parse_offset(rest)
        .filter(|(_, used)| *used == rest.len())
        .map(|(off, _)| off)
}

/// `+HH`, `+HHMM` or `+HH:MM` (or `Z`) at the start of `s`: (seconds, bytes used).
fn parse_offset(s: &str) -> Option<(i64, usize)> {
    if s.starts_with('Z') {
        return Some((0, 1));
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |from: usize| {
        s.get(from..from + 2)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    let hours: i64 = digits(1)?.parse().ok()?;
    let (minutes, used) = match (digits(3), s.get(3..4), digits(4)) {
        (Some(m), _, _) => (m.parse().ok()?, 5),
        (None, Some(":"), Some(m)) => (m.parse().ok()?, 6),
        _ => (0, 3),
    };
    (hours <= 18 && minutes < 60).then_some((sign * (hours * 3600 + minutes * 60), used))
}

fn offset_text(offset: i64, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let (h, m) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// `parse_time(pattern, epochMs[, tz])`.
fn parse_time(a: &[Value]) -> Option<Value> {
    let pattern = a.first()?.to_sql_string()?;
    let ms = match a.get(1)? {
        Value::Int(i) => *i,
        v => super::value::f64_to_i64(v.to_decimal()?.floor())?,
    };
    let offset = match a.get(2) {
        Some(tz) => zone_offset(&tz.to_sql_string()?)?,
        None => 0,
    };
    let local = ms.checked_add(offset * 1000)?;
    let days = local.div_euclid(DAY_MS);
    let in_day = local.rem_euclid(DAY_MS);
    let mut out = String::new();
    for piece in pieces(&pattern)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Field(c, n) => out.push_str(&format_field(c, n, days, in_day, offset)?),
        }
    }
    Some(Value::String(out))
}

fn format_field(c: char, n: usize, days: i64, in_day: i64, offset: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(days);
    let pad = |v: i64| format!("{v:0n$}");
    let hour = in_day / 3_600_000;
    Some(match c {
        'y' | 'u' | 'Y' if n == 2 => format!("{:02}", y.rem_euclid(100)),
        'y' | 'u' | 'Y' => pad(y),
        'M' if n >= 4 => MONTHS.get(usize::try_from(m - 1).ok()?)?.to_string(),
        'M' if n == 3 => MONTHS.get(usize::try_from(m - 1).ok()?)?[..3].to_string(),
        'M' => pad(m),
        'd' => pad(d),
        'D' => pad(days - days_from_civil(y, 1, 1) + 1),
        'H' => pad(hour),
        'h' => pad(if hour % 12 == 0 { 12 } else { hour % 12 }),
        'm' => pad(in_day / 60_000 % 60),
        's' => pad(in_day / 1000 % 60),
        'S' => {
            let millis = format!("{:03}", in_day % 1000);
            if n <= 3 {
                millis[..n].to_string()
            } else {
                format!("{millis}{}", "0".repeat(n - 3))
            }
        }
        'a' => (if hour < 12 { "AM" } else { "PM" }).to_string(),
        'E' => {
            let name = DAYS.get(usize::try_from((days + 4).rem_euclid(7)).ok()?)?;
            if n >= 4 {
                name.to_string()
            } else {
                name[..3].to_string()
            }
        }
        'Z' if n == 1 => offset_text(offset, false),
        'Z' if n == 2 => offset_text(offset, true),
        'Z' | 'z' if offset == 0 => "UTC".to_string(),
        'Z' | 'z' => offset_text(offset, true),
        _ => return None,
    })
}

/// What a parsed text said.
#[derive(Default)]
struct Parsed {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: i64,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    millis: i64,
    offset: i64,
}

/// `time_to_epoch(text, pattern)`: epoch milliseconds, Undefined on any mismatch.
fn time_to_epoch(a: &[Value]) -> Option<Value> {
    let text = a.first()?.to_sql_string()?;
    let pattern = a.get(1)?.to_sql_string()?;
    let mut p = Parsed::default();
    let mut rest = text.as_str();
    for piece in pieces(&pattern)? {
        rest = match piece {
            Piece::Text(t) => rest.strip_prefix(t.as_str())?,
            Piece::Field(c, n) => parse_field(c, n, rest, &mut p)?,
        };
    }
    if !rest.is_empty() {
        return None;
    }
    let hour = match p.pm {
        Some(pm) if (1..=12).contains(&p.hour) => p.hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => p.hour,
    };
    let (y, m, d) = (p.year?, p.month?, p.day?);
    let valid = (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m);
    if !valid || hour > 23 || p.minute > 59 || p.second > 59 {
        return None;
    }
    let seconds =
        days_from_civil(y, m, d) * 86_400 + hour * 3600 + p.minute * 60 + p.second - p.offset;
    Some(Value::Int(seconds * 1000 + p.millis))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let next = if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    };
    next - days_from_civil(y, m, 1)
}

/// Reads `min..=max` ASCII digits from the start of `s`.
fn number(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let len = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if len < min {
        return None;
    }
    Some((s[..len].parse().ok()?, &s[len..]))
}

/// An English month or day name (`count >= 4`: the full name, else its first three letters).
fn name_at<'s>(names: &[&str], count: usize, s: &'s str) -> Option<(i64, &'s str)> {
    names.iter().zip(0i64..).find_map(|(&full, i)| {
        let cut = if count >= 4 { full } else { full.get(..3)? };
        let head = s.get(..cut.len())?;
        head.eq_ignore_ascii_case(cut).then(|| (i, &s[cut.len()..]))
    })
}

/// Reads the fields that are not plain numbers: AM/PM, offsets and fractions.
fn parse_special<'s>(c: char, n: usize, s: &'s str, p: &mut Parsed) -> Option<&'s str> {
    match c {
        'a' => {
            p.pm = Some(match s.get(..2)?.to_ascii_uppercase().as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
            s.get(2..)
        }
        'S' => {
            let (digits, rest) = number(s, n, n)?;
            let scale = 10i64.checked_pow(u32::try_from(n).ok()?)?;
            p.millis = digits * 1000 / scale;
            Some(rest)
        }
        _ => {
            let (off, used) = parse_offset(s)?;
            if c == 'x' && s.starts_with('Z') {
                return None;
            }
            p.offset = off;
            s.get(used..)
        }
    }
}

/// Reads one pattern field (`count == 1`: 1 or 2 digits, else exactly `count` digits).
fn parse_field<'s>(c: char, n: usize, s: &'s str, p: &mut Parsed) -> Option<&'s str> {
    let max = if n > 1 {
        n
    } else if matches!(c, 'y' | 'u') {
        9
    } else {
        2
    };
    let (value, rest) = match c {
        'a' | 'S' | 'X' | 'x' | 'Z' => return parse_special(c, n, s, p),
        'M' if n >= 3 => name_at(&MONTHS, n, s).map(|(i, r)| (i + 1, r))?,
        'E' => name_at(&DAYS, n, s)?,
        _ => number(s, n.min(max), max)?,
    };
    match c {
        'y' | 'u' if n == 2 => p.year = Some(2000 + value),
        'y' | 'u' => p.year = Some(value),
        'M' => p.month = Some(value),
        'd' => p.day = Some(value),
        'H' | 'h' => p.hour = value,
        'm' => p.minute = value,
        's' => p.second = value,
        'E' => {}
        _ => return None,
    }
    Some(rest)
}

//! The advisor's view of the broker: fault plans from a case's faults, the broker's timeline
//! as the case's events, and one evidence line per event.

use iotmock_advisor::{Event, Faults, Packet, ServerCert, Timed};
use iotmock_broker::{Answer, FaultPlan, Observed, PacketSeen, Seen, TlsEnd};
use iotmock_pki::ServerCertKind;

pub(crate) fn plan(f: &Faults) -> FaultPlan {
    let kinds = [
        (f.withhold_connack, Answer::ConnAck),
        (f.withhold_puback, Answer::PubAck),
        (f.withhold_suback, Answer::SubAck),
        (f.withhold_pingresp, Answer::PingResp),
    ];
    let withhold = kinds
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, a)| *a)
        .collect();
    FaultPlan {
        withhold,
        drop_after: f.drop_after,
        ..FaultPlan::default()
    }
}

fn tls_end(end: TlsEnd) -> iotmock_advisor::TlsEnd {
    use iotmock_advisor::TlsEnd as A;
    match end {
        TlsEnd::Completed => A::Completed,
        TlsEnd::Alert(a) => A::Alert(a),
        TlsEnd::Closed => A::Closed,
        TlsEnd::Failed(e) => A::Failed(e),
        TlsEnd::TimedOut => A::TimedOut,
    }
}

pub(crate) fn cert_kind(c: ServerCert) -> ServerCertKind {
    match c {
        ServerCert::Standard => ServerCertKind::Standard,
        ServerCert::Large => ServerCertKind::Large,
        ServerCert::Untrusted => ServerCertKind::Untrusted,
        ServerCert::WrongName => ServerCertKind::WrongName,
        ServerCert::Expired => ServerCertKind::Expired,
    }
}

fn packet(p: PacketSeen) -> Packet {
    Packet {
        kind: p.kind.to_string(),
        pkid: p.pkid,
        topic: p.topic,
        qos: p.qos,
        dup: p.dup,
        payload: p.payload.map(|b| b.to_vec()).unwrap_or_default(),
        filters: p.filters,
    }
}

pub(crate) fn event(o: Observed) -> Timed {
    let conn = o.conn;
    let event = match o.seen {
        Seen::Accepted => Event::Accepted { conn },
        Seen::Hello { suites, sni } => Event::Hello { conn, suites, sni },
        Seen::Handshake(end) => Event::Handshake {
            conn,
            end: tls_end(end),
        },
        Seen::Connect {
            client_id,
            clean_start,
            keep_alive,
        } => Event::Connect {
            conn,
            client_id,
            clean_start,
            keep_alive,
        },
        Seen::In(p) => Event::In {
            conn,
            packet: packet(p),
        },
        Seen::Out {
            packet: p,
            withheld,
        } => Event::Out {
            conn,
            packet: packet(p),
            withheld,
        },
        Seen::Closed { reason } => Event::Closed {
            conn,
            reason: reason.to_string(),
        },
    };
    Timed {
        at_ms: o.at_ms,
        event,
    }
}

pub(crate) fn describe(t: &Timed, start: i64) -> String {
    let at = t.at_ms - start;
    match &t.event {
        Event::Accepted { conn } => format!("+{at}ms #{conn} accepted"),
        Event::Hello { conn, suites, sni } => {
            let suites: Vec<String> = suites
                .iter()
                .map(|s| iotmock_advisor::suite_name(*s))
                .collect();
            let sni = sni.as_deref().unwrap_or("(none)");
            format!(
                "+{at}ms #{conn} ClientHello sni={sni} suites={}",
                suites.join(",")
            )
        }
        Event::Handshake { conn, end } => format!("+{at}ms #{conn} TLS {end}"),
        Event::Connect {
            conn,
            client_id,
            clean_start,
            keep_alive,
        } => {
            format!(
                "+{at}ms #{conn} CONNECT {client_id} clean={clean_start} keepalive={keep_alive}"
            )
        }
        Event::In { conn, packet } => format!("+{at}ms #{conn} -> {}", packet_line(packet)),
        Event::Out {
            conn,
            packet,
            withheld,
        } => {
            let w = if *withheld { " (withheld)" } else { "" };
            format!("+{at}ms #{conn} <- {}{w}", packet_line(packet))
        }
        Event::Closed { conn, reason } => format!("+{at}ms #{conn} closed {reason}"),
        Event::Tick => format!("+{at}ms tick"),
    }
}

/// A packet's kind, id and topic or filters.
fn packet_line(p: &Packet) -> String {
    let id = p.pkid.map(|i| format!(" id={i}")).unwrap_or_default();
    let what = match &p.topic {
        Some(topic) => format!(" {topic} qos={}", p.qos),
        None if !p.filters.is_empty() => format!(" {}", p.filters.join(", ")),
        None => String::new(),
    };
    format!("{}{id}{what}", p.kind)
}

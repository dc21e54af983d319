//! Admission at CONNECT, as AWS decides it after TLS: a valid client id and will, a registered
//! ACTIVE certificate within its validity, and policies that allow iot:Connect on
//! `client/<clientId>` (and iot:Publish on the will topic). Every refusal is logged once.

use crate::Shared;
use crate::authz::{Action, Authz};
use crate::connection::Conn;
use crate::refusal::{ConnectRefusal, connack_code};
use iotmock_model::CertStatus;
use iotmock_mqtt::rules::{clamp_keep_alive, validate_client_id};
use iotmock_mqtt::topic::validate_topic;
use iotmock_mqtt::{ConnAckProps, Connect, Packet, Version};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// An admitted connection.
pub(crate) struct Admitted {
    pub client_id: String,
    pub keep_alive: u16,
    pub authz: Authz,
    pub attributes: Vec<&'static str>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The principal's authorization for `client_id`, or why it may not connect now.
pub(crate) fn authorize(
    shared: &Shared,
    cert_id: &str,
    client_id: &str,
    peer: SocketAddr,
    attributes: &[&'static str],
) -> Result<Authz, String> {
    let principal = {
        let registry = shared
            .registry
            .read()
            .map_err(|_| "registry unavailable".to_string())?;
        registry.principal(cert_id)
    };
    let principal = principal.ok_or_else(|| format!("certificate {cert_id} is not registered"))?;
    if principal.status != CertStatus::Active {
        return Err(format!(
            "certificate {cert_id} is {} (only ACTIVE certificates connect)",
            principal.status
        ));
    }
    if !principal.cert.is_valid_at(now_secs()) {
        return Err(format!("certificate {cert_id} is expired or not yet valid"));
    }
    let authz = Authz::new(principal, client_id, Some(peer.ip()), attributes);
    let checked = authz.check(Action::Connect, client_id);
    if !checked.decision.allowed() {
        return Err(format!(
            "iot:Connect on {} {}",
            checked.resource, checked.decision
        ));
    }
    Ok(authz)
}

fn assigned_client_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    format!(
        "iotmock-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn attributes_of(c: &Connect, version: Version) -> Vec<&'static str> {
    let persistent = match version {
        Version::V311 => !c.clean_start,
        Version::V5 => c.session_expiry.unwrap_or(0) > 0,
    };
    let mut out = Vec::new();
    if persistent {
        out.push("PersistentConnect");
    }
    if c.will.is_some() {
        out.push("LastWill");
    }
    out
}

/// Checks the CONNECT before any registry lookup: client id and will.
fn check_packet(c: &Connect, version: Version) -> Result<Option<String>, (ConnectRefusal, String)> {
    let assigned = match (c.client_id.is_empty(), version) {
        (true, Version::V5) => Some(assigned_client_id()),
        _ => None,
    };
    let id = assigned.as_deref().unwrap_or(&c.client_id);
    validate_client_id(id).map_err(|e| (ConnectRefusal::ClientIdInvalid, e.to_string()))?;
    if let Some(will) = &c.will {
        if will.qos > 1 {
            return Err((
                ConnectRefusal::QosNotSupported,
                "will QoS 2 is not supported".into(),
            ));
        }
        validate_topic(&will.topic)
            .map_err(|e| (ConnectRefusal::TopicInvalid, format!("will topic: {e}")))?;
    }
    Ok(assigned)
}

/// Admits `connect` or refuses it on the wire; `None` means the connection must close.
pub(crate) async fn admit<S: AsyncRead + AsyncWrite>(
    conn: &mut Conn<S>,
    connect: Connect,
    leaf: &[u8],
    shared: &Shared,
) -> Option<Admitted> {
    let cert_id = iotmock_model::certificate_id(leaf);
    let attributes = attributes_of(&connect, conn.version);
    let result = check_packet(&connect, conn.version).and_then(|assigned| {
        let client_id = assigned
            .clone()
            .unwrap_or_else(|| connect.client_id.clone());
        let authz = authorize(shared, &cert_id, &client_id, conn.peer, &attributes)
            .map_err(|r| (ConnectRefusal::NotAuthorized, r))?;
        if let Some(will) = &connect.will {
            let checked = authz.check(Action::Publish, &will.topic);
            if !checked.decision.allowed() {
                return Err((
                    ConnectRefusal::NotAuthorized,
                    format!(
                        "will: iot:Publish on {} {}",
                        checked.resource, checked.decision
                    ),
                ));
            }
        }
        Ok((client_id, assigned, authz))
    });
    let (client_id, assigned, authz) = match result {
        Ok(ok) => ok,
        Err((refusal, reason)) => {
            tracing::info!(peer = %conn.peer, client_id = %connect.client_id, certificate = %cert_id, %reason, "CONNECT refused");
            if let Some(code) =
                connack_code(&refusal, conn.version, shared.settings.strict_mqtt3_refusal)
            {
                let _ = conn
                    .send(&Packet::ConnAck {
                        session_present: false,
                        code,
                        props: ConnAckProps::default(),
                    })
                    .await;
            }
            return None;
        }
    };
    let keep_alive = clamp_keep_alive(connect.keep_alive);
    let props = ConnAckProps {
        assigned_client_id: assigned,
        server_keep_alive: (keep_alive != connect.keep_alive).then_some(keep_alive),
        ..ConnAckProps::default()
    };
    if conn
        .send(&Packet::ConnAck {
            session_present: false,
            code: 0,
            props,
        })
        .await
        .is_err()
    {
        return None;
    }
    tracing::info!(peer = %conn.peer, %client_id, certificate = %cert_id, version = ?conn.version, "connected");
    Some(Admitted {
        client_id,
        keep_alive,
        authz,
        attributes,
    })
}

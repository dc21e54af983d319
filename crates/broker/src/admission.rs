//! Admission at CONNECT, as AWS decides it after TLS: a valid client id and will, a registered
//! ACTIVE certificate within its validity, and policies that allow iot:Connect on
//! `client/<clientId>` (and iot:Publish on the will topic). Every refusal is logged once.

use crate::Shared;
use crate::authz::{Action, Authz};
use crate::connection::Conn;
use crate::events::{self, Presence};
use crate::refusal::{ConnectRefusal, connack_code};
use iotmock_model::CertStatus;
use iotmock_mqtt::rules::{clamp_keep_alive, validate_client_id};
use iotmock_mqtt::topic::validate_topic;
use iotmock_mqtt::{ConnAckProps, Connect, Packet, Version, Will};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// An admitted connection.
pub(crate) struct Admitted {
    pub client_id: String,
    pub keep_alive: u16,
    pub authz: Authz,
    pub attributes: Vec<&'static str>,
    pub will: Option<Will>,
    pub presence: Presence,
    pub conn_id: u64,
    /// How long the session outlives the connection (persistent sessions), in ms.
    pub keep_ms: Option<i64>,
    pub rx: tokio::sync::mpsc::Receiver<crate::hub::Outbound>,
}

/// Session expiry: 3.1.1 cleanSession=0 gets the maximum; MQTT 5 asks for an interval that is
/// capped at the maximum. Returns (keep seconds, the interval to advertise when capped).
fn session_expiry(c: &Connect, version: Version, max_secs: u64) -> (Option<u64>, Option<u32>) {
    match version {
        Version::V311 if !c.clean_start => (Some(max_secs), None),
        Version::V311 => (None, None),
        Version::V5 => match c.session_expiry.map(u64::from) {
            None | Some(0) => (None, None),
            Some(asked) if asked > max_secs => (Some(max_secs), u32::try_from(max_secs).ok()),
            Some(asked) => (Some(asked), None),
        },
    }
}

/// JITR: an unknown certificate issued by an ACTIVE CA with auto-registration enabled is
/// registered PENDING_ACTIVATION and the event published; a certificate still pending gets
/// the event again. Either way the connection is refused; `Some` says why.
fn just_in_time(shared: &Shared, leaf: &[u8], cert_id: &str) -> Option<String> {
    let (status, account) = {
        let registry = shared.registry.read().ok()?;
        (
            registry.certificate_status(cert_id),
            registry.account().to_string(),
        )
    };
    match status {
        None => {
            let registered = shared.registry.write().ok()?.auto_register(leaf)?;
            events::certificate_registered(&shared.hub, cert_id, &registered.ca_id, &account);
            Some(format!(
                "certificate {cert_id} was registered just in time as PENDING_ACTIVATION under CA {} (activate it and reconnect)",
                registered.ca_id
            ))
        }
        Some((CertStatus::PendingActivation, ca)) => {
            if let Some(ca) = ca {
                events::certificate_registered(&shared.hub, cert_id, &ca, &account);
            }
            Some(format!("certificate {cert_id} is PENDING_ACTIVATION"))
        }
        Some(_) => None,
    }
}

fn now_secs() -> i64 {
    crate::hub::now_ms().div_euclid(1000)
}

/// The principal's authorization for `client_id`, or why it may not connect now.
pub(crate) fn authorize(
    shared: &Shared,
    cert_id: &str,
    client_id: &str,
    peer: SocketAddr,
    attributes: &[&'static str],
) -> Result<Authz, String> {
    let principal = shared.principal(cert_id)?;
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
    let mut authz = Authz::new(principal, client_id, Some(peer.ip()), attributes);
    let checked = authz.check(Action::Connect, client_id);
    if shared.settings.require_connect_attributes
        && !attributes.is_empty()
        && !tests_attributes(&authz, &checked)
    {
        return Err(format!(
            "iot:Connect on {} with connect attributes {attributes:?}: no allowing statement tests iot:ConnectAttributes",
            checked.resource
        ));
    }
    if !checked.decision.allowed() {
        return Err(format!(
            "iot:Connect on {} {}",
            checked.resource, checked.decision
        ));
    }
    Ok(authz)
}

/// Whether the statement that allowed Connect has a condition on `iot:ConnectAttributes`.
fn tests_attributes(authz: &Authz, checked: &crate::authz::Checked) -> bool {
    let iotmock_policy::Decision::Allow(at) = &checked.decision else {
        return false;
    };
    authz
        .principal
        .policies
        .iter()
        .filter(|p| p.name == at.policy)
        .filter_map(|p| p.document.statements.get(at.index))
        .any(|s| {
            s.conditions
                .iter()
                .any(|c| c.key == "iot:ConnectAttributes")
        })
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
    // An empty client id gets one assigned (MQTT 5 always; 3.1.1 only with a clean session,
    // as the 3.1.1 spec allows); a 3.1.1 persistent session needs an id of its own.
    let assigned = match (c.client_id.is_empty(), version) {
        (true, Version::V5) => Some(assigned_client_id()),
        (true, Version::V311) if c.clean_start => Some(assigned_client_id()),
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
    let jitr = just_in_time(shared, leaf, &cert_id);
    let result = check_packet(&connect, conn.version).and_then(|assigned| {
        if let Some(reason) = jitr {
            return Err((ConnectRefusal::NotAuthorized, reason));
        }
        let id = assigned.as_deref().unwrap_or(&connect.client_id);
        if shared.settings.throttle && !shared.hub.connect_allowed(id) {
            return Err((
                ConnectRefusal::Throttled,
                "more than one CONNECT per second for this client id".into(),
            ));
        }
        let client_id = assigned
            .clone()
            .unwrap_or_else(|| connect.client_id.clone());
        let mut authz = authorize(shared, &cert_id, &client_id, conn.peer, &attributes)
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
                let _ = conn.flush().await;
            }
            return None;
        }
    };
    let keep_alive = clamp_keep_alive(connect.keep_alive);
    let (keep, advertised) = session_expiry(
        &connect,
        conn.version,
        shared.settings.session_expiry.as_secs(),
    );
    let (tx, rx) = tokio::sync::mpsc::channel(crate::hub::QUEUE_DEPTH);
    let registered = shared
        .hub
        .register(&client_id, tx.clone(), connect.clean_start);
    let props = ConnAckProps {
        assigned_client_id: assigned,
        server_keep_alive: (keep_alive != connect.keep_alive).then_some(keep_alive),
        session_expiry: advertised,
        ..ConnAckProps::default()
    };
    let ack = Packet::ConnAck {
        session_present: registered.session_present,
        code: 0,
        props,
    };
    if conn.send(&ack).await.is_err() || conn.flush().await.is_err() {
        shared.hub.unregister(&client_id, registered.conn_id, None);
        return None;
    }
    for (msg, qos) in registered.queued {
        let _ = tx.try_send(crate::hub::Outbound::Deliver(msg, qos));
    }
    tracing::debug!(peer = %conn.peer, %client_id, certificate = %cert_id, version = ?conn.version, session_present = registered.session_present, "connected");
    let presence = Presence {
        session: iotmock_registry::random_uuid(),
        principal: cert_id,
        version: shared.hub.next_version(&client_id),
        client_id: client_id.clone(),
    };
    Some(Admitted {
        client_id,
        keep_alive,
        authz,
        attributes,
        will: connect.will,
        presence,
        conn_id: registered.conn_id,
        keep_ms: keep.map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)),
        rx,
    })
}

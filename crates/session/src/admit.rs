//! Admission at CONNECT, as AWS decides it after TLS: a valid client id and will, a registered
//! ACTIVE certificate within its validity (and SNI when the certificate is SNI_ONLY), policies
//! that allow iot:Connect on `client/<clientId>` and iot:Publish (and iot:RetainPublish) on
//! the will. What needs the registry or shared state is asked of a [`ConnectEnv`].

use crate::Rules;
use crate::authz::{Action, Authz, Checked};
use crate::denial::{Denial, JustInTime, RegistryUnavailable};
use crate::refusal::{ConnectRefusal, connack_code};
use iotmock_model::{CertStatus, CertificateMode};
use iotmock_mqtt::rules::{clamp_keep_alive, validate_client_id};
use iotmock_mqtt::topic::validate_topic;
use iotmock_mqtt::{ConnAckProps, Connect, Packet, Version, Will};
use iotmock_registry::Principal;
use std::net::IpAddr;
use std::sync::Arc;

/// What admission asks of the world around the session.
pub trait ConnectEnv {
    /// Just-in-time registration of the presented certificate; `Some` when the connection
    /// must be refused because the certificate is (now) PENDING_ACTIVATION.
    fn just_in_time(&mut self) -> Option<JustInTime>;
    /// Records a CONNECT for `client_id`; false when the previous one was under a second ago.
    fn connect_allowed(&mut self, client_id: &str) -> bool;
    /// Records a CONNECT in the account; false past AWS's 500 a second.
    fn account_connect_allowed(&mut self) -> bool {
        true
    }
    /// The registered certificate in the region the connection addresses (`None`: unknown).
    fn principal(&mut self) -> Result<Option<Arc<Principal>>, RegistryUnavailable>;
    /// A fresh client id for a client that sent none.
    fn fresh_client_id(&mut self) -> String;
}

/// The connection facts admission decides on.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    pub connect: Connect,
    pub version: Version,
    pub cert_id: String,
    pub peer_ip: Option<IpAddr>,
    /// Whether the client sent TLS SNI naming this endpoint (SNI_ONLY certificates need it).
    pub sni: bool,
}

/// An admitted CONNECT, before the session is registered.
#[derive(Debug, Clone)]
pub struct Admission {
    pub client_id: String,
    pub version: Version,
    pub keep_alive: u16,
    pub authz: Authz,
    pub attributes: Vec<&'static str>,
    pub will: Option<Will>,
    pub clean_start: bool,
    /// How long the session outlives the connection (persistent sessions), in seconds.
    pub keep_secs: Option<u64>,
    /// CONNACK properties (MQTT 5).
    pub props: ConnAckProps,
    pub peer_ip: Option<IpAddr>,
    /// MQTT 5 Maximum Packet Size: larger messages are not sent to this client.
    pub max_packet: Option<u32>,
}

/// A refused CONNECT: why, and the CONNACK to send first (none: just close).
#[derive(Debug, Clone)]
pub struct Refused {
    pub refusal: ConnectRefusal,
    pub reason: Denial,
    pub connack: Option<Box<Packet>>,
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

/// `PersistentConnect` and `LastWill`, the values of `iot:ConnectAttributes`.
pub fn attributes_of(c: &Connect, version: Version) -> Vec<&'static str> {
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

/// Checks the CONNECT before any registry lookup: client id and will. Returns the client id
/// and whether it was assigned.
fn check_packet(
    c: &Connect,
    version: Version,
    env: &mut dyn ConnectEnv,
) -> Result<(String, bool), Denial> {
    // An empty client id gets one assigned (MQTT 5 always; 3.1.1 only with a clean session,
    // as the 3.1.1 spec allows); a 3.1.1 persistent session needs an id of its own.
    let assign = c.client_id.is_empty() && (version == Version::V5 || c.clean_start);
    let id = if assign {
        env.fresh_client_id()
    } else {
        c.client_id.clone()
    };
    validate_client_id(&id)?;
    if let Some(will) = &c.will {
        if will.qos > 1 {
            return Err(Denial::WillQos2);
        }
        validate_topic(&will.topic).map_err(Denial::WillTopic)?;
    }
    Ok((id, assign))
}

/// The principal, when it may act now: registered, ACTIVE and within its validity.
fn usable(
    principal: Option<Arc<Principal>>,
    cert_id: &str,
    now_ms: i64,
) -> Result<Arc<Principal>, Denial> {
    let principal = principal.ok_or_else(|| Denial::NotRegistered(cert_id.to_string()))?;
    if principal.status != CertStatus::Active {
        let (cert_id, status) = (cert_id.to_string(), principal.status);
        return Err(Denial::NotActive { cert_id, status });
    }
    if !principal.cert.is_valid_at(now_ms.div_euclid(1000)) {
        return Err(Denial::OutsideValidity(cert_id.to_string()));
    }
    Ok(principal)
}

/// An HTTPS publish (no connection, no client id): the sender must be usable now and hold
/// iot:Publish on the topic, and iot:RetainPublish too when the message is retained.
pub fn authorize_publish(
    principal: Option<Arc<Principal>>,
    cert_id: &str,
    (topic, retain): (&str, bool),
    source_ip: Option<IpAddr>,
    now_ms: i64,
) -> Result<(), Denial> {
    let principal = usable(principal, cert_id, now_ms)?;
    let mut authz = Authz::new(principal, "", source_ip, &[]);
    let mut actions = vec![Action::Publish];
    if retain {
        actions.push(Action::RetainPublish);
    }
    for action in actions {
        let checked = authz.check(action, topic);
        if !checked.decision.allowed() {
            return Err(policy_denial(action, checked));
        }
    }
    Ok(())
}

/// The principal's authorization for `client_id`, or why it may not connect now.
pub fn authorize(
    principal: Option<Arc<Principal>>,
    cert_id: &str,
    client_id: &str,
    ctx: (&Rules, Option<IpAddr>, &[&'static str], i64),
) -> Result<Authz, Denial> {
    let (rules, peer_ip, attributes, now_ms) = ctx;
    let principal = usable(principal, cert_id, now_ms)?;
    let mut authz = Authz::new(principal, client_id, peer_ip, attributes);
    let checked = authz.check(Action::Connect, client_id);
    if rules.require_connect_attributes
        && !attributes.is_empty()
        && !tests_attributes(&authz, &checked)
    {
        let (resource, attributes) = (checked.resource, attributes.to_vec());
        return Err(Denial::AttributesUntested {
            resource,
            attributes,
        });
    }
    if !checked.decision.allowed() {
        return Err(policy_denial(Action::Connect, checked));
    }
    Ok(authz)
}

/// A policy refusal, with what decided it.
pub fn policy_denial(action: Action, checked: Checked) -> Denial {
    Denial::Policy {
        action: action.name(),
        decision: checked.decision.to_string(),
        resource: checked.resource,
    }
}

/// Whether the statement that allowed Connect has a condition on `iot:ConnectAttributes`.
fn tests_attributes(authz: &Authz, checked: &Checked) -> bool {
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

/// The will's rights: iot:Publish on its topic, and iot:RetainPublish when it is retained.
pub fn will_refusal(authz: &mut Authz, will: &Will) -> Option<Denial> {
    let mut actions = vec![Action::Publish];
    if will.retain {
        actions.push(Action::RetainPublish);
    }
    actions.into_iter().find_map(|action| {
        let checked = authz.check(action, &will.topic);
        (!checked.decision.allowed())
            .then(|| Denial::Will(Box::new(policy_denial(action, checked))))
    })
}

fn decide(
    info: &ConnectInfo,
    rules: &Rules,
    env: &mut dyn ConnectEnv,
    now_ms: i64,
) -> Result<(String, bool, Authz), Denial> {
    let c = &info.connect;
    let (client_id, assigned) = check_packet(c, info.version, env)?;
    if let Some(jit) = env.just_in_time() {
        return Err(jit.into());
    }
    if rules.throttle && !env.connect_allowed(&client_id) {
        return Err(Denial::Throttled);
    }
    if rules.throttle && !env.account_connect_allowed() {
        return Err(Denial::AccountThrottled);
    }
    let principal = env.principal()?;
    if let Some(p) = &principal
        && p.mode == CertificateMode::SniOnly
        && !info.sni
    {
        return Err(Denial::SniRequired(info.cert_id.clone()));
    }
    let attributes = attributes_of(c, info.version);
    let ctx = (rules, info.peer_ip, attributes.as_slice(), now_ms);
    let mut authz = authorize(principal, &info.cert_id, &client_id, ctx)?;
    if let Some(denied) = c.will.as_ref().and_then(|w| will_refusal(&mut authz, w)) {
        return Err(denied);
    }
    Ok((client_id, assigned, authz))
}

/// Admits the CONNECT or says how to refuse it.
pub fn admit(
    info: ConnectInfo,
    rules: &Rules,
    env: &mut dyn ConnectEnv,
    now_ms: i64,
) -> Result<Admission, Refused> {
    let (client_id, assigned, authz) = match decide(&info, rules, env, now_ms) {
        Ok(ok) => ok,
        Err(reason) => {
            let refusal = reason.kind();
            let connack =
                connack_code(refusal, info.version, rules.strict_mqtt3_refusal).map(|code| {
                    Box::new(Packet::ConnAck {
                        session_present: false,
                        code,
                        props: ConnAckProps::default(),
                    })
                });
            return Err(Refused {
                refusal,
                reason,
                connack,
            });
        }
    };
    let c = info.connect;
    let keep_alive = clamp_keep_alive(c.keep_alive);
    let (keep_secs, advertised) = session_expiry(&c, info.version, rules.session_expiry_secs);
    let props = ConnAckProps {
        assigned_client_id: assigned.then(|| client_id.clone()),
        server_keep_alive: (keep_alive != c.keep_alive).then_some(keep_alive),
        session_expiry: advertised,
        topic_alias_max: Some(crate::TOPIC_ALIAS_MAX),
        receive_max: Some(crate::RECEIVE_MAXIMUM),
        ..ConnAckProps::default()
    };
    Ok(Admission {
        attributes: attributes_of(&c, info.version),
        client_id,
        version: info.version,
        keep_alive,
        authz,
        will: c.will,
        clean_start: c.clean_start,
        keep_secs,
        props,
        peer_ip: info.peer_ip,
        max_packet: c.max_packet_size.filter(|_| info.version == Version::V5),
    })
}

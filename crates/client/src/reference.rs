//! `iotmock reference-device`: a device that does what AWS Device Advisor expects (jittered
//! exponential backoff, PUBLISH and SUBSCRIBE retried with the same packet id, its own
//! PINGRESP timeout, shadow reports, jobs run to SUCCEEDED), with one flag per misbehaviour,
//! so `iotmock advisor` can be shown to catch each. It reads the IOTMOCK_* variables the
//! advisor sets and runs until it is stopped.

use crate::{
    ClientError, ConnectOptions, DeviceClient, Packet, Publish, SkipChecks, TlsOptions, Version,
    client_config,
};
use bytes::Bytes;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct ReferenceArgs {
    /// Backoff between connection attempts and after lost connections: jitter (the default),
    /// exponential, linear or constant.
    #[arg(long, default_value = "jitter")]
    pub backoff: String,
    /// Never resend an unacknowledged PUBLISH.
    #[arg(long)]
    pub no_publish_retry: bool,
    /// Resend with a new packet id instead of the same one.
    #[arg(long)]
    pub new_packet_id_on_retry: bool,
    /// Never resend an unacknowledged SUBSCRIBE.
    #[arg(long)]
    pub no_subscribe_retry: bool,
    /// Keep the connection when PINGRESP does not come.
    #[arg(long)]
    pub no_ping_timeout: bool,
    /// Ignore jobs.
    #[arg(long)]
    pub ignore_jobs: bool,
    /// Ignore shadow deltas (never report the desired state).
    #[arg(long)]
    pub ignore_shadow_delta: bool,
    /// Connect with cleanSession=1 (no persistent session).
    #[arg(long)]
    pub clean_session: bool,
    /// Subscribe on every connection, even when CONNACK says the session is present.
    #[arg(long)]
    pub always_resubscribe: bool,
    /// Subscribe on the first connection only, even when CONNACK says there is no session.
    #[arg(long)]
    pub never_resubscribe: bool,
    /// Accept a server certificate no trusted CA signed.
    #[arg(long)]
    pub accept_unknown_ca: bool,
    /// Accept a server certificate issued for another host name.
    #[arg(long)]
    pub accept_wrong_name: bool,
    /// Accept an expired server certificate.
    #[arg(long)]
    pub accept_expired_cert: bool,
}

/// Why the reference device stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("Error: {0} is not set (run me from `iotmock advisor`)")]
    Missing(&'static str),
    #[error("Error: cannot read {0}")]
    Read(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

struct Env {
    host: String,
    port: String,
    ca: String,
    cert: String,
    key: String,
    client_id: String,
    thing: String,
    topic: String,
    /// MQTT over WebSocket: the signed upgrade path (`IOTMOCK_WSS_PATH`).
    websocket: Option<String>,
    /// A custom authorizer's username and password (`IOTMOCK_AUTH=custom`).
    login: Option<(String, String)>,
}

fn var(name: &'static str) -> Result<String, ReferenceError> {
    std::env::var(name).map_err(|_| ReferenceError::Missing(name))
}

fn read(path: &str) -> Result<String, ReferenceError> {
    std::fs::read_to_string(path).map_err(|_| ReferenceError::Read(path.to_string()))
}

impl Env {
    fn load() -> Result<Self, ReferenceError> {
        Ok(Self {
            host: var("IOTMOCK_HOST")?,
            port: var("IOTMOCK_PORT")?,
            ca: var("IOTMOCK_CA_FILE")?,
            cert: var("IOTMOCK_CERT_FILE")?,
            key: var("IOTMOCK_KEY_FILE")?,
            client_id: var("IOTMOCK_CLIENT_ID")?,
            thing: var("IOTMOCK_THING_NAME")?,
            topic: var("IOTMOCK_TOPIC")?,
            websocket: std::env::var("IOTMOCK_WSS_PATH")
                .ok()
                .filter(|p| !p.is_empty()),
            login: match std::env::var("IOTMOCK_AUTH").as_deref() {
                Ok("custom") => Some((var("IOTMOCK_USERNAME")?, var("IOTMOCK_PASSWORD")?)),
                _ => None,
            },
        })
    }
}

/// A random factor in [0.5, 1.5) at least 0.35 away from `last`, so that consecutive jittered
/// waits visibly differ in their growth (plain randomness can look exponential by chance).
fn jitter_factor(last: f64) -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut f = last;
    for _ in 0..16 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        f = 0.5 + (random % 1000) as f64 / 1000.0;
        if (f - last).abs() >= 0.35 {
            break;
        }
    }
    f
}

/// Backoff stops growing after this many doublings (50 ms x 2^6 = 3.2 s).
const MAX_DOUBLINGS: u32 = 6;

/// The wait before retry `n` (0-based), in ms: 50 ms base. `last` carries the previous jitter
/// factor between calls.
fn backoff_ms(kind: &str, n: u32, last: &mut f64) -> u64 {
    let base = 50u64;
    let grown = base << n.min(MAX_DOUBLINGS);
    match kind {
        "constant" => base,
        "linear" => base * u64::from(n + 1),
        "exponential" => grown,
        _ => {
            *last = jitter_factor(*last);
            (grown as f64 * *last) as u64
        }
    }
}

async fn connect(env: &Env, args: &ReferenceArgs) -> Result<(DeviceClient, bool), ReferenceError> {
    let mut tls = TlsOptions::new(read(&env.ca)?);
    if env.login.is_none() {
        tls = tls.identity(read(&env.cert)?, read(&env.key)?);
    } else {
        tls.alpn = vec![b"mqtt".to_vec()];
    }
    tls.aws_cipher_suites = true;
    tls.skip_checks = SkipChecks {
        issuer: args.accept_unknown_ca,
        name: args.accept_wrong_name,
        expiry: args.accept_expired_cert,
    };
    let config = client_config(&tls)?;
    let mut opts = ConnectOptions::new(format!("{}:{}", env.host, env.port), env.client_id.clone());
    opts.server_name = env.host.clone();
    opts.version = Version::V311;
    opts.keep_alive = 30;
    opts.clean_start = args.clean_session;
    opts.timeout = Duration::from_millis(300);
    opts.websocket = env.websocket.clone();
    if let Some((user, password)) = &env.login {
        opts.username = Some(user.clone());
        opts.password = Some(password.clone());
    }
    let (mut attempt, mut last) = (0, 1.0);
    loop {
        match DeviceClient::connect(config.clone(), &opts).await {
            Ok((c, ack)) => return Ok((c, ack.session_present)),
            Err(_) if attempt < 20 => {
                tokio::time::sleep(Duration::from_millis(backoff_ms(
                    &args.backoff,
                    attempt,
                    &mut last,
                )))
                .await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends `packet` and waits for the answer `is_ack` picks, resending up to three times
/// (same packet id unless told otherwise). Messages that arrive meanwhile are handled.
async fn with_retry(
    dev: &mut Device<'_>,
    mut packet: Packet,
    is_ack: fn(&Packet, u16) -> bool,
    retry: bool,
) -> Result<(), ReferenceError> {
    for _ in 0..4 {
        dev.client.send(&packet).await?;
        let pkid = pkid_of(&packet);
        if dev.wait_for(|p| is_ack(p, pkid)).await? || !retry {
            return Ok(());
        }
        packet = dev.again(packet);
    }
    Ok(())
}

fn pkid_of(p: &Packet) -> u16 {
    match p {
        Packet::Publish(m) => m.pkid,
        Packet::Subscribe { pkid, .. } => *pkid,
        _ => 0,
    }
}

struct Device<'a> {
    client: DeviceClient,
    env: &'a Env,
    args: &'a ReferenceArgs,
    next_id: u16,
    /// Whether to subscribe on this connection.
    subscribe: bool,
}

impl Device<'_> {
    fn id(&mut self) -> u16 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// The resend of an unanswered packet: DUP for a PUBLISH, a new id when told so.
    fn again(&mut self, packet: Packet) -> Packet {
        let fresh = if self.args.new_packet_id_on_retry {
            Some(self.id())
        } else {
            None
        };
        match packet {
            Packet::Publish(m) => Packet::Publish(Publish {
                dup: true,
                pkid: fresh.unwrap_or(m.pkid),
                ..m
            }),
            Packet::Subscribe {
                pkid,
                filters,
                subscription_id,
            } => Packet::Subscribe {
                pkid: fresh.unwrap_or(pkid),
                filters,
                subscription_id,
            },
            other => other,
        }
    }

    /// Reads for up to about a second until `pick` accepts a packet; handles the others.
    async fn wait_for(&mut self, pick: impl Fn(&Packet) -> bool) -> Result<bool, ReferenceError> {
        for _ in 0..3 {
            match self.client.recv().await {
                Ok(p) if pick(&p) => return Ok(true),
                Ok(p) => self.handle(p).await?,
                Err(ClientError::Timeout(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    async fn publish(
        &mut self,
        topic: &str,
        payload: String,
        retry: bool,
    ) -> Result<(), ReferenceError> {
        let pkid = self.id();
        let m = Publish {
            pkid,
            ..Publish::new(topic, Bytes::from(payload), 1, false)
        };
        let is_ack = |p: &Packet, id: u16| matches!(p, Packet::PubAck { pkid, .. } if *pkid == id);
        with_retry(self, Packet::Publish(m), is_ack, retry).await
    }

    /// Asks for the next pending job (the answer comes to `start-next/accepted`).
    async fn start_next(&mut self) -> Result<(), ReferenceError> {
        let topic = format!("$aws/things/{}/jobs/start-next", self.env.thing);
        let ask = Publish::new(topic, Bytes::from_static(b"{}"), 0, false);
        Ok(self.client.send(&Packet::Publish(ask)).await?)
    }

    /// Reports `state` to the classic shadow.
    async fn report(&mut self, state: &serde_json::Value) -> Result<(), ReferenceError> {
        let topic = format!("$aws/things/{}/shadow/update", self.env.thing);
        let body = serde_json::json!({"state": {"reported": state}}).to_string();
        let m = Publish::new(topic, Bytes::from(body), 0, false);
        Ok(self.client.send(&Packet::Publish(m)).await?)
    }

    /// Acknowledges QoS 1 deliveries, follows shadow deltas and runs jobs.
    async fn handle(&mut self, p: Packet) -> Result<(), ReferenceError> {
        let Packet::Publish(m) = p else {
            return Ok(());
        };
        if m.qos == 1 {
            self.client
                .send(&Packet::PubAck {
                    pkid: m.pkid,
                    reason: 0,
                })
                .await?;
        }
        let doc: serde_json::Value = serde_json::from_slice(&m.payload).unwrap_or_default();
        let delta = format!("$aws/things/{}/shadow/update/delta", self.env.thing);
        if m.topic == delta && !self.args.ignore_shadow_delta {
            self.report(&doc["state"]).await?;
        }
        if self.args.ignore_jobs {
            return Ok(());
        }
        let jobs = format!("$aws/things/{}/jobs", self.env.thing);
        if m.topic == format!("{jobs}/notify-next") && doc.get("execution").is_some() {
            self.start_next().await?;
        }
        if m.topic == format!("{jobs}/start-next/accepted")
            && let Some(job) = doc.pointer("/execution/jobId").and_then(|j| j.as_str())
        {
            let update = format!("{jobs}/{job}/update");
            let body = Bytes::from_static(br#"{"status":"SUCCEEDED"}"#);
            self.client
                .send(&Packet::Publish(Publish::new(update, body, 0, false)))
                .await?;
        }
        Ok(())
    }

    /// One round of what a well-behaved device does after connecting.
    async fn work(&mut self) -> Result<(), ReferenceError> {
        // A keep-alive check first: no PINGRESP in about a second drops the connection.
        self.client.send(&Packet::PingReq).await?;
        let answered = self.wait_for(|p| matches!(p, Packet::PingResp)).await?;
        if !answered && !self.args.no_ping_timeout {
            return Ok(());
        }
        let jobs = format!("$aws/things/{}/jobs", self.env.thing);
        let filters = vec![
            (self.env.topic.clone(), 1),
            (format!("{jobs}/notify-next"), 1),
            (
                format!("$aws/things/{}/shadow/update/delta", self.env.thing),
                1,
            ),
        ];
        let pkid = self.id();
        let sub = Packet::Subscribe {
            pkid,
            filters,
            subscription_id: false,
        };
        let is_suback =
            |p: &Packet, id: u16| matches!(p, Packet::SubAck { pkid, .. } if *pkid == id);
        if self.subscribe {
            with_retry(self, sub, is_suback, !self.args.no_subscribe_retry).await?;
        }
        let topic = self.env.topic.clone();
        self.publish(&topic, "hello".into(), !self.args.no_publish_retry)
            .await?;
        let shadow = format!("$aws/things/{}/shadow/update", self.env.thing);
        self.publish(
            &shadow,
            r#"{"state":{"reported":{"online":true}}}"#.into(),
            true,
        )
        .await?;
        self.start_next().await?;
        loop {
            self.wait_for(|_| false).await?;
        }
    }
}

/// A connection that lasted less than this counts as unstable: the next reconnect waits
/// longer (backoff); a longer one resets the backoff.
const STABLE: Duration = Duration::from_secs(2);

/// Runs the reference device until it is stopped.
pub async fn run_reference(args: ReferenceArgs) -> Result<(), ReferenceError> {
    let env = Env::load()?;
    let mut first = true;
    let (mut unstable, mut last) = (0u32, 1.0);
    loop {
        let (client, resumed) = connect(&env, &args).await?;
        let since = tokio::time::Instant::now();
        let subscribe = match (first, resumed) {
            (true, _) => true,
            (false, true) => args.always_resubscribe,
            (false, false) => !args.never_resubscribe,
        };
        first = false;
        let mut dev = Device {
            client,
            env: &env,
            args: &args,
            next_id: 0,
            subscribe,
        };
        let _ = dev.work().await;
        // No PINGRESP (or a lost connection): drop the connection, then reconnect, backing
        // off while connections keep failing soon after they start.
        drop(dev);
        unstable = if since.elapsed() < STABLE {
            unstable + 1
        } else {
            0
        };
        let wait = backoff_ms(&args.backoff, unstable.saturating_sub(1), &mut last);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

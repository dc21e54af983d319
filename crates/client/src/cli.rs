//! `iotmock pub`, `iotmock sub` (flags close to mosquitto_pub/sub, `-d` prints what mosquitto
//! prints) and `iotmock load handshake|publish`. Refusals end with one line saying why.

pub use crate::load::cli::{LoadCmd, run_load};
use crate::load::devices::DevicesError;
use crate::load::publish::PublishError;
use crate::{
    ApiError, ClientError, ConnectOptions, DeviceClient, TlsOptions, Version, client_config,
};
use clap::Args;
use iotmock_mqtt::reason::V5;
use std::time::Duration;

/// Connection flags shared by `pub` and `sub` (mosquitto's spellings; `-h` is the host).
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    #[arg(long)]
    cafile: String,
    #[arg(long)]
    cert: Option<String>,
    #[arg(long)]
    key: Option<String>,
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    host: String,
    #[arg(short = 'p', long = "port", default_value_t = 8883)]
    port: u16,
    #[arg(short = 'i', long = "id")]
    id: Option<String>,
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Protocol: mqttv311 (default) or mqttv5.
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311")]
    protocol: String,
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    keep_alive: u16,
    /// Print the packets sent and received, as mosquitto does.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// ALPN protocol to offer (e.g. x-amzn-mqtt-ca for AWS's port 443).
    #[arg(long)]
    alpn: Option<String>,
    /// `tls` (MQTT over mutual TLS) or `wss` (MQTT over WebSocket at /mqtt with a SigV4 URL
    /// signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; port 443).
    #[arg(long, default_value = "tls")]
    transport: String,
    /// The region a WebSocket URL is signed for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct PubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[arg(short = 't', long = "topic")]
    topic: String,
    #[arg(short = 'm', long = "message", default_value = "")]
    message: String,
    #[arg(short = 'r', long = "retain")]
    retain: bool,
}

#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[arg(short = 't', long = "topic", required = true)]
    topics: Vec<String>,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(short = 'W', long = "timeout")]
    timeout: Option<u64>,
    /// Print the topic before each message.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
}

/// Why `iotmock pub`, `sub` or `load` stopped; its `Display` is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("Error: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Error: unsupported protocol version '{0}' (mqttv311 or mqttv5)")]
    UnknownVersion(String),
    #[error("Error: unknown transport '{0}' (tls or wss)")]
    Transport(String),
    #[error("Error: --transport wss needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")]
    NoCredentials,
    #[error("Error: the WebSocket URL could not be signed: {0}")]
    Signing(String),
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// `--cert` without `--cafile`.
    #[error("--cafile is required with --cert")]
    MissingCafile,
    /// Neither `--devices` nor `--cafile/--cert/--key`.
    #[error("give --devices N (register through the API) or --cafile/--cert/--key")]
    NoIdentitySource,
    /// Connecting, subscribing, receiving or disconnecting failed; see [`explain`].
    #[error("{}", explain(.0))]
    Client(#[from] ClientError),
    #[error("Error: publish failed: {0}")]
    PublishFailed(#[source] ClientError),
    /// PUBACK with a failure reason code.
    #[error("Error: PUBACK refused the message: {}", reason(*.0))]
    PubAckRefused(u8),
    /// SUBACK with a failure return code.
    #[error("Error: SUBACK refused the subscription: {}", reason(*.0))]
    SubAckRefused(u8),
    /// A load identity's TLS configuration is unusable.
    #[error("{0}")]
    Identity(#[source] ClientError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Devices(#[from] DevicesError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Shard(#[from] crate::load::shard::ShardError),
    /// Writing a log, summary or report file.
    #[error("Error: cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// `load merge` found nothing to merge, or a file it cannot read.
    #[error("Error: {0}")]
    Merge(String),
}

/// A `--duration` that is not `10s`, `500ms`, `2m` or plain seconds; holds what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("bad duration '{0}'")]
    Number(String),
    #[error("bad duration unit in '{0}' (ms, s, m)")]
    Unit(String),
    #[error("duration '{0}' out of range")]
    OutOfRange(String),
}

pub(crate) fn read(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_string(),
        source,
    })
}

pub(crate) fn version(s: &str) -> Result<Version, CliError> {
    match s {
        "mqttv311" | "311" => Ok(Version::V311),
        "mqttv5" | "5" => Ok(Version::V5),
        other => Err(CliError::UnknownVersion(other.to_string())),
    }
}

/// One line explaining a refusal, for a human at a terminal.
pub fn explain(e: &ClientError) -> String {
    match e {
        ClientError::ClosedBeforeConnack => "Error: the broker closed the connection before CONNACK (AWS IoT refuses an unknown, inactive or unauthorized MQTT 3.1.1 client this way)".into(),
        ClientError::Refused(code) => format!("Error: CONNACK refused the connection: {}", reason(*code)),
        ClientError::Tls(e) => format!("Error: TLS handshake failed: {e}"),
        other => format!("Error: {other}"),
    }
}

fn reason(code: u8) -> String {
    let text = iotmock_mqtt::reason::describe(code);
    format!("{text} ({code:#04x})")
}

/// The signed `/mqtt` URL for `c`'s host and port, with the environment's AWS credentials.
fn websocket_path(c: &ConnArgs) -> Result<String, CliError> {
    let creds = crate::presign::AwsCredentials::from_env().ok_or(CliError::NoCredentials)?;
    let port = c.port.to_string();
    crate::presign::mqtt_path_now(&c.host, &port, &c.region, &creds).map_err(CliError::Signing)
}

async fn connect(c: &ConnArgs, default_id: &str) -> Result<(DeviceClient, String), CliError> {
    let mut tls = TlsOptions::new(read(&c.cafile)?);
    if let (Some(cert), Some(key)) = (&c.cert, &c.key) {
        tls = tls.identity(read(cert)?, read(key)?);
    }
    if let Some(a) = &c.alpn {
        tls.alpn = vec![a.as_bytes().to_vec()];
    }
    let config = client_config(&tls)?;
    let id = c.id.clone().unwrap_or_else(|| default_id.to_string());
    let mut opts = ConnectOptions::new(format!("{}:{}", c.host, c.port), id.clone())
        .version(version(&c.protocol)?);
    opts.server_name = c.host.clone();
    opts.keep_alive = c.keep_alive;
    match c.transport.as_str() {
        "tls" => {}
        "wss" => opts.websocket = Some(websocket_path(c)?),
        other => return Err(CliError::Transport(other.to_string())),
    }
    if c.debug {
        println!("Client {id} sending CONNECT");
    }
    let (client, _) = DeviceClient::connect(config, &opts).await?;
    if c.debug {
        println!("Client {id} received CONNACK (0)");
    }
    Ok((client, id))
}

/// `iotmock pub`.
pub async fn run_pub(a: PubArgs) -> Result<(), CliError> {
    let (mut client, id) = connect(&a.conn, &format!("iotmock-pub-{}", std::process::id())).await?;
    let d = a.conn.debug;
    if d {
        println!(
            "Client {id} sending PUBLISH (d0, q{}, r{}, m1, '{}', ... ({} bytes))",
            a.conn.qos,
            u8::from(a.retain),
            a.topic,
            a.message.len()
        );
    }
    match client
        .publish(
            &a.topic,
            a.message.clone().into_bytes(),
            a.conn.qos,
            a.retain,
        )
        .await
    {
        Ok(Some(0)) if d => println!("Client {id} received PUBACK (Mid: 1, RC:0)"),
        Ok(Some(code)) if code != 0 => return Err(CliError::PubAckRefused(code)),
        Ok(_) => {}
        Err(e) => return Err(CliError::PublishFailed(e)),
    }
    if d {
        println!("Client {id} sending DISCONNECT");
    }
    Ok(client.disconnect().await?)
}

/// `iotmock sub`.
pub async fn run_sub(a: SubArgs) -> Result<(), CliError> {
    let (mut client, id) = connect(&a.conn, &format!("iotmock-sub-{}", std::process::id())).await?;
    let filters: Vec<(&str, u8)> = a.topics.iter().map(|t| (t.as_str(), a.conn.qos)).collect();
    if a.conn.debug {
        println!(
            "Client {id} sending SUBSCRIBE (Mid: 1, Topic: {}, QoS: {})",
            a.topics.join(", "),
            a.conn.qos
        );
    }
    let codes = client.subscribe(&filters).await?;
    if a.conn.debug {
        println!("Client {id} received SUBACK");
        println!(
            "Subscribed (mid: 1): {}",
            codes
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(bad) = codes.iter().find(|c| V5::is_failure(**c)) {
        return Err(CliError::SubAckRefused(*bad));
    }
    let deadline = a
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut received = 0;
    while a.count.is_none_or(|c| received < c) {
        let next = client.next_message();
        let msg = match deadline {
            Some(at) => match tokio::time::timeout_at(at, next).await {
                Ok(m) => m,
                Err(_) => break,
            },
            None => next.await,
        };
        match msg {
            Ok(m) if a.verbose => println!("{} {}", m.topic, String::from_utf8_lossy(&m.payload)),
            Ok(m) => println!("{}", String::from_utf8_lossy(&m.payload)),
            Err(ClientError::Timeout(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        received += 1;
    }
    Ok(client.disconnect().await?)
}

/// `10s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| DurationError::Number(s.to_string()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(DurationError::Unit(s.to_string())),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(DurationError::OutOfRange(s.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_before() {
        let d = |s| parse_duration(s).map_err(|e| e.to_string());
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("x"), Err("bad duration 'x'".into()));
        assert_eq!(d("3h"), Err("bad duration unit in '3h' (ms, s, m)".into()));
        assert_eq!(d("2000m"), Err("duration '2000m' out of range".into()));
        let v = version("4").map(|_| ()).map_err(|e| e.to_string());
        let want = "Error: unsupported protocol version '4' (mqttv311 or mqttv5)";
        assert_eq!(v, Err(want.into()));
        let r = CliError::SubAckRefused(0x87).to_string();
        assert_eq!(
            r,
            "Error: SUBACK refused the subscription: not authorized (0x87)"
        );
        let c = CliError::from(ClientError::Refused(5)).to_string();
        assert_eq!(
            c,
            "Error: CONNACK refused the connection: not authorized (0x05)"
        );
    }
}

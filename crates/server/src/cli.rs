//! The `iotmock` command line. `iotmock` alone is `iotmock serve`.

use crate::MockIotCore;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use iotmock_broker::{BrokerSettings, Coalescing};
use iotmock_registry::EndpointConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "iotmock",
    version,
    about = "A faithful, fast, offline stand-in for AWS IoT Core"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the mock (the default).
    Serve(ServeArgs),
    /// Publish one message, like mosquitto_pub.
    Pub(iotmock_client::cli::PubArgs),
    /// Subscribe and print messages, like mosquitto_sub.
    Sub(iotmock_client::cli::SubArgs),
    /// Load-test a broker: handshakes or publish throughput.
    #[command(subcommand)]
    Load(iotmock_client::cli::LoadCmd),
    /// Read, update, delete or list Device Shadows of a running mock (over iot-data HTTP).
    #[command(subcommand)]
    Shadow(iotmock_client::shadow_cli::ShadowCmd),
    /// The IAM policies of an access key (and its Cognito identity), for SigV4 callers:
    /// MQTT over WebSocket.
    #[command(subcommand)]
    Iam(iotmock_client::iam_cli::IamCmd),
    /// Device conformance: run AWS Device Advisor's test cases against a device, locally.
    #[command(subcommand)]
    Advisor(crate::advisor::cli::AdvisorCmd),
    /// A device that passes the advisor's cases, with one flag per misbehaviour.
    ReferenceDevice(iotmock_client::reference::ReferenceArgs),
    /// Topic rules: try a statement on a message.
    #[command(subcommand)]
    Rules(crate::rules_cli::RulesCmd),
    /// Exits 0 when a running mock serves (`GET /iotmock/health`), 1 otherwise: a container's
    /// HEALTHCHECK.
    Health(iotmock_client::shadow_cli::ApiUrl),
}

/// A door's address, or `off`.
#[derive(Debug, Clone, Copy)]
pub struct DoorAddr(Option<SocketAddr>);

fn door_addr(text: &str) -> Result<DoorAddr, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(DoorAddr(None));
    }
    text.parse()
        .map(|a| DoorAddr(Some(a)))
        .map_err(|e| format!("'{text}' is neither an address (127.0.0.1:4443) nor off: {e}"))
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Control-plane API address (AWS CLI / SDK `--endpoint-url`).
    #[arg(
        help_heading = "Listeners",
        long,
        env = "IOTMOCK_API_ADDR",
        default_value = "127.0.0.1:4580"
    )]
    api_addr: SocketAddr,
    /// The console on the API port at /console (connections, refusals, an MQTT test client,
    /// registry, shadows, jobs); `false` turns it off.
    #[arg(long, env = "IOTMOCK_CONSOLE", default_value_t = true, action = clap::ArgAction::Set, help_heading = "Listeners")]
    console: bool,
    /// Entries each of the console's ring buffers keeps (recent disconnects, refusals).
    #[arg(
        long,
        env = "IOTMOCK_CONSOLE_RING",
        default_value_t = 1000,
        help_heading = "Listeners"
    )]
    console_ring: usize,
    /// Log lines on stderr as `text` (colour only on a terminal) or `json` (one object a line).
    #[arg(long, env = "IOTMOCK_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], help_heading = "Logging")]
    log_format: String,
    /// MQTT over mutual TLS (AWS's port 8883).
    #[arg(
        help_heading = "Listeners",
        long,
        env = "IOTMOCK_MQTT_ADDR",
        default_value = "127.0.0.1:8883"
    )]
    mqtt_addr: SocketAddr,
    /// AWS's port 443, one TLS listener dispatching on ALPN: `x-amzn-mqtt-ca` (MQTT with a
    /// client certificate), `x-amzn-http-ca` (HTTPS publish with a client certificate), none or
    /// `http/1.1` (MQTT over WebSocket at `/mqtt` with a SigV4 URL, and the HTTPS API); `off`
    /// closes it. Default 127.0.0.1:4443 (a free port, with a warning, when that is taken).
    #[arg(help_heading = "Listeners", long, alias = "mqtt-alpn-addr", env = "IOTMOCK_PORT_443_ADDR", value_parser = door_addr)]
    port_443_addr: Option<DoorAddr>,
    /// Verify the SigV4 signature of MQTT-over-WebSocket URLs with these keys
    /// (`AKID:SECRET[,AKID:SECRET...]`); a wrong signature or another key is refused 403.
    /// Without it, signatures are not checked (no credentials are needed).
    #[arg(help_heading = "Listeners", long, env = "IOTMOCK_SIGV4_CREDENTIALS", value_parser = crate::doors::Secrets::parse)]
    sigv4_credentials: Option<crate::doors::Secrets>,
    /// AWS's 8443: HTTPS publish with a client certificate (`POST /topics/{topic}`); `off`
    /// closes it. Default 127.0.0.1:8443 (a free port, with a warning, when that is taken).
    #[arg(help_heading = "Listeners", long, env = "IOTMOCK_HTTPS_ADDR", value_parser = door_addr)]
    https_addr: Option<DoorAddr>,
    /// Threads serving MQTT connections, each with its own listener on the MQTT address, and
    /// as many for each door (port 443, 8443) (0: half the CPU cores, at least one; the rest
    /// are left to the clients that usually share the machine in tests and load runs).
    #[arg(
        help_heading = "Broker tuning",
        long,
        env = "IOTMOCK_IO_THREADS",
        default_value_t = 0
    )]
    io_threads: usize,
    /// Microseconds (at most 10000) an MQTT I/O thread fed by a stream of QoS 0 publishes
    /// waits before it looks for more input, so a stream arriving one message per write is
    /// read in batches (like a network card's rx-usecs); 0 turns it off. A wait starts only
    /// after a round of work that handled --coalesce-min-packets QoS 0 publishes or more (but
    /// not yet a batch of 8 times that, unless the round followed a wait), cheaply, when input
    /// came back within the window after the last idle spell; a quiet thread and input that a
    /// client waits an answer for never start one. While a thread waits, all of its
    /// connections wait (at most the window).
    #[arg(help_heading = "Broker tuning", long, env = "IOTMOCK_COALESCE_US", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    coalesce_us: u64,
    /// QoS 0 publishes a round of work must handle for its I/O thread to wait.
    #[arg(help_heading = "Broker tuning", long, env = "IOTMOCK_COALESCE_MIN_PACKETS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..))]
    coalesce_min_packets: u32,
    /// Bytes of deliveries that may wait in the broker for one client (and, at most 512 KiB
    /// of them, in its session for room in the QoS 1 window); past it deliveries to that
    /// client are discarded and counted.
    #[arg(help_heading = "Broker tuning", long, env = "IOTMOCK_QUEUE_BYTES", default_value_t = iotmock_broker::DEFAULT_QUEUE_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1024..))]
    queue_bytes: u64,
    /// Bytes that may wait for all clients together; a client with under 64 KiB queued is
    /// always served. With the default, 1,000 clients that stopped reading hold under 1 GiB.
    #[arg(help_heading = "Broker tuning", long, env = "IOTMOCK_QUEUE_BYTES_TOTAL", default_value_t = iotmock_broker::DEFAULT_QUEUE_BYTES_TOTAL as u64,
          value_parser = clap::value_parser!(u64).range(1024..))]
    queue_bytes_total: u64,
    /// Retained messages the account may hold (AWS's figure, published only by third
    /// parties); past it a retained publish with a payload to a new topic is throttled.
    #[arg(
        help_heading = "Broker tuning",
        long,
        env = "IOTMOCK_MAX_RETAINED",
        default_value_t = 500_000
    )]
    max_retained: usize,
    /// The account's publishes per second under --throttle, inbound and outbound each (AWS:
    /// 20,000, raised by a quota request); past it a publish or delivery is discarded.
    #[arg(
        help_heading = "Broker tuning",
        long,
        env = "IOTMOCK_ACCOUNT_PUBLISHES_PER_SECOND",
        default_value_t = 20_000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    account_publishes_per_second: u32,
    /// Seconds a client may stay over --queue-bytes before it is disconnected.
    #[arg(
        help_heading = "Broker tuning",
        long,
        env = "IOTMOCK_SLOW_CLIENT_GRACE_SECS",
        default_value_t = 30
    )]
    slow_client_grace_secs: u64,
    /// Answer refused MQTT 3.1.1 CONNECTs with a CONNACK code instead of closing silently as AWS does.
    #[arg(
        help_heading = "Broker tuning",
        long,
        env = "IOTMOCK_MQTT3_CONNACK_ON_REFUSAL"
    )]
    mqtt3_connack_on_refusal: bool,
    /// Apply AWS's throttles: 100 publishes/s per connection, 1 CONNECT/s per client id.
    #[arg(
        help_heading = "AWS behaviour (settings for what AWS leaves unconfirmed)",
        long,
        env = "IOTMOCK_THROTTLE"
    )]
    throttle: bool,
    /// Persistent-session and last-will CONNECTs need a policy statement testing iot:ConnectAttributes.
    #[arg(
        help_heading = "AWS behaviour (settings for what AWS leaves unconfirmed)",
        long,
        env = "IOTMOCK_REQUIRE_CONNECT_ATTRIBUTES"
    )]
    require_connect_attributes: bool,
    /// Close every TLS handshake on the MQTT ports that sends no SNI, as AWS's transport
    /// security page states (off: only SNI_ONLY certificates need SNI, as the model docs say).
    #[arg(
        help_heading = "AWS behaviour (settings for what AWS leaves unconfirmed)",
        long,
        env = "IOTMOCK_REQUIRE_SNI"
    )]
    require_sni: bool,
    /// Region for requests without a SigV4 credential scope.
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_REGION",
        default_value = "us-east-1"
    )]
    region: String,
    /// The one account the mock serves.
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_ACCOUNT_ID",
        default_value = "123456789012"
    )]
    account_id: String,
    /// Further accounts served besides --account-id (comma-separated 12-digit ids). A request
    /// signed with one of them as its access key id acts as that account.
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_ACCOUNTS",
        value_delimiter = ','
    )]
    accounts: Vec<String>,
    /// Where the registry database and the root CA live.
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_STATE_DIR",
        default_value = "./.iotmock"
    )]
    state_dir: PathBuf,
    /// Host DescribeEndpoint returns for every endpoint type.
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_ENDPOINT_HOST",
        default_value = "localhost"
    )]
    endpoint_host: String,
    /// Return AWS-shaped endpoint names under this domain instead
    /// (`<prefix>-ats.iot.<region>.<domain>`; needs a hosts entry to resolve).
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_ENDPOINT_DOMAIN"
    )]
    endpoint_domain: Option<String>,
    /// Refuse the legacy `iot:Data` endpoint type (as AWS does for new accounts).
    #[arg(
        help_heading = "Account, region and state",
        long,
        env = "IOTMOCK_NO_LEGACY_DATA_ENDPOINT"
    )]
    no_legacy_data_endpoint: bool,
    /// What an operation on a topic rule that does not exist answers (AWS's model lists no
    /// ResourceNotFoundException for them).
    #[arg(help_heading = "Rules, custom authorizers and actions", long, env = "IOTMOCK_RULE_NOT_FOUND", value_enum, default_value_t = crate::RuleNotFound::Unauthorized)]
    rule_not_found: crate::RuleNotFound,
    /// Topic rule destinations are ENABLED at once, with no confirmation (AWS POSTs one to the
    /// URL and waits for ConfirmTopicRuleDestination; the mock records it in the action log).
    /// (`--skip-http-confirmation` is the same.)
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_AUTO_CONFIRM_DESTINATIONS",
        alias = "skip-http-confirmation"
    )]
    auto_confirm_destinations: bool,
    /// A CONNECT a custom authorizer refuses gets a not-authorized CONNACK, then the close
    /// (AWS documents neither; `close` just closes).
    #[arg(help_heading = "Rules, custom authorizers and actions", long, env = "IOTMOCK_CUSTOM_AUTH_REFUSAL", default_value = "connack", value_parser = ["connack", "close"])]
    custom_auth_refusal: String,
    /// What lifecycle events name a custom-auth connection by: `authorizer-and-principal`
    /// (`{authorizerName}:{principalId}`) or `principal` (the principalId alone).
    #[arg(help_heading = "Rules, custom authorizers and actions", long, env = "IOTMOCK_CUSTOM_AUTH_EVENT_PRINCIPAL", default_value = "authorizer-and-principal", value_parser = ["authorizer-and-principal", "principal"])]
    custom_auth_event_principal: String,
    /// DeleteAuthorizer takes an ACTIVE authorizer (by default it must be set INACTIVE first).
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_DELETE_ACTIVE_AUTHORIZERS"
    )]
    delete_active_authorizers: bool,
    /// The key naming the report id in Device Defender's `.../accepted` answers.
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_DEFENDER_REPORT_ID_KEY",
        default_value = "reportId"
    )]
    defender_report_id_key: String,
    /// JITR registers certificates of SNI_ONLY CAs too (AWS documents it for DEFAULT mode).
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_JITR_SNI_ONLY"
    )]
    jitr_sni_only: bool,
    /// Rules' `lambda` actions, `aws_lambda()` and custom authorizers POST the event to
    /// BASE/FUNCTION_NAME (a 2xx body is the function's answer).
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_LAMBDA_URL",
        value_name = "BASE"
    )]
    lambda_url: Option<String>,
    /// Rules' AWS-service actions are sent here, SigV4-signed (LocalStack, moto's server).
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_AWS_ENDPOINT_URL",
        value_name = "URL"
    )]
    aws_endpoint_url: Option<String>,
    /// PEM CA certificates rules' `https://` endpoints may prove themselves with, besides the
    /// system's roots (a self-signed LocalStack or a local webhook).
    #[arg(
        help_heading = "Rules, custom authorizers and actions",
        long,
        env = "IOTMOCK_ACTION_CA_FILE",
        value_name = "PEM"
    )]
    action_ca_file: Option<PathBuf>,
}

/// Entry point of the `iotmock` binary.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tool = match cli.command {
        Some(Command::Serve(args)) => return serve_logged(&runtime, args),
        None => return serve_logged(&runtime, cli.serve),
        Some(Command::Rules(cmd)) => crate::rules_cli::run(cmd),
        Some(Command::Pub(a)) => runtime
            .block_on(iotmock_client::cli::run_pub(a))
            .map_err(say),
        Some(Command::Sub(a)) => runtime
            .block_on(iotmock_client::cli::run_sub(a))
            .map_err(say),
        Some(Command::Load(cmd)) => runtime
            .block_on(iotmock_client::cli::run_load(cmd))
            .map_err(say),
        Some(Command::Shadow(cmd)) => runtime
            .block_on(iotmock_client::shadow_cli::run_shadow(cmd))
            .map_err(say),
        Some(Command::Iam(cmd)) => runtime
            .block_on(iotmock_client::iam_cli::run_iam(cmd))
            .map_err(say),
        Some(Command::Advisor(cmd)) => runtime
            .block_on(crate::advisor::cli::run_advisor(cmd))
            .map_err(say),
        Some(Command::ReferenceDevice(args)) => runtime
            .block_on(iotmock_client::reference::run_reference(args))
            .map_err(say),
        Some(Command::Health(api)) => runtime
            .block_on(iotmock_client::get_text(
                &api.endpoint_url,
                "/iotmock/health",
            ))
            .map(|body| println!("{body}"))
            .map_err(say),
    };
    if let Err(message) = tool {
        eprintln!("{message}");
        std::process::exit(1);
    }
    Ok(())
}

/// Logs go to stderr (stdout carries only the start-up banner), in colour only on a terminal,
/// as JSON lines with `--log-format json`.
fn serve_logged(runtime: &tokio::runtime::Runtime, args: ServeArgs) -> Result<()> {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let refusals = Arc::new(crate::console::RefusalLog::new(args.console_ring));
    let tap = args
        .console
        .then(|| crate::console::refusals::RefusalTap(refusals.clone()));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(tap);
    match args.log_format.as_str() {
        "json" => registry.with(logs.json()).init(),
        _ => registry
            .with(logs.with_ansi(std::io::stderr().is_terminal()))
            .init(),
    }
    runtime.block_on(serve(args, refusals))
}

async fn serve(args: ServeArgs, refusals: Arc<crate::console::RefusalLog>) -> Result<()> {
    let threads = io_threads(args.io_threads);
    let mut builder = MockIotCore::builder()
        .api_addr(args.api_addr)
        .mqtt_addr(args.mqtt_addr)
        .broker_settings(BrokerSettings {
            strict_mqtt3_refusal: !args.mqtt3_connack_on_refusal,
            throttle: args.throttle,
            require_connect_attributes: args.require_connect_attributes,
            require_sni: args.require_sni,
            io_threads: threads,
            queue_bytes: usize::try_from(args.queue_bytes).unwrap_or(usize::MAX),
            queue_bytes_total: usize::try_from(args.queue_bytes_total).unwrap_or(usize::MAX),
            max_retained: args.max_retained,
            account_publishes_per_second: args.account_publishes_per_second,
            slow_client_grace: Duration::from_secs(args.slow_client_grace_secs),
            custom_auth_connack: args.custom_auth_refusal == "connack",
            coalescing: Coalescing {
                window: Duration::from_micros(args.coalesce_us),
                min_packets: args.coalesce_min_packets,
            },
            ..BrokerSettings::default()
        })
        .region(&args.region)
        .account_id(&args.account_id)
        .accounts(args.accounts.clone())
        .state_dir(&args.state_dir)
        .rule_not_found(args.rule_not_found)
        .auto_confirm_destinations(args.auto_confirm_destinations)
        .delete_active_authorizers(args.delete_active_authorizers)
        .defender_report_id_key(&args.defender_report_id_key)
        .jitr_sni_only(args.jitr_sni_only)
        .console(args.console.then(|| crate::console::ConsoleSettings {
            ring: args.console_ring,
            refusals,
        }))
        .custom_auth_event_principal(match args.custom_auth_event_principal.as_str() {
            "principal" => iotmock_authorizer::EventPrincipal::Principal,
            _ => iotmock_authorizer::EventPrincipal::AuthorizerAndPrincipal,
        })
        .endpoint(EndpointConfig {
            host: args.endpoint_host,
            domain: args.endpoint_domain,
            legacy_data_endpoint: !args.no_legacy_data_endpoint,
        });
    let explicit = args.port_443_addr.is_some() || args.https_addr.is_some();
    let default_443 = SocketAddr::from(([127, 0, 0, 1], 4443));
    let default_https = SocketAddr::from(([127, 0, 0, 1], 8443));
    builder = builder
        .port_443_addr(args.port_443_addr.map_or(Some(default_443), |a| a.0))
        .https_addr(args.https_addr.map_or(Some(default_https), |a| a.0))
        .door_fallback(!explicit)
        .sigv4_credentials(args.sigv4_credentials.clone().unwrap_or_default());
    if let Some(url) = &args.lambda_url {
        builder = builder.lambda_url(url);
    }
    if let Some(url) = &args.aws_endpoint_url {
        builder = builder.aws_endpoint_url(url);
    }
    if let Some(path) = &args.action_ca_file {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        builder = builder.action_ca_pem(&pem)?;
    }
    let mock = builder.start().await?;
    println!("iotmock API:  http://{}", usable(mock.api_addr()));
    if args.console {
        println!("console:      http://{}/console", usable(mock.api_addr()));
    }
    println!("MQTT (mTLS):  {}", usable(mock.mqtt_addr()));
    if let Some(addr) = mock.port_443_addr() {
        let addr = usable(addr);
        println!("port 443:     {addr} (ALPN x-amzn-mqtt-ca, x-amzn-http-ca; wss://…/mqtt)");
    }
    if let Some(addr) = mock.https_addr() {
        println!("HTTPS (mTLS): {}", usable(addr));
    }
    if let Some(path) = mock.root_ca_path() {
        println!("trust anchor: {}", path.display());
    }
    println!("state dir:    {}", args.state_dir.display());
    tracing::info!(region = %args.region, account = %args.account_id, mqtt_io_threads = threads, "iotmock ready");
    wait_for_signal().await;
    tracing::info!("shutting down");
    mock.shutdown().await;
    Ok(())
}

/// The MQTT I/O threads asked for; 0 means half the cores the process may use, at least one.
fn io_threads(asked: usize) -> usize {
    match asked {
        0 => std::thread::available_parallelism().map_or(1, |n| (usize::from(n) / 2).max(1)),
        n => n,
    }
}

/// The one line a failed tool prints.
fn say(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// An address a client can use: `localhost:PORT` for a listener on every interface.
fn usable(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

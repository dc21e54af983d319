//! [`MockIotCore`]: the whole mock on listeners it binds itself, with a handle that reports
//! its endpoints and shuts it down (explicitly, or on drop).

use crate::data_plane::BrokerData;
use crate::state_dir;
use crate::timers::{Timers, tick};
use anyhow::{Context, Result};
use iotmock_api::{ApiLimits, ApiServer, ApiState};
use iotmock_broker::store::{BrokerStore, NoStore, SqliteBrokerStore};
use iotmock_broker::{Broker, BrokerCore, BrokerSettings};
use iotmock_fleet::FleetService;
use iotmock_jobs::JobsService;
use iotmock_pki::{MockCa, ServerCertKind};
use iotmock_registry::{Clock, EndpointConfig, Registry, SystemClock};
use iotmock_shadow::{ShadowService, ShadowSettings};
use iotmock_store::{MemoryStore, SqliteStore, Store};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;

/// Configures a [`MockIotCore`]. Defaults: loopback ephemeral ports, in-memory state,
/// `us-east-1`, account `123456789012`.
#[derive(Debug, Clone)]
pub struct Builder {
    api_addr: SocketAddr,
    mqtt_addr: SocketAddr,
    mqtt_alpn_addr: Option<SocketAddr>,
    pub(crate) broker: BrokerSettings,
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) state_dir: Option<PathBuf>,
    endpoint: EndpointConfig,
    clock: ClockSetting,
    server_cert: ServerCertKind,
    root_ca: Option<(String, String)>,
    api_limits: ApiLimits,
    pub(crate) other_accounts: Vec<String>,
    /// The console on the API port (`None`: off).
    pub(crate) console: Option<crate::console::ConsoleSettings>,
    pub(crate) rules_not_found: iotmock_model::ErrorCode,
    pub(crate) endpoints: crate::actions::Endpoints,
    pub(crate) doors: crate::doors::DoorAddrs,
    pub(crate) functions: crate::custom_auth::FunctionTable,
    pub(crate) delete_active_authorizers: bool,
    pub(crate) defender_report_id_key: String,
    pub(crate) jitr_sni_only: bool,
    pub(crate) event_principal: iotmock_authorizer::EventPrincipal,
}

/// The clock the mock reads (the host's unless a test gives its own).
#[derive(Clone)]
struct ClockSetting(Arc<dyn Clock>);

impl std::fmt::Debug for ClockSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            mqtt_alpn_addr: None,
            broker: BrokerSettings::default(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            state_dir: None,
            endpoint: EndpointConfig::default(),
            clock: ClockSetting(Arc::new(SystemClock)),
            server_cert: ServerCertKind::Standard,
            root_ca: None,
            api_limits: ApiLimits::default(),
            other_accounts: Vec::new(),
            console: None,
            rules_not_found: iotmock_model::ErrorCode::Unauthorized,
            endpoints: crate::actions::Endpoints::default(),
            functions: Default::default(),
            delete_active_authorizers: false,
            defender_report_id_key: "reportId".into(),
            jitr_sni_only: false,
            event_principal: Default::default(),
            doors: crate::doors::DoorAddrs::default(),
        }
    }
}

impl Builder {
    pub fn api_addr(mut self, addr: SocketAddr) -> Self {
        self.api_addr = addr;
        self
    }

    /// The MQTT-over-mutual-TLS listener (AWS's port 8883).
    pub fn mqtt_addr(mut self, addr: SocketAddr) -> Self {
        self.mqtt_addr = addr;
        self
    }

    /// A second MQTT listener that requires ALPN `x-amzn-mqtt-ca` (AWS's port-443 mode).
    pub fn mqtt_alpn_addr(mut self, addr: SocketAddr) -> Self {
        self.mqtt_alpn_addr = Some(addr);
        self
    }

    /// Broker behaviour: MQTT 3.1.1 refusal style, deadlines, connection limit.
    pub fn broker_settings(mut self, settings: BrokerSettings) -> Self {
        self.broker = settings;
        self
    }

    /// The region for requests that carry no SigV4 credential scope.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn account_id(mut self, account: impl Into<String>) -> Self {
        self.account_id = account.into();
        self
    }

    /// Keep the registry (SQLite) and root CA in this directory instead of in memory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The clock everything reads (registry, broker, shadows, job timeouts); tests pass a
    /// [`iotmock_registry::ManualClock`] and advance it instead of waiting.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = ClockSetting(clock);
        self
    }

    /// The server certificate the broker presents: the standard one, or one a device must
    /// refuse (untrusted issuer, wrong name, expired) or must cope with (large). Any but the
    /// standard one is presented whatever endpoint the client names.
    pub fn server_certificate(mut self, kind: ServerCertKind) -> Self {
        self.server_cert = kind;
        self
    }

    /// The API's read deadlines and connection cap.
    pub fn api_limits(mut self, limits: ApiLimits) -> Self {
        self.api_limits = limits;
        self
    }

    /// Use this root CA (certificate and key PEM) instead of minting one, so devices given
    /// its certificate once trust every mock started with it. Ignored with a state dir,
    /// which keeps its own.
    pub fn root_ca(mut self, cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        self.root_ca = Some((cert_pem.into(), key_pem.into()));
        self
    }

    pub fn endpoint(mut self, endpoint: EndpointConfig) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Binds the listeners and starts serving.
    pub async fn start(self) -> Result<MockIotCore> {
        let clock: Arc<dyn Clock> = self.clock.0.clone();
        let now = clock.now_millis() / 1000;
        let (ca, store, root_path): (MockCa, Box<dyn Store>, Option<PathBuf>) =
            match &self.state_dir {
                Some(dir) => {
                    let (ca, path) = state_dir::load_or_create_root(dir, now)?;
                    let db = dir.join(state_dir::DATABASE);
                    let store = SqliteStore::open(&db)
                        .with_context(|| format!("opening {}", db.display()))?;
                    (ca, Box::new(store), Some(path))
                }
                None => {
                    let ca = match &self.root_ca {
                        Some((cert, key)) => MockCa::from_pem(cert, key)?,
                        None => MockCa::generate(now)?,
                    };
                    (ca, Box::new(MemoryStore), None)
                }
            };
        let root_ca_pem: Arc<str> = Arc::from(ca.cert_pem());
        let identity = ca
            .issue_server_kind(
                &server_names(&self.region, &self.endpoint),
                now,
                self.server_cert,
            )
            .context("issuing the broker's server certificate")?;
        let ca = Arc::new(ca);
        let ca_for_accounts = ca.clone();
        let minter = regional_minter(ca.clone(), self.endpoint.clone(), clock.clone());
        let mut registry = Registry::open(
            &self.account_id,
            self.endpoint.clone(),
            store,
            clock.clone(),
            ca,
        )
        .context("loading the registry")?;
        registry.set_jitr_sni_only(self.jitr_sni_only);
        let registry = Arc::new(RwLock::new(registry));
        let settings = BrokerSettings {
            default_region: self.region.clone(),
            ..self.broker.clone()
        };
        let store: Arc<dyn BrokerStore> = match &self.state_dir {
            Some(dir) => {
                let path = dir.join(iotmock_broker::store::DATABASE);
                let store = SqliteBrokerStore::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                Arc::new(store)
            }
            None => Arc::new(NoStore),
        };
        let core = BrokerCore::open(registry.clone(), settings, clock.clone(), store)
            .context("loading retained messages and persistent sessions")?;
        let shadows = self.open_shadows()?;
        core.register_service(shadows.clone());
        let jobs = self.open_jobs()?;
        core.register_service(jobs.clone());
        let fleet = Arc::new(FleetService::new(registry.clone(), &self.region));
        core.register_service(fleet);
        let rules = self.open_rules(&registry, &shadows, &clock)?;
        core.register_service(rules.clone());
        let authorizers = self.open_authorizers(&clock)?;
        let index = Arc::new(
            iotmock_index::IndexService::open(self.store(INDEX_DATABASE)?, &self.region)
                .context("loading the fleet indexing configuration")?,
        );
        index.attach_sources(iotmock_index::live::Sources {
            registry: registry.clone(),
            shadows: shadows.clone(),
        });
        core.register_service(index.clone());
        let defender = Arc::new(iotmock_defender::DefenderService::with_report_id_key(
            &self.region,
            &self.defender_report_id_key,
        ));
        core.register_service(defender.clone());
        let events = Arc::new(
            iotmock_events::EventsService::open(self.store(EVENTS_DATABASE)?)
                .context("loading the event configurations")?,
        );
        core.register_service(events.clone());
        let announce = events.clone();
        jobs.set_announcer(
            &self.account_id,
            Arc::new(move |region, kind, topic, payload| {
                announce.announce(region, kind, topic, payload)
            }),
        );
        let timers = Timers {
            core: core.clone(),
            clock: clock.clone(),
        };
        let ticker = Ticker(tokio::spawn(tick(timers.clone())));
        let listener = TcpListener::bind(self.api_addr).await.map_err(|e| {
            bind_error(e, self.api_addr, "the API", "--api-addr (IOTMOCK_API_ADDR)")
        })?;
        let mut api_state = ApiState {
            registry: registry.clone(),
            root_ca_pem: root_ca_pem.clone(),
            default_region: Arc::from(self.region.as_str()),
            accounts: self.accounts_table(&registry, &ca_for_accounts, &clock)?,
            data: Some(Arc::new(BrokerData(core.clone()))),
            shadows: Some(shadows.clone()),
            jobs: Some(jobs.clone()),
            rules: Some(rules.clone()),
            authorizers: Some(authorizers.clone()),
            index: Some(index),
            defender: Some(defender),
            events: Some(events),
            pages: None,
            rules_not_found: self.rules_not_found,
            limits: self.api_limits,
        };
        api_state.pages = self.open_console(&core, &api_state);
        let brokers = self
            .start_brokers(&identity, &root_ca_pem, &core, &minter)
            .await?;
        let tls = (&identity, &*root_ca_pem, &minter);
        let doors = self.start_doors(tls, &core, api_state.clone()).await?;
        // Served last: a request answered (`GET /iotmock/health`) means every listener is up.
        let api = ApiServer::start(listener, api_state.clone())?;
        Ok(MockIotCore {
            api_state,
            authorizers,
            shadows,
            jobs,
            rules,
            timers,
            _ticker: ticker,
            api: Some(api),
            brokers,
            doors: Some(doors),
            core,
            registry,
            root_ca_pem,
            root_ca_path: root_path,
            state_dir: self.state_dir.clone(),
            region: self.region,
            account_id: self.account_id,
            clock,
        })
    }
}

/// A background task that ends with its owner.
struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where jobs and their executions are kept in the state dir.
pub const JOBS_DATABASE: &str = "jobs.db";

/// Where the fleet indexing configuration is kept in the state dir.
pub const INDEX_DATABASE: &str = "indexing.db";

/// Where the registry events' configuration is kept in the state dir.
pub const EVENTS_DATABASE: &str = "events.db";

/// Where shadows are kept in the state dir.
pub const SHADOW_DATABASE: &str = "shadows.db";

/// A running mock. Dropping it stops every listener.
pub struct MockIotCore {
    /// What the API serves from (the in-process reset goes through it too).
    api_state: ApiState,
    pub(crate) authorizers: Arc<iotmock_authorizer::Authorizers>,
    shadows: Arc<ShadowService>,
    jobs: Arc<JobsService>,
    pub(crate) rules: Arc<iotmock_rules::RulesService>,
    timers: Timers,
    _ticker: Ticker,
    api: Option<ApiServer>,
    brokers: Vec<Broker>,
    pub(crate) doors: Option<crate::doors::Doors>,
    core: BrokerCore,
    pub(crate) registry: Arc<RwLock<Registry>>,
    root_ca_pem: Arc<str>,
    root_ca_path: Option<PathBuf>,
    pub(crate) state_dir: Option<PathBuf>,
    region: String,
    account_id: String,
    clock: Arc<dyn Clock>,
}

impl MockIotCore {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Empties every store without a restart, as `POST /iotmock/reset` does: connections are
    /// closed (sessions dropped, no will), retained messages, shadows, jobs, rules, authorizers,
    /// indexing and event configurations, and every account's registry are deleted. The mock
    /// root CA and the listeners stay.
    pub fn reset(&self) -> Result<()> {
        iotmock_api::reset(&self.api_state).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Runs now what otherwise runs within a second (job timeouts, expired ownership tokens),
    /// and waits until every service has done it, so a test that advanced a `ManualClock`
    /// sees the effect at once.
    pub fn run_timers(&self) {
        self.timers.run_now();
        self.core.wake_timed();
    }

    /// Stalls the service `name` (`shadow`, `jobs`, ...) until the returned sender is dropped:
    /// requests wait meanwhile, as behind a slow service (fault injection, e.g. for Device
    /// Shadow's 429 with more than 10 requests in flight under `--throttle`).
    pub fn hold_service(&self, name: &str) -> Option<std::sync::mpsc::Sender<()>> {
        self.core.hold_service(name)
    }

    /// Waits until every service has done what was queued before this call (its answers to
    /// requests already routed, ticks, registry events).
    pub fn settle(&self) {
        self.core.settle_services();
    }

    /// Now, on the mock's clock (ms since the epoch).
    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The control-plane address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api
            .as_ref()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), ApiServer::local_addr)
    }

    /// `http://127.0.0.1:<port>`, for `--endpoint-url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr())
    }

    /// The MQTT (mutual TLS) address.
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.brokers
            .first()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), Broker::local_addr)
    }

    /// The ALPN `x-amzn-mqtt-ca` listener's address, when configured.
    pub fn mqtt_alpn_addr(&self) -> Option<SocketAddr> {
        self.brokers.get(1).map(Broker::local_addr)
    }

    /// The broker behind every listener: services, fault plans, data-plane publishes.
    pub fn broker(&self) -> &BrokerCore {
        &self.core
    }

    /// Jobs, as devices and the control plane see them.
    pub fn jobs(&self) -> &Arc<JobsService> {
        &self.jobs
    }

    /// Device Shadow, as devices and iot-data see it.
    pub fn shadows(&self) -> &Arc<ShadowService> {
        &self.shadows
    }

    /// Clients connected to the broker now.
    pub fn connected_clients(&self) -> usize {
        self.core.connected()
    }

    /// The root CA devices trust (their `AmazonRootCA1.pem`).
    pub fn root_ca_pem(&self) -> &str {
        &self.root_ca_pem
    }

    /// Where the root CA is saved, when the mock runs on a state dir.
    pub fn root_ca_path(&self) -> Option<&PathBuf> {
        self.root_ca_path.as_ref()
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The live registry, for assertions that bypass the API.
    pub fn registry(&self) -> Arc<RwLock<Registry>> {
        self.registry.clone()
    }

    /// Stops accepting and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
        for broker in self.brokers.drain(..) {
            broker.shutdown().await;
        }
        if let Some(doors) = self.doors.take() {
            doors.shutdown().await;
        }
        self.core.settle_services();
        if let Some(dir) = &self.state_dir {
            for (file, why) in iotmock_store::checkpoint_dir(dir) {
                tracing::warn!(file = %file.display(), %why, "its write-ahead log was not folded in at shutdown (it is read on the next start)");
            }
        }
    }
}

/// Server identities for the other regions a device may name in SNI.
fn regional_minter(
    ca: Arc<MockCa>,
    endpoint: EndpointConfig,
    clock: Arc<dyn Clock>,
) -> iotmock_broker::tls::Minter {
    Arc::new(move |region: &str| {
        let names = server_names(region, &endpoint);
        let now = clock.now_millis() / 1000;
        let identity = ca.issue_server(&names, now).ok()?;
        Some((identity.certificate_pem, identity.private_key_pem))
    })
}

/// Names the broker's certificate answers to: loopback, the DescribeEndpoint host, and AWS's
/// data endpoints, so a device built for AWS connects with a hosts entry and the mock's root.
fn server_names(region: &str, endpoint: &EndpointConfig) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    names.push(endpoint.host.clone());
    names.push(format!("*.iot.{region}.amazonaws.com"));
    if let Some(domain) = &endpoint.domain {
        names.push(format!("*.iot.{region}.{domain}"));
    }
    names.dedup();
    names
}

impl Builder {
    pub(crate) fn state_dir_path(&self) -> Option<&PathBuf> {
        self.state_dir.as_ref()
    }

    pub(crate) fn endpoint_config(&self) -> EndpointConfig {
        self.endpoint.clone()
    }

    /// A store in the state dir (`file`), or none.
    pub(crate) fn store(&self, file: &str) -> Result<Box<dyn Store>> {
        match &self.state_dir {
            Some(dir) => {
                let path = dir.join(file);
                let store = SqliteStore::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(Box::new(store))
            }
            None => Ok(Box::new(MemoryStore)),
        }
    }

    /// Jobs on `jobs.db` in the state dir, or in memory.
    fn open_jobs(&self) -> Result<Arc<JobsService>> {
        let service = JobsService::open(self.store(JOBS_DATABASE)?, &self.region)
            .context("loading the jobs")?;
        let (endpoint, region) = (self.endpoints.aws_endpoint_url.clone(), self.region.clone());
        let sign = move |url: &str, expires: i64, now_ms: i64| {
            crate::actions::presign::presign_get(url, endpoint.as_deref(), &region, expires, now_ms)
        };
        let presigner = iotmock_jobs::presign::Presigner(Arc::new(sign));
        service.with(|jobs| jobs.set_presigner(presigner));
        Ok(Arc::new(service))
    }

    /// The shadow service on `shadows.db` in the state dir, or in memory.
    fn open_shadows(&self) -> Result<Arc<ShadowService>> {
        let store = self.store(SHADOW_DATABASE)?;
        let settings = ShadowSettings {
            throttle: self.broker.throttle,
            ..ShadowSettings::default()
        };
        let service =
            ShadowService::open(store, settings, &self.region).context("loading the shadows")?;
        Ok(Arc::new(service))
    }

    async fn start_brokers(
        &self,
        identity: &iotmock_pki::ServerIdentity,
        root_pem: &str,
        core: &BrokerCore,
        minter: &iotmock_broker::tls::Minter,
    ) -> Result<Vec<Broker>> {
        let standard = self.server_cert == ServerCertKind::Standard;
        let mut out = Vec::new();
        let mut listeners = vec![(self.mqtt_addr, false)];
        if let Some(addr) = self.mqtt_alpn_addr {
            listeners.push((addr, true));
        }
        for (addr, alpn) in listeners {
            let protocols: &[&[u8]] = if alpn {
                &[iotmock_broker::tls::ALPN_MQTT_CA]
            } else {
                &[]
            };
            let tls = iotmock_broker::tls::server_config(
                &identity.certificate_pem,
                &identity.private_key_pem,
                root_pem,
                protocols,
                standard.then(|| minter.clone()),
            )
            .context("configuring TLS")?;
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| bind_error(e, addr, "MQTT", "--mqtt-addr (IOTMOCK_MQTT_ADDR)"))?;
            out.push(core.listen(listener, tls, alpn)?);
        }
        Ok(out)
    }
}

/// A listener that could not bind, saying which flag moves it when the address is taken.
pub(crate) fn bind_error(
    e: std::io::Error,
    addr: SocketAddr,
    what: &str,
    flag: &str,
) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        return anyhow::anyhow!(
            "{what} cannot listen on {addr}: the address is in use (another iotmock?). Choose another with {flag}, or port 0 for a free one"
        );
    }
    anyhow::anyhow!("{what} cannot listen on {addr}: {e}")
}

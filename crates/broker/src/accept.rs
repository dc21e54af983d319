//! Accepting connections: the accept loop (the TLS handshake within its deadline, then the
//! client certificate, ALPN and SNI checks), and where the loops run: on the caller's runtime,
//! or on I/O threads of their own, each a single-threaded runtime with its own SO_REUSEPORT
//! listener on the one address. The kernel spreads new connections among the threads, and a
//! connection's tasks stay on the thread that accepted it (no work stealing, no cross-thread
//! wake-ups but for deliveries between connections of different threads).

use crate::{Seen, Shared, connection, observe, tls};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch as signal};
use tokio::task::JoinHandle;

/// How long a stopping loop waits for its connections to say goodbye.
const DRAIN: Duration = Duration::from_secs(5);

/// What every accept loop of one listener shares.
#[derive(Clone)]
pub(crate) struct LoopParts {
    pub config: Arc<rustls::ServerConfig>,
    pub shared: Arc<Shared>,
    pub stopped: signal::Receiver<bool>,
    /// The broker's connection limit, across every loop.
    pub limit: Arc<Semaphore>,
    pub require_alpn: bool,
}

/// One running accept loop.
pub enum Loop {
    /// On the caller's runtime.
    Task(JoinHandle<()>),
    /// On an I/O thread, which says when it is done.
    Thread(oneshot::Receiver<()>),
}

impl Loop {
    /// Waits until the loop has stopped accepting and its connections have ended (or the drain
    /// time has passed).
    pub async fn join(self) {
        match self {
            Loop::Task(task) => {
                let _ = task.await;
            }
            Loop::Thread(done) => {
                let _ = done.await;
            }
        }
    }
}

/// Starts serving `listener`: on the caller's runtime when `threads` is 0, else on that many
/// I/O threads (the listener and `threads - 1` SO_REUSEPORT twins bound to its address).
pub(crate) fn start(
    listener: TcpListener,
    parts: &LoopParts,
    threads: usize,
) -> std::io::Result<Vec<Loop>> {
    if threads == 0 {
        return Ok(vec![Loop::Task(tokio::spawn(serve(
            listener,
            parts.clone(),
        )))]);
    }
    reuse_port_group(listener, threads)?
        .into_iter()
        .enumerate()
        .map(|(i, l)| io_thread(i, l, parts.clone()))
        .collect()
}

/// `listener` and `n - 1` twins bound to its address in one SO_REUSEPORT group (at least
/// `listener` itself), for `n` threads that each accept on their own socket.
pub fn reuse_port_group(
    listener: TcpListener,
    n: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let addr = listener.local_addr()?;
    let first = listener.into_std()?;
    socket2::SockRef::from(&first).set_reuse_port(true)?;
    let mut listeners = vec![first];
    for _ in 1..n {
        listeners.push(twin(addr)?);
    }
    Ok(listeners)
}

/// Another listening socket on `addr`, in the first one's SO_REUSEPORT group.
fn twin(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Starts one I/O thread on `listener`; returns once the thread serves it (or says why not).
fn io_thread(i: usize, listener: std::net::TcpListener, parts: LoopParts) -> std::io::Result<Loop> {
    let (coalescing, waits) = (
        parts.shared.settings.coalescing,
        parts.shared.coalesced.clone(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(move || coalescing.before_idle(&waits))
        .on_thread_unpark(move || coalescing.after_idle())
        .build()?;
    let serve_it = move |listener| async move {
        coalescing.tighten_timers();
        serve(listener, parts).await;
    };
    spawn_io_thread(format!("mqtt-io-{i}"), listener, runtime, serve_it)
}

/// Runs `serve` on `listener` on a thread `name` of its own with `runtime` (single-threaded);
/// returns once the thread serves it (or says why not).
pub fn spawn_io_thread<F, Fut>(
    name: String,
    listener: std::net::TcpListener,
    runtime: tokio::runtime::Runtime,
    serve: F,
) -> std::io::Result<Loop>
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (done, finished) = oneshot::channel();
    let (ready, serving) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new().name(name).spawn(move || {
        runtime.block_on(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    let _ = ready.send(Ok(()));
                    serve(listener).await;
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        });
        let _ = done.send(());
    })?;
    let gone = || std::io::Error::other("an I/O thread ended before serving");
    serving.recv().map_err(|_| gone())??;
    Ok(Loop::Thread(finished))
}

/// Accepts until stopped, then waits (up to [`DRAIN`]) for this loop's connections to end.
async fn serve(listener: TcpListener, parts: LoopParts) {
    let max = parts.shared.settings.max_connections;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let mine = Arc::new(Semaphore::new(all as usize));
    accept_loop(listener, &parts, &mine).await;
    let _ = tokio::time::timeout(DRAIN, mine.acquire_many(all)).await;
}

async fn accept_loop(listener: TcpListener, parts: &LoopParts, mine: &Arc<Semaphore>) {
    let mut stopped = parts.stopped.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "mqtt accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let permits = parts
            .limit
            .clone()
            .try_acquire_owned()
            .ok()
            .zip(mine.clone().try_acquire_owned().ok());
        let Some(permits) = permits else {
            tracing::warn!(%peer, max = parts.shared.settings.max_connections, "connection refused: connection limit reached");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (config, shared) = (parts.config.clone(), parts.shared.clone());
        let (stopped, require_alpn) = (stopped.clone(), parts.require_alpn);
        let tap = shared.observers.tap(&shared.hub.clock);
        if let Some(t) = &tap {
            t.record(Seen::Accepted);
        }
        tokio::spawn(async move {
            let incoming = (tcp, peer, tap);
            let handshake = handshake(incoming, config, &shared, require_alpn, stopped.clone());
            let Some((tls, peer)) = handshake.await else {
                return;
            };
            let Some(admitted) = connection::admit_connection(tls, peer, shared).await else {
                return;
            };
            // The admitted connection gets a task of its own, sized for serving alone: the
            // handshake's and admission's larger state goes with this task, so an idle
            // connection holds only what serving needs.
            tokio::spawn(async move {
                connection::drive(admitted, stopped).await;
                drop(permits);
            });
        });
    }
}

type Incoming = (tokio::net::TcpStream, SocketAddr, Option<observe::Tap>);
type Tls = crate::unbuffered::Tls;

/// The TLS handshake and the checks on its outcome; the stream and peer to serve, or `None`
/// (logged) when the connection ends here.
async fn handshake(
    (tcp, addr, tap): Incoming,
    config: Arc<rustls::ServerConfig>,
    shared: &Shared,
    require_alpn: bool,
    mut stopped: signal::Receiver<bool>,
) -> Option<(Tls, connection::Peer)> {
    let handshake = tokio::time::timeout(
        shared.settings.handshake_timeout,
        Tls::accept_observed(tcp, config, tap.as_ref()),
    );
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::info!(peer = %addr, error = %e, "TLS handshake failed");
                if let Some(t) = &tap {
                    t.record(Seen::Handshake(observe::TlsEnd::of_error(&e)));
                }
                return None;
            }
            Err(_) => {
                tracing::info!(peer = %addr, "TLS handshake did not complete in time");
                if let Some(t) = &tap {
                    t.record(Seen::Handshake(observe::TlsEnd::TimedOut));
                }
                return None;
            }
        },
        _ = stopped.changed() => return None,
    };
    if let Some(t) = &tap {
        t.record(Seen::Handshake(observe::TlsEnd::Completed));
    }
    let Some(mut peer) = identify(&tls, addr, shared, require_alpn) else {
        if let Some(t) = &tap {
            t.record(Seen::Closed {
                reason: "NOT_ADMITTED",
            });
        }
        return None;
    };
    peer.tap = tap;
    Some((tls, peer))
}

/// The client certificate, ALPN and SNI of a completed handshake; `None` (logged) when the
/// connection must close.
fn identify(
    tls: &Tls,
    addr: SocketAddr,
    shared: &Shared,
    require_alpn: bool,
) -> Option<connection::Peer> {
    let session = tls.state();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let Some(leaf) = leaf else {
        tracing::info!(peer = %addr, "closed: no client certificate");
        return None;
    };
    if require_alpn && session.alpn_protocol() != Some(tls::ALPN_MQTT_CA) {
        tracing::info!(peer = %addr, "closed: ALPN x-amzn-mqtt-ca is required on this listener");
        return None;
    }
    let sni = tls.server_name();
    if sni.is_none() && shared.settings.require_sni {
        tracing::info!(peer = %addr, "closed: the client sent no TLS SNI (require_sni is on)");
        return None;
    }
    let region = sni.and_then(tls::region_of_sni).map(str::to_string);
    let sni = sni.is_some();
    Some(connection::Peer {
        leaf,
        iam: None,
        custom: None,
        transport: crate::Transport::of_tls("MQTT over TLS", session),
        addr,
        region,
        sni,
        tap: None,
    })
}

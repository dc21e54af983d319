//! Where the doors' accept loops run: on the caller's runtime, or (as the MQTT listener's) on
//! I/O threads of their own, each a single-threaded runtime accepting on its own SO_REUSEPORT
//! socket, so that a connection's TLS handshake, HTTP upgrade and MQTT session stay on the
//! thread that accepted it (no work stealing, no cross-thread wake-ups).

use iotmock_broker::IoLoop;
use std::future::Future;
use tokio::net::TcpListener;

/// Runs `serve` on `listener`: on the caller's runtime when `threads` is 0, else on `threads`
/// I/O threads named `name-i`, each with its own socket of one SO_REUSEPORT group.
pub(crate) fn start<F, Fut>(
    listener: TcpListener,
    threads: usize,
    name: &str,
    serve: F,
) -> std::io::Result<Vec<IoLoop>>
where
    F: Fn(TcpListener) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if threads == 0 {
        return Ok(vec![IoLoop::Task(tokio::spawn(serve(listener)))]);
    }
    iotmock_broker::reuse_port_group(listener, threads)?
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            iotmock_broker::spawn_io_thread(format!("{name}-{i}"), l, runtime, serve.clone())
        })
        .collect()
}

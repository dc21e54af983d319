//! HTTP behind a door: `GET /mqtt` with `Upgrade: websocket` is MQTT over WebSocket; any
//! other request is answered by the API as on its own port, the device whose client
//! certificate came with it (ALPN `x-amzn-http-ca`, or 8443) being the caller, who may only
//! publish.

use super::{Hello, Kind, Parts};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use iotmock_api::Caller;
use iotmock_broker::tls::ALPN_HTTP_CA;
use std::convert::Infallible;
use std::sync::Arc;

pub(super) async fn serve<S>(tls: S, hello: Hello, parts: Arc<Parts>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let caller = caller_of(&hello).map(Arc::new);
    let hello = Arc::new(hello);
    let (addr, stopped, limits) = (hello.addr, parts.stopped.clone(), parts.api.limits);
    let service = hyper::service::service_fn(move |req| {
        let (parts, hello, caller) = (parts.clone(), hello.clone(), caller.clone());
        async move { Ok::<_, Infallible>(route(req, parts, hello, caller).await) }
    });
    iotmock_api::serve_http(tls, addr, limits, service, stopped).await;
}

/// The device a request speaks for: one that presented a certificate where AWS takes it
/// for HTTPS (8443, or ALPN `x-amzn-http-ca` on 443). Elsewhere on 443 the caller signs
/// with SigV4, as on the API port.
fn caller_of(hello: &Hello) -> Option<Caller> {
    let certified = hello.kind == Kind::Https || hello.alpn.as_deref() == Some(ALPN_HTTP_CA);
    let leaf = hello.leaf.clone().filter(|_| certified)?;
    Some(Caller {
        credential: iotmock_api::Credential::Certificate(leaf),
        addr: hello.addr,
        region: hello.region.clone(),
        sni: hello.sni,
    })
}

async fn route(
    req: Request<Incoming>,
    parts: Arc<Parts>,
    hello: Arc<Hello>,
    caller: Option<Arc<Caller>>,
) -> Response<Full<Bytes>> {
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade && req.uri().path() == "/mqtt" && hello.kind == Kind::Port443 {
        return super::wss::upgrade(req, &parts, &hello);
    }
    iotmock_api::answer(parts.api.clone(), req, caller).await
}

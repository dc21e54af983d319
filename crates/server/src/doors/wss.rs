//! MQTT over WebSocket with a SigV4 presigned URL: the URL is judged
//! ([`iotmock_session::presign`]), the caller becomes the IAM principal of its access key
//! (`Registry::iam_principal`: its IAM policies, allow-all while none is set, and a Cognito
//! identity's attached IoT policies), the upgrade is answered with the `mqtt` subprotocol echoed, and
//! the upgraded stream is handed to the broker. A refused URL is answered 403 with a JSON
//! body that says why (AWS documents no shape; clients see a refused handshake).

use super::{Hello, Parts};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use iotmock_broker::{Credential, Door};
use iotmock_client::ws::{SUBPROTOCOL, WsIo};
use iotmock_session::presign::{self, Presigned};
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

pub(super) fn upgrade(
    req: Request<Incoming>,
    parts: &Arc<Parts>,
    hello: &Hello,
) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let key = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec());
    let version_ok = headers
        .get("sec-websocket-version")
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = key.filter(|_| version_ok) else {
        return refuse(
            hello,
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13".into(),
        );
    };
    let offered_mqtt = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    let host_region = headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| iotmock_broker::tls::region_of_sni(h.split(':').next().unwrap_or(h)))
        .map(str::to_string);
    let region = hello
        .region
        .clone()
        .or(host_region)
        .unwrap_or_else(|| parts.default_region.clone());
    let header = |name: &str| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(http) = custom_auth_http(&req, parts, &region) {
        let (parts, hello) = (parts.clone(), hello.clone());
        return switch(
            req,
            &key,
            offered_mqtt,
            &hello.clone(),
            move |ws| async move {
                super::mqtt_with_custom_auth(ws, hello, &parts, Some(http)).await;
            },
        );
    }
    let presigned = match judge(req.uri().query(), parts, &region, &header) {
        Ok(p) => p,
        Err(why) => return refuse(hello, StatusCode::FORBIDDEN, why),
    };
    let principal = match parts.api.registry.read() {
        Ok(registry) => registry.iam_principal(&region, &presigned.access_key),
        Err(_) => {
            let why = "the registry is unavailable".to_string();
            return refuse(hello, StatusCode::SERVICE_UNAVAILABLE, why);
        }
    };
    tracing::debug!(peer = %hello.addr, access_key = %presigned.access_key, principal = %principal.cert_id, "MQTT over WebSocket: SigV4 caller");
    let door = Door {
        transport: hello.transport("MQTT over WebSocket (SigV4)"),
        addr: hello.addr,
        region: Some(region),
        sni: hello.sni,
        credential: Credential::Iam(Arc::new(principal)),
    };
    let (core, stopped) = (parts.core.clone(), parts.stopped.clone());
    switch(req, &key, offered_mqtt, hello, move |ws| async move {
        core.serve_stream(ws, door, stopped).await;
    })
}

type Ws = WsIo<TokioIo<hyper::upgrade::Upgraded>>;

/// Answers the upgrade (echoing the `mqtt` subprotocol when offered) and hands the upgraded
/// stream to `then`.
fn switch<F, Fut>(
    req: Request<Incoming>,
    key: &[u8],
    offered_mqtt: bool,
    hello: &Hello,
    then: F,
) -> Response<Full<Bytes>>
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let addr = hello.addr;
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let ws = WebSocketStream::from_raw_socket(
                    io,
                    Role::Server,
                    Some(iotmock_client::ws::config()),
                )
                .await;
                then(WsIo::new(ws)).await;
            }
            Err(e) => {
                tracing::info!(peer = %addr, error = %e, "the WebSocket upgrade did not complete")
            }
        }
    });
    switching_protocols(key, offered_mqtt.then_some(SUBPROTOCOL))
        .unwrap_or_else(|e| refuse(hello, StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The 101 answer to a WebSocket upgrade with `key`, echoing `protocol` when given.
pub(crate) fn switching_protocols(
    key: &[u8],
    protocol: Option<&str>,
) -> Result<Response<Full<Bytes>>, hyper::http::Error> {
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::CONNECTION, "Upgrade")
        .header("sec-websocket-accept", derive_accept_key(key));
    if let Some(p) = protocol {
        response = response.header("sec-websocket-protocol", p);
    }
    response.body(Full::new(Bytes::new()))
}

/// A WebSocket without a SigV4 query goes to custom auth when its headers or query carry
/// custom-auth credentials or the region has a default authorizer: the upgrade's headers and
/// query (and later the CONNECT's credentials) are what the authorizer reads.
fn custom_auth_http(
    req: &Request<Incoming>,
    parts: &Parts,
    region: &str,
) -> Option<iotmock_authorizer::HttpData> {
    let query = req.uri().query().unwrap_or("");
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if !matches!(presign::parse(&pairs), Ok(None)) {
        return None;
    }
    let authorizers = parts.api.authorizers.as_ref()?;
    let presented = iotmock_authorizer::Presented {
        http: Some(super::http::http_data(req.headers(), query)),
        ..Default::default()
    };
    let custom =
        authorizers.read(|b| b.claims(region, &presented) || b.default_name(region).is_some());
    custom.then_some(presented.http).flatten()
}

/// The presigned query, or why it is refused.
fn judge(
    query: Option<&str>,
    parts: &Parts,
    region: &str,
    header: &dyn Fn(&str) -> Option<String>,
) -> Result<Presigned, String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let presigned = presign::parse(&pairs)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            "the URL carries no SigV4 query (X-Amz-*), and no custom authorizer is configured"
                .to_string()
        })?;
    let now = parts.core.now_millis();
    presign::check(&presigned, now, region).map_err(|e| e.to_string())?;
    if !parts.secrets.is_empty() {
        super::sigv4::verify(&parts.secrets, &presigned, header, &pairs)?;
    }
    Ok(presigned)
}

fn refuse(hello: &Hello, status: StatusCode, why: String) -> Response<Full<Bytes>> {
    tracing::info!(peer = %hello.addr, status = status.as_u16(), reason = %why, "MQTT over WebSocket refused");
    let body = serde_json::json!({ "message": why }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

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
use iotmock_authorizer::{HttpData, Presented};
use iotmock_broker::tls::ALPN_HTTP_CA;
use iotmock_model::{ErrorCode, IotError};
use std::convert::Infallible;
use std::sync::Arc;

pub(super) async fn serve<S>(tls: S, hello: Hello, parts: Arc<Parts>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let caller = caller_of(&hello).map(Arc::new);
    let hello = Arc::new(hello);
    let (addr, stopped, limits) = (hello.addr, parts.stopped.clone(), parts.api.limits);
    // A custom authorizer's grant, kept for this keep-alive connection when the authorizer
    // enables caching for HTTP.
    let cache: Cache = Arc::default();
    let service = hyper::service::service_fn(move |req| {
        let (parts, hello, caller) = (parts.clone(), hello.clone(), caller.clone());
        let cache = cache.clone();
        async move { Ok::<_, Infallible>(route(req, parts, hello, (caller, cache)).await) }
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

/// A grant kept for one HTTP connection: its credentials, the caller, and until when.
type Cache = Arc<std::sync::Mutex<Option<(Credentials, Arc<Caller>, i64)>>>;
/// (authorizer, token, signature) as a request presented them.
type Credentials = (String, Option<String>, Option<String>);

async fn route(
    req: Request<Incoming>,
    parts: Arc<Parts>,
    hello: Arc<Hello>,
    (caller, cache): (Option<Arc<Caller>>, Cache),
) -> Response<Full<Bytes>> {
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade && req.uri().path() == "/mqtt" && hello.kind == Kind::Port443 {
        return super::wss::upgrade(req, &parts, &hello);
    }
    let caller = match caller {
        Some(c) => Some(c),
        None => match custom_caller(&req, &parts, &hello, &cache).await {
            Ok(c) => c,
            Err(refused) => return refused,
        },
    };
    iotmock_api::answer(parts.api.clone(), req, caller).await
}

/// A request's headers (names in lower case) and query, as custom auth reads them.
pub(super) fn http_data(headers: &hyper::HeaderMap, query: &str) -> HttpData {
    let headers = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    HttpData {
        headers,
        query: query.to_string(),
    }
}

/// HTTPS on 443 with a custom authorizer's credentials (headers or query): the function
/// decides, per request, and its policies authorize the publish. A refusal is answered 401.
async fn custom_caller(
    req: &Request<Incoming>,
    parts: &Parts,
    hello: &Hello,
    cache: &Cache,
) -> Result<Option<Arc<Caller>>, Response<Full<Bytes>>> {
    let Some(authorizers) = parts.api.authorizers.as_ref() else {
        return Ok(None);
    };
    if hello.kind != Kind::Port443 || req.headers().contains_key(hyper::header::AUTHORIZATION) {
        return Ok(None);
    }
    let region = hello
        .region
        .clone()
        .unwrap_or_else(|| parts.default_region.clone());
    let presented = Presented {
        server_name: hello.server_name.clone(),
        http: Some(http_data(req.headers(), req.uri().query().unwrap_or(""))),
        mqtt: None,
        connection_id: iotmock_registry::random_uuid(),
    };
    if !authorizers.read(|b| b.claims(&region, &presented)) {
        return Ok(None);
    }
    let now = parts.core.now_millis();
    let (credentials, caching) = authorizers.read(|b| cache_key(b, &region, &presented));
    let kept = cache.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some((key, caller, until)) = kept
        && caching
        && key == credentials
        && now < until
    {
        return Ok(Some(caller));
    }
    match authorizers.decide(&region, &presented).await {
        Ok(decision) => {
            let until = now.saturating_add(decision.verdict.refresh_secs as i64 * 1000);
            let account = parts
                .api
                .registry
                .read()
                .map(|r| r.account().to_string())
                .unwrap_or_default();
            let principal =
                crate::custom_auth::principal_of(authorizers, (&region, &account), &decision);
            let caller = Arc::new(Caller {
                credential: iotmock_api::Credential::Iam(Arc::new(principal)),
                addr: hello.addr,
                region: Some(region),
                sni: hello.sni,
            });
            if caching {
                let kept = (credentials, caller.clone(), until);
                *cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(kept);
            }
            Ok(Some(caller))
        }
        Err(refusal) => {
            tracing::info!(peer = %hello.addr, reason = %refusal, "HTTPS request refused by the custom authorizer");
            let err = IotError::new(ErrorCode::Unauthorized, refusal.to_string());
            Err(iotmock_api::error_response(&err))
        }
    }
}

/// The credentials a request presents to the authorizer it would use, and whether that
/// authorizer lets a keep-alive connection keep its grant (`enableCachingForHttp`).
fn cache_key(
    book: &iotmock_authorizer::AuthorizerBook,
    region: &str,
    presented: &Presented,
) -> (Credentials, bool) {
    match iotmock_authorizer::credentials(book, region, presented) {
        Ok((record, token, signature)) => (
            (record.name.clone(), token, signature),
            record.caching_for_http,
        ),
        Err(_) => ((String::new(), None, None), false),
    }
}

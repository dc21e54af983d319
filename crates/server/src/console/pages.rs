//! The console's pages on the API port: the page itself and its script and style (embedded
//! in the binary), its live feed (a WebSocket at `/console/live`), and a JSON snapshot of
//! what it shows live (`/console/api/snapshot`).

use super::Console;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use iotmock_api::{PageFuture, Pages};
use serde_json::json;
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");

/// The console as the API server's [`Pages`].
pub(crate) struct ConsolePages(pub Arc<Console>);

impl Pages for ConsolePages {
    fn claims(&self, path: &str) -> bool {
        path == "/console" || path.starts_with("/console/") || path == "/favicon.ico"
    }

    fn answer(&self, req: Request<Incoming>) -> PageFuture {
        let console = self.0.clone();
        Box::pin(async move {
            match req.uri().path() {
                "/console/api/snapshot" => snapshot(&console, &req).await,
                "/console/api/evaluations" => evaluations(&console, &req),
                "/console/api/reports" => match &console.reports {
                    Some(dir) => json_answer(&super::reports::list(dir)),
                    None => json_answer(&json!({"dir": null, "reports": []})),
                },
                p if p.starts_with("/console/reports/") => match &console.reports {
                    Some(dir) => super::reports::serve(dir, &p["/console/reports/".len()..]),
                    None => plain(StatusCode::NOT_FOUND, "no state dir, so no reports"),
                },
                _ => route(console, req),
            }
        })
    }
}

fn route(console: Arc<Console>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the console's pages are read with GET",
        );
    }
    match req.uri().path() {
        "/console" | "/console/" => page(INDEX, "text/html; charset=utf-8"),
        "/console/console.js" => page(SCRIPT, "text/javascript; charset=utf-8"),
        "/console/console.css" => page(STYLE, "text/css; charset=utf-8"),
        // Reports opened from the console ask for it; the console has none.
        "/favicon.ico" => plain(StatusCode::NO_CONTENT, ""),
        "/console/live" => live(console, req),
        _ => plain(StatusCode::NOT_FOUND, "no such console page"),
    }
}

fn page(body: &'static str, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .header(hyper::header::CONTENT_TYPE, content_type)
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header(
            "content-security-policy",
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:",
        )
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = status;
    response
}

fn json_answer(value: &serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// The account a page asked for (`?account=`), when it is not the default one.
fn other_account(console: &Console, req: &Request<Incoming>) -> Option<String> {
    let query = req.uri().query().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "account")
        .map(|(_, v)| v.into_owned())
        .filter(|a| !a.is_empty() && *a != console.account)
}

/// The rules' evaluation trace: `GET` reads it, `POST ?trace=on|off` starts or stops keeping
/// it (the newest 1,000 evaluations, matched or not).
fn evaluations(console: &Console, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(rules) = &console.api.rules else {
        return plain(StatusCode::NOT_FOUND, "no rules engine");
    };
    if req.method() == hyper::Method::POST {
        let query = req.uri().query().unwrap_or("");
        let on = form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "trace" && v == "on");
        rules.trace_evaluations(on);
    }
    let list: Vec<serde_json::Value> = rules
        .evaluations()
        .into_iter()
        .map(|e| {
            json!({
                "at": e.time_ms,
                "rule": e.rule,
                "topic": e.topic,
                "matched": e.not_matched.is_none(),
                "why": e.not_matched,
            })
        })
        .collect();
    json_answer(&json!({"tracing": rules.tracing_evaluations(), "evaluations": list}))
}

/// What the live feed starts with, as JSON.
async fn snapshot(console: &Arc<Console>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let accounts: Vec<String> = console
        .api
        .accounts
        .all()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if other_account(console, req).is_some() {
        return json_answer(&json!({
            "account": other_account(console, req),
            "defaultAccount": console.account,
            "accounts": accounts,
            "region": console.region,
            "connections": [], "gone": [], "refusals": [],
        }));
    }
    let (now, gone) = console.connections_now().await;
    json_answer(&json!({
        "account": console.account,
        "defaultAccount": console.account,
        "accounts": accounts,
        "region": console.region,
        "connections": now,
        "gone": gone,
        "refusals": console.refusals.recent(),
    }))
}

/// The live feed: a WebSocket upgrade, then [`super::feed::serve`].
fn live(console: Arc<Console>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec());
    let Some(key) = key else {
        return plain(StatusCode::BAD_REQUEST, "the live feed is a WebSocket");
    };
    let watching = other_account(&console, &req).is_none();
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(iotmock_client::ws::config()),
                )
                .await;
                super::feed::serve(console, ws, watching).await;
            }
            Err(e) => tracing::debug!(error = %e, "a console page's live feed did not open"),
        }
    });
    crate::doors::wss::switching_protocols(&key, None)
        .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

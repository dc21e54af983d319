//! One open console page's live feed: a WebSocket that hears connections, refusals and the
//! messages its test client subscribed to, and asks to subscribe, unsubscribe and publish.

use super::Console;
use futures_util::{SinkExt, StreamExt};
use iotmock_mqtt::PublishProperties;
use iotmock_mqtt::topic::matches;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// A message as the test client shows it: its payload as text when it is UTF-8, else base64.
pub(super) fn message(topic: &str, at_ms: i64, payload: &[u8]) -> Value {
    let text = std::str::from_utf8(payload).ok();
    json!({
        "kind": "message",
        "topic": topic,
        "at": at_ms,
        "payload": text,
        "payloadBase64": text.is_none().then(|| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(payload)
        }),
    })
}

/// A message's MQTT 5 properties as the test client shows them.
pub(super) fn properties(p: &PublishProperties) -> Value {
    json!({
        "contentType": p.content_type,
        "responseTopic": p.response_topic,
        "messageExpiryInterval": p.message_expiry_interval,
        "payloadFormatIndicator": p.payload_format_indicator,
        "userProperties": p.user_properties.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    })
}

/// Serves one page until it closes. `watching` is false for another account than the
/// default one: its devices never connect to this mock, so there is nothing live to show.
pub(super) async fn serve<S>(console: Arc<Console>, mut ws: WebSocketStream<S>, watching: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if !watching {
        let note = json!({"kind": "note", "message": "Devices connect to the default account only: nothing live to show for this account."});
        let _ = ws.send(Message::text(note.to_string())).await;
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    let page = console.open_page();
    let mut live = console.live.subscribe();
    let mut refusals = console.refusals.subscribe();
    let (now, gone) = console.connections_now().await;
    let hello = json!({
        "kind": "snapshot",
        "connections": now,
        "gone": gone,
        "refusals": console.refusals.recent(),
    });
    let mut open = ws.send(Message::text(hello.to_string())).await.is_ok();
    while open {
        let lagged = |n| vec![json!({"kind": "lagged", "missed": n})];
        let out: Vec<Value> = tokio::select! {
            got = live.recv() => match got {
                Ok(v) if wanted(&console, page, &v) => vec![(*v).clone()],
                Ok(_) | Err(RecvError::Closed) => Vec::new(),
                Err(RecvError::Lagged(n)) => lagged(n),
            },
            got = refusals.recv() => match got {
                Ok(v) => vec![json!({"kind": "refusal", "refusal": &*v})],
                Err(RecvError::Lagged(n)) => lagged(n),
                Err(RecvError::Closed) => Vec::new(),
            },
            asked = ws.next() => match asked {
                Some(Ok(Message::Text(text))) => ask(&console, page, text.as_str()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => { open = false; Vec::new() }
                Some(Ok(_)) => Vec::new(),
            },
        };
        for v in out {
            open = open && ws.send(Message::text(v.to_string())).await.is_ok();
        }
    }
    console.close_page(page);
}

/// Whether `page` hears `event` (a message only when one of its filters matches).
fn wanted(console: &Console, page: u64, event: &Value) -> bool {
    if event["kind"] != "message" {
        return true;
    }
    let topic = event["topic"].as_str().unwrap_or_default();
    console.filters_of(page).iter().any(|f| matches(f, topic))
}

/// What a page asks: `subscribe`, `unsubscribe` or `publish`; the answers it gets (one JSON
/// object a line).
fn ask(console: &Console, page: u64, text: &str) -> Vec<Value> {
    let Ok(asked) = serde_json::from_str::<Value>(text) else {
        return vec![json!({"kind": "error", "message": "not JSON"})];
    };
    let op = asked["op"].as_str().unwrap_or_default();
    let answer = match op {
        "subscribe" | "unsubscribe" => subscribe(console, page, &asked, op == "subscribe"),
        "publish" => publish(console, &asked).map(|v| vec![v]),
        _ => Err(format!("unknown op {op:?}")),
    };
    answer.unwrap_or_else(|message| vec![json!({"kind": "error", "op": op, "message": message})])
}

/// Subscribes (or unsubscribes) the page's test client; a filter that names a topic with a
/// retained message gets it, flagged retained, as an MQTT subscriber does.
fn subscribe(console: &Console, page: u64, asked: &Value, on: bool) -> Result<Vec<Value>, String> {
    let filter = asked["filter"].as_str().unwrap_or_default();
    iotmock_mqtt::topic::validate_filter(filter).map_err(|e| e.to_string())?;
    console.set_filter(page, filter, on);
    let mut out = vec![
        json!({"kind": if on { "subscribed-test" } else { "unsubscribed-test" }, "filter": filter}),
    ];
    let exact = !filter.contains(['+', '#']) && !filter.starts_with("$share/");
    let retained = console
        .api
        .data
        .as_ref()
        .filter(|_| on && exact)
        .and_then(|d| d.retained(filter));
    if let Some(r) = retained {
        let mut kept = message(&r.topic, r.last_modified_ms, &r.payload);
        kept["retained"] = json!(true);
        kept["qos"] = json!(r.qos);
        out.push(kept);
    }
    Ok(out)
}

fn publish(console: &Console, asked: &Value) -> Result<Value, String> {
    let topic = asked["topic"].as_str().unwrap_or_default().to_string();
    iotmock_mqtt::topic::validate_topic(&topic).map_err(|e| e.to_string())?;
    let payload = asked["payload"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let qos = u8::try_from(asked["qos"].as_u64().unwrap_or(0))
        .unwrap_or(0)
        .min(1);
    let retain = asked["retain"].as_bool().unwrap_or(false);
    let data = console
        .api
        .data
        .as_ref()
        .ok_or_else(|| "no broker".to_string())?;
    let message = iotmock_api::Message {
        topic: topic.clone(),
        payload,
        qos,
        retain,
        properties: None,
        region: console.region.clone(),
    };
    data.publish(None, message).map_err(|e| match e {
        iotmock_api::PublishError::Forbidden(m)
        | iotmock_api::PublishError::NotStored(m)
        | iotmock_api::PublishError::Throttled(m) => m,
    })?;
    Ok(json!({"kind": "published", "topic": topic}))
}

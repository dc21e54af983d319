//! The console on the API port: its page and assets, the snapshot, and the live feed a page
//! opens (connections as they come and go, the test client's subscriptions and publishes).
//! The browser itself is driven in tests/browser/console.sh.

use crate::mqtt::{ALLOW_ALL, Fleet};
use futures_util::{SinkExt, StreamExt};
use iotmock_client::Version;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn console_mock() -> Fleet {
    let mock = iotmock::MockIotCore::builder()
        .console(Some(iotmock::console::ConsoleSettings::default()))
        .start()
        .await
        .unwrap();
    Fleet::on(mock).await
}

type Page = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The next message of `kind` the page hears (others skipped), within 10 s.
async fn next_kind(page: &mut Page, kind: &str) -> Value {
    let wait = async {
        while let Some(Ok(m)) = page.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["kind"] == kind {
                    return v;
                }
            }
        }
        panic!("the page's feed ended before a {kind}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} within 10 s"))
}

async fn get_text(fleet: &Fleet, path: &str) -> (u16, String) {
    let answer = fleet.api.get(path).await;
    (
        answer.status,
        String::from_utf8_lossy(&answer.raw).into_owned(),
    )
}

/// Opens a console page's live feed.
async fn open_page(fleet: &Fleet, query: &str) -> Page {
    let addr = fleet.mock.api_addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/console/live{query}");
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

#[tokio::test]
async fn the_console_is_served_only_when_on() {
    let fleet = console_mock().await;
    let (status, page) = get_text(&fleet, "/console").await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>iotmock console</title>"));
    let (status, script) = get_text(&fleet, "/console/console.js").await;
    assert_eq!(status, 200);
    assert!(
        !script.contains("innerHTML"),
        "values are shown as text, never as HTML"
    );
    assert_eq!(get_text(&fleet, "/console/nothing").await.0, 404);

    let plain = Fleet::on(iotmock::MockIotCore::builder().start().await.unwrap()).await;
    let (status, body) = get_text(&plain, "/console").await;
    assert_ne!(status, 200, "off in process unless asked: {body}");
}

#[tokio::test]
async fn the_snapshot_lists_who_is_connected_with_their_subscriptions() {
    let mut fleet = console_mock().await;
    let dev = fleet.device("lamp", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "lamp", Version::V5).await;
    c.subscribe(&[("lamp/cmd", 1)]).await.unwrap();
    c.publish("lamp/state", "on", 1, false).await.unwrap();
    let snap = fleet.api.get("/console/api/snapshot").await.ok();
    let conns = snap["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1, "{snap}");
    assert_eq!(conns[0]["clientId"], "lamp");
    assert_eq!(
        conns[0]["subscriptions"],
        json!([{"filter": "lamp/cmd", "qos": 1}])
    );
    assert_eq!(conns[0]["door"], "MQTT over TLS");
    assert_eq!(conns[0]["mqttVersion"], "5");
    assert!(
        conns[0]["tlsVersion"]
            .as_str()
            .unwrap()
            .starts_with("TLSv1_")
    );
    assert!(conns[0]["cipher"].is_string());
    assert_eq!(
        (
            conns[0]["messagesIn"].clone(),
            conns[0]["messagesOut"].clone()
        ),
        (json!(1), json!(0))
    );
    assert_eq!(snap["defaultAccount"], "123456789012");

    c.disconnect().await.unwrap();
    let snap = fleet.api.get("/console/api/snapshot").await.ok();
    assert_eq!(snap["connections"], json!([]));
    assert_eq!(snap["gone"][0]["clientId"], "lamp");
    assert_eq!(
        snap["gone"][0]["disconnectReason"],
        "CLIENT_INITIATED_DISCONNECT"
    );
}

#[tokio::test]
async fn a_page_hears_connections_and_the_messages_its_test_client_subscribed_to() {
    let mut fleet = console_mock().await;
    let mut page = open_page(&fleet, "").await;
    let snap = next_kind(&mut page, "snapshot").await;
    assert_eq!(snap["connections"], json!([]));

    let dev = fleet.device("lamp", Some(ALLOW_ALL)).await;
    let c = fleet.client(&dev, "lamp", Version::V311).await;
    let connected = next_kind(&mut page, "connected").await;
    assert_eq!(connected["event"]["clientId"], "lamp");
    assert_eq!(connected["event"]["mqttVersion"], "3.1.1");

    let ask = json!({"op": "subscribe", "filter": "console/+/x"}).to_string();
    page.send(Message::text(ask)).await.unwrap();
    next_kind(&mut page, "subscribed-test").await;
    fleet
        .api
        .post(
            "/topics/console%2Fother%2Fy?qos=0",
            json!({"skipped": true}),
        )
        .await
        .ok();
    fleet
        .api
        .post("/topics/console%2Fa%2Fx?qos=1", json!({"hello": 1}))
        .await
        .ok();
    let message = next_kind(&mut page, "message").await;
    assert_eq!(
        message["topic"], "console/a/x",
        "only what the page subscribed to"
    );
    assert_eq!(
        serde_json::from_str::<Value>(message["payload"].as_str().unwrap()).unwrap(),
        json!({"hello": 1})
    );

    let publish = json!({"op": "publish", "topic": "console/b/x", "payload": "from the page"});
    page.send(Message::text(publish.to_string())).await.unwrap();
    next_kind(&mut page, "published").await;
    assert_eq!(
        next_kind(&mut page, "message").await["payload"],
        "from the page"
    );

    fleet
        .api
        .post(
            "/topics/console%2Fkept?qos=1&retain=true",
            json!({"kept": true}),
        )
        .await
        .ok();
    let exact = json!({"op": "subscribe", "filter": "console/kept"}).to_string();
    page.send(Message::text(exact)).await.unwrap();
    let kept = next_kind(&mut page, "message").await;
    assert_eq!(
        (kept["topic"].clone(), kept["retained"].clone()),
        (json!("console/kept"), json!(true))
    );

    let bad = json!({"op": "subscribe", "filter": "a/#/b"}).to_string();
    page.send(Message::text(bad)).await.unwrap();
    assert_eq!(next_kind(&mut page, "error").await["op"], "subscribe");

    c.disconnect().await.unwrap();
    let gone = next_kind(&mut page, "disconnected").await;
    assert_eq!(gone["event"]["clientId"], "lamp");
}

#[tokio::test]
async fn another_account_sees_nothing_live() {
    let fleet = console_mock().await;
    let mut page = open_page(&fleet, "?account=210987654321").await;
    let note = next_kind(&mut page, "note").await;
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .contains("default account")
    );
}

//! Custom authorizers end to end: the control plane, and devices that connect with a token
//! or a username and password on the port-443 listener (ALPN `mqtt`), over WebSocket and
//! over HTTPS, the function run in-process; refresh and forced disconnect on a manual clock.

use crate::doors::https;
use crate::support::{Api, label};
use iotmock::{ManualClock, MockIotCore};
use iotmock_client::{
    ClientError, ConnectOptions, DeviceClient, TlsOptions, Version, client_config,
};
use iotmock_pki::TokenSigner;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:device-auth";

/// What the function saw, and how often it ran.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    last: Mutex<Option<Value>>,
}

fn policy(publish: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Subscribe", "iot:Receive"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": format!("arn:aws:iot:*:*:topic/{publish}")},
    ]})
    .to_string()
}

/// The function: the token (or, unsigned, the base64 password) `allow` is let in as
/// `device1`; `deny` is refused; `broken` gets an answer AWS would not take.
fn decide(event: &Value, seen: &Seen) -> Value {
    seen.calls.fetch_add(1, Ordering::SeqCst);
    *seen.last.lock().unwrap() = Some(event.clone());
    let token = event["token"].as_str().map(str::to_string).or_else(|| {
        use base64::Engine;
        let p = event["protocolData"]["mqtt"]["password"].as_str()?;
        let raw = base64::engine::general_purpose::STANDARD.decode(p).ok()?;
        String::from_utf8(raw).ok()
    });
    match token.as_deref() {
        Some("allow") => json!({
            "isAuthenticated": true, "principalId": "device1",
            "policyDocuments": [policy("custom/ok")],
            "refreshAfterInSeconds": 300, "disconnectAfterInSeconds": 900,
        }),
        Some("broken") => json!({"isAuthenticated": true, "principalId": "not valid!"}),
        _ => json!({ "isAuthenticated": false }),
    }
}

struct Setup {
    mock: MockIotCore,
    api: Api,
    clock: Arc<ManualClock>,
    seen: Arc<Seen>,
    signer: TokenSigner,
}

async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let mock = MockIotCore::builder()
        .clock(clock.clone())
        .function("device-auth", move |event| Ok(decide(&event, &s)))
        .start()
        .await
        .expect("starts");
    let api = Api::new(mock.api_addr(), mock.region());
    let signer = TokenSigner::generate().unwrap();
    let signed = json!({
        "authorizerFunctionArn": FUNCTION, "tokenKeyName": "tok",
        "tokenSigningPublicKeys": { "key1": signer.public_pem() },
    });
    api.post("/authorizer/Signed", signed).await.ok();
    let unsigned = json!({ "authorizerFunctionArn": FUNCTION, "signingDisabled": true });
    api.post("/authorizer/Unsigned", unsigned).await.ok();
    Setup {
        mock,
        api,
        clock,
        seen,
        signer,
    }
}

/// The CONNACK code a refused connection got (`None`: admitted or another failure).
fn refused_code(r: Result<DeviceClient, ClientError>) -> Option<u8> {
    match r {
        Err(ClientError::Refused(code)) => Some(code),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Setup {
    fn signed_username(&self, token: &str, signature: &str) -> String {
        format!(
            "dev?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature={}&tok={token}",
            enc(signature)
        )
    }

    fn options(
        &self,
        id: &str,
        version: Version,
        username: String,
        password: Option<&str>,
    ) -> ConnectOptions {
        let addr = self.mock.port_443_addr().unwrap();
        let mut opts = ConnectOptions::new(addr.to_string(), id).version(version);
        opts.username = Some(username);
        opts.password = password.map(str::to_string);
        opts
    }

    async fn connect(&self, opts: &ConnectOptions) -> Result<DeviceClient, ClientError> {
        let mut tls = TlsOptions::new(self.mock.root_ca_pem());
        tls.alpn = vec![b"mqtt".to_vec()];
        let tls = client_config(&tls).unwrap();
        DeviceClient::connect(tls, opts).await.map(|(c, _)| c)
    }

    fn calls(&self) -> usize {
        self.seen.calls.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn the_control_plane_keeps_authorizers_with_aws_rules() {
    let s = setup().await;
    let d = s.api.get("/authorizer/Signed").await.ok();
    let d = &d["authorizerDescription"];
    assert_eq!(
        (d["status"].as_str(), d["signingDisabled"].as_bool()),
        (Some("ACTIVE"), Some(false))
    );
    assert!(
        d["authorizerArn"]
            .as_str()
            .unwrap()
            .ends_with(":authorizer/Signed")
    );
    let list = s.api.get("/authorizers/?pageSize=1").await.ok();
    assert_eq!(list["authorizers"].as_array().unwrap().len(), 1);
    assert!(list["nextMarker"].is_string());
    // Signing on needs keys; keys must be RSA of 2048 bits or more.
    let no_keys = json!({ "authorizerFunctionArn": FUNCTION, "tokenKeyName": "t" });
    s.api
        .post("/authorizer/NoKeys", no_keys)
        .await
        .err(400, "InvalidRequestException");
    let weak = json!({ "authorizerFunctionArn": FUNCTION, "tokenKeyName": "t",
        "tokenSigningPublicKeys": { "k": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" } });
    s.api
        .post("/authorizer/Weak", weak)
        .await
        .err(400, "InvalidRequestException");
    s.api
        .post(
            "/authorizer/Signed",
            json!({"authorizerFunctionArn": FUNCTION, "signingDisabled": true}),
        )
        .await
        .err(409, "ResourceAlreadyExistsException");
    // signingDisabled never changes; status does.
    s.api
        .call(
            "PUT",
            "/authorizer/Signed",
            &[],
            Some(json!({"signingDisabled": true})),
        )
        .await
        .err(400, "InvalidRequestException");
    // ACTIVE and default authorizers cannot be deleted.
    s.api
        .call("DELETE", "/authorizer/Unsigned", &[], None)
        .await
        .err(409, "DeleteConflictException");
    s.api
        .get("/default-authorizer")
        .await
        .err(404, "ResourceNotFoundException");
    s.api
        .post("/default-authorizer", json!({"authorizerName": "Unsigned"}))
        .await
        .ok();
    s.api
        .post("/default-authorizer", json!({"authorizerName": "Unsigned"}))
        .await
        .err(409, "ResourceAlreadyExistsException");
    let d = s.api.get("/default-authorizer").await.ok();
    assert_eq!(d["authorizerDescription"]["authorizerName"], "Unsigned");
    let domain = s
        .api
        .get(&format!("/domainConfigurations/{}", label("iot:Data-ATS")))
        .await
        .ok();
    assert_eq!(
        domain["authorizerConfig"]["defaultAuthorizerName"],
        "Unsigned"
    );
    s.api
        .call(
            "PUT",
            "/authorizer/Unsigned",
            &[],
            Some(json!({"status": "INACTIVE"})),
        )
        .await
        .ok();
    s.api
        .call("DELETE", "/authorizer/Unsigned", &[], None)
        .await
        .err(409, "DeleteConflictException");
    let none = json!({"removeAuthorizerConfig": true});
    s.api
        .call(
            "PUT",
            &format!("/domainConfigurations/{}", label("iot:Data-ATS")),
            &[],
            Some(none),
        )
        .await
        .ok();
    s.api
        .call("DELETE", "/authorizer/Unsigned", &[], None)
        .await
        .ok();
    s.api
        .get("/authorizer/Unsigned")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn test_invoke_checks_the_signature_and_validates_the_answer() {
    let s = setup().await;
    let good = json!({"token": "allow", "tokenSignature": s.signer.sign("allow"),
        "mqttContext": {"username": "u", "password": "c2VjcmV0", "clientId": "c1"},
        "tlsContext": {"serverName": "localhost"}});
    let answer = s.api.post("/authorizer/Signed/test", good).await.ok();
    assert_eq!(
        (
            answer["isAuthenticated"].as_bool(),
            answer["principalId"].as_str()
        ),
        (Some(true), Some("device1"))
    );
    assert_eq!(answer["refreshAfterInSeconds"], 300);
    let event = s.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(event["signatureVerified"], true);
    assert_eq!(event["protocolData"]["mqtt"]["password"], "c2VjcmV0");
    assert_eq!(event["protocolData"]["tls"]["serverName"], "localhost");
    let calls = s.calls();
    let forged = json!({"token": "allow", "tokenSignature": s.signer.sign("other")});
    s.api
        .post("/authorizer/Signed/test", forged)
        .await
        .err(400, "InvalidRequestException");
    assert_eq!(
        s.calls(),
        calls,
        "a bad signature never reaches the function"
    );
    let broken = json!({"token": "broken", "tokenSignature": s.signer.sign("broken")});
    s.api
        .post("/authorizer/Signed/test", broken)
        .await
        .err(400, "InvalidResponseException");
    let denied = json!({"token": "deny", "tokenSignature": s.signer.sign("deny")});
    let answer = s.api.post("/authorizer/Signed/test", denied).await.ok();
    assert_eq!(answer["isAuthenticated"], false);
}

#[tokio::test]
async fn a_signed_token_in_the_username_admits_the_device_under_the_returned_policies() {
    let s = setup().await;
    for version in [Version::V311, Version::V5] {
        let opts = s.options(
            "tok-dev",
            version,
            s.signed_username("allow", &s.signer.sign("allow")),
            Some("pw"),
        );
        let mut dev = s.connect(&opts).await.expect("admitted");
        let event = s.seen.last.lock().unwrap().clone().unwrap();
        assert_eq!(event["protocols"], json!(["tls", "mqtt"]));
        assert_eq!(
            (
                event["token"].as_str(),
                event["signatureVerified"].as_bool()
            ),
            (Some("allow"), Some(true))
        );
        assert_eq!(event["protocolData"]["mqtt"]["clientId"], "tok-dev");
        assert_eq!(event["protocolData"]["mqtt"]["password"], "cHc=");
        dev.subscribe(&[("custom/#", 1)]).await.unwrap();
        dev.publish("custom/ok", "{}", 1, false).await.unwrap();
        assert_eq!(dev.next_message().await.unwrap().topic, "custom/ok");
        if version == Version::V5 {
            let code = dev.publish("custom/other", "{}", 1, false).await.unwrap();
            assert_eq!(
                code,
                Some(0x87),
                "the returned policy does not allow this topic"
            );
        }
        dev.disconnect().await.ok();
    }
}

#[tokio::test]
async fn bad_signatures_and_refusals_get_not_authorized_and_bad_signatures_never_invoke() {
    let s = setup().await;
    let before = s.calls();
    let forged = s.signed_username("allow", &s.signer.sign("something else"));
    let refused = s
        .connect(&s.options("f1", Version::V311, forged.clone(), None))
        .await;
    assert_eq!(refused_code(refused), Some(5), "refused");
    let refused = s.connect(&s.options("f2", Version::V5, forged, None)).await;
    assert_eq!(refused_code(refused), Some(0x87), "refused");
    assert_eq!(
        s.calls(),
        before,
        "the function was not invoked for a bad signature"
    );
    for token in ["deny", "broken"] {
        let user = s.signed_username(token, &s.signer.sign(token));
        let refused = s.connect(&s.options("f3", Version::V5, user, None)).await;
        assert_eq!(refused_code(refused), Some(0x87), "{token}: refused");
    }
    assert_eq!(s.calls(), before + 2);
    // No authorizer named and no default: refused without a function to ask.
    let refused = s
        .connect(&s.options("f4", Version::V5, "plain".into(), Some("allow")))
        .await;
    assert_eq!(refused_code(refused), Some(0x87), "refused");
}

#[tokio::test]
async fn the_default_unsigned_authorizer_reads_the_password_and_lapses_on_the_clock() {
    let s = setup().await;
    s.api
        .post("/default-authorizer", json!({"authorizerName": "Unsigned"}))
        .await
        .ok();
    let opts = s.options("pw-dev", Version::V5, "alice".into(), Some("allow"));
    let mut dev = s.connect(&opts).await.expect("admitted with the password");
    assert_eq!(s.calls(), 1);
    dev.subscribe(&[("$aws/events/presence/connected/+", 1)])
        .await
        .unwrap();
    let other = s.options("pw-dev-2", Version::V311, "bob".into(), Some("allow"));
    let other = s.connect(&other).await.expect("a second device");
    let event = dev.next_message().await.unwrap();
    let event: Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(
        (
            event["clientId"].as_str(),
            event["principalIdentifier"].as_str()
        ),
        (Some("pw-dev-2"), Some("Unsigned:device1")),
        "lifecycle events name the authorizer and the principal id"
    );
    other.disconnect().await.ok();
    dev.unsubscribe(&["$aws/events/presence/connected/+"])
        .await
        .unwrap();
    dev.subscribe(&[("custom/ok", 1)]).await.unwrap();
    // Past refreshAfterInSeconds the function is asked again; the connection stays.
    s.clock.advance(Duration::from_secs(301));
    s.mock.run_timers();
    dev.publish("custom/ok", "{}", 1, false).await.unwrap();
    assert_eq!(dev.next_message().await.unwrap().topic, "custom/ok");
    assert_eq!(
        s.calls(),
        3,
        "the second device was asked once, then one refresh"
    );
    // Past disconnectAfterInSeconds the broker closes it (MQTT 5: Maximum connect time).
    s.clock.advance(Duration::from_secs(600));
    s.mock.run_timers();
    assert_eq!(dev.expect_closed().await.unwrap(), Some(0xA0));
}

#[tokio::test]
async fn websocket_headers_and_https_publish_use_the_authorizer() {
    let s = setup().await;
    let addr = s.mock.port_443_addr().unwrap();
    let sig = s.signer.sign("allow");
    let mut opts = ConnectOptions::new(addr.to_string(), "ws-dev").version(Version::V5);
    opts.websocket = Some("/mqtt".into());
    opts.websocket_headers = vec![
        ("x-amz-customauthorizer-name".into(), "Signed".into()),
        ("x-amz-customauthorizer-signature".into(), sig.clone()),
        ("tok".into(), "allow".into()),
    ];
    let tls = client_config(&TlsOptions::new(s.mock.root_ca_pem())).unwrap();
    let (mut ws, _) = DeviceClient::connect(tls, &opts)
        .await
        .expect("admitted over WSS");
    let event = s.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(event["protocols"], json!(["tls", "http", "mqtt"]));
    assert_eq!(event["protocolData"]["http"]["headers"]["tok"], "allow");
    ws.subscribe(&[("custom/#", 1)]).await.unwrap();
    let tls = TlsOptions::new(s.mock.root_ca_pem());
    let path = format!(
        "/topics/custom%2Fok?x-amz-customauthorizer-name=Signed&tok=allow&x-amz-customauthorizer-signature={}",
        enc(&sig)
    );
    let (status, body) = https(addr, &tls, &path, "", b"{\"via\":\"https\"}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ws.next_message().await.unwrap().topic, "custom/ok");
    let denied = path.replace("custom%2Fok", "custom%2Fother");
    let (status, _) = https(addr, &tls, &denied, "", b"{}").await;
    assert_eq!(status, 403, "the returned policy does not allow this topic");
    let headers = format!(
        "x-amz-customauthorizer-name: Signed\r\ntok: allow\r\nx-amz-customauthorizer-signature: {}\r\n",
        s.signer.sign("nope")
    );
    let (status, body) = https(addr, &tls, "/topics/custom%2Fok", &headers, b"{}").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn authorizers_and_the_default_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || MockIotCore::builder().state_dir(dir.path()).start();
    let mock = start().await.unwrap();
    let api = Api::new(mock.api_addr(), mock.region());
    let body =
        json!({ "authorizerFunctionArn": FUNCTION, "signingDisabled": true, "status": "INACTIVE" });
    api.post("/authorizer/Kept", body).await.ok();
    api.post("/default-authorizer", json!({"authorizerName": "Kept"}))
        .await
        .ok();
    mock.shutdown().await;
    let mock = start().await.unwrap();
    let api = Api::new(mock.api_addr(), mock.region());
    let d = api.get("/default-authorizer").await.ok();
    assert_eq!(d["authorizerDescription"]["authorizerName"], "Kept");
    assert_eq!(d["authorizerDescription"]["status"], "INACTIVE");
}

#[tokio::test]
async fn without_a_local_function_the_authorizer_invokes_lambda_on_the_aws_endpoint() {
    const ANSWER: &str = r#"{"isAuthenticated":true,"principalId":"viaLambda","policyDocuments":["{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}"],"refreshAfterInSeconds":300,"disconnectAfterInSeconds":300}"#;
    let (addr, mut seen) = crate::rules_actions::hook(200, ANSWER).await;
    let mock = MockIotCore::builder()
        .aws_endpoint_url(format!("http://{addr}"))
        .start()
        .await
        .unwrap();
    let api = Api::new(mock.api_addr(), mock.region());
    let body = json!({ "authorizerFunctionArn": FUNCTION, "signingDisabled": true });
    api.post("/authorizer/Remote", body).await.ok();
    let test = json!({ "token": "t1", "mqttContext": { "username": "u" } });
    let answer = api.post("/authorizer/Remote/test", test).await.ok();
    assert_eq!(answer["principalId"], "viaLambda");
    let call = seen.recv().await.unwrap();
    assert_eq!(call.path, "/2015-03-31/functions/device-auth/invocations");
    let auth = call.header("authorization").unwrap_or_default();
    assert!(
        auth.contains("/lambda/aws4_request"),
        "signed for Lambda: {auth}"
    );
    let event: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(event["protocolData"]["mqtt"]["username"], "u");
}

/// Two publishes on one keep-alive HTTPS connection to port 443 with the authorizer's
/// headers: both statuses.
async fn two_publishes(s: &Setup, headers: &str) -> Vec<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.mock.port_443_addr().unwrap();
    let tls = client_config(&TlsOptions::new(s.mock.root_ca_pem())).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let one = |close: &str| {
        format!(
            "POST /topics/custom%2Fok HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\n{headers}{close}\r\n{{}}"
        )
    };
    let both = format!("{}{}", one(""), one("connection: close\r\n"));
    stream.write_all(both.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok();
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..i + 12].parse().ok())
        .collect()
}

#[tokio::test]
async fn a_keep_alive_https_connection_keeps_its_grant_only_when_caching_is_enabled() {
    let s = setup().await;
    let headers = format!(
        "x-amz-customauthorizer-name: Signed\r\ntok: allow\r\nx-amz-customauthorizer-signature: {}\r\n",
        s.signer.sign("allow")
    );
    let before = s.calls();
    assert_eq!(two_publishes(&s, &headers).await, vec![200, 200]);
    assert_eq!(s.calls(), before + 2, "asked per request without caching");
    let cache = json!({ "enableCachingForHttp": true });
    s.api
        .call("PUT", "/authorizer/Signed", &[], Some(cache))
        .await
        .ok();
    assert_eq!(two_publishes(&s, &headers).await, vec![200, 200]);
    assert_eq!(
        s.calls(),
        before + 3,
        "asked once for the connection with caching"
    );
}

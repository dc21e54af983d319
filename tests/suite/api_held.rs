//! An API that cannot be held open: half-sent requests are answered or closed by their
//! deadline while others are served, and connections past the cap are refused clearly.

use crate::support::Api;
use iotmock::{ApiLimits, MockIotCore};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn mock(limits: ApiLimits) -> MockIotCore {
    MockIotCore::builder()
        .api_limits(limits)
        .start()
        .await
        .expect("starts")
}

/// Reads until the server closes; what it said, if anything.
async fn until_closed(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_bystander_is_served_while_a_thousand_half_sent_requests_hang() {
    let _ = rlimit::increase_nofile_limit(8192);
    let limits = ApiLimits {
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        max_connections: 1100,
    };
    let mock = mock(limits).await;
    let addr = mock.api_addr();
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        let partial: &[u8] = match i % 2 {
            0 => b"GET /things HTTP/1.1\r\nhost: x\r\n",
            _ => b"POST /things/x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
        };
        s.write_all(partial).await.expect("writes");
        held.push(s);
    }
    let bystander = Api::new(addr, "us-east-1");
    let things = tokio::time::timeout(Duration::from_secs(5), bystander.get("/things"))
        .await
        .expect("served while the others hang")
        .ok();
    assert!(things["things"].is_array());
    let mut body_refusals = 0;
    for s in held {
        let said = tokio::time::timeout(Duration::from_secs(20), until_closed(s))
            .await
            .expect("closed by its deadline");
        body_refusals += usize::from(said.contains("did not arrive within"));
    }
    assert_eq!(body_refusals, 500, "a short body is answered with why");
}

#[tokio::test]
async fn connections_past_the_cap_get_503() {
    let limits = ApiLimits {
        max_connections: 2,
        ..ApiLimits::default()
    };
    let mock = mock(limits).await;
    let addr = mock.api_addr();
    let _a = TcpStream::connect(addr).await.expect("connects");
    let _b = TcpStream::connect(addr).await.expect("connects");
    let third = TcpStream::connect(addr).await.expect("connects");
    let said = tokio::time::timeout(Duration::from_secs(5), until_closed(third))
        .await
        .expect("answered at once");
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.contains("ServiceUnavailableException"), "{said}");
}

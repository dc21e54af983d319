//! The unbuffered TLS stream against rustls's own client over real sockets: data both ways
//! in records cut at every few bytes, SNI caught from the hello, buffers given back while idle.

use super::Tls;
use iotmock_testkit::TestCa;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const HOST: &str = "abc-ats.iot.eu-west-1.amazonaws.com";

/// A stream that writes at most a few bytes at a time, so records arrive cut up.
struct Dribble(TcpStream);

impl AsyncRead for Dribble {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Dribble {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(7);
        Pin::new(&mut self.0).poll_write(cx, &buf[..n])
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.expect("cert"))
        .collect()
}

/// A server configuration and a client one (with a device certificate) for `version`.
fn configs(
    version: &'static rustls::SupportedProtocolVersion,
) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ca = TestCa::new("unbuffered");
    let server = ca.server_leaf(HOST);
    let device = ca.leaf("device");
    let sc = crate::tls::server_config(&server.cert_pem, &server.key_pem, ca.pem(), &[], None)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(certs(ca.pem()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivateKeyDer::from_pem_slice(device.key_pem.as_bytes()).expect("key");
    let cc = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(&device.cert_pem), key)
        .expect("client config");
    (sc, Arc::new(cc))
}

/// A handshake over loopback: the server's stream and the client's.
async fn pair(
    version: &'static rustls::SupportedProtocolVersion,
) -> (Tls, tokio_rustls::client::TlsStream<Dribble>) {
    let (sc, cc) = configs(version);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        Tls::accept(tcp, sc).await.expect("handshake")
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from(HOST).expect("name");
    let connector = tokio_rustls::TlsConnector::from(cc);
    let client = connector
        .connect(name, Dribble(tcp))
        .await
        .expect("client handshake");
    (server.await.expect("server task"), client)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn data_crosses_both_ways_in_records_cut_anywhere() {
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let (mut server, mut client) = pair(version).await;
        assert_eq!(
            server.server_name(),
            Some(HOST),
            "SNI caught from the hello"
        );
        assert!(server.state().peer_certificates().is_some());
        let up = pattern(40_000);
        client.write_all(&up).await.expect("client write");
        client.flush().await.expect("client flush");
        let mut got = vec![0u8; up.len()];
        server.read_exact(&mut got).await.expect("server read");
        assert_eq!(got, up, "{version:?}: client to server");
        let down = pattern(300_000);
        let writer = tokio::spawn(async move {
            server.write_all(&down).await.expect("server write");
            server.flush().await.expect("server flush");
            server.shutdown().await.expect("close_notify");
            server
        });
        let mut back = Vec::new();
        client
            .read_to_end(&mut back)
            .await
            .expect("read to close_notify");
        assert_eq!(back, pattern(300_000), "{version:?}: server to client");
        writer.await.expect("writer");
    }
}

#[tokio::test]
async fn an_idle_connection_keeps_no_receive_buffer_and_no_large_one() {
    let (mut server, mut client) = pair(&rustls::version::TLS13).await;
    client.write_all(&pattern(50_000)).await.expect("write");
    client.flush().await.expect("flush");
    let mut got = vec![0u8; 50_000];
    server.read_exact(&mut got).await.expect("read");
    server
        .write_all(&pattern(60_000))
        .await
        .expect("write back");
    server.flush().await.expect("flush back");
    // Nothing more is coming: the read waits, and the stream gives its buffers back.
    let mut more = [0u8; 16];
    let waited = std::future::poll_fn(|cx| {
        let mut buf = ReadBuf::new(&mut more);
        Poll::Ready(Pin::new(&mut server).poll_read(cx, &mut buf).is_pending())
    })
    .await;
    assert!(waited, "nothing to read");
    assert_eq!(server.incoming.capacity(), 0, "receive buffer kept");
    assert!(
        server.plain.capacity() <= super::KEEP,
        "plaintext buffer kept"
    );
    assert!(
        server.outgoing.capacity() <= super::KEEP,
        "send buffer kept"
    );
    let mut back = vec![0u8; 60_000];
    client.read_exact(&mut back).await.expect("the answer");
    assert_eq!(back, pattern(60_000));
}

#[tokio::test]
async fn a_peer_that_closes_without_close_notify_is_an_unexpected_end() {
    let (mut server, client) = pair(&rustls::version::TLS12).await;
    let (tcp, _) = client.into_inner();
    drop(tcp);
    let mut buf = [0u8; 8];
    let err = server.read(&mut buf).await.expect_err("no close_notify");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn data_and_close_notify_read_with_the_clients_finished_are_not_lost() {
    // The test runtime has one thread: the client's Finished, its data and close_notify are
    // all on the socket before the server's task reads them, in one read.
    let (sc, cc) = configs(&rustls::version::TLS13);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut tls = Tls::accept(tcp, sc).await.expect("handshake completes");
        let mut got = Vec::new();
        tls.read_to_end(&mut got).await.expect("data, then the end");
        got
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(HOST).expect("name");
    let mut client = tokio_rustls::TlsConnector::from(cc)
        .connect(name, tcp)
        .await
        .expect("client handshake");
    client.write_all(b"CONNECT").await.expect("write");
    client.shutdown().await.expect("close_notify");
    assert_eq!(server.await.expect("server task"), b"CONNECT");
}

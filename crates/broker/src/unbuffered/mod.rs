//! TLS over a TCP stream with rustls's unbuffered API. The connection owns its buffers: when
//! the stream waits on the peer it gives back its receive buffer and any plaintext or send
//! buffer over [`KEEP`] bytes, so an idle connection holds no receive buffer (rustls's
//! buffered connection keeps 4 KiB for its whole life). Records are encrypted straight into
//! the send buffer.

use crate::observe::Tap;
use crate::tls;
use rustls::server::{Acceptor, ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncryptError, UnbufferedStatus, WriteTraffic};
use rustls::{CommonState, ServerConfig};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Room made for a read from the socket: the first after a wait, at most, and the least.
const FIRST_ROOM: usize = 2 * 1024;
const READ_SIZE: usize = 16 * 1024;
const MIN_ROOM: usize = 512;
/// A plaintext or send buffer up to this size is kept while the connection waits.
const KEEP: usize = 1024;
/// TLS input held unprocessed, at most: a handshake message may span records up to 64 KiB.
const MAX_INCOMING: usize = 80 * 1024;
/// Encrypted output waiting on the socket beyond which a write waits instead of taking more.
const HIGH_WATER: usize = 256 * 1024;

mod records;
use records::{encode, eof, invalid, observe_hello, write_growing};

/// Appends the payload of every record `$reader` decrypted to `$plain`.
macro_rules! drain_records {
    ($reader:expr, $plain:expr) => {{
        let mut drained = Ok(());
        while let Some(record) = $reader.next_record() {
            match record {
                Ok(record) => $plain.extend_from_slice(record.payload),
                Err(e) => {
                    drained = Err(invalid(e));
                    break;
                }
            }
        }
        drained
    }};
}

/// Why processing the received records stopped short.
enum Stop {
    /// rustls refused the peer's records (an alert is owed).
    Tls(rustls::Error),
    Io(io::Error),
}

/// What processing the received records came to.
enum Progress {
    /// Everything received is processed: more must be read.
    NeedInput,
    /// The peer closed the TLS session (close_notify).
    Closed,
}

/// A server-side TLS connection over `TcpStream`, driven with the unbuffered API.
pub struct Tls {
    tcp: TcpStream,
    conn: UnbufferedServerConnection,
    /// Records received and not yet processed: `incoming[..filled]`. The rest of `incoming`
    /// is room already initialised for the next read (zeroed once, when it grows).
    incoming: Vec<u8>,
    filled: usize,
    /// The last read filled its room.
    read_full: bool,
    /// Application data decrypted and not yet read, from `plain_at`.
    plain: Vec<u8>,
    plain_at: usize,
    /// Records to send, from `sent`.
    outgoing: Vec<u8>,
    sent: usize,
    /// The peer sent close_notify.
    peer_closed: bool,
    /// close_notify is queued.
    shut: bool,
    /// The ClientHello was seen.
    greeted: bool,
    /// The SNI host name the client sent.
    sni: Option<String>,
}

impl Tls {
    /// The TLS handshake on `tcp` with `config`. Errors are rustls's, wrapped as
    /// tokio-rustls wraps them (`InvalidData` holding the `rustls::Error`).
    pub async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<Tls> {
        Self::accept_observed(tcp, config, None).await
    }

    /// [`Tls::accept`]; when `tap` observes, the ClientHello is recorded.
    pub(crate) async fn accept_observed(
        tcp: TcpStream,
        config: Arc<ServerConfig>,
        tap: Option<&Tap>,
    ) -> io::Result<Tls> {
        let conn = UnbufferedServerConnection::new(config).map_err(invalid)?;
        let mut tls = Tls {
            tcp,
            conn,
            incoming: Vec::new(),
            filled: 0,
            read_full: false,
            plain: Vec::new(),
            plain_at: 0,
            outgoing: Vec::new(),
            sent: 0,
            peer_closed: false,
            shut: false,
            greeted: false,
            sni: None,
        };
        let mut observer = tap.map(|t| (t, Acceptor::default()));
        std::future::poll_fn(|cx| tls.poll_handshake(cx, &mut observer)).await?;
        tls.release_idle();
        Ok(tls)
    }

    /// rustls's view of the established connection (certificates, ALPN, version, suite).
    pub fn state(&self) -> &CommonState {
        &self.conn
    }

    /// The SNI host name the client sent, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
        observer: &mut Option<(&Tap, Acceptor)>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_send(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            let (progress, sni) = tls::catching_sni(|| self.advance());
            if let Some(sni) = sni.filter(|_| !self.greeted) {
                self.greeted = true;
                self.sni = sni;
            }
            match progress {
                Err(e) => {
                    self.send_now();
                    return Poll::Ready(Err(e));
                }
                // close_notify counts only after the client's Finished: the handshake is
                // complete, and what came with it is read before the end.
                Ok(Progress::Closed) if !self.conn.is_handshaking() => continue,
                Ok(Progress::Closed) => return Poll::Ready(Err(eof("tls handshake eof"))),
                // Handshake records to send first, or the handshake is complete.
                Ok(Progress::NeedInput) if self.unsent() > 0 || !self.conn.is_handshaking() => {
                    continue;
                }
                Ok(Progress::NeedInput) => {
                    let n = ready!(self.poll_fill(cx))?;
                    if n == 0 {
                        return Poll::Ready(Err(eof("tls handshake eof")));
                    }
                    let read = &self.incoming[self.filled - n..self.filled];
                    observe_hello(observer, read);
                }
            }
        }
    }

    /// Processes the records received so far: decrypted data goes to `plain`, records rustls
    /// wants sent go to `outgoing`.
    fn advance(&mut self) -> io::Result<Progress> {
        loop {
            let UnbufferedStatus { discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.filled]);
            let step = match state {
                Ok(ConnectionState::ReadTraffic(mut r)) => drain_records!(r, self.plain)
                    .map(|()| None)
                    .map_err(Stop::Io),
                Ok(ConnectionState::ReadEarlyData(mut r)) => drain_records!(r, self.plain)
                    .map(|()| None)
                    .map_err(Stop::Io),
                Ok(ConnectionState::EncodeTlsData(e)) => encode(e, &mut self.outgoing)
                    .map(|()| None)
                    .map_err(Stop::Io),
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    // The records stay queued in `outgoing`, in order, and are sent once.
                    t.done();
                    Ok(None)
                }
                Ok(ConnectionState::PeerClosed) => {
                    self.peer_closed = true;
                    Ok(None)
                }
                Ok(ConnectionState::Closed) => {
                    self.peer_closed = true;
                    Ok(Some(Progress::Closed))
                }
                Ok(_) => Ok(Some(Progress::NeedInput)),
                Err(e) => Err(Stop::Tls(e)),
            };
            // Discarded before anything else, as rustls requires, whatever the outcome.
            self.discard(discard);
            match step {
                Err(Stop::Tls(e)) => return Err(self.fatal(e)),
                Err(Stop::Io(e)) => return Err(e),
                Ok(None) => {}
                Ok(Some(_)) if self.peer_closed => return Ok(Progress::Closed),
                Ok(Some(step)) => return Ok(step),
            }
        }
    }

    /// After a fatal error: queues the alert rustls prepared, for [`Tls::send_now`].
    fn fatal(&mut self, e: rustls::Error) -> io::Error {
        for _ in 0..8 {
            let UnbufferedStatus { discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.filled]);
            let more = match state {
                Ok(ConnectionState::EncodeTlsData(e)) => encode(e, &mut self.outgoing).is_ok(),
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    t.done();
                    true
                }
                _ => false,
            };
            self.discard(discard);
            if !more {
                break;
            }
        }
        invalid(e)
    }

    fn unsent(&self) -> usize {
        self.outgoing.len() - self.sent
    }

    /// Sends what the socket takes now, without waiting (an alert before closing).
    fn send_now(&mut self) {
        while self.unsent() > 0 {
            match self.tcp.try_write(&self.outgoing[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                _ => return,
            }
        }
        self.outgoing.clear();
        self.sent = 0;
    }

    /// Sends every queued record.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.unsent() > 0 {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.outgoing.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Drops the first `n` bytes received (processed by rustls).
    fn discard(&mut self, n: usize) {
        self.incoming.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Reads from the socket into `incoming`; the number of bytes (0 at the end). A short
    /// read tells tokio the socket is drained, so the next wait costs no extra syscall.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.filled >= MAX_INCOMING {
            return Poll::Ready(Err(invalid("message buffer full")));
        }
        // The room grows with what arrives: a connection woken by one small packet zeroes
        // little of it, one that fills its room gets twice as much the next time.
        let want = match (self.incoming.len(), self.read_full) {
            (0, _) => FIRST_ROOM,
            (len, true) => (len * 2).min(READ_SIZE),
            (_, false) => MIN_ROOM,
        };
        if self.incoming.len() - self.filled < want {
            self.incoming.resize(self.filled + want, 0);
        }
        let mut room = ReadBuf::new(&mut self.incoming[self.filled..]);
        ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut room))?;
        let n = room.filled().len();
        self.read_full = room.remaining() == 0;
        self.filled += n;
        Poll::Ready(Ok(n))
    }

    /// Gives back every buffer that is empty: the stream now waits on the peer.
    fn release_idle(&mut self) {
        if self.filled == 0 {
            self.incoming = Vec::new();
            self.read_full = false;
        }
        // Small buffers stay: a connection woken for one small packet at a time would
        // otherwise allocate and free them on every wake-up.
        if self.plain_at == self.plain.len() && self.plain.capacity() > KEEP {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
        if self.unsent() == 0 && self.outgoing.capacity() > KEEP {
            self.outgoing = Vec::new();
            self.sent = 0;
        }
    }

    /// Copies decrypted data to `buf`; whether there was any.
    fn take_plain(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let pending = &self.plain[self.plain_at..];
        if pending.is_empty() {
            return false;
        }
        let n = pending.len().min(buf.remaining());
        buf.put_slice(&pending[..n]);
        self.plain_at += n;
        if self.plain_at == self.plain.len() {
            self.plain.clear();
            self.plain_at = 0;
        }
        true
    }

    /// Encrypts `data` into `outgoing` (rustls splits it into records).
    fn encrypt(&mut self, data: &[u8]) -> io::Result<()> {
        let guess = data.len() + (data.len() / 16384 + 1) * 64;
        self.write_with(guess, |w, out| w.encrypt(data, out))
    }

    /// Runs `write` once the connection can write, with room in `outgoing` growing to what
    /// it asks; records rustls queued first (a key update) go before it.
    fn write_with(
        &mut self,
        guess: usize,
        mut write: impl FnMut(&mut WriteTraffic<'_, ServerConnectionData>, &mut [u8]) -> Written,
    ) -> io::Result<()> {
        for _ in 0..16 {
            let UnbufferedStatus { discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.filled]);
            let done = match state {
                Ok(ConnectionState::WriteTraffic(mut w)) => Some(
                    write_growing(&mut self.outgoing, guess, |out| write(&mut w, out))
                        .map_err(Stop::Io),
                ),
                Ok(ConnectionState::EncodeTlsData(e)) => encode(e, &mut self.outgoing)
                    .err()
                    .map(|e| Err(Stop::Io(e))),
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    t.done();
                    None
                }
                // Reading always processes every whole record it has, so a write finds none;
                // were one there, its data would wait in `plain` for the next read.
                Ok(ConnectionState::ReadTraffic(mut r)) => drain_records!(r, self.plain)
                    .err()
                    .map(|e| Err(Stop::Io(e))),
                Ok(ConnectionState::PeerClosed) => {
                    self.peer_closed = true;
                    None
                }
                Ok(other) => Some(Err(Stop::Io(invalid(format!(
                    "cannot write in TLS state {other:?}"
                ))))),
                Err(e) => Some(Err(Stop::Tls(e))),
            };
            self.discard(discard);
            match done {
                None => {}
                Some(Ok(())) => return Ok(()),
                Some(Err(Stop::Io(e))) => return Err(e),
                Some(Err(Stop::Tls(e))) => return Err(self.fatal(e)),
            }
        }
        Err(invalid("the TLS connection did not become writable"))
    }
}

type Written = Result<usize, EncryptError>;

impl AsyncRead for Tls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.take_plain(buf) || this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            match this.advance() {
                Err(e) => {
                    this.send_now();
                    return Poll::Ready(Err(e));
                }
                Ok(Progress::Closed) => continue,
                Ok(Progress::NeedInput) if this.plain_at < this.plain.len() => continue,
                Ok(Progress::NeedInput) => {}
            }
            // What the records asked for (an alert) goes out now if the socket takes it, or
            // with the next write (a key update's answer always goes with the next write).
            this.send_now();
            match this.poll_fill(cx) {
                Poll::Pending => {
                    this.release_idle();
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(eof(
                        "peer closed connection without sending TLS close_notify",
                    )));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.unsent() >= HIGH_WATER {
            ready!(this.poll_send(cx))?;
        }
        let n = data.len().min(HIGH_WATER);
        this.encrypt(&data[..n])?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        if this.outgoing.capacity() > HIGH_WATER {
            this.outgoing = Vec::new();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.conn.is_handshaking() && !this.shut {
            this.shut = true;
            this.write_with(64, |w, out| w.queue_close_notify(out))?;
        }
        ready!(this.poll_send(cx))?;
        // A peer that is already gone has nothing left to be told (as tokio-rustls treats it).
        match ready!(Pin::new(&mut this.tcp).poll_shutdown(cx)) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            done => Poll::Ready(done),
        }
    }
}

#[cfg(test)]
mod tests;

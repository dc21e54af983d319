//! The byte side of a client connection: its TLS stream's halves, the read buffer, the
//! batch of encoded packets to write, and the fault plan applied on the way out.

use crate::faults::{FaultPlan, Verdict};
use crate::observe::{PacketSeen, Seen, Tap};
use bytes::BytesMut;
use iotmock_mqtt::{Connect, Packet, Version, decode, detect_version, encode};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

/// Why reading CONNECT failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BeforeConnect {
    #[error("closed before CONNECT")]
    Closed,
    #[error("read failed before CONNECT: {0}")]
    Read(std::io::Error),
    #[error("no CONNECT within {0:?}")]
    Timeout(Duration),
    #[error("first packet is not a complete CONNECT")]
    NotConnect,
    #[error(transparent)]
    Codec(#[from] iotmock_mqtt::CodecError),
}

/// Room made for each read of a burst.
const READ_CHUNK: usize = 4096;
/// Input read ahead of handling, at most.
const READ_AHEAD: usize = 64 * 1024;

pub(crate) struct Link<S> {
    pub(crate) rd: ReadHalf<S>,
    pub(crate) wr: WriteHalf<S>,
    pub(crate) buf: BytesMut,
    /// Encoded packets not yet written: answers and deliveries are written in batches.
    pub(crate) out: BytesMut,
    pub(crate) version: Version,
    pub(crate) plan: Option<FaultPlan>,
    pub(crate) packets_in: u32,
    pub(crate) tap: Option<Tap>,
    /// A write still waiting on the socket at this instant fails with `TimedOut` (the
    /// session's keep-alive deadline: a client that reads nothing also sends nothing).
    pub(crate) write_deadline: Option<tokio::time::Instant>,
}

impl<S: AsyncRead + AsyncWrite> Link<S> {
    /// Queues `packet` for the next flush, unless the fault plan holds it back.
    pub(crate) async fn send(&mut self, packet: &Packet) -> std::io::Result<()> {
        match self.queue(packet)? {
            None => Ok(()),
            Some(delay) => self.send_late(packet, delay).await,
        }
    }

    /// [`Link::send`] without waiting: `Some(delay)` when the fault plan delays `packet`,
    /// which is then not queued yet (for [`Link::send_late`]).
    pub(crate) fn queue(&mut self, packet: &Packet) -> std::io::Result<Option<Duration>> {
        let verdict = self
            .plan
            .as_ref()
            .map_or(Verdict::Send, |p| p.verdict(packet));
        if let Some(t) = &self.tap {
            let withheld = verdict == Verdict::Withhold;
            t.record(Seen::Out {
                packet: PacketSeen::of(packet),
                withheld,
            });
        }
        match verdict {
            Verdict::Withhold => Ok(None),
            Verdict::Delay(d) => Ok(Some(d)),
            Verdict::Send => encode(packet, self.version, &mut self.out)
                .map(|_| None)
                .map_err(std::io::Error::other),
        }
    }

    /// Writes what is queued, waits `delay`, then queues `packet` (a delayed answer).
    pub(crate) async fn send_late(
        &mut self,
        packet: &Packet,
        delay: Duration,
    ) -> std::io::Result<()> {
        self.flush().await?;
        tokio::time::sleep(delay).await;
        encode(packet, self.version, &mut self.out).map_err(std::io::Error::other)
    }

    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        // TLS keeps records back when the socket (or tokio's budget) says "not now" and still
        // takes the bytes; only the flush puts every record on the wire before we wait.
        let write = async {
            self.wr.write_all(&self.out).await?;
            self.wr.flush().await
        };
        let result = match self.write_deadline {
            Some(at) => tokio::time::timeout_at(at, write)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
            None => write.await,
        };
        self.out.clear();
        if self.out.capacity() > 64 * 1024 {
            self.out = BytesMut::new();
        }
        result
    }

    /// Reads, without waiting, whatever is readable now (up to a bound), so that a burst of
    /// packets is handled before anything is written back and one write answers them all.
    /// A read that fails or finds the end is left for the next waiting read to report.
    pub(crate) async fn read_ready(&mut self) {
        while self.buf.len() < READ_AHEAD {
            self.buf.reserve(READ_CHUNK);
            let mut read = std::pin::pin!(self.rd.read_buf(&mut self.buf));
            let now = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
            if !matches!(now, Poll::Ready(Ok(n)) if n > 0) {
                return;
            }
        }
    }

    /// Gives back a read buffer grown by a burst once it is empty (an idle connection keeps
    /// none).
    pub(crate) fn release_read_buffer(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > READ_CHUNK / 4 {
            self.buf = BytesMut::new();
        }
    }

    /// Reads until CONNECT has arrived and fixes the protocol version from it.
    pub(crate) async fn read_connect(
        &mut self,
        deadline: Duration,
    ) -> Result<Connect, BeforeConnect> {
        let read = async {
            loop {
                if let Some(v) = detect_version(&self.buf)? {
                    self.version = v;
                    self.packets_in = 1;
                    return match decode(&mut self.buf, v)? {
                        Some(Packet::Connect(c)) => Ok(c),
                        _ => Err(BeforeConnect::NotConnect),
                    };
                }
                match self.rd.read_buf(&mut self.buf).await {
                    Ok(0) => return Err(BeforeConnect::Closed),
                    Ok(_) => {}
                    Err(e) => return Err(BeforeConnect::Read(e)),
                }
            }
        };
        tokio::time::timeout(deadline, read)
            .await
            .unwrap_or(Err(BeforeConnect::Timeout(deadline)))
    }

    pub(crate) fn closed(&self, reason: &'static str) {
        if let Some(t) = &self.tap {
            t.record(Seen::Closed { reason });
        }
    }

    /// What the fault plan asks after the client's latest packet: drop, or stall a while.
    pub(crate) async fn after_packet(&mut self) -> bool {
        let Some(plan) = &self.plan else {
            return false;
        };
        let drop = plan.drop_after.is_some_and(|n| self.packets_in >= n);
        if let Some((n, d)) = plan.stall
            && n == self.packets_in
        {
            let _ = self.flush().await;
            tokio::time::sleep(d).await;
        }
        drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn link<S: AsyncRead + AsyncWrite>(stream: S) -> Link<S> {
        let (rd, wr) = tokio::io::split(stream);
        Link {
            rd,
            wr,
            buf: BytesMut::new(),
            out: BytesMut::new(),
            version: Version::V311,
            plan: None,
            packets_in: 0,
            tap: None,
            write_deadline: None,
        }
    }

    #[tokio::test]
    async fn a_burst_is_read_whole_before_it_is_handled_and_the_buffer_is_given_back() {
        let (near, mut far) = tokio::io::duplex(256 * 1024);
        let mut l = link(near);
        let burst = vec![7u8; 40 * 1024];
        far.write_all(&burst).await.expect("write");
        let first = l.rd.read_buf(&mut l.buf).await.expect("read");
        assert!(
            first < burst.len(),
            "one read takes only what its buffer has room for"
        );
        l.read_ready().await;
        assert_eq!(
            l.buf.len(),
            burst.len(),
            "the rest of the burst, without waiting"
        );
        // Nothing more is readable: read_ready returns at once instead of waiting.
        l.read_ready().await;
        assert_eq!(l.buf.len(), burst.len());
        l.buf.clear();
        l.release_read_buffer();
        assert_eq!(
            l.buf.capacity(),
            0,
            "an idle connection keeps no read buffer"
        );
    }

    #[tokio::test]
    async fn a_flush_puts_what_the_stream_kept_back_on_the_wire() {
        // A writer that takes bytes and holds them until flushed, as TLS does when the socket
        // or tokio's budget says "not now".
        let (near, mut far) = tokio::io::duplex(1024);
        let mut l = link(tokio::io::BufWriter::new(near));
        l.send(&Packet::PingResp).await.expect("queued");
        l.flush().await.expect("flushed");
        let mut got = [0u8; 2];
        let read = tokio::time::timeout(Duration::from_secs(5), far.read_exact(&mut got)).await;
        assert!(read.is_ok(), "PINGRESP reached the wire");
        assert_eq!(got, [0xD0, 0x00]);
    }
}

//! The byte work around rustls's unbuffered states: growing the send buffer to what a record
//! needs, and reading the ClientHello for an observer.

use crate::observe::{Seen, Tap};
use rustls::server::Acceptor;
use rustls::unbuffered::{EncodeError, EncodeTlsData, EncryptError};
use std::io;

/// Feeds the bytes just `read` to the observer's ClientHello reader, and records the hello
/// once it is whole (then stops observing).
pub(super) fn observe_hello(observer: &mut Option<(&Tap, Acceptor)>, mut read: &[u8]) {
    let Some((tap, acceptor)) = observer else {
        return;
    };
    let done = loop {
        if read.is_empty() {
            break false;
        }
        if acceptor.read_tls(&mut read).is_err() {
            break true;
        }
        match acceptor.accept() {
            Ok(None) => {}
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                tap.record(Seen::Hello {
                    suites: hello
                        .cipher_suites()
                        .iter()
                        .map(|s| u16::from(*s))
                        .collect(),
                    sni: hello.server_name().map(str::to_string),
                });
                break true;
            }
            Err(_) => break true,
        }
    };
    if done {
        // The hello was recorded, or cannot be read: nothing more to observe.
        *observer = None;
    }
}

/// Appends what `write` puts into a buffer to `out`, growing the room to what it asks.
pub(super) fn write_growing(
    out: &mut Vec<u8>,
    guess: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<()> {
    let at = out.len();
    out.resize(at + guess, 0);
    let written = match write(&mut out[at..]) {
        Err(EncryptError::InsufficientSize(e)) => {
            out.resize(at + e.required_size, 0);
            write(&mut out[at..])
        }
        other => other,
    };
    keep_written(out, at, written)
}

/// Keeps the `n` bytes written at `at` (none when the write failed).
fn keep_written<E: std::fmt::Display>(
    out: &mut Vec<u8>,
    at: usize,
    written: Result<usize, E>,
) -> io::Result<()> {
    let kept = written.as_ref().map_or(0, |n| *n);
    out.truncate(at + kept);
    written.map(drop).map_err(|e| invalid(e.to_string()))
}

/// Appends a handshake record rustls prepared to `out`.
pub(super) fn encode<D>(mut e: EncodeTlsData<'_, D>, out: &mut Vec<u8>) -> io::Result<()> {
    let at = out.len();
    let need = match e.encode(&mut []) {
        Err(EncodeError::InsufficientSize(s)) => s.required_size,
        Ok(_) | Err(EncodeError::AlreadyEncoded) => return Ok(()),
    };
    out.resize(at + need, 0);
    let written = e.encode(&mut out[at..]);
    keep_written(out, at, written)
}

pub(super) fn invalid<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

pub(super) fn eof(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what)
}

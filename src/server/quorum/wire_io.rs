//! One quorum-port connection's bytes: reading `QuorumPacket`s (and the SNAP body that
//! follows a SNAP packet) off the socket, and a writer task that sends queued packets
//! in order. The packets' meaning is the ZAB machines' (`zab::leader`, `zab::learner`);
//! the driver (`peer`) connects the two.
//!
//! Java's quorum port has no framing of its own: packets follow each other as jute
//! records, and the SNAP body is written into the same stream between the SNAP packet
//! and the next one. The decoders bound every length before its bytes are awaited.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::server::signal::Signal;
use crate::storage::zk::SnapBodyScanner;
use crate::zab::wire::quorum_packet::{QuorumPacket, DEFAULT_MAX_BUFFER_LEN};
use crate::zab::wire::Decoded;

/// How many bytes one read asks for.
const READ_CHUNK: usize = 64 << 10;

/// The reading half of a quorum-port connection.
pub struct PacketReader {
    reader: ReadHalf<TcpStream>,
    buf: BytesMut,
}

impl PacketReader {
    /// The next packet; an error (with the reason, for the log line) ends the connection.
    pub async fn next(&mut self) -> Result<QuorumPacket, String> {
        loop {
            match QuorumPacket::decode(&self.buf, DEFAULT_MAX_BUFFER_LEN) {
                Ok(Decoded::Complete { value, consumed }) => {
                    let _ = self.buf.split_to(consumed);
                    return Ok(value);
                }
                Ok(Decoded::Incomplete) => self.fill().await?,
                Err(e) => return Err(format!("bad packet: {e}")),
            }
        }
    }

    /// The SNAP body that follows a SNAP packet, up to and including its signature.
    pub async fn snap_body(&mut self) -> Result<Bytes, String> {
        let mut scanner = SnapBodyScanner::new();
        loop {
            match scanner.scan(&self.buf) {
                Ok(Some(len)) => return Ok(self.buf.split_to(len).freeze()),
                Ok(None) => self.fill().await?,
                Err(e) => return Err(format!("bad SNAP body: {e}")),
            }
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let at = self.buf.len();
        self.buf.resize(at + READ_CHUNK, 0);
        let n = self.reader.read(&mut self.buf[at..]).await;
        match n {
            Ok(0) => {
                self.buf.truncate(at);
                Err("connection closed by the peer".into())
            }
            Ok(n) => {
                self.buf.truncate(at + n);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(at);
                Err(format!("read failed: {e}"))
            }
        }
    }
}

/// The sending half: packets (and raw bytes, for a SNAP body) queued in order and
/// written by one task. Unbounded, as Java's per-learner queues are; the leader closes
/// a learner that stops acknowledging.
pub struct PacketSink {
    queue: RefCell<VecDeque<Bytes>>,
    ready: Signal,
    closed: Cell<bool>,
}

impl PacketSink {
    pub fn send(&self, p: &QuorumPacket) {
        self.send_raw(p.to_bytes());
    }

    pub fn send_raw(&self, bytes: Bytes) {
        if self.closed.get() {
            return;
        }
        self.queue.borrow_mut().push_back(bytes);
        self.ready.raise();
    }

    /// Closes the connection after what is queued is written.
    pub fn close(&self) {
        self.closed.set(true);
        self.ready.raise();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

/// Splits `stream` into its reader and a sink whose writer task runs until the sink is
/// closed or a write fails (then the stream's write half is shut down, which the
/// peer's reader sees).
pub fn open(stream: TcpStream) -> (PacketReader, Rc<PacketSink>) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = futures_lite::io::split(stream);
    let sink = Rc::new(PacketSink {
        queue: RefCell::new(VecDeque::new()),
        ready: Signal::default(),
        closed: Cell::new(false),
    });
    glommio::spawn_local(write_loop(sink.clone(), writer)).detach();
    (
        PacketReader {
            reader,
            buf: BytesMut::with_capacity(READ_CHUNK),
        },
        sink,
    )
}

/// Packets queued together leave in one socket write up to this many bytes: a batch's
/// PROPOSALs (or ACKs, or COMMITs) cost one send, not one send and one reactor turn
/// each, which is what bounded an ensemble's write latency.
const COALESCE_BYTES: usize = 256 * 1024;

/// Takes what is queued: one packet as it is, or several joined into one buffer.
fn take_queued(queue: &mut VecDeque<Bytes>) -> Option<Bytes> {
    let first = queue.pop_front()?;
    if queue.is_empty() || first.len() >= COALESCE_BYTES {
        return Some(first);
    }
    let mut joined = BytesMut::with_capacity(COALESCE_BYTES.min(first.len() * (queue.len() + 1)));
    joined.extend_from_slice(&first);
    while let Some(next) = queue.front() {
        if joined.len() + next.len() > COALESCE_BYTES {
            break;
        }
        joined.extend_from_slice(next);
        queue.pop_front();
    }
    Some(joined.freeze())
}

async fn write_loop(sink: Rc<PacketSink>, mut writer: WriteHalf<TcpStream>) {
    loop {
        let next = take_queued(&mut sink.queue.borrow_mut());
        match next {
            Some(bytes) => {
                if let Err(e) = writer.write_all(&bytes).await {
                    tracing::info!("quorum port: write failed: {e}");
                    sink.closed.set(true);
                    sink.queue.borrow_mut().clear();
                    break;
                }
            }
            None if sink.closed.get() => break,
            None => {
                let _ = writer.flush().await;
                sink.ready.wait().await;
            }
        }
    }
    let _ = writer.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_packets_leave_joined_in_order_up_to_the_bound() {
        let mut q: VecDeque<Bytes> = ["ab", "cd", "ef"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        assert_eq!(take_queued(&mut q).as_deref(), Some(&b"abcdef"[..]));
        assert!(take_queued(&mut q).is_none());

        // A packet that would pass the bound waits for the next write.
        let big = Bytes::from(vec![7u8; COALESCE_BYTES - 1]);
        let mut q: VecDeque<Bytes> = [
            Bytes::from_static(b"x"),
            big.clone(),
            Bytes::from_static(b"y"),
        ]
        .into_iter()
        .collect();
        let first = take_queued(&mut q).unwrap_or_default();
        assert_eq!(first.len(), COALESCE_BYTES);
        assert_eq!(take_queued(&mut q).as_deref(), Some(&b"y"[..]));
    }
}

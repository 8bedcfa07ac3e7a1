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

use crate::server::peer_tls::PeerStream;
use bytes::{Bytes, BytesMut};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::server::signal::Signal;
use crate::storage::zk::SnapBodyScanner;
use crate::zab::wire::quorum_packet::{QuorumPacket, DEFAULT_MAX_BUFFER_LEN};
use crate::zab::wire::Decoded;

/// How many bytes one read asks for.
const READ_CHUNK: usize = 64 << 10;

/// The reading half of a quorum-port connection.
pub struct PacketReader {
    reader: ReadHalf<PeerStream>,
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

/// What the writer task sends next: bytes, or a stream of chunks produced elsewhere
/// (a SNAP body written on a thread of its own) that must all leave before anything
/// queued after it.
enum Queued {
    Bytes(Bytes),
    Stream(async_channel::Receiver<StreamChunk>),
}

/// One message of a stream handed to `PacketSink::send_stream`.
pub enum StreamChunk {
    Bytes(Bytes),
    /// Everything was sent; what is queued after the stream goes next.
    Done,
    /// The producer failed: the connection is closed (the learner cannot use half a
    /// body), with this reason in the log.
    Failed(String),
}

/// The sending half: packets (and raw bytes, for a SNAP body) queued in order and
/// written by one task. Unbounded, as Java's per-learner queues are; the leader closes
/// a learner that stops acknowledging. A stream's producer is the one bounded part:
/// it waits while its channel is full.
pub struct PacketSink {
    queue: RefCell<VecDeque<Queued>>,
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
        self.queue.borrow_mut().push_back(Queued::Bytes(bytes));
        self.ready.raise();
    }

    /// Queues a stream: the writer sends its chunks as they arrive, and what is sent
    /// after this call waits until the stream's `Done`. Dropping the receiver (the
    /// connection ended) makes the producer's sends fail, which stops it.
    pub fn send_stream(&self, chunks: async_channel::Receiver<StreamChunk>) {
        if self.closed.get() {
            return;
        }
        self.queue.borrow_mut().push_back(Queued::Stream(chunks));
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
pub fn open(stream: PeerStream) -> (PacketReader, Rc<PacketSink>) {
    stream.set_nodelay(true);
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

/// Takes what is queued: one packet or stream as it is, or several packets joined into
/// one buffer (never across a stream).
fn take_queued(queue: &mut VecDeque<Queued>) -> Option<Queued> {
    let first = match queue.pop_front()? {
        Queued::Bytes(b) => b,
        stream => return Some(stream),
    };
    let joinable = |q: &VecDeque<Queued>| match q.front() {
        Some(Queued::Bytes(b)) => Some(b.len()),
        _ => None,
    };
    if joinable(queue).is_none() || first.len() >= COALESCE_BYTES {
        return Some(Queued::Bytes(first));
    }
    let mut joined = BytesMut::with_capacity(COALESCE_BYTES.min(first.len() * (queue.len() + 1)));
    joined.extend_from_slice(&first);
    while let Some(len) = joinable(queue) {
        if joined.len() + len > COALESCE_BYTES {
            break;
        }
        if let Some(Queued::Bytes(next)) = queue.pop_front() {
            joined.extend_from_slice(&next);
        }
    }
    Some(Queued::Bytes(joined.freeze()))
}

/// Writes a stream's chunks as they come; an error says why the connection must end.
/// A sink closed meanwhile ends it at once: nothing can follow half a body, and
/// dropping the receiver stops its producer.
async fn write_stream(
    sink: &PacketSink,
    writer: &mut WriteHalf<PeerStream>,
    chunks: async_channel::Receiver<StreamChunk>,
) -> Result<(), String> {
    loop {
        if sink.closed.get() {
            return Err("closed while a stream was being sent".into());
        }
        match chunks.recv().await {
            Ok(StreamChunk::Bytes(b)) => writer
                .write_all(&b)
                .await
                .map_err(|e| format!("write failed: {e}"))?,
            Ok(StreamChunk::Done) => return Ok(()),
            Ok(StreamChunk::Failed(why)) => return Err(why),
            Err(_) => return Err("the stream's producer stopped before its end".into()),
        }
    }
}

async fn write_loop(sink: Rc<PacketSink>, mut writer: WriteHalf<PeerStream>) {
    loop {
        let next = take_queued(&mut sink.queue.borrow_mut());
        let written = match next {
            Some(Queued::Bytes(bytes)) => writer
                .write_all(&bytes)
                .await
                .map_err(|e| format!("write failed: {e}")),
            Some(Queued::Stream(chunks)) => write_stream(&sink, &mut writer, chunks).await,
            None if sink.closed.get() => break,
            None => {
                let _ = writer.flush().await;
                sink.ready.wait().await;
                Ok(())
            }
        };
        if let Err(e) = written {
            tracing::info!("quorum port: {e}; closing the connection");
            sink.closed.set(true);
            sink.queue.borrow_mut().clear();
            break;
        }
    }
    let _ = writer.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(items: &[&'static [u8]]) -> VecDeque<Queued> {
        items
            .iter()
            .map(|b| Queued::Bytes(Bytes::from_static(b)))
            .collect()
    }

    /// The bytes of a taken packet; `None` for nothing queued or a stream.
    fn bytes(q: &mut VecDeque<Queued>) -> Option<Bytes> {
        match take_queued(q)? {
            Queued::Bytes(b) => Some(b),
            Queued::Stream(_) => None,
        }
    }

    #[test]
    fn queued_packets_leave_joined_in_order_up_to_the_bound() {
        let mut q = packets(&[b"ab", b"cd", b"ef"]);
        assert_eq!(bytes(&mut q).as_deref(), Some(&b"abcdef"[..]));
        assert!(take_queued(&mut q).is_none());

        // A packet that would pass the bound waits for the next write.
        let mut q = packets(&[b"x"]);
        q.push_back(Queued::Bytes(Bytes::from(vec![7u8; COALESCE_BYTES - 1])));
        q.push_back(Queued::Bytes(Bytes::from_static(b"y")));
        let first = bytes(&mut q).unwrap_or_default();
        assert_eq!(first.len(), COALESCE_BYTES);
        assert_eq!(bytes(&mut q).as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn packets_queued_after_a_stream_are_not_joined_before_it() {
        let (_tx, rx) = async_channel::bounded(1);
        let mut q = packets(&[b"snap"]);
        q.push_back(Queued::Stream(rx));
        q.push_back(Queued::Bytes(Bytes::from_static(b"newleader")));
        assert_eq!(bytes(&mut q).as_deref(), Some(&b"snap"[..]));
        assert!(matches!(take_queued(&mut q), Some(Queued::Stream(_))));
        assert_eq!(bytes(&mut q).as_deref(), Some(&b"newleader"[..]));
    }
}

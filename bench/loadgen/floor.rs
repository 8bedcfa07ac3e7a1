//! The floor server: a measuring instrument, not a ZooKeeper server. It answers the
//! handshake, getData, exists and ping at once with fixed replies (no tree, no
//! sessions), from one blocking thread per connection; create with NODEEXISTS and
//! getChildren with NONODE, so the load generator's setup and cleanup pass; setData,
//! given a sync file, with one write of the request and one fdatasync of that file
//! (no batching); everything else with UNIMPLEMENTED.
//!
//! Run under the same unloaded `ringkeeper bench` workloads as the real servers, it
//! shows what this machine's kernel, scheduler, disk and load generator cost by
//! themselves: an unloaded request to a real server cannot be much faster. It is no
//! bound on throughput (a thread per connection is not how to serve load).
//! `bench/compare --floor` puts it beside ZooKeeper and ringkeeper.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use ringkeeper::proto::codec::{Decode, Reader};
use ringkeeper::proto::{
    ConnectRequest, ConnectResponse, ErrorCode, GetDataResponse, OpCode, Stat,
};
use ringkeeper::server::frame_out::{self, EncodeDyn};

/// Larger frames are refused (closes the connection): the instrument serves reads.
const MAX_FRAME: usize = 1 << 20;

/// Size of the sync file; writes wrap around inside it, so no write extends the file
/// (an fdatasync then flushes data only, as in a preallocated txn log).
const SYNC_FILE_BYTES: u64 = 64 << 20;

/// Where setData requests are written and fdatasync'd.
struct SyncFile {
    file: File,
    next: AtomicU64,
}

impl SyncFile {
    fn create(path: &Path) -> io::Result<SyncFile> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        // Written blocks, not a sparse or unwritten range, as ringkeeper's spare log
        // segments get: later writes then change no metadata.
        ringkeeper::storage::write_zeros(&file, path, SYNC_FILE_BYTES).map_err(io::Error::other)?;
        file.sync_all()?;
        Ok(SyncFile {
            file,
            next: AtomicU64::new(0),
        })
    }

    fn write_and_sync(&self, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        let at = self.next.fetch_add(len, Ordering::Relaxed)
            % (SYNC_FILE_BYTES - len.min(SYNC_FILE_BYTES));
        self.file.write_all_at(bytes, at)?;
        self.file.sync_data()
    }
}

/// Listens on `addr` and serves until the process is killed.
pub fn serve(addr: SocketAddr, value_size: usize, sync_file: Option<&Path>) -> io::Result<()> {
    serve_on(TcpListener::bind(addr)?, value_size, sync_file)
}

/// Serves on `listener` until the process ends.
pub fn serve_on(
    listener: TcpListener,
    value_size: usize,
    sync_file: Option<&Path>,
) -> io::Result<()> {
    let sync = sync_file.map(SyncFile::create).transpose()?.map(Arc::new);
    let addr = listener.local_addr()?;
    tracing::info!(
        "floor server on {addr} (getData: {value_size} bytes; setData: {})",
        sync_file.map_or("unimplemented".into(), |p| format!(
            "write + fdatasync of {}",
            p.display()
        ))
    );
    let value = Bytes::from(vec![b'v'; value_size]);
    let mut next_session = 1i64;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("floor server: accept failed: {e}");
                continue;
            }
        };
        let (session, value, sync) = (next_session, value.clone(), sync.clone());
        next_session += 1;
        std::thread::spawn(move || {
            if let Err(e) = serve_conn(stream, session, &value, sync.as_deref()) {
                tracing::debug!("floor server: connection ended: {e}");
            }
        });
    }
    Ok(())
}

fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = i32::from_be_bytes(len);
    let n = usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("frame length {n}")))?;
    buf.resize(n, 0);
    s.read_exact(buf)?;
    Ok(Bytes::copy_from_slice(buf))
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn serve_conn(
    mut s: TcpStream,
    session: i64,
    value: &Bytes,
    sync: Option<&SyncFile>,
) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = Vec::new();
    let req =
        ConnectRequest::decode(&mut Reader::new(read_frame(&mut s, &mut buf)?)).map_err(bad)?;
    s.write_all(&frame_out::bare(&ConnectResponse {
        protocol_version: 0,
        timeout_ms: req.timeout_ms,
        session_id: session,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: req.read_only.map(|_| false),
    }))?;
    loop {
        let frame = read_frame(&mut s, &mut buf)?;
        let mut r = Reader::new(frame.clone());
        let xid = r.read_i32().map_err(bad)?;
        let op = OpCode::from_i32(r.read_i32().map_err(bad)?);
        let err = match (op, sync) {
            (Some(OpCode::SetData), Some(f)) => {
                f.write_and_sync(&frame)?;
                ErrorCode::Ok
            }
            (Some(OpCode::GetData | OpCode::Exists | OpCode::Ping | OpCode::CloseSession), _) => {
                ErrorCode::Ok
            }
            (Some(OpCode::Create | OpCode::Create2), _) => ErrorCode::NodeExists,
            (Some(OpCode::GetChildren | OpCode::GetChildren2), _) => ErrorCode::NoNode,
            _ => ErrorCode::Unimplemented,
        };
        // There are no nodes to describe: every stat is zeros.
        let stat = Stat::default();
        let data = GetDataResponse {
            data: Some(value.clone()),
            stat: Stat::default(),
        };
        let body: Option<&dyn EncodeDyn> = match op {
            Some(OpCode::GetData) => Some(&data),
            Some(OpCode::Exists | OpCode::SetData) => Some(&stat),
            _ => None,
        };
        s.write_all(&frame_out::reply(xid, 1, err as i32, body))?;
        if op == Some(OpCode::CloseSession) || err == ErrorCode::Unimplemented {
            return Ok(());
        }
    }
}

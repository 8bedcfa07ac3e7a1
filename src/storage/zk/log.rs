//! ZooKeeper 3.8 txn log reader (`log.<hex zxid>`). Layout in the parent module's
//! docs.

use std::path::Path;

use bytes::Bytes;

use super::adler::adler32;
use super::ZkError;
use crate::proto::codec::{Decode, Reader};
use crate::txn::{Txn, TxnHeader};

/// `"ZKLG"` read as a big-endian int (`FileTxnLog.TXNLOG_MAGIC`).
pub const LOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// `FileTxnLog.VERSION`.
pub const LOG_VERSION: i32 = 2;
/// `FileHeader`: int magic, int version, long dbid.
pub const LOG_HEADER_BYTES: usize = 16;
/// The end-of-record byte `Util.writeTxnBytes` writes after each txn ('B').
pub const END_OF_RECORD: u8 = 0x42;
/// jute `TxnDigest`: int version, long treeDigest.
const TXN_DIGEST_BYTES: usize = 4 + 8;

/// One txn from a ZooKeeper log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkRecord {
    /// Offset of the record's checksum in the file.
    pub offset: u64,
    pub hdr: TxnHeader,
    pub txn: Txn,
    /// `TxnDigest` (version, tree digest) when ZooKeeper wrote one.
    pub digest: Option<(i32, i64)>,
}

/// How a log file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// End of file, or a zero length (ZooKeeper's preallocation padding) at `offset`.
    Clean { offset: u64 },
    /// A partial record at `offset` (file ends inside it, or no 'B' after it): what
    /// `FileTxnIterator.next` takes as the end of this file.
    Torn { offset: u64, reason: String },
}

/// A ZooKeeper txn log, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkLog {
    pub dbid: i64,
    pub records: Vec<ZkRecord>,
    pub end: LogEnd,
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> ZkError {
    ZkError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at + 4)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(i64::from_be_bytes(a))
}

/// Reads the ZooKeeper txn log held in `bytes` (the contents of `path`, named for
/// errors). A partial last record ends the file (`LogEnd::Torn`); a complete record
/// (length, bytes and the 'B') whose Adler-32 does not match, or that does not decode,
/// is an error, as in ZooKeeper.
pub fn read_log_bytes(path: &Path, bytes: Bytes) -> Result<ZkLog, ZkError> {
    let b: &[u8] = &bytes;
    if b.len() < LOG_HEADER_BYTES {
        return Err(corrupt(
            path,
            0,
            format!("file is {} bytes, shorter than the 16-byte header", b.len()),
        ));
    }
    let magic = be_i32(b, 0).unwrap_or_default();
    if magic != LOG_MAGIC {
        return Err(corrupt(
            path,
            0,
            format!("magic {magic:#010x} is not \"ZKLG\""),
        ));
    }
    let version = be_i32(b, 4).unwrap_or_default();
    if version != LOG_VERSION {
        return Err(corrupt(
            path,
            4,
            format!("log version {version}, expected 2"),
        ));
    }
    let dbid = be_i64(b, 8).unwrap_or_default();
    let mut records = Vec::new();
    let mut pos = LOG_HEADER_BYTES;
    let torn = |offset: usize, reason: &str| LogEnd::Torn {
        offset: offset as u64,
        reason: reason.to_owned(),
    };
    let end = loop {
        if pos == b.len() {
            break LogEnd::Clean { offset: pos as u64 };
        }
        // long checksum; int len; byte[len]; byte 'B'
        let Some(stored) = be_i64(b, pos) else {
            break torn(pos, "file ends inside the checksum");
        };
        let Some(len) = be_i32(b, pos + 8) else {
            break torn(pos, "file ends inside the length");
        };
        if len == 0 {
            // Util.readTxnBytes: "Since we preallocate, we define EOF to be an empty
            // transaction".
            break LogEnd::Clean { offset: pos as u64 };
        }
        if len < 0 {
            return Err(corrupt(
                path,
                pos + 8,
                format!("negative record length {len}"),
            ));
        }
        let start = pos + 12;
        let end = start + len as usize;
        let Some(txn_bytes) = b.get(start..end) else {
            break torn(pos, "file ends inside the txn bytes");
        };
        match b.get(end) {
            None => break torn(pos, "file ends before the end-of-record byte"),
            Some(&END_OF_RECORD) => {}
            Some(&other) => {
                // ZooKeeper: "Last transaction was partial." — the end of this file.
                break torn(
                    pos,
                    &format!("end-of-record byte is {other:#04x}, not 0x42"),
                );
            }
        }
        let computed = i64::from(adler32(txn_bytes));
        if stored != computed {
            return Err(corrupt(
                path,
                pos,
                format!(
                    "Adler32 mismatch: stored {stored:#x}, computed {computed:#x} over the {len} txn bytes"
                ),
            ));
        }
        records.push(decode_record(path, pos, bytes.slice(start..end))?);
        pos = end + 1;
    };
    Ok(ZkLog { dbid, records, end })
}

/// `SerializeUtils.deserializeTxn`: TxnHeader, the body its type names, then an
/// optional TxnDigest.
fn decode_record(path: &Path, offset: usize, txn_bytes: Bytes) -> Result<ZkRecord, ZkError> {
    let mut r = Reader::new(txn_bytes);
    let bad = |e: crate::proto::codec::DecodeError| {
        corrupt(path, offset, format!("txn does not decode: {e} (offsets within the txn, which starts 12 bytes after the record)"))
    };
    let hdr = TxnHeader::decode(&mut r).map_err(bad)?;
    let txn = Txn::decode_body(hdr.op, &mut r).map_err(bad)?;
    let digest = match r.remaining() {
        0 => None,
        TXN_DIGEST_BYTES => Some((r.read_i32().map_err(bad)?, r.read_i64().map_err(bad)?)),
        n => {
            return Err(corrupt(
                path,
                offset,
                format!(
                    "{n} bytes after the txn body of zxid {:#x} (a TxnDigest is 12)",
                    hdr.zxid
                ),
            ))
        }
    };
    Ok(ZkRecord {
        offset: offset as u64,
        hdr,
        txn,
        digest,
    })
}

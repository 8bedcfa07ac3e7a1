//! The SNAP body on a quorum connection (reference §4.5): after a SNAP packet the
//! leader writes its database in the snapshot serialization (sessions, ACL cache,
//! nodes, the end path "/"; no file header, no checksum) and then the string
//! `"BenWasHere"`. The quorum port is one unframed jute stream, so a learner must find
//! where the body ends before it can read the next packet.
//!
//! [`SnapBodyScanner`] does that: fed the bytes received so far, it walks the body's
//! length prefixes without building anything, remembers how far it got, and says when
//! the whole body (signature included) is there and how long it is. Every length is
//! bounded before its bytes are awaited, so a peer cannot make it wait for, or
//! allocate, more than [`MAX_ITEM_LEN`] per item. [`read_snap_body`] then reads the
//! complete body into a tree.

use std::path::Path;

use bytes::Bytes;

use super::snap::{read_body_from, SnapBody};
use super::ZkError;
use crate::proto::codec::{Decode, Reader};

/// The signature after the body (`LearnerHandler`: `oa.writeString("BenWasHere", "signature")`).
pub const SIGNATURE: &str = "BenWasHere";
/// The most bytes one length-prefixed item (a path, a node's data, an ACL string) may
/// claim: ZooKeeper's `jute.maxbuffer` default is under 1 MiB; this leaves room for
/// servers that raise it, and stops a garbage length from stalling the learner.
pub const MAX_ITEM_LEN: usize = 64 << 20;
/// The most sessions or ACL lists a body may announce.
const MAX_COUNT: i32 = 1 << 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    SessionCount,
    Sessions { left: i32 },
    AclCount,
    Acls { left: i32 },
    Nodes,
    Signature,
    Done,
}

/// Finds the end of a SNAP body in a growing buffer (see the module docs).
#[derive(Debug, Clone)]
pub struct SnapBodyScanner {
    stage: Stage,
    /// Offset of the first item not yet scanned.
    at: usize,
    nodes: u64,
}

impl Default for SnapBodyScanner {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a SNAP body is not acceptable.
fn bad(at: usize, reason: impl Into<String>) -> ZkError {
    ZkError::Corrupt {
        path: "SNAP body".into(),
        offset: at as u64,
        reason: reason.into(),
    }
}

fn i32_at(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at + 4)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The length of a jute ustring or buffer at `at` (its 4-byte prefix included), if
/// the prefix is there; −1 (null) counts as 4 bytes.
fn prefixed_len(buf: &[u8], at: usize) -> Result<Option<usize>, ZkError> {
    let Some(n) = i32_at(buf, at) else {
        return Ok(None);
    };
    if n < -1 || n as i64 > MAX_ITEM_LEN as i64 {
        return Err(bad(at, format!("length {n}")));
    }
    Ok(Some(4 + n.max(0) as usize))
}

impl SnapBodyScanner {
    pub fn new() -> Self {
        SnapBodyScanner {
            stage: Stage::SessionCount,
            at: 0,
            nodes: 0,
        }
    }

    /// Scans `buf` (every byte received since the SNAP packet, the same prefix each
    /// call, growing). `Ok(Some(len))`: the body and its signature are the first `len`
    /// bytes. `Ok(None)`: more bytes are needed. An error: the body is malformed.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ZkError> {
        loop {
            let at = self.at;
            match self.stage {
                Stage::SessionCount | Stage::AclCount => {
                    let Some(n) = i32_at(buf, at) else {
                        return Ok(None);
                    };
                    if !(0..=MAX_COUNT).contains(&n) {
                        return Err(bad(at, format!("count {n}")));
                    }
                    self.at += 4;
                    self.stage = if self.stage == Stage::SessionCount {
                        Stage::Sessions { left: n }
                    } else {
                        Stage::Acls { left: n }
                    };
                }
                Stage::Sessions { left: 0 } => self.stage = Stage::AclCount,
                Stage::Sessions { left } => {
                    if buf.len() < at + 12 {
                        return Ok(None);
                    }
                    self.at += 12;
                    self.stage = Stage::Sessions { left: left - 1 };
                }
                Stage::Acls { left: 0 } => self.stage = Stage::Nodes,
                Stage::Acls { left } => {
                    // long ref; vector<ACL{int perms; ustring scheme; ustring id}>
                    let Some(count) = i32_at(buf, at + 8) else {
                        return Ok(None);
                    };
                    if !(0..=MAX_COUNT).contains(&count) {
                        return Err(bad(at + 8, format!("ACL list of {count} entries")));
                    }
                    let mut end = at + 12;
                    for _ in 0..count {
                        end += 4;
                        for _ in 0..2 {
                            let Some(n) = prefixed_len(buf, end)? else {
                                return Ok(None);
                            };
                            end += n;
                        }
                    }
                    if buf.len() < end {
                        return Ok(None);
                    }
                    self.at = end;
                    self.stage = Stage::Acls { left: left - 1 };
                }
                Stage::Nodes => {
                    let Some(path_len) = prefixed_len(buf, at)? else {
                        return Ok(None);
                    };
                    if buf.len() < at + path_len {
                        return Ok(None);
                    }
                    if &buf[at + 4..at + path_len] == b"/" {
                        self.at += path_len;
                        self.stage = Stage::Signature;
                        continue;
                    }
                    let data_at = at + path_len;
                    let Some(data_len) = prefixed_len(buf, data_at)? else {
                        return Ok(None);
                    };
                    // long aclRef; StatPersisted (4 longs, 3 ints, 2 longs).
                    let end = data_at + data_len + 8 + 60;
                    if buf.len() < end {
                        return Ok(None);
                    }
                    self.at = end;
                    self.nodes += 1;
                }
                Stage::Signature => {
                    let Some(n) = prefixed_len(buf, at)? else {
                        return Ok(None);
                    };
                    if buf.len() < at + n {
                        return Ok(None);
                    }
                    if &buf[at + 4..at + n] != SIGNATURE.as_bytes() {
                        return Err(bad(
                            at,
                            format!(
                                "missing signature: got {:?}",
                                String::from_utf8_lossy(&buf[at + 4..at + n])
                            ),
                        ));
                    }
                    self.at += n;
                    self.stage = Stage::Done;
                }
                Stage::Done => return Ok(Some(self.at)),
            }
        }
    }

    /// Nodes scanned so far (progress for a log line on a large sync).
    pub fn nodes(&self) -> u64 {
        self.nodes
    }
}

/// Reads a complete SNAP body (`len` bytes as the scanner found them, signature
/// included) into a tree built with `extended_types`.
pub fn read_snap_body(bytes: Bytes, extended_types: bool) -> Result<SnapBody, ZkError> {
    let mut r = Reader::new(bytes);
    let body = read_body_from(Path::new("SNAP body"), &mut r, extended_types)?;
    let at = r.offset();
    let sig = String::decode(&mut r).map_err(|e| bad(at, format!("signature: {e}")))?;
    if sig != SIGNATURE {
        return Err(bad(at, format!("missing signature: got {sig:?}")));
    }
    if r.remaining() != 0 {
        return Err(bad(
            r.offset(),
            format!("{} bytes after the signature", r.remaining()),
        ));
    }
    Ok(body)
}

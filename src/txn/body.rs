//! `Txn`: one txn body of any type, the unit the quorum core logs, proposes and sends
//! to every replica. Clone is cheap (data is `Bytes`); the enum is `Send`.
//!
//! The header's `op` names the body type; `encode`/`decode_body` write and read the
//! body as ZooKeeper does, a multi as jute `MultiTxn` (each sub-txn a `Txn{type,
//! buffer}`).

use bytes::{BufMut, BytesMut};

use super::records::*;
use crate::proto::codec::{Decode, DecodeError, Encode, Reader};
use crate::proto::{ErrorCode, OpCode};

/// A txn body; the variant is the header's op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    Create(CreateTxn),
    Create2(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    Delete(DeleteTxn),
    DeleteContainer(DeleteTxn),
    SetData(SetDataTxn),
    /// reconfig (16): applied as a setData of `/zookeeper/config`.
    Reconfig(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    Error(ErrorTxn),
    /// jute `MultiTxn`: the sub-txns of one multi, all with the multi's zxid.
    Multi(Vec<Txn>),
}

impl Txn {
    /// An error txn for a failed write.
    pub fn error(code: ErrorCode) -> Txn {
        Txn::Error(ErrorTxn { err: code.code() })
    }

    /// The header `op` for this body.
    pub fn op_code(&self) -> OpCode {
        match self {
            Txn::Create(_) => OpCode::Create,
            Txn::Create2(_) => OpCode::Create2,
            Txn::CreateContainer(_) => OpCode::CreateContainer,
            Txn::CreateTtl(_) => OpCode::CreateTtl,
            Txn::Delete(_) => OpCode::Delete,
            Txn::DeleteContainer(_) => OpCode::DeleteContainer,
            Txn::SetData(_) => OpCode::SetData,
            Txn::Reconfig(_) => OpCode::Reconfig,
            Txn::SetAcl(_) => OpCode::SetAcl,
            Txn::Check(_) => OpCode::Check,
            Txn::CreateSession(_) => OpCode::CreateSession,
            Txn::CloseSession(_) => OpCode::CloseSession,
            Txn::Error(_) => OpCode::Error,
            Txn::Multi(_) => OpCode::Multi,
        }
    }

    /// Reads the body of a txn whose header says `op`. A closeSession or
    /// createSession body may be absent (older ZooKeeper logs): read as empty.
    pub fn decode_body(op: i32, r: &mut Reader) -> Result<Txn, DecodeError> {
        let unknown = DecodeError::UnknownValue {
            what: "txn type",
            value: op,
        };
        let op = OpCode::from_i32(op).ok_or(unknown.clone())?;
        Ok(match op {
            OpCode::Create => Txn::Create(CreateTxn::decode(r)?),
            OpCode::Create2 => Txn::Create2(CreateTxn::decode(r)?),
            OpCode::CreateContainer => Txn::CreateContainer(CreateContainerTxn::decode(r)?),
            OpCode::CreateTtl => Txn::CreateTtl(CreateTtlTxn::decode(r)?),
            OpCode::Delete => Txn::Delete(DeleteTxn::decode(r)?),
            OpCode::DeleteContainer => Txn::DeleteContainer(DeleteTxn::decode(r)?),
            OpCode::SetData => Txn::SetData(SetDataTxn::decode(r)?),
            OpCode::Reconfig => Txn::Reconfig(SetDataTxn::decode(r)?),
            OpCode::SetAcl => Txn::SetAcl(SetAclTxn::decode(r)?),
            OpCode::Check => Txn::Check(CheckVersionTxn::decode(r)?),
            OpCode::CreateSession if r.remaining() == 0 => {
                Txn::CreateSession(CreateSessionTxn::default())
            }
            OpCode::CreateSession => Txn::CreateSession(CreateSessionTxn::decode(r)?),
            OpCode::CloseSession if r.remaining() == 0 => {
                Txn::CloseSession(CloseSessionTxn::default())
            }
            OpCode::CloseSession => Txn::CloseSession(CloseSessionTxn::decode(r)?),
            OpCode::Error => Txn::Error(ErrorTxn::decode(r)?),
            OpCode::Multi => Txn::Multi(decode_multi(r)?),
            _ => return Err(unknown),
        })
    }
}

/// Sub-txn types `DataTree.processTxn` accepts inside a multi.
fn allowed_in_multi(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::Error
            | OpCode::Check
    )
}

fn decode_multi(r: &mut Reader) -> Result<Vec<Txn>, DecodeError> {
    let offset = r.offset();
    let count = r.read_i32()?;
    if count == -1 {
        return Ok(Vec::new());
    }
    if count < 0 {
        return Err(DecodeError::NegativeLength { offset, len: count });
    }
    // Each sub-txn takes at least 8 bytes (type + buffer length).
    if count as usize > r.remaining() / 8 {
        return Err(DecodeError::VectorTooLong {
            count,
            remaining: r.remaining(),
        });
    }
    let mut txns = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let op = r.read_i32()?;
        if !OpCode::from_i32(op).is_some_and(allowed_in_multi) {
            return Err(DecodeError::UnknownValue {
                what: "multi sub-txn type",
                value: op,
            });
        }
        let body = r.read_buffer()?.unwrap_or_default();
        let mut sub = Reader::new(body);
        let txn = Txn::decode_body(op, &mut sub)?;
        // A Java leader that applied a failed multi turned its sub-txns into errors in
        // place (`DataTree.processTxn` sets the type and keeps the body), so its
        // committed log, which DIFF sends, has error sub-txns holding a create's or
        // setData's bytes; ZooKeeper reads the error code and ignores the rest.
        if op != OpCode::Error as i32 {
            sub.finish()?;
        }
        txns.push(txn);
    }
    Ok(txns)
}

impl Encode for Txn {
    /// The body only; the header's `op` is `op_code()`.
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Txn::Create(t) | Txn::Create2(t) => t.encode(out),
            Txn::CreateContainer(t) => t.encode(out),
            Txn::CreateTtl(t) => t.encode(out),
            Txn::Delete(t) | Txn::DeleteContainer(t) => t.encode(out),
            Txn::SetData(t) | Txn::Reconfig(t) => t.encode(out),
            Txn::SetAcl(t) => t.encode(out),
            Txn::Check(t) => t.encode(out),
            Txn::CreateSession(t) => t.encode(out),
            Txn::CloseSession(t) => t.encode(out),
            Txn::Error(t) => t.encode(out),
            Txn::Multi(txns) => {
                out.put_i32(txns.len() as i32);
                for t in txns {
                    out.put_i32(t.op_code() as i32);
                    let body = t.to_bytes();
                    out.put_i32(body.len() as i32);
                    out.put_slice(&body);
                }
            }
        }
    }
}

//! `MultiOperationRecord` (ops multi 14 and multiRead 22) and `MultiResponse`.
//!
//! Each op is a `MultiHeader` followed by the op's own request record; the list ends with
//! a header whose `done` is true. An op type that cannot appear in a multi fails the
//! decode (ZooKeeper answers MARSHALLINGERROR).

use bytes::{BufMut, BytesMut};

use super::codec::{Decode, DecodeError, Encode, Reader};
use super::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, MultiHeader, OpCode, SetDataRequest, SetDataResponse,
};

/// Upper bound on ops in one multi: a bound on work per request, far above real use
/// (the frame size bounds it too).
pub const MULTI_OPS_MAX: usize = 100_000;

/// One op inside a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): `op` says which.
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { req, .. } => &req.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

/// jute `MultiOperationRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Decode for MultiRequest {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                break;
            }
            if ops.len() >= MULTI_OPS_MAX {
                return Err(DecodeError::UnknownValue {
                    what: "multi op count beyond",
                    value: MULTI_OPS_MAX as i32,
                });
            }
            let op = match OpCode::from_i32(h.op) {
                Some(op @ (OpCode::Create | OpCode::Create2 | OpCode::CreateContainer)) => {
                    MultiOp::Create {
                        op,
                        req: CreateRequest::decode(r)?,
                    }
                }
                Some(OpCode::CreateTtl) => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
                Some(OpCode::Delete) => MultiOp::Delete(DeleteRequest::decode(r)?),
                Some(OpCode::SetData) => MultiOp::SetData(SetDataRequest::decode(r)?),
                Some(OpCode::Check) => MultiOp::Check(CheckVersionRequest::decode(r)?),
                Some(OpCode::GetChildren) => MultiOp::GetChildren(GetChildrenRequest::decode(r)?),
                Some(OpCode::GetData) => MultiOp::GetData(GetDataRequest::decode(r)?),
                _ => {
                    return Err(DecodeError::UnknownValue {
                        what: "multi op type",
                        value: h.op,
                    })
                }
            };
            ops.push(op);
        }
        Ok(MultiRequest { ops })
    }
}

impl Encode for MultiRequest {
    fn encode(&self, out: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                op: op.op_code() as i32,
                done: false,
                err: -1,
            }
            .encode(out);
            match op {
                MultiOp::Create { req, .. } => req.encode(out),
                MultiOp::CreateTtl(r) => r.encode(out),
                MultiOp::Delete(r) => r.encode(out),
                MultiOp::SetData(r) => r.encode(out),
                MultiOp::Check(r) => r.encode(out),
                MultiOp::GetChildren(r) => r.encode(out),
                MultiOp::GetData(r) => r.encode(out),
            }
        }
        MultiHeader::end().encode(out);
    }
}

/// The result of one op of a multi, as `MultiResponse` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create(CreateResponse),
    /// create2, createContainer and createTTL answer with the Stat too.
    Create2 {
        op: OpCode,
        resp: Create2Response,
    },
    Delete,
    SetData(SetDataResponse),
    Check,
    GetChildren(GetChildrenResponse),
    GetData(GetDataResponse),
    /// type −1: failed (its own code), or not applied because another op failed
    /// (0 before the failing op, −2 after it).
    Error(i32),
}

/// jute `MultiResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<OpResult>,
}

impl Encode for MultiResponse {
    fn encode(&self, out: &mut BytesMut) {
        for res in &self.results {
            let (op, err) = match res {
                OpResult::Create(_) => (OpCode::Create as i32, 0),
                OpResult::Create2 { op, .. } => (*op as i32, 0),
                OpResult::Delete => (OpCode::Delete as i32, 0),
                OpResult::SetData(_) => (OpCode::SetData as i32, 0),
                OpResult::Check => (OpCode::Check as i32, 0),
                OpResult::GetChildren(_) => (OpCode::GetChildren as i32, 0),
                OpResult::GetData(_) => (OpCode::GetData as i32, 0),
                OpResult::Error(e) => (-1, *e),
            };
            MultiHeader {
                op,
                done: false,
                err,
            }
            .encode(out);
            match res {
                OpResult::Create(r) => r.encode(out),
                OpResult::Create2 { resp, .. } => resp.encode(out),
                OpResult::Delete | OpResult::Check => {}
                OpResult::SetData(r) => r.encode(out),
                OpResult::GetChildren(r) => r.encode(out),
                OpResult::GetData(r) => r.encode(out),
                OpResult::Error(e) => ErrorResponse { err: *e }.encode(out),
            }
        }
        MultiHeader::end().encode(out);
    }
}

impl Decode for MultiResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                break;
            }
            let res = match h.op {
                -1 => OpResult::Error(ErrorResponse::decode(r)?.err),
                1 => OpResult::Create(CreateResponse::decode(r)?),
                2 => OpResult::Delete,
                5 => OpResult::SetData(SetDataResponse::decode(r)?),
                13 => OpResult::Check,
                8 => OpResult::GetChildren(GetChildrenResponse::decode(r)?),
                4 => OpResult::GetData(GetDataResponse::decode(r)?),
                v => match OpCode::from_i32(v) {
                    Some(op @ (OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl)) => {
                        OpResult::Create2 {
                            op,
                            resp: Create2Response::decode(r)?,
                        }
                    }
                    _ => {
                        return Err(DecodeError::UnknownValue {
                            what: "multi result type",
                            value: v,
                        })
                    }
                },
            };
            results.push(res);
        }
        Ok(MultiResponse { results })
    }
}

/// Appends a `MultiHeader` whose `done` flag ends an empty multi (for callers building
/// frames by hand in tests).
pub fn encode_end(out: &mut BytesMut) {
    out.put_i32(-1);
    out.put_u8(1);
    out.put_i32(-1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Acl;
    use bytes::Bytes;

    #[test]
    fn multi_request_round_trips() {
        let req = MultiRequest {
            ops: vec![
                MultiOp::Create {
                    op: OpCode::Create,
                    req: CreateRequest {
                        path: "/a".into(),
                        data: Some(Bytes::from_static(b"x")),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    },
                },
                MultiOp::SetData(SetDataRequest {
                    path: "/a".into(),
                    data: None,
                    version: -1,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 3,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/a".into(),
                    version: -1,
                }),
            ],
        };
        assert_eq!(MultiRequest::from_bytes(req.to_bytes()), Ok(req));
    }

    #[test]
    fn failed_multi_response_has_zxid_free_error_records() {
        let resp = MultiResponse {
            results: vec![
                OpResult::Error(0),
                OpResult::Error(-101),
                OpResult::Error(-2),
            ],
        };
        let bytes = resp.to_bytes();
        // 3 × (header 9 + ErrorResponse 4) + end header 9
        assert_eq!(bytes.len(), 3 * 13 + 9);
        assert_eq!(MultiResponse::from_bytes(bytes), Ok(resp));
    }

    #[test]
    fn unknown_op_in_multi_is_rejected() {
        let mut out = BytesMut::new();
        MultiHeader {
            op: 3,
            done: false,
            err: -1,
        }
        .encode(&mut out);
        crate::proto::ExistsRequest::default().encode(&mut out);
        encode_end(&mut out);
        assert!(matches!(
            MultiRequest::from_bytes(out.freeze()),
            Err(DecodeError::UnknownValue { value: 3, .. })
        ));
    }
}

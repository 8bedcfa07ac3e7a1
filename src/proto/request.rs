//! A decoded client request: the header's type selects the body record.

use bytes::Bytes;

use super::codec::{Decode, DecodeError, Reader};
use super::*;

/// The body of a request after the handshake, one variant per opcode family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create, create2, createContainer: `op` says which.
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    /// getChildren (8) or getChildren2 (12).
    GetChildren {
        op: OpCode,
        req: GetChildrenRequest,
    },
    Sync(SyncRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// Why a request frame was not turned into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The type is not an opcode a client may send: answer UNIMPLEMENTED.
    #[error("unknown request type {0}")]
    Unimplemented(i32),
    /// The body does not parse as the type's record: answer MARSHALLINGERROR.
    #[error("bad {op:?} request body: {source}")]
    Malformed { op: OpCode, source: DecodeError },
}

impl Request {
    /// Decodes the body that follows a `RequestHeader` of type `op`. The whole body
    /// must be consumed.
    pub fn decode(op: i32, body: Bytes) -> Result<Request, RequestError> {
        let code = match OpCode::from_i32(op) {
            Some(c) => c,
            None => return Err(RequestError::Unimplemented(op)),
        };
        // Bytes after the record are ignored, as ZooKeeper's `byteBuffer2Record` does;
        // some clients pad requests.
        let mut r = Reader::new(body);
        let req = Self::decode_body(code, &mut r)
            .map_err(|source| RequestError::Malformed { op: code, source })?;
        req.ok_or(RequestError::Unimplemented(op))
    }

    fn decode_body(op: OpCode, r: &mut Reader) -> Result<Option<Request>, DecodeError> {
        use OpCode as O;
        Ok(Some(match op {
            O::Create | O::Create2 | O::CreateContainer => Request::Create {
                op,
                req: CreateRequest::decode(r)?,
            },
            O::CreateTtl => Request::CreateTtl(CreateTtlRequest::decode(r)?),
            O::Delete => Request::Delete(DeleteRequest::decode(r)?),
            O::Exists => Request::Exists(ExistsRequest::decode(r)?),
            O::GetData => Request::GetData(GetDataRequest::decode(r)?),
            O::SetData => Request::SetData(SetDataRequest::decode(r)?),
            O::GetAcl => Request::GetAcl(GetAclRequest::decode(r)?),
            O::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
            O::GetChildren | O::GetChildren2 => Request::GetChildren {
                op,
                req: GetChildrenRequest::decode(r)?,
            },
            O::Sync => Request::Sync(SyncRequest::decode(r)?),
            O::Ping => Request::Ping,
            O::Check => Request::Check(CheckVersionRequest::decode(r)?),
            O::Multi => Request::Multi(MultiRequest::decode(r)?),
            O::MultiRead => Request::MultiRead(MultiRequest::decode(r)?),
            O::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
            O::CheckWatches => Request::CheckWatches(CheckWatchesRequest::decode(r)?),
            O::RemoveWatches => Request::RemoveWatches(RemoveWatchesRequest::decode(r)?),
            O::Auth => Request::Auth(AuthPacket::decode(r)?),
            O::SetWatches => Request::SetWatches(SetWatches::decode(r)?),
            O::SetWatches2 => Request::SetWatches2(SetWatches2::decode(r)?),
            O::Sasl => Request::Sasl(GetSaslRequest::decode(r)?),
            O::GetEphemerals => Request::GetEphemerals(GetEphemeralsRequest::decode(r)?),
            O::GetAllChildrenNumber => {
                Request::GetAllChildrenNumber(GetAllChildrenNumberRequest::decode(r)?)
            }
            O::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
            O::WhoAmI => Request::WhoAmI,
            O::CloseSession => Request::CloseSession,
            // Internal types a client may not send.
            O::Notification | O::DeleteContainer | O::CreateSession | O::Error => return Ok(None),
        }))
    }

    /// The opcode this request was decoded from.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create { op, .. } | Request::GetChildren { op, .. } => *op,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codec::Encode;

    #[test]
    fn unknown_opcode_is_unimplemented() {
        assert_eq!(
            Request::decode(999, Bytes::new()),
            Err(RequestError::Unimplemented(999))
        );
        assert_eq!(
            Request::decode(-10, Bytes::new()),
            Err(RequestError::Unimplemented(-10))
        );
    }

    #[test]
    fn trailing_bytes_are_ignored_as_zookeeper_does() {
        let mut body = GetDataRequest {
            path: "/a".into(),
            watch: true,
        }
        .to_bytes()
        .to_vec();
        body.push(0);
        assert!(matches!(
            Request::decode(4, Bytes::from(body)),
            Ok(Request::GetData(GetDataRequest { watch: true, .. }))
        ));
        assert!(matches!(
            Request::decode(4, Bytes::from_static(&[0, 0, 0, 9, b'/'])),
            Err(RequestError::Malformed {
                op: OpCode::GetData,
                ..
            })
        ));
    }

    #[test]
    fn decodes_each_simple_request() {
        let body = SetDataRequest {
            path: "/x".into(),
            data: Some(Bytes::from_static(b"v")),
            version: 4,
        }
        .to_bytes();
        match Request::decode(5, body) {
            Ok(Request::SetData(r)) => assert_eq!(r.version, 4),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(Request::decode(11, Bytes::new()), Ok(Request::Ping));
        assert_eq!(
            Request::decode(-11, Bytes::new()),
            Ok(Request::CloseSession)
        );
    }
}

//! The ZooKeeper client protocol: jute records of `zookeeper.jute` (3.9), opcodes,
//! error codes and framing. Pure: no I/O, no clock.
//!
//! One operation's records per file; each record names its jute class. Decoders
//! reject trailing bytes and never panic on any input.

pub mod codec;

mod acl;
mod auth;
mod check;
mod connect;
mod create;
mod delete;
mod ephemerals;
mod error;
mod error_response;
mod exists;
pub mod frame;
mod get_acl;
mod get_children;
mod get_data;
mod header;
pub mod multi;
mod node_data;
mod opcode;
mod reconfig;
mod request;
mod set_acl;
mod set_data;
mod stat;
mod sync;
mod watches;

pub use acl::{Acl, Id};
pub use auth::{AuthPacket, ClientInfo, WhoAmIResponse};
pub use check::CheckVersionRequest;
pub use codec::{Decode, DecodeError, Encode, Reader};
pub use connect::{ConnectRequest, ConnectResponse};
pub use create::{Create2Response, CreateMode, CreateRequest, CreateResponse, CreateTtlRequest};
pub use delete::DeleteRequest;
pub use ephemerals::{
    GetAllChildrenNumberRequest, GetAllChildrenNumberResponse, GetEphemeralsRequest,
    GetEphemeralsResponse,
};
pub use error::ErrorCode;
pub use error_response::{ErrorResponse, MultiHeader};
pub use exists::{ExistsRequest, ExistsResponse};
pub use get_acl::{GetAclRequest, GetAclResponse};
pub use get_children::{GetChildren2Response, GetChildrenRequest, GetChildrenResponse};
pub use get_data::{GetDataRequest, GetDataResponse};
pub use header::{ReplyHeader, RequestHeader, REPLY_HEADER_LEN};
pub use multi::{MultiOp, MultiRequest, MultiResponse, OpResult};
pub use node_data::NodeData;
pub use opcode::{perms, xid, OpCode};
pub use reconfig::{GetSaslRequest, ReconfigRequest, SetSaslResponse};
pub use request::{Request, RequestError};
pub use set_acl::{SetAclRequest, SetAclResponse};
pub use set_data::{SetDataRequest, SetDataResponse};
pub use stat::Stat;
pub use sync::{SyncRequest, SyncResponse};
pub use watches::{
    keeper_state, AddWatchRequest, CheckWatchesRequest, RemoveWatchesRequest, SetWatches,
    SetWatches2, WatcherEvent,
};

#[cfg(test)]
mod round_trip_tests {
    use super::*;
    use bytes::Bytes;

    fn rt<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: T) {
        assert_eq!(T::from_bytes(v.to_bytes()), Ok(v));
    }

    #[test]
    fn every_record_round_trips() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        assert_eq!(stat.to_bytes().len(), 68);
        rt(stat.clone());
        rt(Acl::new(perms::ALL, "digest", "u:x"));
        rt(RequestHeader { xid: 1, op: 4 });
        rt(ReplyHeader {
            xid: 1,
            zxid: 9,
            err: -101,
        });
        rt(CreateRequest {
            path: "/a".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 3,
        });
        rt(CreateTtlRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"d")),
            acl: Acl::read_unsafe(),
            flags: 5,
            ttl: 100,
        });
        rt(Create2Response {
            path: "/a0000000001".into(),
            stat: stat.clone(),
        });
        rt(GetDataResponse {
            data: None,
            stat: stat.clone(),
        });
        rt(GetAclResponse {
            acl: Acl::open_unsafe(),
            stat: stat.clone(),
        });
        rt(GetChildren2Response {
            children: vec!["a".into(), "b".into()],
            stat,
        });
        rt(SetWatches2 {
            relative_zxid: 5,
            data_watches: vec!["/d".into()],
            exist_watches: vec![],
            child_watches: vec!["/c".into()],
            persistent_watches: vec!["/p".into()],
            persistent_recursive_watches: vec!["/r".into()],
        });
        rt(WatcherEvent {
            event_type: 1,
            state: 3,
            path: "/a".into(),
        });
        rt(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"u:p"),
        });
        rt(WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            }],
        });
        rt(ReconfigRequest::default());
        rt(GetEphemeralsResponse {
            ephemerals: vec!["/e".into()],
        });
        rt(GetAllChildrenNumberResponse { total_number: 3 });
    }
}

//! Builders of the ops of `multi` and `multiRead`.

use bytes::Bytes;

use crate::proto::{
    Acl, CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest,
    GetChildrenRequest, GetDataRequest, MultiOp, OpCode, SetDataRequest,
};

/// A create inside a multi; answered with path and Stat (create2 semantics).
pub fn create(path: &str, data: Option<Bytes>, acl: Vec<Acl>, mode: CreateMode) -> MultiOp {
    let op = if mode.is_container() {
        OpCode::CreateContainer
    } else {
        OpCode::Create2
    };
    MultiOp::Create {
        op,
        req: CreateRequest {
            path: path.to_owned(),
            data,
            acl,
            flags: mode.flags(),
        },
    }
}

/// A createTTL inside a multi; `mode` must be a TTL mode.
pub fn create_ttl(
    path: &str,
    data: Option<Bytes>,
    acl: Vec<Acl>,
    mode: CreateMode,
    ttl_ms: i64,
) -> MultiOp {
    MultiOp::CreateTtl(CreateTtlRequest {
        path: path.to_owned(),
        data,
        acl,
        flags: mode.flags(),
        ttl: ttl_ms,
    })
}

pub fn delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

pub fn set_data(path: &str, data: Option<Bytes>, version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.to_owned(),
        data,
        version,
    })
}

pub fn check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.to_owned(),
        version,
    })
}

/// For `multi_read` only.
pub fn get_data(path: &str) -> MultiOp {
    MultiOp::GetData(GetDataRequest {
        path: path.to_owned(),
        watch: false,
    })
}

/// For `multi_read` only.
pub fn get_children(path: &str) -> MultiOp {
    MultiOp::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch: false,
    })
}

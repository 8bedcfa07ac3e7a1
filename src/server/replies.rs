//! The answer to a committed write, built from what applying its txn produced.

use bytes::Bytes;

use super::frame_out::reply;
use crate::proto::{
    Create2Response, CreateResponse, MultiResponse, OpCode, SetAclResponse, SetDataResponse,
};
use crate::txn::{ApplyOutcome, OpOutcome};

/// The reply frame for the write `xid` committed as `zxid`.
pub fn write_reply(xid: i32, zxid: i64, outcome: &ApplyOutcome) -> Bytes {
    match &outcome.result {
        OpOutcome::Created { op, path, stat } => {
            if *op == OpCode::Create {
                reply(xid, zxid, 0, Some(&CreateResponse { path: path.clone() }))
            } else {
                let resp = Create2Response {
                    path: path.clone(),
                    stat: stat.clone(),
                };
                reply(xid, zxid, 0, Some(&resp))
            }
        }
        OpOutcome::DataSet { stat, .. } => {
            reply(xid, zxid, 0, Some(&SetDataResponse { stat: stat.clone() }))
        }
        OpOutcome::AclSet { stat, .. } => {
            reply(xid, zxid, 0, Some(&SetAclResponse { stat: stat.clone() }))
        }
        // A standalone check succeeds with an empty body: ZooKeeper's result carries
        // no Stat for it.
        OpOutcome::Deleted { .. }
        | OpOutcome::Checked { .. }
        | OpOutcome::SessionCreated
        | OpOutcome::SessionClosed { .. } => reply(xid, zxid, 0, None),
        OpOutcome::Failed(code) => reply(xid, zxid, code.code(), None),
        // A multi's reply header says OK; each op carries its own result.
        OpOutcome::Multi { results, .. } => {
            let resp = MultiResponse {
                results: results.clone(),
            };
            reply(xid, zxid, 0, Some(&resp))
        }
    }
}

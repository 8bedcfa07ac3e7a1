//! `apply`: a committed txn changes a tree replica exactly as ZooKeeper 3.9's
//! `DataTree.processTxn` does, and reports the client's reply material and the watch
//! triggers in ZooKeeper's order.
//!
//! Deterministic: same txns in zxid order → same tree on every replica. Never
//! panics; a txn that cannot apply (only possible on replay) yields its error code
//! like ZooKeeper's `rc.err`.

use super::body::Txn;
use super::records::*;
use crate::proto::{
    Create2Response, CreateResponse, ErrorCode, OpCode, OpResult, SetDataResponse, Stat,
};
use crate::tree::path::split_parent;
use crate::tree::{DataTree, EphemeralType, WatchTrigger, CONTAINER_EPHEMERAL_OWNER};

/// What the originating client is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// create/create2/createContainer/createTTL: the path (with any sequence
    /// suffix) and Stat. `op` says which reply record: create → CreateResponse,
    /// the others → Create2Response.
    Created {
        op: OpCode,
        path: String,
        stat: Stat,
    },
    Deleted {
        path: String,
    },
    /// setData (and reconfig): SetDataResponse.
    DataSet {
        path: String,
        stat: Stat,
    },
    /// setACL: SetACLResponse.
    AclSet {
        path: String,
        stat: Stat,
    },
    /// check on its own: no Stat (ZooKeeper's result has none).
    Checked {
        path: String,
    },
    SessionCreated,
    /// The ephemerals deleted by the close.
    SessionClosed {
        deleted: Vec<String>,
    },
    /// An error txn, or a txn that failed to apply.
    Failed(ErrorCode),
    /// multi: one result per op (`MultiResponse`); `err` is the first non-zero
    /// sub-result code (the reply header's err is 0 for multi in ZooKeeper; this is
    /// `rc.err`, for logs and metrics).
    Multi {
        results: Vec<OpResult>,
        err: ErrorCode,
    },
}

/// The result of applying one txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub result: OpOutcome,
    /// Watch triggers in the order ZooKeeper fires them.
    pub triggers: Vec<WatchTrigger>,
}

/// Applies `txn` (with header `hdr`) to `tree`.
pub fn apply(tree: &mut DataTree, hdr: &TxnHeader, txn: &Txn) -> ApplyOutcome {
    let mut triggers = Vec::new();
    let result = match txn {
        Txn::Multi(txns) => apply_multi(tree, hdr, txns, &mut triggers),
        Txn::CreateSession(_) => OpOutcome::SessionCreated,
        Txn::CloseSession(t) => OpOutcome::SessionClosed {
            deleted: tree.kill_session(hdr.client_id, hdr.zxid, &t.paths2_delete, &mut triggers),
        },
        other => apply_one(tree, hdr, other, &mut triggers),
    };
    tree.log_digest(hdr.zxid);
    ApplyOutcome { result, triggers }
}

fn created(op: OpCode, path: &str, r: Result<Stat, ErrorCode>) -> OpOutcome {
    match r {
        Ok(stat) => OpOutcome::Created {
            op,
            path: path.to_owned(),
            stat,
        },
        Err(e) => OpOutcome::Failed(e),
    }
}

/// One non-multi, non-session txn (also each sub-txn of a multi).
fn apply_one(
    tree: &mut DataTree,
    hdr: &TxnHeader,
    txn: &Txn,
    tr: &mut Vec<WatchTrigger>,
) -> OpOutcome {
    let (zxid, time) = (hdr.zxid, hdr.time_ms);
    match txn {
        Txn::Create(t) | Txn::Create2(t) => {
            let owner = if t.ephemeral { hdr.client_id } else { 0 };
            let r = tree.create_node(
                &t.path,
                t.data.clone(),
                &t.acl,
                owner,
                t.parent_cversion,
                zxid,
                time,
                tr,
            );
            // Replay rule: a create (op 1) that finds its node still gets the parent's
            // cversion and pzxid (the node was deleted and recreated after a fuzzy
            // snapshot serialized the parent).
            if r == Err(ErrorCode::NodeExists) && matches!(txn, Txn::Create(_)) {
                if let Some((parent, _)) = split_parent(&t.path) {
                    if let Err(e) = tree.set_cversion_pzxid(parent, t.parent_cversion, zxid) {
                        return OpOutcome::Failed(e);
                    }
                }
            }
            created(txn.op_code(), &t.path, r)
        }
        Txn::CreateContainer(t) => {
            let r = tree.create_node(
                &t.path,
                t.data.clone(),
                &t.acl,
                CONTAINER_EPHEMERAL_OWNER,
                t.parent_cversion,
                zxid,
                time,
                tr,
            );
            created(OpCode::CreateContainer, &t.path, r)
        }
        Txn::CreateTtl(t) => {
            let Some(owner) = EphemeralType::ttl_owner(t.ttl) else {
                return OpOutcome::Failed(ErrorCode::BadArguments);
            };
            let r = tree.create_node(
                &t.path,
                t.data.clone(),
                &t.acl,
                owner,
                t.parent_cversion,
                zxid,
                time,
                tr,
            );
            created(OpCode::CreateTtl, &t.path, r)
        }
        Txn::Delete(t) | Txn::DeleteContainer(t) => match tree.delete_node(&t.path, zxid, tr) {
            Ok(()) => OpOutcome::Deleted {
                path: t.path.clone(),
            },
            Err(e) => OpOutcome::Failed(e),
        },
        Txn::SetData(t) | Txn::Reconfig(t) => {
            match tree.set_data(&t.path, t.data.clone(), t.version, zxid, time, tr) {
                Ok(stat) => OpOutcome::DataSet {
                    path: t.path.clone(),
                    stat,
                },
                Err(e) => OpOutcome::Failed(e),
            }
        }
        Txn::SetAcl(t) => match tree.set_acl(&t.path, &t.acl, t.version) {
            Ok(stat) => OpOutcome::AclSet {
                path: t.path.clone(),
                stat,
            },
            Err(e) => OpOutcome::Failed(e),
        },
        Txn::Check(t) => OpOutcome::Checked {
            path: t.path.clone(),
        },
        Txn::Error(t) => OpOutcome::Failed(ErrorCode::from_code(t.err)),
        // Not valid inside a multi (the decoder refuses them); never reached from
        // `apply`, which handles them itself.
        Txn::Multi(_) | Txn::CreateSession(_) | Txn::CloseSession(_) => {
            OpOutcome::Failed(ErrorCode::MarshallingError)
        }
    }
}

/// The `MultiResponse` entry for one applied sub-txn (`FinalRequestProcessor`).
fn op_result(outcome: OpOutcome) -> OpResult {
    match outcome {
        OpOutcome::Created {
            op: OpCode::Create,
            path,
            ..
        } => OpResult::Create(CreateResponse { path }),
        OpOutcome::Created { op, path, stat } => OpResult::Create2 {
            op,
            resp: Create2Response { path, stat },
        },
        OpOutcome::Deleted { .. } => OpResult::Delete,
        OpOutcome::DataSet { stat, .. } => OpResult::SetData(SetDataResponse { stat }),
        OpOutcome::Checked { .. } => OpResult::Check,
        OpOutcome::Failed(e) => OpResult::Error(e.code()),
        OpOutcome::AclSet { .. }
        | OpOutcome::SessionCreated
        | OpOutcome::SessionClosed { .. }
        | OpOutcome::Multi { .. } => OpResult::Error(ErrorCode::MarshallingError.code()),
    }
}

/// multi: if any sub-txn is an error, nothing applies: sub-txns before the first
/// error answer 0, the error its own code, the ones after −2 (RUNTIMEINCONSISTENCY)
/// unless they are errors themselves.
fn apply_multi(
    tree: &mut DataTree,
    hdr: &TxnHeader,
    txns: &[Txn],
    tr: &mut Vec<WatchTrigger>,
) -> OpOutcome {
    let failed = txns.iter().any(|t| matches!(t, Txn::Error(_)));
    let mut post_failed = false;
    let mut results = Vec::with_capacity(txns.len());
    let mut err = ErrorCode::Ok;
    for t in txns {
        let outcome = match t {
            Txn::Error(e) => {
                post_failed = true;
                OpOutcome::Failed(ErrorCode::from_code(e.err))
            }
            _ if failed => OpOutcome::Failed(if post_failed {
                ErrorCode::RuntimeInconsistency
            } else {
                ErrorCode::Ok
            }),
            _ => apply_one(tree, hdr, t, tr),
        };
        let r = op_result(outcome);
        if let OpResult::Error(code) = r {
            if code != 0 && err == ErrorCode::Ok {
                err = ErrorCode::from_code(code);
            }
        }
        results.push(r);
    }
    OpOutcome::Multi { results, err }
}

//! `prep`: validates a write request against the tree (plus outstanding changes) and
//! turns it into a txn — ZooKeeper 3.9's `PrepRequestProcessor.pRequest2Txn`, with
//! every check, error code and their order kept.
//!
//! Pure: reads the tree, never changes it; no clock (times go in the txn header,
//! which the caller builds). A failed write becomes `Txn::Error` (it still takes a
//! zxid). Session checks (`checkSession`: SESSIONEXPIRED/SESSIONMOVED, local-session
//! ephemerals) belong to the caller and are not done here.
//!
//! Quotas (`enforceQuota`, ZooKeeper 3.7+'s `checkQuota`): a create or setData under a
//! quota whose new usage passes a hard limit (`countHardLimit`, `byteHardLimit`)
//! fails with QUOTAEXCEEDED; passing a soft one (`count`, `bytes`) only leaves a
//! warning in `Outstanding` for the caller to log. Usage is the committed stats node
//! plus what txns prepared before (and earlier ops of the same multi) add, where
//! ZooKeeper reads the committed stats alone and so lets pipelined writes overshoot.

use std::collections::BTreeSet;

use super::body::Txn;
use super::outstanding::{NodeView, Outstanding, QuotaDelta, View};
use super::records::*;
use crate::proto::{
    perms, Acl, CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest,
    ErrorCode, Id, MultiOp, MultiRequest, NodeData, OpCode, Request, SetAclRequest, SetDataRequest,
};
use crate::tree::path::{split_parent, validate_path};
use crate::tree::{
    check_acl, limit_path, stat_path, validate_and_fixup_acl, AuthProviders, DataTree,
    EphemeralType, StatsTrack, CONFIG_PATH, CONTAINER_EPHEMERAL_OWNER, QUOTA_PATH, ZOOKEEPER_PATH,
};

/// Who asks, and the server settings validation depends on.
#[derive(Debug, Clone, Copy)]
pub struct PrepContext<'a> {
    pub session_id: i64,
    /// The session's authenticated ids (ip, digest, super ...).
    pub auth_ids: &'a [Id],
    /// The auth schemes with a registered provider (`ProviderRegistry`).
    pub providers: &'a AuthProviders,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types_enabled: bool,
    /// `zookeeper.enforceQuota`.
    pub enforce_quota: bool,
}

/// A request that becomes a txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRequest {
    /// create (1), create2 (15), createContainer (19).
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    /// Internal (op 20): container and TTL reaping.
    DeleteContainer {
        path: String,
    },
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    /// check (13) on its own.
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    /// Internal (op −10), with the negotiated timeout.
    CreateSession {
        time_out_ms: i32,
    },
    /// close (−11) or expiry of `PrepContext::session_id`.
    CloseSession,
}

impl WriteRequest {
    /// The write a client request asks for; `None` for reads (and reconfig, which
    /// the quorum layer handles).
    pub fn from_request(r: Request) -> Option<WriteRequest> {
        Some(match r {
            Request::Create { op, req } => WriteRequest::Create { op, req },
            Request::CreateTtl(r) => WriteRequest::CreateTtl(r),
            Request::Delete(r) => WriteRequest::Delete(r),
            Request::SetData(r) => WriteRequest::SetData(r),
            Request::SetAcl(r) => WriteRequest::SetAcl(r),
            Request::Check(r) => WriteRequest::Check(r),
            Request::Multi(r) => WriteRequest::Multi(r),
            Request::CloseSession => WriteRequest::CloseSession,
            _ => return None,
        })
    }
}

/// Prepares `req` against `tree` alone (no pipelined requests in flight).
pub fn prep(tree: &DataTree, ctx: &PrepContext<'_>, req: &WriteRequest) -> Txn {
    prep_with(tree, &mut Outstanding::new(), ctx, 0, req)
}

/// Prepares `req` as the txn with `zxid`, seeing `outstanding` (the changes of txns
/// prepared but not yet applied to `tree`), and records its own changes there when it
/// succeeds. A failed request (or failed multi) leaves `outstanding` unchanged.
pub fn prep_with(
    tree: &DataTree,
    outstanding: &mut Outstanding,
    ctx: &PrepContext<'_>,
    zxid: i64,
    req: &WriteRequest,
) -> Txn {
    let mut view = View::new(tree, outstanding, zxid);
    let txn = match req {
        WriteRequest::Multi(m) => prep_multi(&mut view, ctx, m),
        WriteRequest::CloseSession => close_session(&mut view, ctx),
        WriteRequest::CreateSession { time_out_ms } => Txn::CreateSession(CreateSessionTxn {
            time_out: *time_out_ms,
        }),
        other => prep_single(&mut view, ctx, other).unwrap_or_else(Txn::error),
    };
    let keep = !matches!(txn, Txn::Error(_))
        && !matches!(&txn, Txn::Multi(t) if t.iter().any(|t| matches!(t, Txn::Error(_))));
    let scratch = std::mem::take(&mut view.scratch);
    let quota = std::mem::take(&mut view.quota_scratch);
    // Logged whether or not the request goes on to fail, as ZooKeeper logs at the check.
    let warnings = std::mem::take(&mut view.quota_warnings);
    outstanding.add_quota_warnings(warnings);
    if keep {
        outstanding.merge(scratch);
        outstanding.add_quota_deltas(quota);
    }
    txn
}

fn prep_single(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    req: &WriteRequest,
) -> Result<Txn, ErrorCode> {
    match req {
        WriteRequest::Create { op, req } => {
            let mode = CreateMode::from_flags(req.flags).ok_or(ErrorCode::BadArguments)?;
            create(view, ctx, *op, mode, req_parts(req), -1)
        }
        WriteRequest::CreateTtl(r) => {
            let mode = CreateMode::from_flags(r.flags).ok_or(ErrorCode::BadArguments)?;
            let parts = CreateParts {
                path: &r.path,
                data: &r.data,
                acl: &r.acl,
            };
            create(view, ctx, OpCode::CreateTtl, mode, parts, r.ttl)
        }
        WriteRequest::Delete(r) => delete(view, ctx, &r.path, r.version),
        WriteRequest::DeleteContainer { path } => delete_container(view, ctx, path),
        WriteRequest::SetData(r) => set_data(view, ctx, r),
        WriteRequest::SetAcl(r) => set_acl(view, ctx, r),
        WriteRequest::Check(r) => check(view, ctx, r),
        // Handled by `prep_with`.
        WriteRequest::Multi(_)
        | WriteRequest::CreateSession { .. }
        | WriteRequest::CloseSession => Err(ErrorCode::SystemError),
    }
}

/// The fields every create request shares.
struct CreateParts<'r> {
    path: &'r str,
    data: &'r Option<bytes::Bytes>,
    acl: &'r [Acl],
}

fn req_parts(r: &CreateRequest) -> CreateParts<'_> {
    CreateParts {
        path: &r.path,
        data: &r.data,
        acl: &r.acl,
    }
}

/// `checkAndIncVersion` (3.9.5): −1 matches any version; the new version is the
/// current + 1, wrapping as Java's `int` does. (Newer ZooKeeper skips −1 here,
/// ZOOKEEPER-4743; 3.9.5 does not.)
fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// `isSpecialPath`: nodes that can never be deleted.
fn is_special_path(path: &str) -> bool {
    matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
}

/// `getParentPathAndValidate` (delete, deleteContainer): only a '/', no NUL and not
/// special; the full path rules are *not* applied (a bad path ends as NONODE).
fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    if path.contains('\0') || is_special_path(path) {
        return Err(ErrorCode::BadArguments);
    }
    split_parent(path)
        .map(|(p, _)| p)
        .ok_or(ErrorCode::BadArguments)
}

fn bad_path(path: &str) -> Result<(), ErrorCode> {
    validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

fn need(acl: &[Acl], perm: i32, ctx: &PrepContext<'_>) -> Result<(), ErrorCode> {
    if check_acl(acl, perm, ctx.auth_ids, ctx.providers) {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

/// `pRequest2TxnCreate` after the mode is known (an unknown flag is BADARGUMENTS
/// before anything else). Order: TTL support (UNIMPLEMENTED), ttl validity
/// (BADARGUMENTS), '/' and NUL (BADARGUMENTS), ACL (INVALIDACL), parent (NONODE),
/// CREATE on parent (NOAUTH), sequence suffix, full path rules (BADARGUMENTS),
/// existence (NODEEXISTS), ephemeral parent (NOCHILDRENFOREPHEMERALS), quota
/// (QUOTAEXCEEDED).
fn create(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    op: OpCode,
    mode: CreateMode,
    req: CreateParts<'_>,
    ttl: i64,
) -> Result<Txn, ErrorCode> {
    if mode.is_ttl() && !ctx.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    let ttl_owner = if mode.is_ttl() {
        EphemeralType::ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    } else {
        0
    };
    if req.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let (parent_path, _) = split_parent(req.path).ok_or(ErrorCode::BadArguments)?;
    let acl = validate_and_fixup_acl(req.acl, ctx.auth_ids, ctx.providers)?;
    let mut parent = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    need(&parent.acl, perms::CREATE, ctx)?;
    let path = if mode.is_sequential() {
        // `%010d` of the parent's stored cversion; Java pads after a minus sign too.
        format!("{}{:010}", req.path, parent.cversion)
    } else {
        req.path.to_owned()
    };
    bad_path(&path)?;
    if view.get(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if EphemeralType::of(parent.ephemeral_owner, ctx.extended_types_enabled)
        == EphemeralType::Normal
    {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let data_len = req.data.as_ref().map_or(0, |d| d.len() as i64);
    check_quota(view, ctx, &path, data_len, 1)?;
    let new_cversion = parent.cversion.wrapping_add(1);
    let data = req.data.as_deref().map(NodeData::new);
    let txn = match op {
        OpCode::CreateContainer => Txn::CreateContainer(CreateContainerTxn {
            path: path.clone(),
            data,
            acl: acl.clone(),
            parent_cversion: new_cversion,
        }),
        OpCode::CreateTtl => Txn::CreateTtl(CreateTtlTxn {
            path: path.clone(),
            data,
            acl: acl.clone(),
            parent_cversion: new_cversion,
            ttl,
        }),
        _ => {
            let t = CreateTxn {
                path: path.clone(),
                data,
                acl: acl.clone(),
                ephemeral: mode.is_ephemeral(),
                parent_cversion: new_cversion,
            };
            if op == OpCode::Create2 {
                Txn::Create2(t)
            } else {
                Txn::Create(t)
            }
        }
    };
    // The owner prep records follows the mode, as ZooKeeper's change record does
    // (apply follows the txn type; they differ only for odd op/flag mixes).
    let owner = if mode.is_container() {
        CONTAINER_EPHEMERAL_OWNER
    } else if mode.is_ttl() {
        ttl_owner
    } else if mode.is_ephemeral() {
        ctx.session_id
    } else {
        0
    };
    parent.child_count = parent.child_count.wrapping_add(1);
    parent.cversion = new_cversion;
    view.put(parent_path, Some(parent));
    view.put(
        &path,
        Some(NodeView {
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            child_count: 0,
            acl: acl.into(),
            data_len,
        }),
    );
    Ok(txn)
}

/// delete: path shape (BADARGUMENTS), parent (NONODE), DELETE on parent (NOAUTH),
/// node (NONODE), version (BADVERSION), children (NOTEMPTY).
fn delete(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    path: &str,
    version: i32,
) -> Result<Txn, ErrorCode> {
    let parent_path = parent_for_delete(path)?;
    let mut parent = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    need(&parent.acl, perms::DELETE, ctx)?;
    let node = view.get(path).ok_or(ErrorCode::NoNode)?;
    check_and_inc_version(node.version, version)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    note_quota(view, ctx, path, -node.data_len, -1);
    parent.child_count = parent.child_count.wrapping_sub(1);
    view.put(parent_path, Some(parent));
    view.put(path, None);
    Ok(Txn::Delete(DeleteTxn {
        path: path.to_owned(),
    }))
}

/// deleteContainer (internal): path shape (BADARGUMENTS), node (NONODE), children
/// (NOTEMPTY), a session ephemeral (BADVERSION; a plain persistent node passes, as
/// in ZooKeeper), parent (NONODE). No ACL check.
fn delete_container(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    path: &str,
) -> Result<Txn, ErrorCode> {
    let parent_path = parent_for_delete(path)?;
    let node = view.get(path).ok_or(ErrorCode::NoNode)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    if view.tree.ephemeral_type(node.ephemeral_owner) == EphemeralType::Normal {
        return Err(ErrorCode::BadVersion);
    }
    let mut parent = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    note_quota(view, ctx, path, -node.data_len, -1);
    parent.child_count = parent.child_count.wrapping_sub(1);
    view.put(parent_path, Some(parent));
    view.put(path, None);
    Ok(Txn::DeleteContainer(DeleteTxn {
        path: path.to_owned(),
    }))
}

/// setData: path rules (BADARGUMENTS), node (NONODE), WRITE (NOAUTH), quota
/// (QUOTAEXCEEDED), version (BADVERSION).
fn set_data(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    r: &SetDataRequest,
) -> Result<Txn, ErrorCode> {
    bad_path(&r.path)?;
    let mut node = view.get(&r.path).ok_or(ErrorCode::NoNode)?;
    need(&node.acl, perms::WRITE, ctx)?;
    let data_len = r.data.as_ref().map_or(0, |d| d.len() as i64);
    check_quota(view, ctx, &r.path, data_len - node.data_len, 0)?;
    let version = check_and_inc_version(node.version, r.version)?;
    node.version = version;
    node.data_len = data_len;
    view.put(&r.path, Some(node));
    Ok(Txn::SetData(SetDataTxn {
        path: r.path.clone(),
        data: r.data.as_deref().map(NodeData::new),
        version,
    }))
}

/// setACL: path rules (BADARGUMENTS), ACL (INVALIDACL), node (NONODE), ADMIN
/// (NOAUTH), aversion (BADVERSION).
fn set_acl(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    r: &SetAclRequest,
) -> Result<Txn, ErrorCode> {
    bad_path(&r.path)?;
    let acl = validate_and_fixup_acl(&r.acl, ctx.auth_ids, ctx.providers)?;
    let mut node = view.get(&r.path).ok_or(ErrorCode::NoNode)?;
    need(&node.acl, perms::ADMIN, ctx)?;
    let version = check_and_inc_version(node.aversion, r.version)?;
    node.aversion = version;
    // Publish the new ACL to later prepped requests (3.9.5 does not, which lets a
    // request prepped before this setACL commits pass the old ACL; newer ZooKeeper
    // fixed that and so do we).
    node.acl = acl.clone().into();
    view.put(&r.path, Some(node));
    Ok(Txn::SetAcl(SetAclTxn {
        path: r.path.clone(),
        acl,
        version,
    }))
}

/// check: path rules (BADARGUMENTS), node (NONODE), READ (NOAUTH), version
/// (BADVERSION). Changes nothing.
fn check(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    r: &CheckVersionRequest,
) -> Result<Txn, ErrorCode> {
    bad_path(&r.path)?;
    let node = view.get(&r.path).ok_or(ErrorCode::NoNode)?;
    need(&node.acl, perms::READ, ctx)?;
    let version = check_and_inc_version(node.version, r.version)?;
    Ok(Txn::Check(CheckVersionTxn {
        path: r.path.clone(),
        version,
    }))
}

/// One multi op as `MultiOperationRecord.deserialize` (3.9.5) turns it into an
/// `Op`: the create type follows the flags; `None` means the record would not
/// deserialize (whole request MARSHALLINGERROR).
fn multi_op_request(op: &MultiOp) -> Option<WriteRequest> {
    Some(match op {
        MultiOp::Create { op, req } => {
            // Unknown flags, or TTL flags without a ttl, fail deserialization.
            let mode = CreateMode::from_flags(req.flags)?;
            if mode.is_ttl() {
                return None;
            }
            let op = if mode.is_container() {
                OpCode::CreateContainer
            } else {
                *op
            };
            WriteRequest::Create {
                op,
                req: req.clone(),
            }
        }
        MultiOp::CreateTtl(r) => {
            // `CreateMode.fromFlag(flags, PERSISTENT)`: non-TTL flags make a plain
            // create (or createContainer) and the ttl is dropped.
            let mode = CreateMode::from_flags(r.flags).unwrap_or(CreateMode::Persistent);
            if mode.is_ttl() {
                WriteRequest::CreateTtl(r.clone())
            } else {
                let op = if mode.is_container() {
                    OpCode::CreateContainer
                } else {
                    OpCode::Create
                };
                WriteRequest::Create {
                    op,
                    req: CreateRequest {
                        path: r.path.clone(),
                        data: r.data.clone(),
                        acl: r.acl.clone(),
                        flags: r.flags,
                    },
                }
            }
        }
        MultiOp::Delete(r) => WriteRequest::Delete(r.clone()),
        MultiOp::SetData(r) => WriteRequest::SetData(r.clone()),
        MultiOp::Check(r) => WriteRequest::Check(r.clone()),
        // Read ops make ZooKeeper 3.9 fail the whole multi with MARSHALLINGERROR
        // (mixed kinds fail deserialization; an all-read multi has no txn to write).
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => return None,
    })
}

/// multi: every op sees the earlier ones; the first failure stops prep. Ops before
/// it keep their real txns and the failing op and the rest become error txns
/// (own code, then RUNTIMEINCONSISTENCY), as ZooKeeper logs it; apply turns the
/// earlier ones into error results with code 0. An empty multi is a MultiTxn with no
/// sub-txns.
fn prep_multi(view: &mut View<'_>, ctx: &PrepContext<'_>, m: &MultiRequest) -> Txn {
    let Some(reqs) = m
        .ops
        .iter()
        .map(multi_op_request)
        .collect::<Option<Vec<_>>>()
    else {
        return Txn::error(ErrorCode::MarshallingError);
    };
    let mut txns = Vec::with_capacity(reqs.len());
    let mut failed = false;
    for req in &reqs {
        if failed {
            txns.push(Txn::error(ErrorCode::RuntimeInconsistency));
            continue;
        }
        match prep_single(view, ctx, req) {
            Ok(t) => txns.push(t),
            Err(code) => {
                failed = true;
                view.scratch.clear();
                txns.push(Txn::error(code));
            }
        }
    }
    Txn::Multi(txns)
}

/// closeSession: the session's ephemerals as they will be once pending txns apply
/// (pending deletes and re-creations by others removed, pending ephemeral creates
/// added), sorted.
fn close_session(view: &mut View<'_>, ctx: &PrepContext<'_>) -> Txn {
    let session = ctx.session_id;
    let mut es: BTreeSet<String> = view.tree.ephemerals(session).map(str::to_owned).collect();
    // A pending record is the node's latest state: it is the session's ephemeral only
    // if the record says so (a node deleted and recreated by another session is not).
    for (path, c) in view.base.iter() {
        match &c.node {
            Some(n) if n.ephemeral_owner == session => {
                es.insert(path.to_owned());
            }
            _ => {
                es.remove(path);
            }
        }
    }
    // Unlike ZooKeeper's PrepRequestProcessor, the parents' child counts drop too: a
    // delete of the parent pipelined behind this closeSession must not see NOTEMPTY.
    for p in &es {
        if let Some(n) = view.get(p) {
            note_quota(view, ctx, p, -n.data_len, -1);
        }
        if let Some((parent_path, _)) = split_parent(p) {
            if let Some(mut parent) = view.get(parent_path) {
                parent.child_count = parent.child_count.wrapping_sub(1);
                view.put(parent_path, Some(parent));
            }
        }
        view.put(p, None);
    }
    Txn::CloseSession(CloseSessionTxn {
        paths2_delete: es.into_iter().collect(),
    })
}

/// Records what a write that passed its checks adds to the usage of the quota its
/// path counts for, so that later prepared requests see it. Only with `enforceQuota`
/// (nothing reads it otherwise) and only under a quota.
fn note_quota(view: &mut View<'_>, ctx: &PrepContext<'_>, path: &str, bytes: i64, count: i64) {
    if !ctx.enforce_quota {
        return;
    }
    if let Some(root) = view.tree.quota_root(path) {
        note_quota_at(view, root, bytes, count);
    }
}

fn note_quota_at(view: &mut View<'_>, root: String, bytes: i64, count: i64) {
    if bytes != 0 || count != 0 {
        let zxid = view.zxid;
        view.quota_scratch.push(QuotaDelta {
            zxid,
            root,
            count,
            bytes,
        });
    }
}

/// `ZooKeeperServer.checkQuota` for a write to `path` that adds `count_diff` nodes
/// and `bytes_diff` data bytes: the quota root is the deepest one over `path` in the
/// committed tree; its limits node says which limits are set (each −1 when not). A
/// limit is checked only when the write changes what it limits. The hard limit, when
/// set, is the one that counts and refuses; otherwise the soft one only warns. Count
/// is checked before bytes. A limits or stats node ZooKeeper cannot parse makes its
/// `StatsTrack` throw, which its prep answers with MARSHALLINGERROR.
fn check_quota(
    view: &mut View<'_>,
    ctx: &PrepContext<'_>,
    path: &str,
    bytes_diff: i64,
    count_diff: i64,
) -> Result<(), ErrorCode> {
    if !ctx.enforce_quota {
        return Ok(());
    }
    let Some(root) = view.tree.quota_root(path) else {
        return Ok(());
    };
    let Some(limits) = stats_of(view, &limit_path(&root), "limit node for quota")? else {
        note_quota_at(view, root, bytes_diff, count_diff);
        return Ok(());
    };
    let check_count = count_diff != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
    let check_bytes = bytes_diff != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
    if check_count || check_bytes {
        let Some(stats) = stats_of(view, &stat_path(&root), "node for stat")? else {
            note_quota_at(view, root, bytes_diff, count_diff);
            return Ok(());
        };
        let (pending_count, pending_bytes) = pending_quota(view, &root);
        if check_count {
            QuotaCheck {
                what: "count",
                kind: "Count",
                new: stats
                    .count()
                    .wrapping_add(pending_count)
                    .wrapping_add(count_diff),
                hard: limits.count_hard_limit(),
                soft: limits.count(),
            }
            .run(&root, &mut view.quota_warnings)?;
        }
        if check_bytes {
            QuotaCheck {
                what: "bytes",
                kind: "Byte",
                new: stats
                    .bytes()
                    .wrapping_add(pending_bytes)
                    .wrapping_add(bytes_diff),
                hard: limits.byte_hard_limit(),
                soft: limits.bytes(),
            }
            .run(&root, &mut view.quota_warnings)?;
        }
    }
    note_quota_at(view, root, bytes_diff, count_diff);
    Ok(())
}

/// One limit (count or bytes) of a quota, as `checkQuota` tests it.
struct QuotaCheck {
    /// How ZooKeeper's message names the usage and the limit.
    what: &'static str,
    kind: &'static str,
    /// The usage once the write is applied.
    new: i64,
    hard: i64,
    soft: i64,
}

impl QuotaCheck {
    /// The hard limit is the one that counts when it is set (> −1), else the soft one.
    /// Passing either leaves ZooKeeper's message; passing the hard one refuses.
    fn run(&self, root: &str, warnings: &mut Vec<String>) -> Result<(), ErrorCode> {
        let is_hard = self.hard > -1;
        let limit = if is_hard { self.hard } else { self.soft };
        if self.new <= limit {
            return Ok(());
        }
        let level = if is_hard { "hard" } else { "soft" };
        warnings.push(format!(
            "Quota exceeded: {root} [current {}={}, {level}{}Limit={limit}]",
            self.what, self.new, self.kind
        ));
        if is_hard {
            Err(ErrorCode::QuotaExceeded)
        } else {
            Ok(())
        }
    }
}

/// The `StatsTrack` in the committed node at `path`; `None` (with a warning, as
/// ZooKeeper logs it) when there is no such node.
fn stats_of(view: &mut View<'_>, path: &str, what: &str) -> Result<Option<StatsTrack>, ErrorCode> {
    let Some(node) = view.tree.get(path) else {
        view.quota_warnings.push(format!("Missing {what} {path}"));
        return Ok(None);
    };
    let data = node.data().ok_or(ErrorCode::MarshallingError)?;
    StatsTrack::parse_bytes(data)
        .map(Some)
        .map_err(|_| ErrorCode::MarshallingError)
}

/// What the txns prepared before this one, and the earlier ops of this multi, add to
/// the usage of the quota on `root`: (count, bytes).
fn pending_quota(view: &View<'_>, root: &str) -> (i64, i64) {
    let (c, b) = view.base.quota_pending(root);
    let (c2, b2) = QuotaDelta::sum(&view.quota_scratch, root);
    (c.wrapping_add(c2), b.wrapping_add(b2))
}

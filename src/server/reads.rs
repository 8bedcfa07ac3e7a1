//! Requests answered by a session core from its own replica: reads, watch management,
//! ping, whoAmI, and the opcodes answered with a fixed error. No lock, no hop.

use std::rc::Rc;

use bytes::Bytes;

use super::conn::Conn;
use super::frame_out::{self, EncodeDyn};
use super::session_core::Core;
use crate::proto::{
    keeper_state, perms, xid, ClientInfo, ErrorCode, ExistsResponse, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, Id, MultiOp, MultiResponse, NodeData, OpCode, OpResult, Request,
    WatcherEvent, WhoAmIResponse,
};
use crate::tree::{
    check_acl, mask_digests_for_get_acl as mask_digests, AuthProviders, Node, TreeVersion,
};
use crate::watch::{AddWatchMode, NodeZxids, SetWatches as WatchSet, WatchEvent, WatcherType};

type Answer = Result<Option<Box<dyn EncodeDyn>>, ErrorCode>;

impl Core {
    /// Answers one locally served request with a complete reply frame.
    pub fn serve_local(&self, c: &Rc<Conn>, req_xid: i32, request: Request) -> Bytes {
        if let Request::Ping = request {
            return frame_out::reply(xid::PING, self.last_zxid.get(), 0, None);
        }
        let answer = self.answer(c, request);
        let zxid = self.last_zxid.get();
        match answer {
            Ok(body) => frame_out::reply(req_xid, zxid, 0, body.as_deref()),
            Err(e) => frame_out::reply(req_xid, zxid, e.code(), None),
        }
    }

    fn answer(&self, c: &Rc<Conn>, request: Request) -> Answer {
        let session = c.session.get();
        let auth = c.auth.borrow().clone();
        match request {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                if r.watch {
                    self.add_watch(session, |w| w.add_data_watch(session, &r.path))?;
                }
                let tree = self.tree();
                let node = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                Ok(Some(Box::new(ExistsResponse { stat: node.stat() })))
            }
            Request::GetData(r) => Ok(Some(Box::new(
                self.get_data(session, &auth, &r.path, r.watch)?,
            ))),
            Request::GetChildren { op, req } => {
                let (children, stat) = self.get_children(session, &auth, &req.path, req.watch)?;
                if op == OpCode::GetChildren2 {
                    Ok(Some(Box::new(GetChildren2Response { children, stat })))
                } else {
                    Ok(Some(Box::new(GetChildrenResponse { children })))
                }
            }
            Request::GetAcl(r) => {
                let tree = self.tree();
                // READ or ADMIN suffices; digests are masked without ADMIN.
                let node = readable(
                    &tree,
                    &r.path,
                    perms::READ | perms::ADMIN,
                    &auth,
                    &self.cfg.auth_providers,
                )?;
                let acl = node.acl();
                let acl = if check_acl(acl, perms::ADMIN, &auth, &self.cfg.auth_providers) {
                    acl.to_vec()
                } else {
                    mask_digests(acl)
                };
                Ok(Some(Box::new(GetAclResponse {
                    acl,
                    stat: node.stat(),
                })))
            }
            Request::GetAllChildrenNumber(r) => {
                let tree = self.tree();
                readable(&tree, &r.path, perms::READ, &auth, &self.cfg.auth_providers)?;
                let total = tree.count_descendants(&r.path).unwrap_or(0);
                Ok(Some(Box::new(GetAllChildrenNumberResponse {
                    total_number: i32::try_from(total).unwrap_or(i32::MAX),
                })))
            }
            Request::GetEphemerals(r) => {
                let tree = self.tree();
                let prefix = r.prefix_path.trim();
                let all = prefix.is_empty() || prefix == "/";
                let ephemerals = tree
                    .ephemerals(session)
                    .filter(|p| all || p.starts_with(r.prefix_path.as_str()))
                    .map(str::to_owned)
                    .collect();
                Ok(Some(Box::new(GetEphemeralsResponse { ephemerals })))
            }
            Request::MultiRead(m) => {
                let mut results = Vec::with_capacity(m.ops.len());
                for op in m.ops {
                    let res = match op {
                        MultiOp::GetData(r) => self
                            .get_data(session, &auth, &r.path, r.watch)
                            .map(OpResult::GetData),
                        MultiOp::GetChildren(r) => self
                            .get_children(session, &auth, &r.path, r.watch)
                            .map(|(children, _)| {
                                OpResult::GetChildren(GetChildrenResponse { children })
                            }),
                        // A write op in a multiRead: ZooKeeper fails the whole request.
                        _ => return Err(ErrorCode::MarshallingError),
                    };
                    results.push(res.unwrap_or_else(|e| OpResult::Error(e.code())));
                }
                Ok(Some(Box::new(MultiResponse { results })))
            }
            Request::SetWatches(s) => {
                self.set_watches(
                    c,
                    WatchSet {
                        relative_zxid: s.relative_zxid,
                        data: s.data_watches,
                        exist: s.exist_watches,
                        child: s.child_watches,
                        ..Default::default()
                    },
                )?;
                Ok(None)
            }
            Request::SetWatches2(s) => {
                self.set_watches(
                    c,
                    WatchSet {
                        relative_zxid: s.relative_zxid,
                        data: s.data_watches,
                        exist: s.exist_watches,
                        child: s.child_watches,
                        persistent: s.persistent_watches,
                        persistent_recursive: s.persistent_recursive_watches,
                    },
                )?;
                Ok(None)
            }
            Request::AddWatch(r) => {
                let mode = AddWatchMode::try_from(r.mode).map_err(|_| ErrorCode::BadArguments)?;
                self.add_watch(session, |w| w.add_watch(session, &r.path, mode))?;
                Ok(Some(Box::new(crate::proto::ErrorResponse { err: 0 })))
            }
            Request::CheckWatches(r) => {
                let t =
                    WatcherType::try_from(r.watcher_type).map_err(|_| ErrorCode::BadArguments)?;
                if self.watches.borrow().contains(session, &r.path, t) {
                    Ok(None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                let t =
                    WatcherType::try_from(r.watcher_type).map_err(|_| ErrorCode::BadArguments)?;
                let removed = self.watches.borrow_mut().remove(session, &r.path, t);
                self.publish_watch_count();
                if removed {
                    Ok(None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::WhoAmI => {
                let client_info = auth
                    .iter()
                    .filter(|id| id.scheme != "super")
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: user_name(id),
                    })
                    .collect();
                Ok(Some(Box::new(WhoAmIResponse { client_info })))
            }
            // Dynamic reconfiguration is off, as in a ZooKeeper without reconfigEnabled.
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            // Writes, sync, auth, sasl and ping never reach here.
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn get_data(
        &self,
        session: i64,
        auth: &[Id],
        path: &str,
        watch: bool,
    ) -> Result<GetDataResponse, ErrorCode> {
        let resp = {
            let tree = self.tree();
            let node = readable(&tree, path, perms::READ, auth, &self.cfg.auth_providers)?;
            GetDataResponse {
                data: node.data().map(NodeData::shared_bytes),
                stat: node.stat(),
            }
        };
        if watch {
            self.add_watch(session, |w| w.add_data_watch(session, path))?;
        }
        Ok(resp)
    }

    fn get_children(
        &self,
        session: i64,
        auth: &[Id],
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, crate::proto::Stat), ErrorCode> {
        let out = {
            let tree = self.tree();
            let node = readable(&tree, path, perms::READ, auth, &self.cfg.auth_providers)?;
            (
                node.children().map(|s| s.to_string()).collect(),
                node.stat(),
            )
        };
        if watch {
            self.add_watch(session, |w| w.add_child_watch(session, path))?;
        }
        Ok(out)
    }

    fn add_watch(
        &self,
        session: i64,
        f: impl FnOnce(&mut crate::watch::WatchRegistry) -> Result<(), crate::watch::WatchError>,
    ) -> Result<(), ErrorCode> {
        let added = f(&mut self.watches.borrow_mut());
        self.publish_watch_count();
        added.map_err(|e| {
            tracing::warn!("session 0x{session:x}: {e}");
            // The limit is ringkeeper's own; the nearest ZooKeeper code that clients
            // treat as "retry later" is THROTTLEDOP.
            ErrorCode::ThrottledOp
        })
    }

    fn set_watches(&self, c: &Rc<Conn>, set: WatchSet) -> Result<(), ErrorCode> {
        let session = c.session.get();
        let mut events: Vec<WatchEvent> = Vec::new();
        {
            let tree = self.tree();
            let lookup = |p: &str| {
                tree.get(p).map(|n| {
                    let s = n.stat();
                    NodeZxids {
                        mzxid: s.mzxid,
                        pzxid: s.pzxid,
                    }
                })
            };
            self.add_watch(session, |w| {
                w.set_watches(session, &set, lookup, &mut events)
            })?;
        }
        // Events owed since the client's relativeZxid go out before the reply;
        // ZooKeeper sends them with zxid −1.
        for ev in events {
            let e = WatcherEvent {
                event_type: ev.event_type as i32,
                state: keeper_state::SYNC_CONNECTED,
                path: ev.path,
            };
            c.send(frame_out::reply(xid::NOTIFICATION, -1, 0, Some(&e)));
        }
        Ok(())
    }
}

/// The node at `path` if the identities may do `perm` on it: NONODE first, then
/// NOAUTH, the order ZooKeeper's FinalRequestProcessor checks them in.
fn readable<'t>(
    tree: &'t TreeVersion,
    path: &str,
    perm: i32,
    auth: &[Id],
    providers: &AuthProviders,
) -> Result<&'t Node, ErrorCode> {
    let node = tree.get(path).ok_or(ErrorCode::NoNode)?;
    if !check_acl(node.acl(), perm, auth, providers) {
        return Err(ErrorCode::NoAuth);
    }
    Ok(node)
}

/// The user name `whoAmI` reports: the part before ':' for digest ids, the id itself
/// for the others.
fn user_name(id: &Id) -> String {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or("").to_owned(),
        _ => id.id.clone(),
    }
}

//! prep + apply tests. Expected values come from ZooKeeper 3.9's
//! `PrepRequestProcessor`, `DataTree` and `FinalRequestProcessor`; the reasoning is
//! next to each assertion.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::proto::codec::{Decode, Encode, Reader};
use crate::proto::*;
use crate::tree::*;

/// A single replica driven like the quorum core would: prep, stamp a header, apply.
struct Harness {
    tree: DataTree,
    zxid: i64,
    time: i64,
    extended: bool,
    enforce_quota: bool,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            tree: DataTree::new(),
            zxid: 0,
            time: 1_000,
            extended: false,
            enforce_quota: false,
        }
    }

    fn extended() -> Harness {
        Harness {
            tree: DataTree::with_extended_types(true),
            extended: true,
            ..Harness::new()
        }
    }

    fn run_as(&mut self, session: i64, ids: &[Id], req: WriteRequest) -> (Txn, ApplyOutcome) {
        let ctx = PrepContext {
            session_id: session,
            auth_ids: ids,
            providers: &crate::tree::AuthProviders::all(),
            extended_types_enabled: self.extended,
            enforce_quota: self.enforce_quota,
        };
        let txn = prep(&self.tree, &ctx, &req);
        self.zxid += 1;
        self.time += 10;
        let hdr = TxnHeader::for_txn(session, 1, self.zxid, self.time, &txn);
        let out = apply(&mut self.tree, &hdr, &txn);
        self.tree.validate();
        (txn, out)
    }

    fn run(&mut self, req: WriteRequest) -> ApplyOutcome {
        self.run_as(1, &[], req).1
    }
}

fn data(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

fn create_req(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data("x"),
        acl: Acl::open_unsafe(),
        flags,
    }
}

fn create(path: &str, flags: i32) -> WriteRequest {
    WriteRequest::Create {
        op: OpCode::Create2,
        req: create_req(path, flags),
    }
}

fn create_acl(path: &str, acl: Vec<Acl>) -> WriteRequest {
    WriteRequest::Create {
        op: OpCode::Create,
        req: CreateRequest {
            path: path.into(),
            data: None,
            acl,
            flags: 0,
        },
    }
}

fn delete(path: &str, version: i32) -> WriteRequest {
    WriteRequest::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set_data(path: &str, version: i32) -> WriteRequest {
    WriteRequest::SetData(SetDataRequest {
        path: path.into(),
        data: data("new"),
        version,
    })
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> WriteRequest {
    WriteRequest::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

fn check(path: &str, version: i32) -> WriteRequest {
    WriteRequest::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

fn failed(out: &ApplyOutcome) -> Option<ErrorCode> {
    match out.result {
        OpOutcome::Failed(e) => Some(e),
        _ => None,
    }
}

fn created_path(out: &ApplyOutcome) -> String {
    match &out.result {
        OpOutcome::Created { path, .. } => path.clone(),
        other => panic!("not created: {other:?}"),
    }
}

#[test]
fn create_then_set_data_stats() {
    let mut h = Harness::new();
    let out = h.run(create("/a", 0));
    // create2 at zxid 1, time 1010: createStat gives czxid=mzxid=pzxid=1,
    // ctime=mtime=1010, versions 0, dataLength 1.
    match &out.result {
        OpOutcome::Created { op, path, stat } => {
            assert_eq!((*op, path.as_str()), (OpCode::Create2, "/a"));
            assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (1, 1, 1));
            assert_eq!((stat.ctime, stat.mtime), (1010, 1010));
            assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
            assert_eq!(
                (stat.data_length, stat.num_children, stat.ephemeral_owner),
                (1, 0, 0)
            );
        }
        other => panic!("{other:?}"),
    }
    // create fires NodeCreated(path) then NodeChildrenChanged(parent).
    assert_eq!(
        out.triggers,
        vec![
            WatchTrigger::new("/a", NODE_CREATED),
            WatchTrigger::new("/", NODE_CHILDREN_CHANGED)
        ]
    );
    // Root: parentCVersion 1 from the txn; pzxid 1; visible cversion 1*2-2 = 0.
    let root = h.tree.get("/").expect("root").stat();
    assert_eq!((root.cversion, root.pzxid, root.num_children), (0, 1, 2));
    let out = h.run(set_data("/a", 0));
    match &out.result {
        // setData at zxid 2, time 1020: version 1, mzxid 2, mtime 1020; ctime kept.
        OpOutcome::DataSet { stat, .. } => {
            assert_eq!(
                (stat.version, stat.mzxid, stat.mtime, stat.ctime, stat.czxid),
                (1, 2, 1020, 1010, 1)
            );
            assert_eq!(stat.data_length, 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.triggers,
        vec![WatchTrigger::new("/a", NODE_DATA_CHANGED)]
    );
    // setACL fires nothing; aversion 1; mzxid untouched.
    let out = h.run(set_acl("/a", Acl::read_unsafe(), 0));
    match &out.result {
        OpOutcome::AclSet { stat, .. } => {
            assert_eq!((stat.aversion, stat.mzxid, stat.version), (1, 2, 1))
        }
        other => panic!("{other:?}"),
    }
    assert!(out.triggers.is_empty());
    // delete: NodeDeleted(path), NodeChildrenChanged(parent); root pzxid = 4, stored
    // cversion stays 1, so the visible cversion is 1*2-1 = 1.
    let out = h.run(delete("/a", -1));
    assert_eq!(
        out.triggers,
        vec![
            WatchTrigger::new("/a", NODE_DELETED),
            WatchTrigger::new("/", NODE_CHILDREN_CHANGED)
        ]
    );
    let root = h.tree.get("/").expect("root").stat();
    assert_eq!((root.cversion, root.pzxid), (1, 4));
}

#[test]
fn sequence_numbers_count_creates_not_deletes() {
    let mut h = Harness::new();
    h.run(create("/s", 0));
    let p0 = created_path(&h.run(create("/s/n-", 2)));
    assert_eq!(p0, "/s/n-0000000000");
    // A plain child create bumps the parent's cversion too.
    h.run(create("/s/plain", 0));
    let p2 = created_path(&h.run(create("/s/n-", 2)));
    assert_eq!(p2, "/s/n-0000000002");
    h.run(delete(&p2, -1));
    // Deletes do not change the stored cversion: the next number is 3.
    let p3 = created_path(&h.run(create("/s/", 2)));
    assert_eq!(p3, "/s/0000000003");
    // The sequential path may end in '/', the plain one may not.
    assert_eq!(
        failed(&h.run(create("/s/", 0))),
        Some(ErrorCode::BadArguments)
    );
}

#[test]
fn version_increments_wrap_like_java_int() {
    let mut h = Harness::new();
    h.run(create("/v", 0));
    // Force version i32::MAX through a txn: 3.9.5's checkAndIncVersion is a plain
    // Java `int` + 1, so the next version is i32::MIN, and after −2 comes −1.
    for (forced, next) in [(i32::MAX, i32::MIN), (-2, -1)] {
        let txn = Txn::SetData(SetDataTxn {
            path: "/v".into(),
            data: None,
            version: forced,
        });
        let hdr = TxnHeader::for_txn(1, 1, 50, 1, &txn);
        apply(&mut h.tree, &hdr, &txn);
        match h.run(set_data("/v", forced)).result {
            OpOutcome::DataSet { stat, .. } => assert_eq!(stat.version, next),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn create_error_codes_in_zookeeper_order() {
    let mut h = Harness::new();
    h.run(create("/a", 0));
    h.run(create_acl("/ro", Acl::read_unsafe()));
    h.run(create("/eph", 1));
    let cases: Vec<(WriteRequest, ErrorCode)> = vec![
        (create("/b", 99), ErrorCode::BadArguments),
        // TTL mode without extendedTypesEnabled.
        (create("/b", 5), ErrorCode::Unimplemented),
        // createTTL with a non-TTL mode and a ttl ≥ 0.
        (
            WriteRequest::CreateTtl(CreateTtlRequest {
                path: "/b".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: 10,
            }),
            ErrorCode::BadArguments,
        ),
        (create("b", 0), ErrorCode::BadArguments),
        (create("/b\0", 0), ErrorCode::BadArguments),
        // INVALIDACL comes before the parent lookup.
        (create_acl("/nope/b", vec![]), ErrorCode::InvalidAcl),
        (
            create_acl("/b", vec![Acl::new(perms::ALL, "digest", "nocolon")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_acl("/b", vec![Acl::new(perms::ALL, "auth", "")]),
            ErrorCode::InvalidAcl,
        ),
        (create("/nope/b", 0), ErrorCode::NoNode),
        // The parent lookup comes before the full path rules.
        (create("/nope/", 0), ErrorCode::NoNode),
        (create("/ro/b", 0), ErrorCode::NoAuth),
        (create("/a/", 0), ErrorCode::BadArguments),
        (create("/a/.", 0), ErrorCode::BadArguments),
        (create("/a/./", 0), ErrorCode::NoNode),
        (create("/a", 0), ErrorCode::NodeExists),
        (create("/", 0), ErrorCode::NodeExists),
        (create("/eph/c", 0), ErrorCode::NoChildrenForEphemerals),
    ];
    for (req, code) in cases {
        let (txn, out) = h.run_as(1, &[], req.clone());
        assert_eq!(txn, Txn::error(code), "{req:?}");
        assert_eq!(failed(&out), Some(code), "{req:?}");
        assert!(out.triggers.is_empty());
    }
}

#[test]
fn ttl_and_container_creates() {
    let mut h = Harness::extended();
    let ttl = |flags, ttl| {
        WriteRequest::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        })
    };
    assert_eq!(failed(&h.run(ttl(5, 0))), Some(ErrorCode::BadArguments));
    assert_eq!(
        failed(&h.run(ttl(5, TTL_MAX_MS + 1))),
        Some(ErrorCode::BadArguments)
    );
    // A plain create with TTL flags has ttl −1: BADARGUMENTS.
    assert_eq!(
        failed(&h.run(create("/t", 5))),
        Some(ErrorCode::BadArguments)
    );
    let out = h.run(ttl(6, 500));
    match &out.result {
        OpOutcome::Created { op, path, stat } => {
            assert_eq!(
                (*op, path.as_str(), stat.ephemeral_owner),
                (OpCode::CreateTtl, "/t0000000000", 0)
            );
        }
        other => panic!("{other:?}"),
    }
    let owner = h
        .tree
        .get("/t0000000000")
        .expect("t")
        .persisted()
        .ephemeral_owner;
    assert_eq!(owner, EphemeralType::ttl_owner(500).expect("ttl"));
    let out = h.run(WriteRequest::Create {
        op: OpCode::CreateContainer,
        req: create_req("/c", 4),
    });
    assert!(matches!(
        out.result,
        OpOutcome::Created {
            op: OpCode::CreateContainer,
            ..
        }
    ));
    assert_eq!(
        h.tree.get("/c").expect("c").persisted().ephemeral_owner,
        i64::MIN
    );
    // Containers may have children (they are not session ephemerals).
    assert!(failed(&h.run(create("/c/x", 0))).is_none());
}

#[test]
fn delete_error_codes() {
    let mut h = Harness::new();
    h.run(create("/a", 0));
    h.run(create("/a/b", 0));
    h.run(create_acl(
        "/nodel",
        vec![Acl::new(perms::ALL & !perms::DELETE, "world", "anyone")],
    ));
    h.run(create("/nodel/c", 0));
    for (req, code) in [
        (delete("/", -1), ErrorCode::BadArguments),
        (delete("/zookeeper", -1), ErrorCode::BadArguments),
        (delete("/zookeeper/quota", -1), ErrorCode::BadArguments),
        (delete("/zookeeper/config", -1), ErrorCode::BadArguments),
        (delete("a", -1), ErrorCode::BadArguments),
        (delete("/x/y", -1), ErrorCode::NoNode),
        (delete("/nodel/c", -1), ErrorCode::NoAuth),
        (delete("/a/zz", -1), ErrorCode::NoNode),
        // No full path validation for delete: a trailing '/' is just a missing node.
        (delete("/a/", -1), ErrorCode::NoNode),
        (delete("/a/b", 7), ErrorCode::BadVersion),
        (delete("/a", -1), ErrorCode::NotEmpty),
    ] {
        assert_eq!(failed(&h.run(req.clone())), Some(code), "{req:?}");
    }
    assert!(failed(&h.run(delete("/a/b", 0))).is_none());
}

#[test]
fn set_data_set_acl_check_error_codes() {
    let mut h = Harness::new();
    h.run(create("/a", 0));
    h.run(create_acl(
        "/noread",
        vec![Acl::new(perms::ALL & !perms::READ, "world", "anyone")],
    ));
    h.run(create_acl(
        "/noadmin",
        vec![Acl::new(perms::ALL & !perms::ADMIN, "world", "anyone")],
    ));
    for (req, code) in [
        (set_data("a", -1), ErrorCode::BadArguments),
        (set_data("/a/", -1), ErrorCode::BadArguments),
        (set_data("/b", -1), ErrorCode::NoNode),
        // /zookeeper/config is world:anyone READ only.
        (set_data("/zookeeper/config", -1), ErrorCode::NoAuth),
        (set_data("/a", 3), ErrorCode::BadVersion),
        (
            set_acl("/a/", Acl::open_unsafe(), -1),
            ErrorCode::BadArguments,
        ),
        // INVALIDACL before NONODE.
        (set_acl("/b", vec![], -1), ErrorCode::InvalidAcl),
        (set_acl("/b", Acl::open_unsafe(), -1), ErrorCode::NoNode),
        (
            set_acl("/noadmin", Acl::open_unsafe(), -1),
            ErrorCode::NoAuth,
        ),
        (set_acl("/a", Acl::open_unsafe(), 1), ErrorCode::BadVersion),
        (check("/a/", 0), ErrorCode::BadArguments),
        (check("/b", 0), ErrorCode::NoNode),
        (check("/noread", 0), ErrorCode::NoAuth),
        (check("/a", 5), ErrorCode::BadVersion),
    ] {
        assert_eq!(failed(&h.run(req.clone())), Some(code), "{req:?}");
    }
    let (txn, out) = h.run_as(1, &[], check("/a", 0));
    // CheckVersionTxn carries the checked version + 1.
    assert_eq!(
        txn,
        Txn::Check(CheckVersionTxn {
            path: "/a".into(),
            version: 1
        })
    );
    assert_eq!(out.result, OpOutcome::Checked { path: "/a".into() });
    // A super id passes every ACL check.
    let sup = [Id::new("super", "")];
    let (_, out) = h.run_as(1, &sup, set_data("/zookeeper/config", -1));
    assert!(failed(&out).is_none());
}

#[test]
fn auth_acl_expands_and_digest_grants() {
    let mut h = Harness::new();
    let bob = Id::new("digest", &digest_of("bob:secret"));
    let ids = [Id::new("ip", "127.0.0.1"), bob.clone()];
    let (txn, _) = h.run_as(
        1,
        &ids,
        create_acl("/p", vec![Acl::new(perms::ALL, "auth", "")]),
    );
    match txn {
        Txn::Create(t) => assert_eq!(
            t.acl,
            vec![Acl {
                perms: perms::ALL,
                id: bob.clone()
            }]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        failed(&h.run_as(2, &[], set_data("/p", -1)).1),
        Some(ErrorCode::NoAuth)
    );
    assert!(failed(
        &h.run_as(2, std::slice::from_ref(&bob), set_data("/p", -1))
            .1
    )
    .is_none());
    // getACL without ADMIN masks the digest.
    let acl = h.tree.get("/p").expect("p").acl().to_vec();
    assert_eq!(mask_digests_for_get_acl(&acl)[0].id.id, "bob:x");
}

fn multi(ops: Vec<MultiOp>) -> WriteRequest {
    WriteRequest::Multi(MultiRequest { ops })
}

fn m_create(op: OpCode, path: &str, flags: i32) -> MultiOp {
    MultiOp::Create {
        op,
        req: create_req(path, flags),
    }
}

#[test]
fn multi_success_shapes() {
    let mut h = Harness::new();
    let out = h.run(multi(vec![
        m_create(OpCode::Create, "/m", 0),
        m_create(OpCode::Create2, "/m/c", 0),
        // A create header with container flags becomes createContainer (3.9.5 Op.create).
        m_create(OpCode::Create, "/m/box", 4),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: 0,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/m/c".into(),
            version: 0,
        }),
    ]));
    let OpOutcome::Multi { results, err } = out.result else {
        panic!("not multi")
    };
    assert_eq!(err, ErrorCode::Ok);
    assert_eq!(results.len(), 6);
    assert_eq!(
        results[0],
        OpResult::Create(CreateResponse { path: "/m".into() })
    );
    match &results[1] {
        OpResult::Create2 { op, resp } => {
            // Every sub-txn has the multi's zxid (1).
            assert_eq!(
                (*op, resp.path.as_str(), resp.stat.czxid),
                (OpCode::Create2, "/m/c", 1)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &results[2],
        OpResult::Create2 {
            op: OpCode::CreateContainer,
            ..
        }
    ));
    match &results[3] {
        OpResult::SetData(r) => assert_eq!((r.stat.version, r.stat.data_length), (1, 0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(results[4], OpResult::Check);
    assert_eq!(results[5], OpResult::Delete);
    // Triggers in op order.
    let names: Vec<(String, i32)> = out
        .triggers
        .iter()
        .map(|t| (t.path.clone(), t.event_type))
        .collect();
    assert_eq!(
        names,
        vec![
            ("/m".into(), NODE_CREATED),
            ("/".into(), NODE_CHILDREN_CHANGED),
            ("/m/c".into(), NODE_CREATED),
            ("/m".into(), NODE_CHILDREN_CHANGED),
            ("/m/box".into(), NODE_CREATED),
            ("/m".into(), NODE_CHILDREN_CHANGED),
            ("/m".into(), NODE_DATA_CHANGED),
            ("/m/c".into(), NODE_DELETED),
            ("/m".into(), NODE_CHILDREN_CHANGED),
        ]
    );
    // An empty multi is fine.
    let out = h.run(multi(vec![]));
    assert_eq!(
        out.result,
        OpOutcome::Multi {
            results: vec![],
            err: ErrorCode::Ok
        }
    );
}

#[test]
fn multi_failure_shapes_and_no_effect() {
    let mut h = Harness::new();
    let before = h.tree.clone();
    let (txn, out) = h.run_as(
        1,
        &[],
        multi(vec![
            m_create(OpCode::Create, "/m", 0),
            m_create(OpCode::Create, "/m/c", 0),
            // Sees the earlier ops: /m has a child now.
            MultiOp::Delete(DeleteRequest {
                path: "/m".into(),
                version: -1,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 0,
            }),
        ]),
    );
    // Logged as ZooKeeper does: earlier txns kept, failing op's code, then −2.
    match &txn {
        Txn::Multi(t) => {
            assert!(matches!(t[0], Txn::Create(_)));
            assert!(matches!(t[1], Txn::Create(_)));
            assert_eq!(t[2], Txn::error(ErrorCode::NotEmpty));
            assert_eq!(t[3], Txn::error(ErrorCode::RuntimeInconsistency));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.result,
        OpOutcome::Multi {
            results: vec![
                OpResult::Error(0),
                OpResult::Error(0),
                OpResult::Error(ErrorCode::NotEmpty.code()),
                OpResult::Error(-2),
            ],
            err: ErrorCode::NotEmpty,
        }
    );
    assert!(out.triggers.is_empty());
    assert_eq!(h.tree, before);
}

#[test]
fn multi_marshalling_errors() {
    let mut h = Harness::new();
    // Any read op in a multi: MARSHALLINGERROR for the whole request.
    let (txn, _) = h.run_as(
        1,
        &[],
        multi(vec![
            m_create(OpCode::Create, "/m", 0),
            MultiOp::GetData(GetDataRequest {
                path: "/m".into(),
                watch: false,
            }),
        ]),
    );
    assert_eq!(txn, Txn::error(ErrorCode::MarshallingError));
    // Unknown flags in a create op, or TTL flags in a create header.
    for flags in [42, 5] {
        let (txn, _) = h.run_as(1, &[], multi(vec![m_create(OpCode::Create, "/m", flags)]));
        assert_eq!(txn, Txn::error(ErrorCode::MarshallingError));
    }
    // A createTTL op with non-TTL flags becomes a plain create; ttl dropped.
    let (txn, _) = h.run_as(
        1,
        &[],
        multi(vec![MultiOp::CreateTtl(CreateTtlRequest {
            path: "/p".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: 5,
        })]),
    );
    assert!(
        matches!(&txn, Txn::Multi(t) if matches!(t[0], Txn::Create(_))),
        "{txn:?}"
    );
}

#[test]
fn close_session_deletes_ephemerals() {
    let mut h = Harness::new();
    h.run(create("/p", 0));
    h.run_as(7, &[], create("/p/e1", 1));
    h.run_as(7, &[], create("/p/e2", 3));
    h.run_as(8, &[], create("/p/other", 1));
    let (txn, out) = h.run_as(7, &[], WriteRequest::CloseSession);
    assert_eq!(
        txn,
        Txn::CloseSession(CloseSessionTxn {
            paths2_delete: vec!["/p/e1".into(), "/p/e20000000001".into()]
        })
    );
    assert_eq!(
        out.result,
        OpOutcome::SessionClosed {
            deleted: vec!["/p/e1".into(), "/p/e20000000001".into()]
        }
    );
    assert_eq!(out.triggers.len(), 4);
    assert_eq!(h.tree.ephemerals_count(), 1);
    assert_eq!(h.tree.get("/p").expect("p").stat().pzxid, h.zxid);
}

#[test]
fn pipelined_prep_sees_outstanding_changes() {
    let tree = DataTree::new();
    let mut pending = Outstanding::new();
    let ctx = PrepContext {
        session_id: 7,
        auth_ids: &[],
        providers: &crate::tree::AuthProviders::all(),
        extended_types_enabled: false,
        enforce_quota: false,
    };
    let t1 = prep_with(&tree, &mut pending, &ctx, 1, &create("/a", 0));
    let t2 = prep_with(&tree, &mut pending, &ctx, 2, &create("/a/e", 1));
    // The second create of /a sees the first (not yet applied).
    let t3 = prep_with(&tree, &mut pending, &ctx, 3, &create("/a", 0));
    assert_eq!(t3, Txn::error(ErrorCode::NodeExists));
    // A sequential create sees the pending cversion.
    let t4 = prep_with(&tree, &mut pending, &ctx, 4, &create("/a/s", 2));
    assert!(
        matches!(&t4, Txn::Create2(c) if c.path == "/a/s0000000001"),
        "{t4:?}"
    );
    // closeSession includes the pending ephemeral.
    let t5 = prep_with(&tree, &mut pending, &ctx, 5, &WriteRequest::CloseSession);
    assert_eq!(
        t5,
        Txn::CloseSession(CloseSessionTxn {
            paths2_delete: vec!["/a/e".into()]
        })
    );
    let mut tree = tree;
    for (z, t) in [(1, &t1), (2, &t2), (3, &t3), (4, &t4), (5, &t5)] {
        let hdr = TxnHeader::for_txn(7, z as i32, z, 100, t);
        apply(&mut tree, &hdr, t);
        pending.commit_up_to(z);
    }
    assert!(pending.is_empty());
    assert!(tree.get("/a/e").is_none());
    assert!(tree.get("/a/s0000000001").is_some());
}

#[test]
fn container_and_ttl_reaping_through_delete_container() {
    let mut h = Harness::extended();
    h.run(WriteRequest::Create {
        op: OpCode::CreateContainer,
        req: create_req("/c", 4),
    });
    h.run(create("/c/x", 0));
    h.run(delete("/c/x", -1));
    h.run(WriteRequest::CreateTtl(CreateTtlRequest {
        path: "/t".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 100,
    }));
    let now = h.time + 101;
    let expired = h.tree.expired_containers_and_ttls(now, 0);
    assert_eq!(expired, vec!["/c", "/t"]);
    for p in expired {
        let out = h.run(WriteRequest::DeleteContainer { path: p.clone() });
        assert_eq!(out.result, OpOutcome::Deleted { path: p });
    }
    assert_eq!(h.tree.containers().count() + h.tree.ttls().count(), 0);
    // deleteContainer refuses session ephemerals (BADVERSION) and non-empty nodes,
    // but not plain persistent nodes (EphemeralType VOID), as ZooKeeper.
    h.run_as(9, &[], create("/e", 1));
    h.run(create("/full", 0));
    h.run(create("/full/k", 0));
    for (p, code) in [
        ("/e", Some(ErrorCode::BadVersion)),
        ("/full", Some(ErrorCode::NotEmpty)),
        ("/missing", Some(ErrorCode::NoNode)),
        ("/zookeeper", Some(ErrorCode::BadArguments)),
        ("/full/k", None),
    ] {
        let out = h.run(WriteRequest::DeleteContainer { path: p.into() });
        assert_eq!(failed(&out), code, "{p}");
    }
}

#[test]
fn txn_codec_round_trips() {
    let txns = vec![
        Txn::Create(CreateTxn {
            path: "/a".into(),
            data: Some(NodeData::new(b"d")),
            acl: Acl::open_unsafe(),
            ephemeral: true,
            parent_cversion: 3,
        }),
        Txn::CreateTtl(CreateTtlTxn {
            path: "/t".into(),
            data: None,
            acl: Acl::read_unsafe(),
            parent_cversion: 1,
            ttl: 9,
        }),
        Txn::CloseSession(CloseSessionTxn {
            paths2_delete: vec!["/x".into()],
        }),
        Txn::Multi(vec![
            Txn::Delete(DeleteTxn { path: "/a".into() }),
            Txn::error(ErrorCode::NoNode),
            Txn::Check(CheckVersionTxn {
                path: "/b".into(),
                version: 2,
            }),
        ]),
        Txn::Multi(vec![]),
    ];
    for t in txns {
        let hdr = TxnHeader::for_txn(5, 6, 7, 8, &t);
        let hb = hdr.to_bytes();
        // TxnHeader: long, int, long, long, int.
        assert_eq!(hb.len(), 8 + 4 + 8 + 8 + 4);
        assert_eq!(TxnHeader::from_bytes(hb), Ok(hdr.clone()));
        let mut r = Reader::new(t.to_bytes());
        assert_eq!(Txn::decode_body(hdr.op, &mut r), Ok(t));
        assert_eq!(r.remaining(), 0);
    }
    // An empty closeSession body (old logs) reads as no paths.
    let mut r = Reader::new(Bytes::new());
    assert_eq!(
        Txn::decode_body(-11, &mut r),
        Ok(Txn::CloseSession(CloseSessionTxn::default()))
    );
    // A multi sub-txn type that processTxn refuses is a decode error, not a panic.
    let bad = Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 14, 0, 0, 0, 0]);
    assert!(Txn::decode_body(14, &mut Reader::new(bad)).is_err());
    assert!(Txn::decode_body(99, &mut Reader::new(Bytes::new())).is_err());
    // A failed multi as a Java leader's DIFF sends it: the first sub-txn is typed
    // error but still holds its create's bytes. Its error code is what ZooKeeper
    // reads (the first int); the rest is ignored, as there.
    let create = CreateTxn {
        path: "/x".into(),
        data: None,
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: 1,
    }
    .to_bytes();
    let mut multi = bytes::BytesMut::new();
    use bytes::BufMut;
    multi.put_i32(2);
    multi.put_i32(OpCode::Error as i32);
    multi.put_i32(create.len() as i32);
    multi.put_slice(&create);
    let err = ErrorTxn { err: -101 }.to_bytes();
    multi.put_i32(OpCode::Error as i32);
    multi.put_i32(err.len() as i32);
    multi.put_slice(&err);
    let txn = Txn::decode_body(14, &mut Reader::new(multi.freeze())).expect("Java's failed multi");
    assert_eq!(
        txn,
        Txn::Multi(vec![
            Txn::Error(ErrorTxn { err: 2 }),
            Txn::Error(ErrorTxn { err: -101 })
        ])
    );
    // Other sub-txns stay exact.
    let mut multi = bytes::BytesMut::new();
    multi.put_i32(1);
    multi.put_i32(OpCode::Delete as i32);
    multi.put_i32(create.len() as i32);
    multi.put_slice(&create);
    assert!(Txn::decode_body(14, &mut Reader::new(multi.freeze())).is_err());
}

/// Random valid and invalid requests over a small path space.
fn random_request(rng: &mut StdRng, tree: &DataTree) -> (i64, WriteRequest) {
    const NAMES: [&str; 4] = ["a", "b", "c", "d"];
    let mut path = String::new();
    for _ in 0..rng.gen_range(1..=3) {
        path.push('/');
        path.push_str(NAMES[rng.gen_range(0..NAMES.len())]);
    }
    let session = rng.gen_range(1..=3);
    let version = if rng.gen_bool(0.7) {
        -1
    } else {
        rng.gen_range(0..3)
    };
    let _ = tree;
    let req = match rng.gen_range(0..9) {
        0..=2 => create(&path, [0, 1, 2, 3, 4][rng.gen_range(0..5)]),
        3 => delete(&path, version),
        4 => set_data(&path, version),
        5 => set_acl(
            &path,
            if rng.gen_bool(0.5) {
                Acl::open_unsafe()
            } else {
                Acl::read_unsafe()
            },
            version,
        ),
        6 => WriteRequest::CloseSession,
        7 => WriteRequest::DeleteContainer { path },
        _ => multi(vec![
            m_create(OpCode::Create2, &path, 0),
            MultiOp::SetData(SetDataRequest {
                path: path.clone(),
                data: None,
                version: -1,
            }),
            MultiOp::Delete(DeleteRequest { path, version }),
        ]),
    };
    (session, req)
}

#[test]
fn seeded_replicas_stay_identical() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut leader = DataTree::new();
        let mut follower = DataTree::new();
        let mut pending = Outstanding::new();
        let mut zxid = 0i64;
        let (mut applied, mut multis_ok) = (0, 0);
        for _round in 0..60 {
            // Prep a pipelined batch against leader + outstanding, then apply it.
            let batch: Vec<(TxnHeader, Txn)> = (0..rng.gen_range(1..5))
                .map(|_| {
                    let (session, req) = random_request(&mut rng, &leader);
                    zxid += 1;
                    let ctx = PrepContext {
                        session_id: session,
                        auth_ids: &[],
                        providers: &crate::tree::AuthProviders::all(),
                        extended_types_enabled: false,
                        enforce_quota: false,
                    };
                    let txn = prep_with(&leader, &mut pending, &ctx, zxid, &req);
                    (TxnHeader::for_txn(session, 0, zxid, zxid * 10, &txn), txn)
                })
                .collect();
            for (hdr, txn) in &batch {
                let out = apply(&mut leader, hdr, txn);
                if !matches!(txn, Txn::Error(_)) {
                    applied += 1;
                }
                if matches!(&out.result, OpOutcome::Multi { err: ErrorCode::Ok, results } if !results.is_empty())
                {
                    multis_ok += 1;
                }
                // A txn prep let through must apply cleanly.
                if !matches!(txn, Txn::Error(_)) {
                    match &out.result {
                        OpOutcome::Failed(e) => panic!("seed {seed}: {txn:?} failed with {e}"),
                        OpOutcome::Multi { err, .. } if !txn_has_error(txn) => {
                            assert_eq!(*err, ErrorCode::Ok, "seed {seed}: {txn:?}")
                        }
                        _ => {}
                    }
                }
                // The follower gets the txn through the log encoding.
                let hdr2 = TxnHeader::from_bytes(hdr.to_bytes()).expect("hdr");
                let mut r = Reader::new(txn.to_bytes());
                let txn2 = Txn::decode_body(hdr2.op, &mut r).expect("txn");
                let out2 = apply(&mut follower, &hdr2, &txn2);
                assert_eq!(out, out2, "seed {seed}");
                pending.commit_up_to(hdr.zxid);
            }
            assert!(pending.is_empty());
            leader.validate();
            assert_eq!(leader, follower, "seed {seed}");
        }
        // The generator must exercise successful writes, not only errors.
        assert!(
            applied > 40 && multis_ok > 0,
            "seed {seed}: {applied} applied, {multis_ok} multis"
        );
    }
}

fn txn_has_error(t: &Txn) -> bool {
    matches!(t, Txn::Multi(ts) if ts.iter().any(|t| matches!(t, Txn::Error(_))))
}

#[test]
fn txn_is_send_and_clone() {
    fn ok<T: Send + Clone>() {}
    ok::<Txn>();
    ok::<ApplyOutcome>();
}

/// The quorum core preps against the committed tree plus the outstanding changes,
/// with the tree lagging behind by any number of prepared txns. Each txn must be
/// exactly what prep makes on a tree that had every earlier txn applied at once.
#[test]
fn prep_through_outstanding_matches_prep_on_an_up_to_date_tree() {
    // 20,000 seeds passed once; 100 keep the test fast.
    for seed in 0..100u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut eager = DataTree::new();
        let mut committed = DataTree::new();
        let mut pending = Outstanding::new();
        let mut unapplied: std::collections::VecDeque<(TxnHeader, Txn)> = Default::default();
        let mut ok = 0;
        for zxid in 1..=400i64 {
            let (session, req) = random_request(&mut rng, &eager);
            let ctx = PrepContext {
                session_id: session,
                auth_ids: &[],
                providers: &crate::tree::AuthProviders::all(),
                extended_types_enabled: false,
                enforce_quota: false,
            };
            let expected = prep(&eager, &ctx, &req);
            let txn = prep_with(&committed, &mut pending, &ctx, zxid, &req);
            assert_eq!(txn, expected, "seed {seed} zxid {zxid}: {req:?}");
            if !matches!(txn, Txn::Error(_)) {
                ok += 1;
            }
            let hdr = TxnHeader::for_txn(session, 0, zxid, zxid * 10, &txn);
            let _ = apply(&mut eager, &hdr, &txn);
            unapplied.push_back((hdr, txn));
            // The committed tree catches up by a random prefix now and then.
            if rng.gen_bool(0.3) {
                for _ in 0..rng.gen_range(0..=unapplied.len()) {
                    let Some((hdr, txn)) = unapplied.pop_front() else {
                        break;
                    };
                    let _ = apply(&mut committed, &hdr, &txn);
                    pending.commit_up_to(hdr.zxid);
                }
            }
        }
        while let Some((hdr, txn)) = unapplied.pop_front() {
            let _ = apply(&mut committed, &hdr, &txn);
            pending.commit_up_to(hdr.zxid);
        }
        assert!(pending.is_empty());
        assert_eq!(committed, eager, "seed {seed}");
        assert!(ok > 60, "seed {seed}: only {ok} txns succeeded");
    }
}

fn create_with(path: &str, d: Option<&str>, flags: i32) -> WriteRequest {
    WriteRequest::Create {
        op: OpCode::Create,
        req: CreateRequest {
            path: path.into(),
            data: d.and_then(data),
            acl: Acl::open_unsafe(),
            flags,
        },
    }
}

fn stats_of(tree: &DataTree) -> String {
    let n = tree
        .get("/zookeeper/quota/app/zookeeper_stats")
        .expect("stats");
    String::from_utf8_lossy(n.data().map_or(&b""[..], |d| &d[..])).into_owned()
}

/// /app "a1" with two children, and a quota on it made as zkCli's `setquota` makes
/// it, all through prep and apply.
fn quota_harness() -> Harness {
    let mut h = Harness::new();
    h.run(create_with("/app", Some("a1"), 0));
    h.run(create_with("/app/a", Some("12345"), 0));
    h.run(create_with("/app/b", Some("xyz"), 0));
    h.run(create_with("/zookeeper/quota/app", None, 0));
    h.run(create_with(
        "/zookeeper/quota/app/zookeeper_limits",
        Some("count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"),
        0,
    ));
    h.run(create_with(
        "/zookeeper/quota/app/zookeeper_stats",
        Some("count=0,bytes=0"),
        0,
    ));
    assert_eq!(stats_of(&h.tree), "count=3,bytes=10");
    h
}

#[test]
fn multi_keeps_quota_stats_per_sub_txn_and_a_failed_multi_none() {
    let mut h = quota_harness();
    let out = h.run(multi(vec![
        MultiOp::Create {
            op: OpCode::Create,
            req: CreateRequest {
                path: "/app/m".into(),
                data: data("1234"),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        },
        MultiOp::SetData(SetDataRequest {
            path: "/app/a".into(),
            data: data("1"),
            version: -1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/app/b".into(),
            version: -1,
        }),
    ]));
    assert!(
        matches!(
            &out.result,
            OpOutcome::Multi {
                err: ErrorCode::Ok,
                ..
            }
        ),
        "{out:?}"
    );
    // +1 node +4 bytes, −4 bytes, −1 node −3 bytes.
    assert_eq!(stats_of(&h.tree), "count=3,bytes=7");
    let before = h.tree.clone();
    let out = h.run(multi(vec![
        m_create(OpCode::Create, "/app/n", 0),
        MultiOp::Delete(DeleteRequest {
            path: "/app/nope".into(),
            version: -1,
        }),
    ]));
    assert!(
        matches!(
            &out.result,
            OpOutcome::Multi {
                err: ErrorCode::NoNode,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(stats_of(&h.tree), "count=3,bytes=7");
    assert_eq!(h.tree, before);
}

#[test]
fn sequential_and_ephemeral_nodes_count_and_a_closed_session_uncounts() {
    let mut h = quota_harness();
    // Ephemeral sequential (flags 3) from session 7, then its session closes.
    let (_, out) = h.run_as(7, &[], create_with("/app/e-", Some("ee"), 3));
    assert_eq!(created_path(&out), "/app/e-0000000002");
    h.run_as(7, &[], create_with("/app/s-", None, 2));
    assert_eq!(stats_of(&h.tree), "count=5,bytes=12");
    let (_, out) = h.run_as(7, &[], WriteRequest::CloseSession);
    assert!(matches!(out.result, OpOutcome::SessionClosed { .. }));
    assert_eq!(stats_of(&h.tree), "count=4,bytes=10");
    // The stats node's Stat never moved: version 0, mzxid of its own create (6).
    let s = h
        .tree
        .get("/zookeeper/quota/app/zookeeper_stats")
        .expect("stats")
        .stat();
    assert_eq!((s.version, s.mzxid), (0, 6));
}

/// The model of a znode for `versions_follow_a_simple_model_through_multis`.
#[derive(Clone, Debug, PartialEq)]
struct ModelNode {
    data: Vec<u8>,
    version: i32,
    aversion: i32,
    writable: bool,
}

/// The whole model: every znode under `/t` by path.
type Model = std::collections::BTreeMap<String, ModelNode>;

fn model_parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

fn model_has_children(m: &Model, path: &str) -> bool {
    let prefix = format!("{path}/");
    m.range(prefix.clone()..)
        .next()
        .is_some_and(|(p, _)| p.starts_with(&prefix))
}

/// One model op; `Err(())` if ZooKeeper would refuse it (the model changes only on Ok).
fn model_apply(m: &mut Model, op: &MultiOp) -> Result<(), ()> {
    let ok_version = |want: i32, have: i32| want == -1 || want == have;
    match op {
        MultiOp::Create { req, .. } => {
            let parent = model_parent(&req.path);
            if m.contains_key(&req.path) || (parent != "/t" && !m.contains_key(parent)) {
                return Err(());
            }
            let data = req.data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
            m.insert(
                req.path.clone(),
                ModelNode {
                    data,
                    version: 0,
                    aversion: 0,
                    writable: true,
                },
            );
        }
        MultiOp::Delete(r) => {
            let n = m.get(&r.path).ok_or(())?;
            if !ok_version(r.version, n.version) || model_has_children(m, &r.path) {
                return Err(());
            }
            m.remove(&r.path);
        }
        MultiOp::SetData(r) => {
            let n = m.get_mut(&r.path).ok_or(())?;
            if !n.writable || !ok_version(r.version, n.version) {
                return Err(());
            }
            n.data = r.data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
            n.version = n.version.wrapping_add(1);
        }
        MultiOp::Check(r) => {
            let n = m.get(&r.path).ok_or(())?;
            if !ok_version(r.version, n.version) {
                return Err(());
            }
        }
        _ => unreachable!("the test makes no other op"),
    }
    Ok(())
}

/// What the tree holds under `/t`, in the model's shape.
fn tree_as_model(t: &DataTree) -> Model {
    let mut out = Model::new();
    let mut todo = vec!["/t".to_string()];
    while let Some(p) = todo.pop() {
        let node = t.get(&p).expect("listed child exists");
        for c in node.children() {
            todo.push(format!("{p}/{c}"));
        }
        if p == "/t" {
            continue;
        }
        let stat = node.stat();
        out.insert(
            p,
            ModelNode {
                data: node
                    .data()
                    .map(|d| d.shared_bytes().to_vec())
                    .unwrap_or_default(),
                version: stat.version,
                aversion: stat.aversion,
                writable: node.acl().iter().any(|a| a.perms & perms::WRITE != 0),
            },
        );
    }
    out
}

/// Random batches of creates, deletes, setData, setACL and multis (some failing, so
/// they must change nothing) over a deep chain and a directory of thousands, each
/// checked against a plain map after every batch; every 25th version is pinned with
/// the model of that moment and must still read exactly that at the end, after all
/// the later batches (issue 11's property test).
#[test]
fn versions_follow_a_simple_model_through_multis() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut h = Harness::new();
    h.run(create("/t", 0));
    h.run(create("/t/w", 0));
    let mut model = Model::new();
    model.insert(
        "/t/w".into(),
        ModelNode {
            data: b"x".to_vec(),
            version: 0,
            aversion: 0,
            writable: true,
        },
    );
    let mut pinned: Vec<(DataTree, Model)> = Vec::new();
    let locked = vec![Acl::new(perms::ALL & !perms::WRITE, "world", "anyone")];
    let pick_path = |rng: &mut StdRng| -> String {
        if rng.gen_bool(0.5) {
            // Wide: one directory with up to 3000 children (many B+tree leaves).
            format!(
                "/t/w{}",
                if rng.gen_bool(0.02) {
                    "".to_string()
                } else {
                    format!("/c{}", rng.gen_range(0..3000))
                }
            )
        } else {
            // Deep: a chain up to 10 levels, with a leaf beside each level.
            let depth = rng.gen_range(1..=10);
            let mut p = "/t".to_string();
            for _ in 0..depth {
                p.push_str("/d");
            }
            if rng.gen_bool(0.3) {
                p.push_str(&format!("/x{}", rng.gen_range(0..4)));
            }
            p
        }
    };
    let random_op = |rng: &mut StdRng, model: &Model| -> MultiOp {
        let path = pick_path(rng);
        let have = model.get(&path).map(|n| n.version).unwrap_or(0);
        let version = match rng.gen_range(0..4) {
            0 => -1,
            1 => have + 1,
            _ => have,
        };
        let value = Some(Bytes::from(format!("v{}", rng.gen_range(0..1000))));
        match rng.gen_range(0..10) {
            0..=3 => MultiOp::Create {
                op: OpCode::Create,
                req: CreateRequest {
                    path,
                    data: value,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            },
            4..=5 => MultiOp::Delete(DeleteRequest { path, version }),
            6..=8 => MultiOp::SetData(SetDataRequest {
                path,
                data: value,
                version,
            }),
            _ => MultiOp::Check(CheckVersionRequest { path, version }),
        }
    };
    let mut applied_ok = 0;
    for batch in 0..3000 {
        for _ in 0..rng.gen_range(1..=6) {
            let kind = rng.gen_range(0..10);
            if kind < 6 {
                let op = random_op(&mut rng, &model);
                let expect = model_apply(&mut model.clone(), &op).is_ok();
                let req = match op.clone() {
                    MultiOp::Create { op, req } => WriteRequest::Create { op, req },
                    MultiOp::Delete(r) => WriteRequest::Delete(r),
                    MultiOp::SetData(r) => WriteRequest::SetData(r),
                    MultiOp::Check(r) => WriteRequest::Check(r),
                    _ => unreachable!(),
                };
                let out = h.run(req);
                assert_eq!(
                    failed(&out).is_none(),
                    expect,
                    "batch {batch}: {op:?} -> {out:?}"
                );
                if expect {
                    model_apply(&mut model, &op).expect("checked");
                    applied_ok += 1;
                }
            } else if kind < 9 {
                let ops: Vec<MultiOp> = (0..rng.gen_range(2..=4))
                    .map(|_| random_op(&mut rng, &model))
                    .collect();
                let mut after = model.clone();
                let expect = ops.iter().all(|op| model_apply(&mut after, op).is_ok());
                let out = h.run(multi(ops.clone()));
                let OpOutcome::Multi { err, .. } = &out.result else {
                    panic!("batch {batch}: a multi answered {out:?}");
                };
                assert_eq!(
                    *err == ErrorCode::Ok,
                    expect,
                    "batch {batch}: multi {ops:?} -> {out:?}"
                );
                if expect {
                    model = after;
                    applied_ok += 1;
                }
            } else {
                let path = pick_path(&mut rng);
                let Some(n) = model.get(&path).cloned() else {
                    continue;
                };
                let lock = rng.gen_bool(0.5);
                let acl = if lock {
                    locked.clone()
                } else {
                    Acl::open_unsafe()
                };
                let out = h.run(set_acl(&path, acl, n.aversion));
                assert!(
                    failed(&out).is_none(),
                    "batch {batch}: setACL {path} -> {out:?}"
                );
                let m = model.get_mut(&path).expect("present");
                m.aversion += 1;
                m.writable = !lock;
            }
        }
        assert_eq!(
            tree_as_model(&h.tree),
            model,
            "batch {batch}: the tree left the model"
        );
        if batch % 25 == 0 {
            pinned.push((h.tree.clone(), model.clone()));
        }
    }
    assert!(
        applied_ok > 2000,
        "too few writes took effect ({applied_ok}) to test much"
    );
    assert!(model.len() > 500, "the tree stayed small ({})", model.len());
    for (i, (version, seen)) in pinned.iter().enumerate() {
        version.validate();
        assert_eq!(&tree_as_model(version), seen, "pinned version {i} changed");
    }
}

// ----- quotas (`enforceQuota`): ZooKeeper 3.9's `ZooKeeperServer.checkQuota` -----

fn q_create(path: &str, bytes: &str) -> WriteRequest {
    WriteRequest::Create {
        op: OpCode::Create,
        req: CreateRequest {
            path: path.into(),
            data: data(bytes),
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    }
}

fn set_data_to(path: &str, bytes: &str, version: i32) -> WriteRequest {
    WriteRequest::SetData(SetDataRequest {
        path: path.into(),
        data: data(bytes),
        version,
    })
}

/// `/q` (data "x") with a quota whose limits node holds `limits`, set up as zkCli's
/// setquota does it (limits node, then a stats node the tree fills in), with
/// enforcement on.
fn enforced_quota(limits: &str) -> Harness {
    let mut h = Harness::new();
    h.enforce_quota = true;
    for req in [
        q_create("/q", "x"),
        q_create("/zookeeper/quota/q", ""),
        q_create("/zookeeper/quota/q/zookeeper_limits", limits),
        q_create("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"),
    ] {
        assert!(
            matches!(h.run(req).result, OpOutcome::Created { .. }),
            "quota setup"
        );
    }
    assert_eq!(stats(&h), "count=1,bytes=1");
    h
}

fn stats(h: &Harness) -> String {
    let n = h
        .tree
        .get("/zookeeper/quota/q/zookeeper_stats")
        .expect("stats");
    String::from_utf8_lossy(n.data().expect("data")).into_owned()
}

fn quota_exceeded() -> Txn {
    Txn::error(ErrorCode::QuotaExceeded)
}

/// Prepares `req` against `h`'s tree and `out` (nothing applied) with enforcement.
fn prep_pending(h: &Harness, out: &mut Outstanding, zxid: i64, req: &WriteRequest) -> Txn {
    let ctx = PrepContext {
        session_id: 1,
        auth_ids: &[],
        providers: &crate::tree::AuthProviders::all(),
        extended_types_enabled: false,
        enforce_quota: true,
    };
    prep_with(&h.tree, out, &ctx, zxid, req)
}

#[test]
fn quota_hard_count_refuses_creates_past_it() {
    let limits = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3";
    let mut h = enforced_quota(limits);
    h.run(q_create("/q/a", "1"));
    h.run(q_create("/q/b", "1"));
    assert_eq!(stats(&h), "count=3,bytes=3");
    let (txn, _) = h.run_as(1, &[], q_create("/q/c", "1"));
    assert_eq!(txn, quota_exceeded());
    // Outside the quota, and setData (no count change), are not limited by count.
    assert!(matches!(
        h.run(q_create("/r", "1")).result,
        OpOutcome::Created { .. }
    ));
    assert!(matches!(
        h.run(set_data_to("/q/a", "22", -1)).result,
        OpOutcome::DataSet { .. }
    ));
    // Path errors come first: NODEEXISTS, not QUOTAEXCEEDED.
    let (txn, _) = h.run_as(1, &[], q_create("/q/a", "1"));
    assert_eq!(txn, Txn::error(ErrorCode::NodeExists));
    // A delete makes room again.
    h.run(delete("/q/b", -1));
    assert!(matches!(
        h.run(q_create("/q/c", "1")).result,
        OpOutcome::Created { .. }
    ));
    // Without enforceQuota the same create is served.
    h.enforce_quota = false;
    assert!(matches!(
        h.run(q_create("/q/d", "1")).result,
        OpOutcome::Created { .. }
    ));
    assert_eq!(stats(&h), "count=4,bytes=5");
}

#[test]
fn quota_hard_bytes_refuses_creates_and_set_data_past_it() {
    let limits = "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1";
    let mut h = enforced_quota(limits);
    h.run(q_create("/q/a", "12345"));
    assert_eq!(stats(&h), "count=2,bytes=6");
    // 6 + 5 > 10.
    let (txn, _) = h.run_as(1, &[], q_create("/q/b", "12345"));
    assert_eq!(txn, quota_exceeded());
    // 6 + 4 = 10 is at the limit, not past it.
    assert!(matches!(
        h.run(q_create("/q/b", "1234")).result,
        OpOutcome::Created { .. }
    ));
    // setData counts the difference: 5 → 6 bytes passes 10; 5 → 5 changes nothing.
    let (txn, _) = h.run_as(1, &[], set_data_to("/q/a", "123456", -1));
    assert_eq!(txn, quota_exceeded());
    // The quota check comes before the version check, as in ZooKeeper.
    let (txn, _) = h.run_as(1, &[], set_data_to("/q/a", "123456", 7));
    assert_eq!(txn, quota_exceeded());
    assert!(matches!(
        h.run(set_data_to("/q/a", "abcde", -1)).result,
        OpOutcome::DataSet { .. }
    ));
    // Shrinking is allowed; an empty create adds no bytes and is not byte-checked.
    assert!(matches!(
        h.run(set_data_to("/q/a", "1", -1)).result,
        OpOutcome::DataSet { .. }
    ));
    assert!(matches!(
        h.run(q_create("/q/e", "")).result,
        OpOutcome::Created { .. }
    ));
    assert_eq!(stats(&h), "count=4,bytes=6");
}

#[test]
fn quota_soft_limits_only_warn() {
    let limits = "count=2,bytes=3=;byteHardLimit=-1;countHardLimit=-1";
    let h = enforced_quota(limits);
    let mut out = Outstanding::new();
    let txn = prep_pending(&h, &mut out, 10, &q_create("/q/a", "12"));
    assert!(matches!(txn, Txn::Create(_)), "{txn:?}");
    // count 2 is at the soft limit; bytes 3 too: no warning.
    assert_eq!(out.take_quota_warnings(), Vec::<String>::new());
    let txn = prep_pending(&h, &mut out, 11, &q_create("/q/b", "1"));
    assert!(matches!(txn, Txn::Create(_)), "{txn:?}");
    assert_eq!(
        out.take_quota_warnings(),
        vec![
            "Quota exceeded: /q [current count=3, softCountLimit=2]".to_owned(),
            "Quota exceeded: /q [current bytes=4, softByteLimit=3]".to_owned(),
        ]
    );
    assert!(out.take_quota_warnings().is_empty());
}

#[test]
fn quota_counts_txns_prepared_but_not_applied() {
    let limits = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3";
    let h = enforced_quota(limits);
    let mut out = Outstanding::new();
    assert!(matches!(
        prep_pending(&h, &mut out, 10, &q_create("/q/a", "")),
        Txn::Create(_)
    ));
    assert!(matches!(
        prep_pending(&h, &mut out, 11, &q_create("/q/b", "")),
        Txn::Create(_)
    ));
    // The committed stats say 1, but two creates are pending: a third would be 4.
    assert_eq!(
        prep_pending(&h, &mut out, 12, &q_create("/q/c", "")),
        quota_exceeded()
    );
    // A pending delete frees its place.
    assert!(matches!(
        prep_pending(&h, &mut out, 12, &delete("/q/a", -1)),
        Txn::Delete(_)
    ));
    assert!(matches!(
        prep_pending(&h, &mut out, 13, &q_create("/q/c", "")),
        Txn::Create(_)
    ));
    // Once the tree has them, the overlay forgets them (here: the tree never got
    // them, so the committed count of 1 is all that is left).
    out.commit_up_to(13);
    assert!(matches!(
        prep_pending(&h, &mut out, 14, &q_create("/q/d", "")),
        Txn::Create(_)
    ));
}

#[test]
fn quota_in_a_multi_counts_earlier_ops_and_fails_the_whole_multi() {
    let limits = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2";
    let mut h = enforced_quota(limits);
    let (txn, out) = h.run_as(
        1,
        &[],
        multi(vec![
            m_create(OpCode::Create, "/q/a", 0),
            m_create(OpCode::Create, "/q/b", 0),
            m_create(OpCode::Create, "/r", 0),
        ]),
    );
    let Txn::Multi(txns) = txn else {
        panic!("not a multi: {txn:?}")
    };
    assert!(matches!(txns[0], Txn::Create(_)));
    assert_eq!(txns[1], quota_exceeded());
    assert_eq!(txns[2], Txn::error(ErrorCode::RuntimeInconsistency));
    assert!(matches!(
        out.result,
        OpOutcome::Multi {
            err: ErrorCode::QuotaExceeded,
            ..
        }
    ));
    assert!(h.tree.get("/q/a").is_none());
    assert_eq!(stats(&h), "count=1,bytes=1");
}

#[test]
fn quota_nodes_zookeeper_cannot_parse_answer_marshalling_error() {
    let mut h = enforced_quota("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2");
    h.run(set_data_to(
        "/zookeeper/quota/q/zookeeper_limits",
        "count=x",
        -1,
    ));
    let (txn, _) = h.run_as(1, &[], q_create("/q/a", ""));
    assert_eq!(txn, Txn::error(ErrorCode::MarshallingError));
}

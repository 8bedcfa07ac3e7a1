//! The txn digest (`ringkeeper::tree::digest`) against Apache ZooKeeper's own classes.
//!
//! `tests/java/DigestCheck.java` (compiled with `javac` against Debian's ZooKeeper 3.8
//! jar) applies a scripted txn sequence with `DataTree.processTxn` and prints the tree
//! digest after each txn and some nodes' own digests (`DigestCalculator`); ringkeeper
//! applies the same txns with `txn::apply` and must print the same numbers. The script
//! covers every txn type the tree applies: sessions, create (persistent, ephemeral,
//! sequential name, container, TTL, null data, non-ASCII path), setData (also on "/"),
//! setACL, delete, deleteContainer, multi (succeeding and failed), error txns, session
//! close removing ephemerals, and quota nodes under the excluded `/zookeeper/` subtree.
//!
//! Missing Java tools fail the test with the command that installs them.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::BytesMut;
use ringkeeper::proto::{perms, Acl, Encode, NodeData};
use ringkeeper::tree::digest::node_digest;
use ringkeeper::tree::DataTree;
use ringkeeper::txn::{
    apply, CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, Txn, TxnHeader,
};

const JARS: &str = "/usr/share/java";

/// Compiles the checker; its classpath (with the jars `DataTree` needs to load).
fn classpath() -> String {
    let jar = Path::new(JARS).join("zookeeper.jar");
    assert!(
        jar.exists(),
        "{} is missing; install it with `apt-get install -y zookeeper`",
        jar.display()
    );
    let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("digest_java");
    std::fs::create_dir_all(&classes).expect("classes dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/DigestCheck.java");
    let out = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(&jar)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("javac: {e}; install a JDK with `apt-get install -y default-jdk-headless`")
        });
    assert!(
        out.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jars = [
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "slf4j-api.jar",
        "slf4j-nop.jar",
    ];
    let mut cp = classes.display().to_string();
    for j in jars {
        let p = Path::new(JARS).join(j);
        if p.exists() {
            cp.push(':');
            cp.push_str(&p.display().to_string());
        }
    }
    cp
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn data(s: &str) -> Option<NodeData> {
    Some(NodeData::new(s.as_bytes()))
}

fn create(path: &str, d: Option<NodeData>, ephemeral: bool, parent_cversion: i32) -> Txn {
    Txn::Create(CreateTxn {
        path: path.into(),
        data: d,
        acl: Acl::open_unsafe(),
        ephemeral,
        parent_cversion,
    })
}

fn set_data(path: &str, d: &str, version: i32) -> Txn {
    Txn::SetData(SetDataTxn {
        path: path.into(),
        data: data(d),
        version,
    })
}

fn delete(path: &str) -> Txn {
    Txn::Delete(DeleteTxn { path: path.into() })
}

/// (session, txn) in zxid order.
fn script() -> Vec<(i64, Txn)> {
    const S1: i64 = 0x1000_0000_0000_0001;
    const S2: i64 = 0x1000_0000_0000_0002;
    let digest_acl = vec![Acl::new(
        perms::ALL,
        "digest",
        "u:x/Wq9lNqfCO7JBJZtqW8dYTN7Fo=",
    )];
    vec![
        (S1, Txn::CreateSession(CreateSessionTxn { time_out: 30000 })),
        (S2, Txn::CreateSession(CreateSessionTxn { time_out: 30000 })),
        (S1, create("/a", data("hello"), false, 1)),
        (S1, create("/a/b", None, false, 1)),
        (S1, create("/a/e", data("eph"), true, 2)),
        (S2, create("/a/seq0000000003", data(""), true, 3)),
        (S1, set_data("/a", "world", 1)),
        (
            S1,
            Txn::SetAcl(SetAclTxn {
                path: "/a".into(),
                acl: digest_acl,
                version: 1,
            }),
        ),
        (
            S1,
            Txn::CreateContainer(CreateContainerTxn {
                path: "/c".into(),
                data: data("box"),
                acl: Acl::open_unsafe(),
                parent_cversion: 2,
            }),
        ),
        (S1, create("/c/x", data("in"), false, 1)),
        (
            S1,
            Txn::CreateTtl(CreateTtlTxn {
                path: "/t".into(),
                data: data("ttl"),
                acl: Acl::open_unsafe(),
                parent_cversion: 3,
                ttl: 5000,
            }),
        ),
        (
            S2,
            Txn::Multi(vec![
                create("/m", data("m"), false, 4),
                set_data("/a", "multi", 2),
                delete("/a/b"),
                Txn::Check(CheckVersionTxn {
                    path: "/a".into(),
                    version: 2,
                }),
            ]),
        ),
        (
            S2,
            Txn::Multi(vec![
                Txn::Error(ErrorTxn { err: 0 }),
                Txn::Error(ErrorTxn { err: -101 }),
            ]),
        ),
        (S2, Txn::Error(ErrorTxn { err: -110 })),
        (S1, delete("/c/x")),
        (S1, Txn::DeleteContainer(DeleteTxn { path: "/c".into() })),
        (S1, create("/ü-ß", data("ünï"), false, 6)),
        (S1, set_data("/", "root data", 1)),
        (S1, create("/zookeeper/quota/m", None, false, 1)),
        (
            S1,
            create(
                "/zookeeper/quota/m/zookeeper_limits",
                data("count=10,bytes=-1"),
                false,
                1,
            ),
        ),
        (
            S1,
            create(
                "/zookeeper/quota/m/zookeeper_stats",
                data("count=0,bytes=0"),
                false,
                2,
            ),
        ),
        (S1, set_data("/m", "quota'd", 1)),
        (
            S2,
            Txn::CloseSession(CloseSessionTxn {
                paths2_delete: vec!["/a/seq0000000003".into()],
            }),
        ),
        // Closes S1 with an empty list: the tree finds /a/e itself.
        (
            S1,
            Txn::CloseSession(CloseSessionTxn {
                paths2_delete: vec![],
            }),
        ),
        (S1, delete("/t")),
    ]
}

#[test]
fn tree_and_node_digests_match_zookeeper() {
    let cp = classpath();
    let mut tree = DataTree::with_extended_types(true);
    let mut ours = vec![format!("tree {}", tree.digest() as i64)];
    let mut input = String::new();
    for (i, (session, txn)) in script().into_iter().enumerate() {
        let zxid = 0x1_0000_0001 + i as i64;
        let hdr = TxnHeader::for_txn(session, i as i32, zxid, 1_700_000_000_000 + i as i64, &txn);
        let mut b = BytesMut::new();
        hdr.encode(&mut b);
        txn.encode(&mut b);
        input.push_str(&hex(&b));
        input.push('\n');
        apply(&mut tree, &hdr, &txn);
        ours.push(format!("tree {}", tree.digest() as i64));
    }
    for path in ["/", "/a", "/m", "/zookeeper", "/zookeeper/quota", "/ü-ß"] {
        input.push_str(&format!("node {path}\n"));
        let n = tree.get(path).expect("node in the script");
        let d = node_digest(path, n.data().map(|d| &d[..]), &n.persisted());
        ours.push(format!("node {path} {}", d as i64));
    }
    let mut child = Command::new("java")
        .arg("-Dzookeeper.extendedTypesEnabled=true")
        .arg("-Dfile.encoding=UTF-8")
        .arg("-cp")
        .arg(&cp)
        .arg("org.apache.zookeeper.server.DigestCheck")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("write to java");
    let out = child.wait_with_output().expect("java finishes");
    assert!(
        out.status.success(),
        "DigestCheck failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "line {i} (0 is the fresh tree, then one per txn)");
    }
    assert_eq!(ours.len(), theirs.len(), "ZooKeeper printed {theirs:?}");
    // The script changed the digest (a constant digest would match trivially).
    assert_ne!(ours[0], ours[ours.len() - 7]);
}

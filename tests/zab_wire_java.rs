//! The `zab::wire` codec against Apache ZooKeeper's own Java classes, byte for byte.
//!
//! `tests/java/ZabWireCheck.java` is compiled with `javac` against Debian's ZooKeeper
//! jar (`/usr/share/java/zookeeper.jar`, 3.8, with its jute classes). In `emit` mode it
//! builds quorum packets with `QuorumPacket` + `BinaryOutputArchive`, notifications with
//! `FastLeaderElection.buildMsg`, config texts with `QuorumMaj.toString` and the election
//! handshake as `QuorumCnxManager` writes it; each must equal what the Rust side builds,
//! and decode to the same fields. In `parse` mode ZooKeeper's readers
//! (`BinaryInputArchive`, `InitialMessage.parse`, `QuorumMaj`) read the Rust bytes.
//!
//! Missing Java tools fail these tests with the command that installs them; they never
//! pass silently.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use ringkeeper::proto::Id;
use ringkeeper::zab::fle::FleConfig;
use ringkeeper::zab::quorum::{config_text, QuorumServer};
use ringkeeper::zab::vote::{LearnerType, ServerState};
use ringkeeper::zab::wire::election::{Notification, MAX_ELECTION_FRAME_LEN, NOTIFICATION_VERSION};
use ringkeeper::zab::wire::handshake::{
    ElectionAddress, HandshakeForm, InitialMessage, MAX_ADDRESS_LEN, PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
};
use ringkeeper::zab::wire::payload::{
    AckEpoch, Bare, ForwardedRequest, LeaderInfo, LearnerInfo, LearnerKind, NewLeader, Ping,
    Revalidate, RevalidateReply, SessionTouch, LEARNER_PROTOCOL_VERSION,
};
use ringkeeper::zab::wire::quorum_packet::{PacketType, QuorumPacket, DEFAULT_MAX_BUFFER_LEN};
use ringkeeper::zab::wire::Decoded;

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const CONFIG_TEXT: &str = "server.1=127.0.0.1:2888:3888:participant\nversion=0";

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/ZabWireCheck.java")
}

/// The compiled checker's classpath, or why it could not be built.
fn classpath() -> &'static str {
    static CP: OnceLock<Result<String, String>> = OnceLock::new();
    let built = CP.get_or_init(|| {
        if !Path::new(ZOOKEEPER_JAR).exists() {
            return Err(format!(
                "{ZOOKEEPER_JAR} is missing; install it with `apt-get install -y zookeeper`"
            ));
        }
        let javac_ok = Command::new("javac")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !javac_ok {
            return Err(
                "javac is not installed (a JRE is not enough); install a JDK with \
                        `apt-get install -y default-jdk-headless`"
                    .into(),
            );
        }
        let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zab_wire_java");
        std::fs::create_dir_all(&classes).map_err(|e| format!("{}: {e}", classes.display()))?;
        let out = Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(ZOOKEEPER_JAR)
            .arg(source())
            .output()
            .map_err(|e| format!("javac: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "javac failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(format!("{}:{ZOOKEEPER_JAR}", classes.display()))
    });
    match built {
        Ok(cp) => cp,
        Err(why) => panic!("the Java cross-check cannot run: {why}"),
    }
}

fn run_java(mode: &str, stdin: &str) -> String {
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(classpath())
        .arg("ZabWireCheck")
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the Java cross-check cannot run: java: {e}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write to java");
    let out = child.wait_with_output().expect("java runs");
    assert!(
        out.status.success(),
        "java ZabWireCheck {mode} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// ZooKeeper's bytes by name (`emit` mode), produced once.
fn java_emitted() -> &'static BTreeMap<String, String> {
    static EMITTED: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    EMITTED.get_or_init(|| {
        run_java("emit", "")
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

fn java(name: &str) -> &'static str {
    java_emitted()
        .get(name)
        .unwrap_or_else(|| panic!("ZabWireCheck emitted no {name}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The packets the Java side builds, built here with the Rust builders.
fn rust_packets() -> Vec<(&'static str, QuorumPacket)> {
    let ping = Ping::packet(0x1_0000_0009);
    let revalidate = Revalidate {
        session_id: 0x0200_0000_0000_0005,
        timeout_ms: 10000,
    }
    .packet();
    let request = |authinfo: Vec<Id>| {
        ForwardedRequest {
            session_id: 0x0100_0000_0000_0001,
            cxid: 7,
            op: 1,
            body: Bytes::from_static(b"body"),
            authinfo,
        }
        .packet()
    };
    vec![
        (
            "followerinfo",
            LearnerInfo {
                sid: 2,
                protocol_version: LEARNER_PROTOCOL_VERSION,
                config_version: 0,
            }
            .packet(LearnerKind::Follower, 1),
        ),
        (
            "observerinfo",
            LearnerInfo {
                sid: 4,
                protocol_version: LEARNER_PROTOCOL_VERSION,
                config_version: 0x1_0000_0000,
            }
            .packet(LearnerKind::Observer, 7),
        ),
        ("leaderinfo", LeaderInfo::new(3).packet()),
        (
            "ackepoch1",
            AckEpoch {
                last_zxid: 0x1_0000_0007,
                current_epoch: 1,
            }
            .packet(),
        ),
        (
            "ackepoch-1",
            AckEpoch {
                last_zxid: 0x1_0000_0007,
                current_epoch: AckEpoch::ALREADY_ACCEPTED,
            }
            .packet(),
        ),
        (
            "newleader",
            NewLeader {
                new_epoch: 2,
                config: Some(Bytes::from_static(CONFIG_TEXT.as_bytes())),
            }
            .packet(),
        ),
        (
            "newleader-null",
            NewLeader {
                new_epoch: 2,
                config: None,
            }
            .packet(),
        ),
        ("ping", ping.clone()),
        ("pingreply0", Ping::reply(&ping, &[])),
        (
            "pingreply2",
            Ping::reply(
                &ping,
                &[
                    SessionTouch {
                        session_id: 0x0100_0000_0000_0001,
                        timeout_ms: 30000,
                    },
                    SessionTouch {
                        session_id: 2,
                        timeout_ms: 4000,
                    },
                ],
            ),
        ),
        ("revalidate", revalidate.clone()),
        (
            "revalidatereply",
            RevalidateReply {
                session_id: 0x0200_0000_0000_0005,
                valid: true,
            }
            .packet(&revalidate),
        ),
        ("request0", request(vec![])),
        (
            "request1",
            request(vec![
                Id::new("digest", "user:hash"),
                Id::new("ip", "127.0.0.1"),
            ]),
        ),
        ("ack", Bare::ack(0x2_0000_0001)),
        ("commit", Bare::commit(0x2_0000_0001)),
        ("uptodate", Bare::up_to_date()),
        ("sync", Bare::sync()),
        ("diff", Bare::diff(0x1_0000_0005)),
        ("trunc", Bare::trunc(0x1_0000_0004)),
        ("snap", Bare::snap(0x1_0000_0006)),
        (
            "unknown42",
            QuorumPacket {
                kind: PacketType::Unknown(42),
                zxid: 9,
                data: Some(Bytes::from_static(&[1, 2, 3])),
                authinfo: Some(vec![]),
            },
        ),
    ]
}

#[test]
fn packet_type_numbers_and_limits_are_zookeepers() {
    let names = [
        ("REQUEST", PacketType::Request),
        ("PROPOSAL", PacketType::Proposal),
        ("ACK", PacketType::Ack),
        ("COMMIT", PacketType::Commit),
        ("PING", PacketType::Ping),
        ("REVALIDATE", PacketType::Revalidate),
        ("SYNC", PacketType::Sync),
        ("INFORM", PacketType::Inform),
        ("COMMITANDACTIVATE", PacketType::CommitAndActivate),
        ("NEWLEADER", PacketType::NewLeader),
        ("FOLLOWERINFO", PacketType::FollowerInfo),
        ("UPTODATE", PacketType::UpToDate),
        ("DIFF", PacketType::Diff),
        ("TRUNC", PacketType::Trunc),
        ("SNAP", PacketType::Snap),
        ("OBSERVERINFO", PacketType::ObserverInfo),
        ("LEADERINFO", PacketType::LeaderInfo),
        ("ACKEPOCH", PacketType::AckEpoch),
        ("INFORMANDACTIVATE", PacketType::InformAndActivate),
    ];
    for (name, t) in names {
        assert_eq!(
            java(&format!("type:{name}")),
            t.code().to_string(),
            "{name}"
        );
    }
    let fle = FleConfig::default();
    let consts = [
        ("PACKETMAXSIZE", MAX_ELECTION_FRAME_LEN as i64),
        ("maxBuffer", MAX_ADDRESS_LEN as i64),
        ("PROTOCOL_VERSION_V1", PROTOCOL_VERSION_V1),
        ("PROTOCOL_VERSION_V2", PROTOCOL_VERSION_V2),
        ("finalizeWait", fle.finalize_wait_ms as i64),
        (
            "minNotificationInterval",
            fle.min_notification_interval_ms as i64,
        ),
        (
            "maxNotificationInterval",
            fle.max_notification_interval_ms as i64,
        ),
    ];
    for (name, ours) in consts {
        assert_eq!(java(&format!("const:{name}")), ours.to_string(), "{name}");
    }
}

#[test]
fn quorum_packets_match_java_byte_for_byte() {
    for (name, ours) in rust_packets() {
        let theirs = java(&format!("packet:{name}"));
        assert_eq!(hex(&ours.to_bytes()), theirs, "packet {name}");
        let bytes = unhex(theirs);
        assert_eq!(
            QuorumPacket::decode(&bytes, DEFAULT_MAX_BUFFER_LEN),
            Ok(Decoded::Complete {
                value: ours,
                consumed: bytes.len()
            }),
            "decoding Java's {name}"
        );
    }
}

#[test]
fn java_packets_read_back_through_the_typed_readers() {
    let packet = |name: &str| {
        QuorumPacket::decode(
            &unhex(java(&format!("packet:{name}"))),
            DEFAULT_MAX_BUFFER_LEN,
        )
        .expect("valid")
        .into_value()
        .expect("complete")
    };
    let fi = LearnerInfo::read(&packet("followerinfo")).unwrap();
    assert_eq!(
        (
            fi.kind,
            fi.accepted_epoch,
            fi.sid,
            fi.protocol_version,
            fi.config_version
        ),
        (LearnerKind::Follower, 1, Some(2), Some(0x10000), Some(0))
    );
    let oi = LearnerInfo::read(&packet("observerinfo")).unwrap();
    assert_eq!(
        (oi.kind, oi.accepted_epoch, oi.sid, oi.config_version),
        (LearnerKind::Observer, 7, Some(4), Some(0x1_0000_0000))
    );
    assert_eq!(
        LeaderInfo::read(&packet("leaderinfo")),
        Ok(LeaderInfo::new(3))
    );
    assert!(AckEpoch::read(&packet("ackepoch1")).unwrap().counts());
    assert!(!AckEpoch::read(&packet("ackepoch-1")).unwrap().counts());
    assert_eq!(
        NewLeader::read(&packet("newleader"))
            .unwrap()
            .config_text()
            .as_deref(),
        Some(CONFIG_TEXT)
    );
    assert_eq!(Ping::read_reply(&packet("pingreply0")), Ok(vec![]));
    assert_eq!(Ping::read_reply(&packet("pingreply2")).unwrap().len(), 2);
    assert_eq!(
        Revalidate::read(&packet("revalidate")).unwrap().timeout_ms,
        10000
    );
    assert!(
        RevalidateReply::read(&packet("revalidatereply"))
            .unwrap()
            .valid
    );
    let req = ForwardedRequest::read(&packet("request1")).unwrap();
    assert_eq!(
        (req.cxid, req.op, &req.body[..], req.authinfo.len()),
        (7, 1, &b"body"[..], 2)
    );
}

fn notification(
    state: ServerState,
    leader: i64,
    zxid: i64,
    election_epoch: i64,
    peer_epoch: i64,
    config: &'static [u8],
) -> Notification {
    Notification {
        state,
        leader,
        zxid,
        election_epoch,
        peer_epoch,
        version: NOTIFICATION_VERSION,
        config: Some(Bytes::from_static(config)),
    }
}

#[test]
fn notifications_match_java_byte_for_byte() {
    let min = i64::MIN;
    let cases = [
        (
            "looking",
            notification(
                ServerState::Looking,
                3,
                0x1_0000_0005,
                2,
                1,
                CONFIG_TEXT.as_bytes(),
            ),
        ),
        (
            "leading-empty",
            notification(ServerState::Leading, 1, -1, 7, 0x7fff_ffff, b""),
        ),
        (
            "observer-min",
            notification(
                ServerState::Looking,
                min,
                min,
                1,
                min,
                CONFIG_TEXT.as_bytes(),
            ),
        ),
    ];
    for (name, ours) in cases {
        let mut b = BytesMut::new();
        ours.encode(&mut b);
        let theirs = java(&format!("notification:{name}"));
        assert_eq!(hex(&b), theirs, "notification {name}");
        assert_eq!(Notification::decode(&unhex(theirs)), Ok(ours), "{name}");
    }
    // The 40-byte form (3.4): version 1 on the wire, not read; peerEpoch read.
    let old = Notification::decode(&unhex(java("notification:v1-40"))).unwrap();
    assert_eq!(
        old,
        Notification {
            state: ServerState::Following,
            leader: 3,
            zxid: 0x1_0000_0005,
            election_epoch: 2,
            peer_epoch: 1,
            version: 0,
            config: None,
        }
    );
}

fn server(
    id: i64,
    host: &str,
    q: u16,
    e: u16,
    t: LearnerType,
    client: Option<(&str, u16)>,
) -> QuorumServer {
    QuorumServer {
        id,
        host: host.into(),
        quorum_port: q,
        election_port: e,
        learner_type: t,
        client: client.map(|(h, p)| (h.to_owned(), p)),
    }
}

/// The configurations `ZabWireCheck` builds, as members here.
fn rust_configs() -> Vec<(Vec<QuorumServer>, i64)> {
    use LearnerType::{Observer, Participant};
    vec![
        (
            vec![
                server(1, "127.0.0.1", 2888, 3888, Participant, None),
                server(2, "127.0.0.1", 2889, 3889, Participant, None),
                server(3, "127.0.0.1", 2890, 3890, Participant, None),
            ],
            0,
        ),
        (
            vec![
                // `;2181` alone is the wildcard.
                server(
                    1,
                    "127.0.0.1",
                    2888,
                    3888,
                    Participant,
                    Some(("0.0.0.0", 2181)),
                ),
                server(
                    2,
                    "127.0.0.1",
                    2889,
                    3889,
                    Participant,
                    Some(("127.0.0.1", 2182)),
                ),
                server(3, "::1", 2890, 3890, Observer, Some(("::1", 2183))),
            ],
            0x1_0000_0000,
        ),
        (
            vec![
                server(5, "10.0.0.5", 2888, 3888, Participant, None),
                server(20, "10.0.0.20", 2888, 3888, Participant, None),
                server(1, "10.0.0.1", 2888, 3888, Observer, None),
            ],
            0,
        ),
    ]
}

#[test]
fn config_text_matches_java() {
    for (i, (servers, version)) in rust_configs().into_iter().enumerate() {
        let ours = config_text(&servers, version);
        let theirs = String::from_utf8(unhex(java(&format!("config:{i}")))).unwrap();
        assert_eq!(ours, theirs, "config {i}");
    }
}

#[test]
fn handshake_matches_java() {
    for (name, sid, host) in [("v1", 3, "10.0.0.3"), ("v1-ipv6", 4, "::1")] {
        let addr = ElectionAddress {
            host: host.into(),
            port: 3888,
        };
        let mut b = BytesMut::new();
        InitialMessage::encode_v1(sid, &addr, &mut b).unwrap();
        let theirs = java(&format!("handshake:{name}"));
        assert_eq!(hex(&b), theirs, "handshake {name}");
        let decoded = InitialMessage::decode(&unhex(theirs))
            .unwrap()
            .into_value()
            .unwrap();
        assert_eq!((decoded.form, decoded.sid), (HandshakeForm::V1, sid));
        assert_eq!(decoded.addresses.len(), 1);
        assert_eq!(decoded.addresses[0].to_wire_string(), addr.to_wire_string());
    }
}

/// What `ZabWireCheck.describe` prints for a packet.
fn describe(p: &QuorumPacket, consumed: usize) -> String {
    let data = match &p.data {
        None => "null".to_owned(),
        Some(d) => format!("0x{}", hex(d)),
    };
    let auth = match &p.authinfo {
        None => "null".to_owned(),
        Some(ids) => format!(
            "[{}]",
            ids.iter()
                .map(|i| format!("{}={}", i.scheme, i.id))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    format!(
        "{} {} {data} {auth} consumed={consumed}",
        p.kind.code(),
        p.zxid
    )
}

#[test]
fn java_reads_the_rust_bytes() {
    let mut input = String::new();
    let mut expected = Vec::new();
    for (_, p) in rust_packets() {
        let bytes = p.to_bytes();
        input.push_str(&format!("packet\t{}\n", hex(&bytes)));
        expected.push(format!("packet\t{}", describe(&p, bytes.len())));
    }
    // A packet followed by the next one's bytes: Java reads exactly one record.
    let mut two = Bare::ack(5).to_bytes().to_vec();
    two.extend_from_slice(&Bare::commit(5).to_bytes());
    input.push_str(&format!("packet\t{}\n", hex(&two)));
    expected.push(format!("packet\t{}", describe(&Bare::ack(5), 20)));

    let li = LearnerInfo {
        sid: 9,
        protocol_version: LEARNER_PROTOCOL_VERSION,
        config_version: 0x2_0000_0000,
    };
    input.push_str(&format!("learnerinfo\t{}\n", hex(&li.encode())));
    expected.push(format!("learnerinfo\t9 65536 {}", 0x2_0000_0000i64));

    for (sid, host) in [(3, "10.0.0.3"), (4, "::1"), (5, "zk5.example.com")] {
        let mut b = BytesMut::new();
        let addr = ElectionAddress {
            host: host.into(),
            port: 3888,
        };
        InitialMessage::encode_v1(sid, &addr, &mut b).unwrap();
        input.push_str(&format!("handshake\t{}\n", hex(&b)));
        let java_host = if host == "::1" {
            "0:0:0:0:0:0:0:1"
        } else {
            host
        };
        expected.push(format!("handshake\tsid={sid} {java_host}:3888"));
    }
    input.push_str(&format!("handshake\t{}\n", hex(&7i64.to_be_bytes())));
    expected.push("handshake\tsid=7".to_owned());

    for (servers, version) in rust_configs() {
        let text = config_text(&servers, version);
        input.push_str(&format!("config\t{}\n", hex(text.as_bytes())));
        // Java parses our text and prints it back unchanged.
        expected.push(format!("config\t0x{}", hex(text.as_bytes())));
    }

    let got: Vec<String> = run_java("parse", &input)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, expected);
}

/// A ringkeeper tree and its sessions as `ZabWireCheck.canonicalTree` prints a Java
/// one: a line per session and per node (every stored field), sorted.
fn canonical_tree(tree: &ringkeeper::tree::TreeVersion, sessions: &[(i64, i32)]) -> String {
    let mut lines: Vec<String> = sessions
        .iter()
        .map(|(id, t)| format!("session {id} {t}"))
        .collect();
    let mut todo = vec!["/".to_string()];
    while let Some(path) = todo.pop() {
        let node = tree.get(&path).expect("listed node exists");
        for c in node.children() {
            todo.push(if path == "/" {
                format!("/{c}")
            } else {
                format!("{path}/{c}")
            });
        }
        let s = node.persisted();
        let acl: String = node
            .acl()
            .iter()
            .map(|a| format!("{}:{}:{};", a.perms, a.id.scheme, a.id.id))
            .collect();
        let data = node.data().map_or("null".to_string(), |d| hex(&d[..]));
        lines.push(format!(
            "node {path} data={data} stat={},{},{},{},{},{},{},{},{} acl={acl}",
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.pzxid
        ));
    }
    lines.sort();
    lines.join("\n")
}

/// What Java's learner makes of a SNAP body: its canonical tree, after checking the
/// signature it read.
fn java_reads_snap_body(body: &[u8]) -> String {
    let out = run_java("parse", &format!("snapbody\t{}\n", hex(body)));
    let text = out
        .strip_prefix("snapbody\t")
        .unwrap_or_else(|| panic!("unexpected output: {out}"));
    let (sig, tree) = text
        .split_once('\n')
        .unwrap_or_else(|| panic!("Java could not read the body: {text}"));
    assert_eq!(sig, "signature=BenWasHere", "{text}");
    tree.trim_end().to_string()
}

/// The SNAP body both ways: a body ringkeeper writes from its tree is what ZooKeeper's
/// learner (SerializeUtils.deserializeSnapshot + the signature) reads as the same
/// nodes, Stats, ACLs and sessions; a body ZooKeeper's leader writes is found in the
/// stream and read by ringkeeper as the tree Java reads from it.
#[test]
fn snap_bodies_cross_both_ways() {
    use ringkeeper::proto::{Acl, NodeData};
    use ringkeeper::storage::zk::{
        read_snap_body, write_zk_snapshot, SnapBodyScanner, SnapshotForm,
    };
    use ringkeeper::tree::DataTree;

    let mut t = DataTree::new();
    let mut tr = Vec::new();
    let digest = vec![
        Acl::new(31, "digest", "user:hash="),
        Acl::new(1, "world", "anyone"),
    ];
    let d = |s: &str| Some(NodeData::new(s.as_bytes()));
    t.create_node(
        "/app",
        d("root"),
        &Acl::open_unsafe(),
        0,
        0,
        3,
        1000,
        &mut tr,
    )
    .expect("create");
    t.create_node(
        "/app/null",
        None,
        &Acl::open_unsafe(),
        0,
        1,
        4,
        1001,
        &mut tr,
    )
    .expect("create");
    t.create_node(
        "/app/empty",
        d(""),
        &Acl::read_unsafe(),
        0,
        2,
        5,
        1002,
        &mut tr,
    )
    .expect("create");
    t.create_node("/app/secret", d("s"), &digest, 0, 3, 6, 1003, &mut tr)
        .expect("create");
    t.create_node(
        "/app/eph",
        d("e"),
        &Acl::open_unsafe(),
        0x1234,
        4,
        7,
        1004,
        &mut tr,
    )
    .expect("create");
    t.create_node(
        "/box",
        None,
        &Acl::open_unsafe(),
        i64::MIN,
        5,
        8,
        1005,
        &mut tr,
    )
    .expect("create");
    t.set_data("/app", d("root2"), 1, 9, 1006, &mut tr)
        .expect("set");
    let sessions = vec![(0x1234, 30_000), (0x5678, 4_000)];
    let mut body = Vec::new();
    write_zk_snapshot(&mut body, &t.version(), &sessions, SnapshotForm::SnapStream).expect("write");
    assert_eq!(
        java_reads_snap_body(&body),
        canonical_tree(&t.version(), &sessions),
        "ZooKeeper reads ringkeeper's SNAP body differently"
    );

    let java_body = unhex(java("snapbody"));
    let mut stream = java_body.clone();
    stream.extend_from_slice(&unhex("0000000b")); // the next packet's first bytes
    assert_eq!(
        SnapBodyScanner::new().scan(&stream).expect("scan"),
        Some(java_body.len())
    );
    let ours = read_snap_body(Bytes::from(java_body.clone()), false).expect("reads");
    let mut ours_sessions = ours.sessions.clone();
    ours_sessions.sort();
    assert_eq!(
        canonical_tree(&ours.tree.version(), &ours_sessions),
        java_reads_snap_body(&java_body),
        "ringkeeper reads ZooKeeper's SNAP body differently"
    );
}

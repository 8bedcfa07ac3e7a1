//! Enforced authentication (`enforce.auth.enabled=true`, `enforce.auth.schemes=digest`,
//! ZooKeeper 3.7+'s `AuthenticationHelper`): a connection that has not authenticated
//! with a required scheme gets SESSIONCLOSEDREQUIRESASLAUTH (−124, the code ZooKeeper
//! 3.7–3.9 send; clients report it as an authentication failure) for its first
//! request that is not `auth`, pings included, and is closed; after `addauth digest`
//! it is served. Checked on the wire by hand and with kezhuw's `zookeeper-client`
//! (which nobody on the team wrote), and every answer compared with Apache ZooKeeper
//! 3.8's for the same steps (skipped with a message without Java or Debian's jars).

mod common;
mod zk38;

use std::net::TcpStream;
use std::time::Duration;

use common::{op, raw_connect, request, wait_closed, Jute, Server};
use zookeeper_client as zk;

const ENFORCE: &str = "enforce.auth.enabled=true\nenforce.auth.schemes=digest";
const AUTH: i32 = 100;
const PING: i32 = 11;

fn get_data_root() -> Vec<u8> {
    Jute::new().string("/").boolean(false).into_vec()
}

fn auth_packet(scheme: &str, auth: &[u8]) -> Vec<u8> {
    Jute::new().int(0).string(scheme).buffer(auth).into_vec()
}

/// One step's answer: error code, whether the zxid was 0, whether the server then
/// closed the connection.
fn answer(s: &mut TcpStream, xid: i32, op: i32, body: &[u8], closes: bool) -> String {
    let r = request(s, xid, op, body).expect("an answer");
    let closed = if closes {
        wait_closed(s, Duration::from_secs(10))
    } else {
        false
    };
    format!("err {} zxid0 {} closed {closed}", r.err, r.zxid == 0)
}

/// The raw steps; each answer is also checked against what ZooKeeper 3.8 answers.
fn raw_steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    // A read, with no auth at all.
    let mut s = raw_connect(addr);
    t.push(answer(&mut s, 1, op::GET_DATA, &get_data_root(), true));
    // A ping is a request like any other.
    let mut s = raw_connect(addr);
    t.push(answer(&mut s, -2, PING, &[], true));
    // A write.
    let mut s = raw_connect(addr);
    let create = Jute::new()
        .string("/nope")
        .buffer(b"")
        .open_acl()
        .int(0)
        .into_vec();
    t.push(answer(&mut s, 1, op::CREATE, &create, true));
    // `addauth ip` succeeds but is not a required scheme.
    let mut s = raw_connect(addr);
    t.push(answer(&mut s, -4, AUTH, &auth_packet("ip", b""), false));
    t.push(answer(&mut s, 2, op::GET_DATA, &get_data_root(), true));
    // An unknown scheme: AUTHFAILED and closed, as without enforcement.
    let mut s = raw_connect(addr);
    t.push(answer(&mut s, -4, AUTH, &auth_packet("nosuch", b"x"), true));
    // `addauth digest`: served, reads and writes, and pings.
    let mut s = raw_connect(addr);
    t.push(answer(
        &mut s,
        -4,
        AUTH,
        &auth_packet("digest", b"u:p"),
        false,
    ));
    t.push(answer(&mut s, 2, op::GET_DATA, &get_data_root(), false));
    t.push(answer(&mut s, 3, op::CREATE, &create, false));
    t.push(answer(&mut s, -2, PING, &[], false));
    let delete = Jute::new().string("/nope").int(-1).into_vec();
    t.push(answer(&mut s, 4, op::DELETE, &delete, false));
    t
}

/// An auth reply has zxid 0 too, in both servers.
const RAW_EXPECTED: &[&str] = &[
    "err -124 zxid0 true closed true",
    "err -124 zxid0 true closed true",
    "err -124 zxid0 true closed true",
    "err 0 zxid0 true closed false",
    "err -124 zxid0 true closed true",
    "err -115 zxid0 true closed true",
    "err 0 zxid0 true closed false",
    "err 0 zxid0 false closed false",
    "err 0 zxid0 false closed false",
    "err 0 zxid0 false closed false",
    "err 0 zxid0 false closed false",
];

/// kezhuw's client: without auth, then with `digest`. What it reports, as text.
async fn client_steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    let bare = tokio::time::timeout(
        Duration::from_secs(20),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(addr),
    )
    .await
    .expect("connect answered in time");
    match bare {
        Err(e) => t.push(format!("connect without auth: {e:?}")),
        Ok(c) => {
            let r = tokio::time::timeout(Duration::from_secs(20), c.get_data("/"))
                .await
                .expect("get answered in time");
            t.push(format!("get without auth: {:?}", r.err()));
        }
    }
    let c = tokio::time::timeout(
        Duration::from_secs(20),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .with_auth("digest", b"user:pw")
            .connect(addr),
    )
    .await
    .expect("connect answered in time")
    .expect("a client with digest auth connects");
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    let created = c.create("/by-client", b"v", &opts).await.map(|_| ());
    t.push(format!("create with digest: {created:?}"));
    let got = c.get_data("/by-client").await.map(|(d, _)| d);
    t.push(format!("get with digest: {got:?}"));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_connections_are_refused_and_closed_as_zookeeper_does() {
    let server = Server::start(ENFORCE);
    let addr = server.addr();
    let rk_raw = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw_steps(&addr)
    })
    .await
    .expect("raw steps");
    assert_eq!(rk_raw, RAW_EXPECTED);
    let rk_client = client_steps(&addr).await;
    eprintln!("zookeeper-client against ringkeeper: {rk_client:?}");
    assert!(
        rk_client[0].contains("AuthFailed"),
        "the client does not see an auth failure: {rk_client:?}"
    );
    assert_eq!(
        rk_client[1..],
        ["create with digest: Ok(())", "get with digest: Ok([118])"]
    );
    let out = server.output();
    assert!(
        out.contains("match none of the required ones [\"digest\"]"),
        "no log line for the refused connection:\n{out}"
    );

    let Some(why) = common::zk_java::java_missing() else {
        let dir = std::env::temp_dir().join(format!("ringkeeper-auth-zk-{}", std::process::id()));
        let zk = zk38::Zk::start(&dir, ENFORCE);
        let zk_addr = zk.addr();
        let zk_raw = tokio::task::spawn_blocking(move || raw_steps(&zk_addr))
            .await
            .expect("raw steps");
        assert_eq!(zk_raw, rk_raw, "ZooKeeper 3.8 answers differently");
        let zk_client = client_steps(&zk.addr()).await;
        assert_eq!(
            zk_client, rk_client,
            "the client sees ZooKeeper 3.8 differently"
        );
        drop(zk);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    eprintln!(
        "SKIPPED the comparison with ZooKeeper 3.8: {why} (needs Debian's zookeeper package)"
    );
}

/// `sessionRequireClientSASLAuth=true` requires the scheme `sasl`, which needs the SASL
/// provider (`authProvider.N=...SASLAuthenticationProvider`); without it the server
/// refuses to start, as ZooKeeper does (tests/sasl.rs runs it with the provider).
#[test]
fn requiring_sasl_refuses_to_start_as_zookeeper_does_without_a_sasl_provider() {
    let dir = std::env::temp_dir().join(format!("ringkeeper-auth-sasl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             sessionRequireClientSASLAuth=true\n",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("server")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run ringkeeper");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("sessionRequireClientSASLAuth") && stderr.contains("sasl is not available"),
        "{stderr}"
    );
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED the comparison with ZooKeeper 3.8: {why}");
        return;
    }
    let (status, log) = zk38::start_refused(&dir.join("zk"), "sessionRequireClientSASLAuth=true");
    assert!(!status.success());
    assert!(
        log.contains("Authentication scheme sasl is not available"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

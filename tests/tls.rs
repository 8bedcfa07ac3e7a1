//! TLS on the secure client port (`secureClientPort`, the `ssl.*` keys) and the `x509`
//! auth scheme, tried with a client nobody on the team wrote: Python's ssl module
//! (OpenSSL) speaking ZooKeeper's protocol (tests/tls_client.py). The certificates are
//! made by the `openssl` command, as X.509 v1 (no extensions), as kazoo's test
//! harness makes them: webpki would refuse these, ZooKeeper accepts them.
//!
//! Needs `openssl`, `python3`, Debian's `faketime` package (its libfaketime makes an
//! OCSP answer in the past) and a JDK's `keytool` on the PATH.

mod common;
mod zk38;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{raw_connect, request, Jute, Server};

/// The subject of client one's certificate, as Java's `X500Principal.getName()`
/// writes it (the `x509` id ZooKeeper gives the session).
const CLIENT_ONE_DN: &str = "CN=client one,O=Acme\\, Inc.,C=US";
const ADMIN_DN: &str = "CN=admin";

/// libfaketime from Debian's `faketime` package, preloaded directly. The `faketime`
/// wrapper would create a semaphore named after its pid (`O_EXCL`) and fail with
/// "sem_open: File exists" whenever a process under libfaketime that once had the same
/// pid was SIGKILLed and left its semaphore in /dev/shm, as the fault harness's clock
/// runs leave them.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (tests/tls.rs needs it on the PATH)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate `NAME.crt` (for the CA: `ca.pem`) with its key `NAME.key`.
fn self_signed(dir: &Path, name: &str, subj: &str) {
    let out = if name == "ca" {
        "ca.pem".to_owned()
    } else {
        format!("{name}.crt")
    };
    let key = format!("{name}.key");
    let args = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ];
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-keyout", &key, "-out", &out, "-subj", subj]);
    openssl(dir, &all);
}

/// Signs `csr` with the CA into `crt`, valid for `days`: `x509 -req` without an
/// extension file writes a v1 certificate.
fn sign(dir: &Path, csr: &str, crt: &str, days: &str, extra: &[&str]) {
    let ca = [
        "x509",
        "-req",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
    ];
    let mut all: Vec<&str> = ca.to_vec();
    all.extend(["-in", csr, "-out", crt, "-days", days]);
    all.extend(extra);
    openssl(dir, &all);
}

/// A CA, a server certificate (PEM and PKCS12 with password `secret`), client
/// certificates `one`, `admin` (both signed by the CA) and `stranger` (self-signed,
/// not trusted): every certificate X.509 v1.
fn make_pki(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    self_signed(dir, "ca", "/CN=Test CA");
    for (name, subj) in [
        ("server", "/CN=localhost"),
        ("one", "/C=US/O=Acme, Inc./CN=client one"),
        ("admin", "/CN=admin"),
    ] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(
            dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subj,
            ],
        );
        sign(dir, &csr, &crt, "2", &[]);
    }
    // Client one's key in a certificate whose validity ended a day before it began.
    sign(dir, "one.csr", "expired.crt", "-1", &[]);
    std::fs::copy(dir.join("one.key"), dir.join("expired.key")).expect("copy key");
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "server.crt",
            "-inkey",
            "server.key",
            "-out",
            "server.p12",
            "-passout",
            "pass:secret",
        ],
    );
    key_store_pem(dir, "server");
    self_signed(dir, "stranger", "/CN=stranger");
    let v = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", "one.crt"])
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("Version: 1 (0x0)"),
        "the test means X.509 v1 client certificates"
    );
}

fn pki_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringkeeper-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    make_pki(&d);
    d
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The zoo.cfg lines for a secure port on `port` with the PKCS12 key store and the
/// PEM trust store of `pki`.
fn tls_cfg(pki: &Path, port: u16, extra: &str) -> String {
    format!(
        "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location={ks}\nssl.keyStore.password=secret\n\
         ssl.trustStore.location={ts}\n{extra}\n",
        ks = pki.join("server.p12").display(),
        ts = pki.join("ca.pem").display(),
    )
}

/// Runs tests/tls_client.py against 127.0.0.1:`port` as client `who` (`-`: no
/// certificate) with `steps`; its output lines.
fn py_client(pki: &Path, port: u16, who: &str, steps: &[String]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_client.py");
    let (cert, key) = if who == "-" {
        ("-".to_owned(), "-".to_owned())
    } else {
        (
            pki.join(format!("{who}.crt")).display().to_string(),
            pki.join(format!("{who}.key")).display().to_string(),
        )
    };
    let out = Command::new("python3")
        .arg(script)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(pki.join("ca.pem"))
        .arg(cert)
        .arg(key)
        .args(steps)
        .output()
        .expect("run python3 (tests/tls.rs needs it on the PATH)");
    assert!(
        out.status.success(),
        "tls_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (bounded) for `needle` in the server's output.
fn wait_for_log(server: &Server, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if server.output().contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {needle:?} in the server's log:\n{}", server.output());
}

/// getData on the plaintext port, by hand: the error code.
fn plain_get_err(server: &Server, path: &str) -> i32 {
    let mut s = raw_connect(&server.addr());
    let body = Jute::new().string(path).boolean(false).into_vec();
    request(&mut s, 1, 4, &body).expect("getData").err
}

#[test]
fn create_and_get_over_tls_with_an_x509_acl_and_the_x509_super_user() {
    let pki = pki_dir("acl");
    let port = free_port();
    let server = Server::start(&tls_cfg(
        &pki,
        port,
        &format!("X509AuthenticationProvider.superUser={ADMIN_DN}"),
    ));
    let out = py_client(
        &pki,
        port,
        "one",
        &[
            format!("create:/secure:hello:x509={CLIENT_ONE_DN}"),
            "get:/secure".into(),
        ],
    );
    assert_eq!(out.len(), 3, "{out:?}\n{}", server.output());
    assert!(out[0].starts_with("connected TLSv1."), "{out:?}");
    assert_eq!(out[1], "create 0", "{out:?}\n{}", server.output());
    assert_eq!(out[2], "get 0 hello", "{out:?}");
    // The ACL names client one only: the plaintext client has no x509 id (NOAUTH).
    assert_eq!(plain_get_err(&server, "/secure"), -102);
    // The superUser's certificate is `super`: it reads what it is not named in.
    let out = py_client(&pki, port, "admin", &["get:/secure".into()]);
    assert_eq!(
        out.get(1).map(String::as_str),
        Some("get 0 hello"),
        "{out:?}"
    );
    wait_for_log(
        &server,
        &format!("authenticated id '{ADMIN_DN}' for scheme 'super'"),
    );
}

#[test]
fn client_auth_need_refuses_a_client_without_or_with_an_untrusted_or_expired_certificate() {
    let pki = pki_dir("need");
    let port = free_port();
    let mut server = Server::start(&tls_cfg(&pki, port, ""));
    let out = py_client(&pki, port, "-", &["get:/".into()]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "a client without a certificate was served: {out:?}"
    );
    wait_for_log(&server, "handshake failed: peer sent no certificates");
    let out = py_client(&pki, port, "stranger", &["get:/".into()]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "an untrusted certificate was accepted: {out:?}"
    );
    wait_for_log(&server, "UnknownIssuer");
    let out = py_client(&pki, port, "expired", &["get:/".into()]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "an expired certificate was accepted: {out:?}"
    );
    wait_for_log(&server, "Expired");
    // The server goes on serving both ports.
    server.assert_alive();
    let out = py_client(&pki, port, "one", &["get:/".into()]);
    assert_eq!(out.get(1).map(String::as_str), Some("get 0 "), "{out:?}");
    assert_eq!(plain_get_err(&server, "/"), 0);
}

#[test]
fn client_auth_want_serves_a_client_without_a_certificate() {
    let pki = pki_dir("want");
    let port = free_port();
    // Two session cores: the secure port is a SO_REUSEPORT group too.
    let server = Server::start(&tls_cfg(&pki, port, "ssl.clientAuth=want\ncores=2"));
    let out = py_client(
        &pki,
        port,
        "-",
        &["create:/open:x:world".into(), "get:/open".into()],
    );
    assert_eq!(
        out[1..],
        ["create 0", "get 0 x"],
        "{out:?}\n{}",
        server.output()
    );
}

/// `addauth x509` (an auth packet of scheme `x509`) does what ZooKeeper's
/// `X509AuthenticationProvider.handleAuthentication(ServerCnxn, ..)` does: the
/// connection's verified client certificate is the credential, so a TLS client with
/// one gets OK (and keeps its x509 id), and one without a certificate, or a plaintext
/// client, gets AUTHFAILED and a closed connection.
#[test]
fn addauth_x509_checks_the_connections_client_certificate() {
    let pki = pki_dir("addauth");
    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, "ssl.clientAuth=want"));
    let out = py_client(
        &pki,
        port,
        "one",
        &[
            "auth:x509:".into(),
            format!("create:/mine:m:x509={CLIENT_ONE_DN}"),
            "get:/mine".into(),
        ],
    );
    assert_eq!(
        out[1..],
        ["auth 0", "create 0", "get 0 m"],
        "{out:?}\n{}",
        server.output()
    );
    // No certificate: AUTHFAILED (-115), then the connection is closed.
    let out = py_client(&pki, port, "-", &["auth:x509:".into(), "get:/mine".into()]);
    assert_eq!(out[1..], ["auth -115", "closed"], "{out:?}");
    // A plaintext connection has no certificate either.
    let mut s = raw_connect(&server.addr());
    let body = Jute::new().int(0).string("x509").buffer(b"").into_vec();
    assert_eq!(request(&mut s, -4, 100, &body).expect("auth").err, -115);
    wait_for_log(&server, "with scheme x509: no verified client certificate");
}

#[test]
fn enabled_protocols_limit_the_version_and_a_pem_key_store_is_read() {
    let pki = pki_dir("proto");
    let port = free_port();
    let cfg = format!(
        "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location={}\nssl.trustStore.location={}\n\
         ssl.enabledProtocols=TLSv1.2\n",
        pki.join("server.pem").display(),
        pki.join("ca.pem").display(),
    );
    let _server = Server::start(&cfg);
    let out = py_client(&pki, port, "one", &[]);
    assert_eq!(out, ["connected TLSv1.2"]);
}

#[test]
fn plaintext_on_the_tls_port_and_tls_on_the_plaintext_port_are_closed() {
    use std::io::Write;
    let pki = pki_dir("cross");
    let port = free_port();
    let mut server = Server::start(&tls_cfg(&pki, port, ""));
    // A plaintext ConnectRequest on the secure port.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = common::connect_request();
    let mut framed = (req.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&req);
    s.write_all(&framed).expect("send");
    // A TLS alert at most, then the end: never a ConnectResponse.
    expect_closed_unanswered(s, Duration::from_secs(10));
    wait_for_log(&server, "closing TLS connection from 127.0.0.1");
    // TLS on the plaintext port.
    let out = py_client(&pki, server.port(), "one", &[]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "{out:?}"
    );
    wait_for_log(&server, "before handshake");
    server.assert_alive();
    assert_eq!(plain_get_err(&server, "/"), 0);
    let out = py_client(&pki, port, "one", &["get:/".into()]);
    assert_eq!(out.get(1).map(String::as_str), Some("get 0 "), "{out:?}");
}

/// Reads `s` until the server closes it (within `within`): a TLS alert at most, never
/// a ConnectResponse (36 bytes or more).
fn expect_closed_unanswered(mut s: std::net::TcpStream, within: Duration) {
    use std::io::Read;
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
    assert!(got.len() < 36, "the connection was answered: {got:?}");
}

/// Starts ringkeeper on `cfg` and expects it to refuse to start; its stderr.
fn start_fails(dir: &Path, cfg: &str) -> String {
    let path = dir.join("bad.cfg");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n{cfg}",
            dir.join("data").display(),
            free_port()
        ),
    )
    .expect("write cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("server")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run ringkeeper");
    assert!(!out.status.success(), "started on a bad TLS setup: {cfg}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_or_missing_key_material_is_a_start_error_naming_the_key_and_file() {
    let pki = pki_dir("bad");
    let port = free_port();
    let missing = pki.join("nope.p12");
    let err = start_fails(
        &pki,
        &tls_cfg(&pki, port, "").replace(
            &pki.join("server.p12").display().to_string(),
            &missing.display().to_string(),
        ),
    );
    assert!(
        err.contains(&format!("ssl.keyStore.location={}", missing.display())),
        "{err}"
    );
    let err = start_fails(
        &pki,
        &tls_cfg(&pki, port, "").replace("password=secret", "password=wrong"),
    );
    assert!(err.contains("ssl.keyStore.password"), "{err}");
    let err = start_fails(
        &pki,
        &tls_cfg(&pki, port, "ssl.ciphersuites=TLS_NO_SUCH_SUITE"),
    );
    assert!(err.contains("ssl.ciphersuites: TLS_NO_SUCH_SUITE"), "{err}");
    make_jks(&pki);
    let err = start_fails(
        &pki,
        &jks_cfg(&pki, port).replace("keyStore.password=secret", "keyStore.password=wrong"),
    );
    assert!(
        err.contains("server.jks: JKS: the password is wrong"),
        "{err}"
    );
}

/// `server.jks` (the server's key, from server.p12) and `trust.jks` (the CA), made
/// by Java's keytool, password `secret`.
fn make_jks(pki: &Path) {
    let keytool = |args: &[&str]| {
        let out = Command::new("keytool")
            .args(args)
            .current_dir(pki)
            .output()
            .expect("run keytool (tests/tls.rs needs a JDK's keytool on the PATH)");
        assert!(
            out.status.success(),
            "keytool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keytool(&[
        "-importkeystore",
        "-srckeystore",
        "server.p12",
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass",
        "secret",
        "-destkeystore",
        "server.jks",
        "-deststoretype",
        "JKS",
        "-deststorepass",
        "secret",
        "-noprompt",
    ]);
    keytool(&[
        "-importcert",
        "-file",
        "ca.pem",
        "-keystore",
        "trust.jks",
        "-storetype",
        "JKS",
        "-storepass",
        "secret",
        "-noprompt",
        "-alias",
        "ca",
    ]);
}

fn jks_cfg(pki: &Path, port: u16) -> String {
    format!(
        "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location={}\nssl.keyStore.password=secret\n\
         ssl.trustStore.location={}\nssl.trustStore.password=secret\n",
        pki.join("server.jks").display(),
        pki.join("trust.jks").display(),
    )
}

#[test]
fn jks_key_and_trust_stores_written_by_keytool_are_read() {
    let pki = pki_dir("jks");
    make_jks(&pki);
    let port = free_port();
    let server = Server::start(&jks_cfg(&pki, port));
    let out = py_client(&pki, port, "one", &["get:/".into()]);
    assert_eq!(
        out.get(1).map(String::as_str),
        Some("get 0 "),
        "{out:?}\n{}",
        server.output()
    );
    let out = py_client(&pki, port, "stranger", &[]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "{out:?}"
    );
}

/// zkCli (Debian's ZooKeeper 3.8 `ZooKeeperMain`) over TLS, as ZooKeeper's docs set a
/// client up: `zookeeper.client.secure`, the Netty socket, a PKCS12 key store and a
/// PEM trust store. Debian's zkCli.sh leaves Netty off its class path, so the class
/// path is spelled out here.
/// `NAME.p12`: `NAME.crt` and `NAME.key` in a PKCS12 store, password `secret`.
fn p12(pki: &Path, name: &str) {
    let (crt, key, out) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.p12"),
    );
    openssl(
        pki,
        &[
            "pkcs12",
            "-export",
            "-in",
            &crt,
            "-inkey",
            &key,
            "-out",
            &out,
            "-passout",
            "pass:secret",
        ],
    );
}

/// Whether Debian's zookeeper (and its netty jars) is installed; says so if not.
fn zkcli_installed() -> bool {
    let java = Path::new("/usr/share/java");
    let there = java.join("zookeeper.jar").exists() && java.join("netty-handler.jar").exists();
    if !there {
        eprintln!("skipping: Debian's zookeeper (and its netty jars) not installed");
    }
    there
}

/// Runs Debian's zkCli (ZooKeeper 3.8's `ZooKeeperMain`, Netty socket) over TLS
/// against 127.0.0.1:`port` with the PKCS12 key store `key_store` of `pki` (password
/// `secret`) and `cmd`, for at most 60 s: its output.
fn zkcli(pki: &Path, port: u16, key_store: &str, cmd: &[&str]) -> String {
    let java = Path::new("/usr/share/java");
    let jars = [
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "slf4j-api.jar",
        "netty-buffer.jar",
        "netty-codec.jar",
        "netty-common.jar",
        "netty-handler.jar",
        "netty-resolver.jar",
        "netty-transport.jar",
        "netty-transport-native-epoll.jar",
        "netty-transport-native-unix-common.jar",
    ];
    let cp: Vec<String> = jars
        .iter()
        .map(|j| java.join(j).display().to_string())
        .collect();
    let out = Command::new("timeout")
        .args(["60", "java", "-Xmx128m", "-XX:TieredStopAtLevel=1"])
        .arg("-Dzookeeper.client.secure=true")
        .arg("-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty")
        .arg(format!(
            "-Dzookeeper.ssl.keyStore.location={}",
            pki.join(key_store).display()
        ))
        .arg("-Dzookeeper.ssl.keyStore.password=secret")
        .arg(format!(
            "-Dzookeeper.ssl.trustStore.location={}",
            pki.join("ca.pem").display()
        ))
        // The server's certificate names localhost, not 127.0.0.1.
        .arg("-Dzookeeper.ssl.hostnameVerification=false")
        .arg("-cp")
        .arg(cp.join(":"))
        .arg("org.apache.zookeeper.ZooKeeperMain")
        .args(["-server", &format!("127.0.0.1:{port}")])
        .args(cmd)
        .output()
        .expect("run java");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn zkcli_over_tls_creates_and_reads() {
    if !zkcli_installed() {
        return;
    }
    let pki = pki_dir("zkcli");
    p12(&pki, "one");
    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, ""));
    let zkcli = |cmd: &[&str]| zkcli(&pki, port, "one.p12", cmd);
    let out = zkcli(&["create", "/zkcli-tls", "hello"]);
    assert!(
        out.contains("Created /zkcli-tls"),
        "{out}\n{}",
        server.output()
    );
    let out = zkcli(&["get", "/zkcli-tls"]);
    assert!(out.lines().any(|l| l == "hello"), "{out}");
    wait_for_log(
        &server,
        &format!("authenticated id '{CLIENT_ONE_DN}' for scheme 'x509'"),
    );
}

/// `NAME.pem`, a PEM key store: `NAME.key` and `NAME.crt` in one file.
fn key_store_pem(dir: &Path, name: &str) {
    let pem = [
        std::fs::read_to_string(dir.join(format!("{name}.key"))).expect("key"),
        std::fs::read_to_string(dir.join(format!("{name}.crt"))).expect("crt"),
    ]
    .concat();
    std::fs::write(dir.join(format!("{name}.pem")), pem).expect("write pem");
}

/// A key and CA-signed certificate `NAME.key`/`NAME.crt` for `subj` (`extra`: more
/// `openssl x509` arguments), and `NAME.pem` holding both (a PEM key store).
fn signed_pem(pki: &Path, name: &str, subj: &str, extra: &[&str]) {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    openssl(
        pki,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subj,
        ],
    );
    sign(pki, &csr, &crt, "2", extra);
    key_store_pem(pki, name);
}

/// Replaces `to` with `from`'s content as an operator's tooling does: written beside
/// it, then renamed over it.
fn replace_file(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

/// Waits (bounded) until `needle` appears `n` times in the server's output.
fn wait_for_log_count(server: &Server, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if server.output().matches(needle).count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{needle:?} not {n} times in the server's log:\n{}",
        server.output()
    );
}

/// `server-enc.pem`: the server's certificate and its key encrypted by
/// `openssl pkcs8 -topk8 CIPHER_ARGS` with the password `secret`.
fn encrypted_key_store(pki: &Path, cipher_args: &[&str]) {
    let mut args = vec!["pkcs8", "-topk8"];
    args.extend(cipher_args);
    args.extend([
        "-in",
        "server.key",
        "-out",
        "server.enc",
        "-passout",
        "pass:secret",
    ]);
    openssl(pki, &args);
    let enc = std::fs::read_to_string(pki.join("server.enc")).expect("encrypted key");
    assert!(enc.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{enc}");
    let crt = std::fs::read_to_string(pki.join("server.crt")).expect("crt");
    std::fs::write(pki.join("server-enc.pem"), [enc, crt].concat()).expect("write");
}

#[test]
fn encrypted_pem_keys_are_read_with_the_key_store_password() {
    let pki = pki_dir("encpem");
    encrypted_key_store(&pki, &["-v2", "aes-256-cbc"]);
    let port = free_port();
    let cfg = |password: &str| {
        format!(
            "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
             ssl.keyStore.location={}\nssl.keyStore.type=PEM\n{password}\
             ssl.trustStore.location={}\n",
            pki.join("server-enc.pem").display(),
            pki.join("ca.pem").display(),
        )
    };
    let err = start_fails(&pki, &cfg("ssl.keyStore.password=wrong\n"));
    assert!(
        err.contains("server-enc.pem: cannot decrypt the private key with ssl.keyStore.password"),
        "{err}"
    );
    let err = start_fails(&pki, &cfg(""));
    assert!(
        err.contains("encrypted; ssl.keyStore.password is not set"),
        "{err}"
    );
    let server = Server::start(&cfg("ssl.keyStore.password=secret\n"));
    let out = py_client(&pki, port, "one", &["servercert".into(), "get:/".into()]);
    assert_eq!(
        out.get(1).map(String::as_str),
        Some("servercert localhost"),
        "{out:?}"
    );
    assert_eq!(out.get(2).map(String::as_str), Some("get 0 "), "{out:?}");
    drop(server);
    // As older openssl writes it: 3DES, PBKDF2 with HMAC-SHA1.
    encrypted_key_store(&pki, &["-v2", "des3", "-v2prf", "hmacWithSHA1"]);
    let _server = Server::start(&cfg("ssl.keyStore.password=secret\n"));
    let out = py_client(&pki, port, "one", &["get:/".into()]);
    assert_eq!(out.get(1).map(String::as_str), Some("get 0 "), "{out:?}");
}

#[test]
fn certificate_and_trust_are_reloaded_when_their_files_change() {
    use std::io::BufRead;
    let pki = pki_dir("reload");
    signed_pem(&pki, "rotated", "/CN=rotated", &[]);
    // The stores the server reads, apart from the files the test rotates in.
    std::fs::copy(pki.join("server.pem"), pki.join("live.pem")).expect("copy");
    std::fs::copy(pki.join("ca.pem"), pki.join("trust.pem")).expect("copy");
    let port = free_port();
    let server = Server::start(&format!(
        "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location={}\nssl.trustStore.location={}\nclient.certReload=true\n",
        pki.join("live.pem").display(),
        pki.join("trust.pem").display(),
    ));
    // A session opened before the rotation, kept open across it.
    let go = pki.join("go");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_client.py");
    let mut old = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &port.to_string()])
        .arg(pki.join("ca.pem"))
        .arg(pki.join("one.crt"))
        .arg(pki.join("one.key"))
        .args(["servercert", "get:/"])
        .arg(format!("waitfile:{}", go.display()))
        .arg("get:/")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut old_out = std::io::BufReader::new(old.stdout.take().expect("stdout"));
    let mut old_lines = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        old_out.read_line(&mut l).expect("read");
        old_lines.push(l.trim_end_matches('\n').to_owned());
    }
    assert_eq!(
        old_lines[1..],
        ["servercert localhost", "get 0 "],
        "{old_lines:?}"
    );

    // A garbage key store (as if caught half written for good): the old one stays.
    std::fs::write(
        pki.join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .expect("write");
    replace_file(&pki.join("garbage.pem"), &pki.join("live.pem"));
    wait_for_log(&server, "keeping the previous certificate and trust");
    let out = py_client(&pki, port, "one", &["servercert".into()]);
    assert_eq!(
        out.get(1).map(String::as_str),
        Some("servercert localhost"),
        "{out:?}"
    );

    // A new certificate: new clients see it.
    replace_file(&pki.join("rotated.pem"), &pki.join("live.pem"));
    wait_for_log_count(&server, "new handshakes use", 1);
    let out = py_client(&pki, port, "one", &["servercert".into(), "get:/".into()]);
    assert_eq!(
        out.get(1).map(String::as_str),
        Some("servercert rotated"),
        "{out:?}"
    );
    assert_eq!(out.get(2).map(String::as_str), Some("get 0 "), "{out:?}");

    // A new trust store that trusts only the stranger's self-signed certificate.
    replace_file(&pki.join("stranger.crt"), &pki.join("trust.pem"));
    wait_for_log_count(&server, "new handshakes use", 2);
    let out = py_client(&pki, port, "one", &[]);
    assert!(
        out.iter().any(|l| l.starts_with("handshake-failed")),
        "{out:?}"
    );
    let out = py_client(&pki, port, "stranger", &["get:/".into()]);
    assert_eq!(out.get(1).map(String::as_str), Some("get 0 "), "{out:?}");

    // The session from before the rotation still works.
    std::fs::write(&go, "").expect("touch");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut old_out, &mut rest).expect("read");
    let status = old.wait().expect("wait");
    assert!(status.success());
    assert_eq!(
        rest.lines().collect::<Vec<_>>(),
        ["waitfile found", "get 0 "],
        "{}",
        server.output()
    );
}

#[test]
fn port_unification_serves_tls_and_plaintext_on_the_client_port() {
    use std::io::Write;
    let pki = pki_dir("unified");
    // No secureClientPort: TLS only through the client port.
    let mut server = Server::start(&format!(
        "client.portUnification=true\nssl.keyStore.location={}\nssl.keyStore.password=secret\n\
         ssl.trustStore.location={}\n",
        pki.join("server.p12").display(),
        pki.join("ca.pem").display(),
    ));
    let port = server.port();
    // A client that sends a TLS record's first byte and stalls, and one that sends
    // nothing: both wait while the others are served.
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stalled.write_all(&[0x16]).expect("send");
    let silent = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let since = Instant::now();
    let out = py_client(
        &pki,
        port,
        "one",
        &[
            format!("create:/both:tls:x509={CLIENT_ONE_DN}"),
            "get:/both".into(),
        ],
    );
    assert!(out[0].starts_with("connected TLSv1."), "{out:?}");
    assert_eq!(out[1..], ["create 0", "get 0 tls"], "{out:?}");
    // Plaintext on the same port; the node's ACL names client one's certificate.
    assert_eq!(plain_get_err(&server, "/"), 0);
    assert_eq!(plain_get_err(&server, "/both"), -102);
    assert!(
        since.elapsed() < Duration::from_secs(8),
        "served only after the stall"
    );
    // The stalled ones are closed after the handshake timeout (10 s).
    for s in [stalled, silent] {
        expect_closed_unanswered(s, Duration::from_secs(20));
    }
    wait_for_log(&server, "no handshake within");
    wait_for_log(&server, "nothing sent within");
    server.assert_alive();
    assert_eq!(plain_get_err(&server, "/"), 0);
}

#[test]
fn the_load_generator_speaks_tls_to_the_secure_port() {
    let pki = pki_dir("bench");
    // webpki (the load generator's verifier) wants X.509 v3 naming the IP address.
    std::fs::write(pki.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write");
    signed_pem(&pki, "ip", "/CN=127.0.0.1", &["-extfile", "san.ext"]);
    let port = free_port();
    let server = Server::start(&format!(
        "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location={}\nssl.clientAuth=none\n",
        pki.join("ip.pem").display(),
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .args(["bench", "--servers", &format!("127.0.0.1:{port}")])
        .args(["--workload", "get", "--duration", "1s", "--warmup", "200ms"])
        .args(["--sessions", "2", "--json", "--quiet", "--tls-ca"])
        .arg(pki.join("ca.pem"))
        .output()
        .expect("run ringkeeper bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.output()
    );
    assert!(stdout.contains("\"errors\":{}"), "{stdout}");
    assert!(!stdout.contains("\"ops\":0,"), "{stdout}");
}

/// create with an `x509` ACL on a plaintext connection: its error code.
fn create_x509_acl_err(addr: &str, path: &str) -> i32 {
    let mut s = raw_connect(addr);
    let body = Jute::new()
        .string(path)
        .buffer(b"v")
        .acls(&[(31, "x509", CLIENT_ONE_DN)])
        .int(0)
        .into_vec();
    request(&mut s, 1, common::op::CREATE, &body)
        .expect("create")
        .err
}

#[test]
fn an_x509_acl_is_invalid_without_tls_or_the_x509_provider_as_in_zookeeper() {
    const PROVIDER: &str =
        "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n";
    let plain = Server::start("");
    assert_eq!(create_x509_acl_err(&plain.addr(), "/x"), -114, "INVALIDACL");
    let with = Server::start(PROVIDER);
    assert_eq!(create_x509_acl_err(&with.addr(), "/x"), 0);
    // With TLS served the provider is registered by itself (see
    // create_and_get_over_tls_with_an_x509_acl_and_the_x509_super_user).
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED the comparison with ZooKeeper 3.8: {why}");
        return;
    }
    for (extra, want) in [("", -114), (PROVIDER, 0)] {
        let dir =
            std::env::temp_dir().join(format!("ringkeeper-tls-zk-x509-{}", std::process::id()));
        let zk = zk38::Zk::start(&dir, extra);
        assert_eq!(
            create_x509_acl_err(&zk.addr(), "/x"),
            want,
            "ZooKeeper 3.8 with {extra:?}"
        );
        drop(zk);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A ringkeeper process on a zoo.cfg written here (not `Server`, whose zoo.cfg always
/// has a clientPort); killed when dropped.
struct Raw(std::process::Child);

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The answer of the AdminServer on `port` to GET `path`, head and body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn a_tls_only_server_serves_tls_clients_and_shows_no_client_port_as_zookeeper() {
    let pki = pki_dir("only");
    let (port, admin) = (free_port(), free_port());
    let dir = pki.join("server");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\n4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\n\
             admin.serverPort={admin}\n{}",
            dir.join("data").display(),
            tls_cfg(&pki, port, "")
        ),
    )
    .expect("zoo.cfg");
    let log = dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("server")
        .arg("--config")
        .arg(&cfg)
        .stdout(std::fs::File::create(dir.join("stdout.log")).expect("log"))
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn ringkeeper");
    let _server = Raw(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("serving on")
    {
        assert!(
            Instant::now() < deadline,
            "not serving in 30 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("serving TLS clients only"), "{log_text}");
    let out = py_client(
        &pki,
        port,
        "one",
        &["create:/only:tls:world".into(), "get:/only".into()],
    );
    assert_eq!(
        out.get(1..),
        Some(&["create 0".to_owned(), "get 0 tls".to_owned()][..]),
        "{out:?}"
    );
    // ZooKeeper's `conf` (dumpConf): clientPort=-1 without a plaintext port, then the
    // secure port.
    let conf = py_client(&pki, port, "one", &["4lw:conf".into()]).join("\n");
    assert!(
        conf.contains("\nclientPort=-1\nsecureClientPort="),
        "{conf}"
    );
    assert!(
        conf.contains(&format!("secureClientPort={port}\n")),
        "{conf}"
    );
    // The AdminServer's `configuration` (ZooKeeperServerConf): client_port -1.
    let json = http_get(admin, "/commands/configuration");
    assert!(json.contains("\"client_port\": -1,"), "{json}");
    drop(_server);
    // ZooKeeper 3.8 on the same zoo.cfg (with its Netty connection factory, which its
    // TLS needs) serves TLS clients and answers `conf` the same way.
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED the comparison with ZooKeeper 3.8: {why}");
        return;
    }
    let zk_dir = pki.join("zk");
    std::fs::create_dir_all(zk_dir.join("data")).expect("mkdir");
    let zk_port = free_port();
    let zk_cfg = zk_dir.join("zoo.cfg");
    std::fs::write(
        &zk_cfg,
        format!(
            "tickTime=2000\ndataDir={}\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n{}",
            zk_dir.join("data").display(),
            tls_cfg(&pki, zk_port, "")
        ),
    )
    .expect("zoo.cfg");
    let zk = common::zk_java::quorum_peer_main(&zk_dir, &zk_cfg, &["-Xmx256m"])
        .expect("ZooKeeper's command")
        .spawn()
        .expect("spawn java");
    let _zk = Raw(zk);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", zk_port)).is_err() {
        assert!(Instant::now() < deadline, "ZooKeeper not listening in 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = loop {
        let out = py_client(
            &pki,
            zk_port,
            "one",
            &["create:/only:tls:world".into(), "get:/only".into()],
        );
        if out.len() == 3 || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        out.get(1..),
        Some(&["create 0".to_owned(), "get 0 tls".to_owned()][..]),
        "ZooKeeper: {out:?}"
    );
    let conf = py_client(&pki, zk_port, "one", &["4lw:conf".into()]).join("\n");
    assert!(
        conf.contains("\nclientPort=-1\nsecureClientPort="),
        "ZooKeeper: {conf}"
    );
    assert!(
        conf.contains(&format!("secureClientPort={zk_port}\n")),
        "ZooKeeper: {conf}"
    );
}

#[test]
fn neither_client_port_nor_secure_client_port_is_a_start_error() {
    let dir = std::env::temp_dir().join(format!("ringkeeper-tls-noport-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    let cfg = dir.join("zoo.cfg");
    for (text, want) in [
        ("", "neither clientPort nor secureClientPort is set"),
        (
            "clientPortAddress=127.0.0.1\nsecureClientPort=1\n",
            "clientPortAddress is set but clientPort is not set",
        ),
        (
            "secureClientPortAddress=127.0.0.1\nclientPort=1\n",
            "secureClientPortAddress is set but secureClientPort is not set",
        ),
    ] {
        std::fs::write(
            &cfg,
            format!("dataDir={}\n{text}", dir.join("data").display()),
        )
        .expect("cfg");
        let out = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .arg("server")
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run ringkeeper");
        assert!(!out.status.success(), "started with {text:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{text:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `NAME.crt`/`NAME.key`: a v3 client certificate whose CRL Distribution Points
/// extension names `file://PKI/ca.crl`.
fn signed_with_crl_point(pki: &Path, name: &str, subj: &str) {
    let ext = format!(
        "crlDistributionPoints=URI:file://{}\n",
        pki.join("ca.crl").display()
    );
    std::fs::write(pki.join("crldp.ext"), ext).expect("write ext");
    signed_pem(pki, name, subj, &["-extfile", "crldp.ext"]);
}

/// `ca.crl` (PEM), issued by the test CA, listing the certificates in `revoked`.
fn make_crl(pki: &Path, revoked: &[&str]) {
    std::fs::write(
        pki.join("crl.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\ndefault_crl_days = 1\n",
    )
    .expect("write crl.cnf");
    std::fs::write(pki.join("index.txt"), "").expect("index");
    std::fs::write(pki.join("crlnumber"), "01\n").expect("crlnumber");
    let ca = [
        "-config", "crl.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
    ];
    for r in revoked {
        let mut args = vec!["ca"];
        args.extend(ca);
        args.extend(["-revoke", r]);
        openssl(pki, &args);
    }
    let mut args = vec!["ca"];
    args.extend(ca);
    args.extend(["-gencrl", "-out", "ca.crl"]);
    openssl(pki, &args);
}

#[test]
fn ssl_crl_refuses_a_revoked_client_certificate_and_one_whose_status_is_unknown() {
    let pki = pki_dir("crl");
    signed_with_crl_point(&pki, "good", "/CN=good");
    signed_with_crl_point(&pki, "bad", "/CN=bad");
    make_crl(&pki, &["bad.crt"]);
    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, "ssl.crl=true"));
    assert!(
        served(&pki, port, "good"),
        "an unrevoked certificate was refused\n{}",
        server.output()
    );
    assert!(
        !served(&pki, port, "bad"),
        "a revoked certificate was served"
    );
    wait_for_log(&server, "refusing client certificate CN=bad (serial");
    wait_for_log(&server, "Revoked");
    // A v1 certificate has no distribution point: its status is unknown, refused.
    assert!(
        !served(&pki, port, "one"),
        "a certificate without a CRL point was served"
    );
    wait_for_log(&server, "names no CRL distribution point");
    // Without its CRL, the good certificate's status is unknown too: refused.
    std::fs::remove_file(pki.join("ca.crl")).expect("rm crl");
    assert!(
        !served(&pki, port, "good"),
        "a certificate whose CRL is missing was served"
    );
    wait_for_log(&server, "its revocation status is unknown");
    // ssl.ocsp checks the CRLs too when a certificate names no OCSP responder (Java's
    // PREFER_OCSP falls back to them).
    make_crl(&pki, &["bad.crt"]);
    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, "ssl.ocsp=true"));
    assert!(served(&pki, port, "good"), "{}", server.output());
    wait_for_log(&server, "names no OCSP responder");
    wait_for_log(&server, "a CRL shows it unrevoked");
    assert!(
        !served(&pki, port, "bad"),
        "a revoked certificate was served with ssl.ocsp"
    );
    assert_eq!(mntr(&server, "rk_ocsp_crl_fallback"), 1);
    assert_eq!(mntr(&server, "rk_ocsp_revoked"), 1);
}

/// Whether client `who` gets `/` read over TLS.
fn served(pki: &Path, port: u16, who: &str) -> bool {
    let out = py_client(pki, port, who, &["get:/".into()]);
    out.get(1).map(String::as_str) == Some("get 0 ")
}

/// A `mntr` row's value, read over the plaintext port.
fn mntr(server: &Server, key: &str) -> i64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"mntr").expect("send");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in mntr:\n{text}"))
}

/// Waits (bounded) until `mntr`'s `key` is `want`.
fn wait_for_mntr(server: &Server, key: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut v = mntr(server, key);
    while v != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        v = mntr(server, key);
    }
    assert_eq!(v, want, "{key}\n{}", server.output());
}

#[test]
fn tls_handshakes_are_counted_in_zookeepers_metrics() {
    let pki = pki_dir("metrics");
    let port = free_port();
    let server = Server::start(&tls_cfg(
        &pki,
        port,
        "netty.server.outstandingHandshake.limit=1",
    ));
    for key in [
        "zk_outstanding_tls_handshake",
        "zk_tls_handshake_exceeded",
        "zk_unsuccessful_handshake",
        "zk_auth_failed_count",
    ] {
        assert_eq!(mntr(&server, key), 0, "{key}");
    }
    assert!(served(&pki, port, "one"), "{}", server.output());
    assert_eq!(mntr(&server, "zk_outstanding_tls_handshake"), 0);
    // A connection that sends nothing holds its handshake open...
    let silent = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    wait_for_mntr(&server, "zk_outstanding_tls_handshake", 1);
    // ...so, at the limit of 1, the next TLS client is closed before its handshake.
    assert!(
        !served(&pki, port, "one"),
        "served past the handshake limit"
    );
    wait_for_mntr(&server, "zk_tls_handshake_exceeded", 1);
    wait_for_log(&server, "handshakes are under way");
    // The silent one closing fails its handshake.
    drop(silent);
    wait_for_mntr(&server, "zk_outstanding_tls_handshake", 0);
    wait_for_mntr(&server, "zk_unsuccessful_handshake", 1);
    // An untrusted certificate fails its handshake: unsuccessful, and an auth failure.
    assert!(!served(&pki, port, "stranger"));
    wait_for_mntr(&server, "zk_unsuccessful_handshake", 2);
    wait_for_mntr(&server, "zk_auth_failed_count", 2);
    assert!(served(&pki, port, "one"));
    assert_eq!(mntr(&server, "zk_unsuccessful_handshake"), 2);
    assert_eq!(mntr(&server, "zk_tls_handshake_exceeded"), 1);
}

/// What the test OCSP responder does with a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Respond {
    /// Answers, signed by `ocsp.crt` (the CA's delegated responder, OCSPSigning).
    Signed = 0,
    /// Answers, signed by `rogue.crt` (CA-signed, but not for OCSP signing).
    Rogue = 1,
    /// Takes the connection and never answers.
    Hang = 2,
    /// Stops listening: nothing answers on its port any more.
    Down = 3,
    /// Answers signed by the CA itself (no certificate in the response).
    Ca = 4,
    /// As `Ca`, with the signature's last byte changed.
    Tampered = 5,
    /// Answers made two days ago (thisUpdate, and nextUpdate 5 minutes later, long
    /// past), by `openssl ocsp` under libfaketime.
    Stale = 6,
}

/// An OCSP responder on 127.0.0.1: a small HTTP server here, and `openssl ocsp`
/// (its responder mode, `-index ... -rsigner ... -CA ...`, on the request it got)
/// making each answer. Not `openssl ocsp -port`, which listens on every address.
struct Responder {
    port: u16,
    mode: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// OCSP requests answered.
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Of the requests, those sent as GET.
    gets: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Responder {
    fn start(pki: &Path) -> Responder {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering::SeqCst;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let mode = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(Respond::Signed as u8));
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (m, n, g, dir) = (
            mode.clone(),
            answered.clone(),
            gets.clone(),
            pki.to_path_buf(),
        );
        std::thread::spawn(move || {
            // Bounded: the test process ends well within this.
            let deadline = Instant::now() + Duration::from_secs(600);
            let mut held = Vec::new();
            while Instant::now() < deadline && m.load(SeqCst) != Respond::Down as u8 {
                let mut conn = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let mode = m.load(SeqCst);
                if mode == Respond::Hang as u8 {
                    held.push(conn);
                    continue;
                }
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break None,
                        Ok(k) => req.extend_from_slice(&buf[..k]),
                    }
                    let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                    // GET /<base64 of the request, URL-encoded> (RFC 6960 A.1).
                    if let Some(path) = head.lines().next().and_then(|l| l.strip_prefix("get /")) {
                        let line = String::from_utf8_lossy(&req[5..end]).into_owned();
                        let b64 = line[..path.find(' ').unwrap_or(path.len())]
                            .replace("%2B", "+")
                            .replace("%2F", "/")
                            .replace("%3D", "=");
                        use base64::Engine as _;
                        g.fetch_add(1, SeqCst);
                        break base64::engine::general_purpose::STANDARD.decode(b64).ok();
                    }
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break Some(req[end + 4..end + 4 + len].to_vec());
                    }
                };
                let Some(body) = body else { continue };
                std::fs::write(dir.join("ocsp-req.der"), body).expect("write request");
                let by_ca = mode == Respond::Ca as u8 || mode == Respond::Tampered as u8;
                let (crt, key) = match mode {
                    _ if by_ca => ("ca.pem", "ca.key"),
                    m if m == Respond::Rogue as u8 => ("rogue.crt", "rogue.key"),
                    _ => ("ocsp.crt", "ocsp.key"),
                };
                let mut args = vec![
                    "ocsp",
                    "-index",
                    "ocsp-index.txt",
                    "-CA",
                    "ca.pem",
                    "-rsigner",
                    crt,
                    "-rkey",
                    key,
                    "-nmin",
                    "5",
                    "-reqin",
                    "ocsp-req.der",
                    "-respout",
                    "ocsp-resp.der",
                ];
                if by_ca {
                    args.push("-resp_no_certs");
                }
                if mode == Respond::Stale as u8 {
                    let out = Command::new("openssl")
                        .args(&args)
                        .env("LD_PRELOAD", LIBFAKETIME)
                        .env("FAKETIME", "-2d")
                        .current_dir(&dir)
                        .output()
                        .expect("run openssl under libfaketime");
                    assert!(
                        out.status.success(),
                        "openssl ocsp under libfaketime ({LIBFAKETIME}) failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                } else {
                    openssl(&dir, &args);
                }
                let mut resp = std::fs::read(dir.join("ocsp-resp.der")).expect("read response");
                // Without certificates the response ends with the signature's bits.
                if mode == Respond::Tampered as u8 {
                    if let Some(b) = resp.last_mut() {
                        *b ^= 1;
                    }
                }
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\
                     Content-Length: {}\r\n\r\n",
                    resp.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&resp);
                n.fetch_add(1, SeqCst);
            }
        });
        Responder {
            port,
            mode,
            answered,
            gets,
        }
    }

    fn set(&self, mode: Respond) {
        self.mode
            .store(mode as u8, std::sync::atomic::Ordering::SeqCst);
    }

    fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `NAME.crt`/`NAME.key`: a v3 client certificate whose Authority Information Access
/// names the OCSP responder at `url` (and `extra` extension lines).
fn signed_with_ocsp_url(pki: &Path, name: &str, url: &str, extra: &str) {
    let ext = format!("authorityInfoAccess=OCSP;URI:{url}\n{extra}");
    std::fs::write(pki.join("aia.ext"), ext).expect("write ext");
    signed_pem(pki, name, &format!("/CN={name}"), &["-extfile", "aia.ext"]);
}

/// `ocsp.crt`/`ocsp.key`: the CA's delegated OCSP responder (OCSPSigning).
fn ocsp_signer(pki: &Path) {
    signed_pem(pki, "ocsp", "/CN=OCSP responder", &[]);
    std::fs::write(pki.join("eku.ext"), "extendedKeyUsage=OCSPSigning\n").expect("ext");
    sign(pki, "ocsp.csr", "ocsp.crt", "2", &["-extfile", "eku.ext"]);
}

/// The responder's database (`ocsp-index.txt`, as `openssl ca` keeps it): each of
/// `valid` known and good, each of `revoked` revoked.
fn ocsp_index(pki: &Path, valid: &[&str], revoked: &[&str]) {
    std::fs::write(
        pki.join("ocsp-ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = ocsp-index.txt\ndefault_md = sha256\n",
    )
    .expect("write ocsp-ca.cnf");
    std::fs::write(pki.join("ocsp-index.txt"), "").expect("index");
    for (flag, names) in [("-valid", valid), ("-revoke", revoked)] {
        for n in names {
            let crt = format!("{n}.crt");
            openssl(
                pki,
                &[
                    "ca",
                    "-config",
                    "ocsp-ca.cnf",
                    "-keyfile",
                    "ca.key",
                    "-cert",
                    "ca.pem",
                    flag,
                    &crt,
                ],
            );
        }
    }
}

#[test]
fn ssl_ocsp_asks_the_responder_each_client_certificate_names_and_fails_closed() {
    let pki = pki_dir("ocsp");
    let responder = Responder::start(&pki);
    let url = format!("http://127.0.0.1:{}/", responder.port);
    // The CA's delegated responder, and a CA-signed certificate not for OCSP signing.
    ocsp_signer(&pki);
    signed_pem(&pki, "rogue", "/CN=rogue responder", &[]);
    for name in [
        "good", "bad", "stray", "two", "three", "four", "six", "seven", "eight",
    ] {
        signed_with_ocsp_url(&pki, name, &url, "");
    }
    // One whose responder is nowhere, with a CRL point whose CRL does not list it.
    let nowhere = format!("http://127.0.0.1:{}/", free_port());
    let crldp = format!(
        "crlDistributionPoints=URI:file://{}\n",
        pki.join("ca.crl").display()
    );
    signed_with_ocsp_url(&pki, "five", &nowhere, &crldp);
    make_crl(&pki, &["bad.crt"]);
    ocsp_index(
        &pki,
        &[
            "good", "two", "three", "four", "five", "six", "seven", "eight",
        ],
        &["bad"],
    );

    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, "ssl.ocsp=true\ncores=1"));
    assert!(
        served(&pki, port, "good"),
        "a certificate its responder says is good was refused\n{}",
        server.output()
    );
    assert_eq!(responder.answered(), 1);
    // As Java sends a request this small: a GET.
    assert_eq!(responder.gets.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        !served(&pki, port, "bad"),
        "a revoked certificate was served"
    );
    wait_for_log(&server, "CN=bad is revoked (OCSP: revoked at");
    // Not in the responder's database: `unknown`, refused.
    assert!(
        !served(&pki, port, "stray"),
        "an unknown certificate was served"
    );
    wait_for_log(&server, "does not know the certificate (unknown)");
    // The good answer had a nextUpdate (-nmin 5): cached, not asked again.
    assert!(served(&pki, port, "good"));
    assert_eq!(responder.answered(), 3, "the good answer was not cached");
    assert_eq!(mntr(&server, "rk_ocsp_cached"), 1);

    // Signed by a certificate the CA issued, but not for OCSP signing: refused.
    responder.set(Respond::Rogue);
    assert!(
        !served(&pki, port, "four"),
        "an answer from an unauthorised signer was taken"
    );
    wait_for_log(
        &server,
        "CN=rogue responder, whose certificate is not for OCSP signing",
    );
    // Signed by the issuer itself: taken; with its signature changed: refused.
    responder.set(Respond::Ca);
    assert!(
        served(&pki, port, "seven"),
        "an answer signed by the issuer was refused\n{}",
        server.output()
    );
    responder.set(Respond::Tampered);
    assert!(!served(&pki, port, "six"), "a tampered answer was taken");
    wait_for_log(&server, "its signature does not verify");
    // An answer past its nextUpdate (and Java's 15 minutes of skew): refused.
    responder.set(Respond::Stale);
    assert!(!served(&pki, port, "eight"), "a stale answer was taken");
    wait_for_log(&server, "the response is out of date");

    // A responder that never answers: the lookup waits on its own thread, and the
    // session core serves its other clients meanwhile; then the client is refused.
    responder.set(Respond::Hang);
    let (pki2, waiting) = (pki.clone(), Instant::now());
    let hung = std::thread::spawn(move || served(&pki2, port, "three"));
    wait_for_mntr(&server, "zk_outstanding_tls_handshake", 1);
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(plain_get_err(&server, "/"), 0);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a plaintext get took {:?} while an OCSP lookup hung",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        served(&pki, port, "good"),
        "a cached certificate waited behind a hung lookup"
    );
    assert!(
        !hung.join().expect("client thread"),
        "served without an OCSP answer"
    );
    assert!(waiting.elapsed() >= Duration::from_secs(4), "no OCSP wait?");
    wait_for_log(&server, "refusing client certificate from 127.0.0.1");

    // The responder down: fail closed.
    responder.set(Respond::Down);
    assert!(!served(&pki, port, "two"), "served with its responder down");
    wait_for_log(
        &server,
        "the revocation status of CN=two is unknown: OCSP: http://127.0.0.1",
    );
    // Java falls back to the CRLs: one that shows the certificate unrevoked admits it.
    assert!(
        served(&pki, port, "five"),
        "the CRL fallback was not taken\n{}",
        server.output()
    );
    assert_eq!(mntr(&server, "rk_ocsp_crl_fallback"), 1);
    assert_eq!(mntr(&server, "rk_ocsp_revoked"), 1);
    assert!(mntr(&server, "zk_unsuccessful_handshake") >= 7);
}

#[test]
fn zkcli_with_ssl_ocsp_is_served_with_a_good_certificate_and_refused_with_a_revoked_one() {
    if !zkcli_installed() {
        return;
    }
    let pki = pki_dir("zkcli-ocsp");
    let responder = Responder::start(&pki);
    let url = format!("http://127.0.0.1:{}/", responder.port);
    ocsp_signer(&pki);
    for name in ["good", "bad"] {
        signed_with_ocsp_url(&pki, name, &url, "");
        p12(&pki, name);
    }
    ocsp_index(&pki, &["good"], &["bad"]);
    let port = free_port();
    let server = Server::start(&tls_cfg(&pki, port, "ssl.ocsp=true"));
    let out = zkcli(&pki, port, "good.p12", &["create", "/zkcli-ocsp", "hello"]);
    assert!(
        out.contains("Created /zkcli-ocsp"),
        "{out}\n{}",
        server.output()
    );
    assert!(mntr(&server, "rk_ocsp_good") >= 1);
    let out = zkcli(&pki, port, "bad.p12", &["create", "/zkcli-revoked", "x"]);
    assert!(
        !out.contains("Created") && out.contains("KeeperErrorCode = ConnectionLoss"),
        "a revoked certificate was served: {out}"
    );
    wait_for_log(&server, "CN=bad is revoked (OCSP: revoked at");
    assert_eq!(plain_get_err(&server, "/zkcli-revoked"), -101, "NONODE");
}

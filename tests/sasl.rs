//! SASL DIGEST-MD5 on the client port, over the wire: a DIGEST-MD5 client written here
//! from RFC 2831 (not the server's code) runs the exchange of ZooKeeper's opcode 102
//! against ringkeeper configured with a JAAS file in ZooKeeper's format, and every step's
//! answer is compared with Apache ZooKeeper 3.8's, run with the same JAAS file and the
//! same zoo.cfg lines (skipped with a message without Java or Debian's jars):
//! a good password authenticates (`rspauth` checks out) and reads a node whose ACL is
//! `sasl:bob:cdrwa`; a bad password, an unknown user, a GSSAPI client, garbage and a
//! second exchange get AUTHFAILED and a closed connection (a SASL record cut short: a
//! closed connection, no answer), and other sessions go on; the SASL user `super`
//! (logging in with `SASLAuthenticationProvider.superPassword`) and a
//! `zookeeper.superUser` read everything; with `sessionRequireClientSASLAuth=true`
//! a client without SASL (or with a failed one) gets SESSIONCLOSEDREQUIRESASLAUTH;
//! with `allowSaslFailedClients=true` a failed exchange keeps the connection; without a
//! JAAS login a SASL request is answered OK with no token.
//! kazoo's own SASL tests run in tests/interop (kazoo.sh).

mod common;
mod zk38;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{op, raw_connect, request, wait_closed, Jute, Reader, Server};
use md5::{Digest, Md5};

const SASL: i32 = 102;
const GET_ACL: i32 = 6;
const SET_ACL: i32 = 7;
const CDRWA: i32 = 31;

const JAAS: &str = "/* the users of both servers */\n\
    Server {\n\
    \x20   org.apache.zookeeper.server.auth.DigestLoginModule required\n\
    \x20   user_bob=\"bob-secret\"\n\
    \x20   user_super=\"super-secret\"\n\
    \x20   user_alice=\"alice-secret\";\n\
    };\n";
const PROVIDER: &str =
    "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringkeeper-sasl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write_jaas(dir: &Path) -> PathBuf {
    let f = dir.join("jaas.conf");
    std::fs::write(&f, JAAS).expect("jaas.conf");
    f
}

/// ringkeeper with `extra` zoo.cfg lines and the JAAS file (written in a fresh scratch
/// dir) named by its zoo.cfg key, as ZooKeeper gets it by its JVM flag.
fn start_with_jaas(name: &str, extra: &str) -> (PathBuf, PathBuf, Server) {
    let dir = scratch(name);
    let jaas = write_jaas(&dir);
    let server = Server::start(&format!(
        "{extra}java.security.auth.login.config={}\n",
        jaas.display()
    ));
    (dir, jaas, server)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn md5(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// `key=value` / `key="value"` pairs of a challenge.
fn directives(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').expect("closing quote");
            (&q[..end], &q[end + 1..])
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        out.push((key.trim().to_owned(), value.to_owned()));
        rest = tail.trim_start_matches(',');
    }
    out
}

/// RFC 2831's client: the digest-response to `challenge` and the `rspauth` the server
/// must answer with. digest-uri `zookeeper/zk-sasl-md5`, as ZooKeeper's clients send.
fn client_response(challenge: &str, user: &str, pw: &str) -> (Vec<u8>, String) {
    let d = directives(challenge);
    let get = |k: &str| {
        d.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (realm, nonce) = (get("realm"), get("nonce"));
    let cnonce = "dGVzdC1jbGllbnQtY25vbmNl";
    let uri = "zookeeper/zk-sasl-md5";
    let urp = md5(&[format!("{user}:{realm}:{pw}").as_bytes()]);
    let ha1 = hex(&md5(&[&urp, format!(":{nonce}:{cnonce}").as_bytes()]));
    let kd = |a2: &str| {
        let ha2 = hex(&md5(&[a2.as_bytes()]));
        hex(&md5(&[format!(
            "{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"
        )
        .as_bytes()]))
    };
    let response = kd(&format!("AUTHENTICATE:{uri}"));
    let text = format!(
        "charset=utf-8,username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",nc=00000001,\
         cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={response},qop=auth"
    );
    (
        text.into_bytes(),
        format!("rspauth={}", kd(&format!(":{uri}"))),
    )
}

/// One SASL request: "err E zxid0 B token T", T the token as text (nonce masked) or
/// `null`.
fn sasl_step(s: &mut TcpStream, xid: i32, token: &[u8]) -> (String, Option<String>) {
    let r = request(s, xid, SASL, &Jute::new().buffer(token).into_vec()).expect("a SASL answer");
    let mut body = Reader(&r.body);
    let tok = if r.body.len() >= 4 {
        let n = i32::from_be_bytes(r.body[..4].try_into().expect("4 bytes"));
        (n >= 0).then(|| String::from_utf8_lossy(&body.buffer()).into_owned())
    } else {
        None
    };
    let shown = tok.as_ref().map_or("null".to_owned(), |t| mask_nonce(t));
    (
        format!(
            "err {} zxid0 {} body {} token {shown}",
            r.err,
            r.zxid == 0,
            r.body.len()
        ),
        tok,
    )
}

/// The nonce is fresh each time: shown by its length only.
fn mask_nonce(t: &str) -> String {
    match t.split_once("nonce=\"") {
        Some((a, b)) => {
            let end = b.find('"').unwrap_or(b.len());
            format!("{a}nonce=<{} chars>{}", end, &b[end..])
        }
        None => t.to_owned(),
    }
}

/// A full exchange on a new connection; the transcript and the connection.
fn login(addr: &str, user: &str, pw: &str, t: &mut Vec<String>) -> TcpStream {
    let mut s = raw_connect(addr);
    let (line, challenge) = sasl_step(&mut s, 1, b"");
    t.push(format!("{user} challenge: {line}"));
    let (resp, rspauth) = client_response(&challenge.unwrap_or_default(), user, pw);
    let (line, tok) = sasl_step(&mut s, 2, &resp);
    let verdict = match tok {
        Some(tok) if tok == rspauth => "rspauth verified".to_owned(),
        Some(tok) => format!("rspauth WRONG: {tok}"),
        None => "no rspauth".to_owned(),
    };
    t.push(format!(
        "{user} response: {} ({verdict})",
        line.split(" token").next().unwrap_or("")
    ));
    s
}

fn closed(s: &mut TcpStream) -> bool {
    wait_closed(s, Duration::from_secs(10))
}

fn get(s: &mut TcpStream, xid: i32, path: &str) -> String {
    let r = request(
        s,
        xid,
        op::GET_DATA,
        &Jute::new().string(path).boolean(false).into_vec(),
    )
    .expect("getData answer");
    let data = if r.err == 0 {
        String::from_utf8_lossy(&Reader(&r.body).buffer()).into_owned()
    } else {
        String::new()
    };
    format!("get {path}: err {} {data}", r.err)
}

fn create(s: &mut TcpStream, xid: i32, path: &str, acl: &[(i32, &str, &str)]) -> String {
    let body = Jute::new()
        .string(path)
        .buffer(b"v")
        .acls(acl)
        .int(0)
        .into_vec();
    let r = request(s, xid, op::CREATE, &body).expect("create answer");
    format!("create {path}: err {}", r.err)
}

/// The steps without enforcement; the same list from both servers.
fn steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    // A good password: authenticated; a node only bob may use.
    let mut bob = login(addr, "bob", "bob-secret", &mut t);
    t.push(create(&mut bob, 3, "/sasl-bob", &[(CDRWA, "sasl", "bob")]));
    t.push(get(&mut bob, 4, "/sasl-bob"));
    // `auth` expands to the session's sasl id.
    t.push(create(&mut bob, 5, "/sasl-auth", &[(CDRWA, "auth", "")]));
    let r = request(
        &mut bob,
        6,
        GET_ACL,
        &Jute::new().string("/sasl-auth").into_vec(),
    )
    .expect("getACL");
    let mut b = Reader(&r.body);
    let n = b.int();
    let acl: Vec<String> = (0..n)
        .map(|_| {
            let perms = b.int();
            format!("{perms}:{}:{}", b.string(), b.string())
        })
        .collect();
    t.push(format!("getACL /sasl-auth: err {} {acl:?}", r.err));
    // A sasl id that is not a Kerberos name is not a valid ACL.
    let set = Jute::new()
        .string("/sasl-auth")
        .acls(&[(CDRWA, "sasl", "a@b@c")])
        .int(-1)
        .into_vec();
    let r = request(&mut bob, 7, SET_ACL, &set).expect("setACL");
    t.push(format!("setACL sasl:a@b@c: err {}", r.err));
    // A second exchange on the same connection: the JDK's server is at its end.
    let (line, _) = sasl_step(&mut bob, 8, b"");
    t.push(format!(
        "second exchange: {line} closed {}",
        closed(&mut bob)
    ));
    // Nobody else reads bob's node; the SASL user `super` and superUser alice do.
    let mut anon = raw_connect(addr);
    t.push(format!("anonymous {}", get(&mut anon, 1, "/sasl-bob")));
    let mut sup = login(addr, "super", "super-pw", &mut t);
    t.push(format!("sasl user super {}", get(&mut sup, 3, "/sasl-bob")));
    let mut alice = login(addr, "alice", "alice-secret", &mut t);
    t.push(format!(
        "superUser alice {}",
        get(&mut alice, 3, "/sasl-bob")
    ));
    // Failures: AUTHFAILED with a null token, then the connection is closed.
    let mut s = raw_connect(addr);
    sasl_step(&mut s, 1, b"");
    let (line, _) = sasl_step(&mut s, 2, b"username=\"bob\",garbage");
    t.push(format!("garbage: {line} closed {}", closed(&mut s)));
    // A GSSAPI client: its first token gets the DIGEST-MD5 challenge (the JDK's server
    // does not look at it), its next one fails.
    let mut s = raw_connect(addr);
    let (line, _) = sasl_step(&mut s, 1, b"\x60\x82\x02\x00gssapi-token");
    t.push(format!("GSSAPI first token: {line}"));
    let (line, _) = sasl_step(&mut s, 2, b"\x60\x82\x01\x00gssapi-token-2");
    t.push(format!(
        "GSSAPI second token: {line} closed {}",
        closed(&mut s)
    ));
    // (An unknown user with a password nobody has: ZooKeeper 3.8.0 shares one callback
    // handler between connections, so an unknown user is checked against the password
    // of the user named before it; ringkeeper refuses unknown users whatever they send.)
    for (user, pw) in [("bob", "wrong"), ("mallory", "mallory-secret")] {
        let mut s = raw_connect(addr);
        let (_, ch) = sasl_step(&mut s, 1, b"");
        let (resp, _) = client_response(&ch.unwrap_or_default(), user, pw);
        let (line, _) = sasl_step(&mut s, 2, &resp);
        t.push(format!("{user}/{pw}: {line} closed {}", closed(&mut s)));
    }
    // A SASL request whose record is cut short (a token longer than the frame).
    let mut s = raw_connect(addr);
    let cut = Jute::new()
        .int(1)
        .int(SASL)
        .int(100)
        .raw(b"short")
        .into_vec();
    common::send_frame(&mut s, &cut).expect("send");
    let answer = common::read_reply(&mut s).map(|r| format!("err {}", r.err));
    t.push(format!(
        "cut record: {} closed {}",
        answer.unwrap_or_else(|_| "no answer".into()),
        closed(&mut s)
    ));
    // Other sessions were not disturbed.
    let mut bob = login(addr, "bob", "bob-secret", &mut t);
    t.push(format!("afterwards {}", get(&mut bob, 3, "/sasl-bob")));
    t
}

/// With `sessionRequireClientSASLAuth=true`.
fn enforced_steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    let mut s = raw_connect(addr);
    t.push(format!(
        "no SASL {} closed {}",
        get(&mut s, 1, "/"),
        closed(&mut s)
    ));
    let mut s = raw_connect(addr);
    let (_, ch) = sasl_step(&mut s, 1, b"");
    let (resp, _) = client_response(&ch.unwrap_or_default(), "bob", "wrong");
    let (line, _) = sasl_step(&mut s, 2, &resp);
    t.push(format!("bad password: {line} closed {}", closed(&mut s)));
    let mut bob = login(addr, "bob", "bob-secret", &mut t);
    t.push(get(&mut bob, 3, "/"));
    t
}

/// With `allowSaslFailedClients=true`: a failed exchange keeps the connection, which
/// has no `sasl` id.
fn allowed_failure_steps(addr: &str) -> Vec<String> {
    let mut s = raw_connect(addr);
    let (_, ch) = sasl_step(&mut s, 1, b"");
    let (resp, _) = client_response(&ch.unwrap_or_default(), "bob", "wrong");
    let (line, _) = sasl_step(&mut s, 2, &resp);
    let mut t = vec![format!("bad password: {line}")];
    t.push(create(&mut s, 3, "/allowed", &[(CDRWA, "auth", "")]));
    t.push(get(&mut s, 4, "/"));
    t
}

/// A SASL login without the sasl provider (no `authProvider.N`): the login itself
/// succeeds, but `sasl` ACL entries are refused and `auth` has no id to expand to.
fn no_provider_steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    let mut bob = login(addr, "bob", "bob-secret", &mut t);
    t.push(create(&mut bob, 3, "/np-sasl", &[(CDRWA, "sasl", "bob")]));
    t.push(create(&mut bob, 4, "/np-auth", &[(CDRWA, "auth", "")]));
    t.push(create(
        &mut bob,
        5,
        "/np-open",
        &[(CDRWA, "world", "anyone")],
    ));
    t
}

/// bob makes a node only `sasl:bob` may use; alice (another SASL user) and an
/// anonymous session try to read it.
fn any_sasl_user_steps(addr: &str) -> Vec<String> {
    let mut t = Vec::new();
    let mut bob = login(addr, "bob", "bob-secret", &mut t);
    t.push(create(&mut bob, 3, "/shared", &[(CDRWA, "sasl", "bob")]));
    let mut alice = login(addr, "alice", "alice-secret", &mut t);
    t.push(format!("alice {}", get(&mut alice, 3, "/shared")));
    t.push(format!(
        "alice {}",
        create(&mut alice, 4, "/shared/a", &[(CDRWA, "world", "anyone")])
    ));
    let mut anon = raw_connect(addr);
    t.push(format!("anonymous {}", get(&mut anon, 1, "/shared")));
    t
}

/// A SASL request to a server with no JAAS login.
fn no_login_steps(addr: &str) -> Vec<String> {
    let mut s = raw_connect(addr);
    let (line, _) = sasl_step(&mut s, 1, b"");
    vec![format!("no login: {line}"), get(&mut s, 2, "/")]
}

const EXPECTED: &[&str] = &[
    "bob challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "bob response: err 0 zxid0 true body 44 (rspauth verified)",
    "create /sasl-bob: err 0",
    "get /sasl-bob: err 0 v",
    "create /sasl-auth: err 0",
    "getACL /sasl-auth: err 0 [\"31:sasl:bob\"]",
    "setACL sasl:a@b@c: err -114",
    "second exchange: err -115 zxid0 true body 4 token null closed true",
    "anonymous get /sasl-bob: err -102 ",
    "super challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "super response: err 0 zxid0 true body 44 (rspauth verified)",
    "sasl user super get /sasl-bob: err 0 v",
    "alice challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "alice response: err 0 zxid0 true body 44 (rspauth verified)",
    "superUser alice get /sasl-bob: err 0 v",
    "garbage: err -115 zxid0 true body 4 token null closed true",
    "GSSAPI first token: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "GSSAPI second token: err -115 zxid0 true body 4 token null closed true",
    "bob/wrong: err -115 zxid0 true body 4 token null closed true",
    "mallory/mallory-secret: err -115 zxid0 true body 4 token null closed true",
    "cut record: no answer closed true",
    "bob challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "bob response: err 0 zxid0 true body 44 (rspauth verified)",
    "afterwards get /sasl-bob: err 0 v",
];

const ENFORCED_EXPECTED: &[&str] = &[
    "no SASL get /: err -124  closed true",
    "bad password: err -124 zxid0 true body 4 token null closed true",
    "bob challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess",
    "bob response: err 0 zxid0 true body 44 (rspauth verified)",
    "get /: err 0 ",
];

const NO_LOGIN_EXPECTED: &[&str] = &[
    "no login: err 0 zxid0 true body 4 token null",
    "get /: err 0 ",
];

/// Runs `f` against ZooKeeper 3.8 started with `extra` zoo.cfg lines and the JAAS file
/// (if any) as its JVM flag; `None` (and a message) when ZooKeeper cannot run here.
fn on_zookeeper(
    name: &str,
    extra: &str,
    jaas: Option<&Path>,
    f: fn(&str) -> Vec<String>,
) -> Option<Vec<String>> {
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED the comparison with ZooKeeper 3.8: {why} (needs Debian's zookeeper)");
        return None;
    }
    let dir = scratch(&format!("zk-{name}"));
    let flag = jaas.map(|j| format!("-Djava.security.auth.login.config={}", j.display()));
    let jvm: Vec<&str> = flag.iter().map(String::as_str).collect();
    let zk = zk38::Zk::start_with_jvm(&dir, extra, &jvm);
    let out = f(&zk.addr());
    drop(zk);
    let _ = std::fs::remove_dir_all(&dir);
    Some(out)
}

#[test]
fn digest_md5_exchange_acls_and_failures_as_zookeeper() {
    // ringkeeper reads the JAAS file's name as a zoo.cfg key; ZooKeeper as a JVM flag.
    // The user `super` logs in with superPassword, not the JAAS file's password.
    let extra =
        format!("{PROVIDER}superUser=alice\nSASLAuthenticationProvider.superPassword=super-pw\n");
    let (dir, jaas, server) = start_with_jaas("plain", &extra);
    let rk = steps(&server.addr());
    assert_eq!(rk, EXPECTED, "ringkeeper");
    let out = server.output();
    assert!(
        out.contains("adding SASL authorization for authorizationID: bob")
            && out.contains("failed to SASL authenticate: DIGEST-MD5: mismatched response"),
        "log lines missing:\n{out}"
    );
    if let Some(zk) = on_zookeeper("plain", &extra, Some(&jaas), steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn required_sasl_refuses_clients_without_it_as_zookeeper() {
    let extra = format!("{PROVIDER}sessionRequireClientSASLAuth=true\n");
    let (dir, jaas, server) = start_with_jaas("required", &extra);
    let rk = enforced_steps(&server.addr());
    assert_eq!(rk, ENFORCED_EXPECTED, "ringkeeper");
    if let Some(zk) = on_zookeeper("required", &extra, Some(&jaas), enforced_steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_jaas_login_sasl_is_answered_with_no_token_as_zookeeper() {
    let server = Server::start(PROVIDER);
    let rk = no_login_steps(&server.addr());
    assert_eq!(rk, NO_LOGIN_EXPECTED, "ringkeeper");
    if let Some(zk) = on_zookeeper("nologin", PROVIDER, None, no_login_steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
}

#[test]
fn allow_sasl_failed_clients_keeps_the_connection_as_zookeeper() {
    let extra = format!("{PROVIDER}allowSaslFailedClients=true\n");
    let (dir, jaas, server) = start_with_jaas("allowed", &extra);
    let rk = allowed_failure_steps(&server.addr());
    assert_eq!(
        rk,
        [
            "bad password: err 0 zxid0 true body 4 token null",
            // No authenticated id for `auth` to expand to.
            "create /allowed: err -114",
            "get /: err 0 ",
        ],
        "ringkeeper"
    );
    if let Some(zk) = on_zookeeper("allowed", &extra, Some(&jaas), allowed_failure_steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// zkServer.sh passes the JAAS file in `SERVER_JVMFLAGS`/`JVMFLAGS`: ringkeeper reads
/// it there (a file it cannot read stops the start, naming where it came from).
#[test]
fn the_jaas_file_is_found_in_server_jvmflags() {
    let dir = scratch("env");
    std::fs::create_dir_all(dir.join("data")).expect("data");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let bad = dir.join("bad-jaas.conf");
    std::fs::write(
        &bad,
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule\n};\n",
    )
    .expect("jaas");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("server")
        .arg(&cfg)
        .env(
            "SERVER_JVMFLAGS",
            format!("-Xmx1g -Djava.security.auth.login.config={}", bad.display()),
        )
        .env_remove("JVMFLAGS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ringkeeper");
    // A server that does not see the flag starts and serves: stop it after a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("ringkeeper's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("SERVER_JVMFLAGS: java.security.auth.login.config:")
            && stderr.contains("bad-jaas.conf: line 3: expected a control flag"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `cmd` for at most 60 s; its stdout and stderr together.
fn run_bounded(cmd: &mut std::process::Command) -> String {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// ZooKeeper's own Java CLI with a JAAS client file (the JDK's DIGEST-MD5 client): the
/// lines it prints about authentication and the commands' results.
fn zkcli_steps(addr: &str, dir: &Path) -> Vec<String> {
    let client = |name: &str, pw: &str| {
        let f = dir.join(name);
        std::fs::write(
            &f,
            format!(
                "Client {{\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
                 username=\"bob\"\n  password=\"{pw}\";\n}};\n"
            ),
        )
        .expect("client jaas");
        f
    };
    let good = client("client.jaas", "bob-secret");
    let bad = client("client-bad.jaas", "wrong");
    let mut t = Vec::new();
    for (jaas, args) in [
        (&good, &["create", "/cli", "by-zkcli", "sasl:bob:cdrwa"][..]),
        (&good, &["get", "/cli"][..]),
        (&bad, &["get", "/cli"][..]),
    ] {
        let out = run_bounded(
            std::process::Command::new(ZKCLI)
                .arg("-server")
                .arg(addr)
                .args(args)
                .env(
                    "CLIENT_JVMFLAGS",
                    format!(
                        "-Xmx128m -XX:TieredStopAtLevel=1 -Djava.security.auth.login.config={}",
                        jaas.display()
                    ),
                ),
        );
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| {
                l.starts_with("WatchedEvent state:Sasl")
                    || l.starts_with("WatchedEvent state:AuthFailed")
                    || l.starts_with("Created ")
                    || l.starts_with("KeeperErrorCode")
                    || *l == "by-zkcli"
            })
            .collect();
        t.push(format!("{}: {}", args.join(" "), lines.join(" | ")));
    }
    t
}

#[test]
fn zkcli_authenticates_with_a_jaas_client_file_as_against_zookeeper() {
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED: {why} (zkCli.sh needs Debian's zookeeper)");
        return;
    }
    if !Path::new(ZKCLI).exists() {
        eprintln!("SKIPPED: {ZKCLI} is missing (apt-get install zookeeper)");
        return;
    }
    let (dir, jaas, server) = start_with_jaas("zkcli", PROVIDER);
    let rk = zkcli_steps(&server.addr(), &dir);
    assert_eq!(
        rk,
        [
            "create /cli by-zkcli sasl:bob:cdrwa: WatchedEvent state:SaslAuthenticated type:None \
             path:null | Created /cli",
            "get /cli: WatchedEvent state:SaslAuthenticated type:None path:null | by-zkcli",
            "get /cli: WatchedEvent state:AuthFailed type:None path:null | KeeperErrorCode = \
             AuthFailed for /cli",
        ],
        "zkCli against ringkeeper"
    );
    if let Some(zk) = on_zookeeper("zkcli", PROVIDER, Some(&jaas), |addr| {
        let dir = scratch("zkcli-client");
        let t = zkcli_steps(addr, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        t
    }) {
        assert_eq!(zk, rk, "zkCli sees ZooKeeper 3.8 differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const CHALLENGE: &str = "challenge: err 0 zxid0 true body 105 token realm=\"zk-sasl-md5\",nonce=<40 chars>\",charset=utf-8,algorithm=md5-sess";
const RESPONSE: &str = "response: err 0 zxid0 true body 44 (rspauth verified)";

fn logged_in(user: &str) -> [String; 2] {
    [format!("{user} {CHALLENGE}"), format!("{user} {RESPONSE}")]
}

#[test]
fn without_the_sasl_provider_sasl_acls_are_invalid_as_zookeeper() {
    let (dir, jaas, server) = start_with_jaas("noprovider", "");
    let rk = no_provider_steps(&server.addr());
    let mut want = logged_in("bob").to_vec();
    want.extend(
        [
            "create /np-sasl: err -114",
            "create /np-auth: err -114",
            "create /np-open: err 0",
        ]
        .map(String::from),
    );
    assert_eq!(rk, want, "ringkeeper");
    if let Some(zk) = on_zookeeper("noprovider", "", Some(&jaas), no_provider_steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
    // With the provider the same steps are served (the `sasl` entry, and `auth`
    // expanded to it).
    let (dir, _, server) = start_with_jaas("withprovider", PROVIDER);
    let rk = no_provider_steps(&server.addr());
    assert_eq!(
        &rk[2..],
        [
            "create /np-sasl: err 0",
            "create /np-auth: err 0",
            "create /np-open: err 0"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn let_any_sasl_user_do_x_lets_every_sasl_user_use_that_users_nodes_as_zookeeper() {
    let extra = format!("{PROVIDER}letAnySaslUserDoX=bob\n");
    let (dir, jaas, server) = start_with_jaas("anyuser", &extra);
    let rk = any_sasl_user_steps(&server.addr());
    let mut want = logged_in("bob").to_vec();
    want.push("create /shared: err 0".into());
    want.extend(logged_in("alice"));
    want.extend(
        [
            "alice get /shared: err 0 v",
            "alice create /shared/a: err 0",
            "anonymous get /shared: err -102 ",
        ]
        .map(String::from),
    );
    assert_eq!(rk, want, "ringkeeper");
    if let Some(zk) = on_zookeeper("anyuser", &extra, Some(&jaas), any_sasl_user_steps) {
        assert_eq!(zk, rk, "ZooKeeper 3.8 answers differently");
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Without it alice is refused.
    let (dir, _, server) = start_with_jaas("notanyuser", PROVIDER);
    let rk = any_sasl_user_steps(&server.addr());
    assert_eq!(
        &rk[5..],
        [
            "alice get /shared: err -102 ",
            "alice create /shared/a: err -102",
            "anonymous get /shared: err -102 "
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

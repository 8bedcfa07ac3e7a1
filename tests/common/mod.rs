//! Test fixture shared by the integration tests: start a server (ringkeeper, or the real
//! Apache ZooKeeper when `RINGKEEPER_TEST_SERVER=zk`) on a free 127.0.0.1 port with its own
//! zoo.cfg and data directory, plus raw-socket helpers that speak the wire protocol by hand.
#![allow(dead_code)]

pub mod ensemble;
pub mod zk_java;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long the server gets to answer `ruok` after start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Default read timeout for raw-socket replies.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Which server implementation the tests run against.
pub fn against_zookeeper() -> bool {
    std::env::var("RINGKEEPER_TEST_SERVER")
        .map(|v| v == "zk")
        .unwrap_or(false)
}

pub struct Server {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    cfg_path: PathBuf,
    /// How many times the process has been spawned (1 after `start`).
    starts: u32,
    lingering_listeners: u32,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

impl Server {
    /// Starts a server with the common zoo.cfg plus `extra_cfg` (zoo.cfg lines).
    pub fn start(extra_cfg: &str) -> Server {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("ringkeeper-itest-{}-{}", std::process::id(), n));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).expect("create temp dir");
        let port = free_port();
        let cfg = format!(
            "tickTime=2000\n\
             dataDir={data}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             {extra_cfg}\n",
            data = dir.join("data").display(),
        );
        let cfg_path = dir.join("zoo.cfg");
        fs::write(&cfg_path, cfg).expect("write zoo.cfg");
        let mut server = Server {
            child: None,
            dir,
            port,
            cfg_path,
            starts: 0,
            lingering_listeners: 0,
        };
        server.spawn();
        server.wait_ready();
        server
    }

    /// Spawns the process on this server's zoo.cfg (same port, same dataDir). Output is
    /// appended to stdout.log/stderr.log after a `=== start N ===` marker line.
    fn spawn(&mut self) {
        assert!(
            self.child.is_none(),
            "spawn while a server process is running"
        );
        self.starts += 1;
        let open = |name: &str| {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .unwrap();
            writeln!(f, "=== start {} ===", self.starts).unwrap();
            f
        };
        let stdout = open("stdout.log");
        let stderr = open("stderr.log");
        let dir = &self.dir;
        let cfg_path = &self.cfg_path;
        let mut cmd = if against_zookeeper() {
            // Debian's zkEnv.sh uses CLASSPATH="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
            // (the jar's manifest names its dependencies); add one slf4j binding + log4j so the
            // server logs to stderr (the whole of /usr/share/java has several bindings and the
            // no-op one wins).
            let mut c = Command::new("java");
            c.arg("-Xmx256m")
                .arg("-XX:+UseSerialGC")
                .arg("-XX:TieredStopAtLevel=1")
                .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
                .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
                .arg("-Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties")
                .arg("-cp")
                .arg(
                    "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:\
                     /usr/share/java/log4j-1.2.jar",
                )
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(cfg_path);
            c
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ringkeeper"));
            c.arg("server").arg("--config").arg(cfg_path);
            c
        };
        // Relative paths in zoo.cfg resolve in the server's own temp directory.
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        self.child = Some(cmd.spawn().expect("spawn server"));
    }

    /// SIGKILLs the process (no chance to flush or clean up) and reaps it. Returns false if
    /// it had already exited on its own before the signal (or no process was running).
    pub fn kill9(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let was_running = child.try_wait().unwrap().is_none();
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = child.wait();
        self.wait_port_released();
        was_running
    }

    /// Waits (up to 10 s) until connecting to the port is refused. The process being
    /// reaped does not mean its listening socket is gone: a socket held by an io_uring is
    /// released when the kernel tears the ring down, asynchronously, so for a moment it
    /// still accepts and a new server cannot bind it.
    fn wait_port_released(&mut self) {
        let sa: SocketAddr = self.addr().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lingered = false;
        while Instant::now() < deadline {
            match TcpStream::connect_timeout(&sa, Duration::from_millis(200)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                _ => {
                    lingered = true;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if lingered {
            self.lingering_listeners += 1;
        }
    }

    /// How many times [Server::kill9] found the port still accepting after the process had
    /// been reaped.
    pub fn lingering_listeners(&self) -> u32 {
        self.lingering_listeners
    }

    /// Starts the process again on the same zoo.cfg, dataDir and port, and waits until it
    /// serves sessions (panics with its output otherwise). SIGKILLs a running one first.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready();
    }

    /// Like [Server::restart] without waiting for it to serve: for killing it again while
    /// it is still recovering.
    pub fn restart_no_wait(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// How many times the process has been spawned.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The server's dataDir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's own temp directory (zoo.cfg, logs; its working directory).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Its zoo.cfg, which each (re)start reads: rewrite it between restarts to change
    /// settings.
    pub fn config_path(&self) -> &std::path::Path {
        &self.cfg_path
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "server exited during start-up ({status}); output:\n{}",
                    self.output()
                );
            }
            // ZooKeeper answers ruok before its database is loaded and closes session
            // connections with "ZooKeeperServer not running" until then
            // (NIOServerCnxn.readConnectRequest), so also wait for a real handshake.
            if let Ok(reply) = try_four_letter(&self.addr(), "ruok", Duration::from_secs(2)) {
                if reply == "imok" && try_handshake(&self.addr()).is_ok() {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "server did not answer ruok with imok on {} within {:?}; output:\n{}",
                    self.addr(),
                    START_TIMEOUT,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's stdout and stderr so far.
    pub fn output(&self) -> String {
        let out = fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        let err = fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(200)..].join("\n")
        };
        format!(
            "--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            tail(&out),
            tail(&err)
        )
    }

    /// True while the server process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Panics with the server's output if the process has exited or stopped answering `ruok`.
    pub fn assert_alive(&mut self) {
        if !self.is_running() {
            panic!("server process exited; output:\n{}", self.output());
        }
        match try_four_letter(&self.addr(), "ruok", READ_TIMEOUT) {
            Ok(r) if r == "imok" => {}
            other => panic!(
                "server does not answer ruok ({other:?}); output:\n{}",
                self.output()
            ),
        }
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends `signal` and waits up to `timeout` for the process to exit: its exit
    /// status, or `None` if it was still running (then it is SIGKILLed).
    pub fn signal_and_wait(
        &mut self,
        signal: i32,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the process again after it exited (or was stopped), and waits until it
    /// serves sessions.
    pub fn start_again(&mut self) {
        self.spawn();
        self.wait_ready();
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; SIGKILL after 20 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("server output at failure:\n{}", self.output());
        }
        if std::thread::panicking() && std::env::var_os("RINGKEEPER_TEST_KEEP_DIR").is_some() {
            eprintln!("kept the server's directory {}", self.dir.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// Raw protocol helpers.

/// Minimal jute encoder.
#[derive(Default)]
pub struct Jute(pub Vec<u8>);

impl Jute {
    pub fn new() -> Jute {
        Jute(Vec::new())
    }
    pub fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn boolean(mut self, v: bool) -> Self {
        self.0.push(v as u8);
        self
    }
    pub fn buffer(self, b: &[u8]) -> Self {
        let mut s = self.int(b.len() as i32);
        s.0.extend_from_slice(b);
        s
    }
    pub fn string(self, s: &str) -> Self {
        self.buffer(s.as_bytes())
    }
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// A vector<ACL> of (perms, scheme, id).
    pub fn acls(self, acls: &[(i32, &str, &str)]) -> Self {
        let mut s = self.int(acls.len() as i32);
        for (perms, scheme, id) in acls {
            s = s.int(*perms).string(scheme).string(id);
        }
        s
    }
    /// world:anyone with all permissions.
    pub fn open_acl(self) -> Self {
        self.acls(&[(31, "world", "anyone")])
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

/// Minimal jute decoder.
pub struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    pub fn int(&mut self) -> i32 {
        let (h, t) = self.0.split_at(4);
        self.0 = t;
        i32::from_be_bytes(h.try_into().unwrap())
    }
    pub fn long(&mut self) -> i64 {
        let (h, t) = self.0.split_at(8);
        self.0 = t;
        i64::from_be_bytes(h.try_into().unwrap())
    }
    pub fn buffer(&mut self) -> Vec<u8> {
        let n = self.int();
        if n < 0 {
            return Vec::new();
        }
        let (h, t) = self.0.split_at(n as usize);
        self.0 = t;
        h.to_vec()
    }
    pub fn string(&mut self) -> String {
        String::from_utf8(self.buffer()).unwrap()
    }
}

/// `payload` with its length prefix, as it goes on the wire.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    buf.extend_from_slice(payload);
    buf
}

/// Writes one length-prefixed frame.
pub fn send_frame(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    stream.write_all(&frame(payload))
}

/// A `sync` of `path` (xid `xid`) and a `getData` of it (xid `xid + 1`), framed back to
/// back: what an asynchronous client sends when it reads without waiting for the
/// sync's answer. Write it in one call.
pub fn sync_then_get(xid: i32, path: &str) -> Vec<u8> {
    let sync = Jute::new().int(xid).int(op::SYNC).string(path).into_vec();
    let get = Jute::new()
        .int(xid + 1)
        .int(op::GET_DATA)
        .string(path)
        .boolean(false)
        .into_vec();
    let mut both = frame(&sync);
    both.extend_from_slice(&frame(&get));
    both
}

/// Reads one length-prefixed frame, failing after `timeout` or on EOF.
pub fn read_frame_timeout(stream: &mut TcpStream, timeout: Duration) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(timeout))?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(0..=64 << 20).contains(&len) {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("bad frame length {len}"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

pub fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    read_frame_timeout(stream, READ_TIMEOUT)
}

/// A reply: (xid, zxid, err, body).
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// Reads frames until a reply that is not a watch notification (xid −1) arrives.
pub fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    loop {
        let f = read_frame(stream)?;
        if f.len() < 16 {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                format!("short reply {f:?}"),
            ));
        }
        let mut r = Reader(&f);
        let xid = r.int();
        let zxid = r.long();
        let err = r.int();
        if xid == -1 {
            continue;
        }
        return Ok(Reply {
            xid,
            zxid,
            err,
            body: r.0.to_vec(),
        });
    }
}

/// Sends `RequestHeader{xid, op}` + body and returns the reply, checking the xid.
pub fn request(stream: &mut TcpStream, xid: i32, op: i32, body: &[u8]) -> std::io::Result<Reply> {
    let payload = Jute::new().int(xid).int(op).raw(body).into_vec();
    send_frame(stream, &payload)?;
    let reply = read_reply(stream)?;
    assert_eq!(reply.xid, xid, "reply xid does not match the request");
    Ok(reply)
}

/// As [`request`], but the server closing the connection instead of answering is
/// `None` (a timeout or any other error still panics: it is neither an answer nor a
/// close).
pub fn request_or_closed(stream: &mut TcpStream, xid: i32, op: i32, body: &[u8]) -> Option<Reply> {
    match request(stream, xid, op, body) {
        Ok(r) => Some(r),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            None
        }
        Err(e) => panic!("request {op}: neither an answer nor a close: {e}"),
    }
}

/// The 45-byte ConnectRequest (protocolVersion 0, lastZxidSeen 0, timeout 30000,
/// sessionId 0, 16-byte zero password, readOnly false).
pub fn connect_request() -> Vec<u8> {
    Jute::new()
        .int(0)
        .long(0)
        .int(30000)
        .long(0)
        .buffer(&[0u8; 16])
        .boolean(false)
        .into_vec()
}

/// A handshake by hand asking for `session_timeout_ms`, that reports errors instead of
/// panicking (for tests whose server may be starting, dying or gone).
pub fn try_connect(
    addr: &str,
    session_timeout_ms: i32,
    connect_timeout: Duration,
) -> std::io::Result<TcpStream> {
    let sa: SocketAddr = addr.parse().expect("server address");
    let mut s = TcpStream::connect_timeout(&sa, connect_timeout)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let req = Jute::new()
        .int(0)
        .long(0)
        .int(session_timeout_ms)
        .long(0)
        .buffer(&[0u8; 16])
        .boolean(false)
        .into_vec();
    send_frame(&mut s, &req)?;
    let resp = read_frame(&mut s)?;
    if resp.len() < 36 {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "short ConnectResponse",
        ));
    }
    Ok(s)
}

/// A session opened (or resumed) by hand.
pub struct Session {
    pub stream: TcpStream,
    pub id: i64,
    pub passwd: Vec<u8>,
}

/// Opens a new session (`id` 0) or resumes one elsewhere; `None` when the server
/// refuses to resume it (an expired or unknown session, or a wrong password).
/// Connection attempts go on for 40 s (a JVM member may be slow to start serving).
pub fn open_session(addr: &str, timeout_ms: i32, id: i64, passwd: &[u8]) -> Option<Session> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let attempt = || -> std::io::Result<Option<Session>> {
            let mut s =
                TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(2))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            let req = Jute::new()
                .int(0)
                .long(0)
                .int(timeout_ms)
                .long(id)
                .buffer(passwd)
                .boolean(false)
                .into_vec();
            send_frame(&mut s, &req)?;
            let resp = read_frame(&mut s)?;
            let mut r = Reader(&resp);
            let _version = r.int();
            let timeout = r.int();
            let sid = r.long();
            let pw = r.buffer();
            Ok((timeout > 0 && sid != 0).then_some(Session {
                stream: s,
                id: sid,
                passwd: pw,
            }))
        };
        match attempt() {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Opens a TCP connection and completes the handshake by hand.
pub fn raw_connect(addr: &str) -> TcpStream {
    let (stream, _) = raw_connect_session(addr);
    stream
}

/// Like [raw_connect], also returning the session id.
pub fn raw_connect_session(addr: &str) -> (TcpStream, i64) {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&sa, READ_TIMEOUT).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    send_frame(&mut stream, &connect_request()).expect("send ConnectRequest");
    let resp = read_frame(&mut stream).expect("read ConnectResponse");
    let mut r = Reader(&resp);
    let _protocol_version = r.int();
    let timeout = r.int();
    let session_id = r.long();
    let passwd = r.buffer();
    assert!(timeout > 0, "negotiated timeout {timeout}");
    assert_ne!(session_id, 0, "session id 0");
    assert_eq!(passwd.len(), 16, "password length");
    (stream, session_id)
}

fn try_handshake(addr: &str) -> std::io::Result<()> {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    send_frame(&mut stream, &connect_request())?;
    let resp = read_frame_timeout(&mut stream, Duration::from_secs(2))?;
    if resp.len() < 36 {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "short ConnectResponse",
        ));
    }
    let close = Jute::new().int(1).int(op::CLOSE_SESSION).into_vec();
    send_frame(&mut stream, &close)?;
    let _ = read_frame_timeout(&mut stream, Duration::from_secs(2));
    Ok(())
}

/// Waits until the peer closes the connection (EOF or reset), discarding anything it sends.
/// Returns false if it is still open after `timeout`.
pub fn wait_closed(stream: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(500))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                continue
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

pub fn try_four_letter(addr: &str, word: &str, timeout: Duration) -> std::io::Result<String> {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(word.as_bytes())?;
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
        if Instant::now() > deadline {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Sends a four-letter word and returns the whole reply (the server closes afterwards).
pub fn four_letter(addr: &str, word: &str) -> String {
    try_four_letter(addr, word, READ_TIMEOUT)
        .unwrap_or_else(|e| panic!("four-letter word {word}: {e}"))
}

/// Opcodes and error codes used by the raw tests.
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const CREATE2: i32 = 15;
    pub const MULTI: i32 = 14;
    pub const CLOSE_SESSION: i32 = -11;
}

pub mod err {
    pub const OK: i32 = 0;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const MARSHALLINGERROR: i32 = -5;
    pub const BADARGUMENTS: i32 = -8;
    pub const NONODE: i32 = -101;
    pub const NODEEXISTS: i32 = -110;
    pub const INVALIDACL: i32 = -114;
}

/// A fresh raw session creates, reads and deletes a node: the server still serves.
pub fn assert_fresh_session_works(server: &mut Server, tag: &str) {
    let addr = server.addr();
    let mut s = raw_connect(&addr);
    let path = format!("/fresh-{tag}-{}", COUNTER.fetch_add(1, Ordering::SeqCst));
    let body = Jute::new()
        .string(&path)
        .buffer(b"v")
        .open_acl()
        .int(0)
        .into_vec();
    let r = request(&mut s, 1, op::CREATE, &body).expect("create on a fresh session");
    assert_eq!(r.err, err::OK, "create {path} on a fresh session");
    let r = request(
        &mut s,
        2,
        op::GET_DATA,
        &Jute::new().string(&path).boolean(false).into_vec(),
    )
    .expect("getData on a fresh session");
    assert_eq!(r.err, err::OK);
    assert_eq!(Reader(&r.body).buffer(), b"v");
    let r = request(
        &mut s,
        3,
        op::DELETE,
        &Jute::new().string(&path).int(-1).into_vec(),
    )
    .expect("delete");
    assert_eq!(r.err, err::OK);
    let _ = request(&mut s, 4, op::CLOSE_SESSION, &[]);
    server.assert_alive();
}

/// `n` distinct free ports. Each is held until all are picked, and none is handed out
/// twice in this test process: the kernel may pick a port just released again, which
/// once gave one member's quorum port to another member's client port.
pub fn free_ports(n: usize) -> Vec<u16> {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let p = l.local_addr().expect("its address").port();
        if given.insert(p) {
            ports.push(p);
        }
        held.push(l);
    }
    ports
}

/// Creates `{parent}/n{from}`..`{parent}/n{from+count-1}`, each holding `data`, in one
/// multi (a fast way to a large tree).
pub fn create_many(s: &mut TcpStream, xid: i32, parent: &str, from: u32, count: u32, data: &[u8]) {
    let mut body = Jute::new();
    for k in from..from + count {
        body = body
            .int(op::CREATE)
            .boolean(false)
            .int(-1)
            .string(&format!("{parent}/n{k}"))
            .buffer(data)
            .open_acl()
            .int(0);
    }
    let body = body.int(-1).boolean(true).int(-1).into_vec();
    let r = request(s, xid, op::MULTI, &body).expect("multi");
    assert_eq!(r.err, 0, "multi creating {parent}/n{from}..");
}

/// Creates `{parent}/n0`..`{parent}/n{nodes-1}`, each holding `data`, in multis of
/// 1,000 with xids from `first_xid` on.
pub fn create_children(s: &mut TcpStream, first_xid: i32, parent: &str, nodes: u32, data: &[u8]) {
    const BATCH: u32 = 1_000;
    for b in 0..nodes.div_ceil(BATCH) {
        let count = BATCH.min(nodes - b * BATCH);
        create_many(s, first_xid + b as i32, parent, b * BATCH, count, data);
    }
}

/// A client writing steadily: setData on one path, one request at a time, the time of
/// each acknowledgement kept (to find the longest gap while something else happens).
pub struct SteadyWriter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acks: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

impl SteadyWriter {
    /// Starts writing `path` (which must exist) over `stream`, a connected session.
    pub fn start(mut stream: TcpStream, path: &str) -> SteadyWriter {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, a, path) = (stop.clone(), acks.clone(), path.to_owned());
        let thread = std::thread::spawn(move || {
            let set = Jute::new().string(&path).buffer(b"x").int(-1).into_vec();
            // Bounded: callers stop it long before this many.
            for xid in 1..10_000_000 {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                match request(&mut stream, xid, op::SET_DATA, &set) {
                    Ok(r) if r.err == 0 => a.lock().expect("acks").push(Instant::now()),
                    Ok(r) => return Err(format!("setData failed: error {}", r.err)),
                    Err(e) => return Err(format!("the connection failed: {e}")),
                }
            }
            Ok(())
        });
        SteadyWriter { stop, acks, thread }
    }

    pub fn acked(&self) -> usize {
        self.acks.lock().expect("acks").len()
    }

    /// The writer stopped on its own (an error, which `stop` returns).
    pub fn failed(&self) -> bool {
        self.thread.is_finished()
    }

    /// Stops it; the time of every ack, or why it stopped early.
    pub fn stop(self) -> Result<Vec<Instant>, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("writer thread")?;
        let acks = self.acks.lock().expect("acks").clone();
        Ok(acks)
    }
}

/// The longest time between two acks in `acks` that fall within `from..=to`.
pub fn longest_gap(acks: &[Instant], from: Instant, to: Instant) -> Duration {
    let within: Vec<Instant> = acks
        .iter()
        .copied()
        .filter(|t| *t >= from && *t <= to)
        .collect();
    within
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// The body of `GET /metrics` from a Prometheus endpoint on 127.0.0.1:`port`.
pub fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// ZooKeeper's quorum metrics (`ServerMetrics`, `QuorumZooKeeperServer`) as its
/// `PrometheusMetricsProvider` types them, which ringkeeper exports on every server.
pub const ZOOKEEPER_QUORUM_METRICS: &[(&str, &str)] = &[
    ("looking_count", "counter"),
    ("proposal_count", "counter"),
    ("commit_count", "counter"),
    ("learner_proposal_received_count", "counter"),
    ("learner_commit_received_count", "counter"),
    ("diff_count", "counter"),
    ("snap_count", "counter"),
    ("election_time", "summary"),
    ("follower_sync_time", "summary"),
    ("proposal_latency", "summary"),
    ("proposal_ack_creation_latency", "summary"),
    ("commit_propagation_latency", "summary"),
    ("propagation_latency", "summary"),
    ("quorum_ack_latency", "summary"),
    ("ack_latency", "summary"),
];

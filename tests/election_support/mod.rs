//! Shared by `tests/election.rs` and `tests/election_java.rs`: ensembles of
//! `ringkeeper election` processes (and Apache ZooKeeper servers) on 127.0.0.1, each
//! with its own directory, zoo.cfg and myid; their decision lines collected as they are
//! printed.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ports for one member: quorum, election, client.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub quorum: u16,
    pub election: u16,
    pub client: u16,
}

/// `n` sets of free ports (all listeners held until all are chosen, so they differ).
pub fn free_ports(n: usize) -> Vec<Ports> {
    let ls: Vec<TcpListener> = (0..n * 3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let p: Vec<u16> = ls
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    (0..n)
        .map(|i| Ports {
            quorum: p[3 * i],
            election: p[3 * i + 1],
            client: p[3 * i + 2],
        })
        .collect()
}

/// The server lines of an ensemble whose sids are 1..=n.
pub fn server_lines(ports: &[Ports]) -> String {
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "server.{}=127.0.0.1:{}:{};127.0.0.1:{}\n",
                i + 1,
                p.quorum,
                p.election,
                p.client
            )
        })
        .collect()
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rk-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// One `ringkeeper election` process.
pub struct Node {
    pub sid: i64,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    /// Lines already consumed by `next_decision`.
    seen: usize,
}

impl Node {
    /// Writes `dir/<sid>/{zoo.cfg,myid}` (`cfg`: the common part, server lines
    /// included) and starts the process with `args` after `election -c zoo.cfg`.
    pub fn start(root: &std::path::Path, sid: i64, cfg: &str, args: &[&str]) -> Node {
        let dir = root.join(format!("rk{sid}"));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("myid"), format!("{sid}\n")).expect("myid");
        fs::write(
            dir.join("zoo.cfg"),
            format!("dataDir={}\n{cfg}", dir.display()),
        )
        .expect("zoo.cfg");
        let mut node = Node {
            sid,
            dir,
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            lines: Arc::new(Mutex::new(Vec::new())),
            seen: 0,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let err = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr.log"))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .arg("election")
            .arg("-c")
            .arg(self.dir.join("zoo.cfg"))
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn ringkeeper election");
        let out = child.stdout.take().expect("stdout");
        let lines = self.lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                lines.lock().expect("lines").push(line);
            }
        });
        self.child = Some(child);
    }

    /// The next decision line printed (skipping `LOOKING`), within `timeout`.
    pub fn next_decision(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let lines = self.lines.lock().expect("lines");
                while self.seen < lines.len() {
                    let l = lines[self.seen].clone();
                    self.seen += 1;
                    if l != "LOOKING" {
                        return l;
                    }
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("server {} exited ({st}):\n{}", self.sid, self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "server {}: no decision within {timeout:?}; printed {:?}\n{}",
                self.sid,
                self.lines.lock().expect("lines"),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line printed so far.
    pub fn printed(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Waits until the log holds `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "server {}: no {needle:?} in the log within {timeout:?}:\n{}",
                self.sid,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again, same config and arguments.
    pub fn restart(&mut self) {
        self.kill9();
        self.lines.lock().expect("lines").clear();
        self.seen = 0;
        self.spawn();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("--- server {} stderr ---\n{}", self.sid, self.log());
        }
    }
}

//! Apache ZooKeeper 3.8 (Debian's jars, `common::zk_java`) as a standalone server on a
//! free port with extra zoo.cfg lines, that can be restarted on the same data: for the
//! tests that compare ringkeeper's answers with ZooKeeper's for the same steps
//! (`quota_enforce`, `enforce_auth`).
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::common::zk_java;

pub struct Zk {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// More JVM flags (system properties ZooKeeper reads only from there, such as
    /// `-Djava.security.auth.login.config=`).
    jvm_args: Vec<String>,
}

/// Serving: `srvr` answers with the version (ZooKeeper answers `ruok` before its
/// server is up, and closes sessions then).
fn serving(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"srvr").is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("Zookeeper version")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Zk {
    /// Starts ZooKeeper in a fresh `dir` with `extra` appended to its zoo.cfg.
    pub fn start(dir: &Path, extra: &str) -> Zk {
        Zk::start_with_jvm(dir, extra, &[])
    }

    /// [`Zk::start`] with more JVM flags.
    pub fn start_with_jvm(dir: &Path, extra: &str, jvm_args: &[&str]) -> Zk {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir.join("data")).expect("create ZooKeeper's dir");
        let port = free_port();
        let cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nadmin.enableServer=false\n{extra}\n",
            dir.join("data").display()
        );
        fs::write(dir.join("zoo.cfg"), cfg).expect("write zoo.cfg");
        let mut zk = Zk {
            child: None,
            dir: dir.to_owned(),
            port,
            jvm_args: jvm_args.iter().map(|a| a.to_string()).collect(),
        };
        zk.spawn();
        zk
    }

    fn spawn(&mut self) {
        let mut jvm = vec!["-Xmx256m"];
        jvm.extend(self.jvm_args.iter().map(String::as_str));
        let child = zk_java::quorum_peer_main(&self.dir, &self.dir.join("zoo.cfg"), &jvm)
            .expect("ZooKeeper's command")
            .spawn()
            .expect("spawn java");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("ZooKeeper exited ({st}): {}", self.log());
            }
            if serving(&self.addr()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper not up in 60 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL, then start again on the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// ZooKeeper's log4j log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("zk.log")).unwrap_or_default()
            + &fs::read_to_string(self.dir.join("zk.err")).unwrap_or_default()
    }
}

impl Drop for Zk {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts ZooKeeper on a zoo.cfg with `extra` that must refuse to start: its exit
/// status and log once it has exited (within 60 s).
pub fn start_refused(dir: &Path, extra: &str) -> (std::process::ExitStatus, String) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("data")).expect("create ZooKeeper's dir");
    let cfg = format!(
        "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
         admin.enableServer=false\n{extra}\n",
        dir.join("data").display(),
        free_port()
    );
    fs::write(dir.join("zoo.cfg"), cfg).expect("write zoo.cfg");
    let mut child = zk_java::quorum_peer_main(dir, &dir.join("zoo.cfg"), &["-Xmx256m"])
        .expect("ZooKeeper's command")
        .spawn()
        .expect("spawn java");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            let log = fs::read_to_string(dir.join("zk.log")).unwrap_or_default();
            return (st, log);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ZooKeeper still running after 60 s with {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

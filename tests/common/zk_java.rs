//! Apache ZooKeeper 3.8 as a process, from Debian's jars (`zookeeper`): the class path,
//! a log4j file log, and `QuorumPeerMain` on a zoo.cfg. Shared by the tests that run
//! the real server beside ringkeeper.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

pub const JARS: &str = "/usr/share/java";

/// Why ZooKeeper cannot be started here, if it cannot.
pub fn java_missing() -> Option<String> {
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !java.map(|s| s.success()).unwrap_or(false) {
        return Some("`java -version` does not run".into());
    }
    let jar = Path::new(JARS).join("zookeeper.jar");
    if !jar.exists() {
        return Some(format!("{} is missing", jar.display()));
    }
    None
}

/// `java <jvm_args> … QuorumPeerMain <cfg>`, logging to `dir/zk.log` (log4j, INFO),
/// `dir/zk.out` and `dir/zk.err`; writes `dir/log4j.properties`. Spawn it.
pub fn quorum_peer_main(dir: &Path, cfg: &Path, jvm_args: &[&str]) -> std::io::Result<Command> {
    quorum_peer_main_with(dir, cfg, jvm_args, &[])
}

/// [`quorum_peer_main`] with `extra_jars` (names under [`JARS`]) on the classpath, e.g.
/// the Jetty jars of ZooKeeper's AdminServer.
pub fn quorum_peer_main_with(
    dir: &Path,
    cfg: &Path,
    jvm_args: &[&str],
    extra_jars: &[&str],
) -> std::io::Result<Command> {
    fs::write(
        dir.join("log4j.properties"),
        format!(
            "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n\
             log4j.appender.F.File={}\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.F.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n",
            dir.join("zk.log").display()
        ),
    )?;
    let cp = [
        "zookeeper.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "slf4j-log4j12.jar",
        "log4j-1.2.jar",
    ]
    .iter()
    .chain(extra_jars)
    .map(|j| format!("{JARS}/{j}"))
    .collect::<Vec<_>>()
    .join(":");
    let mut c = Command::new("java");
    c.args(jvm_args)
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg(format!(
            "-Dlog4j.configuration=file:{}",
            dir.join("log4j.properties").display()
        ))
        .arg("-cp")
        .arg(cp)
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("zk.out"))?)
        .stderr(fs::File::create(dir.join("zk.err"))?);
    Ok(c)
}

//! Apache ZooKeeper 3.8 as a process, from Debian's jars (`zookeeper`): the class path,
//! a log4j file log, and `QuorumPeerMain` on a zoo.cfg. Shared by the tests that run
//! the real server beside ringkeeper. With `ZK_JAVA_LIB` set to a directory of jars
//! (ZooKeeper 3.9.3 and its dependencies, `tests/interop/zk39-jars.sh`), that ZooKeeper
//! runs instead, logging through log4j 2 to the same files.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const JARS: &str = "/usr/share/java";

/// The directory of another ZooKeeper's jars (`ZK_JAVA_LIB`), if one is asked for.
pub fn alternate_lib() -> Option<PathBuf> {
    std::env::var_os("ZK_JAVA_LIB").map(PathBuf::from)
}

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
    if let Some(lib) = alternate_lib() {
        let has_zk = fs::read_dir(&lib).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("zookeeper-3"))
        });
        return (!has_zk).then(|| format!("no zookeeper-3*.jar in ZK_JAVA_LIB={}", lib.display()));
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
        .arg("-XX:TieredStopAtLevel=1");
    let cp = match alternate_lib() {
        Some(lib) => {
            // log4j 2: the same file and layout; PrepRequestProcessor at TRACE, as the
            // mixed-ensemble tests ask of log4j 1 by appending to log4j.properties.
            let conf = dir.join("log4j2.properties");
            fs::write(
                &conf,
                format!(
                    "appender.f.type = File\nappender.f.name = F\nappender.f.fileName = {}\n\
                     appender.f.layout.type = PatternLayout\n\
                     appender.f.layout.pattern = %d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n\
                     rootLogger.level = INFO\nrootLogger.appenderRef.f.ref = F\n\
                     logger.prep.name = org.apache.zookeeper.server.PrepRequestProcessor\n\
                     logger.prep.level = TRACE\n",
                    dir.join("zk.log").display()
                ),
            )?;
            c.arg(format!("-Dlog4j2.configurationFile={}", conf.display()));
            format!("{}/*", lib.display())
        }
        None => {
            c.arg(format!(
                "-Dlog4j.configuration=file:{}",
                dir.join("log4j.properties").display()
            ));
            cp
        }
    };
    c.arg("-cp")
        .arg(cp)
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("zk.out"))?)
        .stderr(fs::File::create(dir.join("zk.err"))?);
    Ok(c)
}

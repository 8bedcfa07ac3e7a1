//! The server processes of a run: each started from a command-line template inside its
//! own network namespace, with a `zoo.cfg` the harness writes, so ringkeeper and Apache
//! ZooKeeper (or any ZooKeeper-protocol server) run the same schedule.
//!
//! Every server is started with `PR_SET_PDEATHSIG = SIGKILL` from the thread that
//! owns the [`Cluster`] (the harness's main thread), so a harness killed outright takes
//! its servers with it; on drop, the [`Cluster`] kills them and then its [`Net`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::disk::Tmpfs;
use crate::net::{self, Net, Node};

/// libfaketime from Debian's `faketime` package.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// How often (seconds) a process under libfaketime re-reads its clock file
/// (`FAKETIME_CACHE_DURATION`): a clock the nemesis rewrites moves in the server up to
/// this long later.
pub const FAKETIME_CACHE_S: u64 = 1;

/// Size of the tmpfs under `dataLogDir` when the run fills disks, for a run of
/// `duration`: 16 MiB, and 4 MiB more per minute. The log grows under the load (about
/// 1 MiB a minute here; nothing is purged in a run), and the tmpfs is there for the
/// filler to fill, not to stop a server that was never faulted: with 16 MiB flat,
/// every member of an hour-long ensemble run stopped on its own full log after
/// 17–28 minutes. The filler takes whatever is free, so the fault is the same.
pub fn log_tmpfs_mib(duration: std::time::Duration) -> u64 {
    16 + 4 * duration.as_secs().div_ceil(60)
}

/// `preAllocSize` (KiB) with a small log disk: segments (ringkeeper) or
/// preallocation steps (ZooKeeper) come every second or two under the load, so a
/// full disk bites within a fault's hold.
pub const SMALL_PREALLOC_KIB: u64 = 64;

/// The client port every server listens on (each has an address of its own).
pub const CLIENT_PORT: u16 = 2181;

/// ZooKeeper's tick in this harness: short, so session timeouts (2–20 ticks) are
/// seconds and pauses longer than them fit in a CI run.
pub const TICK_MS: u64 = 500;

/// `initLimit` and `syncLimit` (ticks) of an ensemble's zoo.cfg.
pub const INIT_LIMIT: u64 = 10;
pub const SYNC_LIMIT: u64 = 5;

/// The session timeout the clients ask for: 8 ticks.
pub const SESSION_TIMEOUT_MS: u64 = 4_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Name in reports ("ringkeeper", "zookeeper", ...).
    pub name: String,
    /// The command, split on whitespace; `{cfg}` is the zoo.cfg path, `{dir}` the
    /// server's directory, `{id}` its myid.
    pub template: String,
    /// Extra `key=value` lines for zoo.cfg.
    pub props: Vec<String>,
    /// With several servers: start each as a standalone server that knows no other
    /// (no `server.N` lines). Not an ensemble: a deliberately broken target whose
    /// history the checker must reject.
    pub independent: bool,
    /// Run every server under libfaketime: `Some(spec)` is the clock each starts
    /// with (a FAKETIME string: `+0`, `+3600`, `x2`, `+3600 x0.5`); the `clock`
    /// nemesis rewrites it while running.
    pub clock: Option<String>,
    /// With `clock`: fake the wall clock only (`FAKETIME_DONT_FAKE_MONOTONIC=1`), as
    /// an NTP step would move it; otherwise CLOCK_MONOTONIC runs skewed too, as a
    /// drifting oscillator would make it.
    pub clock_realtime_only: bool,
    /// Put `dataLogDir` on a tmpfs of this many MiB (for the full-disk nemesis).
    pub log_tmpfs_mib: Option<u64>,
    /// A mixed ensemble: member n runs `members[n - 1]` (its name and template)
    /// instead of `name` and `template`. Empty: every member runs `template`.
    pub members: Vec<(String, String)>,
    /// Ensembles: the last this many members are observers (`:observer` on their
    /// `server.N` line, `peerType=observer` in their own zoo.cfg).
    pub observers: u32,
}

impl ServerSpec {
    /// What member `id` runs: its name and command template.
    pub fn member(&self, id: u32) -> (&str, &str) {
        match id.checked_sub(1).and_then(|i| self.members.get(i as usize)) {
            Some((name, template)) => (name, template),
            None => (&self.name, &self.template),
        }
    }

    /// ringkeeper's release binary.
    pub fn ringkeeper(bin: &Path) -> ServerSpec {
        ServerSpec::plain("ringkeeper", format!("{} server {{cfg}}", bin.display()))
    }

    /// One server kind run by `template`, with no extras.
    fn plain(name: &str, template: String) -> ServerSpec {
        ServerSpec {
            name: name.into(),
            template,
            props: Vec::new(),
            independent: false,
            clock: None,
            clock_realtime_only: false,
            log_tmpfs_mib: None,
            members: Vec::new(),
            observers: 0,
        }
    }

    /// Apache ZooKeeper from Debian's `zookeeper` package, started as
    /// tests/interop/start-zk.sh does; or, with `ZK_JAVA_LIB` set to a directory of jars
    /// (`tests/interop/zk39-jars.sh`: 3.9.3), that one, logging through log4j 2.
    pub fn zookeeper() -> ServerSpec {
        let template = match std::env::var("ZK_JAVA_LIB") {
            Ok(lib) => format!(
                "java -cp {lib}/* -Xmx256m -Dlog4j2.configurationFile={{dir}}/log4j2.properties \
                 org.apache.zookeeper.server.quorum.QuorumPeerMain {{cfg}}"
            ),
            Err(_) => Self::debian_zookeeper(),
        };
        ServerSpec::plain("zookeeper", template)
    }

    /// Debian's ZooKeeper 3.8.0 command line.
    fn debian_zookeeper() -> String {
        let j = "/usr/share/java";
        let cp = [
            "zookeeper.jar",
            "netty-codec.jar",
            "netty-resolver.jar",
            "netty-transport-native-unix-common.jar",
            "slf4j-log4j12.jar",
            "log4j-1.2.jar",
        ]
        .map(|f| format!("{j}/{f}"))
        .join(":");
        format!(
            "java -cp {cp} -Xmx256m -Dlog4j.configuration=file:{{dir}}/log4j.properties \
             org.apache.zookeeper.server.quorum.QuorumPeerMain {{cfg}}"
        )
    }
}

/// How a start probed by [`Cluster::probe_start`] went.
#[derive(Debug)]
pub enum Started {
    Serving,
    /// The process exited: its status and its log's last lines.
    Exited(String),
}

/// libfaketime keeps a shared-memory segment and a semaphore named after the process's
/// pid in /dev/shm and removes them when the process exits; a SIGKILL leaves them, and
/// a later `faketime` wrapper that happens to get the same pid then fails ("sem_open:
/// File exists"). Either may already be gone.
fn remove_libfaketime_leftovers(pid: u32) {
    for name in [
        format!("faketime_shm_{pid}"),
        format!("sem.faketime_sem_{pid}"),
    ] {
        let _ = fs::remove_file(Path::new("/dev/shm").join(name));
    }
}

/// One server: its directory, command and process.
pub struct Server {
    pub id: u32,
    dir: PathBuf,
    /// Where the txn log lives (`dataLogDir`, else `dataDir`).
    pub log_dir: PathBuf,
    /// The tmpfs under `log_dir`, if the run fills disks; unmounted on drop.
    pub tmpfs: Option<Tmpfs>,
    /// libfaketime's timestamp file, if the server runs under it.
    pub clock_file: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// An exit of its own is expected (a full disk); it is recorded here instead of
    /// failing the run.
    pub may_exit: bool,
    pub exited: Option<String>,
    argv: Vec<String>,
    ns: File,
    child: Option<Child>,
    paused: bool,
    /// Times started, for the report.
    pub starts: u32,
}

impl Server {
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn start(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        let (prog, args) = self
            .argv
            .split_first()
            .ok_or_else(|| io::Error::other("empty server command"))?;
        let ns_fd = self.ns.as_raw_fd();
        let mut cmd = Command::new(prog);
        // A process group of its own: when the shell that started the harness exits,
        // the harness's group is orphaned, and the kernel sends SIGHUP (then SIGCONT)
        // to a group that has a stopped member — a server the pause nemesis holds. A
        // 60-minute soak lost its paused leader that way 4 s in. The server still dies
        // with the harness (PR_SET_PDEATHSIG below).
        cmd.process_group(0)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: between fork and exec only async-signal-safe syscalls (setns, prctl).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.child = Some(cmd.spawn()?);
        self.paused = false;
        self.starts += 1;
        Ok(())
    }

    fn signal(&self, sig: libc::c_int) -> io::Result<()> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            let pid = c.id();
            c.kill()?;
            c.wait()?;
            if self.clock_file.is_some() {
                remove_libfaketime_leftovers(pid);
            }
        }
        self.paused = false;
        Ok(())
    }

    pub fn pause(&mut self) -> io::Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    pub fn resume(&mut self) -> io::Result<()> {
        self.signal(libc::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// An error if the process exited without being killed by the harness.
    pub fn check_alive(&mut self) -> Result<(), String> {
        let Some(c) = self.child.as_mut() else {
            return Ok(());
        };
        match c.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) if self.may_exit => {
                self.child = None;
                self.exited = Some(format!("{status}; log ends: {}", self.log_tail()));
                Ok(())
            }
            Ok(Some(status)) => {
                self.child = None;
                Err(format!(
                    "server {} exited on its own ({status}); see {}",
                    self.id,
                    self.dir.join("server.log").display()
                ))
            }
            Err(e) => Err(format!("server {}: wait: {e}", self.id)),
        }
    }
}

impl Server {
    /// The last two error lines of the server's logs (ringkeeper's fatal line on
    /// stderr, ZooKeeper's ERROR lines in zk.log), joined by " | ".
    pub fn log_tail(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for f in ["server.log", "zk.log"] {
            if let Ok(t) = fs::read_to_string(self.dir.join(f)) {
                lines.extend(
                    t.lines()
                        .filter(|l| {
                            l.starts_with("ringkeeper:")
                                || ["ERROR", "FATAL", "Exception"]
                                    .iter()
                                    .any(|w| l.contains(w))
                        })
                        .map(str::to_owned),
                );
            }
        }
        lines[lines.len().saturating_sub(2)..].join(" | ")
    }
}

/// The servers of a run and their network. Field order matters: servers drop (are
/// killed) before the network is deleted.
pub struct Cluster {
    pub servers: Vec<Server>,
    pub net: Net,
    pub dir: PathBuf,
    pub spec: ServerSpec,
}

impl Cluster {
    /// Creates the network, writes each server's zoo.cfg under `dir`, and starts them.
    pub fn start(spec: ServerSpec, n: u32, dir: &Path) -> io::Result<Cluster> {
        let net = Net::create(n)?;
        let mut servers = Vec::new();
        for id in 1..=n {
            let sdir = dir.join(format!("s{id}"));
            fs::create_dir_all(sdir.join("data"))?;
            let (log_dir, tmpfs) = match spec.log_tmpfs_mib {
                Some(mib) => {
                    let t = Tmpfs::mount(&sdir.join("log"), mib)?;
                    (t.dir.clone(), Some(t))
                }
                None => (sdir.join("data"), None),
            };
            let mut env = Vec::new();
            let clock_file = match &spec.clock {
                Some(c) => {
                    let f = sdir.join("faketime.rc");
                    fs::write(&f, format!("{c}\n"))?;
                    env.push(("LD_PRELOAD".to_string(), LIBFAKETIME.to_string()));
                    env.push((
                        "FAKETIME_TIMESTAMP_FILE".to_string(),
                        f.display().to_string(),
                    ));
                    // Re-read each second, so the clock nemesis takes effect.
                    env.push((
                        "FAKETIME_CACHE_DURATION".to_string(),
                        FAKETIME_CACHE_S.to_string(),
                    ));
                    if spec.clock_realtime_only {
                        env.push(("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".to_string()));
                    }
                    Some(f)
                }
                None => None,
            };
            let cfg = sdir.join("zoo.cfg");
            fs::write(&cfg, zoo_cfg(&spec, id, n, &sdir))?;
            fs::write(sdir.join("log4j.properties"), log4j(&sdir))?;
            fs::write(sdir.join("log4j2.properties"), log4j2(&sdir))?;
            if n > 1 {
                fs::write(sdir.join("data").join("myid"), format!("{id}\n"))?;
            }
            let argv = spec
                .member(id)
                .1
                .split_whitespace()
                .map(|w| {
                    w.replace("{cfg}", &cfg.display().to_string())
                        .replace("{dir}", &sdir.display().to_string())
                        .replace("{id}", &id.to_string())
                })
                .collect();
            servers.push(Server {
                id,
                dir: sdir,
                log_dir,
                tmpfs,
                clock_file,
                env,
                may_exit: false,
                exited: None,
                argv,
                ns: net.ns_file(Node::Server(id))?,
                child: None,
                paused: false,
                starts: 0,
            });
        }
        let mut c = Cluster {
            servers,
            net,
            dir: dir.to_owned(),
            spec,
        };
        for s in &mut c.servers {
            s.start()?;
        }
        Ok(c)
    }

    /// The client connection string ("10.77.0.1:2181,...").
    pub fn connect_string(&self) -> String {
        (1..=self.net.servers())
            .map(|id| format!("{}:{CLIENT_PORT}", Net::addr(Node::Server(id))))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn server(&mut self, id: u32) -> io::Result<&mut Server> {
        self.servers
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| io::Error::other(format!("no server {id}")))
    }

    /// Starts server `id` again (after a kill).
    pub fn restart(&mut self, id: u32) -> io::Result<()> {
        self.server(id)?.start()
    }

    /// What member `id` runs ("ringkeeper", "zookeeper", ...).
    pub fn kind(&self, id: u32) -> &str {
        self.spec.member(id).0
    }

    /// A real ensemble: several servers that know each other (not `independent`).
    pub fn is_ensemble(&self) -> bool {
        self.servers.len() > 1 && !self.spec.independent
    }

    /// The `srvr` mode of each running, unpaused server (see [`mode`]), probed from
    /// the client namespace; `None` for one that does not answer or does not serve.
    pub fn modes(&self) -> io::Result<Vec<(u32, Option<String>)>> {
        let ids: Vec<u32> = self
            .servers
            .iter()
            .filter(|s| s.is_running() && !s.paused)
            .map(|s| s.id)
            .collect();
        let ns = self.net.ns_file(Node::Client)?;
        net::in_ns(ns, move || {
            ids.into_iter()
                .map(|id| {
                    let addr = SocketAddr::new(Net::addr(Node::Server(id)).into(), CLIENT_PORT);
                    (id, mode(addr))
                })
                .collect()
        })
    }

    /// Member `id`'s answer to a four-letter word, asked from the client namespace.
    pub fn ask(&self, id: u32, word: &'static str) -> io::Result<String> {
        let ns = self.net.ns_file(Node::Client)?;
        let addr = SocketAddr::new(Net::addr(Node::Server(id)).into(), CLIENT_PORT);
        net::in_ns(ns, move || four_letter(addr, word))?
    }

    /// The member whose `srvr` says "leader", when exactly one does.
    pub fn leader(&self) -> io::Result<Option<u32>> {
        let leaders: Vec<u32> = self
            .modes()?
            .into_iter()
            .filter(|(_, m)| m.as_deref() == Some("leader"))
            .map(|(id, _)| id)
            .collect();
        Ok(match leaders[..] {
            [one] => Some(one),
            _ => None,
        })
    }

    /// Waits until every running server serves (see [`serving`]), probed from the
    /// client namespace; in an ensemble, until the running members are one leader and
    /// followers (or observers). Returns the leader, if any.
    pub fn wait_ready(&mut self, timeout: Duration) -> io::Result<Option<u32>> {
        let deadline = Instant::now() + timeout;
        loop {
            for s in &mut self.servers {
                s.check_alive().map_err(io::Error::other)?;
            }
            let modes = self.modes()?;
            let serving = |m: &Option<String>| m.as_deref().is_some_and(serves);
            let leaders: Vec<u32> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(id, _)| *id)
                .collect();
            let ready = if self.is_ensemble() {
                leaders.len() == 1
                    && modes.iter().all(|(_, m)| {
                        matches!(m.as_deref(), Some("leader" | "follower" | "observer"))
                    })
            } else {
                modes.iter().all(|(_, m)| serving(m))
            };
            if ready {
                return Ok(leaders.first().copied());
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = modes
                    .iter()
                    .map(|(id, m)| format!("s{id}: {}", m.as_deref().unwrap_or("not serving")))
                    .collect();
                return Err(io::Error::other(format!(
                    "not ready within {timeout:?} ({})",
                    seen.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts server `id` and waits until it serves or exits (at most `timeout`).
    pub fn probe_start(&mut self, id: u32, timeout: Duration) -> io::Result<Started> {
        let ns = self.net.ns_file(Node::Client)?;
        let addr = SocketAddr::new(Net::addr(Node::Server(id)).into(), CLIENT_PORT);
        let s = self.server(id)?;
        s.start()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(c) = s.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    s.child = None;
                    return Ok(Started::Exited(format!(
                        "{status}; log ends: {}",
                        s.log_tail()
                    )));
                }
            }
            let ns = ns.try_clone()?;
            if net::in_ns(ns, move || serving(addr))? {
                return Ok(Started::Serving);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io::Error::other(format!(
            "s{id} neither served nor exited within {timeout:?}"
        )))
    }

    /// Heals partitions, resumes paused servers and starts dead ones.
    pub fn heal_all(&mut self) -> io::Result<()> {
        self.net.heal()?;
        for s in &mut self.servers {
            if s.paused {
                s.resume()?;
            }
            if !s.is_running() {
                s.start()?;
            }
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if let Err(e) = s.kill() {
                eprintln!("ringkeeper-faults: cleanup: server {}: {e}", s.id);
            }
        }
    }
}

/// True when the server at `addr` serves (see [`mode`]).
fn serving(addr: SocketAddr) -> bool {
    mode(addr).as_deref().is_some_and(serves)
}

/// Whether a `srvr` mode is one that serves clients: ringkeeper says "Mode: looking"
/// while it has no quorum (ZooKeeper prints no mode then).
fn serves(mode: &str) -> bool {
    mode != "looking"
}

/// The server's `Mode:` line from `srvr` ("standalone", "leader", "follower", ...), or
/// `None` when it does not answer or prints none. Not `ruok`: ZooKeeper answers "imok"
/// as soon as it listens, before it has read its snapshot and log (and may still exit
/// on them); `srvr` says "not currently serving requests" until it is up (in an
/// ensemble, until it has joined a quorum).
fn mode(addr: SocketAddr) -> Option<String> {
    four_letter(addr, "srvr")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_owned())
}

/// The answer of the server at `addr` to the four-letter word `word`.
fn four_letter(addr: SocketAddr, word: &str) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_millis(1_000)))?;
    s.write_all(word.as_bytes())?;
    let mut out = Vec::new();
    // Bounded: `hash` is the longest answer asked for (1,024 short lines).
    s.take(1024 * 1024).read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn zoo_cfg(spec: &ServerSpec, id: u32, n: u32, dir: &Path) -> String {
    let mut cfg = format!(
        "tickTime={TICK_MS}\ninitLimit={INIT_LIMIT}\nsyncLimit={SYNC_LIMIT}\ndataDir={}\nclientPort={CLIENT_PORT}\n\
         clientPortAddress={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nmaxClientCnxns=0\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        dir.join("data").display(),
        Net::addr(Node::Server(id)),
        2 * TICK_MS,
        20 * TICK_MS,
    );
    if n > 1 && !spec.independent {
        let observer = |m: u32| m + spec.observers > n;
        for m in 1..=n {
            cfg.push_str(&format!(
                "server.{m}={}:2888:3888{}\n",
                Net::addr(Node::Server(m)),
                if observer(m) { ":observer" } else { "" }
            ));
        }
        if observer(id) {
            cfg.push_str("peerType=observer\n");
        }
    }
    if spec.log_tmpfs_mib.is_some() {
        cfg.push_str(&format!(
            "dataLogDir={}\npreAllocSize={SMALL_PREALLOC_KIB}\n",
            dir.join("log").display()
        ));
    }
    for p in &spec.props {
        cfg.push_str(p);
        cfg.push('\n');
    }
    cfg
}

/// The same file log for a ZooKeeper that logs through log4j 2 (3.9 from
/// `ZK_JAVA_LIB`).
fn log4j2(dir: &Path) -> String {
    format!(
        "appender.f.type = File\nappender.f.name = F\nappender.f.fileName = {}\n\
         appender.f.layout.type = PatternLayout\n\
         appender.f.layout.pattern = %d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n\
         rootLogger.level = INFO\nrootLogger.appenderRef.f.ref = F\n",
        dir.join("zk.log").display()
    )
}

fn log4j(dir: &Path) -> String {
    format!(
        "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n\
         log4j.appender.F.File={}\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.F.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n",
        dir.join("zk.log").display()
    )
}

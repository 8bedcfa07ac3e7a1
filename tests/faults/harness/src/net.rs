//! The network of a run: one namespace per node (servers and the client driver), each
//! with a veth to one bridge that lives in a hub namespace of its own, so nothing is
//! added to the root namespace and every address exists only inside this run.
//! Partitions are nftables rules in the receiving node's namespace.
//!
//! Names carry the harness's pid (`rkf<pid>h`, `rkf<pid>c`, `rkf<pid>s1`, ...). On
//! drop, [`Net`] deletes its namespaces (their veths, bridge and nft tables go with
//! them). A run killed with SIGKILL leaves them behind; [`sweep_stale`] at the next
//! start deletes those whose pid is gone.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

/// Prefix of every namespace a run creates.
pub const NS_PREFIX: &str = "rkf";

/// A node of the run's network: a server or the client driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Client,
    /// Server `n`, counted from 1 (ZooKeeper's `myid`).
    Server(u32),
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Client => write!(f, "client"),
            Node::Server(n) => write!(f, "s{n}"),
        }
    }
}

/// Runs `ip`/`nft` and fails with its stderr when it does.
fn run(cmd: &str, args: &[&str]) -> io::Result<()> {
    let out = Command::new(cmd).args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The namespaces, bridge and addresses of one run.
pub struct Net {
    tag: String,
    servers: u32,
    /// Namespaces created so far, deleted on drop (the hub last).
    created: Vec<String>,
}

impl Net {
    /// Creates the hub with its bridge, and one namespace per server plus the client's.
    pub fn create(servers: u32) -> io::Result<Net> {
        let mut net = Net {
            tag: format!("{NS_PREFIX}{}", std::process::id()),
            servers,
            created: Vec::new(),
        };
        let hub = net.hub();
        net.add_ns(&hub)?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        let mut nodes = vec![Node::Client];
        nodes.extend((1..=servers).map(Node::Server));
        for node in nodes {
            let ns = net.ns(node);
            net.add_ns(&ns)?;
            // The hub end is named after the run and node; the node's end is eth0.
            let hub_end = format!("v{}{}", std::process::id(), node);
            run(
                "ip",
                &[
                    "-n", &hub, "link", "add", &hub_end, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            run(
                "ip",
                &["-n", &hub, "link", "set", &hub_end, "master", "br0"],
            )?;
            run("ip", &["-n", &hub, "link", "set", &hub_end, "up"])?;
            let addr = format!("{}/24", Net::addr(node));
            run("ip", &["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            // The table partitions add their drop rules to; deleted with the namespace.
            nft(&ns, "add table inet rkf")?;
            nft(
                &ns,
                "add chain inet rkf input { type filter hook input priority 0 ; policy accept ; }",
            )?;
        }
        Ok(net)
    }

    fn add_ns(&mut self, name: &str) -> io::Result<()> {
        run("ip", &["netns", "add", name])?;
        self.created.push(name.to_owned());
        Ok(())
    }

    fn hub(&self) -> String {
        format!("{}h", self.tag)
    }

    /// The namespace of `node`.
    pub fn ns(&self, node: Node) -> String {
        match node {
            Node::Client => format!("{}c", self.tag),
            Node::Server(n) => format!("{}s{n}", self.tag),
        }
    }

    /// The address of `node` (only inside this run's namespaces): 10.77.0.n for server
    /// n, 10.77.0.200 for the client.
    pub fn addr(node: Node) -> Ipv4Addr {
        match node {
            Node::Client => Ipv4Addr::new(10, 77, 0, 200),
            // Servers are few (1..=9 here); the cast cannot truncate below 200.
            Node::Server(n) => Ipv4Addr::new(10, 77, 0, n.min(199) as u8),
        }
    }

    pub fn servers(&self) -> u32 {
        self.servers
    }

    /// Drops every packet `from` sends to `to` (a one-way partition), in `to`'s namespace.
    pub fn block(&self, from: Node, to: Node) -> io::Result<()> {
        nft(
            &self.ns(to),
            &format!("add rule inet rkf input ip saddr {} drop", Net::addr(from)),
        )
    }

    /// Removes every partition rule.
    pub fn heal(&self) -> io::Result<()> {
        let mut nodes = vec![Node::Client];
        nodes.extend((1..=self.servers).map(Node::Server));
        for node in nodes {
            nft(&self.ns(node), "flush chain inet rkf input")?;
        }
        Ok(())
    }

    /// Opens `node`'s namespace, for `setns` (see [`enter`]).
    pub fn ns_file(&self, node: Node) -> io::Result<File> {
        File::open(format!("/run/netns/{}", self.ns(node)))
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Members first, the hub last (its veth ends go with the members).
        for ns in self.created.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("ringkeeper-faults: cleanup: {e}");
            }
        }
    }
}

/// Runs an nft script inside namespace `ns`.
fn nft(ns: &str, script: &str) -> io::Result<()> {
    let args: Vec<&str> = ["netns", "exec", ns, "nft"]
        .into_iter()
        .chain(script.split_whitespace())
        .collect();
    run("ip", &args)
}

/// Moves the calling thread into the network namespace `ns` (threads have their own;
/// sockets it opens afterwards live there).
pub fn enter(ns: &File) -> io::Result<()> {
    // SAFETY: setns on an open namespace fd only changes this thread's namespace.
    let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `f` on a new thread inside namespace `ns` and returns its result.
pub fn in_ns<T: Send + 'static>(ns: File, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    std::thread::spawn(move || {
        enter(&ns)?;
        Ok(f())
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Starts a thread inside namespace `ns` that runs the future `make` returns on a
/// glommio executor of its own (the project's client runs on glommio).
pub fn spawn_executor<T, F, Fut>(ns: File, make: F) -> std::thread::JoinHandle<Result<T, String>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    std::thread::spawn(move || {
        enter(&ns).map_err(|e| format!("entering the client namespace: {e}"))?;
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .map_err(|e| format!("glommio executor: {e}"))?;
        ex.run(make())
    })
}

/// Deletes the namespaces of runs whose harness process is gone (killed before its
/// cleanup ran). Returns how many it deleted.
pub fn sweep_stale() -> io::Result<usize> {
    let out = Command::new("ip").args(["netns", "list"]).output()?;
    let mut deleted = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(pid) = digits.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        run("ip", &["netns", "del", name])?;
        deleted += 1;
    }
    Ok(deleted)
}

//! The server's listening sockets, all bound before any core starts, so a start that
//! cannot have its ports fails at once with a message, and the log names the ports
//! actually bound (`clientPort=0` picks a free one).
//!
//! The client port (and the secure client port, with TLS) is one `SO_REUSEPORT`
//! listener per session core: the kernel spreads
//! connections over the cores. `SO_REUSEPORT` would also let any other process of the
//! same user join the group and take a share of the connections, so the port is first
//! proven free with a plain bind, and after binding the group is checked to hold our
//! sockets only. Operator-facing ports (metrics, AdminServer) are bound without `SO_REUSEPORT`: a
//! second binder fails loudly instead of splitting the scrapes.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::ServerError;
use crate::config::Config;

/// Connections the kernel queues per client listener before accepting, unless
/// `clientPortListenBacklog` says otherwise.
const LISTEN_BACKLOG_DEFAULT: i32 = 1024;
/// How long a start waits for the client port to be released.
const PORT_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Every socket the server listens on.
pub struct Listeners {
    /// One per session core, bound to `client_addr`; empty on a TLS-only server
    /// (no `clientPort`).
    pub client: Vec<TcpListener>,
    /// The client address with the port actually bound.
    pub client_addr: SocketAddr,
    /// One per session core for `secureClientPort`, in its own SO_REUSEPORT group;
    /// empty without a secure port.
    pub secure: Vec<TcpListener>,
    /// The secure address with the port actually bound.
    pub secure_addr: Option<SocketAddr>,
    pub metrics: Option<TcpListener>,
    /// The AdminServer's (`admin.serverPort`).
    pub admin: Option<TcpListener>,
}

impl Listeners {
    pub fn bind(cfg: &Config) -> Result<Listeners, ServerError> {
        let backlog = cfg.listen_backlog.unwrap_or(LISTEN_BACKLOG_DEFAULT);
        let n = cfg.session_cores.max(1);
        let (client, addr) = if cfg.plaintext_port {
            bind_group(cfg.client_addr, n, backlog, "the client port")?
        } else {
            (Vec::new(), cfg.client_addr)
        };
        let (secure, secure_addr) = match cfg.tls.as_ref().and_then(|t| t.addr) {
            None => (Vec::new(), None),
            Some(addr) => {
                let (l, a) = bind_group(addr, n, backlog, "the secure client port")?;
                (l, Some(a))
            }
        };
        let metrics =
            match cfg.metrics_addr {
                None => None,
                Some(m) => Some(listen_exclusive_after_release(m).map_err(|source| {
                    ServerError::Listen {
                        addr: m,
                        what: "the metrics port (metricsProvider.httpPort)",
                        source,
                    }
                })?),
            };
        // ZooKeeper exits when its AdminServer cannot start; so does this, naming the
        // way out (many servers on one host each want 8080 by default).
        let admin = match &cfg.admin {
            None => None,
            Some(a) => Some(listen_exclusive_after_release(a.addr).map_err(|source| ServerError::Listen {
                addr: a.addr,
                what: "the AdminServer port (admin.serverPort; admin.enableServer=false turns it off)",
                source,
            })?),
        };
        Ok(Listeners {
            client,
            client_addr: addr,
            secure,
            secure_addr,
            metrics,
            admin,
        })
    }
}

/// `n` listeners on `addr` in one SO_REUSEPORT group, and the address with the port
/// actually bound.
fn bind_group(
    mut addr: SocketAddr,
    n: usize,
    backlog: i32,
    what: &'static str,
) -> Result<(Vec<TcpListener>, SocketAddr), ServerError> {
    if addr.port() != 0 {
        probe_port(addr, what)?;
    }
    let mut group = Vec::with_capacity(n);
    for _ in 0..n {
        let l = listen_shared(addr, backlog).map_err(|source| ServerError::Listen {
            addr,
            what,
            source,
        })?;
        if addr.port() == 0 {
            // The first socket picked the port; the others join it.
            addr = l
                .local_addr()
                .map_err(|source| ServerError::Listen { addr, what, source })?;
        }
        group.push(l);
    }
    check_group_is_ours(addr, &group, what)?;
    Ok((group, addr))
}

/// Proves the client port is free with a plain bind (no SO_REUSEPORT). After a
/// SIGKILL the kernel can keep the dead server's listening socket open for a moment
/// (io_uring releases it asynchronously); binding beside it with SO_REUSEPORT would
/// hand some new connections to a socket nobody accepts on. So wait for it to go,
/// then fail if the port stays taken (another server is running).
fn probe_port(addr: SocketAddr, what: &'static str) -> Result<(), ServerError> {
    let deadline = Instant::now() + PORT_RELEASE_WAIT;
    let mut warned = false;
    loop {
        match TcpListener::bind(addr) {
            Ok(probe) => {
                drop(probe);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                if !warned {
                    tracing::warn!("{addr} is in use; waiting up to {PORT_RELEASE_WAIT:?} for it to be released");
                    warned = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(source) => return Err(ServerError::Listen { addr, what, source }),
        }
    }
}

/// A client listener: `SO_REUSEPORT` so every core binds the same port, and
/// `SO_REUSEADDR` so a restarted server can bind while connections of the previous
/// one sit in TIME_WAIT (the accepted sockets inherit it).
fn listen_shared(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let sk = new_socket(addr)?;
    sk.set_reuse_port(true)?;
    sk.bind(&addr.into())?;
    sk.listen(backlog)?;
    Ok(sk.into())
}

/// How long a start waits for an operator port (metrics, AdminServer) to be released. Shorter than the
/// client port's: a restarted server (kazoo's harness restarts them) finds its previous
/// run's socket closing, while a port another server holds should fail the start soon.
const OPS_PORT_RELEASE_WAIT: Duration = Duration::from_secs(3);

/// [`listen_exclusive`], waiting up to [`OPS_PORT_RELEASE_WAIT`] while the port is
/// in use: the operator ports accept through io_uring, and after their process dies the
/// kernel releases that listening socket asynchronously (see [`probe_port`]).
fn listen_exclusive_after_release(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let deadline = Instant::now() + OPS_PORT_RELEASE_WAIT;
    loop {
        match listen_exclusive(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// A listener no other socket can share (SO_REUSEADDR only, for TIME_WAIT: on Linux
/// it does not let a second socket listen on the same address).
fn listen_exclusive(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sk = new_socket(addr)?;
    sk.bind(&addr.into())?;
    sk.listen(128)?;
    Ok(sk.into())
}

fn new_socket(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sk = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sk.set_reuse_address(true)?;
    Ok(sk)
}

/// Fails if a listening socket that is not one of `ours` is bound to `addr`: another
/// process joined our `SO_REUSEPORT` group (it raced our probe) and would take a
/// share of the connections. Reads the kernel's socket tables for this network
/// namespace; where they cannot be read (no /proc), the probe alone stands.
fn check_group_is_ours(
    addr: SocketAddr,
    ours: &[TcpListener],
    what: &'static str,
) -> Result<(), ServerError> {
    let mut our_inodes = Vec::with_capacity(ours.len());
    for l in ours {
        let path = format!("/proc/self/fd/{}", l.as_raw_fd());
        match std::fs::metadata(&path) {
            Ok(m) => our_inodes.push(std::os::unix::fs::MetadataExt::ino(&m)),
            Err(_) => return Ok(()),
        }
    }
    let table = if addr.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let Ok(text) = std::fs::read_to_string(table) else {
        return Ok(());
    };
    let strangers = listening_inodes(&text, addr)
        .into_iter()
        .filter(|ino| !our_inodes.contains(ino))
        .count();
    if strangers > 0 {
        return Err(ServerError::Listen {
            addr,
            what,
            source: std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!(
                    "{strangers} listening socket(s) of another process share it \
                     (SO_REUSEPORT); is another server starting on this port?"
                ),
            ),
        });
    }
    Ok(())
}

/// Inodes of the sockets in LISTEN state bound to exactly `addr`, from the text of
/// /proc/net/tcp or tcp6 (addresses as the kernel prints them: each 32-bit word of
/// the network-order address as a host-order hex number; the port in hex).
fn listening_inodes(table: &str, addr: SocketAddr) -> Vec<u64> {
    const LISTEN: &str = "0A";
    let want_ip: Vec<u8> = match addr {
        SocketAddr::V4(a) => a.ip().octets().to_vec(),
        SocketAddr::V6(a) => a.ip().octets().to_vec(),
    };
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
        else {
            continue;
        };
        if *state != LISTEN {
            continue;
        }
        let Some((ip_hex, port_hex)) = local.split_once(':') else {
            continue;
        };
        if u16::from_str_radix(port_hex, 16).ok() != Some(addr.port()) {
            continue;
        }
        if kernel_hex_ip(ip_hex).as_deref() != Some(&want_ip[..]) {
            continue;
        }
        if let Ok(ino) = inode.parse() {
            out.push(ino);
        }
    }
    out
}

/// The address bytes of a /proc/net/tcp address column.
fn kernel_hex_ip(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(8) {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for i in (0..hex.len()).step_by(8) {
        let word = u32::from_str_radix(hex.get(i..i + 8)?, 16).ok()?;
        out.extend_from_slice(&word.to_ne_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listeners_on_the_exact_address_in_the_kernel_table() {
        let a = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = a.local_addr().expect("addr");
        let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let inodes = listening_inodes(&text, addr);
        let mine = std::fs::metadata(format!("/proc/self/fd/{}", a.as_raw_fd())).expect("fd");
        assert_eq!(
            inodes,
            vec![std::os::unix::fs::MetadataExt::ino(&mine)],
            "{addr}"
        );
        // The same port on another address is not ours to worry about.
        let other: SocketAddr = format!("127.0.0.2:{}", addr.port()).parse().expect("addr");
        assert!(listening_inodes(&text, other).is_empty());
    }

    #[test]
    fn a_stranger_in_the_reuseport_group_is_refused() {
        let first = listen_shared("127.0.0.1:0".parse().expect("addr"), 16).expect("listen");
        let addr = first.local_addr().expect("addr");
        let ours = vec![listen_shared(addr, 16).expect("listen")];
        // `first` plays the other process: same port, same group, not in `ours`.
        let err =
            check_group_is_ours(addr, &ours, "a port").expect_err("a stranger shares the port");
        assert!(err.to_string().contains("another process"), "{err}");
        let all = vec![first, ours.into_iter().next().expect("one")];
        check_group_is_ours(addr, &all, "a port").expect("only ours");
    }

    #[test]
    fn an_exclusive_port_refuses_a_second_binder() {
        let first = listen_exclusive("127.0.0.1:0".parse().expect("addr")).expect("listen");
        let addr = first.local_addr().expect("addr");
        assert!(listen_exclusive(addr).is_err());
        assert!(listen_shared(addr, 16).is_err());
    }
}

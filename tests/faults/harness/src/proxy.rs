//! A userspace TCP proxy per server link (this kernel has no netem): the clients
//! connect to 127.0.0.1:`PROXY_PORT_BASE + n` in the client namespace and the proxy
//! forwards to server n. Each link can be delayed (every chunk waits `delay_ms` after
//! it was read, order kept), slowed (`rate` bytes per second), or stalled (nothing is
//! forwarded; bytes wait, as behind a dead router, and flow again on heal).
//!
//! Threads, all inside the client namespace: one acceptor per link, and per
//! connection and direction a reader and a writer joined by a bounded channel (so a
//! delay does not add up over pipelined chunks, and a stalled writer stops the reader
//! through the bound). Every blocking call has a timeout that checks `stop`; dropping
//! the [`Proxy`] stops and joins all of them. A connection whose four threads have
//! ended is joined and its sockets closed by its acceptor, so an hour of reconnecting
//! clients holds no more threads or descriptors than the connections open now.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net;

/// Proxy of server n listens on this + n.
pub const PROXY_PORT_BASE: u16 = 12_180;

/// How often blocked threads look at `stop` and at a stall.
const POLL: Duration = Duration::from_millis(50);

/// Chunks in flight per direction before the reader waits (bounds memory).
const CHUNKS_IN_FLIGHT_MAX: usize = 256;

const CHUNK_BYTES: usize = 16 * 1024;

/// The fault state of one link; all zero/false is a healthy link.
#[derive(Debug, Default)]
pub struct LinkFault {
    pub delay_ms: AtomicU64,
    /// Bytes per second; 0 is unlimited.
    pub rate: AtomicU64,
    pub stall: AtomicBool,
}

impl LinkFault {
    pub fn heal(&self) {
        self.delay_ms.store(0, Ordering::Relaxed);
        self.rate.store(0, Ordering::Relaxed);
        self.stall.store(false, Ordering::Relaxed);
    }
}

/// One proxied connection: its pump threads and both sockets (shut down on drop of
/// the [`Proxy`], so no thread waits on a peer).
struct Conn {
    threads: Vec<JoinHandle<()>>,
    sockets: [TcpStream; 2],
}

impl Conn {
    fn ended(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    fn join(self) {
        for h in self.threads {
            let _ = h.join();
        }
    }
}

type Conns = Arc<Mutex<Vec<Conn>>>;

/// Joins the connections that have ended and drops their sockets.
fn reap(conns: &Conns) {
    let ended: Vec<Conn> = match conns.lock() {
        Ok(mut c) => {
            let (ended, open) = c.drain(..).partition(Conn::ended);
            *c = open;
            ended
        }
        Err(_) => return,
    };
    ended.into_iter().for_each(Conn::join);
}

/// The proxies of a run, one per server.
pub struct Proxy {
    pub links: Vec<Arc<LinkFault>>,
    pub addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
    conns: Conns,
}

impl Proxy {
    /// Starts one proxy per upstream, listening inside namespace `ns` on 127.0.0.1,
    /// port `port_base + n` for upstream n (from 1), or any free port if `port_base`
    /// is 0.
    pub fn start(ns: &File, upstreams: &[SocketAddr], port_base: u16) -> io::Result<Proxy> {
        let mut p = Proxy {
            links: Vec::new(),
            addrs: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            acceptors: Vec::new(),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        for (i, up) in upstreams.iter().enumerate() {
            let port = match port_base {
                0 => 0,
                b => b + u16::try_from(i + 1).map_err(io::Error::other)?,
            };
            let listener = net::in_ns(ns.try_clone()?, move || {
                let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
                l.set_nonblocking(true)?;
                Ok::<_, io::Error>(l)
            })??;
            let addr = listener.local_addr()?;
            let link = Arc::new(LinkFault::default());
            let ns = ns.try_clone()?;
            let (up, link2, stop) = (*up, link.clone(), p.stop.clone());
            let conns = p.conns.clone();
            p.acceptors.push(std::thread::spawn(move || {
                // Connections to the server are made from the client namespace too.
                if net::enter(&ns).is_ok() {
                    accept_loop(listener, up, link2, stop, conns);
                }
            }));
            p.links.push(link);
            p.addrs.push(addr);
        }
        Ok(p)
    }

    pub fn heal(&self) {
        for l in &self.links {
            l.heal();
        }
    }

    /// Connections held now (open, or ended and not yet reaped).
    pub fn connections(&self) -> usize {
        self.conns.lock().map_or(0, |c| c.len())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The acceptors first: once they are joined no connection is added.
        for h in self.acceptors.drain(..) {
            let _ = h.join();
        }
        let conns: Vec<Conn> = match self.conns.lock() {
            Ok(mut c) => c.drain(..).collect(),
            Err(_) => return,
        };
        for c in &conns {
            for s in &c.sockets {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        conns.into_iter().for_each(Conn::join);
    }
}

fn accept_loop(
    listener: TcpListener,
    up: SocketAddr,
    link: Arc<LinkFault>,
    stop: Arc<AtomicBool>,
    conns: Conns,
) {
    while !stop.load(Ordering::Relaxed) {
        reap(&conns);
        let client = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(_) => continue,
        };
        // A refused upstream closes the client side at once, as the server would.
        let Ok(server) = TcpStream::connect_timeout(&up, Duration::from_secs(1)) else {
            continue;
        };
        let pairs = [(&client, &server), (&server, &client)];
        let mut threads = Vec::new();
        for (from, to) in pairs {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let _ = from.set_nodelay(true);
            let _ = from.set_read_timeout(Some(POLL));
            threads.extend(pump(from, to, link.clone(), stop.clone()));
        }
        if let Ok(mut c) = conns.lock() {
            c.push(Conn {
                threads,
                sockets: [client, server],
            });
        }
    }
}

/// Reader and writer of one direction.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    link: Arc<LinkFault>,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT_MAX);
    let stop_r = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK_BYTES];
        while !stop_r.load(Ordering::Relaxed) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        // The writer drains what was read, then ends the other side.
    });
    let writer = std::thread::spawn(move || {
        loop {
            let (at, chunk) = match rx.recv_timeout(POLL) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Timeout) if !stop.load(Ordering::Relaxed) => continue,
                Err(_) => break,
            };
            // Stalled: hold the chunk until healed (or stopped).
            while link.stall.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(POLL);
            }
            let due = at + Duration::from_millis(link.delay_ms.load(Ordering::Relaxed));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let rate = link.rate.load(Ordering::Relaxed);
            if rate > 0 {
                std::thread::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64));
            }
            if stop.load(Ordering::Relaxed) || to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    vec![reader, writer]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1 for its first `connections` connections, each
    /// echoed on a thread of its own until the client closes it.
    fn echo_server(connections: usize) -> SocketAddr {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let up = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in echo.incoming().take(connections) {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let _ = io::copy(&mut r, &mut s);
                });
            }
        });
        up
    }

    /// An echo server on 127.0.0.1 behind a proxy built in this (root or not)
    /// namespace: bytes pass, delay delays, stall holds and heal releases.
    #[test]
    fn forwards_delays_and_stalls() {
        let up = echo_server(1);
        let ns = File::open("/proc/self/ns/net").unwrap();
        let p = Proxy::start(&ns, &[up], 0).unwrap();
        let mut c = TcpStream::connect(p.addrs[0]).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 4];
        c.write_all(b"ping").unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");

        p.links[0].delay_ms.store(200, Ordering::Relaxed);
        let t = Instant::now();
        c.write_all(b"pong").unwrap();
        c.read_exact(&mut b).unwrap();
        // Delayed both ways.
        assert!(
            t.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        p.heal();

        p.links[0].stall.store(true, Ordering::Relaxed);
        c.write_all(b"held").unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(c.read_exact(&mut b).is_err());
        p.heal();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"held");
        drop(p);
    }

    /// Connections that both ends closed are joined and their sockets closed while
    /// the proxy runs (an hour-long soak reconnects thousands of times).
    #[test]
    fn ended_connections_are_reaped() {
        let up = echo_server(20);
        let ns = File::open("/proc/self/ns/net").unwrap();
        let p = Proxy::start(&ns, &[up], 0).unwrap();
        for _ in 0..20 {
            let mut c = TcpStream::connect(p.addrs[0]).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 2];
            c.write_all(b"hi").unwrap();
            c.read_exact(&mut b).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while p.connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert_eq!(p.connections(), 0, "ended connections are still held");
        drop(p);
    }
}

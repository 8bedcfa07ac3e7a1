//! A session core's acceptor: a plain thread blocked in `accept` on the core's
//! listening socket, handing each new connection to the core through a socket pair.
//!
//! Why not io_uring's accept: an io_uring request in flight holds its own reference
//! to the listening socket, and when the process dies (SIGKILL, a crash) the kernel
//! tears the rings down asynchronously. For some milliseconds the dead server's port
//! still completed handshakes, for connections nobody would ever serve (seen here: up
//! to 126 in 12 ms after a SIGKILL). A thread's blocking `accept` holds no reference
//! that outlives the process: by the time a dead server can be reaped its listening
//! sockets are closed, as ZooKeeper's are. Connections come in rarely next to
//! requests, so one thread hop per connection costs nothing that matters.
//!
//! The thread inherits the core's blocked stop signals and CPU. It ends when the
//! listener is shut down (the stop) or the core stops taking connections.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use super::tls::TlsContext;

/// A session core's client listeners: the plaintext port's when `clientPort` is set,
/// and the secure port's with its TLS configuration when `secureClientPort` is set
/// (at least one of them).
pub struct ClientListener {
    pub plain: Option<TcpListener>,
    /// `client.portUnification`: the plaintext port's connections may speak TLS.
    pub unified: Option<Arc<TlsContext>>,
    pub secure: Option<(TcpListener, Arc<TlsContext>)>,
}

/// A new client connection, and whether it speaks TLS.
pub enum Accepted {
    Plain(glommio::net::TcpStream),
    Tls(glommio::net::TcpStream, Arc<TlsContext>),
    /// On the plaintext port with `client.portUnification`: its first byte tells.
    Either(glommio::net::TcpStream, Arc<TlsContext>),
}

/// A session core's acceptors: one thread per listening socket.
pub struct ClientAcceptor {
    plain: Option<Acceptor>,
    unified: Option<Arc<TlsContext>>,
    secure: Option<(Acceptor, Arc<TlsContext>)>,
}

impl ClientAcceptor {
    /// Starts the accepting threads for session core `idx`.
    pub fn spawn(idx: usize, listener: ClientListener) -> std::io::Result<ClientAcceptor> {
        let plain = match listener.plain {
            None => None,
            Some(l) => Some(Acceptor::spawn(idx, l)?),
        };
        let secure = match listener.secure {
            None => None,
            Some((l, tls)) => Some((
                Acceptor::spawn_named(
                    &format!("session core {idx} (secure port)"),
                    &format!("rk-accept-tls-{idx}"),
                    l,
                )?,
                tls,
            )),
        };
        Ok(ClientAcceptor {
            plain,
            unified: listener.unified,
            secure,
        })
    }

    /// The next connection from either port; `None` once the plaintext port's thread
    /// has ended (a secure port's end alone is logged and the plaintext port goes on),
    /// or, on a TLS-only server, the secure port's.
    pub async fn next(&mut self) -> Option<Accepted> {
        let unified = &self.unified;
        let plain_port = |s| match unified {
            None => Accepted::Plain(s),
            Some(tls) => Accepted::Either(s, tls.clone()),
        };
        match (self.plain.as_mut(), self.secure.as_mut()) {
            (None, None) => None,
            (Some(plain), None) => plain.next().await.map(plain_port),
            (None, Some((secure, tls))) => {
                secure.next().await.map(|s| Accepted::Tls(s, tls.clone()))
            }
            (Some(plain), Some((secure, tls))) => {
                let plain = async { plain.next().await.map(plain_port) };
                let tls_conn = async {
                    match secure.next().await {
                        Some(s) => Some(Accepted::Tls(s, tls.clone())),
                        None => {
                            tracing::error!("the secure client port's acceptor thread ended");
                            std::future::pending().await
                        }
                    }
                };
                futures_lite::future::or(plain, tls_conn).await
            }
        }
    }

    pub fn stop(&self) {
        if let Some(p) = &self.plain {
            p.stop();
        }
        if let Some((s, _)) = &self.secure {
            s.stop();
        }
    }
}

/// The core's end: new connections, in the order they were accepted.
pub struct Acceptor {
    incoming: glommio::net::UnixStream,
    /// The listening socket, for [`Acceptor::stop`] (the thread owns the listener).
    listen_fd: RawFd,
}

impl Acceptor {
    /// Starts the accepting thread for session core `idx`.
    pub fn spawn(idx: usize, listener: TcpListener) -> std::io::Result<Acceptor> {
        Acceptor::spawn_named(
            &format!("session core {idx}"),
            &format!("rk-accept-{idx}"),
            listener,
        )
    }

    /// Starts an accepting thread named `thread` for the listener of `owner` (named in
    /// its log lines).
    pub fn spawn_named(
        owner: &str,
        thread: &str,
        listener: TcpListener,
    ) -> std::io::Result<Acceptor> {
        let (mut tx, rx) = UnixStream::pair()?;
        let listen_fd = listener.as_raw_fd();
        let owner = owner.to_owned();
        std::thread::Builder::new()
            .name(thread.to_owned())
            .spawn(move || loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let fd = stream.into_raw_fd();
                        if tx.write_all(&fd.to_ne_bytes()).is_err() {
                            // The core is gone: nobody will serve it.
                            // SAFETY: `fd` came from `into_raw_fd` and was not handed on.
                            drop(unsafe { OwnedFd::from_raw_fd(fd) });
                            return;
                        }
                    }
                    // Shut down (the stop): the socket no longer listens.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, do not spin.
                        tracing::warn!("{owner}: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })?;
        // SAFETY: `rx` is one end of the pair just made; the glommio stream takes it.
        let incoming = unsafe { glommio::net::UnixStream::from_raw_fd(rx.into_raw_fd()) };
        Ok(Acceptor {
            incoming,
            listen_fd,
        })
    }

    /// The next accepted connection; `None` once the thread has ended.
    pub async fn next(&mut self) -> Option<glommio::net::TcpStream> {
        use futures_lite::AsyncReadExt;
        let mut buf = [0u8; std::mem::size_of::<RawFd>()];
        self.incoming.read_exact(&mut buf).await.ok()?;
        let fd = RawFd::from_ne_bytes(buf);
        // SAFETY: the thread sent a descriptor it accepted and gave up (`into_raw_fd`);
        // this process owns it and nothing else holds it.
        Some(unsafe { glommio::net::TcpStream::from_raw_fd(fd) })
    }

    /// Stops accepting: the listening socket is shut down (the kernel refuses new
    /// connections from here on), which also ends the thread's `accept`.
    pub fn stop(&self) {
        self.stopper().stop();
    }

    /// What stops this acceptor from elsewhere while a task awaits [`Acceptor::next`].
    /// Call it once: after the stop the thread closes the socket, and its number may
    /// be reused.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            listen_fd: self.listen_fd,
        }
    }
}

/// Stops an [`Acceptor`] whose `next` another task awaits.
pub struct Stopper {
    listen_fd: RawFd,
}

impl Stopper {
    pub fn stop(&self) {
        // SAFETY: plain syscall on a socket the thread keeps open until it returns.
        unsafe {
            libc::shutdown(self.listen_fd, libc::SHUT_RDWR);
        }
    }
}

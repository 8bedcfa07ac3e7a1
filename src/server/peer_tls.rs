//! TLS between ensemble members (`sslQuorum=true`): what the election port, the
//! quorum port and the observer master port speak, and the stream type their
//! connections have either way.
//!
//! As ZooKeeper's `QuorumX509Util`: with `sslQuorum` every one of those ports takes TLS
//! only, and every connection a member opens to a peer starts with a TLS handshake;
//! both sides present the `ssl.quorum.keyStore` certificate and check the other's
//! chain against `ssl.quorum.trustStore`. With `ssl.quorum.hostnameVerification`
//! (Java's default, true) the peer's certificate must also name it: the address we
//! dialled or, failing that, the host name `server.N` gives it; for a connection we
//! accepted, its source address or a member host name that resolves to that address
//! (Java asks reverse DNS for the name; resolving the configured names once, at
//! start, needs no DNS on the quorum core and admits only names of members).
//!
//! With `portUnification` the ports take plaintext connections too (the first byte
//! tells: a TLS handshake record or not), and without `sslQuorum` connections to peers
//! are opened in plaintext: ZooKeeper's steps for switching a running ensemble to
//! quorum TLS (or back) with rolling restarts, members of either kind.
//!
//! A plaintext connection is [`PeerStream::Plain`]: the same socket as before, one
//! `match` per read or write added.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::future::or;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use rustls::pki_types::ServerName;

use crate::config::QuorumConfig;

/// A connection between two members, with or without TLS.
pub enum PeerStream {
    Plain(TcpStream),
    /// A connection a peer opened to us.
    Accepted(Box<futures_rustls::server::TlsStream<TcpStream>>),
    /// A connection we opened to a peer.
    Dialled(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl PeerStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(s) => s,
            PeerStream::Accepted(s) => s.get_ref().0,
            PeerStream::Dialled(s) => s.get_ref().0,
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.tcp().peer_addr().ok()
    }

    pub fn set_nodelay(&self, on: bool) {
        let _ = self.tcp().set_nodelay(on);
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Accepted(s) => eof_as_end(Pin::new(s.as_mut()).poll_read(cx, buf)),
            PeerStream::Dialled(s) => eof_as_end(Pin::new(s.as_mut()).poll_read(cx, buf)),
        }
    }
}

/// A TLS peer whose socket closed without a close_notify (a killed process) reads as
/// the end of the stream, as a plaintext peer's close does, and is logged alike: every
/// message on these ports is length-framed, so one cut short is still seen as cut.
fn eof_as_end(read: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    match read {
        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(0)),
        other => other,
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PeerStream::Accepted(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            PeerStream::Dialled(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Accepted(s) => Pin::new(s.as_mut()).poll_flush(cx),
            PeerStream::Dialled(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_close(cx),
            PeerStream::Accepted(s) => Pin::new(s.as_mut()).poll_close(cx),
            PeerStream::Dialled(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// The TLS of one member's peer connections, built at start from its `ssl.quorum.*`
/// keys. `None` where a `PeerTls` is optional means plaintext.
pub struct PeerTls {
    acceptor: futures_rustls::TlsAcceptor,
    connector: futures_rustls::TlsConnector,
    verify_names: bool,
    /// `sslQuorum`: connections to peers start with TLS.
    dial_tls: bool,
    /// `portUnification`: accepted connections may also be plaintext.
    accept_plaintext: bool,
    /// Per address, the member host names (as `server.N` writes them, IP literals
    /// left out) that resolve to it.
    names_at: HashMap<IpAddr, Vec<String>>,
}

impl PeerTls {
    /// From the ensemble's configuration: `Ok(None)` for plaintext only (neither
    /// `sslQuorum` nor `portUnification` with a key store); an error (a store that does
    /// not load, a bad protocol) names the key.
    pub fn new(qcfg: &QuorumConfig) -> Result<Option<Rc<PeerTls>>, String> {
        let Some(q) = &qcfg.tls else {
            return Ok(None);
        };
        let (server, client) = super::tls::quorum_configs(&q.tls)?;
        let mut names_at: HashMap<IpAddr, Vec<String>> = HashMap::new();
        if q.hostname_verification {
            for s in &qcfg.servers {
                if s.host.parse::<IpAddr>().is_ok() {
                    continue;
                }
                // A name that does not resolve now admits nobody by that name; the
                // election reports the unresolvable member itself.
                if let Ok(addrs) = (s.host.as_str(), 0).to_socket_addrs() {
                    for a in addrs {
                        let names = names_at.entry(a.ip()).or_default();
                        if !names.contains(&s.host) {
                            names.push(s.host.clone());
                        }
                    }
                }
            }
        }
        Ok(Some(Rc::new(PeerTls {
            acceptor: futures_rustls::TlsAcceptor::from(server),
            connector: futures_rustls::TlsConnector::from(client),
            verify_names: q.hostname_verification,
            dial_tls: q.dial_tls,
            accept_plaintext: q.accept_plaintext,
            names_at,
        })))
    }

    /// A connection accepted on one of the member ports, ready for the protocol: as
    /// it is without TLS; with TLS, once its handshake and name check passed within
    /// `limit`. An error says why it must be closed.
    pub async fn accept(
        tls: Option<&PeerTls>,
        stream: TcpStream,
        limit: Duration,
    ) -> Result<PeerStream, String> {
        // Before the handshake: with Nagle on, a handshake flight written in two parts
        // waited out the peer's delayed ACK (about 40 ms per handshake, measured on a
        // failover).
        let _ = stream.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(PeerStream::Plain(stream));
        };
        let from = stream
            .peer_addr()
            .map_err(|e| format!("its address is unknown: {e}"))?;
        if tls.accept_plaintext {
            let first = crate::server::first_byte(&stream, limit).await?;
            if first != crate::server::TLS_HANDSHAKE_RECORD {
                return Ok(PeerStream::Plain(stream));
            }
        }
        let handshake = async {
            tls.acceptor
                .accept(stream)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))
        };
        let s = within(limit, handshake).await?;
        let ip = canonical(from.ip());
        let names = tls.names_at.get(&ip).map_or(&[][..], Vec::as_slice);
        // A peer that presented no certificate got in because ssl.quorum.clientAuth
        // let it (want or none): as Java's trust manager, which checks names only
        // for a chain it is handed, there is no name to check.
        if let Some(certs) = s.get_ref().1.peer_certificates() {
            tls.check_names(Some(certs), ip, names)?;
        }
        Ok(PeerStream::Accepted(Box::new(s)))
    }

    /// A connection opened to a peer at `host` (as `server.N` writes it), ready for
    /// the protocol: as it is without TLS; with TLS, once its handshake and name check
    /// passed within `limit`.
    pub async fn dial(
        tls: Option<&PeerTls>,
        stream: TcpStream,
        host: &str,
        limit: Duration,
    ) -> Result<PeerStream, String> {
        let _ = stream.set_nodelay(true);
        let Some(tls) = tls.filter(|t| t.dial_tls) else {
            return Ok(PeerStream::Plain(stream));
        };
        let to = stream
            .peer_addr()
            .map_err(|e| format!("its address is unknown: {e}"))?;
        // The name only travels as SNI (Java's SSLSocket sends none for an address);
        // what the certificate must name is checked below.
        let server_name = match ServerName::try_from(host.to_owned()) {
            Ok(n) => n,
            Err(_) => ServerName::IpAddress(to.ip().into()),
        };
        let handshake = async {
            tls.connector
                .connect(server_name, stream)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))
        };
        let s = within(limit, handshake).await?;
        let names = if host.parse::<IpAddr>().is_ok() {
            Vec::new()
        } else {
            vec![host.to_owned()]
        };
        tls.check_names(
            s.get_ref().1.peer_certificates(),
            canonical(to.ip()),
            &names,
        )?;
        Ok(PeerStream::Dialled(Box::new(s)))
    }

    fn check_names(
        &self,
        certs: Option<&[rustls::pki_types::CertificateDer<'_>]>,
        ip: IpAddr,
        names: &[String],
    ) -> Result<(), String> {
        if !self.verify_names {
            return Ok(());
        }
        let Some(leaf) = certs.and_then(|c| c.first()) else {
            return Err("it presented no certificate".into());
        };
        if super::tls::names_peer(leaf.as_ref(), ip, names) {
            return Ok(());
        }
        Err(format!(
            "its certificate names neither {ip}{} (ssl.quorum.hostnameVerification)",
            if names.is_empty() {
                String::new()
            } else {
                format!(" nor {}", names.join(", "))
            }
        ))
    }
}

/// An IPv4 peer on an IPv6 socket as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let late = async {
        glommio::timer::sleep(limit).await;
        Err(format!("no TLS handshake within {} ms", limit.as_millis()))
    };
    or(work, late).await
}

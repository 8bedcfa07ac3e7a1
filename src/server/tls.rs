//! TLS on the secure client port: the rustls server configuration built from
//! ZooKeeper's `ssl.*` keys, the client-certificate verifier, and the `x509` auth ids
//! a verified certificate gives its connection.
//!
//! Why futures-rustls over glommio's `TcpStream`: glommio's streams implement the
//! `futures` `AsyncRead`/`AsyncWrite` traits, and futures-rustls's `TlsStream`
//! implements the same traits over any such stream. So the connection code is generic
//! over its stream (`connection::serve`) and the plaintext path is compiled as before,
//! with no branch or buffer added; only a TLS connection pays for TLS.
//!
//! Why a verifier of our own: webpki (rustls's default) accepts X.509 v3 certificates
//! only, while ZooKeeper (Java's PKIX) also trusts v1 certificates, which kazoo's test
//! harness and many older setups issue. [`ChainVerifier`] parses certificates with
//! x509-parser, checks each signature up to a certificate of the trust store, and
//! checks the handshake signature with rustls's own signature algorithms. Revocation:
//! with `ssl.crl` alone it reads the chain's CRLs in the handshake (`super::crl`); with
//! `ssl.ocsp` it checks the chain only, and the connection task asks OCSP after the
//! handshake, off the core (`super::ocsp`), with [`ChainVerifier::revocation_path`].
//!
//! Stores: PEM, PKCS12 (p12-keystore) and JKS (`jks`, no crate reads it) are read. The store type is the `.type` key or,
//! without it, the file name's extension, as ZooKeeper's
//! `KeyStoreFileType.fromPropertyValueOrFileName` infers it. A PEM key store's key may
//! be an `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2), opened with `ssl.keyStore.password`
//! as ZooKeeper's `PemReader` opens it.
//!
//! Reload ([`TlsContext`], [`watch`]): with `client.certReload`, a thread polls the
//! store files and swaps in a configuration built from them when they change; new
//! handshakes take it, established connections keep theirs. A file that does not load
//! (half written, wrong password) leaves the previous configuration in place.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::{AdminTls, ClientAuth, StoreConfig, TlsConfig};
use crate::proto::Id;

/// Certificates between a client's certificate and a trust anchor, at most.
const CHAIN_DEPTH_MAX: usize = 8;
/// How often the reload thread looks at the store files.
const RELOAD_POLL: Duration = Duration::from_millis(500);

/// The TLS configuration new handshakes take, shared by the session cores. Replaced
/// as a whole on reload; a handshake under way keeps the one it started with.
pub struct TlsContext {
    current: RwLock<Handshakes>,
    /// `ssl.ocsp`: the OCSP checker (its cache outlives reloads).
    ocsp: Option<Arc<super::ocsp::Ocsp>>,
}

/// What a handshake takes: the rustls configuration and, when client certificates
/// are asked for, its verifier (whose trust anchors the OCSP check walks the chain to).
#[derive(Clone)]
pub struct Handshakes {
    pub config: Arc<ServerConfig>,
    pub verifier: Option<Arc<ChainVerifier>>,
}

impl TlsContext {
    /// Built from the `ssl.*` keys, checked as at start (see [`handshakes`]).
    pub fn new(tls: &TlsConfig) -> Result<Arc<TlsContext>, String> {
        Ok(Arc::new(TlsContext {
            current: RwLock::new(handshakes(tls)?),
            ocsp: tls.ocsp.then(super::ocsp::Ocsp::new),
        }))
    }

    /// The configuration for a new handshake: one read lock and two `Arc` clones per
    /// TLS connection, none on the plaintext path.
    pub fn current(&self) -> Handshakes {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The OCSP checker, with `ssl.ocsp=true`.
    pub fn ocsp(&self) -> Option<&Arc<super::ocsp::Ocsp>> {
        self.ocsp.as_ref()
    }

    fn replace(&self, cfg: Handshakes) {
        match self.current.write() {
            Ok(mut c) => *c = cfg,
            Err(poisoned) => *poisoned.into_inner() = cfg,
        }
    }
}

/// What tells a store file's content changed without reading it: modification time,
/// length and inode (a file renamed over it, as atomic writers and Kubernetes'
/// secret volumes do, is a new inode). `None`: the file cannot be read.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamps(tls: &TlsConfig) -> Vec<Stamp> {
    use std::os::unix::fs::MetadataExt;
    [&tls.key_store.location, &tls.trust_store.location]
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            std::fs::metadata(l)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())))
        })
        .collect()
}

/// Starts the thread that reloads `ctx` from the store files `tls` names when they
/// change (`client.certReload`), as ZooKeeper's `FileChangeWatcher` does for its
/// `X509Util`. It ends when the server has dropped `ctx`.
///
/// Why polling rather than inotify: the `notify` crate is not among the packages this
/// project may take, and the file checks are two `stat` calls every
/// [`RELOAD_POLL`] on a thread of their own, nowhere near the cores. A change is taken
/// once the files have looked the same for one poll, so a file caught half written is
/// not loaded; one that still does not load keeps the previous configuration.
pub fn watch(ctx: &Arc<TlsContext>, tls: TlsConfig) -> std::io::Result<()> {
    let weak: Weak<TlsContext> = Arc::downgrade(ctx);
    let mut loaded = stamps(&tls);
    let mut seen = loaded.clone();
    std::thread::Builder::new()
        .name("rk-tls-reload".into())
        .spawn(move || loop {
            std::thread::sleep(RELOAD_POLL);
            let Some(ctx) = weak.upgrade() else {
                return;
            };
            let now = stamps(&tls);
            let settled = now == seen;
            seen = now;
            if !settled || seen == loaded {
                continue;
            }
            loaded = seen.clone();
            match handshakes(&tls) {
                Ok(cfg) => {
                    ctx.replace(cfg);
                    tracing::info!(
                        "TLS key and trust stores changed on disk: new handshakes use {} and {}",
                        tls.key_store.location,
                        tls.trust_store.location
                    );
                }
                Err(e) => tracing::error!(
                    "TLS key or trust store changed on disk but does not load; \
                     keeping the previous certificate and trust: {e}"
                ),
            }
        })?;
    Ok(())
}

/// The secure port's TLS configuration, checked at start: an error names the key
/// and the file.
fn handshakes(tls: &TlsConfig) -> Result<Handshakes, String> {
    let (config, verifier) = build(tls, "keyStore", "trustStore")?;
    Ok(Handshakes { config, verifier })
}

/// The AdminServer's HTTPS configuration (`admin.forceHttps`,
/// `admin.portUnification`), checked at start. As ZooKeeper's `JettyAdminServer`: the
/// quorum's stores (`ssl.quorum.keyStore.*`, `ssl.quorum.trustStore.*`), Jetty's
/// protocol defaults, and a client certificate asked for only with
/// `admin.needClientAuth` (checked as the client port checks one, v1 included).
pub fn admin_server_config(admin: &AdminTls) -> Result<Arc<ServerConfig>, String> {
    let tls = TlsConfig {
        addr: None,
        port_unification: false,
        cert_reload: false,
        key_store: admin.key_store.clone(),
        trust_store: admin.trust_store.clone(),
        client_auth: if admin.need_client_auth {
            ClientAuth::Need
        } else {
            ClientAuth::None
        },
        protocol: "TLSv1.3".into(),
        enabled_protocols: None,
        ciphersuites: None,
        x509_super_user: None,
        crl: false,
        ocsp: false,
        handshake_limit: None,
    };
    build(&tls, "quorum.keyStore", "quorum.trustStore").map(|(config, _)| config)
}

/// A rustls configuration from `tls`, whose stores are named `ssl.<key_store>.*`
/// and `ssl.<trust_store>.*` in messages, and its client-certificate verifier.
fn build(
    tls: &TlsConfig,
    key_store: &str,
    trust_store: &str,
) -> Result<(Arc<ServerConfig>, Option<Arc<ChainVerifier>>), String> {
    let provider = Arc::new(provider(tls)?);
    let versions = protocol_versions(tls)?;
    let (certs, key) = load_key_store(&tls.key_store, key_store)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.enabledProtocols / ssl.ciphersuites: {e}"))?;
    let (builder, verifier) = if tls.client_auth == ClientAuth::None {
        (builder.with_no_client_auth(), None)
    } else {
        let anchors = load_trust_store(&tls.trust_store, trust_store)?;
        // With `ssl.ocsp` the revocation check (OCSP, then CRLs) runs after the
        // handshake, off the verifier (see `super::ocsp`).
        let verifier = Arc::new(ChainVerifier::new(
            anchors,
            tls.client_auth == ClientAuth::Need,
            tls.crl && !tls.ocsp,
            provider.signature_verification_algorithms,
        )?);
        (
            builder.with_client_cert_verifier(verifier.clone()),
            Some(verifier),
        )
    };
    let certified = certified_key(tls, key_store, &provider, certs, key)?;
    let cfg = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Ok((Arc::new(cfg), verifier))
}

/// The key store's chain with its key, checked to belong together.
fn certified_key(
    tls: &TlsConfig,
    key_store: &str,
    provider: &CryptoProvider,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::sign::CertifiedKey, String> {
    // Not `with_single_cert`: its key check parses the certificate with webpki, which
    // refuses X.509 v1 (see the module doc); the same SPKI comparison is done here.
    let bad = |what: String| {
        format!(
            "ssl.{key_store}.location={}: {what}",
            tls.key_store.location
        )
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad(format!("the private key is not usable: {e}")))?;
    let leaf =
        parse(&certs[0]).map_err(|e| bad(format!("the certificate does not parse: {e:?}")))?;
    let key_spki = signing
        .public_key()
        .ok_or_else(|| bad("the private key's public half is unknown".into()))?;
    if key_spki.as_ref() != leaf.public_key().raw {
        return Err(bad(
            "the private key does not belong to the certificate".into()
        ));
    }
    Ok(rustls::sign::CertifiedKey::new(certs, signing))
}

/// TLS between ensemble members (`sslQuorum`), as ZooKeeper's `QuorumX509Util` sets it
/// up from the `ssl.quorum.*` keys (`tls` holds them in the client port's shape): the
/// configuration the election, quorum and observer master ports accept with, and the
/// one a member dials its peers with. Both sides present the key store's certificate
/// and check the other's chain against the trust store; whether the certificate names
/// the peer's address is checked after the handshake ([`names_peer`]), as Java's trust
/// manager checks it against the socket's address.
pub fn quorum_configs(
    tls: &TlsConfig,
) -> Result<(Arc<ServerConfig>, Arc<rustls::ClientConfig>), String> {
    let (server, _) = build(tls, "quorum.keyStore", "quorum.trustStore")?;
    let provider = Arc::new(provider(tls)?);
    let versions = protocol_versions(tls)?;
    let anchors = load_trust_store(&tls.trust_store, "quorum.trustStore")?;
    let verifier = Arc::new(ChainVerifier::new(
        anchors,
        true,
        tls.crl,
        provider.signature_verification_algorithms,
    )?);
    let (certs, key) = load_key_store(&tls.key_store, "quorum.keyStore")?;
    let certified = certified_key(tls, "quorum.keyStore", &provider, certs, key)?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.quorum.enabledProtocols / ssl.quorum.ciphersuites: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Ok((server, Arc::new(client)))
}

/// Whether a peer's certificate (DER) is for the address it was reached at or came
/// from, as ZooKeeper's `ZKHostnameVerifier` decides: `ip` among its subjectAltName
/// iPAddress entries, or else one of `names` (the host names that address goes by)
/// among its dNSName entries, or in its subject's CN when it has none. Names compare
/// without case; a `*.` label stands for exactly one label.
pub fn names_peer(cert: &[u8], ip: std::net::IpAddr, names: &[String]) -> bool {
    use x509_parser::extensions::GeneralName;
    let Ok(c) = parse(cert) else {
        return false;
    };
    let san = c.subject_alternative_name().ok().flatten();
    let sans: &[GeneralName<'_>] = san.as_ref().map_or(&[], |e| &e.value.general_names);
    let ip_listed = sans.iter().any(|n| match (n, ip) {
        (GeneralName::IPAddress(b), std::net::IpAddr::V4(v4)) => v4.octets()[..] == b[..],
        (GeneralName::IPAddress(b), std::net::IpAddr::V6(v6)) => {
            v6.octets()[..] == b[..]
                // An IPv4 peer seen through an IPv6 socket as ::ffff:a.b.c.d.
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.octets()[..] == b[..])
        }
        _ => false,
    });
    if ip_listed {
        return true;
    }
    let dns: Vec<&str> = sans
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(*d),
            _ => None,
        })
        .collect();
    let candidates: Vec<&str> = if dns.is_empty() {
        c.subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .collect()
    } else {
        dns
    };
    names.iter().any(|name| {
        candidates
            .iter()
            .any(|pattern| dns_name_matches(pattern, name))
    })
}

/// `pattern` (a certificate's name, maybe `*.example.com`) against a host name.
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

/// ring's provider with the cipher suites `ssl.ciphersuites` names (Java's names,
/// which are IANA's; rustls calls the TLS 1.3 ones `TLS13_*`). Java refuses a name it
/// does not know when the engine is made; here an unknown name is a start error
/// rather than a failure of every handshake.
fn provider(tls: &TlsConfig) -> Result<CryptoProvider, String> {
    // ring rather than aws-lc-rs: no C/cmake build beyond ring's own. rustls marks
    // it deprecated for lacking post-quantum key exchange; TLS 1.3 then agrees on
    // X25519 or a NIST curve, as Java's JSSE (ZooKeeper's) does.
    #[allow(deprecated)]
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(names) = &tls.ciphersuites {
        let mut chosen = Vec::new();
        for name in names {
            let found = p.cipher_suites.iter().find(|s| {
                let ours = s.suite().as_str().unwrap_or("");
                ours == name || ours.strip_prefix("TLS13_") == name.strip_prefix("TLS_")
            });
            match found {
                Some(s) => chosen.push(*s),
                None => {
                    let known: Vec<String> = p
                        .cipher_suites
                        .iter()
                        .filter_map(|s| s.suite().as_str())
                        .map(|n| {
                            n.strip_prefix("TLS13_")
                                .map_or_else(|| n.to_owned(), |r| format!("TLS_{r}"))
                        })
                        .collect();
                    return Err(format!(
                        "ssl.ciphersuites: {name} is not a cipher suite this server has \
                         (it has {})",
                        known.join(", ")
                    ));
                }
            }
        }
        p.cipher_suites = chosen;
    }
    Ok(p)
}

/// `ssl.enabledProtocols`, or from `ssl.protocol` as ZooKeeper derives it: TLSv1.3
/// enables TLSv1.3 and TLSv1.2; anything else enables itself.
fn protocol_versions(
    tls: &TlsConfig,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let (names, key) = match &tls.enabled_protocols {
        Some(v) => (v.clone(), "ssl.enabledProtocols"),
        None if tls.protocol == "TLSv1.3" => {
            (vec!["TLSv1.3".into(), "TLSv1.2".into()], "ssl.protocol")
        }
        None => (vec![tls.protocol.clone()], "ssl.protocol"),
    };
    let mut out = Vec::new();
    for n in &names {
        match n.as_str() {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            // Java's generic names select the newest version it has.
            "TLS" | "TLSv1" | "TLSv1.1" | "SSL" | "SSLv3" if key == "ssl.protocol" => {
                out.push(&rustls::version::TLS13);
                out.push(&rustls::version::TLS12);
            }
            other => {
                return Err(format!(
                    "{key}: {other} is not supported (TLSv1.2 and TLSv1.3 are)"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(format!("{key}: no protocol enabled"));
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

/// `KeyStoreFileType.fromPropertyValueOrFileName`.
fn store_type(store: &StoreConfig, key: &str) -> Result<StoreType, String> {
    if let Some(t) = &store.store_type {
        return match t.to_ascii_uppercase().as_str() {
            "PEM" => Ok(StoreType::Pem),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "JKS" => Ok(StoreType::Jks),
            _ => Err(format!("ssl.{key}.type={t}: expected JKS, PKCS12 or PEM")),
        };
    }
    let loc = &store.location;
    match loc.rfind('.').map(|i| &loc[i..]) {
        Some(".pem") => Ok(StoreType::Pem),
        Some(".p12") => Ok(StoreType::Pkcs12),
        Some(".jks") => Ok(StoreType::Jks),
        _ => Err(format!(
            "ssl.{key}.location={loc}: cannot tell the store type from the file name \
             (.jks, .p12 or .pem); set ssl.{key}.type"
        )),
    }
}

fn read_store(store: &StoreConfig, key: &str) -> Result<(StoreType, Vec<u8>), String> {
    if store.location.is_empty() {
        return Err(format!("ssl.{key}.location is not set (TLS needs it)"));
    }
    let t = store_type(store, key)?;
    let data = std::fs::read(&store.location)
        .map_err(|e| format!("ssl.{key}.location={}: {e}", store.location))?;
    Ok((t, data))
}

type KeyAndChain = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The server's certificate chain and private key.
fn load_key_store(store: &StoreConfig, key: &str) -> Result<KeyAndChain, String> {
    let (t, data) = read_store(store, key)?;
    let loc = &store.location;
    let bad = |what: &str| format!("ssl.{key}.location={loc}: {what}");
    match t {
        StoreType::Pem => {
            let certs = pem_certs(&data).map_err(|e| bad(&e))?;
            let key = pem_private_key(&data, &store.password).map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad("no certificate in it"));
            }
            Ok((certs, key))
        }
        StoreType::Pkcs12 => {
            let ks = open_pkcs12(&data, store, key, p12_keystore::Pkcs12ImportPolicy::Strict)?;
            let (_, chain) = ks
                .private_key_chain()
                .ok_or_else(|| bad("no private key with its certificate in it"))?;
            let certs = ders(chain.certs());
            if certs.is_empty() {
                return Err(bad("the private key has no certificate"));
            }
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok((certs, key))
        }
        StoreType::Jks => {
            let jks =
                super::jks::read(&data, &store.password).map_err(|e| bad(&format!("JKS: {e}")))?;
            let (key, chain) = jks
                .keys
                .into_iter()
                .next()
                .ok_or_else(|| bad("JKS: no private key entry in it"))?;
            if chain.is_empty() {
                return Err(bad("JKS: the private key has no certificate"));
            }
            let certs = chain.into_iter().map(CertificateDer::from).collect();
            Ok((certs, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key))))
        }
    }
}

/// The key of a PEM key store: an `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as
/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it) opened with the store's password,
/// else an unencrypted PKCS#8, PKCS#1 or SEC1 key.
fn pem_private_key(data: &[u8], password: &str) -> Result<PrivateKeyDer<'static>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = String::from_utf8_lossy(data);
    let Some(start) = text.find(BEGIN).map(|i| i + BEGIN.len()) else {
        return PrivateKeyDer::from_pem_slice(data).map_err(|e| {
            format!("no private key (PKCS#8, PKCS#1, SEC1 or encrypted PKCS#8) in it: {e}")
        });
    };
    if password.is_empty() {
        return Err("the private key is encrypted; ssl.keyStore.password is not set".into());
    }
    let len = text[start..]
        .find(END)
        .ok_or("the encrypted private key has no END line")?;
    let b64: String = text[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the encrypted private key is not valid base64: {e}"))?;
    let info = pkcs8::EncryptedPrivateKeyInfoOwned::try_from(der.as_slice())
        .map_err(|e| format!("the encrypted private key does not parse: {e}"))?;
    let plain = info.decrypt(password).map_err(|e| {
        format!("cannot decrypt the private key with ssl.keyStore.password (wrong password?): {e}")
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// The trust store's certificates (the anchors client certificates must chain to).
fn load_trust_store(
    store: &StoreConfig,
    key: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let (t, data) = read_store(store, key)?;
    let loc = &store.location;
    let bad = |what: &str| format!("ssl.{key}.location={loc}: {what}");
    let certs = match t {
        StoreType::Pem => pem_certs(&data).map_err(|e| bad(&e))?,
        StoreType::Pkcs12 => {
            // Relaxed: Java writes trusted certificates without a key next to them.
            let ks = open_pkcs12(&data, store, key, p12_keystore::Pkcs12ImportPolicy::Relaxed)?;
            let mut out = Vec::new();
            for (_, entry) in ks.entries() {
                match entry {
                    p12_keystore::KeyStoreEntry::Certificate(c) => {
                        out.extend(ders(std::slice::from_ref(c)))
                    }
                    p12_keystore::KeyStoreEntry::PrivateKeyChain(ch) => {
                        out.extend(ders(ch.certs()))
                    }
                    p12_keystore::KeyStoreEntry::Secret(_) => {}
                }
            }
            out
        }
        StoreType::Jks => {
            let jks =
                super::jks::read(&data, &store.password).map_err(|e| bad(&format!("JKS: {e}")))?;
            let mut out: Vec<CertificateDer<'static>> =
                jks.trusted.into_iter().map(CertificateDer::from).collect();
            for (_, chain) in jks.keys {
                out.extend(chain.into_iter().map(CertificateDer::from));
            }
            out
        }
    };
    if certs.is_empty() {
        return Err(bad("no certificate in it"));
    }
    for c in &certs {
        X509Certificate::from_der(c)
            .map_err(|e| bad(&format!("a certificate does not parse: {e}")))?;
    }
    Ok(certs)
}

fn open_pkcs12(
    data: &[u8],
    store: &StoreConfig,
    key: &str,
    policy: p12_keystore::Pkcs12ImportPolicy,
) -> Result<p12_keystore::KeyStore, String> {
    p12_keystore::KeyStore::from_pkcs12(data, &store.password, policy).map_err(|e| {
        format!(
            "ssl.{key}.location={}: not a PKCS12 store this password (ssl.{key}.password) \
             opens: {e}",
            store.location
        )
    })
}

fn ders(certs: &[p12_keystore::Certificate]) -> Vec<CertificateDer<'static>> {
    certs
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect()
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|_| CertificateError::BadEncoding)
}

fn pem_certs(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))
}

/// A certificate (DER) and the one that signed it.
type Issued<'a> = (&'a [u8], &'a [u8]);

/// Checks a client's certificate chain against the trust store as Java's PKIX does
/// for what matters here: every signature up to a trust anchor (or the certificate
/// itself in the trust store), every certificate in its validity period, any X.509
/// version.
#[derive(Debug)]
pub struct ChainVerifier {
    anchors: Vec<CertificateDer<'static>>,
    hints: Vec<DistinguishedName>,
    mandatory: bool,
    /// `ssl.crl` without `ssl.ocsp`: every certificate of the chain but the trust
    /// anchor must be shown unrevoked by a CRL (see `super::crl`), in the handshake.
    revocation: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ChainVerifier {
    pub fn new(
        anchors: Vec<CertificateDer<'static>>,
        mandatory: bool,
        revocation: bool,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Result<ChainVerifier, String> {
        let mut hints = Vec::with_capacity(anchors.len());
        for a in &anchors {
            let (_, c) = X509Certificate::from_der(a)
                .map_err(|e| format!("ssl.trustStore: a certificate does not parse: {e}"))?;
            hints.push(DistinguishedName::from(c.subject().as_raw().to_vec()));
        }
        Ok(ChainVerifier {
            anchors,
            hints,
            mandatory,
            revocation,
            algorithms,
        })
    }

    /// The path from `end_entity` to a trust anchor: each certificate below the anchor
    /// with the one that signed it (empty when `end_entity` is itself an anchor).
    fn verify_chain<'a>(
        &'a self,
        end_entity: &'a [u8],
        intermediates: &'a [CertificateDer<'a>],
        now: i64,
    ) -> Result<Vec<Issued<'a>>, CertificateError> {
        let in_period = |c: &X509Certificate<'_>| -> Result<(), CertificateError> {
            let v = c.validity();
            if now < v.not_before.timestamp() {
                Err(CertificateError::NotValidYet)
            } else if now > v.not_after.timestamp() {
                Err(CertificateError::Expired)
            } else {
                Ok(())
            }
        };
        let mut path = Vec::new();
        let mut cur_der: &[u8] = end_entity;
        for _ in 0..=CHAIN_DEPTH_MAX {
            let cur = parse(cur_der)?;
            in_period(&cur)?;
            if self.anchors.iter().any(|a| a.as_ref() == cur_der) {
                return Ok(path);
            }
            let issuer = cur.issuer().as_raw();
            for a in &self.anchors {
                let anchor = parse(a)?;
                if anchor.subject().as_raw() == issuer
                    && cur.verify_signature(Some(anchor.public_key())).is_ok()
                {
                    path.push((cur_der, a.as_ref()));
                    return Ok(path);
                }
            }
            let next = intermediates.iter().find(|i| {
                parse(i).is_ok_and(|c| {
                    c.subject().as_raw() == issuer
                        && cur.verify_signature(Some(c.public_key())).is_ok()
                        // A v3 certificate that says it is no CA signs nothing.
                        && !matches!(c.basic_constraints(), Ok(Some(bc)) if !bc.value.ca)
                })
            });
            match next {
                Some(n) => {
                    path.push((cur_der, n.as_ref()));
                    cur_der = n.as_ref();
                }
                None => return Err(CertificateError::UnknownIssuer),
            }
        }
        Err(CertificateError::UnknownIssuer)
    }

    /// The chain a handshake's verified client certificates (`peer`: the client's
    /// certificate first) make up to the trust anchor, each certificate with its
    /// issuer, for the OCSP check after the handshake.
    pub fn revocation_path(
        &self,
        peer: &[CertificateDer<'_>],
        now: i64,
    ) -> Result<Vec<super::ocsp::Link>, CertificateError> {
        let (leaf, intermediates) = peer.split_first().ok_or(CertificateError::BadEncoding)?;
        let path = self.verify_chain(leaf.as_ref(), intermediates, now)?;
        Ok(path
            .into_iter()
            .map(|(c, i)| (c.to_vec(), i.to_vec()))
            .collect())
    }

    /// The handshake signature, by the algorithm rustls maps `dss.scheme` to whose
    /// key type is the certificate's.
    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadSignature);
        let (_, c) = X509Certificate::from_der(cert)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let spki = c.public_key();
        let alg_id = spki_algorithm(spki.raw).ok_or_else(bad)?;
        let key = spki.subject_public_key.data.as_ref();
        let algs = self
            .algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == dss.scheme)
            .map(|(_, a)| *a)
            .ok_or_else(bad)?;
        for alg in algs {
            if alg.public_key_alg_id().as_ref() == alg_id {
                return alg
                    .verify_signature(key, message, dss.signature())
                    .map(|()| HandshakeSignatureValid::assertion())
                    .map_err(|_| bad());
            }
        }
        Err(bad())
    }
}

impl ClientCertVerifier for ChainVerifier {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let path = self
            .verify_chain(end_entity, intermediates, now)
            .map_err(rustls::Error::InvalidCertificate)?;
        if self.revocation {
            for (cert, issuer) in path {
                super::crl::check(cert, issuer, now).map_err(rustls::Error::InvalidCertificate)?;
            }
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ChainVerifier {
    fn verify_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 forbids PKCS#1 v1.5 and SHA-1 in handshake signatures.
        use SignatureScheme as S;
        if matches!(
            dss.scheme,
            S::RSA_PKCS1_SHA1
                | S::RSA_PKCS1_SHA256
                | S::RSA_PKCS1_SHA384
                | S::RSA_PKCS1_SHA512
                | S::ECDSA_SHA1_Legacy
        ) {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        self.verify_signature(message, cert, dss)
    }
}

/// A member dialling a peer (`sslQuorum`) checks the peer's chain as the ports check a
/// dialler's. The name it dialled is checked after the handshake (see
/// [`quorum_configs`]), so the name rustls passes here is not looked at.
impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_client_cert(end_entity, intermediates, now)
            .map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The contents of a SubjectPublicKeyInfo's AlgorithmIdentifier (what rustls's
/// algorithms name their key type by): SEQUENCE { SEQUENCE { here }, BIT STRING }.
fn spki_algorithm(spki: &[u8]) -> Option<&[u8]> {
    let (tag, outer) = der_element(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, inner) = der_element(outer)?;
    (tag == 0x30).then_some(inner)
}

/// The tag and contents of the DER element at the start of `b`.
pub(super) fn der_element(b: &[u8]) -> Option<(u8, &[u8])> {
    der_split(b).map(|(t, c, _)| (t, c))
}

/// The tag and contents of the DER element at the start of `b`, and what follows it.
pub(super) fn der_split(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = start.checked_add(len)?;
    Some((tag, b.get(start..end)?, b.get(end..)?))
}

/// The auth ids a verified client certificate gives its connection, as ZooKeeper's
/// `X509AuthenticationProvider` does: `x509:<subject DN>`, and `super` first when the
/// DN is `X509AuthenticationProvider.superUser`. None without a certificate (an
/// optional one not sent), as ZooKeeper serves such a client unauthenticated.
pub fn auth_ids(peer_certs: Option<&[CertificateDer<'_>]>, super_user: Option<&str>) -> Vec<Id> {
    let Some(leaf) = peer_certs.and_then(|c| c.first()) else {
        return Vec::new();
    };
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return Vec::new();
    };
    let dn = rfc2253(cert.subject());
    let mut ids = Vec::with_capacity(2);
    if super_user == Some(dn.as_str()) {
        ids.push(Id::new("super", &dn));
    }
    ids.push(Id::new("x509", &dn));
    ids
}

/// A name as Java's `X500Principal.getName()` writes it (RFC 2253): the RDNs last
/// first, comma-separated, no spaces; RFC 2253's keywords (CN, C, L, ST, O, OU,
/// STREET, DC, UID) by name, other types as dotted OIDs with the value as `#` and
/// the hex of its DER encoding; special characters escaped with `\`.
pub fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let keyword = match oid.as_str() {
                        "2.5.4.3" => Some("CN"),
                        "2.5.4.6" => Some("C"),
                        "2.5.4.7" => Some("L"),
                        "2.5.4.8" => Some("ST"),
                        "2.5.4.10" => Some("O"),
                        "2.5.4.11" => Some("OU"),
                        "2.5.4.9" => Some("STREET"),
                        "0.9.2342.19200300.100.1.25" => Some("DC"),
                        "0.9.2342.19200300.100.1.1" => Some("UID"),
                        _ => None,
                    };
                    let value = atv.attr_value();
                    match (keyword, value.as_any_str()) {
                        (Some(k), Ok(s)) => format!("{k}={}", escape_rfc2253(&s)),
                        (k, _) => {
                            let mut der = Vec::with_capacity(value.data.len() + 4);
                            der.push(value.header.tag().0 as u8);
                            let len = value.data.len();
                            if len < 0x80 {
                                der.push(len as u8);
                            } else {
                                let bytes = len.to_be_bytes();
                                let skip = bytes.iter().take_while(|b| **b == 0).count();
                                der.push(0x80 | (bytes.len() - skip) as u8);
                                der.extend_from_slice(&bytes[skip..]);
                            }
                            der.extend_from_slice(value.data);
                            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
                            format!("{}=#{hex}", k.map_or(oid, str::to_owned))
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn escape_rfc2253(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let n = s.chars().count();
    for (i, c) in s.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_name_matches_a_host_as_zookeeper_matches_it() {
        assert!(dns_name_matches("zk1.example.com", "ZK1.Example.com"));
        assert!(dns_name_matches("zk1.example.com.", "zk1.example.com"));
        assert!(!dns_name_matches("zk1.example.com", "zk2.example.com"));
        // A wildcard stands for one whole label, never for a dot or nothing.
        assert!(dns_name_matches("*.example.com", "zk1.example.com"));
        assert!(!dns_name_matches("*.example.com", "a.zk1.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", ".example.com"));
    }

    fn store(location: &str, t: Option<&str>) -> StoreConfig {
        StoreConfig {
            location: location.into(),
            store_type: t.map(str::to_owned),
            ..StoreConfig::default()
        }
    }

    #[test]
    fn the_store_type_comes_from_the_key_or_the_file_name() {
        assert_eq!(
            store_type(&store("/a/k.p12", None), "keyStore"),
            Ok(StoreType::Pkcs12)
        );
        assert_eq!(
            store_type(&store("/a/k.pem", None), "keyStore"),
            Ok(StoreType::Pem)
        );
        assert_eq!(
            store_type(&store("/a/k.jks", None), "keyStore"),
            Ok(StoreType::Jks)
        );
        assert_eq!(
            store_type(&store("/a/k.jks", Some("pem")), "keyStore"),
            Ok(StoreType::Pem)
        );
        let e = store_type(&store("/a/k.key", None), "trustStore").expect_err("no type");
        assert!(e.contains("ssl.trustStore.type"), "{e}");
        let e = read_store(&store("/a/k.jks", None), "keyStore").expect_err("no file");
        assert!(e.contains("ssl.keyStore.location=/a/k.jks"), "{e}");
    }

    #[test]
    fn the_admin_server_stores_are_named_by_their_quorum_keys() {
        let admin = AdminTls {
            force_https: true,
            need_client_auth: true,
            key_store: store("/nowhere/k.pem", None),
            trust_store: store("/nowhere/t.pem", None),
        };
        let e = admin_server_config(&admin).expect_err("no key store");
        assert!(
            e.starts_with("ssl.quorum.keyStore.location=/nowhere/k.pem: "),
            "{e}"
        );
        let e = admin_server_config(&AdminTls {
            key_store: store("", None),
            ..admin
        })
        .expect_err("no key store");
        assert!(e.contains("ssl.quorum.keyStore.location is not set"), "{e}");
    }

    #[test]
    fn rfc2253_escapes_what_java_escapes() {
        assert_eq!(escape_rfc2253("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc2253("#x "), "\\#x\\ ");
        assert_eq!(escape_rfc2253("plain name"), "plain name");
    }

    #[test]
    fn der_elements_are_walked_with_long_lengths_and_bounds() {
        assert_eq!(der_element(&[0x30, 0x01, 0x05]), Some((0x30, &[0x05][..])));
        assert_eq!(
            der_element(&[0x30, 0x81, 0x01, 0x07]),
            Some((0x30, &[0x07][..]))
        );
        assert_eq!(der_element(&[0x30, 0x05, 0x01]), None);
        assert_eq!(der_element(&[0x30, 0x89]), None);
    }
}

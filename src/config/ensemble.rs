//! The ensemble part of a `zoo.cfg`, read as ZooKeeper's `QuorumPeerConfig` reads it:
//! the `server.N=` lines, `myid` in `dataDir`, and the settings of the election and
//! quorum ports. [`Config`](super::Config) still refuses to *serve* an ensemble (the
//! write path does not replicate yet); this type is what the election driver and,
//! later, the replicated server start from.
//!
//! ```text
//! server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]
//! ```
//!
//! Hosts are kept as written (IPv6 without brackets); the driver resolves them when it
//! connects, as Java does. Several addresses per server (`|`, `multiAddress.enabled`)
//! are refused with a message, not half-read.

use std::path::{Path, PathBuf};

use super::{settings_of, ConfigError, Setting, TlsConfig, TlsKeys, QUORUM_TLS_KEYS};
use crate::zab::quorum::{QuorumMaj, QuorumServer};
use crate::zab::vote::LearnerType;
use crate::zab::Sid;

/// `cnxTimeout` unless set: how long connecting to a peer's election port may take.
pub const CNX_TIMEOUT_MS_DEFAULT: u64 = 5000;
/// `zookeeper.electionPortBindRetry` unless set: binds tried before giving up.
pub const ELECTION_PORT_BIND_RETRY_DEFAULT: u32 = 3;

/// An ensemble's configuration as one member sees it.
#[derive(Debug, Clone)]
pub struct QuorumConfig {
    /// This server's id (`dataDir/myid`).
    pub myid: Sid,
    /// Every `server.N` line, in sid order.
    pub servers: Vec<QuorumServer>,
    pub data_dir: PathBuf,
    pub tick_time_ms: u64,
    /// `initLimit`, in ticks.
    pub init_limit: u64,
    /// `syncLimit`, in ticks.
    pub sync_limit: u64,
    /// `cnxTimeout` in ms: connecting to a peer's election port.
    pub cnx_timeout_ms: u64,
    /// `quorumCnxnTimeoutMs`: reading a peer's initial message; `None`: tickTime ×
    /// syncLimit, as Java.
    pub handshake_timeout_ms: Option<u64>,
    /// `quorumListenOnAllIPs`: bind the election port on the wildcard address.
    pub listen_on_all_ips: bool,
    /// `electionPortBindRetry`: binds tried, one second apart; 0 = forever.
    pub election_port_bind_retry: u32,
    /// `observerMasterPort`: a follower serves observers on this port (on its quorum
    /// address), and an observer syncs from a follower there instead of the leader.
    pub observer_master_port: Option<u16>,
    /// `sslQuorum=true` or `portUnification=true`: TLS on the election, quorum and
    /// observer master ports (see [`QuorumTls`]); `None`: plaintext only.
    pub tls: Option<QuorumTls>,
    /// What was accepted but differs from the file (`peerType` against the server
    /// list), for the caller to log.
    pub warnings: Vec<String>,
}

/// The quorum's TLS, ZooKeeper's `ssl.quorum.*` keys (`QuorumX509Util`), as read; the
/// stores are loaded (and checked) when the ensemble starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTls {
    /// `ssl.quorum.keyStore.*`, `ssl.quorum.trustStore.*`, `ssl.quorum.protocol`,
    /// `ssl.quorum.enabledProtocols`, `ssl.quorum.ciphersuites`,
    /// `ssl.quorum.clientAuth` and `ssl.quorum.crl`, in the client port's shape.
    pub tls: TlsConfig,
    /// `ssl.quorum.hostnameVerification` (default true): a peer's certificate must
    /// name its address or its member host name.
    pub hostname_verification: bool,
    /// `sslQuorum`: connections this member opens to its peers start with TLS;
    /// without it (under `portUnification` alone) they are plaintext.
    pub dial_tls: bool,
    /// `portUnification`: the member's ports also take plaintext connections (a
    /// connection's first byte tells), as ZooKeeper's `UnifiedServerSocket` does for
    /// switching an ensemble to or from quorum TLS with rolling restarts.
    pub accept_plaintext: bool,
}

impl QuorumConfig {
    /// Reads the ensemble from a `zoo.cfg` (and its `dynamicConfigFile`), then `props`
    /// (`key=value`, as `-D`), which win; `myid` comes from `dataDir/myid`. A file
    /// without server lines is an error: there is no ensemble to take part in.
    pub fn load(path: &Path, props: &[String]) -> Result<QuorumConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path.display().to_string();
        let mut settings = settings_of(&text, &name);
        settings.extend(props.iter().map(|p| Setting::from_flag(p)));
        let data_dir = settings
            .iter()
            .rev()
            .find(|s| unprefixed(&s.key) == "dataDir")
            .map(|s| PathBuf::from(&s.value))
            .ok_or_else(|| ConfigError::Invalid(format!("{name}: dataDir is not set")))?;
        let myid_path = data_dir.join("myid");
        let myid_text = std::fs::read_to_string(&myid_path).map_err(|e| {
            ConfigError::Invalid(format!(
                "{}: cannot read myid, which an ensemble member needs: {e}",
                myid_path.display()
            ))
        })?;
        let myid = parse_myid(&myid_text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{}: {:?} is not a server id",
                myid_path.display(),
                myid_text.trim()
            ))
        })?;
        QuorumConfig::from_settings(&name, settings, myid, data_dir)
    }

    /// Parses the text of a `zoo.cfg` for server `myid` (tests, and callers that know
    /// the id another way).
    pub fn parse(text: &str, file: &str, myid: Sid) -> Result<QuorumConfig, ConfigError> {
        let settings = settings_of(text, file);
        let data_dir = settings
            .iter()
            .rev()
            .find(|s| unprefixed(&s.key) == "dataDir")
            .map_or_else(PathBuf::new, |s| PathBuf::from(&s.value));
        QuorumConfig::from_settings(file, settings, myid, data_dir)
    }

    fn from_settings(
        file: &str,
        settings: Vec<Setting>,
        myid: Sid,
        data_dir: PathBuf,
    ) -> Result<QuorumConfig, ConfigError> {
        let mut cfg = QuorumConfig {
            myid,
            servers: Vec::new(),
            data_dir,
            tick_time_ms: u64::from(super::TICK_TIME_MS_DEFAULT),
            init_limit: 0,
            sync_limit: 0,
            cnx_timeout_ms: CNX_TIMEOUT_MS_DEFAULT,
            handshake_timeout_ms: None,
            listen_on_all_ips: false,
            election_port_bind_retry: ELECTION_PORT_BIND_RETRY_DEFAULT,
            observer_master_port: None,
            tls: None,
            warnings: Vec::new(),
        };
        let mut ssl_quorum = false;
        let mut port_unification = false;
        let mut hostname_verification = true;
        let mut quorum_keys = TlsKeys::default();
        let mut peer_type: Option<(String, LearnerType)> = None;
        let mut lines = settings;
        let mut i = 0;
        while i < lines.len() {
            let Setting { at, key, value } = lines[i].clone();
            i += 1;
            let key = unprefixed(&key);
            let bad = |reason: &str| ConfigError::BadValue {
                file: at.clone(),
                key: key.to_owned(),
                reason: reason.to_owned(),
            };
            let positive = |v: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("not a positive integer"))
            };
            match key {
                "tickTime" => cfg.tick_time_ms = positive(&value)?,
                "initLimit" => cfg.init_limit = positive(&value)?,
                "syncLimit" => cfg.sync_limit = positive(&value)?,
                "cnxTimeout" => cfg.cnx_timeout_ms = positive(&value)?,
                "quorumCnxnTimeoutMs" => cfg.handshake_timeout_ms = Some(positive(&value)?),
                "quorumListenOnAllIPs" => {
                    cfg.listen_on_all_ips = value.eq_ignore_ascii_case("true")
                }
                "electionPortBindRetry" => {
                    cfg.election_port_bind_retry = value
                        .parse()
                        .map_err(|_| bad("not a count (0 = forever)"))?
                }
                // ZooKeeper reads it as an int; 0 or less leaves observer masters off.
                "observerMasterPort" => {
                    let port: i64 = value.trim().parse().map_err(|_| bad("not a port number"))?;
                    cfg.observer_master_port = match port {
                        ..=0 => None,
                        1..=65535 => Some(port as u16),
                        _ => return Err(bad("not a port number")),
                    };
                }
                // `Boolean.parseBoolean`, as ZooKeeper reads both.
                "sslQuorum" => ssl_quorum = value.trim().eq_ignore_ascii_case("true"),
                "portUnification" => port_unification = value.trim().eq_ignore_ascii_case("true"),
                "ssl.quorum.hostnameVerification" => {
                    hostname_verification = value.trim().eq_ignore_ascii_case("true")
                }
                k if k.strip_prefix("ssl.quorum.").is_some_and(|rest| {
                    ["keyStore.", "trustStore."]
                        .iter()
                        .any(|p| rest.starts_with(p))
                        || QUORUM_TLS_KEYS.contains(&rest)
                }) =>
                {
                    // The client port's reader, under the client port's names.
                    let client_key = format!("ssl.{}", &k["ssl.quorum.".len()..]);
                    quorum_keys.take(&client_key, &value).map_err(|r| bad(&r))?;
                }
                "electionAlg" => {
                    if value.trim() != "3" {
                        return Err(bad("only electionAlg=3 (fast leader election) exists"));
                    }
                }
                "peerType" => {
                    let t = match value.to_ascii_lowercase().as_str() {
                        "observer" => LearnerType::Observer,
                        "participant" => LearnerType::Participant,
                        _ => return Err(bad("expected observer or participant")),
                    };
                    peer_type = Some((at.clone(), t));
                }
                "dynamicConfigFile" => {
                    let text = std::fs::read_to_string(&value).map_err(|e| {
                        bad(&format!("cannot read the dynamic config file {value}: {e}"))
                    })?;
                    // Its server lines count as if written here.
                    let more = settings_of(&text, &value)
                        .into_iter()
                        .filter(|s| server_id(&s.key).is_some());
                    lines.splice(i..i, more);
                }
                k => {
                    if let Some(id) = server_id(k) {
                        let id = id.ok_or_else(|| bad("the server id is not a number"))?;
                        cfg.servers.retain(|s| s.id != id);
                        cfg.servers
                            .push(parse_server(id, &value).map_err(|r| bad(&r))?);
                    }
                }
            }
        }
        cfg.servers.sort_by_key(|s| s.id);
        let Some(me) = cfg.servers.iter().find(|s| s.id == myid) else {
            return Err(ConfigError::Invalid(format!(
                "{file}: myid {myid} is not in the server list ({})",
                cfg.servers
                    .iter()
                    .map(|s| format!("server.{}", s.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if let Some((at, t)) = peer_type {
            if t != me.learner_type {
                cfg.warnings.push(format!(
                    "{at}: peerType does not match server.{myid}'s type; using the server \
                     list's, as ZooKeeper does"
                ));
            }
        }
        // QuorumPeerConfig refuses an ensemble without these.
        if cfg.init_limit == 0 {
            return Err(ConfigError::Invalid(format!(
                "{file}: initLimit is not set"
            )));
        }
        if cfg.sync_limit == 0 {
            return Err(ConfigError::Invalid(format!(
                "{file}: syncLimit is not set"
            )));
        }
        cfg.quorum()
            .map_err(|e| ConfigError::Invalid(format!("{file}: {e}")))?;
        // Under portUnification alone a member dials in plaintext; it takes TLS from
        // the peers that dial with it only if it has a key store to answer with.
        let tls = quorum_keys.into_config(None);
        if ssl_quorum || (port_unification && !tls.key_store.location.is_empty()) {
            cfg.tls = Some(QuorumTls {
                tls,
                hostname_verification,
                dial_tls: ssl_quorum,
                accept_plaintext: port_unification,
            });
        } else if port_unification {
            cfg.warnings.push(format!(
                "{file}: portUnification without ssl.quorum.keyStore.location: the \
                 election and quorum ports take plaintext connections only"
            ));
        }
        Ok(cfg)
    }

    /// The member set and its majority rule (version 0: no dynamic reconfiguration).
    pub fn quorum(&self) -> Result<QuorumMaj, crate::zab::quorum::QuorumError> {
        QuorumMaj::new(self.servers.clone(), 0)
    }

    /// This server's own line.
    pub fn me(&self) -> Option<&QuorumServer> {
        self.servers.iter().find(|s| s.id == self.myid)
    }

    /// How long an initial message may take to arrive (`quorumCnxnTimeoutMs`, else
    /// tickTime × syncLimit).
    pub fn handshake_timeout_ms(&self) -> u64 {
        self.handshake_timeout_ms
            .unwrap_or(self.tick_time_ms.saturating_mul(self.sync_limit))
    }
}

fn unprefixed(key: &str) -> &str {
    key.strip_prefix("zookeeper.").unwrap_or(key)
}

/// `Some(Some(id))` for `server.<id>`, `Some(None)` for `server.<not a number>`.
fn server_id(key: &str) -> Option<Option<Sid>> {
    let rest = key.strip_prefix("server.")?;
    Some(rest.parse::<Sid>().ok())
}

/// The first line of `myid`, as `QuorumPeerConfig` reads it (surrounding blanks
/// allowed).
fn parse_myid(text: &str) -> Option<Sid> {
    text.lines().next()?.trim().parse().ok()
}

/// `QuorumServer(long, String)`: `host:quorumPort:electionPort[:type][;client]`.
fn parse_server(id: Sid, value: &str) -> Result<QuorumServer, String> {
    let parts: Vec<&str> = value.split(';').collect();
    if parts.len() > 2 {
        return Err(format!("{value:?} has more than one ';'"));
    }
    let client = match parts.get(1) {
        None => None,
        Some(c) => {
            let (host, port) = match split_host_and_ports(c)?.as_slice() {
                [port] => ("0.0.0.0".to_owned(), port.to_string()),
                [host, port] => (host.to_string(), port.to_string()),
                _ => return Err(format!("client address {c:?} is not [host:]port")),
            };
            Some((host, parse_port(&port)?))
        }
    };
    let address = parts.first().copied().unwrap_or("");
    if address.contains('|') {
        return Err("several addresses per server (multiAddress) are not supported".into());
    }
    let fields = split_host_and_ports(address)?;
    let (host, quorum, election, kind) = match fields.as_slice() {
        [h, q, e] => (h, q, e, None),
        [h, q, e, t] => (h, q, e, Some(t)),
        _ => {
            return Err(format!(
                "{address:?} is not host:quorumPort:electionPort[:participant|observer]"
            ))
        }
    };
    let learner_type = match kind.map(|t| t.to_ascii_lowercase()) {
        None => LearnerType::Participant,
        Some(t) if t == "participant" => LearnerType::Participant,
        Some(t) if t == "observer" => LearnerType::Observer,
        Some(t) => return Err(format!("unknown peer type {t:?}")),
    };
    Ok(QuorumServer {
        id,
        host: host.to_string(),
        quorum_port: parse_port(quorum)?,
        election_port: parse_port(election)?,
        learner_type,
        client,
    })
}

/// `ConfigUtils.getHostAndPort`: `:`-separated fields, the first one possibly an IPv6
/// literal in brackets.
fn split_host_and_ports(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("{s:?}: '[' without ']'"))?;
        let mut out = vec![rest[..close].to_owned()];
        let after = &rest[close + 1..];
        if !after.is_empty() {
            let tail = after
                .strip_prefix(':')
                .ok_or_else(|| format!("{s:?}: expected ':' after ']'"))?;
            out.extend(tail.split(':').map(str::to_owned));
        }
        return Ok(out);
    }
    Ok(s.split(':').map(str::to_owned).collect())
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("{s:?} is not a port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = "tickTime=200\ninitLimit=5\nsyncLimit=2\ndataDir=/d\nclientPort=2181\n\
                         server.1=127.0.0.1:2888:3888\n\
                         server.2=127.0.0.2:2889:3889:participant;2182\n\
                         server.3=[::1]:2890:3890:observer;127.0.0.1:2183\n\
                         cnxTimeout=700\nelectionAlg=3\nquorumListenOnAllIPs=true\n";

    #[test]
    fn observer_master_port_is_read_as_zookeeper_reads_it() {
        let cfg = QuorumConfig::parse(THREE, "zoo.cfg", 2).expect("parses");
        assert_eq!(cfg.observer_master_port, None);
        let with = |v: &str| {
            QuorumConfig::parse(&format!("{THREE}observerMasterPort={v}\n"), "zoo.cfg", 2)
        };
        assert_eq!(
            with("2191").expect("parses").observer_master_port,
            Some(2191)
        );
        // Zero or less: off, as ZooKeeper's `observerMasterPort <= 0`.
        assert_eq!(with("0").expect("parses").observer_master_port, None);
        assert_eq!(with("-1").expect("parses").observer_master_port, None);
        for bad in ["70000", "port"] {
            assert!(with(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ssl_quorum_reads_the_quorum_keys_as_zookeeper_names_them() {
        let cfg = QuorumConfig::parse(THREE, "zoo.cfg", 2).expect("parses");
        assert_eq!(cfg.tls, None);
        // The keys alone turn nothing on: sslQuorum does.
        let keys = "ssl.quorum.keyStore.location=/k.pem\nssl.quorum.keyStore.password=kp\n\
                    zookeeper.ssl.quorum.trustStore.location=/t.jks\n\
                    ssl.quorum.trustStore.password=tp\nssl.quorum.protocol=TLSv1.2\n\
                    ssl.quorum.clientAuth=want\nssl.keyStore.location=/client-port.pem\n";
        let without = QuorumConfig::parse(&format!("{THREE}{keys}"), "zoo.cfg", 2).expect("parses");
        assert_eq!(without.tls, None);
        let cfg = QuorumConfig::parse(&format!("{THREE}{keys}sslQuorum=true\n"), "zoo.cfg", 2)
            .expect("parses");
        let q = cfg.tls.expect("sslQuorum=true");
        assert!(q.hostname_verification, "Java's default");
        assert_eq!(q.tls.key_store.location, "/k.pem");
        assert_eq!(q.tls.key_store.password, "kp");
        assert_eq!(q.tls.trust_store.location, "/t.jks");
        assert_eq!(q.tls.trust_store.password, "tp");
        assert_eq!(q.tls.protocol, "TLSv1.2");
        assert_eq!(q.tls.client_auth, super::super::ClientAuth::Want);
        let off = QuorumConfig::parse(
            &format!("{THREE}sslQuorum=true\nssl.quorum.hostnameVerification=false\n"),
            "zoo.cfg",
            2,
        )
        .expect("parses");
        let q = off.tls.expect("sslQuorum=true");
        assert!(!q.hostname_verification);
        assert_eq!(
            q.tls.client_auth,
            super::super::ClientAuth::Need,
            "Java's default"
        );
        assert_eq!(q.tls.protocol, "TLSv1.3");
        assert!(q.dial_tls && !q.accept_plaintext);
        // portUnification: both kinds taken; TLS dialled only with sslQuorum.
        let unified = |more: &str| {
            QuorumConfig::parse(
                &format!("{THREE}{keys}portUnification=true\n{more}"),
                "zoo.cfg",
                2,
            )
            .expect("parses")
            .tls
            .expect("portUnification with a key store")
        };
        let q = unified("");
        assert!(!q.dial_tls && q.accept_plaintext);
        let q = unified("sslQuorum=true\n");
        assert!(q.dial_tls && q.accept_plaintext);
        let no_store = QuorumConfig::parse(&format!("{THREE}portUnification=true\n"), "zoo.cfg", 2)
            .expect("parses");
        assert_eq!(no_store.tls, None);
        assert!(no_store
            .warnings
            .iter()
            .any(|w| w.contains("plaintext connections only")));
        let bad = QuorumConfig::parse(
            &format!("{THREE}sslQuorum=true\nssl.quorum.clientAuth=sometimes\n"),
            "zoo.cfg",
            2,
        )
        .expect_err("refused")
        .to_string();
        assert!(bad.contains("ssl.quorum.clientAuth"), "{bad}");
    }

    #[test]
    fn reads_server_lines_as_zookeeper_does() {
        let cfg = QuorumConfig::parse(THREE, "zoo.cfg", 2).expect("parses");
        assert_eq!(cfg.myid, 2);
        assert_eq!(cfg.servers.len(), 3);
        let s1 = &cfg.servers[0];
        assert_eq!(
            (s1.host.as_str(), s1.quorum_port, s1.election_port),
            ("127.0.0.1", 2888, 3888)
        );
        assert_eq!(s1.learner_type, LearnerType::Participant);
        assert_eq!(s1.client, None);
        assert_eq!(cfg.servers[1].client, Some(("0.0.0.0".into(), 2182)));
        let s3 = &cfg.servers[2];
        assert_eq!(s3.host, "::1");
        assert_eq!(s3.learner_type, LearnerType::Observer);
        assert_eq!(s3.client, Some(("127.0.0.1".into(), 2183)));
        assert_eq!(
            (cfg.tick_time_ms, cfg.init_limit, cfg.sync_limit),
            (200, 5, 2)
        );
        assert_eq!(cfg.cnx_timeout_ms, 700);
        assert_eq!(cfg.handshake_timeout_ms(), 400);
        assert!(cfg.listen_on_all_ips);
        let q = cfg.quorum().expect("quorum");
        assert_eq!(q.voters().collect::<Vec<_>>(), vec![1, 2]);
        let text = String::from_utf8_lossy(q.text()).into_owned();
        assert!(
            text.contains("server.3=[0:0:0:0:0:0:0:1]:2890:3890:observer;127.0.0.1:2183"),
            "{text}"
        );
    }

    #[test]
    fn bad_ensembles_are_refused_with_where() {
        let err = |text: &str, myid| {
            QuorumConfig::parse(text, "zoo.cfg", myid)
                .expect_err("refused")
                .to_string()
        };
        assert!(err(THREE, 9).contains("myid 9 is not in the server list"));
        let alg = format!("{THREE}electionAlg=0\n");
        assert!(err(&alg, 1).contains("electionAlg"));
        let no_init = THREE.replace("initLimit=5\n", "");
        assert!(err(&no_init, 1).contains("initLimit is not set"));
        let two_ports = format!("{THREE}server.4=h:1\n");
        assert!(
            err(&two_ports, 1).starts_with("zoo.cfg:12: server.4:"),
            "{}",
            err(&two_ports, 1)
        );
        let multi = format!("{THREE}server.4=a:1:2|b:1:2\n");
        assert!(err(&multi, 1).contains("multiAddress"));
        let kind = format!("{THREE}server.4=a:1:2:voter\n");
        assert!(err(&kind, 1).contains("unknown peer type"));
        let port = format!("{THREE}server.4=a:1:70000\n");
        assert!(err(&port, 1).contains("not a port"));
    }

    #[test]
    fn myid_is_read_from_the_data_dir() {
        let dir = std::env::temp_dir().join(format!("rk-ens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let cfg_path = dir.join("zoo.cfg");
        let text = THREE.replace("dataDir=/d", &format!("dataDir={}", dir.display()));
        std::fs::write(&cfg_path, text).expect("write");
        let missing = QuorumConfig::load(&cfg_path, &[]).expect_err("no myid");
        assert!(
            missing.to_string().contains("cannot read myid"),
            "{missing}"
        );
        std::fs::write(dir.join("myid"), " 1\n").expect("write");
        let cfg = QuorumConfig::load(&cfg_path, &["cnxTimeout=900".into()]).expect("loads");
        assert_eq!((cfg.myid, cfg.cnx_timeout_ms), (1, 900));
        std::fs::write(dir.join("myid"), "one\n").expect("write");
        assert!(QuorumConfig::load(&cfg_path, &[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

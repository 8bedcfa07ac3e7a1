//! Server configuration: `zoo.cfg` read as ZooKeeper reads it, plus ringkeeper's own
//! keys, and the embedded default used when no file is given.
//!
//! ZooKeeper passes every key it does not parse itself on as the system property
//! `zookeeper.<key>`, so both `snapCount` and `zookeeper.snapCount` mean the same
//! here. Unknown keys are warned about and ignored, never fatal: an operator's existing
//! `zoo.cfg` must start the server. Keys ZooKeeper knows that ringkeeper accepts but
//! does not honour (quorum TLS, ensemble settings, ...) get a warning naming
//! what is missing.
//!
//! More than one `server.N` line makes the server an ensemble member
//! (`Config::ensemble`); `ensemble` reads the same file's ensemble part
//! (`QuorumConfig`: server lines, `myid`, the election and sync limits).
//!
//! Settings come from the file's lines, then the `-D key=value` flags, which win;
//! every message names where a setting came from (`zoo.cfg:12` or `-D`).

mod ensemble;
pub use ensemble::{
    QuorumConfig, QuorumTls, CNX_TIMEOUT_MS_DEFAULT, ELECTION_PORT_BIND_RETRY_DEFAULT,
};

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::tree::AuthProviders;

/// A configuration that cannot be used; the server refuses to start with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `file` is where the setting was read: `zoo.cfg:12`, or `-D` for a flag.
    #[error("{file}: {key}: {reason}")]
    BadValue {
        file: String,
        key: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Which four-letter words the client port answers (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    All,
    Only(Vec<String>),
}

impl FourLetterWhitelist {
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(words) => words.iter().any(|w| w == word),
        }
    }
}

/// Everything the server needs to start. Times are in milliseconds, sizes in bytes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the client port listens.
    pub client_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The txn log's directory; `data_dir` when not set.
    pub data_log_dir: PathBuf,
    pub tick_time_ms: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// Connections per client IP address; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// Connections to the whole server (`maxCnxns`); 0 = unlimited.
    pub max_cnxns: u32,
    /// The client listener's backlog (`clientPortListenBacklog`); `None`: the default.
    pub listen_backlog: Option<i32>,
    /// Requests queued in the server at once before reads from sockets pause.
    pub global_outstanding_limit: u32,
    pub four_letter_words: FourLetterWhitelist,
    /// TTL nodes need this (ZooKeeper's `extendedTypesEnabled`).
    pub extended_types_enabled: bool,
    /// `digest.enabled` (default true, as in ZooKeeper 3.6+): the tree digest is kept,
    /// a leader sends it in each PROPOSAL and a learner checks it (`tree::digest`).
    pub digest_enabled: bool,
    /// The largest frame accepted from a client (`jute.maxbuffer`).
    pub jute_max_buffer: u32,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: a container that never had a child
    /// is reaped this long after its last change; 0 = never.
    pub container_max_never_used_interval_ms: i64,
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `enforceQuota`: a create or setData past a quota's hard limit answers
    /// QUOTAEXCEEDED, and one past a soft limit is logged.
    pub enforce_quota: bool,
    /// `readonlymode.enabled`: an ensemble member cut off from its quorum serves reads
    /// to clients that allow it.
    pub read_only_mode: bool,
    /// `enforce.auth.enabled` with `enforce.auth.schemes`: the schemes one of which a
    /// connection must have authenticated with before any request but auth is
    /// served; `None` when enforcement is off.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// Session cores (ringkeeper's own key `cores`).
    pub session_cores: usize,
    /// Whether the quorum core has a thread of its own (ringkeeper's own `quorumCore`).
    pub quorum_core: QuorumCore,
    /// ringkeeper's own `syncInline`: `None` = `auto`; see `SyncInline`.
    pub sync_inline: Option<bool>,
    /// The server id (`myid`); 0 for a standalone server without one.
    pub server_id: u64,
    /// Txns between snapshots (`snapCount`); each interval is drawn at random from
    /// [snapCount/2 + 1, snapCount] as ZooKeeper does, so servers do not snapshot together.
    pub snap_count: u64,
    /// Size of a new txn log segment in bytes (`preAllocSize` is in KiB).
    pub prealloc_bytes: u64,
    /// `forceSync`: fsync the log before acknowledging. `no` is unsafe: an
    /// acknowledged write can be lost in a power failure.
    pub force_sync: bool,
    /// More than one `server.N` line (and no `forceStandalone`): this server is an
    /// ensemble member, whose ensemble part `QuorumConfig` reads.
    pub ensemble: bool,
    /// A log sync slower than this is logged (`fsync.warningthresholdms`).
    pub fsync_warning_threshold_ms: u64,
    /// `zookeeper.snapshotSizeFactor`: a leader syncs a learner below its in-memory
    /// window from the on-disk log while the log to send is at most this fraction of the
    /// newest snapshot's size (no snapshot: no limit); negative turns it off (SNAP).
    pub snapshot_size_factor: f64,
    /// Snapshots (and the log needed to replay them) kept by purging.
    pub snap_retain_count: usize,
    /// Hours between purges; 0 turns purging off (ZooKeeper's default).
    pub purge_interval_hours: u64,
    /// Where the Prometheus endpoint listens (`metricsProvider.httpHost`/`httpPort`);
    /// `None` = off, as in ZooKeeper without a metrics provider.
    pub metrics_addr: Option<SocketAddr>,
    /// The AdminServer (`admin.*`); `None` when `admin.enableServer` is not `true`.
    pub admin: Option<AdminConfig>,
    /// TLS on `secureClientPort` and/or on the client port (`client.portUnification`),
    /// from the `ssl.*` keys; `None` when neither is asked for.
    pub tls: Option<TlsConfig>,
    /// SASL on the client port: the JAAS login section and the `sasl` scheme's keys.
    pub sasl: SaslConfig,
    /// `clientPort` is set: the plaintext client port is served. A zoo.cfg with only
    /// `secureClientPort` serves TLS clients only; `client_addr` is then unused.
    pub plaintext_port: bool,
    /// The auth schemes with a provider (ZooKeeper's `ProviderRegistry`): `ip`;
    /// `digest` unless `DigestAuthenticationProvider.enabled=false`; `x509` when TLS
    /// serves clients or by `authProvider.N`; `sasl` by `authProvider.N` only; and
    /// `letAnySaslUserDoX`.
    pub auth_providers: AuthProviders,
    /// The configuration file's text as read (the AdminServer's
    /// `initial_configuration`); empty without a file.
    pub initial_config: String,
    /// Group commit bounds (ringkeeper's own `commitBatchMaxTxns`,
    /// `commitBatchMaxBytes`): a batch (one log sync) closes when the queue is empty
    /// or either bound is reached.
    pub commit_batch_max_txns: usize,
    pub commit_batch_max_bytes: u64,
    /// ringkeeper's own `spinBeforeParkUs`: how long an idle core polls its rings
    /// before it sleeps in the kernel (glommio `spin_before_park`); 0 = sleep at once.
    pub spin_before_park_us: u64,
    /// Keys as read, for the `conf` four-letter word.
    pub raw: BTreeMap<String, String>,
    /// What the server must say at start about the settings: keys read but not
    /// honoured, unknown keys, values adjusted. Logged as warnings by `server::run`.
    pub warnings: Vec<String>,
}

/// The AdminServer's settings, ZooKeeper's `admin.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.serverAddress`:`admin.serverPort`.
    pub addr: SocketAddr,
    /// `admin.commandURL`: where the commands are served (`/commands`).
    pub command_url: String,
    /// `admin.idleTimeout`: how long a connection may sit without sending a request.
    pub idle_timeout_ms: u64,
    /// HTTPS (`admin.forceHttps` or `admin.portUnification`); `None`: plain HTTP.
    pub tls: Option<AdminTls>,
    /// `admin.snapshot.enabled` (ZooKeeper 3.9; default true): the `snapshot` command.
    pub snapshot_enabled: bool,
    /// `admin.restore.enabled` (ZooKeeper 3.9; default true): the `restore` command.
    pub restore_enabled: bool,
    /// `admin.rateLimiterIntervalInMS` (ZooKeeper 3.9; 5 minutes): `snapshot` and
    /// `restore` each run at most once per interval.
    pub rate_limit_interval_ms: u64,
    /// `serializeLastProcessedZxid.enabled` (ZooKeeper 3.9; default true): with it
    /// off, 3.9 answers `snapshot` and `restore` with 500, as they need the zxid in
    /// the snapshot. Nothing else reads it here: ringkeeper's own snapshots name
    /// their zxid.
    pub serialize_last_processed_zxid: bool,
}

/// ZooKeeper 3.9's `admin.rateLimiterIntervalInMS` default: 5 minutes.
pub const ADMIN_RATE_LIMIT_INTERVAL_MS_DEFAULT: u64 = 300_000;

/// The AdminServer's HTTPS, as ZooKeeper's `JettyAdminServer` sets it up: the key and
/// trust stores are the quorum's (`ssl.quorum.keyStore.*`, `ssl.quorum.trustStore.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// `admin.forceHttps`: HTTPS only. Otherwise (`admin.portUnification`) a
    /// connection's first byte chooses HTTPS or plain HTTP.
    pub force_https: bool,
    /// `admin.needClientAuth` (ZooKeeper 3.9): a client certificate that chains to
    /// the trust store is required.
    pub need_client_auth: bool,
    pub key_store: StoreConfig,
    pub trust_store: StoreConfig,
}

/// The secure client port's settings: ZooKeeper's `secureClientPort`,
/// `secureClientPortAddress` and its client-side `ssl.*` keys (`ClientX509Util`), as
/// read; the files are loaded (and checked) by the server's TLS layer at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `secureClientPortAddress`:`secureClientPort`; `None` without a secure port (TLS
    /// then only through `client.portUnification`).
    pub addr: Option<SocketAddr>,
    /// `client.portUnification`: the plaintext client port also takes TLS clients.
    pub port_unification: bool,
    /// `client.certReload` (ZooKeeper 3.9's `zookeeper.client.certReload`): new
    /// handshakes use the key and trust stores as they are on disk now.
    pub cert_reload: bool,
    /// `ssl.keyStore.*`: the server's certificate and key.
    pub key_store: StoreConfig,
    /// `ssl.trustStore.*`: the CAs client certificates are checked against.
    pub trust_store: StoreConfig,
    /// `ssl.clientAuth`: `need` (ZooKeeper's default), `want` or `none`.
    pub client_auth: ClientAuth,
    /// `ssl.protocol` (default TLSv1.3, whose enabled set is TLSv1.3 and TLSv1.2).
    pub protocol: String,
    /// `ssl.enabledProtocols`; `None`: from `protocol`.
    pub enabled_protocols: Option<Vec<String>>,
    /// `ssl.ciphersuites` (Java/IANA names); `None`: the TLS library's defaults.
    pub ciphersuites: Option<Vec<String>>,
    /// `X509AuthenticationProvider.superUser`: the subject DN that is `super`.
    pub x509_super_user: Option<String>,
    /// `ssl.crl`: client certificates are checked against the CRLs their distribution
    /// points name (Java's PKIX revocation checking with `com.sun.security.enableCRLDP`).
    pub crl: bool,
    /// `ssl.ocsp`: client certificates are checked with OCSP (Java's `ocsp.enable`),
    /// falling back to the CRLs as with `ssl.crl` (see `server::ocsp`).
    pub ocsp: bool,
    /// `netty.server.outstandingHandshake.limit` (ZooKeeper's
    /// `zookeeper.netty.server.outstandingHandshake.limit`): a TLS connection that
    /// would make more handshakes than this under way is closed; `None` (the default,
    /// or a value below 1): no limit.
    pub handshake_limit: Option<u32>,
}

/// SASL (DIGEST-MD5) settings, as ZooKeeper's server reads them from its system
/// properties: the JAAS file `java.security.auth.login.config` (also a zoo.cfg key
/// here, or `-Djava.security.auth.login.config=` in `SERVER_JVMFLAGS`/`JVMFLAGS`), its
/// section `zookeeper.sasl.serverconfig` (default `Server`), the provider
/// `authProvider.N=...SASLAuthenticationProvider`, `zookeeper.superUser`,
/// `zookeeper.SASLAuthenticationProvider.superPassword` and
/// `zookeeper.allowSaslFailedClients`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslConfig {
    /// `authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider`:
    /// the `sasl` scheme is available to `enforce.auth.schemes`.
    pub provider: bool,
    /// The JAAS file and the users of its server section; `None` without a file or
    /// without that section (SASL requests then fail as in ZooKeeper without a login).
    pub login: Option<SaslLogin>,
    /// `superUser` (and `superUser.*`): SASL users that are also `super`.
    pub super_users: Vec<String>,
    /// `SASLAuthenticationProvider.superPassword`: the password of the user `super`,
    /// instead of the JAAS file's.
    pub super_password: Option<String>,
    /// `allowSaslFailedClients`: a failed exchange keeps the connection (unless SASL
    /// is required).
    pub allow_failed_clients: bool,
}

/// The JAAS server login section that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslLogin {
    pub file: PathBuf,
    pub section: String,
    pub users: crate::sasl::Users,
}

/// ZooKeeper's SASL provider class (`authProvider.N`).
pub const SASL_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
/// ZooKeeper's x509 provider class (`authProvider.N`, registered by itself when TLS
/// serves clients).
pub const X509_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";
/// The system property naming the JAAS file; ringkeeper reads it as a key too.
pub const JAAS_KEY: &str = "java.security.auth.login.config";
/// ZooKeeper's default server login section (`zookeeper.sasl.serverconfig`).
pub const JAAS_SECTION_DEFAULT: &str = "Server";

/// The system properties ringkeeper takes from the JVM flags zkServer.sh passes
/// (`SERVER_JVMFLAGS`, then `JVMFLAGS`, whose later `-D` wins as in Java): where
/// the JAAS file is and which section to read. `(variable, "key=value")` pairs.
pub fn jvm_flag_props(
    server_jvmflags: Option<&str>,
    jvmflags: Option<&str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (var, flags) in [("SERVER_JVMFLAGS", server_jvmflags), ("JVMFLAGS", jvmflags)] {
        // zkServer.sh expands them unquoted: words split at white space.
        for word in flags.unwrap_or("").split_whitespace() {
            let Some(prop) = word.strip_prefix("-D") else {
                continue;
            };
            let key = prop.split('=').next().unwrap_or("");
            if key == JAAS_KEY || key == "zookeeper.sasl.serverconfig" {
                out.push((var.to_owned(), prop.to_owned()));
            }
        }
    }
    out
}

/// One key or trust store (`ssl.keyStore.*` or `ssl.trustStore.*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreConfig {
    /// `.location`; empty when not set.
    pub location: String,
    /// `.password`, or the content of the file `.passwordPath` names: a non-empty
    /// `.passwordPath` wins, wherever the two stand in the file, as in ZooKeeper
    /// (`X509Util.getPasswordFromConfigPropertyOrFile`).
    pub password: String,
    /// `password` came from `.passwordPath` (a later `.password` is then ignored).
    pub password_from_path: bool,
    /// `.type` as given (JKS, PKCS12, PEM); `None`: inferred from the file name.
    pub store_type: Option<String>,
}

/// `ssl.clientAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Need,
    Want,
    None,
}

/// ZooKeeper's AdminServer defaults (`JettyAdminServer`).
pub const ADMIN_PORT_DEFAULT: u16 = 8080;
pub const ADMIN_COMMAND_URL_DEFAULT: &str = "/commands";
pub const ADMIN_IDLE_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Where the quorum core's task runs (ringkeeper's own `quorumCore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumCore {
    /// `Shared` with one session core, `Dedicated` with more.
    Auto,
    /// On an executor (thread, CPU) of its own; session cores hand it writes over
    /// shared channels.
    Dedicated,
    /// On session core 0's executor, so a write from that core crosses no thread.
    Shared,
}

/// How the quorum task syncs the log (`syncInline` resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncInline {
    /// fdatasync on the quorum task's thread.
    Always,
    /// Through io_uring.
    Never,
    /// Inline when the executor answered no read since the previous sync, else
    /// through io_uring.
    WhenNoReads,
}

/// ZooKeeper's default `tickTime` when a file gives none (the embedded default).
pub const TICK_TIME_MS_DEFAULT: u32 = 2000;
pub const MAX_CLIENT_CNXNS_DEFAULT: u32 = 60;
pub const GLOBAL_OUTSTANDING_LIMIT_DEFAULT: u32 = 1000;
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;
pub const CONTAINER_MAX_PER_MINUTE_DEFAULT: u32 = 10_000;
/// An upper bound on session cores: beyond the machine's CPUs it only adds replicas.
pub const SESSION_CORES_MAX: usize = 256;
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;
pub const PREALLOC_KIB_DEFAULT: u64 = 65_536;
/// ZooKeeper refuses to keep fewer than 3 snapshots.
pub const SNAP_RETAIN_MIN: usize = 3;
pub const COMMIT_BATCH_MAX_TXNS_DEFAULT: usize = 4096;
/// `spinBeforeParkUs` unless set.
pub const SPIN_BEFORE_PARK_US_DEFAULT: u64 = 0;
pub const COMMIT_BATCH_MAX_BYTES_DEFAULT: u64 = 4 << 20;
/// ZooKeeper's `fsync.warningthresholdms` default.
pub const FSYNC_WARNING_THRESHOLD_MS_DEFAULT: u64 = 1000;
/// ZooKeeper's `ZKDatabase.DEFAULT_SNAPSHOT_SIZE_FACTOR`.
pub const SNAPSHOT_SIZE_FACTOR_DEFAULT: f64 = 0.33;

/// Keys ZooKeeper reads that ringkeeper accepts but does not honour, with why; each one
/// present gets a WARN at start, so nobody believes a setting took effect that did not.
const NOT_HONOURED: &[(&str, &str)] = &[
    (
        "security.auth_to_local",
        "DIGEST-MD5 user names are not mapped through Kerberos rules",
    ),
    ("syncEnabled", ENSEMBLE_ONLY),
    ("leaderServes", ENSEMBLE_ONLY),
    ("commitLogCount", ENSEMBLE_ONLY),
    ("standaloneEnabled", ENSEMBLE_ONLY),
    (
        "reconfigEnabled",
        "dynamic reconfiguration is not supported; reconfig answers RECONFIGDISABLED",
    ),
    (
        "dynamicConfigFile",
        "dynamic configuration is not supported; only its server lines are read, to refuse an ensemble",
    ),
    (
        "sslQuorumReloadCertFiles",
        "the quorum's key and trust stores are read when the ensemble starts",
    ),
    ("serverCnxnFactory", "ringkeeper has its own network layer (io_uring); no Java class is loaded"),
    ("clientCnxnSocket", "ringkeeper has its own network layer (io_uring); no Java class is loaded"),
    ("skipACL", "ACLs are always checked"),
    (
        "localSessionsEnabled",
        "local sessions are not implemented; every session is global",
    ),
    (
        "localSessionsUpgradingEnabled",
        "local sessions are not implemented; every session is global",
    ),
    ("audit.enable", "audit logging is not implemented"),
    ("snapSizeLimitInKb", "snapshots are triggered by snapCount alone"),
    ("txnLogSizeLimitInKb", "log segments are sized by preAllocSize alone"),
    ("metricsProvider.exportJvmInfo", "there is no JVM to report on"),
    (
        "metricsProvider.prometheusMetricsSummaryRotateIntervalSeconds",
        "the latency summaries cover the time since the start (or srst), not a rotating window",
    ),
    (
        "metricsProvider.numWorkerThreads",
        "summaries are recorded where they are measured; there are no worker threads",
    ),
    (
        "metricsProvider.maxQueueSize",
        "summaries are recorded where they are measured; there is no queue",
    ),
    (
        "metricsProvider.workerShutdownTimeoutMs",
        "summaries are recorded where they are measured; there are no worker threads",
    ),
    (
        "jute.maxbuffer.extrasize",
        "only jute.maxbuffer bounds a request",
    ),
];
const ENSEMBLE_ONLY: &str = "an ensemble setting ringkeeper does not implement yet";
const NO_TLS: &str = "only the client port's TLS keys are read (ssl.keyStore.*, \
     ssl.trustStore.*, ssl.clientAuth, ssl.protocol, ssl.enabledProtocols, ssl.ciphersuites, \
     ssl.authProvider, ssl.crl, ssl.ocsp) and the quorum's (ssl.quorum.keyStore.*, \
     ssl.quorum.trustStore.*, ssl.quorum.clientAuth, ssl.quorum.protocol, \
     ssl.quorum.enabledProtocols, ssl.quorum.ciphersuites, ssl.quorum.crl, \
     ssl.quorum.hostnameVerification)";

/// Key prefixes accepted the same way (each key present gets the warning).
const NOT_HONOURED_PREFIXES: &[(&str, &str)] = &[
    (
        "admin.",
        "the AdminServer serves HTTP/1.1 (plain, or HTTPS with admin.forceHttps or \
         admin.portUnification)",
    ),
    ("ssl.", NO_TLS),
    (
        "authProvider.",
        "only the built-in auth schemes (digest, ip, world, super) and \
      ZooKeeper's SASLAuthenticationProvider and X509AuthenticationProvider exist; no other \
      provider class is loaded",
    ),
    ("quorum.auth.", ENSEMBLE_ONLY),
    ("group.", ENSEMBLE_ONLY),
    ("weight.", ENSEMBLE_ONLY),
    (
        "sasl.",
        "only sasl.serverconfig is read (SASL DIGEST-MD5 on the client port)",
    ),
    (
        "kerberos.",
        "GSSAPI/Kerberos is not implemented, and DIGEST-MD5 user names are not mapped \
         through Kerberos rules, so these options change nothing",
    ),
];

/// Where one setting came from, for messages: `zoo.cfg:12` or `-D`.
#[derive(Debug, Clone)]
struct Setting {
    at: String,
    key: String,
    value: String,
}

impl Setting {
    /// `-D key=value` (or `-D key`, an empty value, as Java takes `-Dkey`).
    fn from_flag(prop: &str) -> Setting {
        let (key, value) = match prop.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (prop.trim(), ""),
        };
        Setting {
            at: "-D".into(),
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The lines of a properties text as settings (`#` and `!` start comments).
fn settings_of(text: &str, file: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    for (idx, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = split_property(line);
        out.push(Setting {
            at: format!("{file}:{}", idx + 1),
            key: key.into(),
            value: value.into(),
        });
    }
    out
}

impl Config {
    /// Whether the quorum task runs on session core 0's executor (`quorumCore`, with
    /// `auto` resolved: beside a single session core, a thread of its own only adds
    /// two cross-thread wake-ups to every write).
    pub fn quorum_shared(&self) -> bool {
        match self.quorum_core {
            QuorumCore::Auto => self.session_cores == 1,
            QuorumCore::Dedicated => false,
            QuorumCore::Shared => true,
        }
    }

    /// Whether the quorum task fdatasyncs the log on its own thread (blocking its
    /// executor for the flush) rather than through io_uring's worker threads. Inline
    /// saves two thread wake-ups per batch but stalls everything else on the
    /// executor: `auto` is always inline on a dedicated quorum core (it serves no
    /// connections) and, on a shared one, only while core 0 answers no reads. In an
    /// ensemble `auto` is never inline: the quorum task's executor also carries the
    /// quorum links, and a leader prepares and proposes the next batch while one syncs.
    pub fn sync_inline(&self) -> SyncInline {
        match self.sync_inline {
            Some(true) => SyncInline::Always,
            Some(false) => SyncInline::Never,
            None if self.ensemble => SyncInline::Never,
            None if self.quorum_shared() => SyncInline::WhenNoReads,
            None => SyncInline::Always,
        }
    }

    /// The embedded default: a standalone server on 127.0.0.1:2181 with its data under
    /// `./ringkeeper-data`.
    pub fn embedded_default() -> Config {
        let data_dir = PathBuf::from("ringkeeper-data");
        Config {
            client_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2181),
            data_log_dir: data_dir.clone(),
            data_dir,
            tick_time_ms: TICK_TIME_MS_DEFAULT,
            min_session_timeout_ms: 2 * TICK_TIME_MS_DEFAULT,
            max_session_timeout_ms: 20 * TICK_TIME_MS_DEFAULT,
            max_client_cnxns: MAX_CLIENT_CNXNS_DEFAULT,
            max_cnxns: 0,
            listen_backlog: None,
            global_outstanding_limit: GLOBAL_OUTSTANDING_LIMIT_DEFAULT,
            four_letter_words: FourLetterWhitelist::Only(vec!["srvr".into()]),
            extended_types_enabled: false,
            digest_enabled: true,
            jute_max_buffer: crate::proto::frame::JUTE_MAXBUFFER_DEFAULT,
            container_check_interval_ms: CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            container_max_per_minute: CONTAINER_MAX_PER_MINUTE_DEFAULT,
            container_max_never_used_interval_ms: 0,
            super_digest: None,
            enforce_quota: false,
            read_only_mode: false,
            enforce_auth_schemes: None,
            session_cores: 1,
            quorum_core: QuorumCore::Auto,
            sync_inline: None,
            server_id: 0,
            snap_count: SNAP_COUNT_DEFAULT,
            prealloc_bytes: PREALLOC_KIB_DEFAULT * 1024,
            force_sync: true,
            ensemble: false,
            fsync_warning_threshold_ms: FSYNC_WARNING_THRESHOLD_MS_DEFAULT,
            snapshot_size_factor: SNAPSHOT_SIZE_FACTOR_DEFAULT,
            snap_retain_count: SNAP_RETAIN_MIN,
            purge_interval_hours: 0,
            metrics_addr: None,
            // As ZooKeeper, the AdminServer is on by default; the embedded default
            // keeps it on loopback like its client port.
            admin: Some(AdminConfig {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), ADMIN_PORT_DEFAULT),
                command_url: ADMIN_COMMAND_URL_DEFAULT.into(),
                idle_timeout_ms: ADMIN_IDLE_TIMEOUT_MS_DEFAULT,
                tls: None,
                snapshot_enabled: true,
                restore_enabled: true,
                rate_limit_interval_ms: ADMIN_RATE_LIMIT_INTERVAL_MS_DEFAULT,
                serialize_last_processed_zxid: true,
            }),
            initial_config: String::new(),
            tls: None,
            sasl: SaslConfig::default(),
            auth_providers: AuthProviders::default(),
            plaintext_port: true,
            commit_batch_max_txns: COMMIT_BATCH_MAX_TXNS_DEFAULT,
            spin_before_park_us: SPIN_BEFORE_PARK_US_DEFAULT,
            commit_batch_max_bytes: COMMIT_BATCH_MAX_BYTES_DEFAULT,
            raw: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Reads a `zoo.cfg`. Relative `dataDir`s are taken as given (relative to the
    /// working directory), as ZooKeeper does.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        Config::load(Some(path), &[])
    }

    /// Reads a `zoo.cfg`, then `props` (`key=value`, ZooKeeper's `-Dzookeeper.key=value`
    /// system properties) as if they were lines appended to it.
    pub fn from_file_with(path: &Path, props: &[String]) -> Result<Config, ConfigError> {
        Config::load(Some(path), props)
    }

    /// The configuration of `ringkeeper server`: `file` (a `zoo.cfg`) if given, else
    /// the embedded default; then `props` (`-D key=value`), which win over the file.
    pub fn load(file: Option<&Path>, props: &[String]) -> Result<Config, ConfigError> {
        Config::load_with_jvm_flags(file, props, &[])
    }

    /// [`Config::load`] with the system properties of the JVM flags (`jvm_flag_props`):
    /// they apply after the file and before `props`.
    pub fn load_with_jvm_flags(
        file: Option<&Path>,
        props: &[String],
        jvm: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let flags = jvm
            .iter()
            .map(|(var, p)| {
                let mut s = Setting::from_flag(p);
                s.at = var.clone();
                s
            })
            .chain(props.iter().map(|p| Setting::from_flag(p)));
        let Some(path) = file else {
            return Config::from_settings(Config::embedded_default(), flags.collect(), None);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path.display().to_string();
        let mut settings = settings_of(&text, &name);
        settings.extend(flags);
        let mut cfg = Config::from_settings(Config::file_defaults(), settings, Some(&name))?;
        cfg.initial_config = text;
        // ZooKeeper reads `myid` from dataDir for an ensemble; standalone ignores it.
        let myid = cfg.data_dir.join("myid");
        if let Ok(s) = std::fs::read_to_string(&myid) {
            if let Ok(id) = s.trim().parse::<u64>() {
                cfg.server_id = id;
            }
        }
        Ok(cfg)
    }

    /// An ensemble member's client address from its own `server.N` line
    /// (`host:quorumPort:electionPort;[clientHost:]clientPort`, ZooKeeper 3.5's form),
    /// as `QuorumPeerConfig.setupClientPort` takes it: it is the client port when
    /// `clientPort` is absent, and it must agree with `clientPort` when both are given
    /// (the same port, and the same address unless `clientPortAddress` is the
    /// wildcard), or the start fails with ZooKeeper's complaint.
    pub fn take_client_address(&mut self, q: &QuorumConfig) -> Result<(), ConfigError> {
        let own = q.servers.iter().find(|s| s.id == q.myid);
        let Some((host, port)) = own.and_then(|s| s.client.clone()) else {
            if !self.plaintext_port && self.secure_client_port() < 0 {
                return Err(ConfigError::Invalid(format!(
                    "neither clientPort, secureClientPort nor a client address on \
                     server.{} is set: there is no port to serve clients on",
                    q.myid
                )));
            }
            return Ok(());
        };
        let ip = resolve(&host).map_err(|reason| {
            ConfigError::Invalid(format!("server.{}: client address: {reason}", q.myid))
        })?;
        let line = SocketAddr::new(ip, port);
        if self.plaintext_port {
            let stat = self.client_addr;
            let differs = if stat.ip().is_unspecified() {
                stat.port() != line.port()
            } else {
                stat != line
            };
            if differs {
                return Err(ConfigError::Invalid(format!(
                    "client address for this server (id = {}) in static config file is {stat} \
                     is different from client address found in dynamic file: {line}",
                    q.myid
                )));
            }
        }
        self.client_addr = line;
        self.plaintext_port = true;
        Ok(())
    }

    /// Parses the text of a `zoo.cfg` (Java properties: `key=value`, `key: value` or
    /// `key value`; `#` and `!` start comments).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        Config::from_settings(Config::file_defaults(), settings_of(text, file), Some(file))
    }

    /// What a config file starts from: ZooKeeper's defaults, which listen on every
    /// address unless `clientPortAddress` says otherwise.
    fn file_defaults() -> Config {
        let mut cfg = Config::embedded_default();
        cfg.client_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2181);
        if let Some(admin) = cfg.admin.as_mut() {
            admin.addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), ADMIN_PORT_DEFAULT);
        }
        cfg
    }

    /// Applies `settings` in order over `base`. `file`: they come (at least in part)
    /// from that config file, which must then set `dataDir` and `clientPort`.
    fn from_settings(
        base: Config,
        settings: Vec<Setting>,
        file: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let mut cfg = base;
        let mut client_port: Option<u16> = None;
        let mut client_host: Option<String> = None;
        let mut min_to: Option<i64> = None;
        let mut max_to: Option<i64> = None;
        let mut data_log_dir: Option<PathBuf> = None;
        let mut metrics_port: Option<u16> = None;
        let mut metrics_host: Option<String> = None;
        let mut metrics_provider = false;
        let mut admin_enabled: Option<bool> = None;
        let mut admin_host: Option<String> = None;
        let mut admin_port: Option<u16> = None;
        let mut saw_data_dir = false;
        let mut servers: Vec<String> = Vec::new();
        // A server line carries a client address (`;[host:]port`).
        let mut line_clients = false;
        let mut force_standalone = false;
        let mut enforce_auth = false;
        let mut enforce_auth_schemes: Vec<String> = Vec::new();
        let mut require_sasl = false;
        let mut secure_port: Option<u16> = None;
        let mut secure_host: Option<String> = None;
        let mut tls = TlsKeys::default();
        // admin.portUnification, admin.forceHttps, admin.needClientAuth.
        let mut admin_tls = [false; 3];
        let mut jaas_file: Option<PathBuf> = None;
        let mut jaas_section: Option<String> = None;
        let mut x509_provider = false;
        let mut ssl_auth_provider: Option<String> = None;

        for Setting { at, key, value } in &settings {
            let key = key.strip_prefix("zookeeper.").unwrap_or(key);
            let value = value.as_str();
            let bad = |reason: &str| ConfigError::BadValue {
                file: at.clone(),
                key: key.to_owned(),
                reason: reason.to_owned(),
            };
            cfg.raw.insert(key.to_owned(), value.to_owned());
            match key {
                "clientPort" => client_port = Some(value.parse().map_err(|_| bad("not a port"))?),
                "clientPortAddress" => client_host = Some(value.to_owned()),
                "dataDir" => {
                    cfg.data_dir = PathBuf::from(value);
                    saw_data_dir = true;
                }
                "dataLogDir" => data_log_dir = Some(PathBuf::from(value)),
                "tickTime" => {
                    cfg.tick_time_ms =
                        parse_positive(value).ok_or_else(|| bad("not a positive integer"))?
                }
                "minSessionTimeout" => {
                    min_to = Some(value.parse().map_err(|_| bad("not an integer"))?)
                }
                "maxSessionTimeout" => {
                    max_to = Some(value.parse().map_err(|_| bad("not an integer"))?)
                }
                "maxClientCnxns" => {
                    cfg.max_client_cnxns = value.parse().map_err(|_| bad("not a count"))?
                }
                "maxCnxns" => cfg.max_cnxns = value.parse().map_err(|_| bad("not a count"))?,
                "clientPortListenBacklog" => {
                    let n: i32 = value.parse().map_err(|_| bad("not an integer"))?;
                    // ZooKeeper: -1 (or anything below 1) leaves the default backlog.
                    cfg.listen_backlog = (n > 0).then_some(n);
                }
                "globalOutstandingLimit" => {
                    cfg.global_outstanding_limit =
                        parse_positive(value).ok_or_else(|| bad("not a positive integer"))?
                }
                "4lw.commands.whitelist" => cfg.four_letter_words = parse_whitelist(value),
                "extendedTypesEnabled" => cfg.extended_types_enabled = parse_bool(value),
                "digest.enabled" => cfg.digest_enabled = parse_bool(value),
                "jute.maxbuffer" => {
                    cfg.jute_max_buffer = parse_int_maybe_hex(value)
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("not a positive size"))?
                }
                "znode.container.checkIntervalMs" => {
                    cfg.container_check_interval_ms =
                        value.parse().map_err(|_| bad("not a duration in ms"))?
                }
                "znode.container.maxPerMinute" => {
                    cfg.container_max_per_minute = value.parse().map_err(|_| bad("not a count"))?
                }
                "znode.container.maxNeverUsedIntervalMs" => {
                    cfg.container_max_never_used_interval_ms = value
                        .parse::<i64>()
                        .ok()
                        .filter(|v| *v >= 0)
                        .ok_or_else(|| bad("not a duration in ms"))?
                }
                "DigestAuthenticationProvider.superDigest" => {
                    if !value.contains(':') {
                        return Err(bad("expected super:<base64 sha1 digest>"));
                    }
                    cfg.super_digest = Some(value.to_owned())
                }
                "enforceQuota" => cfg.enforce_quota = java_bool(value),
                // A JVM system property in ZooKeeper (`-Dreadonlymode.enabled=true`); a
                // key or `-D` flag here.
                "readonlymode.enabled" => cfg.read_only_mode = java_bool(value),
                "enforce.auth.enabled" => enforce_auth = java_bool(value),
                // `split(",")` then `trim`, as AuthenticationHelper reads it.
                "enforce.auth.schemes" => {
                    enforce_auth_schemes = value.split(',').map(|s| s.trim().to_owned()).collect()
                }
                "sessionRequireClientSASLAuth" => require_sasl = java_bool(value),
                JAAS_KEY => jaas_file = Some(PathBuf::from(value)).filter(|_| !value.is_empty()),
                "sasl.serverconfig" => jaas_section = Some(value.to_owned()),
                k if k.starts_with("authProvider.") && value == SASL_PROVIDER_CLASS => {
                    cfg.sasl.provider = true
                }
                k if k.starts_with("authProvider.") && value == X509_PROVIDER_CLASS => {
                    x509_provider = true
                }
                // `DigestAuthenticationProvider.isEnabled`: Boolean.parseBoolean, default true.
                "DigestAuthenticationProvider.enabled" => {
                    cfg.auth_providers.digest = java_bool(value)
                }
                "letAnySaslUserDoX" => {
                    cfg.auth_providers.let_any_sasl_user_do = Some(value.to_owned())
                }
                "ssl.authProvider" => ssl_auth_provider = Some(value.to_owned()),
                // `isSaslSuperUser`: `zookeeper.superUser` and any `zookeeper.superUser.*`.
                k if k == "superUser" || k.starts_with("superUser.") => {
                    cfg.sasl.super_users.push(value.to_owned())
                }
                "SASLAuthenticationProvider.superPassword" => {
                    cfg.sasl.super_password = Some(value.to_owned())
                }
                // Java's Boolean.getBoolean.
                "allowSaslFailedClients" => cfg.sasl.allow_failed_clients = java_bool(value),
                "cores" => {
                    let n: usize = value.parse().map_err(|_| bad("not a count"))?;
                    if n == 0 || n > SESSION_CORES_MAX {
                        return Err(bad(&format!("must be 1..={SESSION_CORES_MAX}")));
                    }
                    cfg.session_cores = n;
                }
                "quorumCore" => {
                    cfg.quorum_core = match value.to_ascii_lowercase().as_str() {
                        "auto" => QuorumCore::Auto,
                        "dedicated" => QuorumCore::Dedicated,
                        "shared" => QuorumCore::Shared,
                        _ => return Err(bad("expected auto, dedicated or shared")),
                    }
                }
                "syncInline" => {
                    cfg.sync_inline = match value.to_ascii_lowercase().as_str() {
                        "auto" => None,
                        "yes" | "true" => Some(true),
                        "no" | "false" => Some(false),
                        _ => return Err(bad("expected auto, yes or no")),
                    }
                }
                "snapCount" => {
                    cfg.snap_count = value
                        .parse::<u64>()
                        .ok()
                        .filter(|v| *v >= 2)
                        .ok_or_else(|| bad("must be a count of at least 2"))?
                }
                "preAllocSize" => {
                    let kib: u64 = value
                        .parse()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("not a positive size in KiB"))?;
                    cfg.prealloc_bytes = kib.saturating_mul(1024);
                }
                "forceSync" => {
                    cfg.force_sync = !matches!(value.to_ascii_lowercase().as_str(), "no" | "false")
                }
                "snapshotSizeFactor" => {
                    // As `ZKDatabase`: a value that is not a number, or above 1, is
                    // replaced by the default with a warning, not refused.
                    cfg.snapshot_size_factor = match value.parse::<f64>() {
                        Ok(f) if f <= 1.0 => f,
                        _ => {
                            cfg.warnings.push(format!(
                                "{at}: snapshotSizeFactor={value} is invalid; using \
                                 {SNAPSHOT_SIZE_FACTOR_DEFAULT}"
                            ));
                            SNAPSHOT_SIZE_FACTOR_DEFAULT
                        }
                    }
                }
                "fsync.warningthresholdms" => {
                    cfg.fsync_warning_threshold_ms =
                        value.parse().map_err(|_| bad("not a duration in ms"))?
                }
                "autopurge.snapRetainCount" => {
                    let n: usize = value.parse().map_err(|_| bad("not a count"))?;
                    if n < SNAP_RETAIN_MIN {
                        cfg.warnings.push(format!(
                            "{at}: {key} below {SNAP_RETAIN_MIN}; using {SNAP_RETAIN_MIN}"
                        ));
                    }
                    cfg.snap_retain_count = n.max(SNAP_RETAIN_MIN);
                }
                "metricsProvider.httpPort" => {
                    metrics_port = Some(value.parse().map_err(|_| bad("not a port"))?)
                }
                "metricsProvider.httpHost" => metrics_host = Some(value.to_owned()),
                "metricsProvider.className" => {
                    metrics_provider = value.contains("Prometheus");
                    if !metrics_provider {
                        cfg.warnings.push(format!(
                            "{at}: {key}={value} is not honoured: only the Prometheus \
                             provider exists (PrometheusMetricsProvider)"
                        ));
                    }
                }
                // Java's Boolean.parseBoolean: only "true" (any case) is true.
                "admin.enableServer" => admin_enabled = Some(value.eq_ignore_ascii_case("true")),
                "admin.serverAddress" => admin_host = Some(value.to_owned()),
                // `Boolean.getBoolean`, as JettyAdminServer reads them.
                "admin.portUnification" => admin_tls[0] = value.eq_ignore_ascii_case("true"),
                "admin.forceHttps" => admin_tls[1] = value.eq_ignore_ascii_case("true"),
                "admin.needClientAuth" => admin_tls[2] = value.eq_ignore_ascii_case("true"),
                "admin.serverPort" => {
                    admin_port = Some(value.parse().map_err(|_| bad("not a port"))?)
                }
                "admin.commandURL" => {
                    if let Some(a) = cfg.admin.as_mut() {
                        a.command_url = command_url(value);
                    }
                }
                // `Boolean.parseBoolean(System.getProperty(.., "true"))`: anything but
                // "true" (any case) turns the command off.
                "admin.snapshot.enabled" => {
                    if let Some(a) = cfg.admin.as_mut() {
                        a.snapshot_enabled = value.eq_ignore_ascii_case("true");
                    }
                }
                "admin.restore.enabled" => {
                    if let Some(a) = cfg.admin.as_mut() {
                        a.restore_enabled = value.eq_ignore_ascii_case("true");
                    }
                }
                "serializeLastProcessedZxid.enabled" => {
                    if let Some(a) = cfg.admin.as_mut() {
                        a.serialize_last_processed_zxid = value.eq_ignore_ascii_case("true");
                    }
                }
                "admin.rateLimiterIntervalInMS" => {
                    let ms = value
                        .parse::<u64>()
                        .map_err(|_| bad("not a duration in ms"))?;
                    if let Some(a) = cfg.admin.as_mut() {
                        a.rate_limit_interval_ms = ms;
                    }
                }
                "admin.idleTimeout" => {
                    let ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("not a positive duration in ms"))?;
                    if let Some(a) = cfg.admin.as_mut() {
                        a.idle_timeout_ms = ms;
                    }
                }
                "spinBeforeParkUs" => {
                    cfg.spin_before_park_us = value
                        .parse::<u64>()
                        .ok()
                        .filter(|v| *v <= 1_000_000)
                        .ok_or_else(|| bad("not a count of microseconds up to 1000000"))?
                }
                "commitBatchMaxTxns" => {
                    cfg.commit_batch_max_txns = value
                        .parse::<usize>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("not a positive count"))?
                }
                "commitBatchMaxBytes" => {
                    cfg.commit_batch_max_bytes = value
                        .parse::<u64>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("not a positive size in bytes"))?
                }
                "autopurge.purgeInterval" => {
                    cfg.purge_interval_hours =
                        value.parse().map_err(|_| bad("not a count of hours"))?
                }
                "forceStandalone" => force_standalone = parse_bool(value),
                "secureClientPort" => {
                    secure_port = Some(value.parse().map_err(|_| bad("not a port"))?)
                }
                "secureClientPortAddress" => secure_host = Some(value.to_owned()),
                k if tls.take(k, value).map_err(|r| bad(&r))? => {}
                k if is_server_line(k) => {
                    line_clients |= value.contains(';');
                    servers.push(format!("{at}: {k}"))
                }
                // The ensemble's settings: `QuorumConfig` reads and checks them.
                "initLimit"
                | "syncLimit"
                | "electionAlg"
                | "electionPortBindRetry"
                | "cnxTimeout"
                | "quorumCnxnTimeoutMs"
                | "quorumListenOnAllIPs"
                | "observerMasterPort"
                | "sslQuorum"
                | "portUnification"
                | "peerType" => {}
                "dynamicConfigFile" => {
                    let text = std::fs::read_to_string(value).map_err(|e| {
                        bad(&format!("cannot read the dynamic config file {value}: {e}"))
                    })?;
                    for s in settings_of(&text, value) {
                        if is_server_line(&s.key) {
                            line_clients |= s.value.contains(';');
                            servers.push(format!("{}: {}", s.at, s.key));
                        }
                    }
                    cfg.warnings.push(not_honoured(at, key, value));
                }
                k => {
                    if let Some(why) = not_honoured_reason(k) {
                        cfg.warnings.push(not_honoured(at, k, why));
                    } else if at == "-D" {
                        cfg.warnings
                            .push(format!("-D {k}: unknown setting ignored"));
                    } else {
                        cfg.warnings.push(format!("{at}: unknown key {k} ignored"));
                    }
                }
            }
        }
        if let Some(file) = file {
            if !saw_data_dir {
                return Err(ConfigError::Invalid(format!("{file}: dataDir is not set")));
            }
            // ZooKeeper 3.8 starts without either and serves nothing, logging only
            // "clientPort is not set" at INFO; a server no client can reach is refused
            // here instead. An ensemble member may have its client port on its own
            // `server.N` line (`;[host:]port`), which `take_client_address` reads once
            // myid is known.
            if client_port.is_none() && secure_port.is_none() && !line_clients {
                return Err(ConfigError::Invalid(format!(
                    "{file}: neither clientPort nor secureClientPort is set: there is no port \
                     to serve clients on"
                )));
            }
            // A TLS-only server (`QuorumPeerConfig`: each port is optional).
            cfg.plaintext_port = client_port.is_some();
        }
        // `QuorumPeerConfig.parseProperties` refuses an address without its port.
        for (addr_key, port_key, addr, port) in [
            (
                "clientPortAddress",
                "clientPort",
                client_host.is_some(),
                client_port.is_some(),
            ),
            (
                "secureClientPortAddress",
                "secureClientPort",
                secure_host.is_some(),
                secure_port.is_some(),
            ),
        ] {
            if addr && !port && file.is_some() {
                return Err(ConfigError::BadValue {
                    file: setting_at(&settings, addr_key),
                    key: addr_key.into(),
                    reason: format!("{addr_key} is set but {port_key} is not set"),
                });
            }
        }
        cfg.ensemble = check_servers(&servers, force_standalone, &mut cfg.warnings)?;
        let serves_tls = secure_port.is_some() || tls.port_unification;
        cfg.auth_providers.sasl = cfg.sasl.provider;
        cfg.auth_providers.x509 = x509_provider
            || (serves_tls && ssl_auth_provider_is_x509(&settings, ssl_auth_provider)?);
        cfg.enforce_auth_schemes = enforce_auth_config(
            &settings,
            enforce_auth,
            enforce_auth_schemes,
            require_sasl,
            &cfg.auth_providers,
        )?;
        cfg.sasl.login = sasl_login(&settings, jaas_file, jaas_section, &mut cfg.warnings)?;
        let ip = match client_host {
            Some(host) => resolve(&host).map_err(|reason| ConfigError::BadValue {
                file: setting_at(&settings, "clientPortAddress"),
                key: "clientPortAddress".into(),
                reason,
            })?,
            None => cfg.client_addr.ip(),
        };
        cfg.client_addr = SocketAddr::new(ip, client_port.unwrap_or(cfg.client_addr.port()));
        if let Some(d) = data_log_dir {
            cfg.data_log_dir = d;
        } else if saw_data_dir {
            cfg.data_log_dir = cfg.data_dir.clone();
        }
        // ZooKeeper serves metrics only with the Prometheus provider configured
        // (default port 7000); an explicit httpPort is taken as the same wish.
        if metrics_provider || metrics_port.is_some() {
            let ip = match metrics_host {
                Some(host) => resolve(&host).map_err(|reason| ConfigError::BadValue {
                    file: setting_at(&settings, "metricsProvider.httpHost"),
                    key: "metricsProvider.httpHost".into(),
                    reason,
                })?,
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            cfg.metrics_addr = Some(SocketAddr::new(ip, metrics_port.unwrap_or(7000)));
        }
        if admin_enabled == Some(false) {
            cfg.admin = None;
        }
        if let Some(admin) = cfg.admin.as_mut() {
            let [unified, force_https, need_client_auth] = admin_tls;
            if unified || force_https {
                admin.tls = Some(AdminTls {
                    force_https,
                    need_client_auth,
                    key_store: tls.quorum_key_store.clone(),
                    trust_store: tls.quorum_trust_store.clone(),
                });
            } else if need_client_auth {
                cfg.warnings.push(
                    "admin.needClientAuth=true without admin.forceHttps or \
                     admin.portUnification: the AdminServer serves plain HTTP, which has \
                     no client certificates"
                        .into(),
                );
            }
            if let Some(host) = admin_host {
                let ip = resolve(&host).map_err(|reason| ConfigError::BadValue {
                    file: setting_at(&settings, "admin.serverAddress"),
                    key: "admin.serverAddress".into(),
                    reason,
                })?;
                admin.addr.set_ip(ip);
            }
            if let Some(port) = admin_port {
                admin.addr.set_port(port);
            }
        }
        if let Some(port) = secure_port {
            let ip = match secure_host {
                Some(host) => resolve(&host).map_err(|reason| ConfigError::BadValue {
                    file: setting_at(&settings, "secureClientPortAddress"),
                    key: "secureClientPortAddress".into(),
                    reason,
                })?,
                // ZooKeeper binds the secure port on all addresses unless told.
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            cfg.tls = Some(tls.into_config(Some(SocketAddr::new(ip, port))));
        } else if tls.port_unification {
            cfg.tls = Some(tls.into_config(None));
        } else if tls.any || tls.cert_reload {
            cfg.warnings.push(
                "ssl.* keys (or client.certReload) are set but neither secureClientPort nor \
                 client.portUnification is: no TLS is served"
                    .into(),
            );
        }
        cfg.set_session_timeouts(min_to, max_to)?;
        Ok(cfg)
    }

    /// The secure client port as ZooKeeper's `getSecureClientPort` reports it: -1
    /// without one (the port bound, once the server has bound it).
    pub fn secure_client_port(&self) -> i32 {
        self.tls
            .as_ref()
            .and_then(|t| t.addr)
            .map_or(-1, |a| i32::from(a.port()))
    }

    /// ZooKeeper's rule: −1 (or absent) means 2× and 20× tickTime; min must not exceed max.
    fn set_session_timeouts(
        &mut self,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Result<(), ConfigError> {
        let tick = i64::from(self.tick_time_ms);
        let min = min.filter(|v| *v >= 0).unwrap_or(2 * tick);
        let max = max.filter(|v| *v >= 0).unwrap_or(20 * tick);
        if min > max {
            return Err(ConfigError::Invalid(format!(
                "minSessionTimeout {min} must not be larger than maxSessionTimeout {max}"
            )));
        }
        self.min_session_timeout_ms = u32::try_from(min).unwrap_or(u32::MAX);
        self.max_session_timeout_ms = u32::try_from(max).unwrap_or(u32::MAX);
        Ok(())
    }
}

/// `QuorumPeerConfig.configureSSLAuth` and `NettyServerCnxnFactory.initSSL`: TLS
/// clients are authenticated by the provider `ssl.authProvider` names (default `x509`),
/// which registers itself when it is `x509`. Any other name needs a provider class of
/// that scheme, which ringkeeper cannot load: the server does not start, as ZooKeeper
/// does not without one. Returns whether the x509 provider is registered.
fn ssl_auth_provider_is_x509(
    settings: &[Setting],
    name: Option<String>,
) -> Result<bool, ConfigError> {
    match name.as_deref() {
        None | Some("x509") => Ok(true),
        Some(other) => Err(ConfigError::BadValue {
            file: setting_at(settings, "ssl.authProvider"),
            key: "ssl.authProvider".into(),
            reason: format!(
                "no auth provider for the SSL authentication scheme '{other}': only x509 \
                 ({X509_PROVIDER_CLASS}) authenticates TLS clients here"
            ),
        }),
    }
}

/// `AuthenticationHelper`'s rules: `sessionRequireClientSASLAuth=true` means
/// enforcement with the scheme `sasl` whatever the other two keys say; enforcement
/// needs at least one scheme, and every scheme needs a registered provider, else the
/// server does not start: `sasl` has one only with
/// `authProvider.N=...SASLAuthenticationProvider`, `x509` only with TLS (or its
/// `authProvider.N`), as in ZooKeeper.
fn enforce_auth_config(
    settings: &[Setting],
    enabled: bool,
    schemes: Vec<String>,
    require_sasl: bool,
    providers: &AuthProviders,
) -> Result<Option<Vec<String>>, ConfigError> {
    let (enabled, schemes, key) = if require_sasl {
        (
            true,
            vec!["sasl".to_owned()],
            "sessionRequireClientSASLAuth",
        )
    } else {
        (enabled, schemes, "enforce.auth.schemes")
    };
    if !enabled {
        return Ok(None);
    }
    let bad = |reason: String| ConfigError::BadValue {
        file: setting_at(settings, key),
        key: key.into(),
        reason,
    };
    if schemes.is_empty() {
        return Err(ConfigError::Invalid(
            "enforce.auth.enabled is true, so enforce.auth.schemes must be set".into(),
        ));
    }
    for s in &schemes {
        if s == "sasl" && !providers.sasl {
            return Err(bad(format!(
                "authentication scheme sasl is not available: it needs \
                 authProvider.1={SASL_PROVIDER_CLASS}"
            )));
        }
        if s != "sasl" && !providers.has(s) {
            return Err(bad(format!(
                "authentication scheme {s:?} is not available (there are: {}; sasl with its \
                 authProvider, x509 with TLS)",
                providers.schemes().join(", ")
            )));
        }
    }
    Ok(Some(schemes))
}

/// `ServerCnxnFactory.configureSaslLogin`: the JAAS file (if one is named) is read
/// and must parse, else the server does not start; its server section (`section`,
/// default `Server`) gives the DIGEST-MD5 users. A file without that section means no
/// SASL login, as in ZooKeeper (kazoo's test harness always passes a file, empty
/// unless its test wants SASL); a section is named but no file is: refused, as
/// ZooKeeper refuses it.
fn sasl_login(
    settings: &[Setting],
    file: Option<PathBuf>,
    section: Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<SaslLogin>, ConfigError> {
    let named_section = section.is_some();
    let section = section.unwrap_or_else(|| JAAS_SECTION_DEFAULT.to_owned());
    let Some(file) = file else {
        if named_section {
            return Err(ConfigError::Invalid(format!(
                "No JAAS configuration section named '{section}' was found: \
                 sasl.serverconfig is set but no JAAS file is ({JAAS_KEY})"
            )));
        }
        return Ok(None);
    };
    let bad = |reason: String| ConfigError::BadValue {
        file: setting_at(settings, JAAS_KEY),
        key: JAAS_KEY.into(),
        reason,
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| bad(format!("cannot read the JAAS file {}: {e}", file.display())))?;
    let jaas =
        crate::sasl::jaas::parse(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let Some(found) = jaas.section(&section) else {
        if !jaas.sections.is_empty() {
            warnings.push(format!(
                "{}: no section named '{section}': SASL authentication is off",
                file.display()
            ));
        }
        return Ok(None);
    };
    let users = crate::sasl::users_of(found)
        .map_err(|e| bad(format!("{}: section {section}: {e}", file.display())))?;
    Ok(Some(SaslLogin {
        file,
        section,
        users,
    }))
}

/// The `ssl.quorum.*` keys (less `ssl.quorum.`) an ensemble reads as the client
/// port reads its `ssl.*` namesakes, besides the `keyStore.*` and `trustStore.*` ones.
const QUORUM_TLS_KEYS: &[&str] = &[
    "protocol",
    "enabledProtocols",
    "ciphersuites",
    "clientAuth",
    "crl",
];

/// The client-side `ssl.*` keys as they are read (`ClientX509Util`'s names).
#[derive(Default)]
struct TlsKeys {
    key_store: StoreConfig,
    trust_store: StoreConfig,
    /// `ssl.quorum.keyStore.*` and `ssl.quorum.trustStore.*`: the AdminServer's HTTPS
    /// reads them here, as ZooKeeper's JettyAdminServer does (an ensemble's
    /// `QuorumConfig` reads them again, with the rest of `ssl.quorum.*`).
    quorum_key_store: StoreConfig,
    quorum_trust_store: StoreConfig,
    client_auth: Option<ClientAuth>,
    protocol: Option<String>,
    enabled_protocols: Option<Vec<String>>,
    ciphersuites: Option<Vec<String>>,
    x509_super_user: Option<String>,
    crl: bool,
    ocsp: bool,
    handshake_limit: Option<u32>,
    port_unification: bool,
    cert_reload: bool,
    /// Any of them was set.
    any: bool,
}

impl TlsKeys {
    /// Takes `key` if it is one of these; `Err` is a bad value's reason.
    fn take(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let store = |s: &mut StoreConfig, field: &str| -> Result<(), String> {
            match field {
                "location" => s.location = value.to_owned(),
                "password" if !s.password_from_path => s.password = value.to_owned(),
                "password" => {}
                // ZooKeeper reads the password from this file, trailing newline and all
                // stripped (`SecretUtils.readSecret`); an empty value is no path.
                "passwordPath" if value.is_empty() => {}
                "passwordPath" => {
                    let text = std::fs::read_to_string(value)
                        .map_err(|e| format!("cannot read the password file {value}: {e}"))?;
                    s.password = text.trim_end_matches(['\r', '\n']).to_owned();
                    s.password_from_path = true;
                }
                "type" => s.store_type = Some(value.to_owned()).filter(|t| !t.is_empty()),
                _ => unreachable!("only the fields matched below"),
            }
            Ok(())
        };
        match key {
            k if k.starts_with("ssl.keyStore.")
                && matches!(&k[13..], "location" | "password" | "passwordPath" | "type") =>
            {
                store(&mut self.key_store, &k[13..])?
            }
            k if k.starts_with("ssl.trustStore.")
                && matches!(&k[15..], "location" | "password" | "passwordPath" | "type") =>
            {
                store(&mut self.trust_store, &k[15..])?
            }
            k if k.starts_with("ssl.quorum.keyStore.")
                && matches!(&k[20..], "location" | "password" | "passwordPath" | "type") =>
            {
                store(&mut self.quorum_key_store, &k[20..])?;
                return Ok(true);
            }
            k if k.starts_with("ssl.quorum.trustStore.")
                && matches!(&k[22..], "location" | "password" | "passwordPath" | "type") =>
            {
                store(&mut self.quorum_trust_store, &k[22..])?;
                return Ok(true);
            }
            "ssl.clientAuth" => {
                // `ClientAuth.fromPropertyValue`: empty is the default (need).
                self.client_auth = Some(match value.to_ascii_uppercase().as_str() {
                    "" | "NEED" => ClientAuth::Need,
                    "WANT" => ClientAuth::Want,
                    "NONE" => ClientAuth::None,
                    _ => return Err("expected need, want or none".into()),
                })
            }
            "ssl.protocol" => self.protocol = Some(value.to_owned()),
            "ssl.enabledProtocols" => self.enabled_protocols = Some(list(value)),
            "ssl.ciphersuites" => self.ciphersuites = Some(list(value)),
            // `Boolean.parseBoolean`, as `ZKConfig.getBoolean` reads them.
            "ssl.crl" => self.crl = value.trim().eq_ignore_ascii_case("true"),
            "ssl.ocsp" => self.ocsp = value.trim().eq_ignore_ascii_case("true"),
            // ZooKeeper's client port never checks a client's host name against its
            // certificate (`ClientX509Util.shouldVerifyClientHostname` is false); the
            // key is about the server's own name, which concerns clients.
            "ssl.hostnameVerification" => {}
            // The quorum's other TLS keys: read by an ensemble's `QuorumConfig` (with
            // `sslQuorum`); a standalone server has no quorum ports to use them on.
            k if k.strip_prefix("ssl.quorum.").is_some_and(|rest| {
                QUORUM_TLS_KEYS.contains(&rest) || rest == "hostnameVerification"
            }) =>
            {
                return Ok(true)
            }
            "X509AuthenticationProvider.superUser" => {
                self.x509_super_user = Some(value.to_owned());
                return Ok(true);
            }
            "netty.server.outstandingHandshake.limit" => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| "expected a number of handshakes".to_owned())?;
                self.handshake_limit = u32::try_from(n).ok().filter(|n| *n > 0);
                return Ok(true);
            }
            "client.portUnification" => {
                self.port_unification = parse_bool(value);
                return Ok(true);
            }
            "client.certReload" => {
                self.cert_reload = parse_bool(value);
                return Ok(true);
            }
            _ => return Ok(false),
        }
        self.any = true;
        Ok(true)
    }

    fn into_config(self, addr: Option<SocketAddr>) -> TlsConfig {
        TlsConfig {
            addr,
            port_unification: self.port_unification,
            cert_reload: self.cert_reload,
            key_store: self.key_store,
            trust_store: self.trust_store,
            client_auth: self.client_auth.unwrap_or(ClientAuth::Need),
            protocol: self.protocol.unwrap_or_else(|| "TLSv1.3".into()),
            enabled_protocols: self.enabled_protocols,
            ciphersuites: self.ciphersuites,
            x509_super_user: self.x509_super_user,
            crl: self.crl,
            ocsp: self.ocsp,
            handshake_limit: self.handshake_limit,
        }
    }
}

/// `server.N` (an ensemble member; `N` is its id).
fn is_server_line(key: &str) -> bool {
    key.strip_prefix("server.")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the server lines make this server an ensemble member: more than one
/// `server.N` line does, unless `forceStandalone` says to run this one server alone;
/// one line is standalone, as ZooKeeper runs it.
fn check_servers(
    servers: &[String],
    force_standalone: bool,
    warnings: &mut Vec<String>,
) -> Result<bool, ConfigError> {
    match servers.len() {
        0 => Ok(false),
        1 => {
            warnings.push(format!(
                "{}: a single server line; running standalone, as ZooKeeper does",
                servers[0]
            ));
            Ok(false)
        }
        n if force_standalone => {
            warnings.push(format!(
                "the configuration lists {n} servers ({}), but forceStandalone is set: \
                 running this server alone; it does not replicate, and nothing it \
                 accepts reaches the others",
                servers.join(", ")
            ));
            Ok(false)
        }
        _ => Ok(true),
    }
}

/// Why a key ZooKeeper knows is accepted without effect, if it is one of those.
fn not_honoured_reason(key: &str) -> Option<&'static str> {
    NOT_HONOURED
        .iter()
        .find(|(k, _)| *k == key)
        .or_else(|| {
            NOT_HONOURED_PREFIXES
                .iter()
                .find(|(p, _)| key.starts_with(p))
        })
        .map(|(_, why)| *why)
}

fn not_honoured(at: &str, key: &str, why: &str) -> String {
    if at == "-D" {
        format!("-D {key} is read but not honoured: {why}")
    } else {
        format!("{at}: {key} is read but not honoured: {why}")
    }
}

/// Where the last setting of `key` came from (for a message about its value).
fn setting_at(settings: &[Setting], key: &str) -> String {
    settings
        .iter()
        .rev()
        .find(|s| s.key.strip_prefix("zookeeper.").unwrap_or(&s.key) == key)
        .map_or_else(String::new, |s| s.at.clone())
}

/// An IP address, or a host name resolved as ZooKeeper's `InetSocketAddress` does
/// (an IPv4 address first when the name has both).
fn resolve(host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host name {host}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| format!("host name {host} has no address"))
}

fn split_property(line: &str) -> (&str, &str) {
    match line.find(['=', ':', ' ', '\t']) {
        Some(i) => {
            let key = line[..i].trim();
            let rest = line[i..].trim_start();
            let rest = rest
                .strip_prefix('=')
                .or_else(|| rest.strip_prefix(':'))
                .unwrap_or(rest);
            (key, rest.trim())
        }
        None => (line, ""),
    }
}

fn parse_positive(v: &str) -> Option<u32> {
    v.parse::<u32>().ok().filter(|n| *n > 0)
}

/// `admin.commandURL` as Jetty mounts it: one leading `/`, no trailing one.
fn command_url(v: &str) -> String {
    let trimmed = v.trim().trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// Java's `Boolean.parseBoolean`: only "true" (any case) is true.
fn java_bool(v: &str) -> bool {
    v.eq_ignore_ascii_case("true")
}

fn parse_bool(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes")
}

fn parse_int_maybe_hex(v: &str) -> Option<u32> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `*` means all; otherwise a comma-separated list (spaces allowed). ZooKeeper adds
/// `isro` only in read-only mode, which ringkeeper does not have.
fn parse_whitelist(v: &str) -> FourLetterWhitelist {
    let words: Vec<String> = v
        .split(',')
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| w == "*") {
        FourLetterWhitelist::All
    } else {
        FourLetterWhitelist::Only(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_typical_zoo_cfg() {
        let cfg = Config::parse(
            "# comment\ntickTime=1000\ndataDir=/tmp/zk\nclientPort=2190\nclientPortAddress = 127.0.0.2\n\
             maxClientCnxns=0\nzookeeper.4lw.commands.whitelist=ruok, srvr ,mntr\nextendedTypesEnabled=true\n\
             jute.maxbuffer=0x200000\nunknownKey=1\n",
            "zoo.cfg",
        )
        .expect("parses");
        assert_eq!(cfg.client_addr, "127.0.0.2:2190".parse().expect("addr"));
        assert_eq!(cfg.data_log_dir, PathBuf::from("/tmp/zk"));
        assert_eq!(cfg.min_session_timeout_ms, 2000);
        assert_eq!(cfg.max_session_timeout_ms, 20000);
        assert_eq!(cfg.max_client_cnxns, 0);
        assert!(cfg.four_letter_words.allows("mntr"));
        assert!(!cfg.four_letter_words.allows("dump"));
        assert!(cfg.extended_types_enabled);
        assert_eq!(cfg.jute_max_buffer, 0x200000);
    }

    #[test]
    fn digest_is_on_unless_turned_off() {
        let on = Config::parse("dataDir=/tmp/zk\nclientPort=2181\n", "zoo.cfg").expect("parses");
        assert!(on.digest_enabled);
        let off = Config::parse(
            "dataDir=/tmp/zk\nclientPort=2181\nzookeeper.digest.enabled=false\n",
            "zoo.cfg",
        )
        .expect("parses");
        assert!(!off.digest_enabled);
    }

    #[test]
    fn auth_providers_are_registered_as_zookeeper_registers_them() {
        let base = "dataDir=/d\nclientPort=1\n";
        let parse = |extra: &str| Config::parse(&format!("{base}{extra}"), "zoo.cfg");
        let schemes = |extra: &str| parse(extra).expect("parses").auth_providers.schemes();
        assert_eq!(schemes(""), ["ip", "digest"]);
        assert_eq!(
            schemes(&format!("authProvider.1={SASL_PROVIDER_CLASS}\n")),
            ["ip", "digest", "sasl"]
        );
        // The `zookeeper.` system property form is the same key.
        assert_eq!(
            schemes(&format!("zookeeper.authProvider.x={SASL_PROVIDER_CLASS}\n")),
            ["ip", "digest", "sasl"]
        );
        assert_eq!(
            schemes(&format!("authProvider.x509={X509_PROVIDER_CLASS}\n")),
            ["ip", "digest", "x509"]
        );
        // TLS serving clients registers x509 (configureSSLAuth).
        assert_eq!(schemes("secureClientPort=2\n"), ["ip", "digest", "x509"]);
        assert_eq!(
            schemes("secureClientPort=2\nssl.authProvider=x509\n"),
            ["ip", "digest", "x509"]
        );
        assert_eq!(
            schemes("client.portUnification=true\n"),
            ["ip", "digest", "x509"]
        );
        assert_eq!(
            schemes("DigestAuthenticationProvider.enabled=false\nauthProvider.1=com.example.X\n"),
            ["ip"]
        );
        let e = parse("secureClientPort=2\nssl.authProvider=foo\n").expect_err("no provider");
        assert!(
            e.to_string().contains("SSL authentication scheme 'foo'"),
            "{e}"
        );
        // Enforcement may require x509 once TLS registers it.
        let enforce = "enforce.auth.enabled=true\nenforce.auth.schemes=x509\n";
        let cfg = parse(&format!("secureClientPort=2\n{enforce}")).expect("parses");
        assert_eq!(cfg.enforce_auth_schemes, Some(vec!["x509".to_owned()]));
        let e = parse(enforce).expect_err("no x509 provider");
        assert!(e.to_string().contains("\"x509\" is not available"), "{e}");
    }

    #[test]
    fn sasl_login_from_the_jaas_file_as_zookeeper_finds_it() {
        let dir = std::env::temp_dir().join(format!("rk-cfg-jaas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let jaas = dir.join("jaas.conf");
        std::fs::write(
            &jaas,
            "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n \
             user_bob=\"b\";\n};\nOther { org.apache.zookeeper.server.auth.DigestLoginModule \
             required user_al=\"a\"; };\n",
        )
        .expect("jaas");
        let base = "dataDir=/d\nclientPort=1\n";
        let parse = |extra: &str| Config::parse(&format!("{base}{extra}"), "zoo.cfg");
        // No file: no login; the provider alone makes `sasl` requirable.
        let cfg = parse("").expect("parses");
        assert_eq!(cfg.sasl, SaslConfig::default());
        let cfg = parse("zookeeper.letAnySaslUserDoX=x\nkerberos.removeRealmFromPrincipal=true\n")
            .expect("parses");
        assert_eq!(
            cfg.auth_providers.let_any_sasl_user_do.as_deref(),
            Some("x")
        );
        assert!(
            cfg.warnings[0].contains("change nothing"),
            "{:?}",
            cfg.warnings
        );
        let cfg = parse(&format!(
            "authProvider.1={SASL_PROVIDER_CLASS}\nsessionRequireClientSASLAuth=true\n\
             zookeeper.superUser=bob\nsuperUser.2=al\nallowSaslFailedClients=true\n\
             SASLAuthenticationProvider.superPassword=sp\n"
        ))
        .expect("parses");
        assert!(cfg.sasl.provider);
        assert!(cfg.sasl.login.is_none());
        assert_eq!(cfg.enforce_auth_schemes, Some(vec!["sasl".to_owned()]));
        assert_eq!(cfg.sasl.super_users, ["bob", "al"]);
        assert!(cfg.sasl.allow_failed_clients);
        assert_eq!(cfg.sasl.super_password.as_deref(), Some("sp"));
        let e = parse(
            "authProvider.1=com.example.Other\nenforce.auth.enabled=true\n\
                       enforce.auth.schemes=sasl\n",
        )
        .expect_err("no sasl provider");
        assert!(e.to_string().contains("needs authProvider.1="), "{e}");
        // The file, as a zoo.cfg key; the section from sasl.serverconfig.
        let cfg = parse(&format!("{JAAS_KEY}={}\n", jaas.display())).expect("parses");
        let login = cfg.sasl.login.expect("login");
        assert_eq!(login.section, "Server");
        assert_eq!(login.users.password("bob"), Some("b"));
        let cfg = parse(&format!(
            "{JAAS_KEY}={}\nzookeeper.sasl.serverconfig=Other\n",
            jaas.display()
        ))
        .expect("parses");
        assert_eq!(
            cfg.sasl.login.expect("login").users.password("al"),
            Some("a")
        );
        // A file without the section: no SASL, a warning (an empty file, none).
        let cfg = parse(&format!(
            "{JAAS_KEY}={}\nsasl.serverconfig=Nope\n",
            jaas.display()
        ))
        .expect("parses");
        assert!(cfg.sasl.login.is_none());
        assert!(cfg
            .warnings
            .iter()
            .any(|w| w.contains("no section named 'Nope'")));
        let empty = dir.join("empty.conf");
        std::fs::write(&empty, "").expect("empty");
        let cfg = parse(&format!("{JAAS_KEY}={}\n", empty.display())).expect("parses");
        assert!(cfg.sasl.login.is_none());
        assert!(!cfg.warnings.iter().any(|w| w.contains("no section")));
        // Refused: a missing file, bad syntax, a Kerberos module, a section without a file.
        let missing = parse(&format!("{JAAS_KEY}={}\n", dir.join("nope").display()));
        assert!(missing
            .expect_err("missing")
            .to_string()
            .contains("cannot read the JAAS file"));
        let bad = dir.join("bad.conf");
        std::fs::write(&bad, "Server {\n x.Y required a=\"b\"\n};\n").expect("bad");
        let e = parse(&format!("{JAAS_KEY}={}\n", bad.display())).expect_err("bad");
        assert!(e.to_string().contains("bad.conf: line 3: expected"), "{e}");
        let krb = dir.join("krb.conf");
        std::fs::write(
            &krb,
            "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };",
        )
        .expect("krb");
        let e = parse(&format!("{JAAS_KEY}={}\n", krb.display())).expect_err("krb");
        assert!(e.to_string().contains("GSSAPI/Kerberos is not"), "{e}");
        let e = parse("sasl.serverconfig=Server\n").expect_err("no file");
        assert!(
            e.to_string().contains("No JAAS configuration section"),
            "{e}"
        );
        // From the JVM flags: after the file, before -D; JVMFLAGS after SERVER_JVMFLAGS.
        let jvm = jvm_flag_props(
            Some(&format!("-Xmx1g -D{JAAS_KEY}=/nope -Dother=1")),
            Some(&format!(
                "-D{JAAS_KEY}={} -Dzookeeper.sasl.serverconfig=Other",
                jaas.display()
            )),
        );
        assert_eq!(jvm.len(), 3);
        assert_eq!(jvm[0].0, "SERVER_JVMFLAGS");
        let file = dir.join("zoo.cfg");
        std::fs::write(&file, format!("{base}{JAAS_KEY}=/also-nope\n")).expect("zoo.cfg");
        let cfg = Config::load_with_jvm_flags(Some(&file), &[], &jvm).expect("loads");
        assert_eq!(cfg.sasl.login.expect("login").section, "Other");
        let cli = ["sasl.serverconfig=Server".to_owned()];
        let cfg = Config::load_with_jvm_flags(Some(&file), &cli, &jvm).expect("loads");
        assert_eq!(cfg.sasl.login.expect("login").section, "Server");
        let e = Config::load_with_jvm_flags(Some(&file), &[], &jvm[..1]).expect_err("nope");
        assert!(e.to_string().starts_with("SERVER_JVMFLAGS: "), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn quorum_core_auto_shares_only_beside_one_session_core() {
        let parse = |extra: &str| {
            Config::parse(&format!("dataDir=/d\nclientPort=1\n{extra}"), "f").expect("parses")
        };
        assert!(parse("").quorum_shared());
        assert!(!parse("cores=2\n").quorum_shared());
        assert!(parse("cores=2\nquorumCore=shared\n").quorum_shared());
        assert!(!parse("quorumCore=Dedicated\n").quorum_shared());
        assert!(Config::parse("dataDir=/d\nclientPort=1\nquorumCore=both\n", "f").is_err());
    }

    #[test]
    fn sync_inline_auto_follows_the_quorum_core() {
        let parse = |extra: &str| {
            Config::parse(&format!("dataDir=/d\nclientPort=1\n{extra}"), "f").expect("parses")
        };
        assert_eq!(parse("").sync_inline(), SyncInline::WhenNoReads);
        assert_eq!(parse("cores=2\n").sync_inline(), SyncInline::Always);
        assert_eq!(parse("syncInline=yes\n").sync_inline(), SyncInline::Always);
        assert_eq!(
            parse("cores=2\nsyncInline=no\n").sync_inline(),
            SyncInline::Never
        );
        assert!(Config::parse("dataDir=/d\nclientPort=1\nsyncInline=maybe\n", "f").is_err());
        let ensemble = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n";
        assert_eq!(parse(ensemble).sync_inline(), SyncInline::Never);
        assert_eq!(
            parse(&format!("{ensemble}cores=2\n")).sync_inline(),
            SyncInline::Never
        );
        assert_eq!(
            parse(&format!("{ensemble}syncInline=yes\n")).sync_inline(),
            SyncInline::Always
        );
    }

    #[test]
    fn a_members_client_address_comes_from_its_server_line_as_in_zookeeper() {
        let lines = "server.1=127.0.0.1:2888:3888;127.0.0.2:2181\n\
                     server.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890\n";
        let take = |extra: &str, myid| {
            let text = format!("dataDir=/d\ninitLimit=10\nsyncLimit=5\n{extra}{lines}");
            let mut cfg = Config::parse(&text, "zoo.cfg")?;
            let q = QuorumConfig::parse(&text, "zoo.cfg", myid)?;
            cfg.take_client_address(&q).map(|()| cfg)
        };
        // No clientPort: the line's address (a bare port is the wildcard).
        let cfg = take("", 1).expect("server.1");
        assert!(cfg.plaintext_port);
        assert_eq!(cfg.client_addr, "127.0.0.2:2181".parse().expect("addr"));
        let cfg = take("", 2).expect("server.2");
        assert_eq!(cfg.client_addr, "0.0.0.0:2182".parse().expect("addr"));
        // Both, agreeing: the same port on the wildcard, or the same address.
        assert!(take("clientPort=2181\n", 1).is_ok());
        assert!(take("clientPort=2181\nclientPortAddress=127.0.0.2\n", 1).is_ok());
        // Both, disagreeing: ZooKeeper's complaint.
        for extra in [
            "clientPort=2182\n",
            "clientPort=2181\nclientPortAddress=127.0.0.3\n",
        ] {
            let err = take(extra, 1).expect_err(extra).to_string();
            assert!(
                err.contains("is different from client address found"),
                "{err}"
            );
        }
        // A member with neither: no port to serve on.
        let err = take("", 3).expect_err("server.3").to_string();
        assert!(err.contains("no port to serve clients on"), "{err}");
        // Its clientPort alone still does.
        assert!(take("clientPort=2183\n", 3).is_ok());
    }

    #[test]
    fn peer_type_is_the_ensembles_to_check_not_a_key_without_effect() {
        // `QuorumConfig` compares it with the member's server line and warns when they
        // disagree, as ZooKeeper does; the server config says nothing about it.
        let cfg = Config::parse("dataDir=/d\nclientPort=1\npeerType=observer\n", "zoo.cfg")
            .expect("parses");
        assert!(
            !cfg.warnings.iter().any(|w| w.contains("peerType")),
            "{:?}",
            cfg.warnings
        );
    }

    #[test]
    fn snapshot_size_factor_is_read_as_zookeeper_reads_it() {
        let parse = |extra: &str| {
            Config::parse(&format!("dataDir=/d\nclientPort=1\n{extra}"), "f").expect("parses")
        };
        assert_eq!(parse("").snapshot_size_factor, 0.33);
        assert_eq!(parse("snapshotSizeFactor=-1\n").snapshot_size_factor, -1.0);
        assert_eq!(
            parse("zookeeper.snapshotSizeFactor=0.5\n").snapshot_size_factor,
            0.5
        );
        // Not a number, or above 1: the default, with a warning (`ZKDatabase`).
        for bad in ["2", "lots"] {
            let cfg = parse(&format!("snapshotSizeFactor={bad}\n"));
            assert_eq!(cfg.snapshot_size_factor, 0.33, "{bad}");
            assert!(
                cfg.warnings
                    .iter()
                    .any(|w| w.contains("snapshotSizeFactor")),
                "{:?}",
                cfg.warnings
            );
        }
    }

    #[test]
    fn spin_before_park_is_read_and_bounded() {
        let cfg =
            Config::parse("dataDir=/d\nclientPort=1\nspinBeforeParkUs=0\n", "f").expect("parses");
        assert_eq!(cfg.spin_before_park_us, 0);
        let d = Config::parse("dataDir=/d\nclientPort=1\n", "f").expect("parses");
        assert_eq!(d.spin_before_park_us, SPIN_BEFORE_PARK_US_DEFAULT);
        for bad in ["-1", "soon", "2000000"] {
            let text = format!("dataDir=/d\nclientPort=1\nspinBeforeParkUs={bad}\n");
            assert!(Config::parse(&text, "f").is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn star_allows_every_word_and_default_is_srvr_only() {
        let cfg = Config::parse("dataDir=/d\nclientPort=1\n4lw.commands.whitelist=*\n", "f")
            .expect("parses");
        assert!(cfg.four_letter_words.allows("dump"));
        let d = Config::embedded_default();
        assert!(d.four_letter_words.allows("srvr"));
        assert!(!d.four_letter_words.allows("ruok"));
    }

    #[test]
    fn missing_data_dir_or_port_is_an_error() {
        assert!(Config::parse("clientPort=1\n", "f").is_err());
        assert!(Config::parse("dataDir=/d\n", "f").is_err());
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let err =
            Config::parse("dataDir=/d\nclientPort=notaport\n", "zoo.cfg").expect_err("must fail");
        assert_eq!(err.to_string(), "zoo.cfg:2: clientPort: not a port");
    }

    #[test]
    fn session_timeout_bounds_follow_tick_and_are_checked() {
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\ntickTime=500\nminSessionTimeout=-1\n",
            "f",
        )
        .expect("parses");
        assert_eq!(
            (cfg.min_session_timeout_ms, cfg.max_session_timeout_ms),
            (1000, 10000)
        );
        assert!(Config::parse(
            "dataDir=/d\nclientPort=1\nminSessionTimeout=9000\nmaxSessionTimeout=100\n",
            "f"
        )
        .is_err());
    }
    #[test]
    fn admin_server_keys_as_zookeeper_reads_them() {
        let cfg = Config::parse("dataDir=/d\nclientPort=1\n", "f").expect("parses");
        let admin = cfg.admin.expect("on by default, as in ZooKeeper");
        assert_eq!(admin.addr, "0.0.0.0:8080".parse().expect("addr"));
        assert_eq!(admin.command_url, "/commands");
        assert_eq!(admin.idle_timeout_ms, 30_000);
        // ZooKeeper 3.9: snapshot and restore on, once per 5 minutes.
        assert!(admin.snapshot_enabled && admin.restore_enabled);
        assert_eq!(admin.rate_limit_interval_ms, 300_000);
        assert!(admin.serialize_last_processed_zxid);
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nadmin.serverAddress=127.0.0.2\nadmin.serverPort=9\n\
             zookeeper.admin.commandURL=cmds/\nadmin.idleTimeout=500\n\
             admin.snapshot.enabled=no\nzookeeper.admin.restore.enabled=False\n\
             admin.rateLimiterIntervalInMS=0\nserializeLastProcessedZxid.enabled=false\n",
            "f",
        )
        .expect("parses");
        let admin = cfg.admin.expect("on");
        assert_eq!(admin.addr, "127.0.0.2:9".parse().expect("addr"));
        assert_eq!(admin.command_url, "/cmds");
        assert_eq!(admin.idle_timeout_ms, 500);
        assert!(!admin.snapshot_enabled && !admin.restore_enabled);
        assert_eq!(admin.rate_limit_interval_ms, 0);
        assert!(!admin.serialize_last_processed_zxid);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        // Java's parseBoolean: anything but "true" turns it off.
        for off in ["false", "no", "0"] {
            let cfg = Config::parse(
                &format!("dataDir=/d\nclientPort=1\nadmin.enableServer={off}\n"),
                "f",
            )
            .expect("parses");
            assert!(cfg.admin.is_none(), "{off}");
        }
        assert!(Config::parse("dataDir=/d\nclientPort=1\nadmin.serverPort=x\n", "f").is_err());
        let embedded = Config::embedded_default().admin.expect("on");
        assert!(embedded.addr.ip().is_loopback(), "{embedded:?}");
    }

    #[test]
    fn enforce_quota_and_enforced_auth_are_read_as_zookeeper_reads_them() {
        let parse = |extra: &str| Config::parse(&format!("dataDir=/d\nclientPort=1\n{extra}"), "f");
        let cfg = parse("").expect("parses");
        assert!(!cfg.enforce_quota);
        assert_eq!(cfg.enforce_auth_schemes, None);
        let cfg = parse(
            "enforceQuota=TRUE\nzookeeper.enforce.auth.enabled=true\n\
             enforce.auth.schemes= digest , ip\n",
        )
        .expect("parses");
        assert!(cfg.enforce_quota);
        assert_eq!(
            cfg.enforce_auth_schemes,
            Some(vec!["digest".to_owned(), "ip".to_owned()])
        );
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        // Java's parseBoolean; schemes alone enforce nothing.
        let cfg = parse("enforceQuota=yes\nenforce.auth.enabled=1\nenforce.auth.schemes=digest\n")
            .expect("parses");
        assert!(!cfg.enforce_quota);
        assert_eq!(cfg.enforce_auth_schemes, None);
        // What AuthenticationHelper refuses to start with.
        for bad in [
            "enforce.auth.enabled=true\n",
            "enforce.auth.enabled=true\nenforce.auth.schemes=digest,x509\n",
            "enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n",
            // Requires sasl whatever the other keys say.
            "enforce.auth.enabled=true\nenforce.auth.schemes=digest\nsessionRequireClientSASLAuth=true\n",
            "sessionRequireClientSASLAuth=true\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = parse("sessionRequireClientSASLAuth=true\n").expect_err("refused");
        assert!(e.to_string().contains("sasl is not available"), "{e}");
        assert!(parse("sessionRequireClientSASLAuth=false\n").is_ok());
    }

    #[test]
    fn keys_not_honoured_are_warned_with_where_they_came_from() {
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nsyncEnabled=true\nsslQuorumReloadCertFiles=true\n\
             admin.httpVersion=2\nssl.quorum.ocsp=true\nskipACL=yes\nnoSuchKey=1\n\
             sslQuorum=true\nssl.quorum.hostnameVerification=false\n",
            "zoo.cfg",
        )
        .expect("parses");
        let w = cfg.warnings.join("\n");
        for needle in [
            "zoo.cfg:3: syncEnabled is read but not honoured: an ensemble setting",
            "zoo.cfg:4: sslQuorumReloadCertFiles is read but not honoured: the quorum's",
            "zoo.cfg:5: admin.httpVersion is read but not honoured: the AdminServer serves",
            "zoo.cfg:6: ssl.quorum.ocsp is read but not honoured: only the",
            "zoo.cfg:7: skipACL is read but not honoured: ACLs are always checked",
            "zoo.cfg:8: unknown key noSuchKey ignored",
        ] {
            assert!(w.contains(needle), "missing {needle:?} in:\n{w}");
        }
        // Keys it honours say nothing (the quorum's TLS keys are an ensemble's).
        assert!(!w.contains("dataDir") && !w.contains("clientPort"), "{w}");
        assert!(!w.contains(":9:") && !w.contains(":10:"), "{w}");
    }

    #[test]
    fn the_secure_client_port_and_its_ssl_keys_are_read() {
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nsecureClientPort=2281\nsecureClientPortAddress=127.0.0.2\n\
             ssl.keyStore.location=/k.p12\nssl.keyStore.password=pw\n\
             ssl.trustStore.location=/t.jks\nssl.trustStore.type=PEM\nssl.clientAuth=want\n\
             ssl.enabledProtocols=TLSv1.2, TLSv1.3\nssl.hostnameVerification=false\n\
             ssl.crl=true\nzookeeper.X509AuthenticationProvider.superUser=CN=admin\n",
            "zoo.cfg",
        )
        .expect("parses");
        let tls = cfg.tls.expect("a secure port");
        assert_eq!(tls.addr, Some("127.0.0.2:2281".parse().expect("addr")));
        assert!(!tls.port_unification && !tls.cert_reload);
        assert!(tls.crl && !tls.ocsp);
        assert_eq!(tls.key_store.location, "/k.p12");
        assert_eq!(tls.key_store.password, "pw");
        assert_eq!(tls.trust_store.store_type.as_deref(), Some("PEM"));
        assert_eq!(tls.client_auth, ClientAuth::Want);
        assert_eq!(
            tls.enabled_protocols,
            Some(vec!["TLSv1.2".to_owned(), "TLSv1.3".to_owned()])
        );
        assert_eq!(tls.x509_super_user.as_deref(), Some("CN=admin"));
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        let bad = Config::parse(
            "dataDir=/d\nclientPort=1\nsecureClientPort=2281\nssl.clientAuth=maybe\n",
            "zoo.cfg",
        )
        .expect_err("a bad clientAuth");
        assert!(bad.to_string().contains("ssl.clientAuth"), "{bad}");
        // Port unification alone: TLS on the client port, no secure port.
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nzookeeper.client.portUnification=true\n\
             client.certReload=true\nssl.keyStore.location=/k.pem\n",
            "zoo.cfg",
        )
        .expect("parses");
        let tls = cfg.tls.expect("TLS on the client port");
        assert_eq!(tls.addr, None);
        assert!(tls.port_unification && tls.cert_reload);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nclient.certReload=true\n",
            "zoo.cfg",
        )
        .expect("parses");
        assert!(cfg.tls.is_none());
        assert!(
            cfg.warnings.iter().any(|w| w.contains("no TLS is served")),
            "{:?}",
            cfg.warnings
        );
    }

    #[test]
    fn a_password_path_wins_over_the_password_in_any_order() {
        let dir = std::env::temp_dir().join(format!("rk-cfg-pwpath-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\n").expect("write");
        let f = file.display();
        // Every store prefix, with `.passwordPath` first and `.password` after it (the
        // order where the last one read used to win), and the other way round.
        let mut text = "dataDir=/d\nclientPort=1\nsecureClientPort=2281\n\
                        admin.forceHttps=true\nadmin.needClientAuth=true\n"
            .to_owned();
        for (i, prefix) in [
            "ssl.keyStore",
            "ssl.trustStore",
            "ssl.quorum.keyStore",
            "ssl.quorum.trustStore",
        ]
        .iter()
        .enumerate()
        {
            text += &format!("{prefix}.location=/s{i}.jks\n");
            if i % 2 == 0 {
                text += &format!("{prefix}.passwordPath={f}\n{prefix}.password=inline\n");
            } else {
                text += &format!("{prefix}.password=inline\n{prefix}.passwordPath={f}\n");
            }
        }
        let cfg = Config::parse(&text, "zoo.cfg").expect("parses");
        let tls = cfg.tls.expect("a secure port");
        let admin = cfg.admin.and_then(|a| a.tls).expect("admin TLS");
        for s in [
            &tls.key_store,
            &tls.trust_store,
            &admin.key_store,
            &admin.trust_store,
        ] {
            assert_eq!(s.password, "from-file", "{s:?}");
        }
        // An empty `.passwordPath` is no path: the password stands.
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=1\nsecureClientPort=2281\n\
             ssl.keyStore.password=inline\nssl.keyStore.passwordPath=\n",
            "zoo.cfg",
        )
        .expect("parses");
        assert_eq!(cfg.tls.expect("tls").key_store.password, "inline");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flags_are_named_as_flags_and_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("rk-cfg-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("zoo.cfg");
        std::fs::write(&file, "dataDir=/d\nclientPort=1\ntickTime=1000\n").expect("write");
        let props = vec![
            "zookeeper.tickTime=3000".to_owned(),
            "mystery=1".to_owned(),
            "maxClientCnxns=x".to_owned(),
        ];
        let err = Config::load(Some(&file), &props).expect_err("bad flag value");
        assert_eq!(err.to_string(), "-D: maxClientCnxns: not a count");
        let cfg = Config::load(Some(&file), &props[..2]).expect("loads");
        assert_eq!(cfg.tick_time_ms, 3000);
        assert_eq!(
            cfg.warnings,
            vec!["-D mystery: unknown setting ignored".to_owned()]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flags_alone_adjust_the_embedded_default() {
        let cfg = Config::load(None, &["clientPort=2999".to_owned()]).expect("loads");
        assert_eq!(cfg.client_addr, "127.0.0.1:2999".parse().expect("addr"));
        assert_eq!(cfg.data_dir, PathBuf::from("ringkeeper-data"));
        let cfg = Config::load(None, &["dataDir=/x".to_owned()]).expect("loads");
        assert_eq!(cfg.data_log_dir, PathBuf::from("/x"));
        let none = Config::load(None, &[]).expect("loads");
        assert_eq!(none.client_addr, Config::embedded_default().client_addr);
        assert!(none.warnings.is_empty());
    }

    #[test]
    fn an_ensemble_is_an_ensemble_unless_forced_and_one_server_line_is_standalone() {
        let three = "dataDir=/d\nclientPort=1\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n\
                     server.3=c:2888:3888;2181\n";
        assert!(
            Config::parse(three, "zoo.cfg")
                .expect("an ensemble")
                .ensemble
        );
        let forced =
            Config::parse(&format!("{three}forceStandalone=true\n"), "zoo.cfg").expect("forced");
        assert!(!forced.ensemble);
        assert!(forced
            .warnings
            .iter()
            .any(|w| w.contains("forceStandalone is set")));
        let one = Config::parse("dataDir=/d\nclientPort=1\nserver.1=a:2888:3888\n", "f")
            .expect("one server line");
        assert!(one
            .warnings
            .iter()
            .any(|w| w.contains("running standalone")));
    }

    #[test]
    fn the_ensemble_check_reads_the_dynamic_config_file() {
        let dir = std::env::temp_dir().join(format!("rk-cfg-dyn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let dynamic = dir.join("zoo.cfg.dynamic");
        std::fs::write(&dynamic, "server.1=a:1:2\nserver.2=b:1:2\n").expect("write");
        let text = format!(
            "dataDir=/d\nclientPort=1\ndynamicConfigFile={}\n",
            dynamic.display()
        );
        assert!(
            Config::parse(&text, "zoo.cfg")
                .expect("an ensemble")
                .ensemble
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn client_port_address_may_be_a_host_name() {
        let cfg = Config::parse(
            "dataDir=/d\nclientPort=5\nclientPortAddress=localhost\n",
            "f",
        )
        .expect("parses");
        assert!(cfg.client_addr.ip().is_loopback(), "{}", cfg.client_addr);
        let err = Config::parse(
            "dataDir=/d\nclientPort=5\nclientPortAddress=no-such-host.invalid\n",
            "f",
        )
        .expect_err("unresolvable");
        assert!(
            err.to_string()
                .starts_with("f:3: clientPortAddress: cannot resolve"),
            "{err}"
        );
    }
}

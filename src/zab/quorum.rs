//! The ensemble's membership and its majority rule: ZooKeeper's `QuorumMaj` over
//! `QuorumPeer.QuorumServer` entries, and the config text both print (§9.2 of the
//! quorum reference).
//!
//! The text matters on the wire: every FLE notification carries the sender's committed
//! config, and a LOOKING Java server that receives a *newer* config with a different
//! member set restarts its election. So the text is built here exactly as Java prints
//! it, member order included.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::vote::LearnerType;
use super::wire::java_host_string;
use super::Sid;

/// One `server.N=` entry (`QuorumPeer.QuorumServer`), with a single address (ZooKeeper's
/// `multiAddress.enabled`, off by default, is not supported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: Sid,
    /// The quorum address's host as written in the config (hostname or IP literal,
    /// IPv6 without brackets); IP literals are printed in Java's form.
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub learner_type: LearnerType,
    /// The client address from the `;[host:]port` part. `None` when the client port
    /// came from the static `clientPort` key: ZooKeeper then leaves it out of the text.
    /// A bare `;port` means the wildcard, printed `0.0.0.0`.
    pub client: Option<(String, u16)>,
}

impl QuorumServer {
    /// The value of the `server.N=` line as `QuorumServer.toString()` prints it:
    /// `host:qport:eport:participant|observer[;chost:cport]`.
    pub fn config_value(&self) -> String {
        let role = match self.learner_type {
            LearnerType::Participant => "participant",
            LearnerType::Observer => "observer",
        };
        let mut s = format!(
            "{}:{}:{}:{}",
            delimited_host(&self.host),
            self.quorum_port,
            self.election_port,
            role
        );
        if let Some((host, port)) = &self.client {
            s.push_str(&format!(";{}:{}", delimited_host(host), port));
        }
        s
    }
}

/// `QuorumServer.delimitedHostString` of a host Java resolved: IP literals in Java's
/// form, IPv6 ones in brackets.
fn delimited_host(host: &str) -> String {
    let host = java_host_string(host);
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    }
}

/// Why a member set cannot form a quorum configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("server.{0} is listed twice")]
    DuplicateId(Sid),
    #[error("the configuration has no voting member")]
    NoVoters,
}

/// `QuorumMaj`: a majority of the voting members (participants) is a quorum; observers
/// never count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMaj {
    servers: BTreeMap<Sid, QuorumServer>,
    voters: BTreeSet<Sid>,
    version: i64,
    /// `voters / 2`: a set is a quorum when it holds more voters than this.
    half: usize,
    /// The text, built once: every notification sends it.
    text: Bytes,
}

impl QuorumMaj {
    /// A configuration of `servers` at `version` (0 unless a dynamic config file or a
    /// reconfig set one).
    pub fn new(servers: Vec<QuorumServer>, version: i64) -> Result<QuorumMaj, QuorumError> {
        let mut map = BTreeMap::new();
        for s in servers {
            let id = s.id;
            if map.insert(id, s).is_some() {
                return Err(QuorumError::DuplicateId(id));
            }
        }
        let voters: BTreeSet<Sid> = map
            .values()
            .filter(|s| s.learner_type == LearnerType::Participant)
            .map(|s| s.id)
            .collect();
        if voters.is_empty() {
            return Err(QuorumError::NoVoters);
        }
        let text = Bytes::from(config_text(map.values(), version));
        Ok(QuorumMaj {
            half: voters.len() / 2,
            servers: map,
            voters,
            version,
            text,
        })
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn server(&self, sid: Sid) -> Option<&QuorumServer> {
        self.servers.get(&sid)
    }

    pub fn servers(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers.values()
    }

    /// The voting members, in ascending sid order.
    pub fn voters(&self) -> impl Iterator<Item = Sid> + '_ {
        self.voters.iter().copied()
    }

    pub fn is_voter(&self, sid: Sid) -> bool {
        self.voters.contains(&sid)
    }

    /// `QuorumMaj.getWeight`: 1 for every id, members or not (Java does the same; only
    /// hierarchical quorums, not supported here, give weight 0).
    pub fn weight(&self, _sid: Sid) -> u64 {
        1
    }

    /// `SyncedLearnerTracker.addAck` + `QuorumMaj.containsQuorum`: more than half of the
    /// voters are among `acks`. Non-voters in `acks` are ignored, as the tracker never
    /// adds them.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a Sid>) -> bool {
        let voting = acks.into_iter().filter(|s| self.is_voter(**s)).count();
        voting > self.half
    }

    /// The config text (`QuorumMaj.toString()`), as sent in notifications.
    pub fn text(&self) -> &Bytes {
        &self.text
    }
}

/// The config text ZooKeeper prints for `servers` at `version` (`QuorumMaj.toString()`):
/// one `server.N=value\n` line per member, then `version=<hex>` with no newline.
///
/// Members come in the order of Java's `HashMap<Long, _>` iteration, which is what
/// `QuorumMaj` keeps them in: by bucket (the sid's hash masked by the table size), which
/// for sids below the table size (16 up to 12 members) is ascending order. Sids that
/// share a bucket are printed in ascending order here; Java prints them in insertion
/// order, which depends on its `Properties` iteration and is not reproduced.
pub fn config_text<'a>(
    servers: impl IntoIterator<Item = &'a QuorumServer>,
    version: i64,
) -> String {
    let mut list: Vec<&QuorumServer> = servers.into_iter().collect();
    let capacity = java_hashmap_capacity(list.len());
    list.sort_by_key(|s| (java_hashmap_bucket(s.id, capacity), s.id));
    let mut text = String::new();
    for s in list {
        text.push_str(&format!("server.{}={}\n", s.id, s.config_value()));
    }
    // Long.toHexString prints the two's complement of a negative version.
    text.push_str(&format!("version={:x}", version as u64));
    text
}

/// The table size of a `java.util.HashMap` after `n` insertions from empty: 16, doubled
/// whenever the size passes three quarters of it.
fn java_hashmap_capacity(n: usize) -> usize {
    let mut capacity = 16;
    while n > capacity / 4 * 3 {
        capacity *= 2;
    }
    capacity
}

/// The bucket of a `Long` key: `Long.hashCode` spread by `HashMap.hash`, masked.
fn java_hashmap_bucket(sid: Sid, capacity: usize) -> usize {
    let h = (sid ^ ((sid as u64) >> 32) as i64) as i32;
    let spread = h ^ ((h as u32) >> 16) as i32;
    (spread as u32 as usize) & (capacity - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: Sid, t: LearnerType) -> QuorumServer {
        QuorumServer {
            id,
            host: "127.0.0.1".into(),
            quorum_port: 2888 + id as u16,
            election_port: 3888 + id as u16,
            learner_type: t,
            client: None,
        }
    }

    #[test]
    fn config_text_as_zookeeper_prints_it() {
        let mut servers = vec![
            server(1, LearnerType::Participant),
            server(2, LearnerType::Participant),
            server(3, LearnerType::Observer),
        ];
        servers[1].client = Some(("0.0.0.0".into(), 2181));
        servers[2].host = "::1".into();
        servers[2].client = Some(("fe80::1".into(), 2182));
        let q = QuorumMaj::new(servers, 0x1_0000_0000).unwrap();
        assert_eq!(
            std::str::from_utf8(q.text()).unwrap(),
            "server.1=127.0.0.1:2889:3889:participant\n\
             server.2=127.0.0.1:2890:3890:participant;0.0.0.0:2181\n\
             server.3=[0:0:0:0:0:0:0:1]:2891:3891:observer;[fe80:0:0:0:0:0:0:1]:2182\n\
             version=100000000"
        );
    }

    #[test]
    fn members_come_in_java_hashmap_order() {
        // 20 lands in bucket 4 of a 16-slot table, before 5.
        let servers: Vec<QuorumServer> = [5, 20, 1]
            .iter()
            .map(|&id| server(id, LearnerType::Participant))
            .collect();
        let text = config_text(&servers, 0);
        let ids: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        assert_eq!(ids, ["server.1", "server.20", "server.5", "version"]);
        assert_eq!(java_hashmap_capacity(12), 16);
        assert_eq!(java_hashmap_capacity(13), 32);
        // Large ids mix the high half into the hash.
        assert_eq!(java_hashmap_bucket(1 << 32, 16), 1);
        assert_eq!(java_hashmap_bucket(0x10000, 16), 1);
    }

    #[test]
    fn negative_version_prints_as_java_tohexstring() {
        assert!(config_text(&[], -1).ends_with("version=ffffffffffffffff"));
    }

    #[test]
    fn majority_counts_only_voters() {
        let q = QuorumMaj::new(
            vec![
                server(1, LearnerType::Participant),
                server(2, LearnerType::Participant),
                server(3, LearnerType::Participant),
                server(4, LearnerType::Observer),
            ],
            0,
        )
        .unwrap();
        assert!(!q.contains_quorum(&[1]));
        assert!(!q.contains_quorum(&[1, 4]));
        assert!(!q.contains_quorum(&[1, 4, 99]));
        assert!(q.contains_quorum(&[1, 3]));
        assert_eq!(q.voters().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(!q.is_voter(4));
        assert_eq!(q.weight(4), 1);
    }

    #[test]
    fn duplicate_ids_and_voterless_configs_are_refused() {
        assert_eq!(
            QuorumMaj::new(
                vec![
                    server(1, LearnerType::Participant),
                    server(1, LearnerType::Participant)
                ],
                0
            ),
            Err(QuorumError::DuplicateId(1))
        );
        assert_eq!(
            QuorumMaj::new(vec![server(1, LearnerType::Observer)], 0),
            Err(QuorumError::NoVoters)
        );
    }
}

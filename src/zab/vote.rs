//! Votes and their order, as ZooKeeper's `Vote.java` and
//! `FastLeaderElection.totalOrderPredicate` define them.
//!
//! Two comparisons exist and must not be mixed up: the *order* of proposals
//! ([`total_order_predicate`]: which leader is better) and the *agreement* of votes
//! ([`Vote::agrees_with`], Java's `Vote.equals`: does this vote count toward a quorum for
//! that one). Agreement is looser for servers that are out of the election, on purpose
//! (ZOOKEEPER-1732, ZOOKEEPER-1805).

use super::{Sid, Zxid};

/// `QuorumPeer.ServerState`; its ordinal is what goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl ServerState {
    /// The ordinal ZooKeeper writes in a notification.
    pub fn code(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
        }
    }

    /// `None` for a value ZooKeeper does not know; such a notification is dropped.
    pub fn from_code(code: i32) -> Option<ServerState> {
        match code {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }
}

/// `QuorumPeer.LearnerType`: whether a server votes. It decides the initial vote and
/// whether a server that loses the election follows or observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnerType {
    Participant,
    Observer,
}

/// What a server proposes as leader: the triple `totalOrderPredicate` compares
/// (`proposedLeader`, `proposedZxid`, `proposedEpoch` in Java).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proposal {
    pub leader: Sid,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's `currentEpoch`.
    pub peer_epoch: i64,
}

impl Proposal {
    /// The vote of an observer, which every voter's vote beats: `(MIN, MIN, MIN)`.
    pub const OBSERVER: Proposal = Proposal {
        leader: i64::MIN,
        zxid: i64::MIN,
        peer_epoch: i64::MIN,
    };
}

/// `FastLeaderElection.totalOrderPredicate`: does `new` beat `current`?
///
/// A vote for a server of weight 0 never wins. Otherwise the larger
/// `(peer_epoch, zxid, leader)` wins, compared in that order. `new_weight` is the
/// quorum's weight for `new.leader`; a majority quorum gives every id weight 1, so there
/// the rule never fires (only hierarchical quorums have weight-0 servers).
pub fn total_order_predicate(new: Proposal, new_weight: u64, current: Proposal) -> bool {
    if new_weight == 0 {
        return false;
    }
    (new.peer_epoch, new.zxid, new.leader) > (current.peer_epoch, current.zxid, current.leader)
}

/// `Vote.java`: a vote with the election round it was cast in and the state of the server
/// that cast it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The notification format version the vote came with; 0 for votes built locally.
    /// Only whether it is above 0 matters ([`Vote::agrees_with`]).
    pub version: i32,
    /// The proposed leader.
    pub id: Sid,
    pub zxid: Zxid,
    /// The round (`logicalclock`) the vote was cast in; −1 for a vote never cast.
    pub election_epoch: i64,
    pub peer_epoch: i64,
    pub state: ServerState,
}

impl Vote {
    /// `new Vote(id, zxid, electionEpoch, peerEpoch)`: version 0, LOOKING.
    pub fn new(id: Sid, zxid: Zxid, election_epoch: i64, peer_epoch: i64) -> Vote {
        Vote {
            version: 0,
            id,
            zxid,
            election_epoch,
            peer_epoch,
            state: ServerState::Looking,
        }
    }

    /// The proposal this vote is for.
    pub fn proposal(&self) -> Proposal {
        Proposal {
            leader: self.id,
            zxid: self.zxid,
            peer_epoch: self.peer_epoch,
        }
    }

    /// Java's `Vote.equals`, which decides whether two votes count as the same in a
    /// quorum.
    ///
    /// - If either is LOOKING, `id`, `zxid`, `election_epoch` and `peer_epoch` must all
    ///   match.
    /// - Otherwise only `id` and `peer_epoch`: a server out of the election reports the
    ///   round and zxid of its own election, which differ between servers that joined at
    ///   different times (ZOOKEEPER-1805).
    /// - And only `id` when exactly one vote has version 0, because servers without
    ///   ZOOKEEPER-1732 report a different `peer_epoch`.
    pub fn agrees_with(&self, other: &Vote) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            return self.id == other.id
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch;
        }
        if (self.version > 0) != (other.version > 0) {
            return self.id == other.id;
        }
        self.id == other.id && self.peer_epoch == other.peer_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(leader: Sid, zxid: Zxid, peer_epoch: i64) -> Proposal {
        Proposal {
            leader,
            zxid,
            peer_epoch,
        }
    }

    #[test]
    fn server_state_codes_are_zookeepers_ordinals() {
        for (s, c) in [
            (ServerState::Looking, 0),
            (ServerState::Following, 1),
            (ServerState::Leading, 2),
            (ServerState::Observing, 3),
        ] {
            assert_eq!(s.code(), c);
            assert_eq!(ServerState::from_code(c), Some(s));
        }
        assert_eq!(ServerState::from_code(4), None);
        assert_eq!(ServerState::from_code(-1), None);
    }

    #[test]
    fn total_order_compares_epoch_then_zxid_then_id() {
        // A higher epoch wins even with a lower zxid and id.
        assert!(total_order_predicate(p(1, 5, 3), 1, p(9, 100, 2)));
        // Same epoch: the higher zxid wins.
        assert!(total_order_predicate(p(1, 6, 3), 1, p(9, 5, 3)));
        assert!(!total_order_predicate(p(9, 5, 3), 1, p(1, 6, 3)));
        // Same epoch and zxid: the higher id wins; an equal vote does not.
        assert!(total_order_predicate(p(3, 5, 3), 1, p(2, 5, 3)));
        assert!(!total_order_predicate(p(3, 5, 3), 1, p(3, 5, 3)));
        // Every voter beats an observer's (MIN, MIN, MIN).
        assert!(total_order_predicate(p(1, 0, 0), 1, Proposal::OBSERVER));
        assert!(!total_order_predicate(Proposal::OBSERVER, 1, p(1, 0, 0)));
    }

    #[test]
    fn a_weight_zero_server_never_wins() {
        assert!(!total_order_predicate(p(7, 100, 100), 0, p(1, 0, 0)));
        assert!(!total_order_predicate(
            p(7, 100, 100),
            0,
            Proposal::OBSERVER
        ));
    }

    #[test]
    fn looking_votes_agree_only_when_all_four_fields_match() {
        let a = Vote::new(3, 0x100, 2, 1);
        assert!(a.agrees_with(&a));
        assert!(!a.agrees_with(&Vote { zxid: 0x101, ..a }));
        assert!(!a.agrees_with(&Vote {
            election_epoch: 3,
            ..a
        }));
        assert!(!a.agrees_with(&Vote { peer_epoch: 2, ..a }));
        // One LOOKING side is enough to require the full match.
        let following = Vote {
            state: ServerState::Following,
            election_epoch: 9,
            ..a
        };
        assert!(!a.agrees_with(&following));
        assert!(!following.agrees_with(&a));
    }

    #[test]
    fn out_of_election_votes_compare_id_and_peer_epoch() {
        let base = Vote {
            version: 2,
            id: 3,
            zxid: 0x100,
            election_epoch: 2,
            peer_epoch: 1,
            state: ServerState::Following,
        };
        let leading_elsewhere = Vote {
            zxid: 0x999,
            election_epoch: 7,
            state: ServerState::Leading,
            ..base
        };
        assert!(base.agrees_with(&leading_elsewhere));
        assert!(!base.agrees_with(&Vote {
            peer_epoch: 2,
            ..leading_elsewhere
        }));
        assert!(!base.agrees_with(&Vote { id: 2, ..base }));
    }

    #[test]
    fn version_zero_against_a_newer_vote_compares_only_the_id() {
        // ZOOKEEPER-1732: a pre-1732 server reports another peer_epoch.
        let new = Vote {
            version: 2,
            id: 3,
            zxid: 1,
            election_epoch: 2,
            peer_epoch: 5,
            state: ServerState::Following,
        };
        let old = Vote {
            version: 0,
            peer_epoch: 4,
            ..new
        };
        assert!(new.agrees_with(&old));
        assert!(old.agrees_with(&new));
        // Both version 0: the peer epoch counts again.
        let old2 = Vote {
            version: 0,
            peer_epoch: 5,
            ..new
        };
        assert!(!old.agrees_with(&old2));
    }
}

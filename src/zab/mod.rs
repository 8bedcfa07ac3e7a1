//! ZAB, ZooKeeper's replication protocol, as pure code: the bytes of ZooKeeper's own
//! server-to-server protocol (`wire`) and the protocol's decisions as state machines
//! that take inputs and return actions: `fle` (fast leader election), `leader` and
//! `learner` (discovery, synchronization, broadcast), over `history` (the part of the
//! log they reason about).
//!
//! Everything here is pure: no sockets, no files, no clock reads and no randomness of its
//! own (`tests/tidy.rs` enforces it). Time enters as `now_ms` arguments; a driver in
//! `server/` owns the sockets and timers and executes the actions. That keeps every rule
//! testable by feeding inputs and comparing whole action lists, and lets a seeded
//! simulator run many servers in one thread.
//!
//! Names follow Apache ZooKeeper's Java classes for data (`QuorumPacket`, `Vote`,
//! `QuorumMaj`) and its TLA+ system specification for actions (`FLEReceiveNotmsg`,
//! `FLEHandleNotmsg`, ...). `docs/zab.md` maps the spec to the code and lists what is
//! still to come.

/// Whether the deliberate bug `$bug` ([`history::Canary`]) is switched on in `$config`:
/// always `false` unless the `zab-canary` feature (tests only) is on, so the release
/// server carries no canary. Defined before the modules so that they see it.
#[cfg(feature = "zab-canary")]
macro_rules! canary {
    ($config:expr, $bug:ident) => {
        $config.canary == $crate::zab::history::Canary::$bug
    };
}
#[cfg(not(feature = "zab-canary"))]
macro_rules! canary {
    ($config:expr, $bug:ident) => {
        false
    };
}

pub mod fle;
pub mod history;
pub mod leader;
pub mod learner;
pub mod observer_master;
pub mod quorum;
pub mod vote;
pub mod wire;

/// A server id (`myid`, the `N` of `server.N`). ZooKeeper keeps it in a Java `long`,
/// and votes for observers use `Long.MIN_VALUE`, so it stays signed.
pub type Sid = i64;

/// A zxid: `epoch << 32 | counter` in a Java `long`.
pub type Zxid = i64;

/// The zxid that opens `epoch` (`ZxidUtils.makeZxid(epoch, 0)`).
pub fn zxid_of_epoch(epoch: i64) -> Zxid {
    make_zxid(epoch, 0)
}

/// `ZxidUtils.makeZxid`: the epoch in the high 32 bits, the counter in the low 32.
pub fn make_zxid(epoch: i64, counter: i64) -> Zxid {
    (epoch << 32) | (counter & 0xffff_ffff)
}

/// `ZxidUtils.getEpochFromZxid`: an arithmetic shift, as Java's `>>` on a long.
pub fn epoch_of(zxid: Zxid) -> i64 {
    zxid >> 32
}

/// `ZxidUtils.getCounterFromZxid`.
pub fn counter_of(zxid: Zxid) -> i64 {
    zxid & 0xffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_halves() {
        let z = make_zxid(5, 7);
        assert_eq!(z, 0x0000_0005_0000_0007);
        assert_eq!(epoch_of(z), 5);
        assert_eq!(counter_of(z), 7);
        assert_eq!(zxid_of_epoch(1), 0x1_0000_0000);
        // Java's >> keeps the sign: the MIN vote of an observer has a negative epoch.
        assert_eq!(epoch_of(i64::MIN), -0x8000_0000);
    }
}

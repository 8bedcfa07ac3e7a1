//! ringkeeper-faults: a fault harness on real processes (issue 13).
//!
//! It owns: the network namespaces, bridge and nftables rules of a run ([`net`]), the
//! server processes in them ([`cluster`]), a TCP proxy per client link ([`proxy`]), the faults applied to them on a seeded
//! schedule ([`nemesis`]), the client load that records a history ([`workload`]),
//! and the checkers of those histories ([`history`], [`wgl`], [`chain`], [`set`], [`queue`],
//! [`ephemeral`], [`lock`]; [`digest`] compares the members' trees); one
//! run from start to end is [`run`]; leader failover timing is [`failover`].
//! It never touches a server's data or configuration beyond the run's own directory.

pub mod anomalies;
pub mod chain;
pub mod cluster;
pub mod digest;
pub mod disk;
pub mod ephemeral;
pub mod failover;
pub mod history;
pub mod lock;
pub mod nemesis;
pub mod net;
pub mod proxy;
pub mod queue;
pub mod run;
pub mod set;
pub mod textform;
pub mod wgl;
pub mod workload;

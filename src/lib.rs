//! ringkeeper: a ZooKeeper-compatible coordination service built thread-per-core.
//!
//! The pure modules (`proto`, `tree`, `session`, `watch`, `txn`, `zab`) do no I/O and
//! read no clock; `server` is the only module that knows glommio. See DESIGN.md.

pub mod cli;
pub mod client;
pub mod proto;

//! ringkeeper: a ZooKeeper-compatible coordination service built thread-per-core.
//!
//! The pure modules (`proto`, `tree`, `session`, `watch`, `txn`, `zab`) do no I/O and
//! read no clock; `server` is the only module that knows glommio on the server side
//! (`client` and `cli` use it on the client side). See DESIGN.md.

pub mod cli;
pub mod client;
pub mod config;
pub mod ops;
pub mod proto;
pub mod sasl;
pub mod server;
pub mod session;
pub mod storage;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod zab;

//! Txns: the records of `zookeeper.jute`'s txn module, `prep` (ZooKeeper's
//! `PrepRequestProcessor`: a write request → a txn, validated against the tree plus
//! outstanding changes) and `apply` (`DataTree.processTxn`: a committed txn → tree
//! change + reply material + watch triggers).
//!
//! Pure: no I/O, no clock, no RNG. Time arrives in the `TxnHeader`. Never panics on
//! a request from a client or on a decoded txn.

mod apply;
mod body;
mod outstanding;
mod prep;
mod records;

pub use apply::{apply, ApplyOutcome, OpOutcome};
pub use body::Txn;
pub use outstanding::{ChangeRecord, NodeView, Outstanding};
pub use prep::{prep, prep_with, PrepContext, WriteRequest};
pub use records::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, TxnHeader,
};

impl TxnHeader {
    /// A header for `txn` from session `client_id`.
    pub fn for_txn(client_id: i64, cxid: i32, zxid: i64, time_ms: i64, txn: &Txn) -> TxnHeader {
        TxnHeader {
            client_id,
            cxid,
            zxid,
            time_ms,
            op: txn.op_code() as i32,
        }
    }
}

#[cfg(test)]
mod tests;

//! Txns as ZAB carries them: PROPOSAL data (the txn header, the txn, the digest after
//! it) made from a committed txn and read back, and the on-disk log read as such data
//! for a learner below the in-memory window (a leader's, or a follower's observer
//! master's, sync).

use std::ops::ControlFlow;

use bytes::{Bytes, BytesMut};

use super::{blocking, digests, Quorum};
use crate::proto::codec::{Decode, Encode, Reader};
use crate::server::messages::Committed;
use crate::storage;
use crate::txn::{Txn, TxnHeader};
use crate::zab::history;

/// A txn as PROPOSAL data: its header and body as ZooKeeper serializes them, then the
/// tree digest after it (`TxnDigest`) if there is one; a Java learner reads a
/// proposal without one as "no digest" and skips its check.
pub fn proposal_data(c: &Committed, digest: Option<u64>) -> Bytes {
    let mut b = BytesMut::with_capacity(80);
    c.hdr.encode(&mut b);
    c.txn.encode(&mut b);
    if let Some(d) = digest {
        digests::encode(d, &mut b);
    }
    b.freeze()
}

/// The txn in PROPOSAL (or INFORM) data, and the leader's digest after it if any.
pub fn decode_proposal(data: &Bytes) -> Result<(Committed, Option<u64>), String> {
    let mut r = Reader::new(data.clone());
    let hdr = TxnHeader::decode(&mut r).map_err(|e| format!("txn header: {e}"))?;
    let txn = Txn::decode_body(hdr.op, &mut r).map_err(|e| format!("txn body: {e}"))?;
    let consumed = data.len() - r.remaining();
    let digest = data.get(consumed..).and_then(digests::decode);
    Ok((Committed { hdr, txn }, digest))
}

/// `getProposalsFromTxnLog`: the log's records from the txn `from` on, as PROPOSAL
/// data, if the log holds `from` itself and what follows it is at most
/// `snapshotSizeFactor` × the newest snapshot's size (no snapshot: no limit). ZooKeeper
/// compares the log files' sizes, which are preallocated; this counts the records.
pub fn read_log_from(
    log_dir: &std::path::Path,
    data_dir: &std::path::Path,
    factor: f64,
    from: i64,
) -> Result<Vec<history::Txn>, String> {
    let snap = storage::newest_snapshot_bytes(data_dir).map_err(|e| e.to_string())?;
    let limit = snap.map(|b| (b as f64 * factor) as u64);
    let mut txns = Vec::new();
    let mut bytes = 0u64;
    let mut over = false;
    // Everything above `from - 1` is `from` and later, in any epoch. Past the limit
    // the learner gets SNAP: no later segment is read.
    storage::read_log_after(log_dir, from - 1, |hdr, txn| {
        let zxid = hdr.zxid;
        let data = proposal_data(&Committed { hdr, txn }, None);
        bytes += data.len() as u64;
        over = limit.is_some_and(|l| bytes > l);
        txns.push(history::Txn { zxid, data });
        Ok(if over {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })
    .map_err(|e| e.to_string())?;
    if over {
        return Err(format!(
            "the log from 0x{from:x} is over {} bytes (snapshotSizeFactor {factor} of the \
             newest snapshot)",
            limit.unwrap_or(0)
        ));
    }
    match txns.first() {
        Some(t) if t.zxid == from => Ok(txns),
        Some(t) => Err(format!(
            "the log starts at 0x{:x}, after 0x{from:x}",
            t.zxid
        )),
        None => Err(format!("the log holds nothing from 0x{from:x}")),
    }
}

/// [`read_log_from`] on the blocking pool for the sync of `whom` (a learner's or an
/// observer's connection, as the log names it): the records, or none where the log
/// cannot serve it. The caller's machine goes on meanwhile.
pub async fn read_log_for_sync(q: &Quorum, whom: String, from: i64) -> Vec<history::Txn> {
    let (log_dir, data_dir) = (q.cfg.data_log_dir.clone(), q.cfg.data_dir.clone());
    let factor = q.cfg.snapshot_size_factor;
    match blocking(move || read_log_from(&log_dir, &data_dir, factor, from)).await {
        Ok(txns) => {
            tracing::info!(
                "{whom}: {} txns from the log on disk from 0x{from:x}",
                txns.len()
            );
            txns
        }
        Err(why) => {
            tracing::info!("{whom}: no sync from the log: {why}");
            Vec::new()
        }
    }
}

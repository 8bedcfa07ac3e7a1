//! The AdminServer's `restore` on the quorum task: a ZooKeeper snapshot (read and
//! checked by the AdminServer) replaces the served tree and sessions, as ZooKeeper
//! 3.9's `ZooKeeperServer.restoreFromSnapshot` swaps its database.
//!
//! Standalone only: in an ensemble, replacing one member's tree behind ZAB's back
//! would make it disagree with the others (ZooKeeper 3.9 does not refuse it; the
//! member then serves data its quorum never committed).
//!
//! The steps: stop taking work and close every client connection (sessions are not
//! closed; clients reconnect and find out whether their session is in the restored
//! snapshot), let the batch in flight finish, write the restored tree as our own
//! snapshot at a zxid above every logged txn, remove the log, and recover from the
//! directory as at a start (`peer::reload`). A crash at any point leaves either the
//! old data (the snapshot not yet complete) or the restored data (the new snapshot
//! is the newest, and no logged txn is after it).

use std::rc::Rc;

use super::{blocking, fatal, peer, Quorum, Role};
use crate::server::messages::Restore;
use crate::server::stats::ServerMode;
use crate::storage;

impl Quorum {
    /// Serves `r` from now on; answers the restored snapshot's zxid (the server goes
    /// on from a zxid above it and above its own), or why nothing changed.
    pub(super) async fn restore(self: &Rc<Self>, r: Restore) -> Result<i64, String> {
        if !matches!(*self.role.borrow(), Role::Standalone) {
            return Err(if self.cfg.ensemble {
                "restore is served by a standalone server only: restoring one member of \
                 an ensemble would make it disagree with the others"
                    .into()
            } else {
                "a restore is already in progress".into()
            });
        }
        tracing::info!(
            "restore: replacing the tree at 0x{:x} ({} nodes) with a snapshot at 0x{:x} \
             ({} nodes, {} sessions)",
            self.applied.get(),
            self.tree.borrow().node_count(),
            r.zxid,
            r.tree.node_count(),
            r.sessions.len()
        );
        // As when an ensemble member leaves a role: no work taken, every connection
        // closed (sessions kept), the batch in flight finished and applied.
        peer::end_role(self).await;
        let logged = self.log.last_zxid().max(self.applied.get());
        // Above every logged txn (and every snapshot a running snapshot job may still
        // write): recovery takes the newest snapshot and no logged txn after it, and
        // the zxids clients saw stay behind the server's.
        let zxid = r.zxid.max(logged + 1);
        let snapshot_zxid = r.zxid;
        let (data_dir, log_dir) = (self.cfg.data_dir.clone(), self.cfg.data_log_dir.clone());
        let Restore { tree, sessions, .. } = r;
        let written = blocking(move || {
            storage::write_snapshot(&data_dir, &tree.version(), &sessions, zxid)
                .map_err(|e| e.to_string())?;
            // The snapshot is durable: from here on a restart serves it, whether the
            // old segments are gone or not (their txns are all before it).
            if let Err(e) = storage::remove_log(&log_dir) {
                tracing::warn!("restore: the old txn log stays: {e}");
            }
            Ok::<_, String>(())
        })
        .await;
        if let Err(e) = written {
            tracing::warn!("restore failed, the old data is served: {e}");
            self.resume();
            return Err(format!("cannot write the restored snapshot: {e}"));
        }
        if let Err(e) = peer::reload(self, zxid, None) {
            // The directory holds the restored data; the memory does not.
            fatal(&format!("restore: cannot load the restored snapshot: {e}"));
        }
        tracing::info!(
            "restore: serving the restored tree ({} nodes, {} sessions) at 0x{zxid:x}",
            self.tree.borrow().node_count(),
            self.sessions.list().len()
        );
        self.resume();
        // ZooKeeper answers the restored database's last processed zxid.
        Ok(snapshot_zxid)
    }

    fn resume(&self) {
        *self.role.borrow_mut() = Role::Standalone;
        self.stats.set_mode(ServerMode::Standalone);
        self.inbox_ready.raise();
    }
}

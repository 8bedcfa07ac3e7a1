//! The `auth` packet (xid −4): adds an identity to the connection. Answered at once,
//! out of band, as ZooKeeper's `processPacket` does; a failure answers AUTHFAILED and
//! closes the connection.

use std::rc::Rc;

use super::conn::Conn;
use super::frame_out;
use super::session_core::Core;
use crate::proto::{AuthPacket, ErrorCode, Id};
use crate::tree::acl::digest_of;

/// `req_xid` is echoed: ZooKeeper answers with the request's own xid, and not every
/// client uses −4 for auth.
pub fn handle(
    core: &Rc<Core>,
    conn: &Rc<Conn>,
    req_xid: i32,
    auth: &AuthPacket,
) -> Result<(), String> {
    let ok = match auth.scheme.as_str() {
        "digest" => {
            let user_pw = String::from_utf8_lossy(&auth.auth);
            let digest = digest_of(&user_pw);
            if core.cfg.super_digest.as_deref() == Some(digest.as_str()) {
                conn.add_auth(Id::new("super", ""));
            }
            conn.add_auth(Id::new("digest", &digest));
            true
        }
        "ip" => {
            conn.add_auth(Id::new("ip", &conn.peer.ip().to_string()));
            true
        }
        other => {
            tracing::warn!(
                "no authentication provider for scheme {other} (from {})",
                conn.peer
            );
            false
        }
    };
    if ok {
        conn.send(frame_out::reply(req_xid, 0, 0, None));
        Ok(())
    } else {
        core.my_stats().auth_failed();
        conn.send(frame_out::reply(
            req_xid,
            0,
            ErrorCode::AuthFailed.code(),
            None,
        ));
        conn.outbox.close_after_flush();
        Err("authentication failed".into())
    }
}

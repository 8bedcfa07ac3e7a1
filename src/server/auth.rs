//! The `auth` packet (xid −4): adds an identity to the connection. Answered at once,
//! out of band, as ZooKeeper's `processPacket` does; a failure answers AUTHFAILED and
//! closes the connection.
//!
//! Enforced authentication (`enforce.auth.enabled`, ZooKeeper's `AuthenticationHelper`)
//! is checked here too: see [`enforce`].

use std::rc::Rc;

use super::conn::Conn;
use super::frame_out;
use super::session_core::Core;
use crate::proto::{AuthPacket, ErrorCode, Id, OpCode};
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

/// `AuthenticationHelper.enforceAuthentication`: with `enforce.auth.enabled`, every
/// request but `auth` and `sasl` (pings and closeSession included, and before its body
/// is even read) from a connection that holds no id of a required scheme is answered
/// SESSIONCLOSEDREQUIRESASLAUTH (−124, zxid 0; ZooKeeper 3.7–3.9 send this code, not
/// AUTHFAILED) and the connection is closed once that is sent. The session is not
/// closed: like any disconnected session it expires unless a client resumes it.
/// Returns whether the request may be served.
pub fn enforce(core: &Rc<Core>, conn: &Rc<Conn>, xid: i32, op: i32) -> bool {
    let Some(schemes) = core.cfg.enforce_auth_schemes.as_deref() else {
        return true;
    };
    if op == OpCode::Auth as i32 || op == OpCode::Sasl as i32 {
        return true;
    }
    let auth = conn.auth.borrow().clone();
    if auth.iter().any(|id| schemes.contains(&id.scheme)) {
        return true;
    }
    let have: Vec<&str> = auth.iter().map(|id| id.scheme.as_str()).collect();
    tracing::error!(
        "client authentication scheme(s) {have:?} of {} (session 0x{:x}) match none of the \
         required ones {schemes:?} (enforce.auth.schemes); closing the connection",
        conn.peer,
        conn.session.get()
    );
    // Nothing of this connection can be in flight: every request before this one
    // passed the same check, and ids are never taken away.
    conn.send(frame_out::reply(
        xid,
        0,
        ErrorCode::SessionClosedRequireSaslAuth.code(),
        None,
    ));
    conn.outbox.close_after_flush();
    false
}

//! The `auth` packet (xid −4): adds an identity to the connection. Answered at once,
//! out of band, as ZooKeeper's `processPacket` does; a failure answers AUTHFAILED and
//! closes the connection.
//!
//! The `sasl` request (op 102, [`sasl`]): one step of the connection's DIGEST-MD5
//! exchange, answered at once too, as ZooKeeper's `processSasl` does.
//!
//! Enforced authentication (`enforce.auth.enabled`, ZooKeeper's `AuthenticationHelper`)
//! is checked here too: see [`enforce`].

use std::rc::Rc;

use base64::Engine;
use bytes::Bytes;
use rand::RngCore;

use super::conn::Conn;
use super::frame_out;
use super::session_core::Core;
use crate::proto::{AuthPacket, ErrorCode, Id, OpCode, SetSaslResponse};
use crate::sasl::digest_md5::{DigestMd5Server, Step};
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
        // Without its provider (`DigestAuthenticationProvider.enabled=false`) digest
        // is an unknown scheme, as in ZooKeeper.
        "digest" if core.cfg.auth_providers.digest => {
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
        // `X509AuthenticationProvider.handleAuthentication(ServerCnxn, ..)`: the
        // connection's client certificate chain, not the packet, is the credential.
        // Its ids were added when the TLS handshake verified the chain (this
        // connection's only chain), so the packet succeeds exactly when the
        // connection has them; a plaintext connection, or a TLS one without a
        // client certificate, has none and fails as in ZooKeeper.
        "x509" if core.cfg.auth_providers.x509 => {
            let has_cert = conn.auth.borrow().iter().any(|id| id.scheme == "x509");
            if !has_cert {
                tracing::error!(
                    "failed to authenticate session 0x{:x} from {} with scheme x509: \
                     no verified client certificate on this connection",
                    conn.session.get(),
                    conn.peer
                );
            }
            has_cert
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

/// One SASL token from the client (`ZooKeeperServer.processSasl`). Every answer has
/// zxid 0. A step that goes on or completes answers OK with the server's token; on
/// completion the connection gets the id `sasl:<user>` (and `super` when the user is
/// a `zookeeper.superUser`). A failed step answers AUTHFAILED (or
/// SESSIONCLOSEDREQUIRESASLAUTH when SASL is required) with a null token and closes
/// the connection (the session lives on until it expires), unless
/// `allowSaslFailedClients` keeps it. Without a JAAS server section ZooKeeper's
/// connection has no SASL server: it logs an error and answers OK with a null token.
pub fn sasl(core: &Rc<Core>, conn: &Rc<Conn>, req_xid: i32, token: &[u8]) -> Result<(), String> {
    let cfg = &core.cfg.sasl;
    let answer = |token: Option<Vec<u8>>| {
        frame_out::reply(
            req_xid,
            0,
            0,
            Some(&SetSaslResponse {
                token: token.map(Bytes::from),
            }),
        )
    };
    let Some(login) = cfg.login.as_ref() else {
        tracing::error!(
            "SASL request from {} (session 0x{:x}), but no JAAS server section is \
             configured ({}): answering with no token",
            conn.peer,
            conn.session.get(),
            crate::config::JAAS_KEY
        );
        conn.send(answer(None));
        return Ok(());
    };
    let result = {
        let mut state = conn.sasl.borrow_mut();
        let server = state.get_or_insert_with(|| DigestMd5Server::new(nonce()));
        server.evaluate(token, |user| {
            // `SaslServerCallbackHandler`: a user must be in the JAAS section; the
            // superPassword property, when set, is the password of the user `super`.
            let known = login.users.password(user)?;
            match (&cfg.super_password, user) {
                (Some(pw), "super") => Some(pw.clone()),
                _ => Some(known.to_owned()),
            }
        })
    };
    let failure = match result {
        Ok(Step::Challenge(t)) => {
            conn.send(answer(Some(t)));
            return Ok(());
        }
        Ok(Step::Complete {
            token,
            username,
            authzid,
        }) => match crate::sasl::authorized_id(&username, authzid.as_deref()) {
            Ok(id) => {
                tracing::info!(
                    "session 0x{:x}: adding SASL authorization for authorizationID: {id}",
                    conn.session.get()
                );
                if cfg.super_users.contains(&id) {
                    tracing::info!(
                        "session 0x{:x}: authenticated id '{id}' as super user",
                        conn.session.get()
                    );
                    conn.add_auth(Id::new("super", ""));
                }
                conn.add_auth(Id::new("sasl", &id));
                conn.send(answer(Some(token)));
                return Ok(());
            }
            Err(e) => e,
        },
        Err(e) => e.to_string(),
    };
    tracing::warn!(
        "client {} (session 0x{:x}) failed to SASL authenticate: {failure}",
        conn.peer,
        conn.session.get()
    );
    let required = core
        .cfg
        .enforce_auth_schemes
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| s == "sasl"));
    if cfg.allow_failed_clients && !required {
        tracing::warn!("maintaining client connection despite SASL authentication failure");
        conn.send(answer(None));
        return Ok(());
    }
    let err = if required {
        tracing::warn!(
            "closing client connection: the server requires SASL authentication and the \
             client's has failed"
        );
        ErrorCode::SessionClosedRequireSaslAuth
    } else {
        tracing::warn!("closing client connection due to SASL authentication failure");
        ErrorCode::AuthFailed
    };
    conn.send(frame_out::reply_with_body(
        req_xid,
        0,
        err.code(),
        &SetSaslResponse { token: None },
    ));
    conn.outbox.close_after_flush();
    Err("SASL authentication failed".into())
}

/// A DIGEST-MD5 nonce as the JDK makes one: 30 random bytes in base64 (40 characters,
/// none that needs quoting).
fn nonce() -> String {
    let mut raw = [0u8; 30];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::STANDARD.encode(raw)
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

//! Session passwords, bit-compatible with ZooKeeper (`ZooKeeperServer.generatePasswd`):
//! 16 bytes from `new java.util.Random(sessionId ^ superSecret).nextBytes`. Compatibility
//! matters because a client reconnecting after a server restart or to another member of
//! a mixed ensemble presents the password it got at session creation.
//!
//! This is not a secret in any real sense (the "super secret" is public); it only stops a
//! client from guessing another session's id by accident.

use super::java_random::JavaRandom;
use super::SessionId;

/// ZooKeeper's `superSecret` constant (`ZooKeeperServer.superSecret = 0XB3415C00L`).
pub const SUPER_SECRET: i64 = 0xB341_5C00;

/// Length of a session password in bytes (the `passwd` buffer of `ConnectResponse`).
pub const PASSWORD_LEN: usize = 16;

/// The password ZooKeeper would issue for `session_id`.
pub fn password(session_id: SessionId) -> [u8; PASSWORD_LEN] {
    let mut out = [0u8; PASSWORD_LEN];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut out);
    out
}

/// `ZooKeeperServer.checkPasswd`: session 0 never matches (0 means "new session" on the
/// wire); otherwise the presented bytes must equal the password exactly, length included.
pub fn check_password(session_id: SessionId, presented: &[u8]) -> bool {
    session_id != 0 && presented == password(session_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Session id 0xB3415C00 makes the seed 0, so the first 8 bytes are the two
    /// seed-0 `nextInt`s derived in `java_random` (0xBB20B460, 0xD4D95138), low byte
    /// first. The full vectors were cross-checked against a JDK
    /// (`new Random(id ^ 0xB3415C00L).nextBytes(new byte[16])`).
    #[test]
    fn matches_zookeeper_vectors() {
        assert_eq!(
            hex(&password(0xB341_5C00)),
            "60b420bb3851d9d47acb933dbe70399b"
        );
        assert_eq!(
            hex(&password(0x0100_0000_0001_2345)),
            "f7a48ea8f4dc2c12298807fcf0b3dbad"
        );
        assert_eq!(hex(&password(-1)), "20f62cb5648dc2d771471c8a2486a9ee");
    }

    #[test]
    fn deterministic_and_sixteen_bytes() {
        let id = 0x0300_1234_5678_0001;
        assert_eq!(password(id), password(id));
        assert_eq!(password(id).len(), 16);
        assert_ne!(password(id), password(id + 1));
    }

    #[test]
    fn check_password_rules() {
        let id = 0x0100_0000_0001_2345;
        let p = password(id);
        assert!(check_password(id, &p));
        assert!(!check_password(id, &p[..15]));
        assert!(!check_password(id + 1, &p));
        assert!(!check_password(0, &password(0)));
        let mut longer = p.to_vec();
        longer.push(0);
        assert!(!check_password(id, &longer));
    }
}

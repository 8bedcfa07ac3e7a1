//! zkCli's output formats: Stat lines, Java's `Date.toString`, ACL permission
//! strings, and the messages zkCli prints for server errors.

use std::fmt::Write;

use crate::client::ClientError;
use crate::proto::{perms, ErrorCode, Stat};

/// `StatPrinter`: one `name = value` line per field, zxids and owner in hex.
pub fn stat(out: &mut String, s: &Stat) {
    let _ = writeln!(out, "cZxid = 0x{:x}", s.czxid);
    let _ = writeln!(out, "ctime = {}", java_date(s.ctime));
    let _ = writeln!(out, "mZxid = 0x{:x}", s.mzxid);
    let _ = writeln!(out, "mtime = {}", java_date(s.mtime));
    let _ = writeln!(out, "pZxid = 0x{:x}", s.pzxid);
    let _ = writeln!(out, "cversion = {}", s.cversion);
    let _ = writeln!(out, "dataVersion = {}", s.version);
    let _ = writeln!(out, "aclVersion = {}", s.aversion);
    let _ = writeln!(out, "ephemeralOwner = 0x{:x}", s.ephemeral_owner);
    let _ = writeln!(out, "dataLength = {}", s.data_length);
    let _ = writeln!(out, "numChildren = {}", s.num_children);
}

/// Java's `Date.toString()` in the local time zone: `Sun Nov 22 20:05:40 UTC 2026`.
pub fn java_date(millis: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = millis.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which outlives the call; tm_zone
    // points into the C library's static zone names, valid for the process.
    let (tm, zone) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return millis.to_string();
        }
        let zone = if tm.tm_zone.is_null() {
            "UTC".to_owned()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (tm, zone)
    };
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {} {}",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        zone,
        tm.tm_year + 1900
    )
}

/// `ZKUtil.getPermString`: the letters of the granted permissions, in `cdrwa` order.
pub fn perm_string(p: i32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ] {
        if p & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// `KeeperException.getCodeMessage`.
pub fn code_message(c: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match c {
        Ok => "ok",
        SystemError => "SystemError",
        RuntimeInconsistency => "RuntimeInconsistency",
        DataInconsistency => "DataInconsistency",
        ConnectionLoss => "ConnectionLoss",
        MarshallingError => "MarshallingError",
        Unimplemented => "Unimplemented",
        OperationTimeout => "OperationTimeout",
        BadArguments => "BadArguments",
        UnknownSession => "Unknown session",
        NewConfigNoQuorum => "NewConfigNoQuorum",
        ReconfigInProgress => "ReconfigInProgress",
        ApiError => "APIError",
        NoNode => "NoNode",
        NoAuth => "NoAuth",
        BadVersion => "BadVersion",
        NoChildrenForEphemerals => "NoChildrenForEphemerals",
        NodeExists => "NodeExists",
        NotEmpty => "Directory not empty",
        SessionExpired => "Session expired",
        InvalidCallback => "Invalid callback",
        InvalidAcl => "InvalidACL",
        AuthFailed => "AuthFailed",
        SessionMoved => "Session moved",
        NotReadOnly => "Not a read-only call",
        EphemeralOnLocalSession => "Ephemeral node on local session",
        NoWatcher => "No such watcher",
        RequestTimeout => "Request timeout",
        ReconfigDisabled => "Reconfig is disabled",
        SessionClosedRequireSaslAuth => "Session closed because client failed to authenticate",
        QuotaExceeded => "Quota has exceeded",
        ThrottledOp => "Op throttled due to high load",
    }
}

/// What zkCli prints for a failed call on `path` (`CliWrapperException`).
pub fn error_message(e: &ClientError, path: &str) -> String {
    let code = match e {
        ClientError::Io(io) => return io.to_string(),
        e => e.code(),
    };
    use ErrorCode::*;
    match code {
        NoNode => format!("Node does not exist: {path}"),
        NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        NodeExists => format!("Node already exists: {path}"),
        NotEmpty => format!("Node not empty: {path}"),
        NotReadOnly => format!("Not a read-only call: {path}"),
        InvalidAcl => format!("Acl is not valid : {path}"),
        NoAuth => format!("Insufficient permission : {path}"),
        BadArguments => format!("Arguments are not valid : {path}"),
        BadVersion => format!("version No is not valid : {path}"),
        c if path.is_empty() => format!("KeeperErrorCode = {}", code_message(c)),
        c => format!("KeeperErrorCode = {} for {path}", code_message(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_print_in_zkcli_order() {
        assert_eq!(perm_string(perms::ALL), "cdrwa");
        assert_eq!(perm_string(perms::READ | perms::ADMIN), "ra");
        assert_eq!(perm_string(0), "");
    }

    #[test]
    fn java_date_has_the_shape_of_date_to_string() {
        let d = java_date(1_795_379_073_370);
        let parts: Vec<&str> = d.split(' ').collect();
        assert_eq!(parts.len(), 6, "{d}");
        assert_eq!(parts[5], "2026");
        assert_eq!(parts[3].len(), 8);
    }

    #[test]
    fn errors_read_like_zkcli() {
        let e = ClientError::Keeper(ErrorCode::NoNode);
        assert_eq!(error_message(&e, "/a"), "Node does not exist: /a");
        let e = ClientError::Keeper(ErrorCode::NoWatcher);
        assert_eq!(
            error_message(&e, "/a"),
            "KeeperErrorCode = No such watcher for /a"
        );
    }
}

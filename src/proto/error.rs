//! ZooKeeper's error codes: protocol values returned in reply headers, not failures of
//! the server. Numbers from `KeeperException.Code` (ZooKeeper 3.9).

/// An error code as it travels in `ReplyHeader.err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    DataInconsistency = -3,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    UnknownSession = -12,
    NewConfigNoQuorum = -13,
    ReconfigInProgress = -14,
    ApiError = -100,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidCallback = -113,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    EphemeralOnLocalSession = -120,
    NoWatcher = -121,
    RequestTimeout = -122,
    ReconfigDisabled = -123,
    SessionClosedRequireSaslAuth = -124,
    QuotaExceeded = -125,
    ThrottledOp = -127,
}

impl ErrorCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code for a number received from a server (the client side); unknown
    /// numbers map to `SystemError`.
    pub fn from_code(code: i32) -> ErrorCode {
        use ErrorCode::*;
        match code {
            0 => Ok,
            -2 => RuntimeInconsistency,
            -3 => DataInconsistency,
            -4 => ConnectionLoss,
            -5 => MarshallingError,
            -6 => Unimplemented,
            -7 => OperationTimeout,
            -8 => BadArguments,
            -12 => UnknownSession,
            -13 => NewConfigNoQuorum,
            -14 => ReconfigInProgress,
            -100 => ApiError,
            -101 => NoNode,
            -102 => NoAuth,
            -103 => BadVersion,
            -108 => NoChildrenForEphemerals,
            -110 => NodeExists,
            -111 => NotEmpty,
            -112 => SessionExpired,
            -113 => InvalidCallback,
            -114 => InvalidAcl,
            -115 => AuthFailed,
            -118 => SessionMoved,
            -119 => NotReadOnly,
            -120 => EphemeralOnLocalSession,
            -121 => NoWatcher,
            -122 => RequestTimeout,
            -123 => ReconfigDisabled,
            -124 => SessionClosedRequireSaslAuth,
            -125 => QuotaExceeded,
            -127 => ThrottledOp,
            _ => SystemError,
        }
    }

    /// ZooKeeper's name for the code, as its clients print it.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Ok => "OK",
            SystemError => "SYSTEMERROR",
            RuntimeInconsistency => "RUNTIMEINCONSISTENCY",
            DataInconsistency => "DATAINCONSISTENCY",
            ConnectionLoss => "CONNECTIONLOSS",
            MarshallingError => "MARSHALLINGERROR",
            Unimplemented => "UNIMPLEMENTED",
            OperationTimeout => "OPERATIONTIMEOUT",
            BadArguments => "BADARGUMENTS",
            UnknownSession => "UNKNOWNSESSION",
            NewConfigNoQuorum => "NEWCONFIGNOQUORUM",
            ReconfigInProgress => "RECONFIGINPROGRESS",
            ApiError => "APIERROR",
            NoNode => "NONODE",
            NoAuth => "NOAUTH",
            BadVersion => "BADVERSION",
            NoChildrenForEphemerals => "NOCHILDRENFOREPHEMERALS",
            NodeExists => "NODEEXISTS",
            NotEmpty => "NOTEMPTY",
            SessionExpired => "SESSIONEXPIRED",
            InvalidCallback => "INVALIDCALLBACK",
            InvalidAcl => "INVALIDACL",
            AuthFailed => "AUTHFAILED",
            SessionMoved => "SESSIONMOVED",
            NotReadOnly => "NOTREADONLY",
            EphemeralOnLocalSession => "EPHEMERALONLOCALSESSION",
            NoWatcher => "NOWATCHER",
            RequestTimeout => "REQUESTTIMEOUT",
            ReconfigDisabled => "RECONFIGDISABLED",
            SessionClosedRequireSaslAuth => "SESSIONCLOSEDREQUIRESASLAUTH",
            QuotaExceeded => "QUOTAEXCEEDED",
            ThrottledOp => "THROTTLEDOP",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [
            0, -2, -5, -6, -8, -101, -102, -103, -110, -111, -112, -114, -121, -123, -127,
        ] {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        assert_eq!(ErrorCode::from_code(-9999), ErrorCode::SystemError);
    }
}

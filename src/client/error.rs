//! `ClientError`: what a client call can fail with. Server error codes are values
//! (`Keeper`), kept apart from transport failures (`ConnectionLoss`, `Io`) and from
//! replies that do not parse (`Decode`).

use crate::proto::{DecodeError, ErrorCode};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with this error code in the reply header.
    #[error("server error {0}")]
    Keeper(ErrorCode),
    /// A `multi` failed: the op at `index` failed with `code`, nothing was applied.
    #[error("multi op {index} failed with {code}")]
    MultiFailed { index: usize, code: ErrorCode },
    /// The connection is gone (closed, reset, timed out, or never answered); the
    /// request may or may not have taken effect.
    #[error("connection lost")]
    ConnectionLoss,
    /// The server refused to resume the session (ConnectResponse timeout 0).
    #[error("session expired")]
    SessionExpired,
    /// Connecting failed, or an argument (address list) was invalid.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The server's reply did not parse.
    #[error("bad reply: {0}")]
    Decode(#[from] DecodeError),
}

impl ClientError {
    /// The ZooKeeper error code this failure corresponds to, as the Java client would
    /// report it (`ConnectionLoss` → CONNECTIONLOSS, and so on).
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Keeper(c) | ClientError::MultiFailed { code: c, .. } => *c,
            ClientError::ConnectionLoss | ClientError::Io(_) => ErrorCode::ConnectionLoss,
            ClientError::SessionExpired => ErrorCode::SessionExpired,
            ClientError::Decode(_) => ErrorCode::MarshallingError,
        }
    }
}

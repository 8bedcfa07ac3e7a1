//! A small async ZooKeeper client on glommio, used by the CLI and the load generator.
//!
//! One [`Client`] is one session on one connection, driven by tasks on the current
//! glommio executor (single-threaded, `!Send`, no lock). Requests are pipelined:
//! any number may be in flight, answered in FIFO order. Watches are asked for with a
//! `watch: bool` argument and arrive on [`Client::events`]. A lost connection is
//! re-established on the same session with its watches set again (see [`conn`]);
//! [`Client::submit`] sends raw requests for tests and benchmarks.
//!
//! [`four_letter_word`] sends an admin word ("ruok", "mntr", ...) on its own connection.

pub mod conn;
mod error;
mod event;
mod oneshot;
pub mod ops;
mod watches;

#[cfg(test)]
mod tests;

pub use conn::{Client, Options};
pub use error::ClientError;
pub use event::{
    event_type, keeper_state, AddWatchMode, Events, WatchedEvent, WatcherType, EVENTS_QUEUED_MAX,
};

use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Largest four-letter-word answer read (`mntr`, `cons` and `dump` of a big server
/// are a few hundred KiB at most).
pub const FOUR_LETTER_REPLY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Sends a four-letter word to `addr` ("host:port") and returns the answer, read to EOF.
pub async fn four_letter_word(addr: &str, word: &str) -> Result<String, ClientError> {
    use std::net::ToSocketAddrs;
    if word.len() != 4 {
        return Err(ClientError::Keeper(crate::proto::ErrorCode::BadArguments));
    }
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let mut s = glommio::net::TcpStream::connect(sa)
        .await
        .map_err(std::io::Error::from)?;
    s.write_all(word.as_bytes()).await?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 || out.len() + n > FOUR_LETTER_REPLY_BYTES_MAX {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

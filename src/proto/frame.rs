//! Framing: a big-endian `int32` length, then that many bytes. The first four bytes of
//! a connection may instead be a four-letter word.

use bytes::{Buf, Bytes, BytesMut};

/// ZooKeeper's default `jute.maxbuffer` (0xfffff bytes, just under 1 MiB).
pub const JUTE_MAXBUFFER_DEFAULT: u32 = 0xfffff;

/// A frame that cannot be accepted: the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {len} exceeds jute.maxbuffer {max}")]
    PacketTooLarge { len: u32, max: u32 },
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// Takes one complete frame off the front of `buf` (as its own allocation), or
/// `Ok(None)` when more bytes are needed. The length is checked before any payload is buffered, so an oversized
/// frame costs nothing but its four length bytes.
pub fn take_frame(buf: &mut BytesMut, max: u32) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(FrameError::NegativeLength(len));
    }
    let len = len as u32;
    if len > max {
        return Err(FrameError::PacketTooLarge { len, max });
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    // The frame is copied out rather than split off: a split shares the whole read
    // buffer's allocation, and znode data sliced from the frame would pin a 64 KiB
    // read chunk per node for as long as the node lives.
    let frame = Bytes::copy_from_slice(&buf[4..total]);
    buf.advance(total);
    Ok(Some(frame))
}

/// The four-letter words, as the int their four ASCII bytes make.
pub fn four_letter_word(first4: [u8; 4]) -> Option<&'static str> {
    const WORDS: [&str; 19] = [
        "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "envi", "srst", "wchs", "wchc",
        "wchp", "dump", "dirs", "isro", "gtmk", "stmk", "hash", "lead",
    ];
    WORDS.iter().copied().find(|w| w.as_bytes() == first4)
}

/// `0xfff4fffd`: telnet's interrupt, which ZooKeeper treats as "close".
pub const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_whole_frame() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(take_frame(&mut buf, 100), Ok(None));
        buf.extend_from_slice(&[3, 0, 0]);
        assert_eq!(
            take_frame(&mut buf, 100),
            Ok(Some(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn oversized_frame_is_refused_from_its_length_alone() {
        let mut buf = BytesMut::from(&[0u8, 0x20, 0, 0][..]);
        assert_eq!(
            take_frame(&mut buf, JUTE_MAXBUFFER_DEFAULT),
            Err(FrameError::PacketTooLarge {
                len: 0x200000,
                max: JUTE_MAXBUFFER_DEFAULT
            })
        );
    }

    #[test]
    fn negative_length_is_refused() {
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert_eq!(
            take_frame(&mut buf, 100),
            Err(FrameError::NegativeLength(-2))
        );
    }

    #[test]
    fn recognises_four_letter_words() {
        assert_eq!(four_letter_word(*b"ruok"), Some("ruok"));
        assert_eq!(four_letter_word(*b"mntr"), Some("mntr"));
        assert_eq!(four_letter_word([0, 0, 0, 44]), None);
    }
}

//! The jute binary encoding: big-endian integers, one-byte booleans, length-prefixed
//! buffers and strings (−1 = null), count-prefixed vectors (−1 = null).
//!
//! Decoding never panics: every read checks the bytes that remain and fails with
//! [`DecodeError`], which the server turns into a closed connection or MARSHALLINGERROR.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Why a record could not be decoded. Inside a complete frame every shortage is an
/// invalid record, never a reason to wait for more bytes (framing handles that).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("negative length {len} at offset {offset}")]
    NegativeLength { offset: usize, len: i32 },
    #[error("{count} trailing bytes after the record")]
    TrailingBytes { count: usize },
    #[error("unknown {what} {value}")]
    UnknownValue { what: &'static str, value: i32 },
    #[error("null string at offset {offset}")]
    NullString { offset: usize },
    #[error("vector of {count} items exceeds the remaining {remaining} bytes")]
    VectorTooLong { count: i32, remaining: usize },
}

/// A cursor over one complete frame. Buffers are sliced out of the frame without copying.
pub struct Reader {
    buf: Bytes,
    start_len: usize,
}

impl Reader {
    pub fn new(buf: Bytes) -> Self {
        let start_len = buf.len();
        Reader { buf, start_len }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn offset(&self) -> usize {
        self.start_len - self.buf.len()
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                offset: self.offset(),
                needed: n - self.buf.len(),
            });
        }
        Ok(())
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    /// A jute buffer; `None` when the length is −1 (null). Other negative lengths are invalid.
    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let offset = self.offset();
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength { offset, len });
        }
        let len = len as usize;
        self.need(len)?;
        Ok(Some(self.buf.split_to(len)))
    }

    /// The rest of the frame, for records that are optional at the end (ConnectRequest).
    pub fn rest(&mut self) -> Bytes {
        self.buf.split_to(self.buf.len())
    }

    /// Fails when bytes remain: ZooKeeper rejects requests with trailing garbage.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if !self.buf.is_empty() {
            return Err(DecodeError::TrailingBytes {
                count: self.buf.len(),
            });
        }
        Ok(())
    }
}

/// Writes a record in jute's binary form.
pub trait Encode {
    fn encode(&self, out: &mut BytesMut);

    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

/// Reads a record in jute's binary form.
pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError>;

    /// Decodes a whole buffer, rejecting trailing bytes.
    fn from_bytes(buf: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Encode for i32 {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
}
impl Decode for i32 {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}
impl Encode for i64 {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
}
impl Decode for i64 {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}
impl Encode for bool {
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
}
impl Decode for bool {
    /// Java's `readBoolean` treats any non-zero byte as true.
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_u8()? != 0)
    }
}

/// A buffer that may be null; data of znodes keeps null apart from empty as ZooKeeper does.
/// A jute buffer that may be null (length −1).
pub fn put_buffer(out: &mut BytesMut, buf: Option<&[u8]>) {
    match buf {
        None => out.put_i32(-1),
        Some(b) => {
            out.put_i32(b.len() as i32);
            out.put_slice(b);
        }
    }
}

impl Encode for Option<Bytes> {
    fn encode(&self, out: &mut BytesMut) {
        put_buffer(out, self.as_deref());
    }
}
impl Decode for Option<Bytes> {
    /// Copied out of the frame: znode data outlives its request, and a slice would keep
    /// the whole frame (path, ACLs, headers) allocated for as long as the node lives.
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.map(|b| Bytes::copy_from_slice(&b)))
    }
}

/// A buffer where null and empty mean the same (passwords, auth data, tokens).
impl Encode for Bytes {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        out.put_slice(self);
    }
}
impl Decode for Bytes {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.unwrap_or_default())
    }
}

/// A ustring. A null string is refused (ZooKeeper fails such a request with
/// MARSHALLINGERROR when it dereferences it). Written as standard UTF-8; read as UTF-8,
/// accepting the CESU-8 surrogate pairs that Java's jute writer produces for characters
/// outside the BMP.
impl Encode for str {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        out.put_slice(self.as_bytes());
    }
}
impl Encode for String {
    fn encode(&self, out: &mut BytesMut) {
        self.as_str().encode(out);
    }
}
impl Decode for String {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let offset = r.offset();
        match r.read_buffer()? {
            Some(bytes) => Ok(decode_java_utf8(&bytes)),
            None => Err(DecodeError::NullString { offset }),
        }
    }
}

/// A ustring that may be null (`None`), for the few fields where clients send null
/// and ZooKeeper accepts it (reconfig's server lists).
impl Encode for Option<String> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(s) => s.encode(out),
        }
    }
}
impl Decode for Option<String> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.map(|b| decode_java_utf8(&b)))
    }
}

/// Decodes UTF-8, also accepting CESU-8 (each UTF-16 surrogate encoded on its own in
/// three bytes). Anything else malformed becomes U+FFFD, as Java's decoder does.
pub fn decode_java_utf8(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (cp, len) = if b < 0x80 {
            (u32::from(b), 1)
        } else if b & 0xe0 == 0xc0 && i + 1 < bytes.len() {
            (
                (u32::from(b & 0x1f) << 6) | u32::from(bytes[i + 1] & 0x3f),
                2,
            )
        } else if b & 0xf0 == 0xe0 && i + 2 < bytes.len() {
            (
                (u32::from(b & 0x0f) << 12)
                    | (u32::from(bytes[i + 1] & 0x3f) << 6)
                    | u32::from(bytes[i + 2] & 0x3f),
                3,
            )
        } else if b & 0xf8 == 0xf0 && i + 3 < bytes.len() {
            (
                (u32::from(b & 0x07) << 18)
                    | (u32::from(bytes[i + 1] & 0x3f) << 12)
                    | (u32::from(bytes[i + 2] & 0x3f) << 6)
                    | u32::from(bytes[i + 3] & 0x3f),
                4,
            )
        } else {
            (0xfffd, 1)
        };
        if cp >= 0x10000 {
            let c = cp - 0x10000;
            units.push(0xd800 | (c >> 10) as u16);
            units.push(0xdc00 | (c & 0x3ff) as u16);
        } else {
            units.push(cp as u16);
        }
        i += len;
    }
    String::from_utf16_lossy(&units)
}

/// A vector; null reads as empty (ZooKeeper rejects a null ACL list as it does an empty one).
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        for item in self {
            item.encode(out);
        }
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let count = r.read_i32()?;
        if count == -1 {
            return Ok(Vec::new());
        }
        if count < 0 {
            return Err(DecodeError::NegativeLength { offset, len: count });
        }
        // Every item takes at least one byte, so a count beyond the remaining bytes is a
        // lie: refuse it before reserving memory for it.
        if count as usize > r.remaining() {
            return Err(DecodeError::VectorTooLong {
                count,
                remaining: r.remaining(),
            });
        }
        let mut v = Vec::with_capacity(count as usize);
        for _ in 0..count {
            v.push(T::decode(r)?);
        }
        Ok(v)
    }
}

/// Declares a jute record: a struct whose fields are encoded in declaration order.
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $( $(#[$fm])* pub $field: $ty ),* }

        impl $crate::proto::codec::Encode for $name {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut bytes::BytesMut) {
                $( $crate::proto::codec::Encode::encode(&self.$field, out); )*
            }
        }

        impl $crate::proto::codec::Decode for $name {
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::proto::codec::Reader) -> Result<Self, $crate::proto::codec::DecodeError> {
                Ok(Self { $( $field: $crate::proto::codec::Decode::decode(r)? ),* })
            }
        }
    };
}
pub(crate) use jute_record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_buffer_and_empty_buffer_differ() {
        let null: Option<Bytes> = None;
        let empty: Option<Bytes> = Some(Bytes::new());
        assert_eq!(&null.to_bytes()[..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&empty.to_bytes()[..], &[0, 0, 0, 0]);
        assert_eq!(Option::<Bytes>::from_bytes(null.to_bytes()), Ok(None));
        assert_eq!(
            Option::<Bytes>::from_bytes(empty.to_bytes()),
            Ok(Some(Bytes::new()))
        );
    }

    #[test]
    fn truncated_buffer_is_an_error() {
        let buf = Bytes::from_static(&[0, 0, 0, 5, b'a', b'b']);
        assert!(matches!(
            Option::<Bytes>::from_bytes(buf),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn negative_length_other_than_null_is_invalid() {
        let buf = Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(matches!(
            String::from_bytes(buf),
            Err(DecodeError::NegativeLength { len: -2, .. })
        ));
    }

    #[test]
    fn null_string_is_refused() {
        let buf = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            String::from_bytes(buf),
            Err(DecodeError::NullString { offset: 0 })
        );
    }

    #[test]
    fn huge_vector_count_is_refused_before_allocation() {
        let buf = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
        assert!(matches!(
            Vec::<i32>::from_bytes(buf),
            Err(DecodeError::VectorTooLong { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let buf = Bytes::from_static(&[0, 0, 0, 1, 9]);
        assert_eq!(
            i32::from_bytes(buf),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn cesu8_surrogate_pairs_decode_to_one_character() {
        // U+1F600 as Java's jute writer emits it: two 3-byte surrogates.
        let cesu = [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80];
        assert_eq!(decode_java_utf8(&cesu), "\u{1F600}");
        assert_eq!(decode_java_utf8("/a/é".as_bytes()), "/a/é");
        assert_eq!(decode_java_utf8(&[b'a', 0xff]), "a\u{fffd}");
    }
}

//! `ConnectRequest` / `ConnectResponse`: the handshake, the first frame of a connection.
//!
//! The trailing `readOnly` byte is optional on the wire: clients before 3.9's schema
//! change may omit it, and the server must mirror the client (ZOOKEEPER-4814), or
//! clients that check the handshake length fail.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{Decode, DecodeError, Encode, Reader};

/// jute `ConnectRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// `None` when the client did not send the byte at all.
    pub read_only: Option<bool>,
}

impl Decode for ConnectRequest {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let protocol_version = r.read_i32()?;
        let last_zxid_seen = r.read_i64()?;
        let timeout_ms = r.read_i32()?;
        let session_id = r.read_i64()?;
        let passwd = Bytes::decode(r)?;
        let read_only = if r.remaining() > 0 {
            Some(bool::decode(r)?)
        } else {
            None
        };
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}

impl Encode for ConnectRequest {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.protocol_version);
        out.put_i64(self.last_zxid_seen);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }
}

/// jute `ConnectResponse`. A timeout of 0 tells the client its session expired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// Written only when the request carried it.
    pub read_only: Option<bool>,
}

impl Encode for ConnectResponse {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.protocol_version);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }
}

impl Decode for ConnectResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let protocol_version = r.read_i32()?;
        let timeout_ms = r.read_i32()?;
        let session_id = r.read_i64()?;
        let passwd = Bytes::decode(r)?;
        let read_only = if r.remaining() > 0 {
            Some(bool::decode(r)?)
        } else {
            None
        };
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(read_only: Option<bool>) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 7,
            timeout_ms: 30000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only,
        }
    }

    #[test]
    fn handshake_lengths_match_what_clients_check() {
        // ClickHouse's constants: 44/45 bytes from the client, 36/37 from the server.
        assert_eq!(request(None).to_bytes().len(), 44);
        assert_eq!(request(Some(false)).to_bytes().len(), 45);
        let resp = |ro| ConnectResponse {
            protocol_version: 0,
            timeout_ms: 30000,
            session_id: 1,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: ro,
        };
        assert_eq!(resp(None).to_bytes().len(), 36);
        assert_eq!(resp(Some(false)).to_bytes().len(), 37);
    }

    #[test]
    fn read_only_presence_is_preserved() {
        for ro in [None, Some(false), Some(true)] {
            let req = request(ro);
            assert_eq!(ConnectRequest::from_bytes(req.to_bytes()), Ok(req));
        }
    }
}

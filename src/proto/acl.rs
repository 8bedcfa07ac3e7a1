//! `org.apache.zookeeper.data.Id` and `ACL`.

use bytes::BytesMut;

use super::codec::{decode_java_utf8, jute_record, Decode, DecodeError, Encode, Reader};

/// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `super`) and its id.
/// jute `Id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Encode for Id {
    fn encode(&self, out: &mut BytesMut) {
        self.scheme.encode(out);
        self.id.encode(out);
    }
}

impl Decode for Id {
    /// Clients send a null id with the `auth` scheme (kazoo's `CREATOR_ALL_ACL`);
    /// ZooKeeper never reads it, so null reads as empty here, unlike other strings.
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let scheme = String::decode(r)?;
        let id = r
            .read_buffer()?
            .map(|b| decode_java_utf8(&b))
            .unwrap_or_default();
        Ok(Id { scheme, id })
    }
}

jute_record! {
    /// One ACL entry: permission bits (see `proto::perms`) granted to an identity.
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::perms::ALL, "world", "anyone")]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::perms::READ, "world", "anyone")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes};

    #[test]
    fn null_id_reads_as_empty() {
        let mut b = BytesMut::new();
        b.put_i32(4);
        b.put_slice(b"auth");
        b.put_i32(-1);
        assert_eq!(Id::from_bytes(b.freeze()), Ok(Id::new("auth", "")));
        assert!(Id::from_bytes(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])).is_err());
    }
}

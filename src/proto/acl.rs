//! `org.apache.zookeeper.data.Id` and `ACL`.

use super::codec::jute_record;

jute_record! {
    /// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `super`) and its id.
    pub struct Id {
        pub scheme: String,
        pub id: String,
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

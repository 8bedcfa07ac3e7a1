//! `EphemeralType`: what a znode's `ephemeralOwner` field encodes (ZooKeeper 3.9).
//!
//! 0 is a persistent node, `i64::MIN` a container, and with extended types enabled a
//! value whose top byte is 0xff (and feature bits 0) a TTL node whose low 40 bits are
//! the TTL in ms. Anything else is the owning session of an ephemeral. Pure arithmetic.

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// `EXTENDED_MASK`: the top byte marks an extended type.
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// `RESERVED_BITS_MASK`: the feature bits (TTL is feature 0).
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// The TTL feature's bits value (`EXTENDED_BIT_TTL`).
const EXTENDED_BIT_TTL: i64 = 0;
/// Largest TTL in ms (`TTL.maxValue()`: 40 bits, about 34 years).
pub const TTL_MAX_MS: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// The kinds `EphemeralType.get` tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EphemeralType {
    /// ephemeralOwner 0: a persistent node.
    Void,
    /// An ephemeral owned by a session.
    Normal,
    Container,
    Ttl,
}

impl EphemeralType {
    /// `EphemeralType.get(owner)` for a server with `extendedTypesEnabled` as given.
    /// ZooKeeper throws for an extended value with unknown feature bits; such a value
    /// cannot be produced by a valid create, and we classify it as a session owner.
    pub fn of(owner: i64, extended_types_enabled: bool) -> EphemeralType {
        if extended_types_enabled
            && owner & EXTENDED_MASK == EXTENDED_MASK
            && (owner & RESERVED_BITS_MASK) >> 40 == EXTENDED_BIT_TTL
        {
            return EphemeralType::Ttl;
        }
        if owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralType::Container
        } else if owner == 0 {
            EphemeralType::Void
        } else {
            EphemeralType::Normal
        }
    }

    /// `TTL.toEphemeralOwner(ttl)`; `None` when the ttl is not in `1..=TTL_MAX_MS`.
    pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
        if ttl_ms <= 0 || ttl_ms > TTL_MAX_MS {
            return None;
        }
        Some(EXTENDED_MASK | EXTENDED_BIT_TTL | ttl_ms)
    }

    /// `TTL.getValue(owner)`: the TTL in ms of a TTL node's owner field.
    pub fn ttl_of(owner: i64) -> i64 {
        owner & TTL_MAX_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(EphemeralType::of(0, true), EphemeralType::Void);
        assert_eq!(EphemeralType::of(i64::MIN, false), EphemeralType::Container);
        assert_eq!(EphemeralType::of(0x1234, true), EphemeralType::Normal);
        let ttl = EphemeralType::ttl_owner(5000).unwrap_or_default();
        assert_eq!(ttl, 0xff00_0000_0000_1388_u64 as i64);
        assert_eq!(EphemeralType::of(ttl, true), EphemeralType::Ttl);
        // Without extended types a TTL owner looks like a session (as in ZooKeeper).
        assert_eq!(EphemeralType::of(ttl, false), EphemeralType::Normal);
        assert_eq!(EphemeralType::ttl_of(ttl), 5000);
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(TTL_MAX_MS, 0xff_ffff_ffff);
        assert!(EphemeralType::ttl_owner(0).is_none());
        assert!(EphemeralType::ttl_owner(-1).is_none());
        assert!(EphemeralType::ttl_owner(TTL_MAX_MS).is_some());
        assert!(EphemeralType::ttl_owner(TTL_MAX_MS + 1).is_none());
    }
}

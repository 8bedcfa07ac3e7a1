//! ACL rules of ZooKeeper 3.9 with its built-in providers, `digest` and `ip`,
//! `x509` (the TLS client certificate's subject, set by the server's TLS layer) and
//! `sasl` (`SASLAuthenticationProvider`: the SASL user, set by the SASL exchange):
//! `ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL`,
//! `DigestAuthenticationProvider.generateDigest` and the digest masking of getACL in
//! `FinalRequestProcessor`.
//!
//! Pure functions over `proto::Acl` / `proto::Id`; never sees a connection (the
//! caller passes the session's authenticated ids).

use base64::Engine;
use sha1::{Digest, Sha1};

use super::ip::{ip_is_valid, ip_matches};
use crate::proto::{Acl, ErrorCode, Id};

/// Whether `auth_ids` may do `perm` on a node with `node_acl` (`checkACL`).
/// An empty ACL allows everything; a `super` id allows everything; an entry grants
/// when it carries any bit of `perm` and is `world:anyone`, an equal `digest` id, or an
/// `ip` pattern matching the session's `ip` id. Other schemes have no provider and
/// never grant.
pub fn check_acl(node_acl: &[Acl], perm: i32, auth_ids: &[Id]) -> bool {
    if node_acl.is_empty() || auth_ids.iter().any(|a| a.scheme == "super") {
        return true;
    }
    node_acl.iter().any(|a| {
        if a.perms & perm == 0 {
            return false;
        }
        let id = &a.id;
        match id.scheme.as_str() {
            "world" => id.id == "anyone",
            "digest" => auth_ids
                .iter()
                .any(|c| c.scheme == "digest" && c.id == id.id),
            "ip" => auth_ids
                .iter()
                .any(|c| c.scheme == "ip" && ip_matches(&c.id, &id.id)),
            // `X509AuthenticationProvider.matches`: the certificate's subject DN,
            // compared as a string (the superUser case is the `super` id above).
            "x509" => auth_ids.iter().any(|c| c.scheme == "x509" && c.id == id.id),
            // `SASLAuthenticationProvider.matches`: the same name, or the SASL user
            // named `super`, which matches every `sasl` entry.
            "sasl" => auth_ids
                .iter()
                .any(|c| c.scheme == "sasl" && (c.id == id.id || c.id == "super")),
            _ => false,
        }
    })
}

/// `generateDigest("user:password")`: `user:` + base64(sha1("user:password")).
/// The user part is everything before the first ':' (all of it if there is none).
pub fn digest_of(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{b64}")
}

/// Java's `s.split(":").length`: trailing empty pieces are dropped.
fn java_split_count(s: &str) -> usize {
    if !s.contains(':') {
        return 1;
    }
    let mut pieces: Vec<&str> = s.split(':').collect();
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces.len()
}

/// Whether a scheme has a provider whose `isAuthenticated()` is true, i.e. whose
/// ids an `auth` ACL expands to. `ip` ids are not authenticated; `super` and
/// unknown schemes have no provider.
fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "x509" | "sasl")
}

/// `isValid` of the provider for `id.scheme`; false when there is no provider.
fn is_valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "digest" => java_split_count(&id.id) == 2,
        "ip" => ip_is_valid(&id.id),
        // Java's `new X500Principal(id)` parses a DN; this takes what has the shape
        // of one (`type=value`, one or more), which every real subject has.
        "x509" => looks_like_a_dn(&id.id),
        "sasl" => crate::sasl::is_valid_sasl_id(&id.id),
        _ => false,
    }
}

/// Whether `dn` is `type=value` pieces separated by unescaped `,` or `+` (RFC 2253,
/// where `\` escapes the next character), each with a non-empty type.
fn looks_like_a_dn(dn: &str) -> bool {
    let mut pieces = vec![String::new()];
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => pieces.last_mut().into_iter().for_each(|p| p.push(n)),
                None => return false,
            },
            ',' | '+' => pieces.push(String::new()),
            c => pieces.last_mut().into_iter().for_each(|p| p.push(c)),
        }
    }
    pieces
        .iter()
        .all(|p| p.split_once('=').is_some_and(|(k, _)| !k.trim().is_empty()))
}

/// `fixupACL`: drops exact duplicates (first wins), refuses an empty list, expands
/// `auth` to one entry per authenticated (digest) id of the session, and refuses
/// ids no provider accepts. Every refusal is INVALIDACL.
pub fn validate_and_fixup_acl(acl: &[Acl], auth_ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let before = out.len();
            for cid in auth_ids
                .iter()
                .filter(|c| is_authenticated_scheme(&c.scheme))
            {
                out.push(Acl {
                    perms: a.perms,
                    id: cid.clone(),
                });
            }
            if out.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&a.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// Characters Java's regex '.' does not match (line terminators).
fn is_java_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Java's `id.replaceAll(":.*", ":x")`: from each ':' to the end of its line becomes ":x".
fn mask_digest_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut masking = false;
    for c in id.chars() {
        if masking {
            if is_java_line_terminator(c) {
                masking = false;
                out.push(c);
            }
        } else if c == ':' {
            out.push_str(":x");
            masking = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// getACL for a caller without ADMIN on the node: digest ids become `user:x`
/// (other schemes unchanged), as `FinalRequestProcessor` does.
pub fn mask_digests_for_get_acl(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", &mask_digest_id(&a.id.id)),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::perms;

    #[test]
    fn digest_matches_zookeeper() {
        // Known value: ZooKeeper's DigestAuthenticationProvider for "super:test".
        assert_eq!(
            digest_of("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            digest_of("user"),
            format!("user:{}", {
                base64::engine::general_purpose::STANDARD.encode(Sha1::digest(b"user"))
            })
        );
    }

    #[test]
    fn world_anyone_and_perm_bits() {
        let acl = Acl::read_unsafe();
        assert!(check_acl(&acl, perms::READ, &[]));
        assert!(!check_acl(&acl, perms::WRITE, &[]));
        // getACL asks READ|ADMIN: any one bit suffices.
        assert!(check_acl(&acl, perms::READ | perms::ADMIN, &[]));
        assert!(check_acl(&[], perms::ADMIN, &[]));
    }

    #[test]
    fn digest_ip_super() {
        let d = digest_of("bob:pw");
        let acl = vec![
            Acl::new(perms::ALL, "digest", &d),
            Acl::new(perms::READ, "ip", "10.0.0.0/8"),
        ];
        assert!(check_acl(&acl, perms::WRITE, &[Id::new("digest", &d)]));
        assert!(!check_acl(
            &acl,
            perms::WRITE,
            &[Id::new("digest", "bob:x")]
        ));
        assert!(check_acl(&acl, perms::READ, &[Id::new("ip", "10.9.9.9")]));
        assert!(!check_acl(&acl, perms::WRITE, &[Id::new("ip", "10.9.9.9")]));
        assert!(check_acl(&acl, perms::WRITE, &[Id::new("super", "")]));
        // An `auth` or `world:someone` entry grants nothing.
        let odd = vec![
            Acl::new(perms::ALL, "auth", ""),
            Acl::new(perms::ALL, "world", "x"),
        ];
        assert!(!check_acl(&odd, perms::READ, &[Id::new("digest", &d)]));
    }

    #[test]
    fn sasl_matches_the_name_and_the_sasl_user_super() {
        let acl = vec![Acl::new(perms::READ, "sasl", "bob")];
        assert!(check_acl(&acl, perms::READ, &[Id::new("sasl", "bob")]));
        assert!(!check_acl(&acl, perms::READ, &[Id::new("sasl", "alice")]));
        assert!(!check_acl(&acl, perms::WRITE, &[Id::new("sasl", "bob")]));
        assert!(!check_acl(&acl, perms::READ, &[Id::new("digest", "bob")]));
        assert!(check_acl(&acl, perms::READ, &[Id::new("sasl", "super")]));
        // `auth` expands to the sasl id too (the provider is authenticated).
        let auth = vec![Acl::new(perms::ALL, "auth", "")];
        assert_eq!(
            validate_and_fixup_acl(&auth, &[Id::new("ip", "1.2.3.4"), Id::new("sasl", "bob")]),
            Ok(vec![Acl::new(perms::ALL, "sasl", "bob")])
        );
    }

    #[test]
    fn fixup_rules() {
        let bob = Id::new("digest", &digest_of("bob:pw"));
        let ip = Id::new("ip", "127.0.0.1");
        assert_eq!(validate_and_fixup_acl(&[], &[]), Err(ErrorCode::InvalidAcl));
        // Duplicates collapse, first wins.
        let open = Acl::open_unsafe();
        let twice = [open[0].clone(), open[0].clone()];
        assert_eq!(validate_and_fixup_acl(&twice, &[]), Ok(open.clone()));
        // auth expands to digest ids only (ip is not an authenticated provider).
        let auth = [Acl::new(perms::READ, "auth", "ignored")];
        assert_eq!(
            validate_and_fixup_acl(&auth, &[ip.clone(), bob.clone()]),
            Ok(vec![Acl {
                perms: perms::READ,
                id: bob.clone()
            }])
        );
        assert_eq!(
            validate_and_fixup_acl(&auth, std::slice::from_ref(&ip)),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            validate_and_fixup_acl(&auth, &[Id::new("super", "")]),
            Err(ErrorCode::InvalidAcl)
        );
        // Provider validity.
        for (scheme, id, ok) in [
            ("digest", "a:b", true),
            ("digest", "a:b:", true),
            ("digest", ":b", true),
            ("digest", "a", false),
            ("digest", "a:b:c", false),
            ("ip", "1.2.3.4/24", true),
            ("ip", "host", false),
            ("world", "someone", false),
            ("super", "", false),
            ("sasl", "bob", true),
            ("sasl", "bob/host@EXAMPLE.COM", true),
            ("sasl", "a@b@c", false),
            ("x509", "CN=client one,O=Acme\\, Inc.,C=US", true),
            ("x509", "CN=a+UID=b", true),
            ("x509", "client one", false),
            ("x509", "CN=a,", false),
        ] {
            let r = validate_and_fixup_acl(&[Acl::new(perms::ALL, scheme, id)], &[]);
            assert_eq!(r.is_ok(), ok, "{scheme}:{id}");
        }
    }

    #[test]
    fn get_acl_masking() {
        let acl = vec![
            Acl::new(perms::ALL, "digest", "bob:abc:def"),
            Acl::new(perms::READ, "ip", "1.2.3.4"),
            Acl::new(perms::READ, "digest", "a:b\nc:d"),
        ];
        let m = mask_digests_for_get_acl(&acl);
        assert_eq!(m[0].id.id, "bob:x");
        assert_eq!(m[1].id.id, "1.2.3.4");
        assert_eq!(m[2].id.id, "a:x\nc:x");
    }
}

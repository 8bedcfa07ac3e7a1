//! ACL rules of ZooKeeper 3.9 with the providers a server has registered
//! ([`AuthProviders`], ZooKeeper's `ProviderRegistry`): `ip` always, `digest` unless
//! turned off, `x509` (the TLS client certificate's subject, set by the server's TLS
//! layer) and `sasl` (`SASLAuthenticationProvider`: the SASL user, set by the SASL
//! exchange) only when configured: `ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL`,
//! `DigestAuthenticationProvider.generateDigest` and the digest masking of getACL in
//! `FinalRequestProcessor`.
//!
//! Pure functions over `proto::Acl` / `proto::Id`; never sees a connection (the
//! caller passes the session's authenticated ids).

use base64::Engine;
use sha1::{Digest, Sha1};

use super::ip::{ip_is_valid, ip_matches};
use crate::proto::{Acl, ErrorCode, Id};

/// The auth providers a server has registered (ZooKeeper's `ProviderRegistry`): an
/// ACL entry of a scheme without one is refused (INVALIDACL) and never grants, and an
/// `auth` entry does not expand to its ids. `ip` always has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthProviders {
    /// `DigestAuthenticationProvider` (on unless
    /// `zookeeper.DigestAuthenticationProvider.enabled=false`).
    pub digest: bool,
    /// `X509AuthenticationProvider`: registered when TLS serves clients, or by
    /// `authProvider.N`.
    pub x509: bool,
    /// `SASLAuthenticationProvider`, registered by `authProvider.N` only.
    pub sasl: bool,
    /// `zookeeper.letAnySaslUserDoX`: a `sasl` entry naming this user matches every
    /// SASL-authenticated session.
    pub let_any_sasl_user_do: Option<String>,
}

impl Default for AuthProviders {
    /// ZooKeeper's registry without `authProvider.N` and without TLS: `ip` and `digest`.
    fn default() -> Self {
        AuthProviders {
            digest: true,
            x509: false,
            sasl: false,
            let_any_sasl_user_do: None,
        }
    }
}

impl AuthProviders {
    /// Every provider (tests and tools that do not model a configuration).
    pub fn all() -> Self {
        AuthProviders {
            digest: true,
            x509: true,
            sasl: true,
            let_any_sasl_user_do: None,
        }
    }

    /// Whether `scheme` has a provider (`world` and `super` are not providers).
    pub fn has(&self, scheme: &str) -> bool {
        match scheme {
            "ip" => true,
            "digest" => self.digest,
            "x509" => self.x509,
            "sasl" => self.sasl,
            _ => false,
        }
    }

    /// The registered schemes, for messages.
    pub fn schemes(&self) -> Vec<&'static str> {
        ["ip", "digest", "x509", "sasl"]
            .into_iter()
            .filter(|s| self.has(s))
            .collect()
    }

    /// The provider's `matches(id, aclExpr)` for a session id and an ACL entry of
    /// the same scheme, which has a provider.
    fn matches(&self, scheme: &str, id: &str, acl_expr: &str) -> bool {
        match scheme {
            "digest" => id == acl_expr,
            "ip" => ip_matches(id, acl_expr),
            // `X509AuthenticationProvider.matches`: the certificate's subject DN,
            // compared as a string (the superUser case is the `super` id).
            "x509" => id == acl_expr,
            // `SASLAuthenticationProvider.matches`: the same name; the SASL user named
            // `super`, which matches every `sasl` entry; and any SASL user when the
            // entry names the `letAnySaslUserDoX` user.
            "sasl" => {
                id == acl_expr
                    || id == "super"
                    || self.let_any_sasl_user_do.as_deref() == Some(acl_expr)
            }
            _ => false,
        }
    }
}

/// Whether `auth_ids` may do `perm` on a node with `node_acl` (`checkACL`).
/// An empty ACL allows everything; a `super` id allows everything; an entry grants
/// when it carries any bit of `perm` and is `world:anyone`, or its scheme has a
/// provider in `providers` that matches one of the session's ids of that scheme.
/// Schemes without a provider never grant.
pub fn check_acl(node_acl: &[Acl], perm: i32, auth_ids: &[Id], providers: &AuthProviders) -> bool {
    if node_acl.is_empty() || auth_ids.iter().any(|a| a.scheme == "super") {
        return true;
    }
    node_acl.iter().any(|a| {
        if a.perms & perm == 0 {
            return false;
        }
        let id = &a.id;
        if id.scheme == "world" {
            return id.id == "anyone";
        }
        providers.has(&id.scheme)
            && auth_ids
                .iter()
                .any(|c| c.scheme == id.scheme && providers.matches(&id.scheme, &c.id, &id.id))
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
fn is_authenticated_scheme(scheme: &str, providers: &AuthProviders) -> bool {
    matches!(scheme, "digest" | "x509" | "sasl") && providers.has(scheme)
}

/// `isValid` of the provider for `id.scheme`; false when there is no provider.
fn is_valid_id(id: &Id, providers: &AuthProviders) -> bool {
    if !providers.has(&id.scheme) {
        return false;
    }
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
/// `auth` to one entry per id of the session whose provider is registered and
/// authenticated (digest, x509, sasl), and refuses ids no registered provider accepts.
/// Every refusal is INVALIDACL.
pub fn validate_and_fixup_acl(
    acl: &[Acl],
    auth_ids: &[Id],
    providers: &AuthProviders,
) -> Result<Vec<Acl>, ErrorCode> {
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
                .filter(|c| is_authenticated_scheme(&c.scheme, providers))
            {
                out.push(Acl {
                    perms: a.perms,
                    id: cid.clone(),
                });
            }
            if out.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&a.id, providers) {
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

    /// With every provider registered.
    fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
        check_acl(acl, perm, ids, &AuthProviders::all())
    }

    fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
        validate_and_fixup_acl(acl, ids, &AuthProviders::all())
    }

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
        assert!(check(&acl, perms::READ, &[]));
        assert!(!check(&acl, perms::WRITE, &[]));
        // getACL asks READ|ADMIN: any one bit suffices.
        assert!(check(&acl, perms::READ | perms::ADMIN, &[]));
        assert!(check(&[], perms::ADMIN, &[]));
    }

    #[test]
    fn digest_ip_super() {
        let d = digest_of("bob:pw");
        let acl = vec![
            Acl::new(perms::ALL, "digest", &d),
            Acl::new(perms::READ, "ip", "10.0.0.0/8"),
        ];
        assert!(check(&acl, perms::WRITE, &[Id::new("digest", &d)]));
        assert!(!check(&acl, perms::WRITE, &[Id::new("digest", "bob:x")]));
        assert!(check(&acl, perms::READ, &[Id::new("ip", "10.9.9.9")]));
        assert!(!check(&acl, perms::WRITE, &[Id::new("ip", "10.9.9.9")]));
        assert!(check(&acl, perms::WRITE, &[Id::new("super", "")]));
        // An `auth` or `world:someone` entry grants nothing.
        let odd = vec![
            Acl::new(perms::ALL, "auth", ""),
            Acl::new(perms::ALL, "world", "x"),
        ];
        assert!(!check(&odd, perms::READ, &[Id::new("digest", &d)]));
    }

    #[test]
    fn sasl_matches_the_name_and_the_sasl_user_super() {
        let acl = vec![Acl::new(perms::READ, "sasl", "bob")];
        assert!(check(&acl, perms::READ, &[Id::new("sasl", "bob")]));
        assert!(!check(&acl, perms::READ, &[Id::new("sasl", "alice")]));
        assert!(!check(&acl, perms::WRITE, &[Id::new("sasl", "bob")]));
        assert!(!check(&acl, perms::READ, &[Id::new("digest", "bob")]));
        assert!(check(&acl, perms::READ, &[Id::new("sasl", "super")]));
        // `auth` expands to the sasl id too (the provider is authenticated).
        let auth = vec![Acl::new(perms::ALL, "auth", "")];
        assert_eq!(
            fixup(&auth, &[Id::new("ip", "1.2.3.4"), Id::new("sasl", "bob")]),
            Ok(vec![Acl::new(perms::ALL, "sasl", "bob")])
        );
    }

    #[test]
    fn fixup_rules() {
        let bob = Id::new("digest", &digest_of("bob:pw"));
        let ip = Id::new("ip", "127.0.0.1");
        assert_eq!(fixup(&[], &[]), Err(ErrorCode::InvalidAcl));
        // Duplicates collapse, first wins.
        let open = Acl::open_unsafe();
        let twice = [open[0].clone(), open[0].clone()];
        assert_eq!(fixup(&twice, &[]), Ok(open.clone()));
        // auth expands to digest ids only (ip is not an authenticated provider).
        let auth = [Acl::new(perms::READ, "auth", "ignored")];
        assert_eq!(
            fixup(&auth, &[ip.clone(), bob.clone()]),
            Ok(vec![Acl {
                perms: perms::READ,
                id: bob.clone()
            }])
        );
        assert_eq!(
            fixup(&auth, std::slice::from_ref(&ip)),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&auth, &[Id::new("super", "")]),
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
            let r = fixup(&[Acl::new(perms::ALL, scheme, id)], &[]);
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

    #[test]
    fn schemes_without_a_registered_provider_are_invalid_and_never_grant() {
        let plain = AuthProviders::default();
        for (scheme, id) in [("sasl", "bob"), ("x509", "CN=a")] {
            let acl = vec![Acl::new(perms::ALL, scheme, id)];
            assert_eq!(
                validate_and_fixup_acl(&acl, &[], &plain),
                Err(ErrorCode::InvalidAcl),
                "{scheme}"
            );
            assert!(!check_acl(
                &acl,
                perms::READ,
                &[Id::new(scheme, id)],
                &plain
            ));
            // `auth` does not expand to ids whose provider is not registered.
            let auth = [Acl::new(perms::ALL, "auth", "")];
            assert_eq!(
                validate_and_fixup_acl(&auth, &[Id::new(scheme, id)], &plain),
                Err(ErrorCode::InvalidAcl)
            );
            let with = AuthProviders {
                sasl: scheme == "sasl",
                x509: scheme == "x509",
                ..AuthProviders::default()
            };
            assert_eq!(validate_and_fixup_acl(&acl, &[], &with), Ok(acl.clone()));
            assert!(check_acl(&acl, perms::READ, &[Id::new(scheme, id)], &with));
        }
        let no_digest = AuthProviders {
            digest: false,
            ..AuthProviders::default()
        };
        let acl = vec![Acl::new(perms::ALL, "digest", "a:b")];
        assert!(validate_and_fixup_acl(&acl, &[], &no_digest).is_err());
        assert!(!check_acl(
            &acl,
            perms::READ,
            &[Id::new("digest", "a:b")],
            &no_digest
        ));
        // world:anyone and ip need no configuration.
        let open = Acl::open_unsafe();
        assert!(validate_and_fixup_acl(&open, &[], &no_digest).is_ok());
        assert!(check_acl(&open, perms::READ, &[], &no_digest));
        let ip = vec![Acl::new(perms::ALL, "ip", "127.0.0.1")];
        assert!(check_acl(
            &ip,
            perms::READ,
            &[Id::new("ip", "127.0.0.1")],
            &no_digest
        ));
    }

    #[test]
    fn let_any_sasl_user_do_x_lets_every_sasl_user_match_that_users_entries() {
        let any = AuthProviders {
            sasl: true,
            let_any_sasl_user_do: Some("shared".into()),
            ..AuthProviders::default()
        };
        let shared = vec![Acl::new(perms::READ, "sasl", "shared")];
        let bob = vec![Acl::new(perms::READ, "sasl", "bob")];
        assert!(check_acl(
            &shared,
            perms::READ,
            &[Id::new("sasl", "alice")],
            &any
        ));
        // Only entries naming that user, only SASL sessions, only the entry's perms.
        assert!(!check_acl(
            &bob,
            perms::READ,
            &[Id::new("sasl", "alice")],
            &any
        ));
        assert!(!check_acl(
            &shared,
            perms::READ,
            &[Id::new("digest", "alice:x")],
            &any
        ));
        assert!(!check_acl(&shared, perms::READ, &[], &any));
        assert!(!check_acl(
            &shared,
            perms::WRITE,
            &[Id::new("sasl", "alice")],
            &any
        ));
        let off = AuthProviders {
            let_any_sasl_user_do: None,
            ..any
        };
        assert!(!check_acl(
            &shared,
            perms::READ,
            &[Id::new("sasl", "alice")],
            &off
        ));
    }
}

//! SASL on the client port as ZooKeeper's server does it: the JAAS file's login
//! section (`jaas`), the DIGEST-MD5 exchange (`digest_md5`), and the rules that turn
//! a section into the user table and an authenticated user into the session's `sasl`
//! id. GSSAPI (Kerberos) is not implemented. Pure: no I/O, no clock, no RNG.

pub mod digest_md5;
pub mod jaas;

use std::collections::BTreeMap;

/// The login module ZooKeeper's DIGEST-MD5 server section names.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// JAAS options with this prefix are users: `user_bob="pw"` (ZooKeeper's
/// `DIGEST_MD5_USER_PREFIX`).
pub const USER_PREFIX: &str = "user_";

/// The DIGEST-MD5 users and their passwords. Debug shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Users(BTreeMap<String, String>);

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Users {
    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The users of a server login section (ZooKeeper's `getDigestMd5Credentials`: every
/// `user_NAME` option of every entry; a later one wins). Any module but
/// DigestLoginModule is refused: ZooKeeper would log in with it (Kerberos needs a
/// KDC), which ringkeeper cannot do.
pub fn users_of(section: &jaas::Section) -> Result<Users, String> {
    let mut users = BTreeMap::new();
    for m in &section.modules {
        if m.class != DIGEST_LOGIN_MODULE {
            return Err(format!(
                "line {}: login module {} is not supported: only {DIGEST_LOGIN_MODULE} \
                 (SASL DIGEST-MD5) is; GSSAPI/Kerberos is not",
                m.line, m.class
            ));
        }
        for (k, v) in &m.options {
            if let Some(name) = k.strip_prefix(USER_PREFIX) {
                users.insert(name.to_owned(), v.clone());
            }
        }
    }
    Ok(Users(users))
}

/// The session's `sasl` id for an authenticated DIGEST-MD5 user, as ZooKeeper's
/// `SaslServerCallbackHandler` makes it: the name is read as a Kerberos principal
/// (`service[/host]@REALM`). A name without a realm is its own short name, so the id
/// is the user name whatever authzid the client asked for. A name with a realm would be
/// mapped by the `auth_to_local` rules, of which only DEFAULT exists and which needs
/// the host's default Kerberos realm; ringkeeper has no Kerberos configuration, so as
/// in ZooKeeper without one no rule applies and the id is the authzid the client gave,
/// or else the name. `kerberos.removeHostFromPrincipal` and
/// `kerberos.removeRealmFromPrincipal` only act on a mapped name, so never here.
/// `Err`: a name with '@' that is not a principal (ZooKeeper drops the connection).
pub fn authorized_id(username: &str, authzid: Option<&str>) -> Result<String, String> {
    if !username.contains('@') {
        return Ok(username.to_owned());
    }
    if is_principal_with_realm(username) {
        Ok(authzid.unwrap_or(username).to_owned())
    } else {
        Err(format!("malformed Kerberos name: {username}"))
    }
}

/// `([^/@]*)(/([^/@]*))?@([^/@]*)`, ZooKeeper's `KerberosName` pattern.
fn is_principal_with_realm(name: &str) -> bool {
    let Some((left, realm)) = name.split_once('@') else {
        return false;
    };
    if realm.contains(['/', '@']) {
        return false;
    }
    let mut parts = left.split('/');
    parts.next();
    let host = parts.next();
    parts.next().is_none() && host.is_none_or(|h| !h.contains('@'))
}

/// `SASLAuthenticationProvider.isValid`: an id must parse as a Kerberos name (no '@',
/// or a well-formed principal with a realm).
pub fn is_valid_sasl_id(id: &str) -> bool {
    !id.contains('@') || is_principal_with_realm(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_from_a_section() {
        let cfg = jaas::parse(
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required \
             user_super=\"s\" user_bob=\"b\" debug=\"true\"; };",
        )
        .expect("parses");
        let users = users_of(cfg.section("Server").expect("section")).expect("users");
        assert_eq!(users.len(), 2);
        assert_eq!(users.password("bob"), Some("b"));
        assert_eq!(users.password("debug"), None);
        assert_eq!(format!("{users:?}"), "[\"bob\", \"super\"]");

        let krb = jaas::parse(
            "Server {\n com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };",
        )
        .expect("parses");
        let e = users_of(krb.section("Server").expect("section")).expect_err("krb5");
        assert!(
            e.contains("line 2") && e.contains("GSSAPI/Kerberos is not"),
            "{e}"
        );
    }

    #[test]
    fn authorization_ids() {
        assert_eq!(authorized_id("bob", Some("alice")).as_deref(), Ok("bob"));
        assert_eq!(authorized_id("bob/host", None).as_deref(), Ok("bob/host"));
        assert_eq!(
            authorized_id("bob@EX.COM", None).as_deref(),
            Ok("bob@EX.COM")
        );
        assert_eq!(
            authorized_id("bob/h@EX.COM", Some("al")).as_deref(),
            Ok("al")
        );
        assert!(authorized_id("a@b@c", None).is_err());
        assert!(authorized_id("a/b/c@R", None).is_err());
        assert!(is_valid_sasl_id("bob"));
        assert!(is_valid_sasl_id("zookeeper/host@R"));
        assert!(!is_valid_sasl_id("a@b@c"));
    }
}

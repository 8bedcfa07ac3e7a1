//! The server side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper's server runs it (the
//! JDK's `DigestMD5Server`, created with protocol `zookeeper` and server name
//! `zk-sasl-md5`): the first token (empty from a DIGEST-MD5 client; its content is not
//! looked at, as JDK 17's server does not) is answered with a challenge (realm
//! `zk-sasl-md5`, a fresh nonce, `charset=utf-8`, `algorithm=md5-sess`; no `qop`,
//! which then means `auth`, byte for byte what ZooKeeper 3.8 on JDK 17 sends), the
//! client's digest-response is checked against the user's password, and the answer is
//! `rspauth`. Only `qop=auth`: no integrity or confidentiality layer. A GSSAPI client
//! gets the DIGEST-MD5 challenge for its first token and fails on it.
//!
//! Pure: the nonce is made by the caller (the server draws it at random) and passwords
//! are looked up through a closure.

use md5::{Digest, Md5};

/// ZooKeeper's server name for DIGEST-MD5, which is also the realm it offers.
pub const REALM: &str = "zk-sasl-md5";
/// The SASL protocol (service) name: digest-uri is `zookeeper/zk-sasl-md5`.
pub const PROTOCOL: &str = "zookeeper";
/// The JDK refuses longer digest-responses (`MAX_RESPONSE_LENGTH`).
pub const MAX_RESPONSE_LEN: usize = 4096;

/// Why an exchange failed (the server answers AUTHFAILED and closes the connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DIGEST-MD5: {0}")]
pub struct SaslError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, SaslError> {
    Err(SaslError(msg.into()))
}

/// What one client token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this token and wait for the client's next one.
    Challenge(Vec<u8>),
    /// Authenticated: send `token` (the `rspauth`), the exchange is over.
    Complete {
        token: Vec<u8>,
        /// The authentication id (`username`).
        username: String,
        /// The authorization id the client asked for (`authzid`), if any.
        authzid: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    Challenged,
    /// Completed or failed: any further token is refused.
    Over,
}

/// One connection's DIGEST-MD5 exchange.
#[derive(Debug)]
pub struct DigestMd5Server {
    nonce: String,
    state: State,
}

impl DigestMd5Server {
    /// `nonce`: fresh, unpredictable, made of characters that need no quoting
    /// (the server uses 30 random bytes in base64, as the JDK does).
    pub fn new(nonce: String) -> DigestMd5Server {
        DigestMd5Server {
            nonce,
            state: State::Initial,
        }
    }

    /// Whether the exchange has ended (successfully or not).
    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    /// Takes the client's next token. `password_of(username)` is the user's
    /// password, `None` for an unknown user.
    pub fn evaluate(
        &mut self,
        token: &[u8],
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Step, SaslError> {
        let state = self.state;
        // Whatever happens, a failed step ends the exchange (the JDK disposes of it).
        self.state = State::Over;
        if token.len() > MAX_RESPONSE_LEN {
            return fail(format!(
                "invalid digest response length {} (at most {MAX_RESPONSE_LEN})",
                token.len()
            ));
        }
        match state {
            State::Initial => {
                self.state = State::Challenged;
                Ok(Step::Challenge(
                    format!(
                        "realm=\"{REALM}\",nonce=\"{}\",charset=utf-8,algorithm=md5-sess",
                        self.nonce
                    )
                    .into_bytes(),
                ))
            }
            State::Challenged => self.check_response(token, password_of),
            State::Over => fail("server at illegal state (the exchange is over)"),
        }
    }

    fn check_response(
        &self,
        token: &[u8],
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Step, SaslError> {
        let d = parse_directives(token)?;
        let utf8 = match d.get("charset") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case(b"utf-8") => true,
            Some(v) => {
                return fail(format!(
                    "incompatible charset value: {}",
                    String::from_utf8_lossy(v)
                ))
            }
        };
        let text = |name: &str| -> Result<Option<String>, SaslError> {
            d.get(name).map(|v| decode(v, utf8, name)).transpose()
        };
        let Some(username) = text("username")? else {
            return fail("digest response format violation: missing username");
        };
        let realm = text("realm")?.unwrap_or_default();
        if d.get("realm").is_some() && realm != REALM {
            return fail(format!("nonexistent realm: {realm}"));
        }
        match d.get("nonce") {
            Some(n) if *n == self.nonce.as_bytes() => {}
            Some(_) => return fail("mismatched nonce"),
            None => return fail("digest response format violation: missing nonce"),
        }
        let Some(cnonce) = d.get("cnonce") else {
            return fail("digest response format violation: missing cnonce");
        };
        let nc_ok = d
            .get("nc")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| u32::from_str_radix(v, 16).ok())
            == Some(1);
        if !nc_ok {
            return fail("nonce count does not match (expected 1)");
        }
        match d.get("qop") {
            None => {}
            Some(q) if *q == b"auth" => {}
            Some(q) => {
                return fail(format!(
                    "client selected unsupported protection: {} (only auth is offered)",
                    String::from_utf8_lossy(q)
                ))
            }
        }
        let Some(digest_uri) = d.get("digest-uri") else {
            return fail("digest response format violation: missing digest-uri");
        };
        let expected_uri = format!("{PROTOCOL}/{REALM}");
        if !digest_uri.eq_ignore_ascii_case(expected_uri.as_bytes()) {
            return fail(format!(
                "mismatched URI: {}; expecting: {expected_uri}",
                String::from_utf8_lossy(digest_uri)
            ));
        }
        let authzid = text("authzid")?;
        let Some(given) = d.get("response") else {
            return fail("digest response format violation: missing response");
        };
        let Some(password) = password_of(&username) else {
            return fail(format!(
                "cannot acquire password for {username} in realm {REALM}"
            ));
        };
        let creds = Credentials {
            username: &username,
            realm: &realm,
            password: &password,
            utf8,
            nonce: self.nonce.as_bytes(),
            cnonce,
            authzid: d.get("authzid").map(Vec::as_slice),
            digest_uri,
        };
        if !given.eq_ignore_ascii_case(&creds.response(b"AUTHENTICATE")) {
            return fail("mismatched response");
        }
        let mut token = b"rspauth=".to_vec();
        token.extend_from_slice(&creds.response(b""));
        Ok(Step::Complete {
            token,
            username,
            authzid,
        })
    }
}

/// What the two digests (the client's `response` and the server's `rspauth`) are made of.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    /// `charset=utf-8` was negotiated.
    pub utf8: bool,
    pub nonce: &'a [u8],
    pub cnonce: &'a [u8],
    pub authzid: Option<&'a [u8]>,
    pub digest_uri: &'a [u8],
}

impl Credentials<'_> {
    /// RFC 2831 §2.1.2.1 for `qop=auth`, `nc=00000001`: the client's `response` with
    /// `method` `AUTHENTICATE`, the server's `rspauth` with an empty one. Lower-case hex.
    pub fn response(&self, method: &[u8]) -> Vec<u8> {
        let mut urp = Md5::new();
        urp.update(latin1_if_possible(self.username, self.utf8));
        urp.update(b":");
        urp.update(latin1_if_possible(self.realm, self.utf8));
        urp.update(b":");
        urp.update(latin1_if_possible(self.password, self.utf8));
        let mut a1 = Md5::new();
        a1.update(urp.finalize());
        a1.update(b":");
        a1.update(self.nonce);
        a1.update(b":");
        a1.update(self.cnonce);
        if let Some(z) = self.authzid {
            a1.update(b":");
            a1.update(z);
        }
        let mut a2 = Md5::new();
        a2.update(method);
        a2.update(b":");
        a2.update(self.digest_uri);
        let mut kd = Md5::new();
        kd.update(hex(&a1.finalize()));
        kd.update(b":");
        kd.update(self.nonce);
        kd.update(b":00000001:");
        kd.update(self.cnonce);
        kd.update(b":auth:");
        kd.update(hex(&a2.finalize()));
        hex(&kd.finalize())
    }
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect()
}

/// RFC 2831: with `charset=utf-8`, a string all of whose characters are in
/// ISO 8859-1 is hashed in ISO 8859-1; otherwise in UTF-8 (the JDK's
/// `stringToByte_8859_1`). Without the charset every character must be 8859-1.
fn latin1_if_possible(s: &str, utf8: bool) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) <= 0xff) || !utf8 {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// A directive's value as text: UTF-8 with the charset, ISO 8859-1 without.
fn decode(v: &[u8], utf8: bool, name: &str) -> Result<String, SaslError> {
    if utf8 {
        String::from_utf8(v.to_vec()).or_else(|_| fail(format!("{name} is not valid UTF-8")))
    } else {
        Ok(v.iter().map(|&b| char::from(b)).collect())
    }
}

/// The directives of a digest-response, names in lower case.
struct Directives(Vec<(String, Vec<u8>)>);

impl Directives {
    fn get(&self, name: &str) -> Option<&Vec<u8>> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// RFC 2831 §7.1: `name=value` or `name="quoted"` separated by commas, with
/// optional white space; empty elements are allowed. A directive given twice is
/// refused, as the JDK refuses it.
fn parse_directives(token: &[u8]) -> Result<Directives, SaslError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut i = 0;
    let n = token.len();
    let skip_ws = |i: &mut usize| {
        while *i < n && matches!(token[*i], b' ' | b'\t' | b'\r' | b'\n') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= n {
            break;
        }
        if token[i] == b',' {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && token[i] != b'=' && token[i] != b',' && !token[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = String::from_utf8_lossy(&token[start..i]).to_ascii_lowercase();
        skip_ws(&mut i);
        if i >= n || token[i] != b'=' {
            return fail(format!("directive {name} has no value"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = Vec::new();
        if i < n && token[i] == b'"' {
            i += 1;
            let mut closed = false;
            while i < n {
                match token[i] {
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < n => {
                        value.push(token[i + 1]);
                        i += 2;
                    }
                    b => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            if !closed {
                return fail(format!("the quoted value of {name} is not closed"));
            }
        } else {
            while i < n && token[i] != b',' && !token[i].is_ascii_whitespace() {
                value.push(token[i]);
                i += 1;
            }
        }
        skip_ws(&mut i);
        if i < n && token[i] != b',' {
            return fail(format!("garbage after the value of {name}"));
        }
        if out.iter().any(|(k, _)| *k == name) {
            return fail(format!("peer sent more than one {name} directive"));
        }
        out.push((name, value));
    }
    Ok(Directives(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "OA6MG9tEQGm2hh";

    /// A client response built from the same formula, with the values of RFC 2831's
    /// example shape.
    fn client_response(user: &str, pw: &str, nonce: &str, extra: &str) -> Vec<u8> {
        let creds = Credentials {
            username: user,
            realm: REALM,
            password: pw,
            utf8: true,
            nonce: nonce.as_bytes(),
            cnonce: b"OA6MHXh6VqTrRk",
            authzid: None,
            digest_uri: b"zookeeper/zk-sasl-md5",
        };
        let r = String::from_utf8(creds.response(b"AUTHENTICATE")).expect("hex");
        format!(
            "charset=utf-8,username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,\
             cnonce=\"OA6MHXh6VqTrRk\",digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,\
             response={r},qop=auth{extra}"
        )
        .into_bytes()
    }

    fn pw(user: &str) -> Option<String> {
        (user == "bob").then(|| "secret".to_owned())
    }

    #[test]
    fn rfc_2831_example_digest() {
        // RFC 2831 §4's example (IMAP, md5-sess): user chris, password secret.
        let c = Credentials {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            utf8: false,
            nonce: b"OA6MG9tEQGm2hh",
            cnonce: b"OA6MHXh6VqTrRk",
            authzid: None,
            digest_uri: b"imap/elwood.innosoft.com",
        };
        assert_eq!(
            c.response(b"AUTHENTICATE"),
            b"d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(c.response(b""), b"ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn a_good_exchange_completes_with_rspauth() {
        let mut s = DigestMd5Server::new(NONCE.into());
        let Step::Challenge(ch) = s.evaluate(b"", pw).expect("challenge") else {
            panic!("not a challenge");
        };
        assert_eq!(
            String::from_utf8(ch).expect("text"),
            format!("realm=\"zk-sasl-md5\",nonce=\"{NONCE}\",charset=utf-8,algorithm=md5-sess")
        );
        match s.evaluate(&client_response("bob", "secret", NONCE, ""), pw) {
            Ok(Step::Complete {
                token,
                username,
                authzid,
            }) => {
                assert!(token.starts_with(b"rspauth="));
                assert_eq!(token.len(), 8 + 32);
                assert_eq!(username, "bob");
                assert_eq!(authzid, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(s.is_over());
        assert!(s.evaluate(b"", pw).is_err(), "a second exchange");
    }

    #[test]
    fn bad_tokens_fail() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                client_response("bob", "wrong", NONCE, ""),
                "mismatched response",
            ),
            (
                client_response("eve", "secret", NONCE, ""),
                "cannot acquire password",
            ),
            (
                client_response("bob", "secret", "othernonce", ""),
                "mismatched nonce",
            ),
            (
                client_response("bob", "secret", NONCE, ",qop=auth"),
                "more than one qop",
            ),
            (
                client_response("bob", "secret", NONCE, "")
                    .replace_all(b"qop=auth", b"qop=auth-conf"),
                "unsupported protection",
            ),
            (
                client_response("bob", "secret", NONCE, "")
                    .replace_all(b"nc=00000001", b"nc=00000002"),
                "nonce count",
            ),
            (
                client_response("bob", "secret", NONCE, "")
                    .replace_all(b"zookeeper/zk-sasl-md5", b"imap/zk-sasl-md5"),
                "mismatched URI",
            ),
            (
                client_response("bob", "secret", NONCE, "")
                    .replace_all(b"realm=\"zk-sasl-md5\"", b"realm=\"x\""),
                "nonexistent realm",
            ),
            (b"username=\"bob\"".to_vec(), "missing nonce"),
            (b"\x00\xff garbage".to_vec(), "no value"),
            (b"username=\"bob".to_vec(), "not closed"),
            (vec![b'a'; MAX_RESPONSE_LEN + 1], "length"),
        ];
        for (token, needle) in cases {
            let mut s = DigestMd5Server::new(NONCE.into());
            s.evaluate(b"", pw).expect("challenge");
            let e = s.evaluate(&token, pw).expect_err(needle);
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert!(s.is_over());
        }
        // A first token that is not empty (what a GSSAPI client sends first) gets the
        // challenge all the same; the GSSAPI client's next token then fails.
        let mut s = DigestMd5Server::new(NONCE.into());
        assert!(matches!(
            s.evaluate(b"\x60\x82gssapi", pw),
            Ok(Step::Challenge(_))
        ));
        assert!(s.evaluate(b"\x60\x82more", pw).is_err());
    }

    trait ReplaceAll {
        fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceAll for Vec<u8> {
        fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let s = String::from_utf8(self).expect("text");
            s.replace(
                std::str::from_utf8(from).expect("text"),
                std::str::from_utf8(to).expect("text"),
            )
            .into_bytes()
        }
    }

    #[test]
    fn latin1_rule() {
        assert_eq!(latin1_if_possible("bøb", true), vec![b'b', 0xf8, b'b']);
        assert_eq!(latin1_if_possible("b€b", true), "b€b".as_bytes());
    }
}

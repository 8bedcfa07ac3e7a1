//! Reads Java KeyStore (JKS) files, ZooKeeper's default store type and what kazoo's
//! test harness writes: private keys (under Sun's own key protection) with their
//! certificate chains, and trusted certificates. No crate reads JKS, and the format
//! is small and fixed (Sun's `JavaKeyStore` and `KeyProtector`):
//!
//! - big-endian: magic `FEEDFEED`, version (1 or 2), entry count; each entry a tag
//!   (1 private key, 2 trusted certificate), an alias (u16-length modified UTF-8), a
//!   date (u64), then for a key: u32-length `EncryptedPrivateKeyInfo` and a u32 count
//!   of certificates, for a trusted certificate: one certificate; a certificate is
//!   (version 2) its type as u16-length UTF-8, then u32-length DER;
//! - last, SHA-1 over the password (UTF-16BE), the words "Mighty Aphrodite" and
//!   everything before: the store's integrity check;
//! - a key's protection: salt (20 bytes), the PKCS#8 key XORed with the stream
//!   SHA-1(password ‖ salt), SHA-1(password ‖ previous), …, and SHA-1(password ‖ key)
//!   to check the password.
//!
//! Every length is checked against what is left: a bad file is an error, never a panic.

use sha1::{Digest, Sha1};

/// What a JKS file holds (DER bytes).
#[derive(Debug, Default)]
pub struct Jks {
    /// Each private key entry: the PKCS#8 key and its certificate chain, leaf first.
    pub keys: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Trusted certificate entries.
    pub trusted: Vec<Vec<u8>>,
}

const MAGIC: u32 = 0xFEED_FEED;
/// Sun's key protection algorithm OID 1.3.6.1.4.1.42.2.17.1.1, DER content bytes.
const SUN_KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const DIGEST_LEN: usize = 20;

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| "truncated".to_owned())?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<usize, String> {
        let s = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([s[0], s[1]])))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn bytes32(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn cert(&mut self, version: u32) -> Result<Vec<u8>, String> {
        if version == 2 {
            let n = self.u16()?;
            let kind = self.take(n)?;
            if kind != b"X.509" {
                return Err(format!(
                    "a certificate of type {} (only X.509 is read)",
                    String::from_utf8_lossy(kind)
                ));
            }
        }
        Ok(self.bytes32()?.to_vec())
    }
}

fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Whether `data` starts as a JKS file does.
pub fn is_jks(data: &[u8]) -> bool {
    data.get(..4) == Some(&MAGIC.to_be_bytes()[..])
}

/// Reads a JKS file. The integrity check is skipped without a password, as Java's
/// `KeyStore.load(in, null)` skips it; keys need the password to be decrypted.
pub fn read(data: &[u8], password: &str) -> Result<Jks, String> {
    if data.len() < DIGEST_LEN + 12 || !is_jks(data) {
        return Err("not a JKS store".into());
    }
    let (body, digest) = data.split_at(data.len() - DIGEST_LEN);
    let pw = password_bytes(password);
    if !password.is_empty() {
        let mut h = Sha1::new();
        h.update(&pw);
        h.update(b"Mighty Aphrodite");
        h.update(body);
        if h.finalize().as_slice() != digest {
            return Err(
                "the password is wrong or the store is damaged (its integrity check fails)".into(),
            );
        }
    }
    let mut c = Cursor { b: body, at: 4 };
    let version = c.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("JKS version {version} is unknown"));
    }
    let count = c.u32()?;
    let mut out = Jks::default();
    for _ in 0..count {
        let tag = c.u32()?;
        let alias_len = c.u16()?;
        c.take(alias_len)?;
        c.take(8)?;
        match tag {
            1 => {
                let protected = c.bytes32()?;
                let n = c.u32()?;
                let mut chain = Vec::new();
                for _ in 0..n {
                    chain.push(c.cert(version)?);
                }
                out.keys.push((unprotect(protected, &pw)?, chain));
            }
            2 => out.trusted.push(c.cert(version)?),
            t => {
                return Err(format!(
                    "an entry of kind {t} (a JCEKS secret key?) is not read"
                ))
            }
        }
    }
    Ok(out)
}

/// The PKCS#8 key inside Sun's `EncryptedPrivateKeyInfo`.
fn unprotect(info: &[u8], pw: &[u8]) -> Result<Vec<u8>, String> {
    use super::tls::{der_element, der_split};
    let bad = || "a private key entry does not parse".to_owned();
    let (tag, seq) = der_element(info).ok_or_else(bad)?;
    let (alg_tag, alg, after_alg) = der_split(seq).ok_or_else(bad)?;
    let (oid_tag, oid) = der_element(alg).ok_or_else(bad)?;
    if tag != 0x30 || alg_tag != 0x30 || oid_tag != 0x06 || oid != SUN_KEY_PROTECTOR_OID {
        return Err("a private key is not under Sun's JKS key protection".into());
    }
    let (oct_tag, protected) = der_element(after_alg).ok_or_else(bad)?;
    if oct_tag != 0x04 || protected.len() < 2 * DIGEST_LEN {
        return Err(bad());
    }
    let (salt, rest) = protected.split_at(DIGEST_LEN);
    let (enc, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let mut key = Vec::with_capacity(enc.len());
    let mut block: Vec<u8> = salt.to_vec();
    for chunk in enc.chunks(DIGEST_LEN) {
        let mut h = Sha1::new();
        h.update(pw);
        h.update(&block);
        block = h.finalize().to_vec();
        key.extend(chunk.iter().zip(&block).map(|(a, b)| a ^ b));
    }
    let mut h = Sha1::new();
    h.update(pw);
    h.update(&key);
    if h.finalize().as_slice() != check {
        return Err("the private key's password (the store's password) is wrong".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_stores_are_errors() {
        assert!(read(b"nope", "pw").is_err());
        let mut d = MAGIC.to_be_bytes().to_vec();
        d.extend_from_slice(&2u32.to_be_bytes());
        d.extend_from_slice(&5u32.to_be_bytes());
        d.extend_from_slice(&[0u8; 20]);
        // No password: no integrity check, then five entries that are not there.
        assert_eq!(read(&d, "").expect_err("truncated"), "truncated");
        assert!(read(&d, "pw").expect_err("digest").contains("password"));
    }
}

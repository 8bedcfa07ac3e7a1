//! Certificate revocation for the client port's TLS (`ssl.crl`, `ssl.ocsp`): whether
//! a client certificate is revoked, by the CRLs its distribution points name.
//!
//! What ZooKeeper does: with either key on, `X509Util` turns on Java's PKIX
//! revocation checking and sets `com.sun.security.enableCRLDP`, so each certificate
//! of a client's chain but the trust anchor is looked up in the CRLs named by its
//! CRL Distribution Points extension (no CRL file is configured anywhere). A
//! certificate whose status cannot be found (no distribution point, as in every X.509
//! v1 certificate; a CRL that cannot be fetched, is stale or is not signed by the
//! issuer) fails the handshake: Java's checker is not soft-fail unless told, and
//! ZooKeeper does not tell it.
//!
//! What is done here: `file:` distribution points are read (DER or PEM), at each
//! handshake, so a CRL replaced on disk counts at once; the CRL must be issued by the
//! certificate's issuer, signed with its key and current (`thisUpdate` passed,
//! `nextUpdate` not). `http:` and `ldap:` points are not fetched (this server makes
//! no outgoing connections for CRLs); a certificate that names only those is refused,
//! as Java refuses one whose CRL it cannot fetch, with a WARN naming the point. With
//! `ssl.ocsp` this check is the fallback when OCSP gives no answer (`super::ocsp`),
//! run there on the lookup thread rather than in the handshake.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::CertificateError;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// A CRL bigger than this is not read (a certificate may name any file).
const CRL_BYTES_MAX: u64 = 64 << 20;

/// Whether `cert` (DER), issued by `issuer` (DER), is shown unrevoked at `now` (Unix
/// seconds) by a CRL from one of its distribution points. `Revoked` when a CRL lists
/// it; `UnknownRevocationStatus` when no usable CRL is found, with a WARN saying why.
pub fn check(cert: &[u8], issuer: &[u8], now: i64) -> Result<(), CertificateError> {
    let (cert, issuer) = match (
        X509Certificate::from_der(cert),
        X509Certificate::from_der(issuer),
    ) {
        (Ok((_, c)), Ok((_, i))) => (c, i),
        _ => return Err(CertificateError::BadEncoding),
    };
    let who = super::tls::rfc2253(cert.subject());
    let points = distribution_points(&cert);
    if points.is_empty() {
        tracing::warn!(
            "refusing client certificate {who}: ssl.crl/ssl.ocsp ask for its revocation \
             status and it names no CRL distribution point"
        );
        return Err(CertificateError::UnknownRevocationStatus);
    }
    let mut why = Vec::with_capacity(points.len());
    for url in &points {
        match read(url).and_then(|data| listed(&data, &cert, &issuer, now)) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                tracing::warn!(
                    "refusing client certificate {who} (serial {}): revoked by the CRL at {url}",
                    cert.raw_serial_as_string()
                );
                return Err(CertificateError::Revoked);
            }
            Err(e) => why.push(format!("{url}: {e}")),
        }
    }
    tracing::warn!(
        "refusing client certificate {who}: its revocation status is unknown ({})",
        why.join("; ")
    );
    Err(CertificateError::UnknownRevocationStatus)
}

/// The URIs of the certificate's CRL Distribution Points extension.
fn distribution_points(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(u) = n {
                            out.push((*u).to_owned());
                        }
                    }
                }
            }
        }
    }
    out
}

/// The CRL a distribution point names: only `file:` URLs are read.
fn read(url: &str) -> Result<Vec<u8>, String> {
    let Some(rest) = url.strip_prefix("file:") else {
        return Err("not fetched: only file: CRL distribution points are read".into());
    };
    // file:///p and file://localhost/p are the local /p; file:/p too (Java's form).
    let path = match rest.strip_prefix("//") {
        Some(r) if r.starts_with('/') => r,
        Some(r) => match r.strip_prefix("localhost") {
            Some(p) if p.starts_with('/') => p,
            _ => return Err("a file: URL on another host is not read".into()),
        },
        None => rest,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {path}: {e}"))?
        .len();
    if size > CRL_BYTES_MAX {
        return Err(format!(
            "{path} is {size} bytes, more than a CRL may be here"
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Whether the CRL in `data` (DER or PEM) lists `cert`; an error when it is not a
/// CRL the certificate's issuer signed and that is current at `now`.
fn listed(
    data: &[u8],
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    now: i64,
) -> Result<bool, String> {
    // DER is parsed where it lies; only PEM is decoded into a buffer of its own.
    let der: std::borrow::Cow<'_, [u8]> =
        if data.starts_with(b"-----") || data.starts_with(b"\n-----") {
            CertificateRevocationListDer::from_pem_slice(data)
                .map_err(|e| format!("not a PEM CRL: {e}"))?
                .as_ref()
                .to_vec()
                .into()
        } else {
            data.into()
        };
    let (_, crl) =
        CertificateRevocationList::from_der(&der).map_err(|e| format!("not a CRL: {e}"))?;
    if crl.issuer().as_raw() != cert.issuer().as_raw() {
        return Err(format!(
            "issued by {}, not by the certificate's issuer",
            super::tls::rfc2253(crl.issuer())
        ));
    }
    crl.verify_signature(issuer.public_key())
        .map_err(|_| "not signed by the certificate's issuer".to_owned())?;
    if crl.last_update().timestamp() > now {
        return Err("not valid yet (thisUpdate is in the future)".into());
    }
    if let Some(next) = crl.next_update() {
        if next.timestamp() < now {
            return Err(format!("stale (nextUpdate {next} has passed)"));
        }
    }
    let revoked = crl
        .iter_revoked_certificates()
        .any(|r| r.serial() == &cert.tbs_certificate.serial);
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_file_urls_are_read() {
        let dir = std::env::temp_dir().join(format!("rk-crl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("x.crl");
        std::fs::write(&f, b"crl").expect("write");
        let p = f.display();
        for url in [
            format!("file://{p}"),
            format!("file:{p}"),
            format!("file://localhost{p}"),
        ] {
            assert_eq!(read(&url).as_deref(), Ok(&b"crl"[..]), "{url}");
        }
        assert!(read(&format!("file://elsewhere{p}")).is_err());
        let e = read("http://127.0.0.1/ca.crl").expect_err("http is not fetched");
        assert!(e.contains("only file:"), "{e}");
        assert!(read(&format!("file://{p}.missing")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

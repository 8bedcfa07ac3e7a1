//! OCSP for the client port's TLS (`ssl.ocsp=true`): whether each certificate of a
//! client's chain is revoked, asked of the OCSP responder its Authority Information
//! Access extension names, with the CRL check (`super::crl`) as the fallback.
//!
//! What ZooKeeper does: `ssl.ocsp=true` sets Java's `ocsp.enable` beside
//! `com.sun.security.enableCRLDP`, so Java's PKIX revocation checker runs in its
//! PREFER_OCSP mode, not soft-fail: for every certificate of the chain but the trust
//! anchor, it asks the responder the certificate names; a response that says revoked
//! refuses the handshake; any other failure (no responder URL, responder unreachable,
//! an error status, `unknown`, a bad or unauthorised signature, a response out of its
//! validity interval) falls back to the CRLs of the certificate's distribution points,
//! and when those do not show it unrevoked either, the handshake is refused with the
//! OCSP failure as the reason. A response is trusted when signed by the certificate's
//! issuer, or by a responder certificate in the response that the issuer signed and
//! that has the OCSPSigning extended key usage; it is current while now lies within
//! [thisUpdate − 15 min, (nextUpdate or thisUpdate) + 15 min] (Java's clock skew).
//!
//! What is done here, the same, with these differences: only `http:` responders are
//! asked (as `file:` is the only CRL point read); each request is sent as Java sends
//! it (GET when the URL stays within 255 characters, else POST), without a nonce (Java
//! sends none by default either); a `good` answer with a nextUpdate is
//! cached until then (at most [`CACHE_TTL_MAX`], in a cache of [`CACHE_MAX`] entries),
//! where Java asks at every handshake; the lookup waits [`FETCH_TIMEOUT`] per
//! certificate (Java's default is 15 s).
//!
//! Why after the handshake rather than in the verifier: rustls's verifier is a
//! synchronous call on the session core, and a responder is a network round trip.
//! So the verifier checks the chain, and the connection task, before it reads the
//! client's first request, runs the revocation check here: answers from the cache on
//! the core, the rest on a thread of its own that the core awaits. A refused client
//! is closed without an answer, as a failed handshake is, and counted as one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::{Digest, Sha1};
use x509_cert::der::asn1::{Null, ObjectIdentifier, OctetString};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, TbsRequest,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// How long one responder may take to answer (connect, send, receive).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Java's `com.sun.security.ocsp.clockSkew` default: 15 minutes either side.
const CLOCK_SKEW_SECS: i64 = 900;
/// Answers cached at most: beyond it, expired ones are dropped, then nothing is added.
pub const CACHE_MAX: usize = 10_000;
/// A `good` answer is cached until its nextUpdate, but no longer than this, so a
/// revocation is seen within the hour whatever the responder says.
pub const CACHE_TTL_MAX: i64 = 3600;
/// Lookups under way at once, over every core: past it a handshake's lookup is not
/// started (its certificate's status is then unknown: refused).
const IN_FLIGHT_MAX: usize = 64;
/// A response bigger than this is not read.
const RESPONSE_BYTES_MAX: u64 = 1 << 20;

/// id-pkix-ocsp-basic (RFC 6960 4.2.1).
const OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// SHA-1, the CertId hash Java (and most responders) use.
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-ad-ocsp, the AIA access method of a responder URL.
const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// What an operator reads in `mntr` (`rk_ocsp_*`), server-wide.
#[derive(Default)]
pub struct OcspStats {
    /// Certificates an OCSP answer (fetched and verified) showed good.
    pub good: AtomicU64,
    /// Certificates shown good by a cached answer.
    pub cached: AtomicU64,
    /// Certificates refused as revoked (by OCSP, or by the CRL fallback).
    pub revoked: AtomicU64,
    /// OCSP lookups that gave no answer (the reason is logged).
    pub failed: AtomicU64,
    /// Of those, certificates a CRL then showed unrevoked (accepted).
    pub crl_fallback: AtomicU64,
}

/// The OCSP checker the secure port's connections share: the answer cache and the
/// count of lookups under way (its counters are the server's, in `TlsStats`).
#[derive(Default)]
pub struct Ocsp {
    /// Good answers by CertId (DER): valid until (Unix seconds).
    cache: Mutex<HashMap<Vec<u8>, i64>>,
    in_flight: AtomicUsize,
}

/// A certificate of the chain (DER) and the one that signed it.
pub type Link = (Vec<u8>, Vec<u8>);

/// What the lookup of one certificate came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// OCSP said good; cache it until then (Unix seconds), if at all.
    Good(Option<i64>),
    /// OCSP gave no answer (the reason) and a CRL showed the certificate unrevoked.
    GoodByCrl(String),
    /// Revoked (how it was found).
    Revoked(String),
    /// No answer from OCSP (the reason) nor from a CRL.
    Unknown(String),
}

impl Ocsp {
    pub fn new() -> Arc<Ocsp> {
        Arc::new(Ocsp::default())
    }

    /// Whether every certificate of `path` (each with its issuer, from the client's
    /// certificate up to the trust anchor) is shown unrevoked. `Err` is the reason
    /// the client is refused, for the log. Cached answers are taken on the calling
    /// core; the others are looked up on a thread of their own, awaited here.
    pub async fn check(
        self: &Arc<Self>,
        path: Vec<Link>,
        now: i64,
        stats: &OcspStats,
    ) -> Result<(), String> {
        let mut todo = Vec::new();
        for (cert, issuer) in path {
            let key = cert_id(&cert, &issuer).ok().and_then(|id| id.to_der().ok());
            if key.as_ref().is_some_and(|k| self.cached(k, now)) {
                stats.cached.fetch_add(1, Relaxed);
                continue;
            }
            todo.push((cert, issuer, key));
        }
        if todo.is_empty() {
            return Ok(());
        }
        if self.in_flight.fetch_add(1, Relaxed) >= IN_FLIGHT_MAX {
            self.in_flight.fetch_sub(1, Relaxed);
            stats.failed.fetch_add(1, Relaxed);
            return Err(format!(
                "its revocation status is unknown: {IN_FLIGHT_MAX} OCSP lookups are under way"
            ));
        }
        // Uncounted when the thread ends, however (a panic included), or is not started.
        let counted = InFlight(self.clone());
        let n = todo.len() as u32;
        let (tx, rx) = async_channel::bounded(1);
        let links: Vec<Link> = todo
            .iter()
            .map(|(c, i, _)| (c.clone(), i.clone()))
            .collect();
        let spawned = std::thread::Builder::new()
            .name("rk-ocsp".into())
            .spawn(move || {
                let _counted = counted;
                let out: Vec<Outcome> = links.iter().map(|(c, i)| lookup(c, i, now)).collect();
                let _ = tx.try_send(out);
            });
        if let Err(e) = spawned {
            stats.failed.fetch_add(1, Relaxed);
            return Err(format!(
                "its revocation status is unknown: no OCSP thread: {e}"
            ));
        }
        // The thread's own requests time out; this bounds the wait whatever happens.
        let wait = FETCH_TIMEOUT * n + Duration::from_secs(2);
        let answer = async { rx.recv().await.ok() };
        let late = async {
            glommio::timer::sleep(wait).await;
            None
        };
        let Some(outcomes) = futures_lite::future::or(answer, late).await else {
            stats.failed.fetch_add(1, Relaxed);
            return Err(format!(
                "its revocation status is unknown: no OCSP answer within {wait:?}"
            ));
        };
        for ((cert, _, key), outcome) in todo.iter().zip(outcomes) {
            let who = subject(cert);
            match outcome {
                Outcome::Good(until) => {
                    stats.good.fetch_add(1, Relaxed);
                    if let (Some(k), Some(t)) = (key, until) {
                        self.remember(k.clone(), t.min(now + CACHE_TTL_MAX), now);
                    }
                }
                Outcome::GoodByCrl(why) => {
                    stats.failed.fetch_add(1, Relaxed);
                    stats.crl_fallback.fetch_add(1, Relaxed);
                    tracing::info!(
                        "client certificate {who}: no OCSP answer ({why}); a CRL shows it \
                         unrevoked"
                    );
                }
                Outcome::Revoked(how) => {
                    stats.revoked.fetch_add(1, Relaxed);
                    return Err(format!("{who} is revoked ({how})"));
                }
                Outcome::Unknown(why) => {
                    stats.failed.fetch_add(1, Relaxed);
                    return Err(format!(
                        "the revocation status of {who} is unknown: OCSP: {why}; \
                         and no CRL shows it unrevoked"
                    ));
                }
            }
        }
        Ok(())
    }

    fn cached(&self, key: &[u8], now: i64) -> bool {
        let cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        cache.get(key).is_some_and(|until| *until > now)
    }

    fn remember(&self, key: Vec<u8>, until: i64, now: i64) {
        if until <= now {
            return;
        }
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, u| *u > now);
        }
        if cache.len() < CACHE_MAX {
            cache.insert(key, until);
        }
    }
}

/// A lookup thread counted in `Ocsp::in_flight` until this is dropped.
struct InFlight(Arc<Ocsp>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// The subject of a certificate, for the log.
fn subject(der: &[u8]) -> String {
    X509Certificate::from_der(der)
        .map(|(_, c)| super::tls::rfc2253(c.subject()))
        .unwrap_or_else(|_| "(a certificate that does not parse)".into())
}

/// One certificate's status, as Java's PREFER_OCSP checker finds it: OCSP, and on
/// any OCSP failure but `revoked`, the CRL check. Runs on the lookup thread.
fn lookup(cert: &[u8], issuer: &[u8], now: i64) -> Outcome {
    let why = match ask(cert, issuer, now) {
        Ok(Answer::Good(until)) => return Outcome::Good(until),
        Ok(Answer::Revoked(how)) => return Outcome::Revoked(how),
        Err(why) => why,
    };
    match super::crl::check(cert, issuer, now) {
        Ok(()) => Outcome::GoodByCrl(why),
        Err(rustls::CertificateError::Revoked) => {
            Outcome::Revoked(format!("by its CRL, after OCSP failed: {why}"))
        }
        Err(_) => Outcome::Unknown(why),
    }
}

/// A verified OCSP answer for one certificate.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Good; nextUpdate (Unix seconds), when the response has one.
    Good(Option<i64>),
    /// Revoked: when and why, for the log.
    Revoked(String),
}

/// Asks the certificate's responder; an error says why there is no answer.
fn ask(cert_der: &[u8], issuer_der: &[u8], now: i64) -> Result<Answer, String> {
    let cert = parse(cert_der)?;
    let url = responder_url(&cert)?;
    let id = cert_id(cert_der, issuer_der)?;
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| format!("cannot encode the request: {e}"))?;
    let body = fetch(&url, &request).map_err(|e| format!("{url}: {e}"))?;
    verify(&body, &id, issuer_der, now).map_err(|e| format!("{url}: {e}"))
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| format!("a certificate does not parse: {e}"))
}

/// The `http:` OCSP responder the certificate's Authority Information Access names.
fn responder_url(cert: &X509Certificate<'_>) -> Result<String, String> {
    let mut other = None;
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in &aia.accessdescs {
                if d.access_method.to_id_string() != AD_OCSP {
                    continue;
                }
                if let GeneralName::URI(u) = &d.access_location {
                    if u.starts_with("http://") {
                        return Ok((*u).to_owned());
                    }
                    other = Some((*u).to_owned());
                }
            }
        }
    }
    Err(match other {
        Some(u) => format!("its OCSP responder {u} is not asked (only http: responders are)"),
        None => "the certificate names no OCSP responder (Authority Information Access)".into(),
    })
}

/// The CertId of `cert` (RFC 6960 4.1.1, with SHA-1, as Java sends it).
fn cert_id(cert_der: &[u8], issuer_der: &[u8]) -> Result<CertId, String> {
    let cert = parse(cert_der)?;
    let issuer = parse(issuer_der)?;
    let octets = |b: &[u8]| OctetString::new(Sha1::digest(b).to_vec()).map_err(|e| e.to_string());
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(Any::from(Null)),
        },
        issuer_name_hash: octets(issuer.subject().as_raw())?,
        issuer_key_hash: octets(&issuer.public_key().subject_public_key.data)?,
        serial_number: SerialNumber::new(cert.raw_serial())
            .map_err(|e| format!("the serial number is not usable: {e}"))?,
    })
}

/// Sends the request to `url` as Java's `OCSP.check` does (no proxy, Java's default):
/// a GET of `url/<base64 of the request, URL-encoded>` when that is at most 255
/// characters (RFC 5019), else a POST; the response body.
fn fetch(url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into();
    let get = get_url(url, request);
    let sent = if get.len() <= 255 {
        agent.get(&get).call()
    } else {
        agent
            .post(url)
            .header("Content-Type", "application/ocsp-request")
            .send(request)
    };
    let mut resp = sent.map_err(|e| match e {
        ureq::Error::Timeout(_) => format!("no answer within {FETCH_TIMEOUT:?}"),
        e => format!("unreachable: {e}"),
    })?;
    if resp.status() != 200 {
        return Err(format!("answered HTTP {}", resp.status()));
    }
    resp.body_mut()
        .with_config()
        .limit(RESPONSE_BYTES_MAX)
        .read_to_vec()
        .map_err(|e| format!("reading the response: {e}"))
}

/// `url`, a `/` unless it ends with one, and the request in base64 with the three
/// characters base64 has that a URL path may not carry percent-encoded (what Java's
/// `URLEncoder` does to a base64 string).
fn get_url(url: &str, request: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(request);
    let mut out = String::with_capacity(url.len() + 1 + b64.len() * 3 / 2);
    out.push_str(url);
    if !url.ends_with('/') {
        out.push('/');
    }
    for c in b64.chars() {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

/// The answer in `body` for `id`, once the response is found signed by the issuer
/// (or a responder it authorised) and current at `now`.
fn verify(body: &[u8], id: &CertId, issuer_der: &[u8], now: i64) -> Result<Answer, String> {
    let resp = OcspResponse::from_der(body).map_err(|e| format!("not an OCSP response: {e}"))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(format!("the responder answered {:?}", resp.response_status));
    }
    let bytes = resp
        .response_bytes
        .ok_or("a successful response without a body")?;
    if bytes.response_type != OCSP_BASIC {
        return Err(format!(
            "not a basic OCSP response ({})",
            bytes.response_type
        ));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("not a basic OCSP response: {e}"))?;
    let issuer = parse(issuer_der)?;
    check_signature(&basic, &issuer, now)?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| same_cert(&r.cert_id, id))
        .ok_or("the response has no status for the certificate")?;
    let this = unix(&single.this_update);
    let next = single.next_update.as_ref().map(unix);
    if now + CLOCK_SKEW_SECS < this {
        return Err(format!(
            "the response is not valid yet (thisUpdate {})",
            single.this_update.0.to_date_time()
        ));
    }
    if now - CLOCK_SKEW_SECS > next.unwrap_or(this) {
        return Err(format!(
            "the response is out of date (thisUpdate {}, nextUpdate {})",
            single.this_update.0.to_date_time(),
            single
                .next_update
                .map_or("none".into(), |n| n.0.to_date_time().to_string())
        ));
    }
    match &single.cert_status {
        CertStatus::Good(_) => Ok(Answer::Good(next)),
        // As Java: revoked from a time to come is not revoked yet.
        CertStatus::Revoked(info) if unix(&info.revocation_time) > now => Ok(Answer::Good(None)),
        CertStatus::Revoked(info) => Ok(Answer::Revoked(format!(
            "OCSP: revoked at {}{}",
            info.revocation_time.0.to_date_time(),
            info.revocation_reason
                .map(|r| format!(", reason {r:?}"))
                .unwrap_or_default()
        ))),
        CertStatus::Unknown(_) => {
            Err("the responder does not know the certificate (unknown)".into())
        }
    }
}

fn unix(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Java's `CertId.equals`: the same hash algorithm, hashes and serial number.
fn same_cert(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number.as_bytes() == b.serial_number.as_bytes()
}

/// Whether the responder id names `cert` (by its subject, or by the SHA-1 of its key).
fn names(rid: &ResponderId, cert: &X509Certificate<'_>) -> bool {
    match rid {
        ResponderId::ByName(n) => n.to_der().is_ok_and(|d| d == cert.subject().as_raw()),
        ResponderId::ByKey(h) => {
            h.as_bytes() == Sha1::digest(&cert.public_key().subject_public_key.data).as_slice()
        }
    }
}

/// The response's signature, by the issuer or by a responder certificate in the
/// response that the issuer signed for OCSPSigning and that is valid now.
fn check_signature(
    basic: &BasicOcspResponse,
    issuer: &X509Certificate<'_>,
    now: i64,
) -> Result<(), String> {
    let rid = &basic.tbs_response_data.responder_id;
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| format!("cannot encode the response data: {e}"))?;
    let alg_der = basic
        .signature_algorithm
        .to_der()
        .map_err(|e| format!("cannot encode the signature algorithm: {e}"))?;
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(&alg_der)
        .map_err(|e| format!("bad signature algorithm: {e}"))?;
    let sig_der = basic
        .signature
        .to_der()
        .map_err(|e| format!("cannot encode the signature: {e}"))?;
    let (_, sig) = x509_parser::asn1_rs::BitString::from_der(&sig_der)
        .map_err(|e| format!("bad signature: {e}"))?;
    let verify = |signer: &X509Certificate<'_>| {
        x509_parser::verify::verify_signature(signer.public_key(), &alg, &sig, &tbs)
            .map_err(|e| format!("its signature does not verify: {e}"))
    };
    if names(rid, issuer) {
        return verify(issuer);
    }
    let ders: Vec<Vec<u8>> = basic
        .certs
        .iter()
        .flatten()
        .filter_map(|c| c.to_der().ok())
        .collect();
    for der in &ders {
        let Ok((_, signer)) = X509Certificate::from_der(der) else {
            continue;
        };
        if !names(rid, &signer) {
            continue;
        }
        let who = super::tls::rfc2253(signer.subject());
        if signer.issuer().as_raw() != issuer.subject().as_raw()
            || signer.verify_signature(Some(issuer.public_key())).is_err()
        {
            return Err(format!(
                "signed by {who}, which the certificate's issuer did not certify"
            ));
        }
        let eku = signer.extended_key_usage().ok().flatten();
        if !eku.is_some_and(|e| e.value.ocsp_signing) {
            return Err(format!(
                "signed by {who}, whose certificate is not for OCSP signing (no OCSPSigning \
                 extended key usage)"
            ));
        }
        let v = signer.validity();
        if now + CLOCK_SKEW_SECS < v.not_before.timestamp()
            || now - CLOCK_SKEW_SECS > v.not_after.timestamp()
        {
            return Err(format!(
                "signed by {who}, whose certificate is not valid now"
            ));
        }
        return verify(&signer);
    }
    Err("signed by neither the certificate's issuer nor a responder it certified".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_forgets_what_expired() {
        let o = Ocsp::default();
        o.remember(b"a".to_vec(), 100, 50);
        assert!(o.cached(b"a", 99));
        assert!(!o.cached(b"a", 100), "kept past its nextUpdate");
        o.remember(b"old".to_vec(), 10, 20);
        assert!(!o.cached(b"old", 5), "an answer already expired was kept");
        for i in 0..CACHE_MAX + 10 {
            o.remember(i.to_le_bytes().to_vec(), 1000, 0);
        }
        let len = o.cache.lock().map(|c| c.len()).unwrap_or(0);
        assert_eq!(len, CACHE_MAX);
        // Full of live answers: the next is not cached...
        o.remember(b"late".to_vec(), 1000, 0);
        assert!(!o.cached(b"late", 1));
        // ...until the others have expired, when they make room.
        o.remember(b"late".to_vec(), 3000, 2000);
        assert!(o.cached(b"late", 2001));
    }

    #[test]
    fn a_get_url_carries_the_request_in_url_encoded_base64() {
        // base64 of fb ff bf is "+/+/" and of ff is "/w==".
        assert_eq!(
            get_url("http://ca.test/ocsp", &[0xfb, 0xff, 0xbf]),
            "http://ca.test/ocsp/%2B%2F%2B%2F"
        );
        assert_eq!(
            get_url("http://ca.test/", &[0xff]),
            "http://ca.test/%2Fw%3D%3D"
        );
    }

    #[test]
    fn a_response_that_is_not_ocsp_is_no_answer() {
        let id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: SHA1,
                parameters: None,
            },
            issuer_name_hash: OctetString::new(vec![0; 20]).expect("octets"),
            issuer_key_hash: OctetString::new(vec![0; 20]).expect("octets"),
            serial_number: SerialNumber::new(&[1]).expect("serial"),
        };
        let e = verify(b"<html>proxy error</html>", &id, b"", 0).expect_err("not OCSP");
        assert!(e.starts_with("not an OCSP response"), "{e}");
        // OCSPResponse { responseStatus tryLater }.
        let e = verify(&[0x30, 0x03, 0x0a, 0x01, 0x03], &id, b"", 0).expect_err("tryLater");
        assert!(e.contains("TryLater"), "{e}");
    }
}

//! The small part of HTTP/1.1 the operator ports need: read one request head, write
//! one response, close. Shared by the Prometheus endpoint and the AdminServer.
//!
//! Why not a server crate: hyper and its peers are built around tokio's I/O traits
//! and their own executors, while these ports live on a glommio session core; both
//! ports answer one `GET` per connection, so parsing is left to `httparse` (the
//! parser under hyper) and the rest is a bounded read and a `Connection: close`
//! reply. Every input is bounded in size and time, and nothing here panics on what a
//! peer sends: a bad request gets a 4xx answer or just a closed connection.

use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;

/// The most bytes of request line and headers read from one connection.
pub const HEAD_BYTES_MAX: usize = 8 * 1024;
/// Headers parsed per request; more is a malformed request.
const HEADERS_MAX: usize = 64;

/// One parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The query's `key=value` pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// `Content-Length`, 0 when absent.
    pub content_length: u64,
    /// The `Authorization` header, when sent.
    pub authorization: Option<String>,
    /// `Expect: 100-continue`: the client waits for an interim answer before the body.
    pub expect_continue: bool,
    /// Bytes of the body that arrived with the head.
    pub body_start: Vec<u8>,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed (or reset) before a full head arrived.
    Closed,
    /// No full head within the time allowed.
    TimedOut,
    /// The head exceeds [`HEAD_BYTES_MAX`].
    TooLarge,
    /// Not HTTP/1.x.
    Malformed(String),
}

/// Reads one request head within `timeout`.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Result<Request, ReadError> {
    match glommio::timer::timeout(timeout, async { Ok(read_head(stream).await) }).await {
        Ok(r) => r,
        Err(_) => Err(ReadError::TimedOut),
    }
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some((mut req, head_len)) = parse_head(&buf).map_err(ReadError::Malformed)? {
            req.body_start = buf.split_off(head_len);
            return Ok(req);
        }
        if buf.len() >= HEAD_BYTES_MAX {
            return Err(ReadError::TooLarge);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `Some` once `buf` holds a whole head; `Err` if it cannot be HTTP.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, String> {
    Ok(parse_head(buf)?.map(|(req, _)| req))
}

/// [`parse`], with the length of the head.
fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(e.to_string()),
        Ok(httparse::Status::Complete(head_len)) => {
            let method = req.method.unwrap_or_default().to_owned();
            let target = req.path.unwrap_or_default();
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let mut content_length = 0;
            let mut authorization = None;
            let mut expect_continue = false;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    content_length = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or("a Content-Length that is not a number")?;
                } else if h.name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(String::from_utf8_lossy(h.value).into_owned());
                } else if h.name.eq_ignore_ascii_case("expect") {
                    expect_continue = h.value.eq_ignore_ascii_case(b"100-continue");
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    // Bodies are read by Content-Length only.
                    return Err("a Transfer-Encoding body (send Content-Length)".into());
                }
            }
            let query = query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect();
            Ok(Some((
                Request {
                    method,
                    path: percent_decode(path),
                    query,
                    content_length,
                    authorization,
                    expect_continue,
                    body_start: Vec::new(),
                },
                head_len,
            )))
        }
    }
}

/// `%XX` escapes (and `+` in queries is left as is, as Jetty leaves it in paths);
/// a broken escape is kept literally.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the body of `req` (`Content-Length` bytes, at most `max`) within `idle` of
/// silence per read.
pub async fn read_body<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    req: &mut Request,
    max: u64,
    idle: Duration,
) -> Result<Vec<u8>, ReadError> {
    if req.content_length > max {
        return Err(ReadError::TooLarge);
    }
    let want = req.content_length as usize;
    // curl asks this for any body over 1 KiB, and waits a second without an answer.
    if req.expect_continue && req.body_start.is_empty() && want > 0 {
        let sent = async {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            stream.flush().await
        };
        if sent.await.is_err() {
            return Err(ReadError::Closed);
        }
    }
    let mut body = std::mem::take(&mut req.body_start);
    body.truncate(want);
    body.reserve(want - body.len());
    let mut chunk = vec![0u8; 64 << 10];
    while body.len() < want {
        let room = (want - body.len()).min(chunk.len());
        let read =
            glommio::timer::timeout(idle, async { Ok(stream.read(&mut chunk[..room]).await) })
                .await;
        match read {
            Err(_) => return Err(ReadError::TimedOut),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(ReadError::Closed),
            Ok(Ok(n)) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(body)
}

/// Writes a whole response and closes the connection; a peer that went away is no
/// error worth more than a debug line.
pub async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    body: &[u8],
) {
    respond_with(stream, status, content_type, &[], body).await
}

/// A response head: status, content type and length, `headers`, `Connection: close`.
pub fn head(status: u16, content_type: &str, headers: &[(&str, String)], len: u64) -> String {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n",
        reason(status),
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// [`respond`] with extra `headers`.
pub async fn respond_with<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    headers: &[(&str, String)],
    body: &[u8],
) {
    let head = head(status, content_type, headers, body.len() as u64);
    let written = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await
    }
    .await;
    if let Err(e) = written {
        tracing::debug!("operator port: response not delivered: {e}");
    }
    let _ = stream.close().await;
}

/// A plain-text error response for `status`.
pub async fn respond_error<S: AsyncWrite + Unpin>(stream: &mut S, status: u16) {
    let body = format!("{status} {}\n", reason(status));
    respond(stream, status, "text/plain; charset=utf-8", body.as_bytes()).await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Takes over a listening socket bound by `server::run`.
pub fn glommio_listener(listener: std::net::TcpListener) -> glommio::net::TcpListener {
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: a listening socket moved here; the glommio listener takes it over.
    unsafe { glommio::net::TcpListener::from_raw_fd(listener.into_raw_fd()) }
}

/// Serves `listener` until the process ends: each connection gets `handle` (at most
/// `concurrent` at once; beyond that a connection is answered 503 at once).
pub async fn serve<F, Fut>(
    listener: std::net::TcpListener,
    what: &'static str,
    concurrent: usize,
    handle: F,
) where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let listener = glommio_listener(listener);
    let busy = std::rc::Rc::new(std::cell::Cell::new(0usize));
    loop {
        let mut stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("{what}: accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if busy.get() >= concurrent {
            glommio::spawn_local(async move { respond_error(&mut stream, 503).await }).detach();
            continue;
        }
        busy.set(busy.get() + 1);
        let busy = busy.clone();
        let fut = handle(stream);
        glommio::spawn_local(async move {
            fut.await;
            busy.set(busy.get() - 1);
        })
        .detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_get_with_a_query() {
        let r = parse(b"GET /commands/stmk?traceMask=5&x=%2Fa HTTP/1.1\r\nHost: h\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/stmk");
        assert_eq!(
            r.query,
            vec![("traceMask".into(), "5".into()), ("x".into(), "/a".into())]
        );
        assert_eq!(r.content_length, 0);
        assert_eq!(r.authorization, None);
        let r = parse(b"POST /commands/restore HTTP/1.1\r\nAuthorization: digest a:b\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(r.authorization.as_deref(), Some("digest a:b"));
        assert!(parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
    }

    #[test]
    fn partial_and_garbage_heads() {
        assert_eq!(parse(b"GET /x HTTP/1.1\r\nHost"), Ok(None));
        assert!(parse(b"\x00\x01garbage\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n").is_err());
        let r = parse(b"POST / HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(r.content_length, 104_857_600);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

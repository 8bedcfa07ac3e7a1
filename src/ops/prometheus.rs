//! The Prometheus metrics endpoint (`metricsProvider.httpPort`, ZooKeeper's default
//! 7000): `GET /metrics` answers the `mntr` values as gauges and the per-stage latency
//! histograms as summaries, in the Prometheus text format (version 0.0.4).
//!
//! Served by session core 0. Requests are read with a size and time bound; anything
//! but `GET /metrics` gets 404.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::server::stats::Stage;
use crate::server::Core;

/// The most bytes read of one HTTP request: a scrape's request line and headers.
const REQUEST_BYTES_MAX: usize = 8 * 1024;
/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The body of `GET /metrics`.
pub fn render(core: &Rc<Core>) -> String {
    let mut out = String::new();
    for (k, v) in crate::ops::four_letter::mntr_rows(core) {
        // Only numbers are samples; `zk_version` and `zk_server_state` become labels
        // of an info gauge below.
        if v.parse::<f64>().is_ok() {
            let _ = writeln!(out, "# TYPE {k} gauge\n{k} {v}");
        }
    }
    let _ = writeln!(
        out,
        "# TYPE zk_info gauge\nzk_info{{version=\"{}\",server_state=\"standalone\"}} 1",
        crate::ops::four_letter::version_string()
    );
    let _ = writeln!(
        out,
        "# HELP rk_stage_latency_us Latency of each request stage in microseconds."
    );
    let _ = writeln!(out, "# TYPE rk_stage_latency_us summary");
    for stage in Stage::ALL {
        let s = core.stats.stage_summary(stage);
        let name = stage.name();
        for (q, v) in [
            ("0.5", s.p50_us),
            ("0.9", s.p90_us),
            ("0.99", s.p99_us),
            ("0.999", s.p999_us),
        ] {
            let _ = writeln!(
                out,
                "rk_stage_latency_us{{stage=\"{name}\",quantile=\"{q}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "rk_stage_latency_us_sum{{stage=\"{name}\"}} {}\nrk_stage_latency_us_count{{stage=\"{name}\"}} {}",
            (s.mean_us * s.count as f64).round(),
            s.count
        );
    }
    out
}

/// Serves the endpoint on `listener` (bound by `server::run`, exclusively) until the
/// process ends.
pub async fn serve(core: Rc<Core>, listener: std::net::TcpListener) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    // SAFETY: a listening socket moved here; the glommio listener takes it over.
    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(listener.into_raw_fd()) };
    tracing::info!("metrics endpoint on http://{addr}/metrics");
    loop {
        let mut stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("metrics endpoint: accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let core = core.clone();
        glommio::spawn_local(async move {
            let mut buf = Vec::with_capacity(1024);
            let got = glommio::timer::timeout(REQUEST_TIMEOUT, async {
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < REQUEST_BYTES_MAX {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                Ok(())
            })
            .await;
            if got.is_err() {
                return;
            }
            let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let resp = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
                let body = render(&core);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = stream.write_all(resp.as_bytes()).await;
            let _ = stream.close().await;
        })
        .detach();
    }
}

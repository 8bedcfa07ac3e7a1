//! Operations surfaces: the four-letter words on the client port, the AdminServer
//! (JSON over HTTP), the Prometheus metrics endpoint, what they report
//! ([`report`]), and the lock-free latency histograms behind them.

pub mod admin;
pub mod admin_snapshot;
pub mod four_letter;
pub mod histogram;
pub mod http;
pub mod prometheus;
pub mod report;

use std::rc::Rc;

use glommio::{Latency, Shares};

use crate::server::Core;

/// The operator ports' listeners, bound by `server::run` before any core starts.
#[derive(Debug, Default)]
pub struct OpsListeners {
    /// `metricsProvider.httpPort`.
    pub metrics: Option<std::net::TcpListener>,
    /// `admin.serverPort`.
    pub admin: Option<std::net::TcpListener>,
    /// The AdminServer's HTTPS configuration (`admin.forceHttps`,
    /// `admin.portUnification`), loaded and checked at start.
    pub admin_tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// The operator ports' share of a session core's time when client work is waiting
/// too (glommio's default queue has 1000): a scrape or an admin command must not
/// delay client requests, and still gets answered on a busy core.
const OPS_SHARES: usize = 50;

/// Serves the operator ports on `core`, on a task queue of their own with a small
/// share, so they run off the client hot path. Tasks they spawn stay on that queue.
pub fn serve(core: &Rc<Core>, ops: OpsListeners) {
    if ops.metrics.is_none() && ops.admin.is_none() {
        return;
    }
    let queue = glommio::executor().create_task_queue(
        Shares::Static(OPS_SHARES),
        Latency::NotImportant,
        "operator-ports",
    );
    if let Some(l) = ops.metrics {
        spawn_on(queue, prometheus::serve(core.clone(), l));
    }
    if let Some(l) = ops.admin {
        spawn_on(queue, admin::serve(core.clone(), l, ops.admin_tls));
    }
}

fn spawn_on(queue: glommio::TaskQueueHandle, fut: impl std::future::Future<Output = ()> + 'static) {
    match glommio::spawn_local_into(fut, queue) {
        Ok(t) => {
            t.detach();
        }
        // Only an unknown queue fails, and this one was just made.
        Err(e) => tracing::error!("operator ports: cannot start a task ({e}); not served"),
    }
}

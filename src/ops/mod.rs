//! Operations surfaces: the four-letter words on the client port, the Prometheus
//! metrics endpoint, and the lock-free latency histograms behind both.

pub mod four_letter;
pub mod histogram;
pub mod prometheus;

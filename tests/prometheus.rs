//! The Prometheus endpoint speaks ZooKeeper's `PrometheusMetricsProvider`: the names
//! and types below are taken from ZooKeeper 3.8's sources (the gauges
//! `ZooKeeperServer.registerMetrics` registers, the `ServerMetrics` summaries, the
//! Prometheus Java client's process exports) and from the queries of the Grafana
//! ZooKeeper mixin (grafana/jsonnet-libs `zookeeper-observ-lib`). Every name
//! ringkeeper can give must be there with ZooKeeper's type and labels; the ones it
//! cannot give must be absent, not faked. Debian's ZooKeeper lacks the provider's
//! jars (the Prometheus simpleclient), so the list stands in for a scrape of it.
//!
//! ringkeeper-only: skips itself when `RINGKEEPER_TEST_SERVER=zk`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;

use common::{four_letter, raw_connect, request, scrape, Jute, Server};

const OP_CREATE: i32 = 1;
const OP_GET_DATA: i32 = 4;

/// `n` creates and `n` getData on one session.
fn traffic(addr: &str, n: i32) {
    let mut s = raw_connect(addr);
    for i in 0..n {
        let path = format!("/p{i}");
        let create = Jute::new()
            .string(&path)
            .buffer(b"x")
            .open_acl()
            .int(0)
            .into_vec();
        let r = request(&mut s, 2 * i + 1, OP_CREATE, &create).expect("create");
        assert_eq!(r.err, 0);
        let get = Jute::new().string(&path).boolean(false).into_vec();
        let r = request(&mut s, 2 * i + 2, OP_GET_DATA, &get).expect("getData");
        assert_eq!(r.err, 0);
    }
}

/// (name, Prometheus type) ZooKeeper's provider exports that ringkeeper exports too.
const ZOOKEEPER_METRICS: &[(&str, &str)] = &[
    ("avg_latency", "gauge"),
    ("max_latency", "gauge"),
    ("min_latency", "gauge"),
    ("packets_received", "gauge"),
    ("packets_sent", "gauge"),
    ("num_alive_connections", "gauge"),
    ("outstanding_requests", "gauge"),
    ("uptime", "gauge"),
    ("znode_count", "gauge"),
    ("watch_count", "gauge"),
    ("ephemerals_count", "gauge"),
    ("approximate_data_size", "gauge"),
    ("global_sessions", "gauge"),
    ("local_sessions", "gauge"),
    ("open_file_descriptor_count", "gauge"),
    ("max_file_descriptor_count", "gauge"),
    ("connection_drop_probability", "gauge"),
    ("auth_failed_count", "gauge"),
    // A Counter in ZooKeeper's ServerMetrics (simpleclient 0.9: no `_total`).
    ("digest_mismatches_count", "counter"),
    // ZooKeeperServer's gauge and ServerMetrics' counters for TLS.
    ("outstanding_tls_handshake", "gauge"),
    ("tls_handshake_exceeded", "counter"),
    ("unsuccessful_handshake", "counter"),
    ("insecure_admin_count", "counter"),
    ("readlatency", "summary"),
    ("updatelatency", "summary"),
    ("fsynctime", "summary"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_cpu_seconds_total", "counter"),
    ("process_start_time_seconds", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
];

/// ZooKeeper's summaries and their quantiles (ADVANCED: 0.5, 0.9, 0.99; BASIC: 0.5).
const QUANTILES: &[(&str, &[&str])] = &[
    ("readlatency", &["0.5", "0.9", "0.99"]),
    ("updatelatency", &["0.5", "0.9", "0.99"]),
    ("fsynctime", &["0.5"]),
    ("quorum_ack_latency", &["0.5", "0.9", "0.99"]),
    ("election_time", &["0.5"]),
    ("follower_sync_time", &["0.5"]),
    ("proposal_latency", &["0.5", "0.9", "0.99"]),
    ("proposal_ack_creation_latency", &["0.5", "0.9", "0.99"]),
    ("commit_propagation_latency", &["0.5", "0.9", "0.99"]),
    ("propagation_latency", &["0.5", "0.9", "0.99"]),
];

/// Every metric the mixin's dashboard and alerts query, and whether ringkeeper can
/// give it (docs/design.md lists the absent ones).
const MIXIN_QUERIED: &[(&str, bool)] = &[
    ("num_alive_connections", true),
    ("min_latency", true),
    ("max_latency", true),
    ("avg_latency", true),
    ("znode_count", true),
    ("outstanding_requests", true),
    ("watch_count", true),
    ("process_max_fds", true),
    ("process_open_fds", true),
    ("process_resident_memory_bytes", true),
    ("process_start_time_seconds", true),
    ("process_cpu_seconds_total", true),
    // A leader's and an ensemble's: a standalone server has neither.
    ("leader_uptime", false),
    ("quorum_size", false),
    // A summary ZooKeeper registers in every mode (count 0 when standalone).
    ("election_time_count", true),
    // The JVM's: there is none.
    ("jvm_memory_bytes_used", false),
    ("jvm_memory_bytes_max", false),
    ("jvm_threads_current", false),
    ("jvm_threads_deadlocked", false),
    ("jvm_gc_collection_seconds_count", false),
];

/// A parsed exposition: family → type, and every sample (name, labels) → value.
struct Exposition {
    types: BTreeMap<String, String>,
    samples: BTreeMap<(String, String), f64>,
}

/// Parses the text format strictly: every sample belongs to a family with a TYPE,
/// names and values are well formed.
fn parse(body: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    let valid = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in body.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').expect("TYPE name kind");
            assert!(valid(name), "{line}");
            assert!(
                ["gauge", "counter", "summary", "histogram", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "twice: {line}"
            );
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}').to_owned()),
            None => (series, String::new()),
        };
        assert!(valid(name), "{line}");
        let family = [
            name,
            name.trim_end_matches("_count"),
            name.trim_end_matches("_sum"),
        ]
        .into_iter()
        .find(|f| types.contains_key(*f))
        .unwrap_or_else(|| panic!("no TYPE for {line}"));
        let _ = family;
        assert!(
            samples.insert((name.to_owned(), labels), value).is_none(),
            "twice: {line}"
        );
    }
    Exposition { types, samples }
}

#[test]
fn names_types_and_labels_are_zookeepers_and_the_mixin_finds_its_metrics() {
    if common::against_zookeeper() {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let server = Server::start(&format!(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={port}\n"
    ));
    // Reads and writes, so the latency summaries have samples.
    let before = parse(&scrape(port));
    traffic(&server.addr(), 5);
    let e = parse(&scrape(port));

    // ServerMetrics' quorum summaries and counters are server-wide in ZooKeeper, so
    // a standalone server exports them too (empty, 0); tests/ensemble.rs moves them.
    let all = || {
        ZOOKEEPER_METRICS
            .iter()
            .chain(common::ZOOKEEPER_QUORUM_METRICS)
    };
    for (name, kind) in all() {
        assert_eq!(
            e.types.get(*name).map(String::as_str),
            Some(*kind),
            "{name} should be a {kind}"
        );
        // `ack_latency` is a set: a series per acking server, none when standalone.
        if *kind != "summary" {
            assert!(
                e.samples.contains_key(&(name.to_string(), String::new())),
                "{name}: no sample"
            );
        }
    }
    for (name, qs) in QUANTILES {
        let got: BTreeSet<String> = e
            .samples
            .keys()
            .filter(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
            .collect();
        let want: BTreeSet<String> = qs.iter().map(|q| format!("quantile=\"{q}\"")).collect();
        assert_eq!(got, want, "{name}'s quantiles");
        for suffix in ["_count", "_sum"] {
            assert!(
                e.samples
                    .contains_key(&(format!("{name}{suffix}"), String::new())),
                "{name}{suffix}"
            );
        }
    }
    for (name, present) in MIXIN_QUERIED {
        let has = e.types.contains_key(*name) || e.samples.keys().any(|(n, _)| n == name);
        assert_eq!(has, *present, "{name}: present={has}, expected {present}");
    }
    // No ringkeeper-era `zk_` names; ringkeeper's own are `ringkeeper_*`.
    let zookeeper: BTreeSet<&str> = all().map(|(n, _)| *n).collect();
    for name in e.types.keys() {
        assert!(
            zookeeper.contains(name.as_str()) || name.starts_with("ringkeeper_"),
            "{name} is neither ZooKeeper's nor named ringkeeper_*"
        );
    }
    assert_eq!(
        e.types
            .get("ringkeeper_stage_latency_us")
            .map(String::as_str),
        Some("summary")
    );

    // The values are mntr's.
    let mntr = four_letter(&server.addr(), "mntr");
    let mntr_of = |k: &str| -> f64 {
        mntr.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}\t")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{k} in mntr:\n{mntr}"))
    };
    for name in [
        "znode_count",
        "ephemerals_count",
        "approximate_data_size",
        "global_sessions",
    ] {
        assert_eq!(
            e.samples[&(name.to_owned(), String::new())],
            mntr_of(&format!("zk_{name}")),
            "{name}"
        );
    }
    // The writes were counted as updates and their fsyncs as fsync times.
    let count = |e: &Exposition, n: &str| e.samples[&(format!("{n}_count"), String::new())];
    assert!(count(&e, "updatelatency") >= count(&before, "updatelatency") + 5.0);
    assert!(count(&e, "readlatency") >= count(&before, "readlatency") + 5.0);
    assert!(count(&e, "fsynctime") > count(&before, "fsynctime"));
    // Each write applied here is one `propagation_latency` sample, standalone too.
    assert!(count(&e, "propagation_latency") >= count(&before, "propagation_latency") + 5.0);
    assert!(e.samples[&("process_resident_memory_bytes".to_owned(), String::new())] > 0.0);
    drop(server);
}

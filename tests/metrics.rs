//! The server's own observability: per-stage latency histograms in `mntr` and the
//! Prometheus endpoint. ringkeeper-only (ZooKeeper's metrics differ), so these tests
//! skip themselves when `RINGKEEPER_TEST_SERVER=zk`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{four_letter, raw_connect, request, Server};

const OP_CREATE: i32 = 1;
const OP_GET_DATA: i32 = 4;

fn jute_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Issues one create and one getData so every stage has a sample.
fn some_traffic(addr: &str) {
    let mut s = raw_connect(addr);
    let mut create = Vec::new();
    jute_string(&mut create, "/m");
    create.extend_from_slice(&1i32.to_be_bytes());
    create.push(b'x');
    create.extend_from_slice(&1i32.to_be_bytes()); // one ACL: world:anyone ALL
    create.extend_from_slice(&31i32.to_be_bytes());
    jute_string(&mut create, "world");
    jute_string(&mut create, "anyone");
    create.extend_from_slice(&0i32.to_be_bytes());
    let r = request(&mut s, 1, OP_CREATE, &create).expect("create");
    assert_eq!(r.err, 0);
    let mut get = Vec::new();
    jute_string(&mut get, "/m");
    get.push(0);
    let r = request(&mut s, 2, OP_GET_DATA, &get).expect("getData");
    assert_eq!(r.err, 0);
}

fn mntr_value(mntr: &str, key: &str) -> u64 {
    mntr.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("{key} missing from mntr:\n{mntr}"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number"))
}

#[test]
fn mntr_reports_every_stage_of_a_write_and_a_read() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("");
    some_traffic(&server.addr());
    let mntr = four_letter(&server.addr(), "mntr");
    for stage in [
        "decode", "queue", "prep", "append", "fsync", "commit", "apply", "deliver", "read", "write",
    ] {
        assert!(
            mntr_value(&mntr, &format!("rk_stage_{stage}_count")) >= 1,
            "stage {stage} has no sample:\n{mntr}"
        );
    }
    assert!(mntr_value(&mntr, "zk_fsync_count") >= 1);
    assert!(
        mntr_value(&mntr, "rk_stage_write_us_max") >= mntr_value(&mntr, "rk_stage_write_us_p50")
    );
}

/// Tree versions are freed once every core has moved past them: after a thousand
/// write batches the process holds a handful, not one per batch (a held head of the
/// publication chain once kept every version, and RSS grew by ~2 KiB per write).
#[test]
fn old_tree_versions_are_freed() {
    if common::against_zookeeper() {
        return;
    }
    for cfg in ["", "cores=2\nquorumCore=dedicated"] {
        let server = Server::start(cfg);
        let mut s = raw_connect(&server.addr());
        for i in 0..1000 {
            let mut create = Vec::new();
            jute_string(&mut create, &format!("/v{i}"));
            create.extend_from_slice(&0i32.to_be_bytes());
            create.extend_from_slice(&1i32.to_be_bytes());
            create.extend_from_slice(&31i32.to_be_bytes());
            jute_string(&mut create, "world");
            jute_string(&mut create, "anyone");
            create.extend_from_slice(&0i32.to_be_bytes());
            let r = request(&mut s, i + 1, OP_CREATE, &create).expect("create");
            assert_eq!(r.err, 0);
        }
        let mntr = four_letter(&server.addr(), "mntr");
        let live = mntr_value(&mntr, "rk_published_versions");
        assert!(
            (1..=8).contains(&live),
            "[{cfg}] {live} tree versions alive after 1000 one-write batches"
        );
    }
}

#[test]
fn prometheus_endpoint_serves_gauges_and_stage_summaries() {
    if common::against_zookeeper() {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let server = Server::start(&format!(
        "metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={port}\n"
    ));
    some_traffic(&server.addr());
    let body = common::scrape(port);
    // ZooKeeper's PrometheusMetricsProvider names (tests/prometheus.rs checks them all).
    assert!(body.contains("\nznode_count "), "{body}");
    assert!(
        body.contains("ringkeeper_stage_latency_us{stage=\"fsync\",quantile=\"0.99\"}"),
        "{body}"
    );
    assert!(
        body.contains("ringkeeper_stage_latency_us_count{stage=\"read\"} 1"),
        "{body}"
    );

    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /other HTTP/1.1\r\n\r\n").expect("send");
    let mut other = String::new();
    s.read_to_string(&mut other).expect("read");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
}

#[test]
fn dirs_reports_the_bytes_in_the_data_and_log_dirs() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("");
    some_traffic(&server.addr());
    let on_disk = || -> u64 {
        std::fs::read_dir(server.data_dir())
            .expect("read dataDir")
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };
    let value = |dirs: &str, key: &str| -> u64 {
        dirs.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} missing from dirs:\n{dirs}"))
    };
    // The log makes a spare segment in the background after the first sync, so the
    // sizes settle a moment after the traffic; then the server's sums must match the
    // files (dataLogDir defaults to dataDir: both count the same files).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let dirs = four_letter(&server.addr(), "dirs");
        let (data, log, disk) = (
            value(&dirs, "datadir_size:"),
            value(&dirs, "logdir_size:"),
            on_disk(),
        );
        if data == disk && log == disk && disk > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dirs says data {data}, log {log}; the files hold {disk}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

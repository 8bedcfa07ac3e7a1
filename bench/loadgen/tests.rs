use std::time::Duration;

use clap::Parser;

use super::report::{self, Summary};
use super::schedule::{parse_duration, Rng, Schedule};
use super::*;

#[derive(Parser)]
struct Cmd {
    #[command(flatten)]
    bench: BenchArgs,
}

fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
    Cmd::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).map(|c| c.bench)
}

#[test]
fn schedule_spreads_sessions_evenly() {
    // 1000 ops/s over 4 sessions: each sends every 4 ms, shifted by 1 ms.
    let s0 = Schedule::new(1000.0, 4, 0);
    let s1 = Schedule::new(1000.0, 4, 1);
    assert_eq!(s0.at(0), Duration::ZERO);
    assert_eq!(s0.at(1), Duration::from_millis(4));
    assert_eq!(s1.at(0), Duration::from_millis(1));
    assert_eq!(s1.at(10), Duration::from_millis(41));
    // All sessions together: exactly one op per millisecond.
    let mut all: Vec<Duration> = (0..4)
        .flat_map(|i| {
            let s = Schedule::new(1000.0, 4, i);
            (0..25).map(move |k| s.at(k))
        })
        .collect();
    all.sort();
    for (i, t) in all.iter().enumerate() {
        assert_eq!(*t, Duration::from_millis(i as u64));
    }
}

#[test]
fn schedule_first_after() {
    let s = Schedule::new(100.0, 1, 0); // every 10 ms
    assert_eq!(s.first_at_or_after(Duration::ZERO), 0);
    assert_eq!(s.first_at_or_after(Duration::from_millis(10)), 1);
    assert_eq!(s.first_at_or_after(Duration::from_millis(11)), 2);
}

#[test]
fn rng_is_deterministic_and_in_range() {
    let mut a = Rng::new(7);
    let mut b = Rng::new(7);
    for _ in 0..1000 {
        let x = a.below(10);
        assert_eq!(x, b.below(10));
        assert!(x < 10);
    }
    let mut r = Rng::new(1);
    let reads = (0..10_000).filter(|_| r.percent(90)).count();
    assert!((8_800..9_200).contains(&reads), "{reads}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
    assert!(parse_duration("ten").is_err());
    assert!(parse_duration("3h").is_err());
}

#[test]
fn summary_percentiles() {
    let mut h = report::new_histogram();
    for v in 1..=10_000u64 {
        h.record(v).unwrap();
    }
    let s = Summary::from_histogram("get", "closed", &h, Duration::from_secs(2));
    assert_eq!(s.ops, 10_000);
    assert!((s.throughput - 5_000.0).abs() < 1e-6);
    let near = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.002;
    assert!(near(s.p50_us, 5_000), "{}", s.p50_us);
    assert!(near(s.p90_us, 9_000), "{}", s.p90_us);
    assert!(near(s.p99_us, 9_900), "{}", s.p99_us);
    assert!(near(s.p999_us, 9_990), "{}", s.p999_us);
    assert!(near(s.max_us, 10_000), "{}", s.max_us);
    let line = s.line();
    assert!(
        line.starts_with("get closed: 5000 ops/s  p50 5.0ms"),
        "{line}"
    );
}

#[test]
fn summary_json_shape() {
    let mut h = report::new_histogram();
    h.record(100).unwrap();
    let mut s = Summary::from_histogram("set", "closed \"x\"", &h, Duration::from_secs(1));
    s.errors.insert("CONNECTIONLOSS".into(), 3);
    s.server_cpu_us_per_op = Some(12.5);
    let j = s.json();
    assert!(
        j.starts_with("{\"workload\":\"set\",\"mode\":\"closed \\\"x\\\"\""),
        "{j}"
    );
    assert!(j.contains("\"errors\":{\"CONNECTIONLOSS\":3}"), "{j}");
    assert!(j.contains("\"server_cpu_us_per_op\":12.500"), "{j}");
    assert!(j.contains("\"client_cpu_us_per_op\":null"), "{j}");
    s.machine_busy_pct = Some(97.25);
    assert!(
        s.json().contains("\"machine_busy_pct\":97.2"),
        "{}",
        s.json()
    );
    assert!(j.ends_with('}') && !j.contains('\n'));
}

#[test]
fn svg_plot_shape() {
    let mut h = report::new_histogram();
    for v in 1..=1000u64 {
        h.record(v).unwrap();
    }
    let pts = report::percentile_points(&h, 50);
    assert_eq!(pts.len(), 50);
    assert_eq!(pts[0].0, 0.0);
    assert!((pts[49].0 - 99.99).abs() < 1e-9);
    assert!(pts.windows(2).all(|w| w[0].1 <= w[1].1));
    let svg = report::svg_plot("get <a&b>", &[("get".into(), pts)]);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches("<polyline").count(), 1);
    assert!(svg.contains("get &lt;a&amp;b&gt;"));
    for label in ["99%", "99.9%", "99.99%"] {
        assert!(svg.contains(&format!(">{label}</text>")), "{label}");
    }
}

#[test]
fn args_and_profiles() {
    let a = parse(&[]).unwrap();
    let p = a.plan().unwrap();
    assert_eq!(p.workload, Workload::Get);
    assert_eq!((p.sessions, p.depth), (8, 4));
    assert_eq!(a.duration, Duration::from_secs(10));
    assert_eq!(a.prefix, "/rkbench");

    let a = parse(&[
        "--workload",
        "write-unloaded",
        "--duration",
        "3s",
        "--rate",
        "500",
    ])
    .unwrap();
    let p = a.plan().unwrap();
    assert_eq!((p.workload, p.sessions, p.depth), (Workload::Set, 1, 1));
    assert_eq!(a.rate, Some(500.0));

    let a = parse(&[
        "-w",
        "mix",
        "--read-pct",
        "50",
        "--sessions",
        "3",
        "--depth",
        "7",
    ])
    .unwrap();
    let p = a.plan().unwrap();
    assert_eq!(
        (p.workload, p.read_pct, p.sessions, p.depth),
        (Workload::Mix, 50, 3, 7)
    );

    let a = parse(&["-w", "children-large"]).unwrap();
    assert_eq!(a.plan().unwrap().children, 10_000);
    let a = parse(&["-w", "watch-fanout", "--watchers", "12"]).unwrap();
    assert_eq!(a.plan().unwrap().sessions, 12);
    let a = parse(&["--server-pid", "12,34", "--servers", "a:1,b:2"]).unwrap();
    assert_eq!(a.server_pid, vec![12, 34]);
    assert_eq!(a.servers(), vec!["a:1".to_string(), "b:2".to_string()]);

    assert!(parse(&["-w", "nope"]).unwrap().plan().is_err());
    assert!(parse(&["--prefix", "rel"]).unwrap().plan().is_err());
    assert!(parse(&["--duration", "x"]).is_err());
}

#[test]
fn proc_stat_cpu() {
    let stat = "1234 (java (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 30 0";
    assert_eq!(parse_stat_cpu(stat), Some(300));
    assert_eq!(parse_stat_cpu("garbage"), None);
}

#[test]
fn machine_busy_from_proc_stat() {
    // user nice system idle iowait irq softirq steal guest guest_nice
    let stat = "cpu  100 5 50 800 20 3 2 20 7 0\ncpu0 50 2 25 400 10 1 1 10 3 0\nintr 1\n";
    assert_eq!(parse_proc_stat_busy(stat), Some((180, 1000)));
    assert_eq!(parse_proc_stat_busy("cpu0 1 2 3 4 5\n"), None);
    assert_eq!(parse_proc_stat_busy("cpu  1 x 3 4 5\n"), None);
}

/// End to end against a live server: `RINGKEEPER_TEST_ADDR=127.0.0.1:2181 cargo test
/// -- --ignored bench_end_to_end`.
#[test]
#[ignore]
fn bench_end_to_end() {
    let addr = std::env::var("RINGKEEPER_TEST_ADDR").expect("RINGKEEPER_TEST_ADDR");
    let dir = std::env::temp_dir().join(format!("rkbench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for w in [
        "get",
        "set",
        "create-delete",
        "multi",
        "children",
        "session-churn",
        "watch-fanout",
    ] {
        let plot = dir.join(format!("{w}.svg"));
        let log = dir.join(format!("{w}.hlog"));
        let a = parse(&[
            "--servers",
            &addr,
            "-w",
            w,
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--sessions",
            "2",
            "--watchers",
            "3",
            "--threads",
            "2",
            "--quiet",
            "--prefix",
            "/rkbench-e2e",
            "--plot",
            plot.to_str().unwrap(),
            "--hdr-log",
            log.to_str().unwrap(),
        ])
        .unwrap();
        let s = run(a).unwrap_or_else(|e| panic!("{w}: {e}"));
        assert!(s.ops > 0, "{w}: {}", s.line());
        assert_eq!(s.error_count(), 0, "{w}: {}", s.line());
        assert!(std::fs::read_to_string(&plot)
            .unwrap()
            .ends_with("</svg>\n"));
        assert!(std::fs::metadata(&log).unwrap().len() > 0);
    }
    // Open loop at a modest rate: about rate × duration ops.
    let a = parse(&[
        "--servers",
        &addr,
        "-w",
        "get",
        "--rate",
        "200",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--quiet",
        "--prefix",
        "/rkbench-e2e",
    ])
    .unwrap();
    let s = run(a).unwrap();
    assert!((150..=250).contains(&s.ops), "{}", s.line());
    std::fs::remove_dir_all(&dir).ok();
}

/// The floor server answers the load generator's reads and, with a sync file, its
/// writes (each one a write + fdatasync that lands in the file), without errors.
#[test]
fn floor_server_serves_the_unloaded_workloads() {
    let dir = std::env::temp_dir().join(format!("rkfloor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sync = dir.join("floor.sync");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sync2 = sync.clone();
    std::thread::spawn(move || super::floor::serve_on(listener, 100, Some(&sync2)));
    for w in ["read-unloaded", "write-unloaded"] {
        let a = parse(&[
            "--servers",
            &addr,
            "-w",
            w,
            "--duration",
            "300ms",
            "--warmup",
            "0s",
            "--quiet",
        ])
        .unwrap();
        let s = run(a).unwrap_or_else(|e| panic!("{w}: {e}"));
        assert!(s.ops > 0, "{w}: {}", s.line());
        assert_eq!(s.error_count(), 0, "{w}: {}", s.line());
    }
    // The setData requests went to the file (the bench writes 100-byte values).
    let written = std::fs::read(&sync).unwrap();
    assert!(
        written.windows(100).any(|w| w.iter().all(|b| *b != 0)),
        "no setData reached the sync file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! What a run reports: the percentile summary, the one-line and JSON forms, the
//! HdrHistogram interval log and the SVG percentile plot. Pure except `write_hdr_log`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, 1 µs to 10 min, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// The numbers of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub workload: String,
    pub mode: String,
    pub ops: u64,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// Errors by ZooKeeper error name ("CONNECTIONLOSS", "NONODE", ...).
    pub errors: BTreeMap<String, u64>,
    /// All completed ops including warmup (for CPU per op over the whole run).
    pub ops_total: u64,
    /// Server CPU (utime+stime of `--server-pid`) during the measured window, per op.
    pub server_cpu_us_per_op: Option<f64>,
    /// This load generator's own CPU during the measured window, per op.
    pub client_cpu_us_per_op: Option<f64>,
    /// How busy the whole machine's CPUs were during the measured window, in percent:
    /// near 100 the throughput is bounded by the machine, not by the server alone.
    pub machine_busy_pct: Option<f64>,
}

impl Summary {
    pub fn from_histogram(
        workload: &str,
        mode: &str,
        h: &Histogram<u64>,
        measured: Duration,
    ) -> Summary {
        let secs = measured.as_secs_f64().max(1e-9);
        Summary {
            workload: workload.to_owned(),
            mode: mode.to_owned(),
            ops: h.len(),
            seconds: secs,
            throughput: h.len() as f64 / secs,
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
            errors: BTreeMap::new(),
            ops_total: h.len(),
            server_cpu_us_per_op: None,
            client_cpu_us_per_op: None,
            machine_busy_pct: None,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {}: {:.0} ops/s  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  errors {}",
            self.workload,
            self.mode,
            self.throughput,
            fmt_us(self.p50_us),
            fmt_us(self.p90_us),
            fmt_us(self.p99_us),
            fmt_us(self.p999_us),
            fmt_us(self.max_us),
            self.error_count(),
        );
        for (k, v) in &self.errors {
            let _ = write!(s, " {k}={v}");
        }
        let _ = write!(s, "  ({} ops in {:.1} s", self.ops, self.seconds);
        if let Some(c) = self.server_cpu_us_per_op {
            let _ = write!(s, ", server CPU {c:.1} µs/op");
        }
        if let Some(c) = self.client_cpu_us_per_op {
            let _ = write!(s, ", client CPU {c:.1} µs/op");
        }
        if let Some(b) = self.machine_busy_pct {
            let _ = write!(s, ", machine {b:.0}% busy");
        }
        s.push(')');
        s
    }

    /// One JSON object on one line, for machines.
    pub fn json(&self) -> String {
        let mut errs = String::from("{");
        for (i, (k, v)) in self.errors.iter().enumerate() {
            if i > 0 {
                errs.push(',');
            }
            let _ = write!(errs, "\"{}\":{v}", json_escape(k));
        }
        errs.push('}');
        let num = |v: Option<f64>, places: usize| match v {
            Some(c) if c.is_finite() => format!("{c:.places$}"),
            _ => "null".to_owned(),
        };
        format!(
            "{{\"workload\":\"{}\",\"mode\":\"{}\",\"ops\":{},\"seconds\":{:.3},\
             \"throughput\":{:.1},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\
             \"p999_us\":{},\"max_us\":{},\"mean_us\":{:.1},\"errors\":{},\
             \"ops_total\":{},\"server_cpu_us_per_op\":{},\
             \"client_cpu_us_per_op\":{},\"machine_busy_pct\":{}}}",
            json_escape(&self.workload),
            json_escape(&self.mode),
            self.ops,
            self.seconds,
            self.throughput,
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.mean_us,
            errs,
            self.ops_total,
            num(self.server_cpu_us_per_op, 3),
            num(self.client_cpu_us_per_op, 3),
            num(self.machine_busy_pct, 1),
        )
    }
}

/// "850µs", "12.3ms", "1.20s".
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Percentile points for a plot: x from 0 to 99.99 % spaced evenly on the
/// `log10(1 / (1 - p))` axis, y the latency there in µs.
pub fn percentile_points(h: &Histogram<u64>, n: usize) -> Vec<(f64, u64)> {
    let n = n.max(2);
    (0..n)
        .map(|i| {
            let x = 4.0 * i as f64 / (n - 1) as f64; // 0 .. 4 decades
            let q = 1.0 - 10f64.powf(-x);
            (q * 100.0, h.value_at_quantile(q))
        })
        .collect()
}

/// An SVG latency-percentile plot: x = percentile (log scale, 0 to 99.99 %),
/// y = latency (linear, µs). One polyline per series.
pub fn svg_plot(title: &str, series: &[(String, Vec<(f64, u64)>)]) -> String {
    const W: f64 = 800.0;
    const H: f64 = 480.0;
    const L: f64 = 80.0;
    const R: f64 = 20.0;
    const T: f64 = 40.0;
    const B: f64 = 60.0;
    const COLORS: [&str; 6] = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    ];
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.05;
    let xpos = |pct: f64| {
        let q = (pct / 100.0).min(0.9999);
        let x = -(1.0 - q).log10(); // 0..4
        L + (W - L - R) * x / 4.0
    };
    let ypos = |us: f64| T + (H - T - B) * (1.0 - us / ymax);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
        W / 2.0,
        xml_escape(title)
    );
    // Axes.
    let _ = writeln!(
        s,
        "<path d=\"M{L} {T} V{} H{}\" stroke=\"black\" fill=\"none\"/>",
        H - B,
        W - R
    );
    for (pct, label) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = xpos(pct);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{T}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            H - B,
            H - B + 18.0
        );
    }
    for i in 0..=5 {
        let v = ymax * i as f64 / 5.0;
        let y = ypos(v);
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 6.0,
            y + 4.0,
            xml_escape(&fmt_us(v as u64))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>",
        (L + W - R) / 2.0,
        H - 20.0
    );
    let _ = writeln!(
        s,
        "<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" \
         text-anchor=\"middle\">latency</text>",
        (T + H - B) / 2.0,
        (T + H - B) / 2.0
    );
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut d = String::new();
        for &(pct, us) in pts {
            let _ = write!(d, "{:.1},{:.1} ", xpos(pct), ypos(us as f64));
        }
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            d.trim_end()
        );
        let ly = T + 16.0 + 16.0 * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{ly:.1}\" fill=\"{color}\">{}</text>",
            L + 10.0,
            xml_escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One interval of the HdrHistogram log: start (from the run start), length, samples.
pub struct Interval {
    pub start: Duration,
    pub length: Duration,
    pub hist: Histogram<u64>,
}

/// Writes an HdrHistogram interval log (the format of HdrHistogram's
/// `HistogramLogWriter`, readable by `HistogramLogProcessor`), values in µs
/// (max reported in ms, divisor 1000). The last entry, tagged `total`, is the
/// measured window.
pub fn write_hdr_log(
    path: &std::path::Path,
    start: std::time::SystemTime,
    intervals: &[Interval],
    total: &Histogram<u64>,
    total_start: Duration,
    total_len: Duration,
) -> std::io::Result<()> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment("ringkeeper bench: latency in microseconds")
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut f, &mut ser)?;
    let io = |e: hdrhistogram::serialization::interval_log::IntervalLogWriterError<_>| {
        std::io::Error::other(format!("{e:?}"))
    };
    for iv in intervals {
        w.write_histogram(&iv.hist, iv.start, iv.length, None)
            .map_err(io)?;
    }
    w.write_histogram(total, total_start, total_len, Tag::new("total"))
        .map_err(io)?;
    drop(w);
    std::io::Write::flush(&mut f)
}

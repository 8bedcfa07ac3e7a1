//! The anomaly list the set, queue and ephemeral checkers report: an exact count, and
//! the first [`LISTED_MAX`] lines kept for the report.

use std::fmt::Write as _;

/// Lines kept for the report (the count stays exact).
pub const LISTED_MAX: usize = 20;

/// Anomalies found by one checker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// The first [`LISTED_MAX`] lines.
    pub listed: Vec<String>,
    pub count: usize,
}

impl Anomalies {
    pub fn note(&mut self, line: String) {
        self.count += 1;
        if self.listed.len() < LISTED_MAX {
            self.listed.push(line);
        }
    }

    pub fn ok(&self) -> bool {
        self.count == 0
    }

    /// `summary: ok_text` when there is none; otherwise the count, then one line each.
    pub fn describe(&self, summary: &str, ok_text: &str) -> String {
        let mut out = String::new();
        if self.ok() {
            let _ = writeln!(out, "{summary}: {ok_text}");
        } else {
            let _ = writeln!(out, "{summary}: {} ANOMALIES", self.count);
        }
        for a in &self.listed {
            let _ = writeln!(out, "  {a}");
        }
        out
    }
}

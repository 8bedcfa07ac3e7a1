//! After healing, every member of an ensemble must hold the same tree. Each member is
//! read on its own (a session on that member alone, `sync`, then every znode under the
//! workloads' root with its data and Stat), and the copies are compared znode by znode:
//! a znode one member lacks, or holds with other data or another Stat (zxids, times,
//! versions, owner, children), is a divergence. Stat is what ZooKeeper's own digest
//! covers, so two members that agree here would agree on its digest of this subtree.
//!
//! Beside the dump, each member's `hash` four-letter word: the digest of its whole
//! tree after every 128th zxid (ZooKeeper's `digestLog`, which ringkeeper keeps the
//! same way). Two members that logged one zxid must have logged one digest there; this
//! covers what the dump cannot see (the tree outside the workloads' root, and the
//! states between, not just the last).
//!
//! A member's digests are read in the order it logged them. ZooKeeper 3.8.0 logs them
//! as it replays its txn log at a start too, and its txn log can hold one zxid range
//! several times (a learner whose sync broke on ZOOKEEPER-4394 re-logs the leader's
//! DIFF on its next try, ZOOKEEPER-4712: tests/faults/RESULTS.md, finding B); replaying
//! the older copies over newer state, it logs digests of trees no member held at those
//! zxids. Its log then goes back (a zxid not above one logged before it), and every
//! zxid up to the highest logged before the last such step is left out of the
//! comparison for that member, and reported; the zxids after it are compared.
//!
//! Reads race nothing: the load has ended and its sessions are closed or expired before
//! the members are read; a comparison that still differs is read again (twice, a
//! second apart) so a commit that reached one member a moment later is not a finding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringkeeper::client::{Client, Options};
use ringkeeper::proto::Stat;

use crate::cluster::SESSION_TIMEOUT_MS;
use crate::net;

/// One member's copy: path → (data, Stat).
pub type Tree = BTreeMap<String, (Option<Bytes>, Stat)>;

/// Differences listed in the report (the count is always complete).
const LISTED_MAX: usize = 20;

/// Reads in flight at once on one member.
const READ_BATCH: usize = 64;

/// How the members' copies compare.
#[derive(Debug, Default)]
pub struct DigestReport {
    /// Each member and the znodes it holds under the root.
    pub members: Vec<(u32, usize)>,
    /// Paths where some member differs from the others: the path and what each
    /// member holds there.
    pub diffs: Vec<(String, Vec<String>)>,
    /// Rounds read (more than one when the first differed).
    pub rounds: u32,
    /// How reading each member went (last round).
    pub readings: Vec<(u32, Reading)>,
    /// `hash`: each member and how many digests it logged.
    pub hash_logged: Vec<(u32, usize)>,
    /// `hash`: zxids that two or more members logged (the ones compared).
    pub hash_compared: usize,
    /// `hash`: zxids where members logged different digests, with what each logged.
    pub hash_diffs: Vec<(i64, Vec<(u32, i64)>)>,
    /// `hash`: members whose log went back (a replay of a txn log holding some zxids
    /// twice): the member, the highest zxid before its last step back (its digests up
    /// to there are not compared), and how many of its entries that leaves out.
    pub hash_replayed: Vec<(u32, i64, usize)>,
}

impl DigestReport {
    pub fn ok(&self) -> bool {
        self.diffs.is_empty() && self.hash_diffs.is_empty()
    }

    pub fn describe(&self) -> String {
        let mut out = String::new();
        // Worth a line: a member that needed more than one session, or a slow one.
        for (id, r) in &self.readings {
            if r.attempts > 1 || r.slowest_connect > Duration::from_millis(500) {
                let _ = writeln!(
                    out,
                    "trees: reading s{id} took {} sessions, the slowest started in {} ms",
                    r.attempts,
                    r.slowest_connect.as_millis()
                );
            }
        }
        let logged: Vec<String> = self
            .hash_logged
            .iter()
            .map(|(id, n)| format!("s{id} {n}"))
            .collect();
        for (id, upto, left_out) in &self.hash_replayed {
            let _ = writeln!(
                out,
                "digests (hash): s{id}'s log goes back (it replayed a txn log holding some zxids \
                 more than once: ZooKeeper's ZOOKEEPER-4394/4712); its {left_out} digests up to \
                 {upto:#x} are not compared"
            );
        }
        if self.hash_diffs.is_empty() {
            let _ = writeln!(
                out,
                "digests (hash): {} zxids logged by two or more members, the same digest at each (logged: {})",
                self.hash_compared,
                logged.join(", ")
            );
        } else {
            let _ = writeln!(
                out,
                "digests (hash): MEMBERS DIFFER at {} of {} zxids logged by two or more members (logged: {})",
                self.hash_diffs.len(),
                self.hash_compared,
                logged.join(", ")
            );
            for (zxid, held) in self.hash_diffs.iter().take(LISTED_MAX) {
                let each: Vec<String> = held.iter().map(|(id, d)| format!("s{id} {d}")).collect();
                let _ = writeln!(out, "  zxid {zxid:#x}: {}", each.join(", "));
            }
        }
        let counts: Vec<String> = self
            .members
            .iter()
            .map(|(id, n)| format!("s{id} {n}"))
            .collect();
        if self.ok() {
            let _ = writeln!(
                out,
                "trees: every member holds the same {} znodes (data and Stat)",
                self.members.first().map_or(0, |m| m.1)
            );
            return out;
        }
        let _ = writeln!(
            out,
            "trees: MEMBERS DIFFER at {} znodes after {} reads ({})",
            self.diffs.len(),
            self.rounds,
            counts.join(", ")
        );
        for (path, held) in self.diffs.iter().take(LISTED_MAX) {
            let _ = writeln!(out, "  {path}");
            for h in held {
                let _ = writeln!(out, "      {h}");
            }
        }
        out
    }
}

/// Parses a `hash` answer: one "<zxid in hex>: <digest>" line per logged zxid, kept in
/// the order logged. Other lines (a server that does not know the word says so in a
/// sentence) are skipped.
pub fn parse_hash(text: &str) -> Vec<(i64, i64)> {
    text.lines()
        .filter_map(|l| {
            let (zxid, digest) = l.split_once(':')?;
            let zxid = i64::from_str_radix(zxid.trim(), 16).ok()?;
            Some((zxid, digest.trim().parse().ok()?))
        })
        .collect()
}

/// The part of one member's digest log that is compared, and, if the log goes back
/// anywhere, the highest zxid logged before its last step back (everything up to it is
/// left out: see the module doc).
fn comparable(log: &[(i64, i64)]) -> (BTreeMap<i64, i64>, Option<i64>) {
    let mut high = i64::MIN;
    let mut cut = None;
    for &(zxid, _) in log {
        if zxid <= high {
            cut = Some(high);
        }
        high = high.max(zxid);
    }
    let floor = cut.unwrap_or(i64::MIN);
    let kept = log.iter().copied().filter(|(z, _)| *z > floor).collect();
    (kept, cut)
}

/// Compares the members' digest logs at the zxids two or more of them logged; fills
/// the `hash_*` fields of `report`.
pub fn compare_hashes(logs: &[(u32, Vec<(i64, i64)>)], report: &mut DigestReport) {
    report.hash_logged = logs.iter().map(|(id, l)| (*id, l.len())).collect();
    report.hash_replayed.clear();
    let mut kept = Vec::new();
    for (id, log) in logs {
        let (map, cut) = comparable(log);
        if let Some(cut) = cut {
            report.hash_replayed.push((*id, cut, log.len() - map.len()));
        }
        kept.push((*id, map));
    }
    let zxids: BTreeSet<i64> = kept.iter().flat_map(|(_, l)| l.keys().copied()).collect();
    report.hash_compared = 0;
    report.hash_diffs.clear();
    for zxid in zxids {
        let held: Vec<(u32, i64)> = kept
            .iter()
            .filter_map(|(id, l)| l.get(&zxid).map(|d| (*id, *d)))
            .collect();
        if held.len() < 2 {
            continue;
        }
        report.hash_compared += 1;
        if held.windows(2).any(|w| w[0].1 != w[1].1) {
            report.hash_diffs.push((zxid, held));
        }
    }
}

/// Compares the members' copies.
pub fn compare(trees: &[(u32, Tree)]) -> DigestReport {
    let paths: BTreeSet<&String> = trees.iter().flat_map(|(_, t)| t.keys()).collect();
    let mut diffs = Vec::new();
    for path in paths {
        let held: Vec<Option<&(Option<Bytes>, Stat)>> =
            trees.iter().map(|(_, t)| t.get(path)).collect();
        if held.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        let what = trees
            .iter()
            .zip(&held)
            .map(|((id, _), h)| match h {
                None => format!("s{id}: no such znode"),
                Some((data, st)) => format!(
                    "s{id}: data {:?} czxid {:#x} mzxid {:#x} pzxid {:#x} version {} cversion {} \
                     children {} owner {:#x} ctime {} mtime {}",
                    data.as_deref().map(String::from_utf8_lossy),
                    st.czxid,
                    st.mzxid,
                    st.pzxid,
                    st.version,
                    st.cversion,
                    st.num_children,
                    st.ephemeral_owner,
                    st.ctime,
                    st.mtime
                ),
            })
            .collect();
        diffs.push((path.clone(), what));
    }
    DigestReport {
        members: trees.iter().map(|(id, t)| (*id, t.len())).collect(),
        diffs,
        rounds: 1,
        ..DigestReport::default()
    }
}

/// Reads every member (`(id, "addr:port")`) from the client namespace `ns` and
/// compares them; reads again, up to three rounds a second apart, while they differ.
pub fn check(
    ns: File,
    members: Vec<(u32, String)>,
    root: &'static str,
) -> Result<DigestReport, String> {
    net::spawn_executor(ns, move || async move {
        let mut report = DigestReport::default();
        for round in 1..=3 {
            if round > 1 {
                glommio::timer::sleep(Duration::from_secs(1)).await;
            }
            let mut trees = Vec::new();
            let mut readings = Vec::new();
            for (id, addr) in &members {
                let (t, r) = read_member(addr, root)
                    .await
                    .map_err(|e| format!("reading the tree of s{id} ({addr}): {e}"))?;
                trees.push((*id, t));
                readings.push((*id, r));
            }
            report = compare(&trees);
            report.rounds = round;
            report.readings = readings;
            if report.ok() {
                break;
            }
        }
        Ok(report)
    })
    .join()
    .map_err(|_| "the tree reader panicked".to_string())?
}

/// A session on `addr` alone, `sync`, then the subtree under `root`; retried for up to
/// 30 s (the member may still be joining).
/// Returns the tree and how the reading went (attempts, the slowest session start).
async fn read_member(addr: &str, root: &str) -> Result<(Tree, Reading), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    let mut reading = Reading::default();
    while Instant::now() < deadline {
        let opts = Options {
            // Generous: a slow session start is reported, not taken for a failure.
            connect_timeout_ms: 3_000,
            ..Options::default()
        };
        reading.attempts += 1;
        let t = Instant::now();
        let connected = Client::connect(addr, SESSION_TIMEOUT_MS as i32, opts).await;
        reading.slowest_connect = reading.slowest_connect.max(t.elapsed());
        match connected {
            Ok(c) => {
                let r = read_tree(&c, root).await;
                let _ = c.close().await;
                match r {
                    Ok(tree) => return Ok((tree, reading)),
                    Err(e) => last = e,
                }
            }
            Err(e) => last = format!("connect: {e} after {} ms", t.elapsed().as_millis()),
        }
        glommio::timer::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "no complete read in {} attempts over 30 s; the last: {last}",
        reading.attempts
    ))
}

/// How reading one member went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub attempts: u32,
    pub slowest_connect: Duration,
}

async fn read_tree(c: &Client, root: &str) -> Result<Tree, String> {
    c.sync(root).await.map_err(|e| format!("sync: {e}"))?;
    let mut tree = Tree::new();
    let mut level = vec![root.to_owned()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for batch in level.chunks(READ_BATCH) {
            let tasks: Vec<_> = batch
                .iter()
                .map(|p| {
                    let (c, p) = (c.clone(), p.clone());
                    glommio::spawn_local(async move {
                        let got = c.get_data(&p, false).await;
                        (p, got)
                    })
                })
                .collect();
            for t in tasks {
                let (path, got) = t.await;
                let (data, stat) = got.map_err(|e| format!("getData {path}: {e}"))?;
                if stat.num_children > 0 {
                    let mut kids = c
                        .get_children(&path, false)
                        .await
                        .map_err(|e| format!("getChildren {path}: {e}"))?;
                    kids.sort();
                    next.extend(kids.into_iter().map(|k| format!("{path}/{k}")));
                }
                tree.insert(path, (data, stat));
            }
        }
        level = next;
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(data: &str, mzxid: i64, version: i32) -> (Option<Bytes>, Stat) {
        let stat = Stat {
            czxid: 1,
            mzxid,
            version,
            ..Stat::default()
        };
        (Some(Bytes::from(data.to_owned())), stat)
    }

    fn tree(nodes: &[(&str, (Option<Bytes>, Stat))]) -> Tree {
        nodes
            .iter()
            .map(|(p, n)| (p.to_string(), n.clone()))
            .collect()
    }

    #[test]
    fn equal_copies_pass() {
        let t = tree(&[("/rkf", node("0", 1, 0)), ("/rkf/a", node("7", 9, 3))]);
        let r = compare(&[(1, t.clone()), (2, t.clone()), (3, t)]);
        assert!(r.ok(), "{}", r.describe());
        assert_eq!(r.members, vec![(1, 2), (2, 2), (3, 2)]);
    }

    #[test]
    fn a_missing_znode_is_a_divergence() {
        let full = tree(&[("/rkf", node("0", 1, 0)), ("/rkf/set/e1", node("", 5, 0))]);
        let short = tree(&[("/rkf", node("0", 1, 0))]);
        let r = compare(&[(1, full.clone()), (2, short), (3, full)]);
        assert!(!r.ok());
        assert_eq!(r.diffs.len(), 1);
        assert_eq!(r.diffs[0].0, "/rkf/set/e1");
        assert!(
            r.describe().contains("s2: no such znode"),
            "{}",
            r.describe()
        );
    }

    #[test]
    fn hash_answers_parse_and_other_lines_are_skipped() {
        let log = parse_hash("80: 1234\n100: -5\nhash is not executed because ...\n");
        assert_eq!(log, vec![(0x80, 1234), (0x100, -5)]);
    }

    #[test]
    fn a_log_that_goes_back_is_compared_only_after_its_last_step_back() {
        let live = parse_hash("80: 1\n100: 2\n180: 3\n200: 4\n");
        // s2 replayed 0x80..0x100 twice over newer state (finding B), and three
        // times 0x80: its digests there are of trees no member held.
        let replayed = parse_hash("80: 7\n100: 8\n80: 9\n100: 5\n80: 6\n180: 3\n200: 4\n");
        let mut r = DigestReport::default();
        compare_hashes(&[(1, live.clone()), (2, replayed)], &mut r);
        assert!(r.ok(), "{}", r.describe());
        assert_eq!(r.hash_compared, 2);
        assert_eq!(r.hash_replayed, vec![(2, 0x100, 5)]);
        assert!(
            r.describe().contains("s2's log goes back"),
            "{}",
            r.describe()
        );
        // After the step back the member is held to the others again.
        let diverged = parse_hash("80: 7\n100: 8\n80: 9\n180: 3\n200: 5\n");
        compare_hashes(&[(1, live), (2, diverged)], &mut r);
        assert_eq!(r.hash_diffs, vec![(0x200, vec![(1, 4), (2, 5)])]);
    }

    #[test]
    fn one_digest_per_zxid_passes_and_two_fail() {
        let a = parse_hash("80: 1\n100: 2\n180: 3\n");
        // s2 came back after a restart: it logged only the later zxids.
        let b = parse_hash("100: 2\n180: 3\n200: 4\n");
        let mut r = DigestReport::default();
        compare_hashes(&[(1, a.clone()), (2, b)], &mut r);
        assert!(r.ok(), "{}", r.describe());
        assert_eq!(r.hash_compared, 2);
        let c = parse_hash("100: 2\n180: 9\n");
        compare_hashes(&[(1, a), (3, c)], &mut r);
        assert!(!r.ok());
        assert_eq!(r.hash_diffs, vec![(0x180, vec![(1, 3), (3, 9)])]);
        assert!(
            r.describe().contains("zxid 0x180: s1 3, s3 9"),
            "{}",
            r.describe()
        );
    }

    #[test]
    fn other_data_or_another_stat_is_a_divergence() {
        let a = tree(&[("/rkf/0", node("7", 9, 3))]);
        // Same data, one member applied it at another zxid and version.
        let b = tree(&[("/rkf/0", node("7", 8, 2))]);
        assert!(!compare(&[(1, a.clone()), (2, b)]).ok());
        let c = tree(&[("/rkf/0", node("6", 9, 3))]);
        assert!(!compare(&[(1, a), (2, c)]).ok());
    }
}

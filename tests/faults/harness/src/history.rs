//! The history of a run: one [`Op`] per client call on a CAS register (one znode), with
//! its invocation and completion times, and a text form to save and re-check it.
//!
//! An op whose outcome is unknown (connection lost, timed out, session expired) is
//! *info*, as in Jepsen: it may have taken effect at any time after its invocation, or
//! never. Its `ret` is [`Ret::Unknown`] and it has no completion time.
//!
//! Text form, one op per line, fields separated by spaces:
//! `key process invoke_ns complete_ns|- call ret`, with call `r`, `w VALUE` or
//! `cas EXPECT_VERSION VALUE` and ret `ok VERSION VALUE` (read), `ok VERSION` (write,
//! cas), `mismatch` (cas refused with BadVersion), `err CODE` (another definite error)
//! or `?` (unknown); then, when known, `@sN`: member N answered (the client's server
//! when the reply came), so an anomaly on an ensemble names who served it.

use std::fmt;

/// What a client asked of one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `sync` then `getData`.
    Read,
    /// `setData` with version −1.
    Write { value: u64 },
    /// `setData` with an expected version.
    Cas { expect_version: i32, value: u64 },
}

/// What came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// A read saw this data version and value.
    Read { version: i32, value: u64 },
    /// A write or CAS was applied and the znode is now at `version`.
    Written { version: i32 },
    /// A CAS was refused (BadVersion): it did not take effect.
    CasMismatch,
    /// A definite error the model has no place for (NoNode on a register that always
    /// exists, ...): the server said something no linearization can explain.
    Error { code: i32 },
    /// The outcome is unknown (info).
    Unknown,
}

/// One call and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The znode's name within the run (a register index).
    pub key: u32,
    /// The logical process: a worker takes a new one after an info op, because the
    /// old op may still be in flight.
    pub process: u64,
    /// Nanoseconds since the run's start, before the request was sent.
    pub invoke_ns: u64,
    /// Nanoseconds since the run's start, after the reply arrived; `None` for info.
    pub complete_ns: Option<u64>,
    pub call: Call,
    pub ret: Ret,
    /// The member that answered, when known (not for info ops).
    pub server: Option<u32>,
}

impl Op {
    /// True when the outcome is unknown.
    pub fn is_info(&self) -> bool {
        matches!(self.ret, Ret::Unknown)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} ", self.key, self.process, self.invoke_ns)?;
        match self.complete_ns {
            Some(t) => write!(f, "{t} ")?,
            None => write!(f, "- ")?,
        }
        match self.call {
            Call::Read => write!(f, "r ")?,
            Call::Write { value } => write!(f, "w {value} ")?,
            Call::Cas {
                expect_version,
                value,
            } => write!(f, "cas {expect_version} {value} ")?,
        }
        match self.ret {
            Ret::Read { version, value } => write!(f, "ok {version} {value}")?,
            Ret::Written { version } => write!(f, "ok {version}")?,
            Ret::CasMismatch => write!(f, "mismatch")?,
            Ret::Error { code } => write!(f, "err {code}")?,
            Ret::Unknown => write!(f, "?")?,
        }
        match self.server {
            Some(s) => write!(f, " @s{s}"),
            None => Ok(()),
        }
    }
}

/// A line of the text form did not parse.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses the text form (blank lines and `#` comments are skipped).
pub fn parse(text: &str) -> Result<Vec<Op>, ParseError> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| ParseError {
            line: i + 1,
            reason: format!("{reason}: {line:?}"),
        };
        let mut f: Vec<&str> = line.split_whitespace().collect();
        let server = match f.last().and_then(|w| w.strip_prefix("@s")) {
            Some(n) => {
                let n = n.parse().map_err(|_| bad("the server is not @sN"))?;
                f.pop();
                Some(n)
            }
            None => None,
        };
        let num = |j: usize| -> Result<u64, ParseError> {
            f.get(j)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&format!("field {} is not a number", j + 1)))
        };
        let ver = |j: usize| -> Result<i32, ParseError> {
            f.get(j)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&format!("field {} is not a version", j + 1)))
        };
        let key = u32::try_from(num(0)?).map_err(|_| bad("key too large"))?;
        let process = num(1)?;
        let invoke_ns = num(2)?;
        let complete_ns = match f.get(3) {
            Some(&"-") => None,
            _ => Some(num(3)?),
        };
        let (call, rest) = match f.get(4) {
            Some(&"r") => (Call::Read, 5),
            Some(&"w") => (Call::Write { value: num(5)? }, 6),
            Some(&"cas") => (
                Call::Cas {
                    expect_version: ver(5)?,
                    value: num(6)?,
                },
                7,
            ),
            _ => return Err(bad("unknown call")),
        };
        let ret = match (f.get(rest), call) {
            (Some(&"?"), _) => Ret::Unknown,
            (Some(&"mismatch"), Call::Cas { .. }) => Ret::CasMismatch,
            (Some(&"err"), _) => Ret::Error {
                code: f
                    .get(rest + 1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("no error code"))?,
            },
            (Some(&"ok"), Call::Read) => Ret::Read {
                version: ver(rest + 1)?,
                value: num(rest + 2)?,
            },
            (Some(&"ok"), _) => Ret::Written {
                version: ver(rest + 1)?,
            },
            _ => return Err(bad("unknown result")),
        };
        if ret == Ret::Unknown && complete_ns.is_some() {
            return Err(bad("an unknown outcome has no completion time"));
        }
        if ret != Ret::Unknown && complete_ns.is_none() {
            return Err(bad("a known outcome needs a completion time"));
        }
        if complete_ns.is_some_and(|c| c < invoke_ns) {
            return Err(bad("completed before it was invoked"));
        }
        ops.push(Op {
            key,
            process,
            invoke_ns,
            complete_ns,
            call,
            ret,
            server,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let text =
            "0 1 5 9 r ok 2 77 @s2\n0 2 6 - w 8 ?\n1 3 7 8 cas 4 9 mismatch\n1 3 10 12 cas 4 9 ok 5 @s1\n0 4 1 2 r err -101\n";
        let ops = parse(text).unwrap();
        assert_eq!(ops.len(), 5);
        assert_eq!(ops[0].server, Some(2));
        assert_eq!(ops[1].server, None);
        let back: String = ops.iter().map(|o| format!("{o}\n")).collect();
        assert_eq!(back, text);
    }

    #[test]
    fn rejects_inconsistent_lines() {
        assert!(parse("0 1 5 - r ok 1 1").is_err());
        assert!(parse("0 1 5 9 r ?").is_err());
        assert!(parse("0 1 9 5 r ok 1 1").is_err());
        assert!(parse("0 1 5 9 x ok 1").is_err());
        assert!(parse("0 1 5 9 r ok 1 1 @sx").is_err());
    }
}

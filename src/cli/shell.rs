//! [`Shell`]: zkCli's commands over one [`Client`], with zkCli's options, output and
//! error messages (from ZooKeeper's `ZooKeeperMain` and `cli/*Command.java`).
//!
//! A command writes what zkCli writes to stdout into [`Output::out`] and what it
//! writes to stderr (errors, and "Created /path", which zkCli also prints there)
//! into [`Output::err`]; the caller prints them, so tests can compare them.

use std::cell::Cell;
use std::fmt::Write;
use std::rc::Rc;

use super::{config, format, quota};
use crate::client::{ops, AddWatchMode, Client, ClientError, Options, WatcherType};
use crate::proto::{Acl, CreateMode, ErrorCode, MultiOp};

/// Default `deleteall -b`: znodes deleted per multi.
const DELETEALL_BATCH_DEFAULT: usize = 1000;
/// History lines `history` shows, as zkCli.
const HISTORY_SHOWN: usize = 10;

/// What one command printed and whether it failed (zkCli's exit code 1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub out: String,
    pub err: String,
    pub failed: bool,
    /// `quit` was entered.
    pub quit: bool,
}

/// One interactive or one-shot zkCli session.
pub struct Shell {
    client: Option<Client>,
    host: String,
    timeout_ms: i32,
    read_only: bool,
    /// Entered lines by command number.
    history: Vec<String>,
    print_watches: Rc<Cell<bool>>,
    /// Watch events that arrive while a command runs go to stderr instead of stdout
    /// (one-shot mode, whose stdout is the command's answer only).
    events_to_stderr: bool,
}

/// Usage lines, sorted by command as zkCli's `usage()` prints them.
const USAGE: &[(&str, &str)] = &[
    ("addWatch", "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("help", ""),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("rmr", "path"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

pub(super) fn usage_of(cmd: &str) -> String {
    let opts = USAGE
        .iter()
        .find(|(c, _)| *c == cmd)
        .map(|(_, o)| *o)
        .unwrap_or("");
    format!("{cmd} {opts}")
}

/// zkCli's `usage()`, to stderr.
fn usage(err: &mut String) {
    err.push_str("ZooKeeper -server host:port cmd args\n");
    for (c, o) in USAGE {
        let _ = writeln!(err, "\t{c} {o}");
    }
}

/// Options of one command, parsed the way commons-cli's parsers do: flags may be
/// bundled (`-sw`), a valued option takes the rest of its token or the next one
/// (unless that is another option), options may follow positional arguments. Errors
/// read as zkCli prints them: the commons-cli exception's `toString`.
pub(super) struct Opts {
    flags: Vec<char>,
    values: Vec<(char, String)>,
    /// Every option, in the order given.
    order: Vec<char>,
    /// The command name first, then the positional arguments.
    pub(super) args: Vec<String>,
}

/// Whether `tok`, met where an option's value could be, is an option instead
/// (commons-cli `DefaultParser.isArgument`: negative numbers are values).
fn is_option_token(tok: &str, flags: &str, valued: &str) -> bool {
    let Some(body) = tok.strip_prefix('-') else {
        return false;
    };
    let Some(first) = body.chars().next() else {
        return false;
    };
    body.parse::<f64>().is_err()
        && (first == '-' || flags.contains(first) || valued.contains(first))
}

impl Opts {
    pub(super) fn parse(argv: &[String], flags: &str, valued: &str) -> Result<Opts, String> {
        let missing = |c: char| {
            format!(
                "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {c}"
            )
        };
        let mut o = Opts {
            flags: Vec::new(),
            values: Vec::new(),
            order: Vec::new(),
            args: Vec::new(),
        };
        let mut it = argv.iter();
        if let Some(cmd) = it.next() {
            o.args.push(cmd.clone());
        }
        while let Some(a) = it.next() {
            if a == "--" {
                o.args.extend(it.by_ref().cloned());
                break;
            }
            if a.len() < 2 || !a.starts_with('-') {
                o.args.push(a.clone());
                continue;
            }
            let body = &a[1..];
            for (i, c) in body.char_indices() {
                if valued.contains(c) {
                    let rest = &body[i + c.len_utf8()..];
                    let v = if !rest.is_empty() {
                        rest.to_owned()
                    } else {
                        match it.next() {
                            Some(v) if !is_option_token(v, flags, valued) => v.clone(),
                            _ => return Err(missing(c)),
                        }
                    };
                    o.values.push((c, v));
                    o.order.push(c);
                    break;
                } else if flags.contains(c) {
                    o.flags.push(c);
                    o.order.push(c);
                } else {
                    return Err(format!(
                        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {a}"
                    ));
                }
            }
        }
        Ok(o)
    }

    pub(super) fn has(&self, c: char) -> bool {
        self.flags.contains(&c) || self.values.iter().any(|(k, _)| *k == c)
    }

    pub(super) fn value(&self, c: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    }

    /// The option of the mutually exclusive `group` that was given, if any; a second
    /// one is commons-cli's `AlreadySelectedException` (the same one twice is not).
    pub(super) fn one_of(&self, group: &str) -> Result<Option<char>, String> {
        let mut selected = None;
        for &c in self.order.iter().filter(|c| group.contains(**c)) {
            match selected {
                Some(s) if s != c => {
                    return Err(format!(
                        "org.apache.commons.cli.AlreadySelectedException: The option '{c}' was \
                         specified but an option from this group has already been selected: '{s}'"
                    ))
                }
                _ => selected = Some(c),
            }
        }
        Ok(selected)
    }
}

/// `PathUtils.validatePath`, which the Java client runs before sending.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), String> {
    let checked;
    let path = if sequential {
        checked = format!("{path}1");
        checked.as_str()
    } else {
        path
    };
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    let chars: Vec<char> = path.chars().collect();
    let mut reason = None;
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        if c == '\0' {
            reason = Some(format!("null character not allowed @{i}"));
        } else if c == '/' && last == '/' {
            reason = Some(format!("empty node name specified @{i}"));
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && (i + 1 == chars.len() || chars[i + 1] == '/') {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == '.' {
            if last == '/' && (i + 1 == chars.len() || chars[i + 1] == '/') {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
        {
            reason = Some(format!("invalid character @{i}"));
        }
        if reason.is_some() {
            break;
        }
    }
    match reason {
        Some(r) => Err(format!("Invalid path string \"{path}\" caused by {r}")),
        None => Ok(()),
    }
}

/// `AclParser.parse`: `scheme:id:perms[,scheme:id:perms]`; malformed entries are
/// reported on stderr and skipped, as zkCli does.
pub fn parse_acl(s: &str, err: &mut String) -> Vec<Acl> {
    let mut acl = Vec::new();
    for a in s.split(',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            let _ = writeln!(err, "{a} does not have the form scheme:id:perm");
            continue;
        };
        if first == last {
            let _ = writeln!(err, "{a} does not have the form scheme:id:perm");
            continue;
        }
        let mut perms = 0;
        for c in a[last + 1..].chars() {
            match c {
                'r' => perms |= crate::proto::perms::READ,
                'w' => perms |= crate::proto::perms::WRITE,
                'c' => perms |= crate::proto::perms::CREATE,
                'd' => perms |= crate::proto::perms::DELETE,
                'a' => perms |= crate::proto::perms::ADMIN,
                other => {
                    let _ = writeln!(err, "Unknown perm type: {other}");
                }
            }
        }
        acl.push(Acl::new(perms, &a[..first], &a[first + 1..last]));
    }
    acl
}

/// `MyCommandOptions.parseCommand`: whitespace-separated words, where a word that
/// starts with a quote runs to the matching quote (quotes stripped).
pub fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let first = rest.chars().next().unwrap_or(' ');
        let end = if first == '"' || first == '\'' {
            match rest[1..].find(first) {
                Some(i) => {
                    out.push(rest[1..1 + i].to_owned());
                    2 + i
                }
                None => {
                    // No closing quote: the quote starts an ordinary word.
                    let e = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    out.push(rest[..e].to_owned());
                    e
                }
            }
        } else {
            let e = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..e].to_owned());
            e
        };
        rest = rest[end..].trim_start();
    }
    out
}

/// A failed command: the message zkCli prints on stderr.
pub(super) type CmdResult = Result<(), String>;

impl Shell {
    pub fn new(host: &str, timeout_ms: i32, read_only: bool) -> Shell {
        Shell {
            client: None,
            host: host.to_owned(),
            timeout_ms,
            read_only,
            history: Vec::new(),
            print_watches: Rc::new(Cell::new(true)),
            events_to_stderr: false,
        }
    }

    /// Watch events from the next [`connect`](Self::connect) on go to stderr.
    pub fn print_events_to_stderr(&mut self) {
        self.events_to_stderr = true;
    }

    /// Connects to `host` (closing any current session) and prints its events as
    /// they come. The first event (SyncConnected) is printed into `out` at once (the
    /// caller's stdout or stderr).
    pub async fn connect(&mut self, host: &str, out: &mut String) -> Result<(), ClientError> {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        self.host = host.to_owned();
        let opts = Options {
            read_only: self.read_only,
            ..Options::default()
        };
        let client = Client::connect(host, self.timeout_ms, opts).await?;
        if let Some(events) = client.events() {
            if let Some(first) = events.try_next() {
                if self.print_watches.get() {
                    let _ = write!(out, "\nWATCHER::\n\n{first}\n");
                }
            }
            let print = self.print_watches.clone();
            let to_stderr = self.events_to_stderr;
            glommio::spawn_local(async move {
                while let Some(ev) = events.next().await {
                    if !print.get() {
                        continue;
                    }
                    if to_stderr {
                        eprintln!("\nWATCHER::\n\n{ev}");
                    } else {
                        println!("\nWATCHER::\n\n{ev}");
                    }
                }
            })
            .detach();
        }
        self.client = Some(client);
        Ok(())
    }

    /// Ends the session without printing its Closed event (for the end of a run).
    pub async fn close_quietly(&mut self) {
        self.print_watches.set(false);
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }

    /// zkCli's prompt: `[zk: host(CONNECTED) 3] `.
    pub fn prompt(&self) -> String {
        let state = match &self.client {
            Some(c) if c.is_connected() => "CONNECTED",
            Some(c) if !c.is_closed() => "CONNECTING",
            _ => "CLOSED",
        };
        format!("[zk: {}({}) {}] ", self.host, state, self.history.len())
    }

    /// Runs one interactive line: recorded in the history, then executed.
    pub async fn exec_line(&mut self, line: &str) -> Output {
        let mut o = Output::default();
        if line.is_empty() {
            return o;
        }
        self.history.push(line.to_owned());
        let args = split_line(line);
        self.exec(&args, &mut o).await;
        o
    }

    /// Runs one command given as words (one-shot mode).
    pub async fn exec_args(&mut self, args: &[String]) -> Output {
        let mut o = Output::default();
        self.exec(args, &mut o).await;
        o
    }

    async fn exec(&mut self, args: &[String], o: &mut Output) {
        let r = self.dispatch(args, o).await;
        if let Err(msg) = r {
            o.failed = true;
            o.err.push_str(&msg);
            o.err.push('\n');
        }
    }

    async fn dispatch(&mut self, args: &[String], o: &mut Output) -> CmdResult {
        let Some(cmd) = args.first().map(String::as_str) else {
            usage(&mut o.err);
            return Err("No command entered".into());
        };
        if !USAGE.iter().any(|(c, _)| *c == cmd) {
            usage(&mut o.err);
            return Err(format!("Command not found: Command not found {cmd}"));
        }
        match cmd {
            "quit" => {
                self.close_quietly().await;
                o.quit = true;
                return Ok(());
            }
            "help" => {
                usage(&mut o.out);
                return Ok(());
            }
            "history" => {
                let n = self.history.len();
                for i in n.saturating_sub(HISTORY_SHOWN + 1)..n {
                    let _ = writeln!(o.out, "{i} - {}", self.history[i]);
                }
                return Ok(());
            }
            "redo" if args.len() >= 2 => {
                let current = self.history.len().saturating_sub(1);
                let i: usize = match parse_java_int(&args[1]) {
                    Some(i) if i >= 0 && (i as usize) < current => i as usize,
                    _ => return Err("Command index out of range".into()),
                };
                let line = self.history[i].clone();
                let again = split_line(&line);
                if again.first().map(String::as_str) == Some("redo") {
                    return Err("No redoing redos".into());
                }
                if let Some(last) = self.history.last_mut() {
                    *last = line;
                }
                return Box::pin(self.dispatch(&again, o)).await;
            }
            "printwatches" => {
                if args.len() == 1 {
                    let on = if self.print_watches.get() {
                        "on"
                    } else {
                        "off"
                    };
                    let _ = writeln!(o.out, "printwatches is {on}");
                } else {
                    self.print_watches.set(args[1] == "on");
                }
                return Ok(());
            }
            "connect" => {
                let host = args.get(1).cloned().unwrap_or_else(|| self.host.clone());
                let mut out = String::new();
                let r = self.connect(&host, &mut out).await;
                o.out.push_str(&out);
                return r.map_err(|e| format::error_message(&e, ""));
            }
            _ => {}
        }
        let client = match &self.client {
            Some(c) if !c.is_closed() => c.clone(),
            _ => {
                o.out.push_str("Not connected\n");
                return Ok(());
            }
        };
        let c = &client;
        match cmd {
            "close" => {
                let _ = c.close().await;
                Ok(())
            }
            "version" => {
                let _ = writeln!(
                    o.out,
                    "ZooKeeper CLI version: ringkeeper {}",
                    env!("CARGO_PKG_VERSION")
                );
                Ok(())
            }
            "ls" => self.ls(c, args, o).await,
            "get" => get(c, args, o).await,
            "set" => set(c, args, o).await,
            "create" => create(c, args, o).await,
            "delete" => delete(c, args).await,
            "deleteall" | "rmr" => delete_all(c, args).await,
            "stat" => stat(c, args, o).await,
            "getAcl" => get_acl(c, args, o).await,
            "setAcl" => set_acl(c, args, o).await,
            "setquota" => quota::set_quota(c, args, o).await,
            "listquota" => quota::list_quota(c, args, o).await,
            "delquota" => quota::del_quota(c, args, o).await,
            "config" => config::get_config(c, args, o).await,
            "addauth" => {
                let a = Opts::parse(args, "", "")?;
                if a.args.len() < 2 {
                    return Err(usage_of(cmd));
                }
                let auth = a.args.get(2).map(String::as_bytes).unwrap_or_default();
                c.add_auth(&a.args[1], auth)
                    .await
                    .map_err(|e| format::error_message(&e, ""))
            }
            "sync" => {
                let a = Opts::parse(args, "", "")?;
                let path = a.args.get(1).ok_or_else(|| usage_of(cmd))?;
                validate_path(path, false)?;
                match c.sync(path).await {
                    Ok(_) => o.out.push_str("Sync is OK\n"),
                    Err(e) => {
                        let _ = writeln!(o.out, "Sync has failed. rc={}", e.code().code());
                    }
                }
                Ok(())
            }
            "getEphemerals" => {
                let a = Opts::parse(args, "", "")?;
                let path = a.args.get(1).map(String::as_str).unwrap_or("/");
                let list = c
                    .get_ephemerals(path)
                    .await
                    .map_err(|e| format::error_message(&e, path))?;
                let _ = writeln!(o.out, "{}", java_list(&list));
                Ok(())
            }
            "getAllChildrenNumber" => {
                let a = Opts::parse(args, "", "")?;
                let path = a.args.get(1).ok_or_else(|| usage_of(cmd))?;
                validate_path(path, false)?;
                let n = c
                    .get_all_children_number(path)
                    .await
                    .map_err(|e| format::error_message(&e, path))?;
                let _ = writeln!(o.out, "{n}");
                Ok(())
            }
            "whoami" => {
                let who = c
                    .who_am_i()
                    .await
                    .map_err(|e| format::error_message(&e, ""))?;
                o.out.push_str("Auth scheme: User\n");
                for i in who {
                    let _ = writeln!(o.out, "{}: {}", i.auth_scheme, i.user);
                }
                Ok(())
            }
            "addWatch" => {
                let a = Opts::parse(args, "", "m")?;
                if a.args.len() != 2 {
                    return Err(usage_of(cmd));
                }
                let mode = match a.value('m').map(str::to_uppercase).as_deref() {
                    None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => AddWatchMode::Persistent,
                    Some(_) => return Err(usage_of(cmd)),
                };
                let path = &a.args[1];
                validate_path(path, false)?;
                c.add_watch(path, mode)
                    .await
                    .map_err(|e| format::error_message(&e, path))
            }
            "removewatches" => {
                let a = Opts::parse(args, "cdpral", "")?;
                if a.args.len() < 2 {
                    return Err(usage_of(cmd));
                }
                let kind = if a.has('c') {
                    WatcherType::Children
                } else if a.has('d') {
                    WatcherType::Data
                } else if a.has('p') {
                    WatcherType::Persistent
                } else if a.has('r') {
                    WatcherType::PersistentRecursive
                } else {
                    WatcherType::Any
                };
                let path = &a.args[1];
                validate_path(path, false)?;
                c.remove_watches(path, kind)
                    .await
                    .map_err(|e| format::error_message(&e, path))
            }
            _ => {
                usage(&mut o.err);
                Ok(())
            }
        }
    }

    async fn ls(&self, c: &Client, args: &[String], o: &mut Output) -> CmdResult {
        let a = Opts::parse(args, "swR", "")?;
        let path = a.args.get(1).ok_or_else(|| usage_of("ls"))?;
        validate_path(path, false)?;
        let watch = a.has('w');
        let fail = |e: ClientError| format::error_message(&e, path);
        if a.has('R') {
            let mut stack = vec![path.clone()];
            c.exists(path, false)
                .await
                .map_err(fail)?
                .ok_or_else(|| fail(ClientError::Keeper(ErrorCode::NoNode)))?;
            while let Some(p) = stack.pop() {
                let _ = writeln!(o.out, "{p}");
                let mut kids = match c.get_children(&p, watch).await {
                    Ok(k) => k,
                    Err(ClientError::Keeper(ErrorCode::NoNode)) => continue,
                    Err(e) => return Err(fail(e)),
                };
                kids.sort();
                for k in kids.iter().rev() {
                    stack.push(child_path(&p, k));
                }
            }
            return Ok(());
        }
        let (mut kids, st) = c.get_children2(path, watch).await.map_err(fail)?;
        kids.sort();
        let _ = writeln!(o.out, "{}", java_list(&kids));
        if a.has('s') {
            format::stat(&mut o.out, &st);
        }
        Ok(())
    }
}

async fn get(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "sw", "")?;
    let path = a.args.get(1).ok_or_else(|| usage_of("get"))?;
    validate_path(path, false)?;
    let (data, st) = c
        .get_data(path, a.has('w'))
        .await
        .map_err(|e| format::error_message(&e, path))?;
    match data {
        Some(d) => {
            o.out.push_str(&String::from_utf8_lossy(&d));
            o.out.push('\n');
        }
        None => o.out.push_str("null\n"),
    }
    if a.has('s') {
        format::stat(&mut o.out, &st);
    }
    Ok(())
}

fn version_opt(a: &Opts) -> Result<i32, String> {
    match a.value('v') {
        None => Ok(-1),
        Some(v) => parse_java_int(v).ok_or_else(|| format!("For input string: \"{v}\"")),
    }
}

async fn set(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "s", "v")?;
    if a.args.len() < 3 {
        return Err(usage_of("set"));
    }
    let path = &a.args[1];
    validate_path(path, false)?;
    let version = version_opt(&a)?;
    let st = c
        .set_data(path, Some(a.args[2].as_bytes()), version)
        .await
        .map_err(|e| format::error_message(&e, path))?;
    if a.has('s') {
        format::stat(&mut o.out, &st);
    }
    Ok(())
}

async fn create(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "esc", "t")?;
    if a.args.len() < 2 {
        return Err(usage_of("create"));
    }
    let (e, s, k, t) = (a.has('e'), a.has('s'), a.has('c'), a.has('t'));
    if k && (e || s) {
        return Err(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                .into(),
        );
    }
    let ttl = match a.value('t') {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| "-t argument must be a long value".to_string())?,
        None => 0,
    };
    if t && e {
        return Err("TTLs cannot be used with Ephemeral znodes".into());
    }
    if t && k {
        return Err("TTLs cannot be used with Container znodes".into());
    }
    // EphemeralType.TTL's bound: the TTL fits in the owner's low 56 bits... minus
    // the extended-type marker bytes, and must be positive.
    const TTL_MAX_MS: i64 = 0x00ff_ffff_ffff;
    if t && (ttl <= 0 || ttl > TTL_MAX_MS) {
        return Err(format!(
            "ttl must be positive and cannot be larger than: {TTL_MAX_MS}"
        ));
    }
    let mode = match (e, s, k) {
        (true, true, _) => CreateMode::EphemeralSequential,
        (true, false, _) => CreateMode::Ephemeral,
        (false, true, _) => CreateMode::PersistentSequential,
        (false, false, true) => CreateMode::Container,
        _ => CreateMode::Persistent,
    };
    let path = &a.args[1];
    validate_path(path, s)?;
    let data = a.args.get(2).map(String::as_bytes);
    let acl = match a.args.get(3) {
        Some(s) => parse_acl(s, &mut o.err),
        None => Acl::open_unsafe(),
    };
    let r = if t {
        c.create_ttl(path, data, &acl, mode, ttl).await
    } else {
        c.create(path, data, &acl, mode).await
    };
    match r {
        Ok((p, _)) => {
            let _ = writeln!(o.err, "Created {p}");
            Ok(())
        }
        Err(ClientError::Keeper(ErrorCode::EphemeralOnLocalSession)) => {
            o.err
                .push_str("Unable to create ephemeral node on a local session\n");
            Err(format::error_message(
                &ClientError::Keeper(ErrorCode::EphemeralOnLocalSession),
                path,
            ))
        }
        Err(ClientError::Keeper(ErrorCode::InvalidAcl)) => {
            let _ = writeln!(o.err, "KeeperErrorCode = InvalidACL for {path}");
            Err(format::error_message(
                &ClientError::Keeper(ErrorCode::InvalidAcl),
                path,
            ))
        }
        Err(e) => Err(format::error_message(&e, path)),
    }
}

async fn delete(c: &Client, args: &[String]) -> CmdResult {
    let a = Opts::parse(args, "", "v")?;
    let path = a.args.get(1).ok_or_else(|| usage_of("delete"))?;
    validate_path(path, false)?;
    let version = version_opt(&a)?;
    c.delete(path, version)
        .await
        .map_err(|e| format::error_message(&e, path))
}

/// `ZKUtil.deleteRecursive`: the subtree, deepest first, in multis of `-b` deletes.
async fn delete_all(c: &Client, args: &[String]) -> CmdResult {
    let a = Opts::parse(args, "", "b")?;
    let path = a.args.get(1).ok_or_else(|| usage_of("deleteall"))?;
    validate_path(path, false)?;
    let batch = match a.value('b') {
        Some(v) => match v.parse::<usize>() {
            Ok(b) if b > 0 => b,
            _ => return Err("batch size must be greater than 0".into()),
        },
        None => DELETEALL_BATCH_DEFAULT,
    };
    let fail = |e: ClientError| format::error_message(&e, path);
    // Breadth-first listing; deleting it in reverse removes children before parents.
    let mut tree = vec![path.clone()];
    let mut i = 0;
    while i < tree.len() {
        match c.get_children(&tree[i], false).await {
            Ok(kids) => {
                let parent = tree[i].clone();
                tree.extend(kids.iter().map(|k| child_path(&parent, k)));
            }
            Err(ClientError::Keeper(ErrorCode::NoNode)) if i > 0 => {}
            Err(e) => return Err(fail(e)),
        }
        i += 1;
    }
    let deletes: Vec<MultiOp> = tree.iter().rev().map(|p| ops::delete(p, -1)).collect();
    for chunk in deletes.chunks(batch) {
        match c.multi(chunk.to_vec()).await {
            Ok(_) => {}
            Err(ClientError::MultiFailed { index, code }) => {
                return Err(fail(ClientError::MultiFailed { index, code }));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(())
}

async fn stat(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "w", "")?;
    let path = a.args.get(1).ok_or_else(|| usage_of("stat"))?;
    validate_path(path, false)?;
    let fail = |e: ClientError| format::error_message(&e, path);
    let st = c
        .exists(path, a.has('w'))
        .await
        .map_err(fail)?
        .ok_or_else(|| fail(ClientError::Keeper(ErrorCode::NoNode)))?;
    format::stat(&mut o.out, &st);
    Ok(())
}

async fn get_acl(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "s", "")?;
    let path = a.args.get(1).ok_or_else(|| usage_of("getAcl"))?;
    validate_path(path, false)?;
    let (acl, st) = c
        .get_acl(path)
        .await
        .map_err(|e| format::error_message(&e, path))?;
    for a in &acl {
        let _ = writeln!(
            o.out,
            "'{},'{}\n: {}",
            a.id.scheme,
            a.id.id,
            format::perm_string(a.perms)
        );
    }
    if a.has('s') {
        format::stat(&mut o.out, &st);
    }
    Ok(())
}

async fn set_acl(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "sR", "v")?;
    if a.args.len() < 3 {
        return Err(usage_of("setAcl"));
    }
    let path = &a.args[1];
    validate_path(path, false)?;
    let acl = parse_acl(&a.args[2], &mut o.err);
    let version = version_opt(&a)?;
    let fail = |e: ClientError| format::error_message(&e, path);
    if a.has('R') {
        let mut stack = vec![path.clone()];
        while let Some(p) = stack.pop() {
            c.set_acl(&p, &acl, version).await.map_err(fail)?;
            let kids = c.get_children(&p, false).await.map_err(fail)?;
            stack.extend(kids.iter().map(|k| child_path(&p, k)));
        }
        return Ok(());
    }
    let st = c.set_acl(path, &acl, version).await.map_err(fail)?;
    if a.has('s') {
        format::stat(&mut o.out, &st);
    }
    Ok(())
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Java's `List.toString`: `[a, b]`.
fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Java's `Integer.decode`-ish: decimal, `0x` hex, optional sign.
fn parse_java_int(s: &str) -> Option<i32> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_zkcli() {
        assert_eq!(
            split_line("  set /a 'hello world'  \"x y\" z"),
            vec!["set", "/a", "hello world", "x y", "z"]
        );
        assert_eq!(split_line(""), Vec::<String>::new());
    }

    #[test]
    fn options_anywhere_and_bundled() {
        let argv: Vec<String> = ["ls", "-sw", "/a", "-R"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = Opts::parse(&argv, "swR", "").unwrap();
        assert!(o.has('s') && o.has('w') && o.has('R'));
        assert_eq!(o.args, vec!["ls", "/a"]);
        let argv: Vec<String> = ["set", "-v5", "/a", "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(Opts::parse(&argv, "s", "v").unwrap().value('v'), Some("5"));
        let argv: Vec<String> = ["get", "-x", "/a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            Opts::parse(&argv, "sw", "").err().unwrap(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        // A valued option followed by another option has no value; a negative number
        // is a value.
        let argv: Vec<String> = ["setquota", "-n", "-b", "5", "/a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            Opts::parse(&argv, "", "nbNB").err().unwrap(),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: n"
        );
        let argv: Vec<String> = ["setquota", "-n", "-5", "/a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            Opts::parse(&argv, "", "nbNB").unwrap().value('n'),
            Some("-5")
        );
        let argv: Vec<String> = ["delquota", "-nb", "/a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            Opts::parse(&argv, "nbNB", "")
                .unwrap()
                .one_of("nbNB")
                .err()
                .unwrap(),
            "org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified \
             but an option from this group has already been selected: 'n'"
        );
    }

    #[test]
    fn paths_are_validated_like_the_java_client() {
        assert!(validate_path("/", false).is_ok());
        assert!(validate_path("/a/b", false).is_ok());
        assert!(validate_path("/a/", true).is_ok());
        assert_eq!(
            validate_path("a", false).unwrap_err(),
            "Path must start with / character"
        );
        assert_eq!(
            validate_path("/a/", false).unwrap_err(),
            "Path must not end with / character"
        );
        assert_eq!(
            validate_path("/a//b", false).unwrap_err(),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert!(validate_path("/a/../b", false).is_err());
    }

    #[test]
    fn acls_parse_like_acl_parser() {
        let mut err = String::new();
        let acl = parse_acl("world:anyone:r,ip:127.0.0.1:cdrwa,bad", &mut err);
        assert_eq!(acl.len(), 2);
        assert_eq!(acl[1].id.id, "127.0.0.1");
        assert_eq!(acl[1].perms, crate::proto::perms::ALL);
        assert_eq!(err, "bad does not have the form scheme:id:perm\n");
    }
}

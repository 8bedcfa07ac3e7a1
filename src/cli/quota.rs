//! zkCli 3.8's quota commands, `setquota`, `listquota` and `delquota`
//! (`SetQuotaCommand`, `ListQuotaCommand`, `DelQuotaCommand`): the same calls to the
//! server in the same order, the same output on the same stream, the same exit status.
//!
//! A quota is two nodes under `/zookeeper/quota` (see `tree::quota`); these commands
//! only write the limits node and make or remove both. The server keeps the stats
//! node current.

use std::fmt::Write;

use super::format;
use super::shell::{usage_of, validate_path, CmdResult, Opts, Output};
use crate::client::{Client, ClientError};
use crate::proto::{Acl, CreateMode, ErrorCode};
use crate::tree::{
    limit_path, stat_path, StatsTrack, BYTES, BYTE_HARD_LIMIT, COUNT, COUNT_HARD_LIMIT, LIMIT_NODE,
    QUOTA_PATH, STAT_NODE, ZOOKEEPER_PATH,
};

/// The option group of `setquota` and `delquota`, in zkCli's order.
const GROUP: &str = "nbNB";

/// `setquota` without any of its options (commons-cli lists the required group).
const MISSING_GROUP: &str = "org.apache.commons.cli.MissingOptionException: Missing required \
     option: [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]";

/// How a quota command stops early.
enum Stop {
    /// `KeeperException.NoNodeException`, which `listquota` and `delquota` catch; the
    /// message is what zkCli prints when it does not.
    NoNode(String),
    /// Anything else: zkCli prints the message and exits 1.
    Fail(String),
}

impl From<String> for Stop {
    fn from(msg: String) -> Stop {
        Stop::Fail(msg)
    }
}

impl Stop {
    fn message(self) -> String {
        match self {
            Stop::NoNode(m) | Stop::Fail(m) => m,
        }
    }
}

/// A failed call on `path`, as `CliWrapperException` words it.
fn failed(e: ClientError, path: &str) -> Stop {
    let msg = format::error_message(&e, path);
    match e {
        ClientError::Keeper(ErrorCode::NoNode) => Stop::NoNode(msg),
        _ => Stop::Fail(msg),
    }
}

/// The Java client validates every path before sending (`IllegalArgumentException`,
/// which the commands print as `MalformedPathException`).
fn checked(path: &str) -> Result<&str, Stop> {
    validate_path(path, false).map_err(Stop::Fail)?;
    Ok(path)
}

async fn exists(c: &Client, path: &str) -> Result<bool, Stop> {
    let path = checked(path)?;
    let st = c.exists(path, false).await.map_err(|e| failed(e, path))?;
    Ok(st.is_some())
}

async fn children(c: &Client, path: &str) -> Result<Vec<String>, Stop> {
    let path = checked(path)?;
    c.get_children(path, false)
        .await
        .map_err(|e| failed(e, path))
}

/// `getData` parsed as a `StatsTrack` (null data reads as empty).
async fn stats_of(c: &Client, path: &str) -> Result<StatsTrack, Stop> {
    let path = checked(path)?;
    let (data, _) = c.get_data(path, false).await.map_err(|e| failed(e, path))?;
    // ZooKeeper's client throws from the StatsTrack constructor here.
    StatsTrack::parse_bytes(data.as_deref().unwrap_or_default())
        .map_err(|e| Stop::Fail(format!("{path}: {e}")))
}

/// A persistent, world-writable node (what zkCli creates); `Ok(false)` if it exists.
async fn create(c: &Client, path: &str, data: Option<&str>) -> Result<bool, Stop> {
    let path = checked(path)?;
    let data = data.map(str::as_bytes);
    match c
        .create(path, data, &Acl::open_unsafe(), CreateMode::Persistent)
        .await
    {
        Ok(_) => Ok(true),
        Err(ClientError::Keeper(ErrorCode::NodeExists)) => Ok(false),
        Err(e) => Err(failed(e, path)),
    }
}

/// Java's `String.split("/")` of a valid path: "" first, then each name.
fn java_split_path(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = path.split('/').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// `Quotas.trimQuotaPath`.
fn trim_quota_path(quota_path: &str) -> &str {
    quota_path.get(QUOTA_PATH.len()..).unwrap_or("")
}

/// `setquota -n|-b|-N|-B val path`.
pub(super) async fn set_quota(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "", GROUP)?;
    let Some(opt) = a.one_of(GROUP)? else {
        return Err(MISSING_GROUP.into());
    };
    let Some(path) = a.args.get(1) else {
        return Err(usage_of("setquota"));
    };
    if path.starts_with(QUOTA_PATH) {
        let _ = writeln!(o.err, "cannot set a quota under the path: {QUOTA_PATH}");
        return Ok(());
    }
    let mut quota = StatsTrack::default();
    for k in [COUNT, BYTES, COUNT_HARD_LIMIT, BYTE_HARD_LIMIT] {
        quota.set(k, -1);
    }
    match option_value(opt, a.value(opt).unwrap_or_default()) {
        Ok((key, v)) => quota.set(key, v),
        Err(m) => {
            let _ = writeln!(o.err, "{m}");
            return Ok(());
        }
    }
    create_quota(c, path, &quota, o)
        .await
        .map_err(Stop::message)
}

/// `checkOptionValue` for the option given: the key it sets and its value, or what
/// zkCli prints instead (on stderr, exiting 0). -n and -N are Java ints and must be
/// positive; -b and -B are longs and must not be negative.
fn option_value(opt: char, value: &str) -> Result<(&'static str, i64), &'static str> {
    const NOT_A_NUMBER: &str = "NumberFormatException happens when parsing the option value";
    match opt {
        'n' | 'N' => {
            let v = value.parse::<i32>().map_err(|_| NOT_A_NUMBER)?;
            if v <= 0 {
                return Err("the num quota must be greater than zero");
            }
            Ok((
                if opt == 'n' { COUNT } else { COUNT_HARD_LIMIT },
                i64::from(v),
            ))
        }
        _ => {
            let v = value.parse::<i64>().map_err(|_| NOT_A_NUMBER)?;
            if v < 0 {
                return Err("the bytes quota must be greater than or equal to zero");
            }
            Ok((if opt == 'b' { BYTES } else { BYTE_HARD_LIMIT }, v))
        }
    }
}

/// `SetQuotaCommand.createQuota`.
async fn create_quota(
    c: &Client,
    path: &str,
    quota: &StatsTrack,
    o: &mut Output,
) -> Result<(), Stop> {
    if !exists(c, path).await? {
        return Err(Stop::Fail(format!("{path} does not exist.")));
    }
    check_if_child_quota(c, path, o).await?;
    check_if_parent_quota(c, path).await?;
    if !exists(c, QUOTA_PATH).await? {
        // One try for both, as zkCli: if /zookeeper exists, /zookeeper/quota is not made.
        if create(c, ZOOKEEPER_PATH, None).await? {
            create(c, QUOTA_PATH, None).await?;
        }
    }
    let mut quota_path = QUOTA_PATH.to_owned();
    for name in java_split_path(path).iter().skip(1) {
        quota_path.push('/');
        quota_path.push_str(name);
        if !exists(c, &quota_path).await? {
            create(c, &quota_path, None).await?;
        }
    }
    let stat = format!("{quota_path}/{STAT_NODE}");
    let limit = format!("{quota_path}/{LIMIT_NODE}");
    if !exists(c, &limit).await? {
        create_new(c, &limit, &quota.to_string()).await?;
        let mut zero = StatsTrack::default();
        zero.set(COUNT, 0);
        zero.set(BYTES, 0);
        create_new(c, &stat, &zero.to_string()).await?;
        let limits = stats_of(c, &limit).await?;
        let usage = stats_of(c, &stat).await?;
        warn_if_below(&limits, &usage, o);
    } else {
        let mut limits = stats_of(c, &limit).await?;
        for k in [COUNT, BYTES, COUNT_HARD_LIMIT, BYTE_HARD_LIMIT] {
            if quota.get(k) > -1 {
                limits.set(k, quota.get(k));
            }
        }
        let usage = stats_of(c, &stat).await?;
        warn_if_below(&limits, &usage, o);
        let data = limits.to_string();
        c.set_data(&limit, Some(data.as_bytes()), -1)
            .await
            .map_err(|e| failed(e, &limit))?;
    }
    Ok(())
}

/// A create whose NODEEXISTS is an error (zkCli does not catch it there).
async fn create_new(c: &Client, path: &str, data: &str) -> Result<(), Stop> {
    if create(c, path, Some(data)).await? {
        Ok(())
    } else {
        Err(failed(ClientError::Keeper(ErrorCode::NodeExists), path))
    }
}

/// `SetQuotaCommand.checkQuota`: a limit below the current usage is set anyway, with
/// a warning on stdout.
fn warn_if_below(limits: &StatsTrack, usage: &StatsTrack, o: &mut Output) {
    let below =
        |soft: i64, hard: i64, used: i64| (soft > -1 && soft < used) || (hard > -1 && hard < used);
    if below(limits.count(), limits.count_hard_limit(), usage.count()) {
        let _ = writeln!(
            o.out,
            "[Warning]: the count quota you create is less than the existing count:{}",
            usage.count()
        );
    }
    if below(limits.bytes(), limits.byte_hard_limit(), usage.bytes()) {
        let _ = writeln!(
            o.out,
            "[Warning]: the bytes quota you create is less than the existing bytes:{}",
            usage.bytes()
        );
    }
}

/// `checkIfChildQuota`: refuses a quota on a path with a quota somewhere below it.
/// The walk is `ZKUtil.visitSubTreeDFS` (each node's children sorted, all of them
/// checked before the first is descended into), so the same child is named. A node
/// whose children cannot be read is reported on stderr and passed over (zkCli prints
/// the exception's stack trace there).
async fn check_if_child_quota(c: &Client, path: &str, o: &mut Output) -> Result<(), Stop> {
    let real = format!("{QUOTA_PATH}{path}");
    let real = checked(&real)?;
    match c.get_data(real, false).await {
        Ok(_) => {}
        Err(ClientError::Keeper(ErrorCode::NoNode)) => return Ok(()),
        Err(e) => return Err(failed(e, real)),
    }
    let has_quota_below =
        |p: &str, kids: &[String]| p != real && kids.iter().any(|k| k == LIMIT_NODE);
    // The callback on the walk's root (which is excluded by name).
    let mut stack = vec![real.to_owned()];
    while let Some(p) = stack.pop() {
        let mut kids = match children(c, &p).await {
            Ok(k) => k,
            Err(Stop::NoNode(_)) => continue,
            Err(e) => return Err(e),
        };
        kids.sort();
        let paths: Vec<String> = kids.iter().map(|k| format!("{p}/{k}")).collect();
        for child in &paths {
            let grandkids = match children(c, child).await {
                Ok(k) => k,
                Err(Stop::NoNode(_)) => continue,
                Err(Stop::Fail(m)) => {
                    let _ = writeln!(o.err, "{m}");
                    continue;
                }
            };
            if has_quota_below(child, &grandkids) {
                return Err(Stop::Fail(format!(
                    "{path} has a child {} which has a quota",
                    trim_quota_path(child)
                )));
            }
        }
        stack.extend(paths.into_iter().rev());
    }
    Ok(())
}

/// `checkIfParentQuota`: refuses a quota below a path that has one.
async fn check_if_parent_quota(c: &Client, path: &str) -> Result<(), Stop> {
    let names = java_split_path(path);
    let own = format!("{QUOTA_PATH}{path}");
    let mut quota_path = QUOTA_PATH.to_owned();
    for name in names.iter().take(names.len().saturating_sub(1)).skip(1) {
        quota_path.push('/');
        quota_path.push_str(name);
        let kids = match children(c, &quota_path).await {
            Ok(k) => k,
            Err(Stop::NoNode(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if kids.is_empty() {
            return Ok(());
        }
        if quota_path != own && kids.iter().any(|k| k == LIMIT_NODE) {
            return Err(Stop::Fail(format!(
                "{path} has a parent {} which has a quota",
                trim_quota_path(&quota_path)
            )));
        }
    }
    Ok(())
}

/// `listquota path`: the limits and the stats, each printed back through
/// `StatsTrack.toString`.
pub(super) async fn list_quota(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "", "")?;
    let Some(path) = a.args.get(1) else {
        return Err(usage_of("listquota"));
    };
    let limit = limit_path(path);
    let _ = writeln!(o.err, "absolute path is {limit}");
    let both = async {
        let limits = stats_of(c, &limit).await?;
        let usage = stats_of(c, &stat_path(path)).await?;
        Ok::<_, Stop>((limits, usage))
    };
    match both.await {
        Ok((limits, usage)) => {
            let _ = writeln!(o.out, "Output quota for {path} {limits}");
            let _ = writeln!(o.out, "Output stat for {path} {usage}");
            Ok(())
        }
        Err(Stop::NoNode(_)) => {
            let _ = writeln!(o.err, "quota for {path} does not exist.");
            Ok(())
        }
        Err(Stop::Fail(m)) => Err(m),
    }
}

/// `delquota [-n|-b|-N|-B] path`: with an option, that limit goes back to −1; without,
/// the quota's nodes go, and then each parent under `/zookeeper/quota` left empty.
pub(super) async fn del_quota(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, GROUP, "")?;
    let opt = a.one_of(GROUP)?;
    let Some(path) = a.args.get(1) else {
        return Err(usage_of("delquota"));
    };
    match del(c, path, opt, o).await {
        Ok(()) => Ok(()),
        Err(Stop::NoNode(_)) => {
            let _ = writeln!(o.err, "quota for {path} does not exist.");
            Ok(())
        }
        Err(Stop::Fail(m)) => Err(m),
    }
}

/// `DelQuotaCommand.delQuota`.
async fn del(c: &Client, path: &str, opt: Option<char>, o: &mut Output) -> Result<(), Stop> {
    let parent = format!("{QUOTA_PATH}{path}");
    let limit = limit_path(path);
    if !exists(c, &limit).await? {
        let _ = writeln!(o.out, "Quota does not exist for {path}");
        return Ok(());
    }
    let mut limits = stats_of(c, &limit).await?;
    let Some(opt) = opt else {
        for kid in children(c, &parent).await? {
            let p = format!("{parent}/{kid}");
            c.delete(checked(&p)?, -1)
                .await
                .map_err(|e| failed(e, &p))?;
        }
        return trim_proc_quotas(c, parent).await;
    };
    let key = match opt {
        'n' => COUNT,
        'b' => BYTES,
        'N' => COUNT_HARD_LIMIT,
        _ => BYTE_HARD_LIMIT,
    };
    limits.set(key, -1);
    let data = limits.to_string();
    c.set_data(&limit, Some(data.as_bytes()), -1)
        .await
        .map_err(|e| failed(e, &limit))?;
    Ok(())
}

/// `trimProcQuotas`: deletes `path` and its parents while they have no children,
/// stopping at `/zookeeper/quota`.
async fn trim_proc_quotas(c: &Client, mut path: String) -> Result<(), Stop> {
    while path != QUOTA_PATH {
        if !children(c, &path).await?.is_empty() {
            break;
        }
        c.delete(checked(&path)?, -1)
            .await
            .map_err(|e| failed(e, &path))?;
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_are_checked_as_zkcli_checks_them() {
        assert_eq!(option_value('n', "10"), Ok((COUNT, 10)));
        assert_eq!(option_value('B', "0"), Ok((BYTE_HARD_LIMIT, 0)));
        assert_eq!(
            option_value('N', "0"),
            Err("the num quota must be greater than zero")
        );
        assert_eq!(
            option_value('b', "-1"),
            Err("the bytes quota must be greater than or equal to zero")
        );
        // -n is a Java int: a long is not a number for it.
        assert_eq!(
            option_value('n', "99999999999"),
            Err("NumberFormatException happens when parsing the option value")
        );
        assert_eq!(
            option_value('b', "99999999999"),
            Ok((BYTES, 99_999_999_999))
        );
    }

    #[test]
    fn paths_split_and_trim_as_java_does() {
        assert_eq!(java_split_path("/app/b"), vec!["", "app", "b"]);
        assert_eq!(java_split_path("/"), Vec::<&str>::new());
        assert_eq!(trim_quota_path("/zookeeper/quota/app/b"), "/app/b");
    }
}

//! Shell tests against a live server (`RINGKEEPER_TEST_ADDR=host:port cargo test cli
//! -- --ignored`): every command's output and error text as zkCli 3.8 prints them.

use super::*;

fn addr() -> String {
    std::env::var("RINGKEEPER_TEST_ADDR").expect("set RINGKEEPER_TEST_ADDR=host:port")
}

fn run_shell(
    f: impl FnOnce(Shell) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + Send + 'static,
) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let mut sh = Shell::new(&addr(), 10_000, false);
            let mut out = String::new();
            sh.connect(&addr(), &mut out).await.expect("connect");
            assert!(out.contains("WatchedEvent state:SyncConnected type:None path:null"));
            f(sh).await
        })
        .expect("executor")
        .join()
        .expect("join");
}

/// Runs `line`, expects success, returns stdout.
async fn ok(sh: &mut Shell, line: &str) -> String {
    let o = sh.exec_line(line).await;
    assert!(!o.failed, "{line}: {o:?}");
    o.out
}

/// Runs `line`, expects failure, returns stderr.
async fn fails(sh: &mut Shell, line: &str) -> String {
    let o = sh.exec_line(line).await;
    assert!(o.failed, "{line} should fail: {o:?}");
    o.err
}

fn stat_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.contains(" = "))
        .map(|l| l.split(" = ").next().unwrap_or(""))
        .collect()
}

const STAT_FIELDS: [&str; 11] = [
    "cZxid",
    "ctime",
    "mZxid",
    "mtime",
    "pZxid",
    "cversion",
    "dataVersion",
    "aclVersion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
];

#[test]
#[ignore]
fn every_command_prints_what_zkcli_prints() {
    run_shell(|sh| {
        Box::pin(async move {
            let mut sh = sh;
            let r = format!("/rk-cli-{}", std::process::id());
            let o = sh.exec_line(&format!("create {r} d1")).await;
            assert_eq!(o.err, format!("Created {r}\n"));
            assert!(!o.failed);
            assert_eq!(
                fails(&mut sh, &format!("create {r} x")).await,
                format!("Node already exists: {r}\n")
            );
            assert_eq!(
                fails(&mut sh, &format!("create {r}/a/b")).await,
                format!("Node does not exist: {r}/a/b\n")
            );
            let o = sh.exec_line(&format!("create -e {r}/e")).await;
            assert_eq!(o.err, format!("Created {r}/e\n"));
            let o = sh.exec_line(&format!("create -s {r}/s-")).await;
            assert!(o.err.starts_with(&format!("Created {r}/s-00000")), "{o:?}");
            assert_eq!(
                fails(&mut sh, &format!("create -c -e {r}/k")).await,
                "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.\n"
            );
            let o = sh.exec_line(&format!("create -c {r}/k")).await;
            assert!(!o.failed, "{o:?}");
            let o = sh.exec_line(&format!("create -t 60000 {r}/t x")).await;
            assert!(!o.failed, "needs extendedTypesEnabled=true: {o:?}");

            let kids = ok(&mut sh, &format!("ls {r}")).await;
            assert!(
                kids.starts_with("[e, k, s-00000") && kids.ends_with(", t]\n"),
                "{kids}"
            );
            let o = ok(&mut sh, &format!("ls -s {r}")).await;
            assert_eq!(stat_lines(&o), STAT_FIELDS);
            let o = ok(&mut sh, &format!("ls -R {r}")).await;
            assert_eq!(o.lines().next(), Some(r.as_str()));
            assert_eq!(o.lines().count(), 5);
            assert_eq!(
                fails(&mut sh, "ls /rk-cli-nope").await,
                "Node does not exist: /rk-cli-nope\n"
            );
            assert_eq!(fails(&mut sh, "ls").await, "ls [-s] [-w] [-R] path\n");
            assert_eq!(
                fails(&mut sh, "ls -x /").await,
                "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x\n"
            );

            assert_eq!(ok(&mut sh, &format!("get {r}")).await, "d1\n");
            assert_eq!(ok(&mut sh, &format!("get {r}/e")).await, "null\n");
            let o = ok(&mut sh, &format!("get -s {r}")).await;
            assert!(o.starts_with("d1\ncZxid = 0x"));
            assert!(o.contains("\ndataVersion = 0\n") && o.contains("\nnumChildren = 4\n"));
            assert_eq!(ok(&mut sh, &format!("set {r} d2")).await, "");
            let o = ok(&mut sh, &format!("set -s {r} d3")).await;
            assert!(o.contains("dataVersion = 2\n"), "{o}");
            assert_eq!(
                fails(&mut sh, &format!("set -v 99 {r} z")).await,
                format!("version No is not valid : {r}\n")
            );
            let o = ok(&mut sh, &format!("stat {r}")).await;
            assert_eq!(stat_lines(&o), STAT_FIELDS);
            assert!(o.contains("\ndataLength = 2\n"));
            assert_eq!(
                fails(&mut sh, "stat /rk-cli-nope").await,
                "Node does not exist: /rk-cli-nope\n"
            );

            assert_eq!(
                ok(&mut sh, &format!("getAcl {r}")).await,
                "'world,'anyone\n: cdrwa\n"
            );
            let acl = format!("{r}/acl");
            ok(
                &mut sh,
                &format!("create {acl} x world:anyone:r,ip:127.0.0.1:cdrwa"),
            )
            .await;
            assert_eq!(
                ok(&mut sh, &format!("getAcl {acl}")).await,
                "'world,'anyone\n: r\n'ip,'127.0.0.1\n: cdrwa\n"
            );
            assert_eq!(
                ok(&mut sh, &format!("setAcl {acl} world:anyone:r")).await,
                ""
            );
            assert_eq!(
                fails(&mut sh, &format!("set {acl} y")).await,
                format!("Insufficient permission : {acl}\n")
            );
            assert_eq!(
                fails(&mut sh, &format!("setAcl {acl} world:anyone:cdrwa")).await,
                format!("Insufficient permission : {acl}\n")
            );
            let o = ok(&mut sh, &format!("setAcl -s -v 0 {r}/k world:anyone:cdrwa")).await;
            assert!(o.contains("aclVersion = 1\n"), "{o}");
            assert_eq!(
                fails(&mut sh, &format!("setAcl -v 9 {r}/k world:anyone:cdrwa")).await,
                format!("version No is not valid : {r}/k\n")
            );
            assert_eq!(
                ok(&mut sh, &format!("setAcl -R {r}/k world:anyone:cdrw")).await,
                ""
            );

            assert_eq!(ok(&mut sh, &format!("sync {r}")).await, "Sync is OK\n");
            assert_eq!(
                ok(&mut sh, &format!("getEphemerals {r}")).await,
                format!("[{r}/e]\n")
            );
            assert_eq!(
                ok(&mut sh, &format!("getAllChildrenNumber {r}")).await,
                "5\n"
            );
            assert_eq!(
                fails(&mut sh, "getAllChildrenNumber /rk-cli-nope").await,
                "Node does not exist: /rk-cli-nope\n"
            );
            assert_eq!(
                ok(&mut sh, "whoami").await,
                "Auth scheme: User\nip: 127.0.0.1\n"
            );
            assert_eq!(ok(&mut sh, "addauth digest u:p").await, "");
            assert!(ok(&mut sh, "whoami").await.contains("\ndigest: u\n"));

            assert_eq!(ok(&mut sh, &format!("addWatch {r}")).await, "");
            assert_eq!(
                ok(&mut sh, &format!("addWatch -m PERSISTENT {r}")).await,
                ""
            );
            assert!(fails(&mut sh, &format!("addWatch -m bad {r}"))
                .await
                .starts_with("addWatch [-m mode] path"));
            assert_eq!(ok(&mut sh, &format!("get -w {r}")).await, "d3\n");
            assert_eq!(ok(&mut sh, &format!("removewatches {r} -d")).await, "");
            assert_eq!(
                fails(&mut sh, &format!("removewatches {r} -d")).await,
                format!("KeeperErrorCode = No such watcher for {r}\n")
            );

            assert_eq!(
                fails(&mut sh, &format!("delete {r}")).await,
                format!("Node not empty: {r}\n")
            );
            assert_eq!(
                fails(&mut sh, &format!("delete -v 99 {r}/k")).await,
                format!("version No is not valid : {r}/k\n")
            );
            assert_eq!(ok(&mut sh, &format!("delete {r}/k")).await, "");
            assert_eq!(
                fails(&mut sh, "get a").await,
                "Path must start with / character\n"
            );
            assert_eq!(ok(&mut sh, &format!("deleteall {r} -b 2")).await, "");
            assert_eq!(
                fails(&mut sh, &format!("deleteall {r}")).await,
                format!("Node does not exist: {r}\n")
            );

            let o = fails(&mut sh, "foo").await;
            assert!(o.starts_with("ZooKeeper -server host:port cmd args\n"));
            assert!(o.ends_with("Command not found: Command not found foo\n"));
            let h = ok(&mut sh, "history").await;
            assert!(h.ends_with("- history\n"), "{h}");
            let n: usize = h
                .lines()
                .last()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(ok(&mut sh, &format!("redo {n}")).await.lines().count(), 11);
            assert_eq!(
                fails(&mut sh, "redo 100000").await,
                "Command index out of range\n"
            );
            assert!(sh.prompt().contains("(CONNECTED)"));
            assert_eq!(ok(&mut sh, "close").await, "");
            assert_eq!(ok(&mut sh, "ls /").await, "Not connected\n");
            assert!(sh.prompt().contains("(CLOSED)"));
            let o = ok(&mut sh, &format!("connect {}", addr())).await;
            assert!(o.contains("type:None"), "{o}");
            assert!(ok(&mut sh, "ls /").await.contains("zookeeper"));
            assert!(sh.exec_line("quit").await.quit);
        })
    });
}

#[test]
fn zkcli_style_long_options_are_rewritten() {
    let v: Vec<String> = normalize_zkcli_args([
        "ringkeeper",
        "cli",
        "-server",
        "h:1",
        "-timeout",
        "5",
        "ls",
        "-server",
        "/",
    ])
    .into_iter()
    .map(|s| s.into_string().unwrap())
    .collect();
    assert_eq!(
        v,
        [
            "ringkeeper",
            "cli",
            "--server",
            "h:1",
            "--timeout",
            "5",
            "ls",
            "-server",
            "/"
        ]
    );
}

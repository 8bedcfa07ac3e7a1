//! zkCli 3.8's `config [-c] [-w] [-s]` (`GetConfigCommand`): the data of
//! `/zookeeper/config` (`null` for null data), with `-c` the client connection string
//! made from it (`ConfigUtils.getClientConfigStr`), with `-s` its Stat.
//!
//! `-c` reads the data as a `java.util.Properties` file. Handled: `key=value`,
//! `key:value` and `key value` lines, `#`/`!` comments, surrounding blanks. Not
//! handled: backslash escapes and line continuations, which a dynamic config file
//! (what a ZooKeeper ensemble writes there) does not contain.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::format;
use super::shell::{CmdResult, Opts, Output};
use crate::client::Client;
use crate::tree::CONFIG_PATH;

/// `config [-c] [-w] [-s]`.
pub(super) async fn get_config(c: &Client, args: &[String], o: &mut Output) -> CmdResult {
    let a = Opts::parse(args, "swc", "")?;
    let (data, stat) = c
        .get_data(CONFIG_PATH, a.has('w'))
        .await
        .map_err(|e| format::error_message(&e, CONFIG_PATH))?;
    let text = match &data {
        Some(d) => String::from_utf8_lossy(d).into_owned(),
        None => "null".to_owned(),
    };
    if a.has('c') {
        let _ = writeln!(o.out, "{}", client_config_str(&text, &mut o.err));
    } else {
        let _ = writeln!(o.out, "{text}");
    }
    if a.has('s') {
        format::stat(&mut o.out, &stat);
    }
    Ok(())
}

/// `ConfigUtils.getClientConfigStr`: the `version` value, a space, then the client
/// address (`host:port`) of each `server.N` entry, comma-separated, in the order
/// Java's `Properties` (a `ConcurrentHashMap`) iterates them. An entry with no client
/// part adds an empty item; one that does not parse is reported on `err` and skipped.
fn client_config_str(config: &str, err: &mut String) -> String {
    let props = java_properties(config);
    let mut version = "";
    let mut servers: Vec<String> = Vec::new();
    for (key, value) in &props {
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value;
        }
        if !key.starts_with("server.") {
            continue;
        }
        match client_address(value) {
            Ok(addr) => servers.push(addr.unwrap_or_default()),
            Err(why) => {
                let _ = writeln!(err, "{key}={value}: {why}");
            }
        }
    }
    format!("{version} {}", servers.join(","))
}

/// The client address of one `server.N` value
/// (`host:port:port[:role][;[clientHost:]clientPort]`), as `QuorumServer` reads it
/// and `InetSocketAddress.getHostString` prints it: `None` without a client part.
fn client_address(value: &str) -> Result<Option<String>, String> {
    let parts: Vec<&str> = java_split(value, ';');
    if parts.len() > 2 {
        return Err("more than one ';'".into());
    }
    let server: Vec<&str> = parts.first().map_or(Vec::new(), |s| host_and_port(s));
    if !(3..=4).contains(&server.len()) {
        return Err("expected host:port:port[:role]".into());
    }
    let ports: Vec<i32> = server[1..3]
        .iter()
        .map(|p| p.parse::<i32>().map_err(|_| format!("port {p:?}")))
        .collect::<Result<_, _>>()?;
    if ports[0] == ports[1] {
        return Err("client and election port must be different".into());
    }
    let Some(client) = parts.get(1) else {
        return Ok(None);
    };
    let client = host_and_port(client);
    let (host, port) = match client.as_slice() {
        [port] => ("0.0.0.0", *port),
        [host, port] => (*host, *port),
        _ => return Err("expected [clientHost:]clientPort".into()),
    };
    let port: i32 = port.parse().map_err(|_| format!("port {port:?}"))?;
    Ok(Some(format!("{}:{port}", host_string(host))))
}

/// `ConfigUtils.getHostAndPort`: `[v6]:rest` keeps the address whole; otherwise split
/// at ':'.
fn host_and_port(s: &str) -> Vec<&str> {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let mut out = vec![&rest[..end]];
            let tail = &rest[end + 1..];
            if let Some(tail) = tail.strip_prefix(':') {
                out.extend(java_split(tail, ':'));
            }
            return out;
        }
    }
    java_split(s, ':')
}

/// What Java prints for a host it resolved: an IP literal in its canonical form
/// (IPv6 as eight uncompressed groups), a name as given.
fn host_string(host: &str) -> String {
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.to_string();
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
        return groups.join(":");
    }
    host.to_owned()
}

/// Java's `String.split` on one character: trailing empty parts dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts == [""] && s.contains(sep) {
        parts.clear();
    }
    parts
}

/// `Properties.load` (see the module doc for what is read) as a list of entries in
/// the order `Properties.entrySet()` gives them.
fn java_properties(text: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '\t', '\u{c}']);
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let end = line
            .find(['=', ':', ' ', '\t', '\u{c}'])
            .unwrap_or(line.len());
        let key = &line[..end];
        let mut rest = line[end..].trim_start_matches([' ', '\t', '\u{c}']);
        if let Some(r) = rest.strip_prefix(['=', ':']) {
            rest = r.trim_start_matches([' ', '\t', '\u{c}']);
        }
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = rest.to_owned(),
            None => entries.push((key.to_owned(), rest.to_owned())),
        }
    }
    chm_order(entries)
}

/// Since Java 9 `Properties` keeps its entries in a `ConcurrentHashMap`, whose
/// iteration runs over the table's bins in order and each bin in insertion order. A
/// fresh `Properties` has 16 bins and doubles them when the 12th entry arrives (load
/// factor 0.75); bins are `spread(String.hashCode()) & (bins - 1)`. After a resize the
/// order inside a bin may differ from Java's, which needs more than 11 entries.
fn chm_order(entries: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut bins: usize = 16;
    while entries.len() >= bins - bins / 4 {
        bins *= 2;
    }
    let mut keyed: Vec<(usize, usize, (String, String))> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (spread(java_hash(&e.0)) as usize & (bins - 1), i, e))
        .collect();
    keyed.sort_by_key(|(bin, i, _)| (*bin, *i));
    keyed.into_iter().map(|(_, _, e)| e).collect()
}

/// `String.hashCode`: over UTF-16 units, `h = 31 * h + unit`, wrapping.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// `ConcurrentHashMap.spread`.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    (h ^ (h >> 16)) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_config_is_a_space() {
        let mut err = String::new();
        assert_eq!(client_config_str("", &mut err), " ");
        assert_eq!(client_config_str("null", &mut err), " ");
        assert_eq!(err, "");
    }

    #[test]
    fn ensemble_config_lists_client_addresses() {
        let mut err = String::new();
        let cfg = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                   server.2=10.0.0.2:2888:3888:participant;2182\n\
                   server.3=10.0.0.3:2888:3888:observer\n\
                   version=100000000\n";
        // ConcurrentHashMap order for these keys: bins 4 (server.2), 5, 11, 13
        // (version). Java's ConfigUtils.getClientConfigStr gives exactly this.
        assert_eq!(
            client_config_str(cfg, &mut err),
            "100000000 0.0.0.0:2182,0.0.0.0:2181,"
        );
        assert_eq!(err, "");
        let v6 = "server.1=[::1]:2888:3888;[::1]:2181\nversion=1";
        assert_eq!(client_config_str(v6, &mut err), "1 0:0:0:0:0:0:0:1:2181");
        assert_eq!(client_config_str("server.1=h:1:1;2181", &mut err), " ");
        assert!(err.contains("different"), "{err}");
    }

    #[test]
    fn java_hash_and_bins() {
        assert_eq!(java_hash("version"), 351_608_024);
        assert_eq!(java_hash("server.1"), 1_379_102_790);
        assert_eq!(spread(java_hash("version")) & 15, 13);
        assert_eq!(spread(java_hash("server.2")) & 15, 4);
    }
}

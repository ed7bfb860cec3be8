//! Test support: a Kea 2.2 server (DHCPv4 or DHCPv6) inside a private network namespace, and
//! a way to run the generator binary inside that namespace with a hard time limit.
//!
//! Each `KeaNetns` owns its namespace and its Kea process; dropping it kills Kea by PID and
//! deletes the namespace, also when the test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_NS: AtomicU32 = AtomicU32::new(0);

/// Path of the generator executable cargo built for these tests.
pub const GENERATOR: &str = env!("CARGO_BIN_EXE_corelease-perf");

/// Which Kea server a test starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn binary_name(self) -> &'static str {
        match self {
            Family::V4 => "kea-dhcp4",
            Family::V6 => "kea-dhcp6",
        }
    }
}

/// Kea's binary, or None when it is not installed (the caller then skips, saying so).
pub fn kea_binary(family: Family) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(family.binary_name()))
        .find(|p| p.exists())
}

/// Kea's DHCPv4 config: 10.0.0.0/16 for relay 127.0.0.1.
fn config4(dir: &Path) -> serde_json::Value {
    serde_json::json!({"Dhcp4": {
        "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": false},
        "valid-lifetime": 4000,
        "control-socket": {"socket-type": "unix",
                           "socket-name": dir.join("kea.sock").display().to_string()},
        "subnet4": [{"id": 1, "subnet": "10.0.0.0/16",
                     "pools": [{"pool": "10.0.0.10 - 10.0.255.200"}],
                     "relay": {"ip-addresses": ["127.0.0.1"]}}],
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN",
                     "output_options": [{"output": dir.join("kea.log").display().to_string()}]}]
    }})
}

/// Kea's DHCPv6 config: addresses and /56 prefixes for relay ::1, rapid commit allowed.
/// The server-id is an EN DUID: a namespace's loopback has no MAC to build a DUID-LLT from.
fn config6(dir: &Path) -> serde_json::Value {
    serde_json::json!({"Dhcp6": {
        "interfaces-config": {"interfaces": ["lo/::1"]},
        "lease-database": {"type": "memfile", "persist": false},
        "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102030405",
                      "persist": false},
        "preferred-lifetime": 3000,
        "valid-lifetime": 4000,
        "control-socket": {"socket-type": "unix",
                           "socket-name": dir.join("kea.sock").display().to_string()},
        "subnet6": [{"id": 1, "subnet": "2001:db8::/64", "rapid-commit": true,
                     "pools": [{"pool": "2001:db8::1000 - 2001:db8::ffff"}],
                     "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 40,
                                   "delegated-len": 56}],
                     "relay": {"ip-addresses": ["::1"]}}],
        "loggers": [{"name": "kea-dhcp6", "severity": "WARN",
                     "output_options": [{"output": dir.join("kea.log").display().to_string()}]}]
    }})
}

/// Kea's DHCPv6 config for clients on the `vs` link (subnet selected by interface).
fn config6_on_link(dir: &Path) -> serde_json::Value {
    serde_json::json!({"Dhcp6": {
        "interfaces-config": {"interfaces": ["vs"]},
        "lease-database": {"type": "memfile", "persist": false},
        "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102030405",
                      "persist": false},
        "preferred-lifetime": 3000,
        "valid-lifetime": 4000,
        "control-socket": {"socket-type": "unix",
                           "socket-name": dir.join("kea.sock").display().to_string()},
        "subnet6": [{"id": 1, "subnet": "2001:db8::/64", "interface": "vs",
                     "pools": [{"pool": "2001:db8::1000 - 2001:db8::ffff"}],
                     "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 40,
                                   "delegated-len": 56}]}],
        "loggers": [{"name": "kea-dhcp6", "severity": "WARN",
                     "output_options": [{"output": dir.join("kea.log").display().to_string()}]}]
    }})
}

/// Waits (at most 10 s) until `dev` in `ns` has its link-local address: the kernel adds it
/// only once the link is up on both ends.
fn wait_for_link_local(ns: &str, dev: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = Command::new("ip")
            .args(["-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link"])
            .output()
            .map_err(|e| format!("ip addr show: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("inet6 fe80") && !text.contains("tentative") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{dev} in {ns} got no link-local address within 10 s"
    ))
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub struct KeaNetns {
    pub ns: String,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub family: Family,
    /// DHCPv6 on a link: the clients' namespace, joined to the server's by a veth pair
    /// (`vs` on the server side, `vc` on the client side).
    pub client_ns: Option<String>,
    kea: Option<Child>,
    ns_created: bool,
}

impl KeaNetns {
    /// A namespace with loopback up and Kea serving relay 127.0.0.1 (DHCPv4) or ::1
    /// (DHCPv6) on `port`.
    pub fn start(kea: &Path, port: u16, family: Family) -> Result<KeaNetns, String> {
        Self::start_server(&[kea.as_os_str()], port, family, false)
    }

    /// DHCPv6 clients on a link: Kea listens on `vs` (link-local and ff02::1:2, port 547)
    /// in one namespace, the generator runs on `vc` in another. DAD is off so the
    /// link-local addresses are usable at once.
    pub fn start6_on_link(kea: &Path) -> Result<KeaNetns, String> {
        Self::start_server(&[kea.as_os_str()], 547, Family::V6, true)
    }

    /// The same with `corelease dhcp4` (same Kea configuration, same switches).
    pub fn start_corelease(corelease: &Path, port: u16) -> Result<KeaNetns, String> {
        Self::start_server(
            &[corelease.as_os_str(), std::ffi::OsStr::new("dhcp4")],
            port,
            Family::V4,
            false,
        )
    }

    fn start_server(
        server: &[&std::ffi::OsStr],
        port: u16,
        family: Family,
        on_link: bool,
    ) -> Result<KeaNetns, String> {
        let display = Path::new(server.first().copied().unwrap_or_default()).display();
        let ns = format!(
            "corelease-perf-{}-{}",
            std::process::id(),
            NEXT_NS.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let mut me = KeaNetns {
            ns: ns.clone(),
            dir,
            port,
            family,
            client_ns: None,
            kea: None,
            ns_created: false,
        };
        ip(&["netns", "add", &ns])?;
        me.ns_created = true;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        if on_link {
            let client_ns = format!("{ns}-c");
            ip(&["netns", "add", &client_ns])?;
            me.client_ns = Some(client_ns.clone());
            for n in [&ns, &client_ns] {
                for scope in ["default", "all"] {
                    let key = format!("net.ipv6.conf.{scope}.accept_dad=0");
                    ip(&["netns", "exec", n, "sysctl", "-qw", &key])?;
                }
                ip(&["-n", n, "link", "set", "lo", "up"])?;
            }
            ip(&[
                "link", "add", "vs", "netns", &ns, "type", "veth", "peer", "name", "vc", "netns",
                &client_ns,
            ])?;
            ip(&["-n", &ns, "link", "set", "vs", "up"])?;
            ip(&["-n", &client_ns, "link", "set", "vc", "up"])?;
            wait_for_link_local(&ns, "vs")?;
            wait_for_link_local(&client_ns, "vc")?;
        }
        let dir_path = me.dir.path().to_path_buf();
        let config = match (family, on_link) {
            (Family::V4, _) => config4(&dir_path),
            (Family::V6, false) => config6(&dir_path),
            (Family::V6, true) => config6_on_link(&dir_path),
        };
        let config_path = dir_path.join("kea.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| format!("config: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(server)
            .arg("-c")
            .arg(&config_path)
            .arg("-p")
            .arg(port.to_string())
            .env("KEA_PIDFILE_DIR", &dir_path)
            .env("KEA_LOCKFILE_DIR", &dir_path)
            .env("KEA_DHCP_DATA_DIR", &dir_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {display}: {e}"))?;
        me.kea = Some(child);
        // The server is ready once its control socket answers or, for a server without
        // one, once its UDP port is bound.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if me.command(r#"{"command": "version-get"}"#).is_ok() || me.port_bound() {
                // A bound port may precede the rest of the start-up by a moment.
                std::thread::sleep(Duration::from_millis(200));
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "{display} did not bind port {port} nor open its control socket within 10 s"
        ))
    }

    /// True when something in the namespace listens on the server port (ss(8)).
    fn port_bound(&self) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, "ss", "-Hlun"])
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .any(|field| field.ends_with(&format!(":{}", self.port)))
            })
            .unwrap_or(false)
    }

    /// Sends one command on Kea's unix control socket and returns the parsed answer.
    pub fn command(&self, json: &str) -> Result<serde_json::Value, String> {
        let mut stream = UnixStream::connect(self.dir.path().join("kea.sock"))
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(json.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if serde_json::from_slice::<serde_json::Value>(&answer).is_ok() {
                        break;
                    }
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        serde_json::from_slice(&answer).map_err(|e| format!("bad answer: {e}"))
    }

    /// Current value of one Kea statistic (ARM "Statistics in the DHCPv4/DHCPv6 Server").
    pub fn statistic(&self, name: &str) -> Result<i64, String> {
        let answer = self.command(&format!(
            r#"{{"command": "statistic-get", "arguments": {{"name": "{name}"}}}}"#
        ))?;
        answer["arguments"][name][0][0]
            .as_i64()
            .ok_or_else(|| format!("no statistic {name} in {answer}"))
    }

    /// Runs the generator inside the namespace with the given arguments (family, local
    /// address, server port and server are added), killing it if it outlives `limit`.
    pub fn run_generator(&self, args: &[&str], limit: Duration) -> Output {
        run_bounded(&mut self.generator_command(GENERATOR, args), limit)
    }

    /// `program args...` run where the clients are, with the family's local address or
    /// interface, the server port and the server appended (perfdhcp's argument order).
    pub fn generator_command(&self, program: &str, args: &[&str]) -> Command {
        let ns = self.client_ns.clone().unwrap_or_else(|| self.ns.clone());
        let (family_args, server): (&[&str], &str) = match (self.family, &self.client_ns) {
            (Family::V4, _) => (&["-l", "127.0.0.1"], "127.0.0.1"),
            (Family::V6, None) => (&["-6", "-A", "1", "-l", "lo"], "::1"),
            (Family::V6, Some(_)) => (&["-6", "-l", "vc"], "all"),
        };
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &ns, program])
            .args(args)
            .args(family_args)
            .args(["-N", &self.port.to_string(), server]);
        command
    }
}

impl Drop for KeaNetns {
    fn drop(&mut self) {
        if let Some(mut child) = self.kea.take() {
            // `ip netns exec` execs Kea in place, so this PID is Kea's own.
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.ns_created {
            let _ = ip(&["netns", "del", &self.ns]);
        }
        if let Some(client_ns) = &self.client_ns {
            let _ = ip(&["netns", "del", client_ns]);
        }
    }
}

/// Runs a command, killing it (by its PID) after `limit`.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Output {
    let mut child = match command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot spawn {command:?}: {e}"),
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    match child.wait_with_output() {
        Ok(out) => out,
        Err(e) => panic!("cannot collect output: {e}"),
    }
}

/// A UDP port that was free a moment ago on 127.0.0.1 (used for the server port).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or(16767)
}

/// Starts Kea for a test, or explains why the test is skipped (Kea not installed).
pub fn kea_or_skip(test: &str, family: Family) -> Option<KeaNetns> {
    let kea = kea_binary_or_skip(test, family)?;
    match KeaNetns::start(&kea, free_port(), family) {
        Ok(k) => Some(k),
        Err(e) => panic!("{test}: cannot start Kea in a network namespace: {e}"),
    }
}

/// Starts Kea DHCPv6 for clients on a veth link, or explains why the test is skipped.
pub fn kea6_on_link_or_skip(test: &str) -> Option<KeaNetns> {
    let kea = kea_binary_or_skip(test, Family::V6)?;
    match KeaNetns::start6_on_link(&kea) {
        Ok(k) => Some(k),
        Err(e) => panic!("{test}: cannot start Kea on a veth link between namespaces: {e}"),
    }
}

fn kea_binary_or_skip(test: &str, family: Family) -> Option<PathBuf> {
    let Some(kea) = kea_binary(family) else {
        // CI sets this so that a machine without Kea fails instead of passing quietly.
        if std::env::var_os("CORELEASE_PERF_REQUIRE_KEA").is_some() {
            panic!(
                "{test}: {} is not installed and CORELEASE_PERF_REQUIRE_KEA is set",
                family.binary_name()
            );
        }
        eprintln!(
            "SKIPPED {test}: {} is not installed (apt-get install {}-server)",
            family.binary_name(),
            family.binary_name()
        );
        return None;
    };
    Some(kea)
}

pub fn stdout_json(out: &Output) -> serde_json::Value {
    match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The shape of a perfdhcp report: each line's label up to the first ':' (or the whole
/// line), without the timestamped avalanche progress lines and without corelease perf's
/// own trailing percentiles section. Two runs with different numbers have the same shape
/// exactly when scripts parsing perfdhcp output read both the same way.
pub fn report_shape(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| !l.starts_with("***Latency percentiles"))
        .filter(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| match l.split_once(':') {
            Some((label, _)) => format!("{label}:"),
            None => l.to_string(),
        })
        .collect()
}

/// Runs ISC perfdhcp and the generator with the same arguments against `kea` and asserts
/// their reports have the same shape. Skips (saying so) when perfdhcp is not installed.
pub fn assert_same_report_shape_as_perfdhcp(kea: &KeaNetns, args: &[&str]) {
    let perfdhcp = "/usr/sbin/perfdhcp";
    if !Path::new(perfdhcp).exists() {
        if std::env::var_os("CORELEASE_PERF_REQUIRE_KEA").is_some() {
            panic!("perfdhcp (Debian package kea-admin) is not installed");
        }
        eprintln!("SKIPPED report shape comparison: perfdhcp is not installed");
        return;
    }
    let run = |program: &str| {
        run_bounded(
            &mut kea.generator_command(program, args),
            Duration::from_secs(60),
        )
    };
    let theirs = run(perfdhcp);
    let ours = run(GENERATOR);
    let theirs = String::from_utf8_lossy(&theirs.stdout);
    let ours = String::from_utf8_lossy(&ours.stdout);
    assert_eq!(
        report_shape(&ours),
        report_shape(&theirs),
        "args {args:?}\nours:\n{ours}\nperfdhcp:\n{theirs}"
    );
}

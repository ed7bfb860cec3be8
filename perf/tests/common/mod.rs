//! Test support: a Kea 2.2 DHCPv4 server inside a private network namespace, and a way to run
//! the generator binary inside that namespace with a hard time limit.
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

/// Kea's binary, or None when it is not installed (the caller then skips, saying so).
pub fn kea_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/kea-dhcp4",
        "/usr/bin/kea-dhcp4",
        "/usr/local/sbin/kea-dhcp4",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
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
    kea: Option<Child>,
    ns_created: bool,
}

impl KeaNetns {
    /// A namespace with loopback up and Kea serving 10.0.0.0/16 to relay 127.0.0.1 on `port`.
    pub fn start(kea: &Path, port: u16) -> Result<KeaNetns, String> {
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
            kea: None,
            ns_created: false,
        };
        ip(&["netns", "add", &ns])?;
        me.ns_created = true;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        let dir_path = me.dir.path().to_path_buf();
        let config = serde_json::json!({"Dhcp4": {
            "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
            "lease-database": {"type": "memfile", "persist": false},
            "valid-lifetime": 4000,
            "control-socket": {"socket-type": "unix",
                               "socket-name": dir_path.join("kea4.sock").display().to_string()},
            "subnet4": [{"id": 1, "subnet": "10.0.0.0/16",
                         "pools": [{"pool": "10.0.0.10 - 10.0.255.200"}],
                         "relay": {"ip-addresses": ["127.0.0.1"]}}],
            "loggers": [{"name": "kea-dhcp4", "severity": "WARN",
                         "output_options": [{"output": dir_path.join("kea.log").display().to_string()}]}]
        }});
        let config_path = dir_path.join("kea4.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| format!("config: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(kea)
            .arg("-c")
            .arg(&config_path)
            .arg("-p")
            .arg(port.to_string())
            .env("KEA_PIDFILE_DIR", &dir_path)
            .env("KEA_LOCKFILE_DIR", &dir_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start kea-dhcp4: {e}"))?;
        me.kea = Some(child);
        // Kea is ready once its control socket answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if me.command(r#"{"command": "version-get"}"#).is_ok() {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("kea-dhcp4 did not open its control socket within 10 s".into())
    }

    /// Sends one command on Kea's unix control socket and returns the parsed answer.
    pub fn command(&self, json: &str) -> Result<serde_json::Value, String> {
        let mut stream = UnixStream::connect(self.dir.path().join("kea4.sock"))
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

    /// Current value of one Kea statistic (ARM 8.8 "Statistics in the DHCPv4 Server").
    pub fn statistic(&self, name: &str) -> Result<i64, String> {
        let answer = self.command(&format!(
            r#"{{"command": "statistic-get", "arguments": {{"name": "{name}"}}}}"#
        ))?;
        answer["arguments"][name][0][0]
            .as_i64()
            .ok_or_else(|| format!("no statistic {name} in {answer}"))
    }

    /// Runs the generator inside the namespace with the given arguments (server and ports
    /// are added), killing it if it outlives `limit`.
    pub fn run_generator(&self, args: &[&str], limit: Duration) -> Output {
        let mut full: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.ns.clone(),
            GENERATOR.into(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        full.extend([
            "-l".into(),
            "127.0.0.1".into(),
            "-N".into(),
            self.port.to_string(),
            "127.0.0.1".into(),
        ]);
        run_bounded(Command::new("ip").args(&full), limit)
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

/// Starts Kea for a test, or explains why the test is skipped (no Kea installed).
pub fn kea_or_skip(test: &str) -> Option<KeaNetns> {
    let Some(kea) = kea_binary() else {
        eprintln!("SKIPPED {test}: kea-dhcp4 is not installed (apt-get install kea-dhcp4-server)");
        return None;
    };
    match KeaNetns::start(&kea, free_port()) {
        Ok(k) => Some(k),
        Err(e) => panic!("{test}: cannot start Kea in a network namespace: {e}"),
    }
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

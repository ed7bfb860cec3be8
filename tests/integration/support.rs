//! Test rig: network namespaces, veth pairs and the real `corelease` binary, all created by the
//! test and removed on drop (also when a test fails). Traffic stays inside namespaces the test
//! made itself. Tests that start servers take `serial()` so they never contend for the 2 cores.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());
static NEXT: AtomicU32 = AtomicU32::new(0);

/// One integration test at a time: they start servers and load generators.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corelease"))
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} {args:?}: {e} (is it installed? .ci/run installs it)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace owned by the test, deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(tag: &str) -> NetNs {
        let name = format!(
            "corel-{}-{}-{}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sh("ip", &["netns", "add", &name]);
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Adds 127.0.0.2 to the namespace's loopback: perfdhcp acts as a relay there (giaddr
    /// 127.0.0.2) and insists its local address exists on an interface.
    pub fn with_relay_address(self) -> NetNs {
        self.ip(&["addr", "add", "127.0.0.2/8", "dev", "lo"]);
        self
    }

    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    /// A command that runs inside this namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Joins two namespaces with a veth pair: `a_if` in `a` with `a_addr` (CIDR), `b_if` in `b`
/// without an address (a DHCP client's link).
pub fn veth(a: &NetNs, a_if: &str, a_addr: &str, b: &NetNs, b_if: &str) {
    sh(
        "ip",
        &[
            "link", "add", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns",
            &b.name,
        ],
    );
    a.ip(&["addr", "add", a_addr, "dev", a_if]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "corel-{}-{}-{}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real server binary, running in a namespace; stopped with SIGTERM (then SIGKILL) by PID.
pub struct Server {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    _piddir: TempDir,
}

impl Server {
    /// Starts `corelease dhcp4 ARGS` in `ns` and waits until it is serving: the server writes
    /// its Kea-style PID file (KEA_PIDFILE_DIR) once every shard runs.
    pub fn start(ns: &NetNs, args: &[&str], env: &[(&str, &Path)]) -> Server {
        Server::start_program(ns, "dhcp4", args, env)
    }

    /// As [`Server::start`] for `corelease dhcp6`.
    pub fn start6(ns: &NetNs, args: &[&str], env: &[(&str, &Path)]) -> Server {
        Server::start_program(ns, "dhcp6", args, env)
    }

    fn start_program(ns: &NetNs, program: &str, args: &[&str], env: &[(&str, &Path)]) -> Server {
        let pid_suffix = format!(".kea-{program}.pid");
        let piddir = TempDir::new("pid");
        let mut cmd = ns.command(&bin());
        cmd.arg(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.env("KEA_PIDFILE_DIR", &piddir.0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let pid_dir = env
            .iter()
            .find(|(k, _)| *k == "KEA_PIDFILE_DIR")
            .map(|(_, v)| v.to_path_buf())
            .unwrap_or_else(|| piddir.0.clone());
        let mut child = cmd.spawn().expect("spawn corelease");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        let mut server = Server {
            child: Some(child),
            lines,
            _piddir: piddir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let has_pid = std::fs::read_dir(&pid_dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(&pid_suffix))
                })
                .unwrap_or(false);
            if has_pid {
                return server;
            }
            if let Some(c) = server.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("corelease exited at start ({status}):\n{}", server.output());
                }
            }
            assert!(
                Instant::now() < deadline,
                "corelease did not start:\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn output(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Sends `sig` to the server (SIGHUP: reload its configuration file).
    pub fn signal(&self, sig: i32) {
        if let Some(c) = self.child.as_ref() {
            // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// SIGTERM, wait for a clean exit (the shutdown statistics are printed), return the output.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on the PID of a child this test started.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    std::thread::sleep(Duration::from_millis(100));
                    assert!(
                        status.success(),
                        "corelease exited with {status}:\n{}",
                        self.output()
                    );
                    return self.output();
                }
                _ if Instant::now() > deadline => {
                    let _ = child.kill();
                    panic!(
                        "corelease did not stop within 10 s of SIGTERM:\n{}",
                        self.output()
                    );
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Server {
    /// SIGKILL: the crash the lease log must survive.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the PID of a child this test started.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A statistic from the shutdown summary (`DHCP4_STATISTICS` / `DHCP6_STATISTICS ... name =
/// value`); 0 when absent (zero values are not printed).
pub fn shutdown_stat(output: &str, name: &str) -> i64 {
    let needle = format!(" {name} = ");
    output
        .lines()
        .filter(|l| l.contains("DHCP4_STATISTICS") || l.contains("DHCP6_STATISTICS"))
        .find_map(|l| l.split(&needle).nth(1).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// A `key: value` number from a perfdhcp report section (e.g. section "DISCOVER-OFFER", key
/// "received packets").
///
/// How a perfdhcp 2.2 run ends (Kea's basic_scen.cc / test_control.cc), which every test that
/// compares replies with sent packets depends on: once `-n N` first messages are sent, perfdhcp
/// leaves at once unless `-W` is given, with its last exchanges still in flight (on a loaded
/// machine, more than 2 % of them). With `-W`, it waits until the replies of both exchanges
/// add up to exactly the sum of the `-n` values, or the wait ends. So a four-message run passes
/// `-n N -n N -W <µs>` (one `-n` would make it stop at N replies, half-way through the second
/// exchange). A DISCOVER-only run (`-i`) cannot wait: perfdhcp 2.2 then asks for the
/// REQUEST-ACK exchange and fails ("Packets exchange not specified"), so such a test checks
/// the server's counts instead of perfdhcp's.
pub fn perfdhcp_value(report: &str, section: &str, key: &str) -> Option<f64> {
    let start = report.find(&format!("***Statistics for: {section}***"))?;
    report[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("***"))
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

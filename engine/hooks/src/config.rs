//! Reading a `hooks-libraries` entry into a run-script configuration.
//!
//! The library is recognised by its file name only (`kea-hook-runscript.so`,
//! `libdhcp_run_script.so`, with or without a version suffix such as `.so.1`), wherever it is
//! installed: configurations copied from a Kea host keep working and nothing is loaded.

use crate::env::Contract;
use serde_json::{Map, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default per-shard bound on scripts running at once.
pub const DEFAULT_MAX_RUNNING: usize = 64;

/// Default time an awaited script may run before it is killed and its packet resumes.
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 10_000;

/// A `hooks-libraries` entry corelease cannot use, with the config path to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookConfigError {
    #[error("{path}.library: '{library}' is not supported: corelease loads no hook libraries and implements natively only kea-hook-runscript.so and libdhcp_run_script.so")]
    UnsupportedLibrary { path: String, library: String },
    #[error("{path}.parameters.{key}: mandatory for {library} (the path of the script to run)")]
    MissingScript {
        path: String,
        key: &'static str,
        library: &'static str,
    },
    #[error("{path}.parameters.{key}: must be {expected}")]
    WrongType {
        path: String,
        key: String,
        expected: &'static str,
    },
    #[error("{path}.parameters.{key}: script '{script}' {problem}")]
    BadScript {
        path: String,
        key: &'static str,
        script: String,
        problem: &'static str,
    },
    #[error("{path}: a second run-script library; configure one script and dispatch on its first argument (the hook point)")]
    SecondRunScript { path: String },
    #[error("cannot start the run-script spawner thread: {reason}")]
    NoThread { reason: String },
}

/// One run-script hook, from its `hooks-libraries` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunScriptConfig {
    pub contract: Contract,
    /// The executable, run directly (no shell).
    pub script: PathBuf,
    /// `wait` (kea-hook-runscript, default true) or `sync` (Kea, default false): the packet
    /// that fired the script waits for its exit; the shard does not.
    pub wait: bool,
    /// corelease `max-running`: scripts running at once on one shard; more are not started.
    pub max_running: usize,
    /// corelease `exit-code-drops`: a non-zero exit at pkt4_receive drops the packet, at
    /// lease4_select refuses the lease. Only meaningful with `wait`.
    pub exit_code_drops: bool,
    /// corelease `wait-timeout-ms`: an awaited script running longer is killed and its packet
    /// resumes as if the script had succeeded.
    pub wait_timeout: Duration,
}

impl RunScriptConfig {
    /// A configuration with the contract's defaults.
    pub fn new(contract: Contract, script: impl Into<PathBuf>) -> Self {
        RunScriptConfig {
            contract,
            script: script.into(),
            wait: contract == Contract::KeaHookRunscript,
            max_running: DEFAULT_MAX_RUNNING,
            exit_code_drops: false,
            wait_timeout: Duration::from_millis(DEFAULT_WAIT_TIMEOUT_MS),
        }
    }

    /// Which contract a library file name selects, if any.
    pub fn contract_of(library: &Path) -> Option<Contract> {
        let name = library.file_name()?.to_str()?;
        let stem = match name.find(".so") {
            Some(i) => name.get(..i)?,
            None => name,
        };
        match stem {
            "kea-hook-runscript" => Some(Contract::KeaHookRunscript),
            "libdhcp_run_script" => Some(Contract::KeaRunScript),
            _ => None,
        }
    }

    /// Reads one `hooks-libraries` entry; `path` names it in errors
    /// (`Dhcp4.hooks-libraries[0]`). The script must exist and be executable now, as Kea checks
    /// at load time, so a typo fails the configuration rather than every packet.
    pub fn from_library(
        library: &Path,
        parameters: Option<&Value>,
        path: &str,
    ) -> Result<Self, HookConfigError> {
        let Some(contract) = Self::contract_of(library) else {
            return Err(HookConfigError::UnsupportedLibrary {
                path: path.to_string(),
                library: library.display().to_string(),
            });
        };
        let empty = Map::new();
        let params = match parameters {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(HookConfigError::WrongType {
                    path: path.to_string(),
                    key: "parameters".into(),
                    expected: "a map",
                })
            }
        };
        let (script_key, wait_key, library_name) = match contract {
            Contract::KeaHookRunscript => ("script", "wait", "kea-hook-runscript.so"),
            Contract::KeaRunScript => ("name", "sync", "libdhcp_run_script.so"),
        };
        let script = match params.get(script_key) {
            Some(Value::String(s)) if !s.is_empty() => PathBuf::from(s),
            Some(Value::String(_)) | None => {
                return Err(HookConfigError::MissingScript {
                    path: path.to_string(),
                    key: script_key,
                    library: library_name,
                })
            }
            Some(_) => return Err(wrong(path, script_key, "a string")),
        };
        check_executable(&script, path, script_key)?;
        let mut cfg = RunScriptConfig::new(contract, script);
        if let Some(v) = params.get(wait_key) {
            cfg.wait = v
                .as_bool()
                .ok_or_else(|| wrong(path, wait_key, "a boolean"))?;
        }
        if let Some(v) = params.get("exit-code-drops") {
            cfg.exit_code_drops = v
                .as_bool()
                .ok_or_else(|| wrong(path, "exit-code-drops", "a boolean"))?;
        }
        if let Some(v) = params.get("max-running") {
            cfg.max_running = v
                .as_u64()
                .filter(|&n| n >= 1)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| wrong(path, "max-running", "an integer of at least 1"))?;
        }
        if let Some(v) = params.get("wait-timeout-ms") {
            let ms = v
                .as_u64()
                .filter(|&n| n >= 1)
                .ok_or_else(|| wrong(path, "wait-timeout-ms", "an integer of at least 1"))?;
            cfg.wait_timeout = Duration::from_millis(ms);
        }
        Ok(cfg)
    }
}

fn wrong(path: &str, key: &str, expected: &'static str) -> HookConfigError {
    HookConfigError::WrongType {
        path: path.to_string(),
        key: key.to_string(),
        expected,
    }
}

fn check_executable(script: &Path, path: &str, key: &'static str) -> Result<(), HookConfigError> {
    let bad = |problem| HookConfigError::BadScript {
        path: path.to_string(),
        key,
        script: script.display().to_string(),
        problem,
    };
    let meta = std::fs::metadata(script).map_err(|_| bad("does not exist or cannot be read"))?;
    if !meta.is_file() {
        return Err(bad("is not a regular file"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(bad("is not executable (chmod +x)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn library_is_recognised_by_file_name_only() {
        let c = |s: &str| RunScriptConfig::contract_of(Path::new(s));
        assert_eq!(
            c("/usr/lib/kea/hooks/kea-hook-runscript.so"),
            Some(Contract::KeaHookRunscript)
        );
        assert_eq!(
            c("/opt/x/libdhcp_run_script.so"),
            Some(Contract::KeaRunScript)
        );
        assert_eq!(c("libdhcp_run_script.so.30"), Some(Contract::KeaRunScript));
        assert_eq!(c("/usr/lib/kea/hooks/libdhcp_lease_cmds.so"), None);
        assert_eq!(c("/x/kea-hook-runscript-evil.so"), None);
    }

    #[test]
    fn other_libraries_are_refused_with_the_config_path() {
        let err = RunScriptConfig::from_library(
            Path::new("/usr/lib/libdhcp_lease_cmds.so"),
            None,
            "Dhcp4.hooks-libraries[1]",
        )
        .err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("Dhcp4.hooks-libraries[1].library: '/usr/lib/libdhcp_lease_cmds.so' is not supported"), "{msg}");
    }

    #[test]
    fn parameters_take_each_contracts_names_and_defaults() {
        let lib = Path::new("kea-hook-runscript.so");
        let p = json!({"script": "/bin/true"});
        let cfg = RunScriptConfig::from_library(lib, Some(&p), "X").ok();
        let cfg = cfg.as_ref();
        assert_eq!(cfg.map(|c| c.wait), Some(true));
        assert_eq!(cfg.map(|c| c.max_running), Some(DEFAULT_MAX_RUNNING));
        assert_eq!(cfg.map(|c| c.exit_code_drops), Some(false));

        let lib = Path::new("libdhcp_run_script.so");
        let p = json!({"name": "/bin/true", "sync": true, "max-running": 3, "exit-code-drops": true, "wait-timeout-ms": 250});
        let cfg = RunScriptConfig::from_library(lib, Some(&p), "X").ok();
        assert_eq!(
            cfg,
            Some(RunScriptConfig {
                contract: Contract::KeaRunScript,
                script: PathBuf::from("/bin/true"),
                wait: true,
                max_running: 3,
                exit_code_drops: true,
                wait_timeout: Duration::from_millis(250),
            })
        );
        let p = json!({"name": "/bin/true"});
        let cfg = RunScriptConfig::from_library(lib, Some(&p), "X").ok();
        assert_eq!(
            cfg.map(|c| c.wait),
            Some(false),
            "Kea's sync defaults to false"
        );
    }

    #[test]
    fn bad_parameters_name_the_key() {
        let lib = Path::new("kea-hook-runscript.so");
        let e = |p: Value| {
            RunScriptConfig::from_library(lib, Some(&p), "Dhcp4.hooks-libraries[0]")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            e(json!({})),
            "Dhcp4.hooks-libraries[0].parameters.script: mandatory for kea-hook-runscript.so (the path of the script to run)"
        );
        assert_eq!(
            e(json!({"script": "/bin/true", "wait": "yes"})),
            "Dhcp4.hooks-libraries[0].parameters.wait: must be a boolean"
        );
        assert_eq!(
            e(json!({"script": "/bin/true", "max-running": 0})),
            "Dhcp4.hooks-libraries[0].parameters.max-running: must be an integer of at least 1"
        );
        assert_eq!(
            e(json!({"script": "/nonexistent/hook.sh"})),
            "Dhcp4.hooks-libraries[0].parameters.script: script '/nonexistent/hook.sh' does not exist or cannot be read"
        );
        let dir = tempfile::tempdir().ok();
        let plain = dir.as_ref().map(|d| d.path().join("plain.sh"));
        if let Some(p) = &plain {
            let _ = std::fs::write(p, "#!/bin/sh\n");
        }
        let plain = plain.map(|p| p.display().to_string()).unwrap_or_default();
        assert!(e(json!({ "script": plain })).ends_with("is not executable (chmod +x)"));
    }
}

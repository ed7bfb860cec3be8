//! Kea JSON configuration to a validated, typed model with option data pre-encoded.
//!
//! `corelease dhcp4 -c kea-dhcp4.json` starts from an unchanged Kea 3.0 DHCPv4 configuration.
//! This crate reads Kea's JSON dialect (comments, `<?include?>`, extra commas), checks every
//! key against Kea's grammar ([`keys`]), resolves inheritance global -> shared network ->
//! subnet, validates the result, and encodes every `option-data` entry to wire bytes once, so
//! the protocol logic only copies bytes. All problems are collected with their JSON path
//! (`Dhcp4.subnet4[0].pools[0].pool: 192.0.3.20 is outside subnet 192.0.2.0/24`), not just the
//! first one. Keys Kea knows that we do not implement yet are returned in
//! [`Loaded::unsupported`], never silently ignored (DESIGN.md, "Control thread").
//!
//! This crate must never do I/O beyond reading the configuration and its includes, never touch
//! sockets or threads, and never panic on any input.

pub mod json;
pub mod keys;
pub mod keys6;
pub mod model;
pub mod model6;
pub mod options;
mod parse;

pub use model::*;
pub use model6::*;
pub use options::defs::{
    std_option_def, std_option_def_by_name, std_option_def_in_space,
    std_option_def_in_space_by_name, DefView, OptionDef, OptionType, StdOptionDef, TupleLength,
    STD_V4_OPTION_DEFS, STD_V4_SUBOPTION_DEFS,
};
pub use options::defs6::{
    std_option6_def, std_option6_def_by_name, ConfiguredOption6, OptionDef6, OptionSet6,
    StdOption6Def, DHCP6_SPACE, STD_V6_OPTION_DEFS,
};
pub use options::{ConfiguredOption, OptionSet};
pub use parse::classes::{is_builtin_class, option_code_by_name};
pub use parse::v6::option6_code_by_name;

use std::fmt;
use std::path::Path;

/// A configuration that loaded, with what it contains that we do not implement yet.
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    pub config: T,
    /// Keys (and values) Kea accepts that corelease does not implement yet, one per path,
    /// message "not supported yet". The caller decides whether to refuse to start.
    pub unsupported: Vec<PathIssue>,
    /// Accepted, but probably not what was meant (e.g. extra commas, a rebind-timer that is
    /// not below the valid lifetime, so T2 is never sent).
    pub warnings: Vec<PathIssue>,
    /// The whole document after comments and includes, for `config-get`.
    pub raw: serde_json::Value,
}

/// One problem, located by its JSON path (or `file:line:column` for syntax errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathIssue {
    pub path: String,
    pub message: String,
}

impl PathIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PathIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PathIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The configuration cannot be used; every problem found, one per line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", join_lines(.issues))]
pub struct ConfigError {
    pub issues: Vec<PathIssue>,
}

fn join_lines(issues: &[PathIssue]) -> String {
    issues
        .iter()
        .map(PathIssue::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses one server's map out of a whole Kea document (`Dhcp4` or `Dhcp6`).
type RootParser<T> = fn(&serde_json::Value) -> (Option<T>, parse::Findings);

/// Loads a Kea DHCPv4 configuration file. Relative include paths are resolved against the
/// file's directory.
pub fn load_dhcp4_file(path: &Path) -> Result<Loaded<Dhcp4Config>, ConfigError> {
    load_file(path, parse::parse_root)
}

/// Parses Kea DHCPv4 configuration text; relative include paths are resolved against
/// `include_base`.
pub fn parse_dhcp4_str(
    text: &str,
    include_base: &Path,
) -> Result<Loaded<Dhcp4Config>, ConfigError> {
    parse_named(text, "config", include_base, parse::parse_root)
}

/// Validates an already-parsed document (e.g. the `arguments` of Kea's `config-set` and
/// `config-test` commands, which carry `{"Dhcp4": {...}}`).
pub fn parse_dhcp4_value(value: &serde_json::Value) -> Result<Loaded<Dhcp4Config>, ConfigError> {
    from_value(value, parse::parse_root)
}

/// Loads a Kea DHCPv6 configuration file (the `Dhcp6` map, ARM chapter 10). Relative include
/// paths are resolved against the file's directory.
pub fn load_dhcp6_file(path: &Path) -> Result<Loaded<Dhcp6Config>, ConfigError> {
    load_file(path, parse::v6::parse_root6)
}

/// Parses Kea DHCPv6 configuration text; relative include paths are resolved against
/// `include_base`.
pub fn parse_dhcp6_str(
    text: &str,
    include_base: &Path,
) -> Result<Loaded<Dhcp6Config>, ConfigError> {
    parse_named(text, "config", include_base, parse::v6::parse_root6)
}

/// Validates an already-parsed `{"Dhcp6": {...}}` document (`config-set` / `config-test`).
pub fn parse_dhcp6_value(value: &serde_json::Value) -> Result<Loaded<Dhcp6Config>, ConfigError> {
    from_value(value, parse::v6::parse_root6)
}

fn load_file<T>(path: &Path, root: RootParser<T>) -> Result<Loaded<T>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        issues: vec![PathIssue::new(
            path.display().to_string(),
            format!("cannot read the configuration file: {e}"),
        )],
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    parse_named(&text, &name, base, root)
}

fn from_value<T>(value: &serde_json::Value, root: RootParser<T>) -> Result<Loaded<T>, ConfigError> {
    finish(root(value), Vec::new(), value.clone())
}

fn parse_named<T>(
    text: &str,
    source_name: &str,
    include_base: &Path,
    root: RootParser<T>,
) -> Result<Loaded<T>, ConfigError> {
    // A UTF-8 byte order mark some editors write is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document =
        json::parse_document(text, source_name, include_base).map_err(|issue| ConfigError {
            issues: vec![issue],
        })?;
    let parsed = root(&document.value);
    finish(parsed, document.warnings, document.value)
}

/// The parse result as `Loaded`, the dialect reader's warnings first, or every error found.
fn finish<T>(
    (config, findings): (Option<T>, parse::Findings),
    mut warnings: Vec<PathIssue>,
    raw: serde_json::Value,
) -> Result<Loaded<T>, ConfigError> {
    match config {
        Some(config) => {
            warnings.extend(findings.warnings);
            Ok(Loaded {
                config,
                unsupported: findings.unsupported,
                warnings,
                raw,
            })
        }
        None => Err(ConfigError {
            issues: findings.errors,
        }),
    }
}

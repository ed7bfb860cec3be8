//! perfdhcp's command line (perfdhcp(8), Kea ARM "perfdhcp" section), parsed getopt-style:
//! `-R100` and `-R 100` both work, flag options may be grouped (`-4i`), and the server address
//! is the single positional argument. corelease extras are long options (`--json`,
//! `--record-acks FILE`, `--plot FILE`, `--threads N`, `--time-cap SECS`).
//!
//! Options perfdhcp has but this generator does not implement are rejected by name (exit
//! code 2) rather than silently ignored.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// A command line that cannot be run. Every message names the option and says what it takes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    #[error("argument {0:?} is not valid UTF-8")]
    NotUtf8(OsString),
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("option {0} requires a value")]
    MissingValue(String),
    #[error("value of {option} <value> must be {expected}, got {value:?}")]
    BadValue {
        option: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("option {0} is not supported by corelease perf")]
    Unsupported(String),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("more than one server given: {0:?} and {1:?}")]
    TwoServers(String, String),
    #[error("no server address given (the last argument, e.g. 127.0.0.1)")]
    NoServer,
}

/// -4 / -6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// -D: an absolute number of drops or a percentage of expected replies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxDrop {
    Count(u64),
    Percent(f64),
}

/// --scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Basic,
    Avalanche,
}

/// -e.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseType {
    AddressOnly,
    PrefixOnly,
    AddressAndPrefix,
}

/// Default for --time-cap: no run lasts longer than this, whatever -n / -p say.
pub const DEFAULT_TIME_CAP: Duration = Duration::from_secs(600);

/// A parsed, validated command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub family: Family,
    /// -r: exchanges initiated per second; None = as fast as the in-flight window allows.
    pub rate: Option<u32>,
    /// -R: number of simulated clients (perfdhcp default 1).
    pub clients: u32,
    /// -n: number of exchanges to initiate.
    pub num_requests: Option<u64>,
    /// -p: test period.
    pub test_period: Option<Duration>,
    pub max_drop: Option<MaxDrop>,
    /// -l: local address (v4) or interface name.
    pub local: Option<String>,
    /// -L (0 = default, 67 for v4 since perfdhcp acts as a relay).
    pub local_port: u16,
    /// -N (0 = default 67).
    pub remote_port: u16,
    /// -b mac=...
    pub mac_base: [u8; 6],
    /// -b duid=... (kept for v6)
    pub duid_base: Option<Vec<u8>>,
    /// -i: DISCOVER-OFFER only.
    pub initial_only: bool,
    pub lease_type: LeaseType,
    /// -A (v6 relay encapsulation level).
    pub relay_level: Option<u8>,
    /// -t: seconds between periodic reports.
    pub report_interval: Option<Duration>,
    /// -W: exit-wait-time (given in microseconds).
    pub exit_wait: Option<Duration>,
    /// -d: time after which an unanswered request counts as lost (default 1 s).
    pub drop_time: Duration,
    /// -f
    pub renew_rate: Option<u32>,
    /// -F
    pub release_rate: Option<u32>,
    pub scenario: Scenario,
    /// -u
    pub uniqueness: bool,
    /// -c
    pub rapid_commit: bool,
    /// -B
    pub broadcast: bool,
    /// -x selectors, as given.
    pub diags: String,
    /// The positional server argument.
    pub server: Option<String>,
    pub json: bool,
    pub record_acks: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    /// --threads (None = one per core).
    pub threads: Option<usize>,
    /// --window: most exchanges in flight per thread when no -r is given.
    pub window: usize,
    pub time_cap: Duration,
    pub help: bool,
    pub version: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            family: Family::V4,
            rate: None,
            clients: 1,
            num_requests: None,
            test_period: None,
            max_drop: None,
            local: None,
            local_port: 0,
            remote_port: 0,
            mac_base: [0x00, 0x0c, 0x01, 0x02, 0x03, 0x04],
            duid_base: None,
            initial_only: false,
            lease_type: LeaseType::AddressOnly,
            relay_level: None,
            report_interval: None,
            exit_wait: None,
            drop_time: Duration::from_secs(1),
            renew_rate: None,
            release_rate: None,
            scenario: Scenario::Basic,
            uniqueness: false,
            rapid_commit: false,
            broadcast: false,
            diags: String::new(),
            server: None,
            json: false,
            record_acks: None,
            plot: None,
            threads: None,
            window: 32,
            time_cap: DEFAULT_TIME_CAP,
            help: false,
            version: false,
        }
    }
}

impl Options {
    /// True when -x carries the selector letter.
    pub fn diag(&self, letter: char) -> bool {
        self.diags.contains(letter)
    }
}

/// Short options that take a value (getopt's "x:").
const SHORT_WITH_VALUE: &str = "AbCdDeEfFgIJlLMnNoOpPrRsStTwWxXyY";
/// Short flag options.
const SHORT_FLAGS: &str = "146Bchiuv";

fn parse_number<T: std::str::FromStr>(
    option: &'static str,
    expected: &'static str,
    value: &str,
) -> Result<T, ArgError> {
    value.trim().parse::<T>().map_err(|_| ArgError::BadValue {
        option,
        expected,
        value: value.to_string(),
    })
}

fn positive<T: PartialOrd + Default>(
    option: &'static str,
    expected: &'static str,
    value: &str,
    parsed: T,
) -> Result<T, ArgError> {
    if parsed > T::default() {
        Ok(parsed)
    } else {
        Err(ArgError::BadValue {
            option,
            expected,
            value: value.to_string(),
        })
    }
}

fn parse_seconds(option: &'static str, value: &str) -> Result<Duration, ArgError> {
    let expected = "a positive number of seconds";
    let secs: f64 = parse_number(option, expected, value)?;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(ArgError::BadValue {
            option,
            expected,
            value: value.to_string(),
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_mac(value: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut count = 0;
    for part in value.split([':', '-']) {
        let byte = u8::from_str_radix(part, 16).ok()?;
        *mac.get_mut(count)? = byte;
        count += 1;
    }
    (count == 6).then_some(mac)
}

fn parse_hex(value: &str) -> Option<Vec<u8>> {
    let digits: String = value.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() & 1 == 1 {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
        })
        .collect()
}

fn apply_base(opts: &mut Options, value: &str) -> Result<(), ArgError> {
    let bad = || ArgError::BadValue {
        option: "-b",
        expected: "mac=aa:bb:cc:dd:ee:ff or duid=hex",
        value: value.to_string(),
    };
    let (kind, rest) = value.split_once('=').ok_or_else(bad)?;
    match kind.to_ascii_lowercase().as_str() {
        "mac" | "ether" => opts.mac_base = parse_mac(rest).ok_or_else(bad)?,
        "duid" => opts.duid_base = Some(parse_hex(rest).ok_or_else(bad)?),
        _ => return Err(bad()),
    }
    Ok(())
}

fn apply_short(opts: &mut Options, letter: char, value: Option<&str>) -> Result<(), ArgError> {
    let v = value.unwrap_or("");
    match letter {
        '4' => {
            if opts.family == Family::V6 {
                return Err(ArgError::Conflict("-4 and -6 cannot be used together"));
            }
            opts.family = Family::V4;
        }
        '6' => opts.family = Family::V6,
        'h' => opts.help = true,
        'v' => opts.version = true,
        'i' => opts.initial_only = true,
        'u' => opts.uniqueness = true,
        'c' => opts.rapid_commit = true,
        'B' => opts.broadcast = true,
        'b' => apply_base(opts, v)?,
        'r' => {
            let expected = "a positive integer";
            opts.rate = Some(positive(
                "-r",
                expected,
                v,
                parse_number("-r", expected, v)?,
            )?)
        }
        'R' => {
            let expected = "a non-negative integer";
            let n: u32 = parse_number("-R", expected, v)?;
            // perfdhcp treats -R 0 like the default single client.
            opts.clients = n.max(1);
        }
        'n' => {
            let expected = "a positive integer";
            opts.num_requests = Some(positive(
                "-n",
                expected,
                v,
                parse_number("-n", expected, v)?,
            )?)
        }
        'p' => opts.test_period = Some(parse_seconds("-p", v)?),
        'd' => opts.drop_time = parse_seconds("-d", v)?,
        'D' => {
            opts.max_drop = Some(if let Some(p) = v.strip_suffix('%') {
                let expected = "a percentage between 0 and 100 (exclusive)";
                let pct: f64 = parse_number("-D", expected, p)?;
                if !(pct > 0.0 && pct < 100.0) {
                    return Err(ArgError::BadValue {
                        option: "-D",
                        expected,
                        value: v.to_string(),
                    });
                }
                MaxDrop::Percent(pct)
            } else {
                let expected = "a positive integer or a percentage like 5%";
                MaxDrop::Count(positive(
                    "-D",
                    expected,
                    v,
                    parse_number("-D", expected, v)?,
                )?)
            })
        }
        'l' => opts.local = Some(v.to_string()),
        'L' => opts.local_port = parse_number("-L", "a port number 0-65535", v)?,
        'N' => opts.remote_port = parse_number("-N", "a port number 0-65535", v)?,
        'e' => {
            opts.lease_type = match v {
                "address-only" => LeaseType::AddressOnly,
                "prefix-only" => LeaseType::PrefixOnly,
                "address-and-prefix" => LeaseType::AddressAndPrefix,
                _ => {
                    return Err(ArgError::BadValue {
                        option: "-e",
                        expected: "address-only, prefix-only or address-and-prefix",
                        value: v.to_string(),
                    })
                }
            }
        }
        'A' => {
            let level: u8 = parse_number("-A", "1", v)?;
            if level != 1 {
                return Err(ArgError::BadValue {
                    option: "-A",
                    expected: "1 (the only encapsulation level perfdhcp supports)",
                    value: v.to_string(),
                });
            }
            opts.relay_level = Some(level);
        }
        't' => {
            let expected = "a positive integer number of seconds";
            let secs: u64 = positive("-t", expected, v, parse_number("-t", expected, v)?)?;
            opts.report_interval = Some(Duration::from_secs(secs));
        }
        'W' => {
            let us: u64 = parse_number("-W", "a number of microseconds", v)?;
            opts.exit_wait = Some(Duration::from_micros(us));
        }
        'f' => {
            let expected = "a positive integer";
            opts.renew_rate = Some(positive(
                "-f",
                expected,
                v,
                parse_number("-f", expected, v)?,
            )?)
        }
        'F' => {
            let expected = "a positive integer";
            opts.release_rate = Some(positive(
                "-F",
                expected,
                v,
                parse_number("-F", expected, v)?,
            )?)
        }
        'x' => opts.diags = v.to_string(),
        'g' => {
            // Thread mode: this generator always runs its own sender/receiver threads.
            if v != "single" && v != "multi" {
                return Err(ArgError::BadValue {
                    option: "-g",
                    expected: "single or multi",
                    value: v.to_string(),
                });
            }
        }
        's' => {
            // Seed: clients are walked in order, nothing is random, so any seed is accepted.
            let _: u64 = parse_number("-s", "a non-negative integer", v)?;
        }
        other => return Err(ArgError::Unsupported(format!("-{other}"))),
    }
    Ok(())
}

fn apply_long(
    opts: &mut Options,
    name: &str,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = Result<String, ArgError>>,
) -> Result<(), ArgError> {
    let mut value = |label: &str| -> Result<String, ArgError> {
        match inline {
            Some(v) => Ok(v.to_string()),
            None => rest
                .next()
                .ok_or_else(|| ArgError::MissingValue(label.to_string()))?,
        }
    };
    match name {
        "scenario" => {
            let v = value("--scenario")?;
            opts.scenario = match v.as_str() {
                "basic" => Scenario::Basic,
                "avalanche" => Scenario::Avalanche,
                _ => {
                    return Err(ArgError::BadValue {
                        option: "--scenario",
                        expected: "basic or avalanche",
                        value: v,
                    })
                }
            }
        }
        "json" => opts.json = true,
        "help" => opts.help = true,
        "record-acks" => opts.record_acks = Some(PathBuf::from(value("--record-acks")?)),
        "plot" => opts.plot = Some(PathBuf::from(value("--plot")?)),
        "threads" => {
            let v = value("--threads")?;
            let expected = "a positive integer";
            opts.threads = Some(positive(
                "--threads",
                expected,
                &v,
                parse_number("--threads", expected, &v)?,
            )?);
        }
        "window" => {
            let v = value("--window")?;
            let expected = "a positive integer up to 65536";
            let n: usize = positive(
                "--window",
                expected,
                &v,
                parse_number("--window", expected, &v)?,
            )?;
            if n > 1 << 16 {
                return Err(ArgError::BadValue {
                    option: "--window",
                    expected,
                    value: v,
                });
            }
            opts.window = n;
        }
        "time-cap" => {
            let v = value("--time-cap")?;
            opts.time_cap = parse_seconds("--time-cap", &v)?;
        }
        other => return Err(ArgError::UnknownOption(format!("--{other}"))),
    }
    Ok(())
}

/// Parses perfdhcp-style arguments (without the program name) and checks the combinations
/// perfdhcp refuses.
pub fn parse(args: Vec<OsString>) -> Result<Options, ArgError> {
    let mut opts = Options::default();
    let mut iter = args
        .into_iter()
        .map(|a| a.into_string().map_err(ArgError::NotUtf8));
    let mut only_positional = false;
    while let Some(arg) = iter.next() {
        let arg = arg?;
        if only_positional || !arg.starts_with('-') || arg == "-" {
            if let Some(first) = opts.server.take() {
                return Err(ArgError::TwoServers(first, arg));
            }
            opts.server = Some(arg);
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            apply_long(&mut opts, name, inline, &mut iter)?;
            continue;
        }
        // A group of short options: flags first, at most one value-taking option last.
        let body = arg.get(1..).unwrap_or("");
        for (index, letter) in body.char_indices() {
            if SHORT_WITH_VALUE.contains(letter) {
                let attached = body.get(index + letter.len_utf8()..).unwrap_or("");
                let value = if attached.is_empty() {
                    iter.next()
                        .ok_or_else(|| ArgError::MissingValue(format!("-{letter}")))??
                } else {
                    attached.to_string()
                };
                apply_short(&mut opts, letter, Some(&value))?;
                break;
            } else if SHORT_FLAGS.contains(letter) {
                apply_short(&mut opts, letter, None)?;
            } else {
                return Err(ArgError::UnknownOption(format!("-{letter}")));
            }
        }
    }
    validate(&opts)?;
    Ok(opts)
}

fn validate(opts: &Options) -> Result<(), ArgError> {
    if opts.help || opts.version {
        return Ok(());
    }
    if opts.family == Family::V4 {
        if opts.lease_type != LeaseType::AddressOnly {
            return Err(ArgError::Conflict(
                "-e prefix-only and -e address-and-prefix need -6",
            ));
        }
        if opts.rapid_commit {
            return Err(ArgError::Conflict("-c (rapid commit) is DHCPv6 only"));
        }
        if opts.relay_level.is_some() {
            return Err(ArgError::Conflict(
                "-A (relay encapsulation) is DHCPv6 only",
            ));
        }
    } else if opts.broadcast {
        return Err(ArgError::Conflict("-B (broadcast) is DHCPv4 only"));
    } else if opts.rapid_commit && !opts.initial_only {
        // perfdhcp: "-i must be set to use -c" (rapid commit ends the exchange at SOLICIT).
        return Err(ArgError::Conflict("-i must be set to use -c"));
    }
    if opts.renew_rate.is_some() || opts.release_rate.is_some() {
        let Some(rate) = opts.rate else {
            return Err(ArgError::Conflict(
                "-f and -F need an exchange rate given with -r",
            ));
        };
        let sum =
            u64::from(opts.renew_rate.unwrap_or(0)) + u64::from(opts.release_rate.unwrap_or(0));
        if sum > u64::from(rate) {
            return Err(ArgError::Conflict(
                "the sum of -f and -F must not exceed the -r rate",
            ));
        }
        if opts.initial_only {
            return Err(ArgError::Conflict("-f and -F cannot be used with -i"));
        }
    }
    if opts.scenario == Scenario::Avalanche
        && (opts.renew_rate.is_some() || opts.release_rate.is_some())
    {
        return Err(ArgError::Conflict(
            "-f and -F are not used with --scenario avalanche",
        ));
    }
    // perfdhcp(8): the server is optional only when -l names an interface, for DHCPv6,
    // where it then defaults to 'all'.
    if opts.server.is_none() && !(opts.family == Family::V6 && opts.local.is_some()) {
        return Err(ArgError::NoServer);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn attached_and_separate_values_parse_alike() {
        let a = parse(args(&["-R100", "-n", "50", "-l127.0.0.2", "127.0.0.1"]));
        let b = parse(args(&["-R", "100", "-n50", "-l", "127.0.0.2", "127.0.0.1"]));
        assert_eq!(a, b);
        let a = a.unwrap_or_default();
        assert_eq!(a.clients, 100);
        assert_eq!(a.num_requests, Some(50));
        assert_eq!(a.local.as_deref(), Some("127.0.0.2"));
        assert_eq!(a.server.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn grouped_flags_and_trailing_value() {
        let o = parse(args(&["-4ur", "200", "10.0.0.1"])).unwrap_or_default();
        assert!(o.uniqueness);
        assert_eq!(o.rate, Some(200));
    }

    #[test]
    fn max_drop_accepts_count_and_percent() {
        let o = parse(args(&["-D", "5", "s"])).unwrap_or_default();
        assert_eq!(o.max_drop, Some(MaxDrop::Count(5)));
        let o = parse(args(&["-D", "2.5%", "s"])).unwrap_or_default();
        assert_eq!(o.max_drop, Some(MaxDrop::Percent(2.5)));
        assert!(matches!(
            parse(args(&["-D", "0", "s"])),
            Err(ArgError::BadValue { option: "-D", .. })
        ));
        assert!(matches!(
            parse(args(&["-D", "100%", "s"])),
            Err(ArgError::BadValue { option: "-D", .. })
        ));
    }

    #[test]
    fn mac_base_and_duid_base() {
        let o = parse(args(&["-b", "mac=aa:bb:cc:00:00:10", "s"])).unwrap_or_default();
        assert_eq!(o.mac_base, [0xaa, 0xbb, 0xcc, 0, 0, 0x10]);
        let o = parse(args(&["-6", "-b", "duid=0001abcd", "s"])).unwrap_or_default();
        assert_eq!(o.duid_base, Some(vec![0, 1, 0xab, 0xcd]));
        assert!(parse(args(&["-b", "mac=aa:bb", "s"])).is_err());
    }

    #[test]
    fn renew_rate_needs_rate_and_must_fit_in_it() {
        assert!(matches!(
            parse(args(&["-f", "10", "s"])),
            Err(ArgError::Conflict(_))
        ));
        assert!(matches!(
            parse(args(&["-r", "10", "-f", "6", "-F", "5", "s"])),
            Err(ArgError::Conflict(_))
        ));
        assert!(parse(args(&["-r", "10", "-f", "5", "-F", "5", "s"])).is_ok());
    }

    #[test]
    fn v6_only_options_are_refused_with_v4() {
        assert!(matches!(
            parse(args(&["-c", "s"])),
            Err(ArgError::Conflict(_))
        ));
        assert!(matches!(
            parse(args(&["-e", "prefix-only", "s"])),
            Err(ArgError::Conflict(_))
        ));
        assert!(parse(args(&["-6", "-i", "-c", "-e", "prefix-only", "all"])).is_ok());
        assert!(matches!(
            parse(args(&["-6", "-c", "all"])),
            Err(ArgError::Conflict(_))
        ));
        assert!(matches!(
            parse(args(&["-6", "-4", "s"])),
            Err(ArgError::Conflict(_))
        ));
    }

    #[test]
    fn unsupported_and_unknown_options_are_named() {
        assert_eq!(
            parse(args(&["-T", "file", "s"])),
            Err(ArgError::Unsupported("-T".into()))
        );
        assert_eq!(
            parse(args(&["-q", "s"])),
            Err(ArgError::UnknownOption("-q".into()))
        );
        assert_eq!(
            parse(args(&["--frobnicate", "s"])),
            Err(ArgError::UnknownOption("--frobnicate".into()))
        );
        assert_eq!(
            parse(args(&["-R"])),
            Err(ArgError::MissingValue("-R".into()))
        );
        assert_eq!(parse(args(&["-R", "5"])), Err(ArgError::NoServer));
    }

    #[test]
    fn extras_parse() {
        let o = parse(args(&[
            "--json",
            "--scenario=avalanche",
            "--record-acks",
            "/tmp/a",
            "--plot=/tmp/p.svg",
            "--threads",
            "3",
            "--time-cap",
            "2.5",
            "-W",
            "250000",
            "-d",
            "0.5",
            "-x",
            "ae",
            "s",
        ]))
        .unwrap_or_default();
        assert!(o.json);
        assert_eq!(o.scenario, Scenario::Avalanche);
        assert_eq!(o.record_acks, Some(PathBuf::from("/tmp/a")));
        assert_eq!(o.plot, Some(PathBuf::from("/tmp/p.svg")));
        assert_eq!(o.threads, Some(3));
        assert_eq!(o.time_cap, Duration::from_millis(2500));
        assert_eq!(o.exit_wait, Some(Duration::from_millis(250)));
        assert_eq!(o.drop_time, Duration::from_millis(500));
        assert!(o.diag('e') && o.diag('a') && !o.diag('t'));
    }

    #[test]
    fn non_numeric_values_are_parse_errors() {
        assert!(matches!(
            parse(args(&["-R", "abc", "s"])),
            Err(ArgError::BadValue { option: "-R", .. })
        ));
        assert!(matches!(
            parse(args(&["-p", "-1", "s"])),
            Err(ArgError::BadValue { option: "-p", .. })
        ));
    }
}

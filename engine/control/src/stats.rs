//! Kea's statistics manager, seen from the control thread (ARM 18 "Statistics"). The shards
//! only count; this registry keeps, per statistic, the samples Kea returns (value and time,
//! newest first, bounded by count or age), and makes `-reset` and `-remove` work without ever
//! writing a shard's counter: a reset records the raw sum as a baseline that later reads
//! subtract, a removal hides the statistic until its raw sum changes again ("the server code
//! may add it back if there is a reason to record it", ARM 18.3).

use crate::Response;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many samples a statistic keeps (ARM 18.2: `statistic-default-sample-count` 20 and
/// `statistic-default-sample-age` 0; a count limit disables the age limit and vice versa).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Count(usize),
    Age(Duration),
}

impl Limit {
    /// The limit Kea derives from the two global settings: the count unless it is 0.
    pub fn from_defaults(sample_count: u32, sample_age_secs: u32) -> Limit {
        if sample_count > 0 {
            Limit::Count(sample_count as usize)
        } else {
            Limit::Age(Duration::from_secs(u64::from(sample_age_secs)))
        }
    }
}

#[derive(Debug)]
struct Stat {
    /// Raw sum at the last reset: the reported value is raw - baseline.
    baseline: i64,
    /// Raw sum when removed; the statistic stays hidden while the raw sum equals it.
    removed_at: Option<i64>,
    last_raw: i64,
    samples: VecDeque<(i64, SystemTime)>,
    limit: Limit,
}

impl Stat {
    fn trim(&mut self, now: SystemTime) {
        match self.limit {
            Limit::Count(n) => self.samples.truncate(n.max(1)),
            Limit::Age(age) => {
                // The newest sample always stays: it is the statistic's value.
                while self.samples.len() > 1 {
                    match self.samples.back() {
                        Some((_, t)) if now.duration_since(*t).unwrap_or_default() > age => {
                            self.samples.pop_back();
                        }
                        _ => break,
                    }
                }
            }
        }
    }

    fn push(&mut self, value: i64, now: SystemTime) {
        self.samples.push_front((value, now));
        self.trim(now);
    }
}

/// Every statistic's samples and reset / removal state.
#[derive(Debug)]
pub struct StatsRegistry {
    stats: BTreeMap<String, Stat>,
    default_limit: Limit,
}

impl StatsRegistry {
    pub fn new(default_limit: Limit) -> StatsRegistry {
        StatsRegistry {
            stats: BTreeMap::new(),
            default_limit,
        }
    }

    /// Takes the shards' current sums: a value that changed since the last look becomes a new
    /// sample; statistics that are gone (a subnet removed) are dropped.
    pub fn observe(&mut self, now: SystemTime, raw: &[(String, i64)]) {
        let mut seen = std::collections::HashSet::with_capacity(raw.len());
        for (name, v) in raw {
            seen.insert(name.as_str());
            let limit = self.default_limit;
            let s = self.stats.entry(name.clone()).or_insert_with(|| Stat {
                baseline: 0,
                removed_at: None,
                last_raw: *v,
                samples: VecDeque::new(),
                limit,
            });
            s.last_raw = *v;
            if let Some(at) = s.removed_at {
                if *v == at {
                    continue;
                }
                s.removed_at = None;
                s.baseline = at;
                s.samples.clear();
            }
            let value = v.wrapping_sub(s.baseline);
            if s.samples.front().map(|x| x.0) != Some(value) {
                s.push(value, now);
            }
        }
        self.stats.retain(|name, _| seen.contains(name.as_str()));
    }

    /// (name, current value) of every statistic not removed, in name order.
    pub fn current(&self) -> Vec<(&str, i64)> {
        self.stats
            .iter()
            .filter(|(_, s)| s.removed_at.is_none())
            .filter_map(|(n, s)| s.samples.front().map(|x| (n.as_str(), x.0)))
            .collect()
    }

    /// Kea's sample list for one statistic, newest first: `[[value, "time"], ...]`.
    pub fn samples(&self, name: &str) -> Option<Value> {
        let s = self.stats.get(name).filter(|s| s.removed_at.is_none())?;
        Some(Value::Array(
            s.samples
                .iter()
                .map(|(v, t)| json!([v, format_time(*t)]))
                .collect(),
        ))
    }

    pub fn reset(&mut self, name: &str, now: SystemTime) -> bool {
        match self.stats.get_mut(name).filter(|s| s.removed_at.is_none()) {
            Some(s) => {
                s.baseline = s.last_raw;
                s.samples.clear();
                s.push(0, now);
                true
            }
            None => false,
        }
    }

    pub fn remove(&mut self, name: &str) -> bool {
        match self.stats.get_mut(name).filter(|s| s.removed_at.is_none()) {
            Some(s) => {
                s.removed_at = Some(s.last_raw);
                s.samples.clear();
                true
            }
            None => false,
        }
    }

    pub fn set_limit(&mut self, name: &str, limit: Limit, now: SystemTime) -> bool {
        match self.stats.get_mut(name).filter(|s| s.removed_at.is_none()) {
            Some(s) => {
                s.limit = limit;
                s.trim(now);
                true
            }
            None => false,
        }
    }

    fn names(&self) -> Vec<String> {
        self.stats
            .iter()
            .filter(|(_, s)| s.removed_at.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Kea's sample time format, local time with microseconds: "2019-07-30 10:11:19.498739".
pub fn format_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(d.as_secs()).unwrap_or(0);
    // SAFETY: localtime_r writes into the zeroed tm we own; both pointers are valid.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("{}.{:06}", d.as_secs(), d.subsec_micros());
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        d.subsec_micros()
    )
}

fn name_arg(args: Option<&Value>) -> Result<&str, Response> {
    let a = args.ok_or_else(|| Response::error("Missing mandatory 'arguments' parameter."))?;
    match a.get("name") {
        Some(Value::String(n)) => Ok(n),
        Some(_) => Err(Response::error("'name' parameter expected to be a string.")),
        None => Err(Response::error("Missing mandatory 'name' parameter.")),
    }
}

fn limit_arg(command: &str, args: Option<&Value>) -> Result<Limit, Response> {
    let a = args.ok_or_else(|| Response::error("Missing mandatory 'arguments' parameter."))?;
    if command.starts_with("statistic-sample-age-set") {
        match a.get("duration") {
            Some(v) => v
                .as_u64()
                .map(|s| Limit::Age(Duration::from_secs(s)))
                .ok_or_else(|| Response::error("'duration' parameter expected to be an integer.")),
            None => Err(Response::error("Missing mandatory 'duration' parameter.")),
        }
    } else {
        match a.get("max-samples") {
            Some(v) => match v.as_u64() {
                Some(0) => Err(Response::error("'max-samples' parameter must not be zero")),
                Some(n) => Ok(Limit::Count(usize::try_from(n).unwrap_or(usize::MAX))),
                None => Err(Response::error(
                    "'max-samples' parameter expected to be an integer.",
                )),
            },
            None => Err(Response::error(
                "Missing mandatory 'max-samples' parameter.",
            )),
        }
    }
}

/// The `statistic-*` commands (ARM 18.3), with Kea's texts.
pub fn handle(reg: &mut StatsRegistry, command: &str, args: Option<&Value>) -> Response {
    let now = SystemTime::now();
    let result = (|| -> Result<Response, Response> {
        Ok(match command {
            "statistic-get" => {
                let name = name_arg(args)?;
                let mut m = Map::new();
                if let Some(s) = reg.samples(name) {
                    m.insert(name.to_string(), s);
                }
                Response::arguments(Value::Object(m))
            }
            "statistic-get-all" => {
                let mut m = Map::new();
                for name in reg.names() {
                    if let Some(s) = reg.samples(&name) {
                        m.insert(name, s);
                    }
                }
                Response::arguments(Value::Object(m))
            }
            "statistic-reset" => {
                let name = name_arg(args)?;
                if !reg.reset(name, now) {
                    return Err(Response::error(format!("No '{name}' statistic found")));
                }
                Response::success(format!("Statistic '{name}' reset."))
            }
            "statistic-reset-all" => {
                for name in reg.names() {
                    reg.reset(&name, now);
                }
                Response::success("All statistics reset to neutral values.")
            }
            "statistic-remove" => {
                let name = name_arg(args)?;
                if !reg.remove(name) {
                    return Err(Response::error(format!("No '{name}' statistic found")));
                }
                Response::success(format!("Statistic '{name}' removed."))
            }
            "statistic-remove-all" => {
                for name in reg.names() {
                    reg.remove(&name);
                }
                Response::success("All statistics removed.")
            }
            "statistic-sample-age-set" | "statistic-sample-count-set" => {
                let name = name_arg(args)?;
                let limit = limit_arg(command, args)?;
                if !reg.set_limit(name, limit, now) {
                    return Err(Response::error(format!("No '{name}' statistic found")));
                }
                match limit {
                    Limit::Age(_) => {
                        Response::success(format!("Statistic '{name}' duration limit is set."))
                    }
                    Limit::Count(_) => {
                        Response::success(format!("Statistic '{name}' count limit is set."))
                    }
                }
            }
            "statistic-sample-age-set-all" | "statistic-sample-count-set-all" => {
                let limit = limit_arg(command, args)?;
                reg.default_limit = limit;
                for name in reg.names() {
                    reg.set_limit(&name, limit, now);
                }
                match limit {
                    Limit::Age(_) => Response::success("All statistics duration limit are set."),
                    Limit::Count(_) => Response::success("All statistics count limit are set."),
                }
            }
            other => Response::new(
                crate::result::UNSUPPORTED,
                format!("'{other}' command not supported."),
            ),
        })
    })();
    result.unwrap_or_else(|e| e)
}

//! Prometheus text exposition (format 0.0.4) for `GET /metrics`: every Kea statistic under a
//! `corelease_dhcp4_` (`corelease_dhcp6_`) name, subnet and pool ids as labels, plus the
//! backend's per-shard series.
//! Families are written whole (HELP, TYPE, then their samples), counters end in `_total`, as
//! `promtool check metrics` demands.

use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Summary,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Summary => "summary",
        }
    }
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: MetricKind,
    lines: Vec<String>,
}

/// Collects samples grouped by family, in first-seen order.
#[derive(Debug, Default)]
pub struct MetricsWriter {
    families: Vec<Family>,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl MetricsWriter {
    /// One sample of family `family`; `suffix` is "" or e.g. "_sum" / "_count" for summaries.
    pub fn sample(
        &mut self,
        family: &str,
        help: &str,
        kind: MetricKind,
        suffix: &str,
        labels: &[(&str, String)],
        value: f64,
    ) {
        let idx = match self.families.iter().position(|f| f.name == family) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name: family.to_string(),
                    help: help.to_string(),
                    kind,
                    lines: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let mut line = format!("{family}{suffix}");
        if !labels.is_empty() {
            line.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let _ = write!(line, "{k}=\"{}\"", escape_label(v));
            }
            line.push('}');
        }
        let _ = write!(line, " {}", format_value(value));
        if let Some(f) = self.families.get_mut(idx) {
            f.lines.push(line);
        }
    }

    pub fn finish(self) -> String {
        let mut out = String::new();
        for f in self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for l in f.lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        out
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Splits `subnet[7].pool[0].assigned-addresses` into (scope, ids, statistic). A DHCPv6
/// `pd-pool[id]` is a scope of its own (`pd_pool_`), its id labelled `pool_id` too.
fn split_scoped(name: &str) -> (&'static str, Vec<(&'static str, String)>, &str) {
    let mut rest = name;
    let mut labels = Vec::new();
    let mut scope = "";
    for (prefix, label, sc) in [
        ("subnet[", "subnet_id", "subnet_"),
        ("pool[", "pool_id", "pool_"),
        ("pd-pool[", "pool_id", "pd_pool_"),
    ] {
        if let Some(after) = rest.strip_prefix(prefix) {
            if let Some((id, tail)) = after.split_once("].") {
                labels.push((label, id.to_string()));
                rest = tail;
                scope = sc;
            }
        }
    }
    (scope, labels, rest)
}

/// Whether a Kea statistic is a level (may go down) rather than a count of events: the
/// pool sizes and the assigned and declined counts (v4 addresses, v6 NAs and PDs).
fn is_gauge(stat: &str) -> bool {
    matches!(
        stat,
        "total-addresses"
            | "declined-addresses"
            | "assigned-addresses"
            | "total-nas"
            | "assigned-nas"
            | "total-pds"
            | "assigned-pds"
    )
}

/// Writes Kea's statistics (already reset-adjusted) as Prometheus families named
/// `corelease_<family>_…` (`family` is "dhcp4" or "dhcp6").
pub fn write_statistics(w: &mut MetricsWriter, family: &str, stats: &[(&str, i64)]) {
    for (name, value) in stats {
        let (scope, labels, stat) = split_scoped(name);
        let base = format!("corelease_{family}_{scope}{}", sanitize(stat));
        let (family, kind) = if is_gauge(stat) {
            (base, MetricKind::Gauge)
        } else {
            (format!("{base}_total"), MetricKind::Counter)
        };
        let of = match scope {
            "subnet_" => " of subnet[id]",
            "pool_" => " of subnet[id].pool[id]",
            "pd_pool_" => " of subnet[id].pd-pool[id]",
            _ => "",
        };
        let help = format!("Kea statistic {stat}{of}");
        w.sample(&family, &help, kind, "", &labels, *value as f64);
    }
}

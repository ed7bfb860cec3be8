//! The final report in three forms: perfdhcp's text (same headings, same lines, same number
//! formatting as perfdhcp 2.2, so scripts that parse perfdhcp output keep working), JSON for
//! machines (`--json`), and an SVG chart (`--plot`).

use crate::options::Family;
use crate::stats::{ExchangeKind, ExchangeStats, SecondSample};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// Everything the reports need, merged over the worker threads.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The exchanges this run used, in perfdhcp's order.
    pub exchanges: Vec<(ExchangeKind, ExchangeStats)>,
    pub malformed: u64,
    pub completed: u64,
    pub duration: Duration,
    pub expected_rate: Option<u32>,
    pub initial_only: bool,
    pub family: Family,
    pub avalanche: bool,
    pub retransmissions: u64,
    /// -R, for the avalanche summary.
    pub clients: u32,
    pub threads: usize,
    pub series: Vec<SecondSample>,
    pub exit_reason: &'static str,
    pub exit_code: i32,
}

impl Summary {
    /// perfdhcp's rate: completed exchanges (4-way, or DISCOVER-OFFER with -i) per second.
    pub fn rate(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            self.completed as f64 / secs
        } else {
            0.0
        }
    }
}

/// Formats like C++ iostream's default float output (`%g` with 6 significant digits), which
/// perfdhcp uses for the rate and the first drop ratio. glibc prints NaN from 0/0 as "-nan".
pub fn format_g6(value: f64) -> String {
    if value.is_nan() {
        return "-nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let exponent = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&exponent) {
        let text = format!("{value:.5e}");
        // Rust prints 1.23457e6; C prints 1.23457e+06, trailing zeros of the mantissa removed.
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = trim_fraction(mantissa);
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (5 - exponent).max(0) as usize;
    trim_fraction(&format!("{value:.decimals$}")).to_string()
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// boost::posix_time's duration format: `HH:MM:SS.ffffff`.
pub fn format_hms(duration: Duration) -> String {
    let secs = duration.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        duration.subsec_micros()
    )
}

/// perfdhcp prints NaN with fixed precision as "-nan" too.
fn format_fixed3(value: f64) -> String {
    if value.is_nan() {
        "-nan".to_string()
    } else {
        format!("{value:.3}")
    }
}

/// The text perfdhcp prints at the end of a run. The first block's drop ratio uses iostream's
/// default precision and everything after the first delay line uses fixed 3 decimals, because
/// perfdhcp switches the stream to `std::fixed` there and never switches back.
pub fn perfdhcp_text(summary: &Summary) -> String {
    let mut out = String::new();
    out.push_str("***Rate statistics***\n");
    let unit = match (summary.initial_only && !summary.avalanche, summary.family) {
        (true, Family::V4) => "DISCOVER-OFFER/second",
        (true, Family::V6) => "SOLICIT-ADVERTISE/second",
        (false, _) => "4-way exchanges/second",
    };
    match summary.expected_rate {
        Some(expected) => {
            let _ = writeln!(
                out,
                "Rate: {} {unit}, expected rate: {expected}\n",
                format_g6(summary.rate())
            );
        }
        None => {
            let _ = writeln!(out, "Rate: {} {unit}", format_g6(summary.rate()));
        }
    }
    out.push_str("***Malformed Packets***\n");
    let _ = writeln!(out, "Malformed packets: {}", summary.malformed);
    let mut fixed = false;
    for (kind, stats) in &summary.exchanges {
        let _ = writeln!(
            out,
            "***Statistics for: {}***",
            kind.perfdhcp_name(summary.family)
        );
        let _ = writeln!(out, "sent packets: {}", stats.sent);
        let _ = writeln!(out, "received packets: {}", stats.received);
        let _ = writeln!(out, "drops: {}", stats.drops());
        let ratio = stats.drop_ratio_percent();
        let ratio = if fixed {
            format_fixed3(ratio)
        } else {
            format_g6(ratio)
        };
        let _ = writeln!(out, "drops ratio: {ratio} %");
        let _ = writeln!(out, "orphans: {}", stats.orphans);
        let _ = writeln!(out, "rejected leases: {}", stats.rejected);
        let _ = writeln!(out, "non unique addresses: {}", stats.non_unique);
        out.push('\n');
        fixed = true;
        match (
            stats.min_ms(),
            stats.avg_ms(),
            stats.max_ms(),
            stats.std_dev_ms(),
        ) {
            (Some(min), Some(avg), Some(max), Some(sd)) => {
                let _ = writeln!(out, "min delay: {min:.3} ms");
                let _ = writeln!(out, "avg delay: {avg:.3} ms");
                let _ = writeln!(out, "max delay: {max:.3} ms");
                let _ = writeln!(out, "std deviation: {sd:.3} ms");
            }
            _ => {
                // perfdhcp 2.2 prints exactly this when an exchange has no delay sample (its
                // minimum starts at infinity and a stray label slips in); kept byte for byte
                // so that scripts reading perfdhcp output read ours the same way.
                out.push_str(
                    "min delay: inf ms\navg delay: min delay: n/a\navg delay: n/a\n\
                     max delay: n/a\nstd deviation: n/a\n",
                );
            }
        }
        let _ = writeln!(out, "collected packets: {}", stats.collected);
        out.push('\n');
    }
    if summary.avalanche {
        // perfdhcp's avalanche summary, trailing space included.
        let sent: u64 = summary.exchanges.iter().map(|(_, s)| s.sent).sum();
        let received: u64 = summary.exchanges.iter().map(|(_, s)| s.received).sum();
        let _ = writeln!(
            out,
            "It took {} to provision {} clients. ",
            format_hms(summary.duration),
            summary.clients
        );
        let _ = writeln!(out, "Requests sent + resent: {sent}");
        let _ = writeln!(out, "Requests resent: {}", summary.retransmissions);
        let _ = writeln!(out, "Responses received: {received}");
    }
    // What perfdhcp lacks, after everything perfdhcp prints so that its parsers are unaffected.
    out.push_str("***Latency percentiles (corelease perf)***\n");
    for (kind, stats) in &summary.exchanges {
        match stats.percentiles() {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "{}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
                    kind.perfdhcp_name(summary.family),
                    p.p50,
                    p.p90,
                    p.p99,
                    p.p999
                );
            }
            None => {
                let _ = writeln!(out, "{}: n/a", kind.perfdhcp_name(summary.family));
            }
        }
    }
    out
}

fn opt_f64(value: Option<f64>) -> Value {
    match value {
        Some(v) if v.is_finite() => json!(v),
        _ => Value::Null,
    }
}

/// The `--json` document.
pub fn json_report(summary: &Summary) -> Value {
    let mut exchanges = serde_json::Map::new();
    for (kind, s) in &summary.exchanges {
        let p = s.percentiles();
        exchanges.insert(
            kind.json_key(summary.family).to_string(),
            json!({
                "sent": s.sent,
                "received": s.received,
                "drops": s.drops(),
                "drops-ratio": opt_f64(Some(s.drop_ratio_percent())),
                "orphans": s.orphans,
                "rejected-leases": s.rejected,
                "non-unique-addresses": s.non_unique,
                "collected": s.collected,
                "delay-ms": {
                    "min": opt_f64(s.min_ms()),
                    "avg": opt_f64(s.avg_ms()),
                    "max": opt_f64(s.max_ms()),
                    "std-dev": opt_f64(s.std_dev_ms()),
                    "p50": opt_f64(p.map(|p| p.p50)),
                    "p90": opt_f64(p.map(|p| p.p90)),
                    "p99": opt_f64(p.map(|p| p.p99)),
                    "p99.9": opt_f64(p.map(|p| p.p999)),
                },
            }),
        );
    }
    let series: Vec<Value> = summary
        .series
        .iter()
        .map(|s| json!({"second": s.second, "completed": s.completed, "p50-ms": s.p50_ms, "p99-ms": s.p99_ms}))
        .collect();
    json!({
        "rate": summary.rate(),
        "expected-rate": summary.expected_rate,
        "completed": summary.completed,
        "duration-s": summary.duration.as_secs_f64(),
        "threads": summary.threads,
        "family": match summary.family {
            Family::V4 => 4,
            Family::V6 => 6,
        },
        "malformed": summary.malformed,
        "retransmissions": summary.retransmissions,
        "exit-code": summary.exit_code,
        "exit-reason": summary.exit_reason,
        "exchanges": Value::Object(exchanges),
        "series": series,
    })
}

/// A two-panel SVG: completed exchanges per second (top) and p50 / p99 latency of the
/// completing leg per second (bottom). Hand-written: a few polylines need no plotting crate.
pub fn svg_plot(series: &[SecondSample]) -> String {
    const WIDTH: f64 = 800.0;
    const PANEL: f64 = 260.0;
    const LEFT: f64 = 70.0;
    const TOP: f64 = 40.0;
    const GAP: f64 = 70.0;
    let plot_w = WIDTH - LEFT - 20.0;
    let seconds = series.len().max(1) as f64;
    let max_rate = series.iter().map(|s| s.completed).max().unwrap_or(0).max(1) as f64;
    let max_lat = series
        .iter()
        .map(|s| s.p99_ms.max(s.p50_ms))
        .fold(0.0f64, f64::max)
        .max(0.001);
    let x_of = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / seconds;
    let line = |top: f64, max: f64, value: &dyn Fn(&SecondSample) -> f64| -> String {
        series
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{:.1},{:.1}", x_of(i), top + PANEL - PANEL * value(s) / max))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let height = TOP + 2.0 * PANEL + GAP + 50.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let panels = [
        (
            TOP,
            "completed exchanges per second",
            max_rate,
            format!("{max_rate:.0}/s"),
        ),
        (
            TOP + PANEL + GAP,
            "latency of the completing leg (ms): p50 blue, p99 red",
            max_lat,
            format!("{max_lat:.3} ms"),
        ),
    ];
    for (top, title, _, max_label) in &panels {
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{:.1}">{title}</text>"#,
            top - 8.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="4" y="{:.1}">{max_label}</text>"#,
            top + 12.0
        );
        let _ = writeln!(svg, r#"<text x="4" y="{:.1}">0</text>"#, top + PANEL);
    }
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{:.1}">time (s), 0 .. {}</text>"#,
        height - 15.0,
        series.len()
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#2a7" stroke-width="2" points="{}"/>"##,
        line(TOP, max_rate, &|s| s.completed as f64)
    );
    let lat_top = TOP + PANEL + GAP;
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#27c" stroke-width="2" points="{}"/>"##,
        line(lat_top, max_lat, &|s| s.p50_ms)
    );
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#c33" stroke-width="2" points="{}"/>"##,
        line(lat_top, max_lat, &|s| s.p99_ms)
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g6_matches_iostream_default_output() {
        assert_eq!(format_g6(5489.4612), "5489.46");
        assert_eq!(format_g6(99.4775), "99.4775");
        assert_eq!(format_g6(75.55041), "75.5504");
        assert_eq!(format_g6(0.0), "0");
        assert_eq!(format_g6(100.0), "100");
        assert_eq!(format_g6(1234567.0), "1.23457e+06");
        assert_eq!(format_g6(0.000012345), "1.2345e-05");
        assert_eq!(format_g6(f64::NAN), "-nan");
    }

    fn summary() -> Summary {
        let mut offer = ExchangeStats::default();
        offer.sent += 10;
        for _ in 0..9 {
            offer.record_delay(1_500_000);
        }
        let mut ack = ExchangeStats::default();
        ack.sent += 9;
        for _ in 0..9 {
            ack.record_delay(500_000);
        }
        Summary {
            exchanges: vec![
                (ExchangeKind::DiscoverOffer, offer),
                (ExchangeKind::RequestAck, ack),
            ],
            malformed: 0,
            completed: 9,
            duration: Duration::from_secs(2),
            expected_rate: None,
            initial_only: false,
            family: Family::V4,
            avalanche: false,
            retransmissions: 0,
            clients: 9,
            threads: 2,
            series: vec![SecondSample {
                second: 0,
                completed: 9,
                p50_ms: 0.5,
                p99_ms: 0.5,
            }],
            exit_reason: "",
            exit_code: 3,
        }
    }

    #[test]
    fn text_report_has_perfdhcp_lines_in_perfdhcp_order() {
        let text = perfdhcp_text(&summary());
        let expected_prefix = "***Rate statistics***\nRate: 4.5 4-way exchanges/second\n\
            ***Malformed Packets***\nMalformed packets: 0\n\
            ***Statistics for: DISCOVER-OFFER***\nsent packets: 10\nreceived packets: 9\n\
            drops: 1\ndrops ratio: 10 %\norphans: 0\nrejected leases: 0\n\
            non unique addresses: 0\n\nmin delay: 1.500 ms\navg delay: 1.500 ms\n\
            max delay: 1.500 ms\nstd deviation: 0.000 ms\ncollected packets: 0\n\n\
            ***Statistics for: REQUEST-ACK***\nsent packets: 9\nreceived packets: 9\n\
            drops: 0\ndrops ratio: 0.000 %\n";
        assert!(text.starts_with(expected_prefix), "got:\n{text}");
        assert!(text.contains("REQUEST-ACK: p50 0.500 ms"));
    }

    #[test]
    fn avalanche_summary_matches_perfdhcp_lines() {
        let mut s = summary();
        s.avalanche = true;
        s.retransmissions = 1;
        s.duration = Duration::from_micros(61_604_902);
        let text = perfdhcp_text(&s);
        assert!(
            text.contains(
                "collected packets: 0\n\nIt took 00:01:01.604902 to provision 9 clients. \n\
                 Requests sent + resent: 19\nRequests resent: 1\nResponses received: 18\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn expected_rate_line_matches_perfdhcp() {
        let mut s = summary();
        s.expected_rate = Some(500);
        let text = perfdhcp_text(&s);
        assert!(
            text.contains("Rate: 4.5 4-way exchanges/second, expected rate: 500\n\n***Malformed")
        );
    }

    #[test]
    fn json_report_carries_counts_and_percentiles() {
        let v = json_report(&summary());
        assert_eq!(v["exchanges"]["discover-offer"]["sent"], 10);
        assert_eq!(v["exchanges"]["discover-offer"]["drops"], 1);
        assert_eq!(v["exchanges"]["request-ack"]["delay-ms"]["p99"], 0.5);
        assert_eq!(v["rate"], 4.5);
        assert_eq!(v["exit-code"], 3);
        assert_eq!(v["series"][0]["completed"], 9);
    }

    #[test]
    fn svg_has_three_polylines_with_a_point_per_second() {
        let series: Vec<SecondSample> = (0..5)
            .map(|i| SecondSample {
                second: i,
                completed: 100 * i,
                p50_ms: 1.0,
                p99_ms: 2.0,
            })
            .collect();
        let svg = svg_plot(&series);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        let first = svg.split("points=\"").nth(1).unwrap_or("");
        let points = first.split('"').next().unwrap_or("");
        assert_eq!(points.split(' ').count(), 5);
    }
}

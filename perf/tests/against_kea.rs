//! The generator against a real Kea 2.2 in a private network namespace: what it counts must
//! agree with what Kea counts, its outputs must have the promised shape, and its exit codes
//! must be perfdhcp's.

mod common;

use common::{kea_or_skip, run_bounded, stdout_json, Family, GENERATOR};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn completed_exchanges_match_kea_statistics() {
    let Some(kea) = kea_or_skip("completed_exchanges_match_kea_statistics", Family::V4) else {
        return;
    };
    let out = kea.run_generator(&["-R", "300", "-n", "300", "-r", "2000", "--json"], LIMIT);
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "report: {report}");
    let offers = &report["exchanges"]["discover-offer"];
    let acks = &report["exchanges"]["request-ack"];
    assert_eq!(offers["sent"], 300);
    assert_eq!(offers["received"], 300);
    assert_eq!(acks["sent"], 300);
    assert_eq!(acks["received"], 300);
    assert_eq!(report["completed"], 300);
    // Kea's own counters (ARM 8.8): every DISCOVER answered, every REQUEST ACKed, one
    // address per distinct client.
    assert_eq!(kea.statistic("pkt4-discover-received"), Ok(300));
    assert_eq!(kea.statistic("pkt4-offer-sent"), Ok(300));
    assert_eq!(kea.statistic("pkt4-ack-sent"), Ok(300));
    assert_eq!(kea.statistic("subnet[1].assigned-addresses"), Ok(300));
}

#[test]
fn text_report_has_perfdhcp_structure_and_exit_reason() {
    let Some(kea) = kea_or_skip(
        "text_report_has_perfdhcp_structure_and_exit_reason",
        Family::V4,
    ) else {
        return;
    };
    let out = kea.run_generator(&["-R", "50", "-n", "50", "-x", "e"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let expected_order = [
        "Scenario: basic.",
        "Reached max requests limit.",
        "***Rate statistics***",
        "***Malformed Packets***",
        "Malformed packets: 0",
        "***Statistics for: DISCOVER-OFFER***",
        "sent packets: 50",
        "received packets: 50",
        "drops: 0",
        "drops ratio: 0 %",
        "orphans: 0",
        "rejected leases: 0",
        "non unique addresses: 0",
        "***Statistics for: REQUEST-ACK***",
        "sent packets: 50",
        "received packets: 50",
        "drops: 0",
        "drops ratio: 0.000 %",
    ];
    let mut at = 0;
    for want in expected_order {
        match lines.iter().skip(at).position(|l| *l == want) {
            Some(offset) => at += offset + 1,
            None => panic!("line {want:?} missing or out of order in:\n{text}"),
        }
    }
    for prefix in [
        "min delay: ",
        "avg delay: ",
        "max delay: ",
        "std deviation: ",
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"));
        let value = line
            .trim_start_matches(prefix)
            .trim_end_matches(" ms")
            .parse::<f64>();
        assert!(value.is_ok(), "{line:?} does not carry a number of ms");
    }
    let rate_line = lines
        .iter()
        .find(|l| l.starts_with("Rate: "))
        .unwrap_or_else(|| panic!("no Rate line in:\n{text}"));
    assert!(
        rate_line.ends_with(" 4-way exchanges/second"),
        "{rate_line}"
    );
}

#[test]
fn record_acks_and_plot_are_written() {
    let Some(kea) = kea_or_skip("record_acks_and_plot_are_written", Family::V4) else {
        return;
    };
    let acks = kea.dir.path().join("acks.txt");
    let plot = kea.dir.path().join("plot.svg");
    let acks_arg = acks.display().to_string();
    let plot_arg = plot.display().to_string();
    let out = kea.run_generator(
        &[
            "-R",
            "40",
            "-n",
            "40",
            "--threads",
            "2",
            "--json",
            "--record-acks",
            &acks_arg,
            "--plot",
            &plot_arg,
        ],
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["threads"], 2);
    let recorded = std::fs::read_to_string(&acks).unwrap_or_default();
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(lines.len(), 40, "{recorded}");
    let mut addresses = std::collections::BTreeSet::new();
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(fields[0].starts_with("01:00:0c:01:"), "client id of {line}");
        assert!(fields[1].starts_with("10.0."), "address of {line}");
        assert_eq!(fields[2], "4000", "Kea's valid-lifetime in {line}");
        addresses.insert(fields[1].to_string());
    }
    assert_eq!(addresses.len(), 40, "every client got its own address");
    let svg = std::fs::read_to_string(&plot).unwrap_or_default();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<polyline").count(), 3);
}

#[test]
fn renewals_and_releases_are_answered_and_counted() {
    let Some(kea) = kea_or_skip("renewals_and_releases_are_answered_and_counted", Family::V4)
    else {
        return;
    };
    let out = kea.run_generator(
        &[
            "-R", "100", "-r", "100", "-f", "30", "-F", "10", "-p", "2", "-u", "--json",
        ],
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    let renew = &report["exchanges"]["renew-ack"];
    let sent = renew["sent"].as_u64().unwrap_or(0);
    assert!(sent > 0, "{report}");
    assert_eq!(renew["received"], sent);
    assert_eq!(
        report["exchanges"]["request-ack"]["non-unique-addresses"],
        0
    );
    let releases = report["exchanges"]["release"]["sent"].as_i64().unwrap_or(0);
    assert!(releases > 0, "{report}");
    // Kea counts what reached it (ARM 8.8: pkt4-release-received).
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(kea.statistic("pkt4-release-received"), Ok(releases));
}

#[test]
fn avalanche_scenario_leases_every_client() {
    let Some(kea) = kea_or_skip("avalanche_scenario_leases_every_client", Family::V4) else {
        return;
    };
    let out = kea.run_generator(&["--scenario", "avalanche", "-R", "200", "--json"], LIMIT);
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["completed"], 200);
    assert_eq!(kea.statistic("subnet[1].assigned-addresses"), Ok(200));
}

#[test]
fn unanswered_requests_exit_with_code_3() {
    // Nothing listens on the server port: every DISCOVER is dropped. Loopback only.
    let server_port = common::free_port();
    let local_port = common::free_port();
    let out = run_bounded(
        Command::new(GENERATOR).args([
            "-R",
            "5",
            "-n",
            "5",
            "-d",
            "0.2",
            "-L",
            &local_port.to_string(),
            "-N",
            &server_port.to_string(),
            "-l",
            "127.0.0.1",
            "--json",
            "127.0.0.1",
        ]),
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 3, "{report}");
    assert_eq!(report["exchanges"]["discover-offer"]["sent"], 5);
    assert_eq!(report["exchanges"]["discover-offer"]["drops"], 5);
    assert_eq!(report["exchanges"]["discover-offer"]["collected"], 5);
}

#[test]
fn max_drop_aborts_with_code_3() {
    let server_port = common::free_port();
    let local_port = common::free_port();
    let out = run_bounded(
        Command::new(GENERATOR).args([
            "-R",
            "10",
            "-r",
            "50",
            "-p",
            "30",
            "-d",
            "0.1",
            "-D",
            "3",
            "-x",
            "e",
            "-L",
            &local_port.to_string(),
            "-N",
            &server_port.to_string(),
            "-l",
            "127.0.0.1",
            "127.0.0.1",
        ]),
        LIMIT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 3, "{text}");
    assert!(text.contains("Reached maximum drops number."), "{text}");
}

#[test]
fn bad_command_line_exits_with_code_2() {
    let out = run_bounded(
        Command::new(GENERATOR).args(["-R", "many", "127.0.0.1"]),
        LIMIT,
    );
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-R"), "{err}");
}

#[test]
fn periodic_report_prints_perfdhcp_interval_lines() {
    let Some(kea) = kea_or_skip("periodic_report_prints_perfdhcp_interval_lines", Family::V4)
    else {
        return;
    };
    let out = kea.run_generator(&["-R", "100", "-r", "100", "-p", "2", "-t", "1"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{text}");
    let periodic: Vec<&str> = text.lines().filter(|l| l.starts_with("sent: ")).collect();
    assert!(!periodic.is_empty(), "no -t line in:\n{text}");
    for line in periodic {
        // perfdhcp: "sent: 499/499; received: 499/499; drops: 0/0; rejected: 0/0"
        let fields: Vec<&str> = line.split("; ").collect();
        let names: Vec<&str> = fields
            .iter()
            .map(|f| f.split(": ").next().unwrap_or(""))
            .collect();
        assert_eq!(names, ["sent", "received", "drops", "rejected"], "{line}");
        for field in fields {
            let pair = field.split(": ").nth(1).unwrap_or("");
            let numbers: Vec<Result<u64, _>> = pair.split('/').map(str::parse::<u64>).collect();
            assert_eq!(numbers.len(), 2, "{line}");
            assert!(numbers.iter().all(Result::is_ok), "{line}");
        }
    }
    assert!(
        !text.contains('\r'),
        "no progress line when stdout is a pipe:\n{text}"
    );
}

#[test]
fn progress_line_is_shown_on_a_terminal() {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("SKIPPED progress_line_is_shown_on_a_terminal: script(1) not installed");
        return;
    }
    let Some(kea) = kea_or_skip("progress_line_is_shown_on_a_terminal", Family::V4) else {
        return;
    };
    // script(1) gives the generator a pseudo-terminal as stdout.
    let command = format!(
        "{GENERATOR} -R 100 -r 100 -p 2 -l 127.0.0.1 -N {} 127.0.0.1",
        kea.port
    );
    let out = run_bounded(
        Command::new("ip").args([
            "netns",
            "exec",
            &kea.ns,
            "script",
            "-q",
            "-e",
            "-c",
            &command,
            "/dev/null",
        ]),
        LIMIT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{text}");
    assert!(
        text.contains("\r   1.0s sent "),
        "no progress line in:\n{text:?}"
    );
    assert!(text.contains(" completed "), "{text:?}");
    assert!(text.contains("***Rate statistics***"), "{text:?}");
}

#[test]
fn text_report_structure_matches_real_perfdhcp() {
    let Some(kea) = kea_or_skip("text_report_structure_matches_real_perfdhcp", Family::V4) else {
        return;
    };
    for args in [
        &["-R", "100", "-r", "100", "-p", "2"][..],
        &["-R", "100", "-r", "100", "-f", "30", "-F", "10", "-p", "2"][..],
        &["--scenario", "avalanche", "-R", "300"][..],
    ] {
        common::assert_same_report_shape_as_perfdhcp(&kea, args);
    }
}

#[test]
fn replies_reach_a_local_port_other_than_67_through_rfc8357() {
    let Some(kea) = kea_or_skip(
        "replies_reach_a_local_port_other_than_67_through_rfc8357",
        Family::V4,
    ) else {
        return;
    };
    let local_port = common::free_port().to_string();
    let out = kea.run_generator(
        &["-R", "40", "-n", "40", "-L", &local_port, "--json"],
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["exchanges"]["request-ack"]["received"], 40);
    assert_eq!(kea.statistic("pkt4-ack-sent"), Ok(40));
}

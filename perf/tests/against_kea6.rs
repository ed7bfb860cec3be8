//! DHCPv6 through a simulated relay (perfdhcp -6 -A 1) against a real Kea 2.2 in a private
//! network namespace: counts agree with Kea's statistics for SARR, rapid commit, renewals
//! and releases, with addresses and delegated prefixes.

mod common;

use common::{kea6_on_link_or_skip, kea_or_skip, stdout_json, Family};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn sarr_with_address_and_prefix_matches_kea_statistics() {
    let Some(kea) = kea_or_skip(
        "sarr_with_address_and_prefix_matches_kea_statistics",
        Family::V6,
    ) else {
        return;
    };
    let acks = kea.dir.path().join("acks.txt");
    let acks_arg = acks.display().to_string();
    let out = kea.run_generator(
        &[
            "-e",
            "address-and-prefix",
            "-R",
            "200",
            "-n",
            "200",
            "--record-acks",
            &acks_arg,
            "--json",
        ],
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["family"], 6);
    assert_eq!(report["exchanges"]["solicit-advertise"]["received"], 200);
    assert_eq!(report["exchanges"]["request-reply"]["received"], 200);
    assert_eq!(report["completed"], 200);
    // Kea's own counters (ARM "Statistics in the DHCPv6 Server").
    assert_eq!(kea.statistic("pkt6-advertise-sent"), Ok(200));
    assert_eq!(kea.statistic("pkt6-reply-sent"), Ok(200));
    assert_eq!(kea.statistic("subnet[1].assigned-nas"), Ok(200));
    assert_eq!(kea.statistic("subnet[1].assigned-pds"), Ok(200));
    let recorded = std::fs::read_to_string(&acks).unwrap_or_default();
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(lines.len(), 400, "one line per address and one per prefix");
    assert_eq!(lines.iter().filter(|l| l.contains("/56 ")).count(), 200);
    assert!(lines
        .iter()
        .all(|l| l.starts_with("00:01:00:01:") && l.ends_with(" 4000")));
}

#[test]
fn rapid_commit_completes_in_two_messages() {
    let Some(kea) = kea_or_skip("rapid_commit_completes_in_two_messages", Family::V6) else {
        return;
    };
    let out = kea.run_generator(&["-i", "-c", "-R", "50", "-n", "50", "--json"], LIMIT);
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["completed"], 50);
    assert_eq!(kea.statistic("pkt6-advertise-sent"), Ok(0));
    assert_eq!(kea.statistic("pkt6-reply-sent"), Ok(50));
    assert_eq!(kea.statistic("subnet[1].assigned-nas"), Ok(50));
}

#[test]
fn renewals_and_releases_are_answered_and_counted() {
    let Some(kea) = kea_or_skip(
        "v6 renewals_and_releases_are_answered_and_counted",
        Family::V6,
    ) else {
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
    let renew = &report["exchanges"]["renew-reply"];
    let renews = renew["sent"].as_i64().unwrap_or(0);
    assert!(renews > 0, "{report}");
    assert_eq!(renew["received"], renews);
    let release = &report["exchanges"]["release-reply"];
    let releases = release["sent"].as_i64().unwrap_or(0);
    assert!(releases > 0, "{report}");
    assert_eq!(release["received"], releases);
    assert_eq!(
        report["exchanges"]["request-reply"]["non-unique-addresses"],
        0
    );
    assert_eq!(kea.statistic("pkt6-renew-received"), Ok(renews));
    assert_eq!(kea.statistic("pkt6-release-received"), Ok(releases));
}

#[test]
fn text_report_structure_matches_real_perfdhcp() {
    let Some(kea) = kea_or_skip("v6 text_report_structure_matches_real_perfdhcp", Family::V6)
    else {
        return;
    };
    for args in [
        &["-R", "100", "-r", "100", "-p", "2"][..],
        &[
            "-e",
            "address-and-prefix",
            "-R",
            "100",
            "-r",
            "100",
            "-f",
            "20",
            "-F",
            "10",
            "-p",
            "2",
        ][..],
    ] {
        common::assert_same_report_shape_as_perfdhcp(&kea, args);
    }
}

#[test]
fn replies_reach_a_local_port_other_than_547_through_rfc8357() {
    let Some(kea) = kea_or_skip(
        "replies_reach_a_local_port_other_than_547_through_rfc8357",
        Family::V6,
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
    assert_eq!(report["exchanges"]["request-reply"]["received"], 40);
    assert_eq!(kea.statistic("pkt6-reply-sent"), Ok(40));
}

#[test]
fn clients_on_a_link_lease_through_multicast() {
    let Some(kea) = kea6_on_link_or_skip("clients_on_a_link_lease_through_multicast") else {
        return;
    };
    let out = kea.run_generator(
        &[
            "-e",
            "address-and-prefix",
            "-R",
            "200",
            "-n",
            "200",
            "--json",
        ],
        LIMIT,
    );
    let report = stdout_json(&out);
    assert_eq!(code(&out), 0, "{report}");
    assert_eq!(report["completed"], 200);
    assert_eq!(report["threads"], 2);
    assert_eq!(kea.statistic("pkt6-solicit-received"), Ok(200));
    assert_eq!(kea.statistic("pkt6-reply-sent"), Ok(200));
    assert_eq!(kea.statistic("subnet[1].assigned-nas"), Ok(200));
    assert_eq!(kea.statistic("subnet[1].assigned-pds"), Ok(200));
}

#[test]
fn clients_on_a_link_report_like_perfdhcp() {
    let Some(kea) = kea6_on_link_or_skip("clients_on_a_link_report_like_perfdhcp") else {
        return;
    };
    common::assert_same_report_shape_as_perfdhcp(
        &kea,
        &["-R", "100", "-r", "100", "-f", "20", "-F", "10", "-p", "2"],
    );
}

//! The exact environment of every hook point, transcribed from the contracts: the
//! kea-hook-runscript README's "For each Kea hook point" tables and ARM 17.25's lists for
//! libdhcp_run_script.so, with the values in each contract's format.

mod common;

use common::tables::{deleted_lease, kea_expected, readme_expected};
use common::*;
use corelease_hooks::{script_env, Contract, HookContext, HookPoint};
use std::net::Ipv4Addr;

#[test]
fn every_hook_point_gets_exactly_the_readme_variables_of_kea_hook_runscript() {
    let l = lease();
    let leases = [lease()];
    let deleted = [deleted_lease()];
    let ctx = full_context(query(Some(b"ignored-lease-has-one")), &l, &leases, &deleted);
    for point in HookPoint::ALL4 {
        let got = script_env(Contract::KeaHookRunscript, point, &ctx);
        match readme_expected(point) {
            Some(want) => assert_eq!(got, want, "{}", point.name()),
            None => assert!(
                got.is_empty(),
                "{} is not a README hook point",
                point.name()
            ),
        }
    }
}

#[test]
fn every_hook_point_gets_exactly_the_arm_variables_of_kea_run_script() {
    let l = lease();
    let leases = [lease()];
    let deleted = [deleted_lease()];
    let ctx = full_context(query(None), &l, &leases, &deleted);
    for point in HookPoint::ALL4 {
        let got = script_env(Contract::KeaRunScript, point, &ctx);
        match kea_expected(point) {
            Some(want) => assert_eq!(got, want, "{}", point.name()),
            None => assert!(
                got.is_empty(),
                "{} is not a run_script hook point",
                point.name()
            ),
        }
    }
}

#[test]
fn discover_at_lease4_select_is_a_fake_allocation_and_an_old_lease_is_expired() {
    let mut l = lease();
    l.valid_lifetime = 10; // expired at 1_700_000_010, before NOW
    let mut q = query(None);
    q.message_type = Some(1);
    q.giaddr = Ipv4Addr::UNSPECIFIED;
    let ctx = HookContext {
        fake_allocation: true,
        ..full_context(q, &l, &[], &[])
    };
    let env = script_env(Contract::KeaHookRunscript, HookPoint::Lease4Select, &ctx);
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(get("KEA_QUERY4_TYPE").as_deref(), Some("DHCPDISCOVER"));
    assert_eq!(get("KEA_FAKE_ALLOCATION").as_deref(), Some("1"));
    assert_eq!(get("KEA_LEASE4_IS_EXPIRED").as_deref(), Some("1"));
    assert_eq!(get("KEA_QUERY4_RELAYED").as_deref(), Some("0"));
}

#[test]
fn missing_arguments_leave_the_variables_present_and_empty() {
    let ctx = HookContext::new(NOW);
    let env = script_env(Contract::KeaHookRunscript, HookPoint::Lease4Renew, &ctx);
    let want = readme_expected(HookPoint::Lease4Renew).unwrap_or_default();
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, want_names);
    assert!(env.iter().all(|(_, v)| v.is_empty()));

    let env = script_env(Contract::KeaRunScript, HookPoint::Leases4Committed, &ctx);
    let find = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(find("LEASES4_SIZE"), Some(b"0".to_vec()));
    assert_eq!(find("DELETED_LEASES4_SIZE"), Some(b"0".to_vec()));
    assert_eq!(find("QUERY4_TYPE"), Some(Vec::new()));
    assert_eq!(
        find("QUERY4_OPTION_82"),
        None,
        "option 82 only when present"
    );
}

#[test]
fn without_a_lease_hostname_the_query_hostname_goes_through_verbatim_up_to_a_nul() {
    let mut l = lease();
    l.hostname = None;
    let raw: &[u8] = b"a\xff\xfe\"'$(x)\nb\0after-nul";
    let ctx = full_context(query(Some(raw)), &l, &[], &[]);
    let env = script_env(Contract::KeaHookRunscript, HookPoint::Lease4Renew, &ctx);
    let host = env
        .iter()
        .find(|(n, _)| n == "KEA_LEASE4_HOSTNAME")
        .map(|(_, v)| v.clone());
    assert_eq!(host, Some(b"a\xff\xfe\"'$(x)\nb".to_vec()));
}

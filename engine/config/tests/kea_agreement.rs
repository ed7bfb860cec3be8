//! Our verdict on each file under tests/data/kea/{accept,reject} must match Kea's. Every file
//! is one where Kea 2.2 (installed here) and Kea 3.0 agree. When `kea-dhcp4` is installed,
//! `kea-dhcp4 -t` is run on each file too, so the expectation itself is checked against Kea.

mod common;
use common::data_dir;
use corelease_config::load_dhcp4_file;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn kea_binary() -> Option<PathBuf> {
    ["/usr/sbin/kea-dhcp4", "/usr/local/sbin/kea-dhcp4"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// `kea-dhcp4 -t file` accepted the file; bounded to 20 s per file.
fn kea_accepts(kea: &Path, file: &Path) -> bool {
    let mut child = Command::new(kea)
        .arg("-t")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kea-dhcp4 -t {} did not finish in 20 s", file.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn files_kea_accepts_load() {
    let files = json_files(&data_dir().join("kea/accept"));
    assert!(files.len() >= 3);
    let kea = kea_binary();
    for file in files {
        if let Err(e) = load_dhcp4_file(&file) {
            panic!("{} should load:\n{e}", file.display());
        }
        if let Some(kea) = &kea {
            assert!(
                kea_accepts(kea, &file),
                "kea-dhcp4 -t rejects {}",
                file.display()
            );
        }
    }
}

#[test]
fn files_kea_rejects_are_rejected() {
    let files = json_files(&data_dir().join("kea/reject"));
    assert!(files.len() >= 20);
    let kea = kea_binary();
    for file in files {
        assert!(
            load_dhcp4_file(&file).is_err(),
            "{} should be rejected",
            file.display()
        );
        if let Some(kea) = &kea {
            assert!(
                !kea_accepts(kea, &file),
                "kea-dhcp4 -t accepts {}",
                file.display()
            );
        }
    }
}

#[test]
fn full_example_resolves_as_kea_would() {
    let loaded = load_dhcp4_file(&data_dir().join("kea/accept/full.json")).unwrap();
    let c = &loaded.config;
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    assert_eq!(c.subnets.len(), 4);
    let s1 = &c.subnets[0];
    assert_eq!(s1.valid_lifetime.min, 3000);
    assert_eq!(s1.valid_lifetime.default, 4000);
    assert_eq!(s1.valid_lifetime.max, 5000);
    assert_eq!((s1.renew_timer, s1.rebind_timer), (Some(1000), Some(2000)));
    assert_eq!(s1.pools[1].first.to_string(), "192.0.2.128");
    assert_eq!(s1.pools[1].last.to_string(), "192.0.2.191");
    assert_eq!(
        &*s1.pools[1].options.get(3).unwrap().data,
        &[192, 0, 2, 129]
    );
    assert_eq!(s1.user_context.as_ref().unwrap()["site"], "a");
    assert_eq!(c.subnets[1].valid_lifetime.default, 3500);
    assert!(s1.authoritative);
    assert!(!c.subnets[2].authoritative);
    assert_eq!(c.subnets[2].interface.as_deref(), Some("lo"));
    assert!(!c.echo_client_id);
    assert_eq!(c.multi_threading.thread_pool_size, 4);
    assert_eq!(c.expired_leases_processing.max_reclaim_time, 100);
    assert_eq!(c.loggers[0].outputs, ["stdout"]);
    assert_eq!(c.loggers[0].severity, "INFO");
    assert_eq!(
        c.loggers[0].severity_level,
        corelease_config::Severity::Info
    );
    assert_eq!(
        c.loggers[0].output_options[0].pattern.as_deref(),
        Some("%m\n")
    );
    assert_eq!(
        &*c.global_options.get(2).unwrap().data,
        &(-3600i32).to_be_bytes()
    );
    assert_eq!(
        &*c.global_options.get(223).unwrap().data,
        &[1, 4, 192, 0, 2, 9]
    );
    assert_eq!(&*c.global_options.get(67).unwrap().data, b"a,b");
}

#[test]
fn unsupported_example_lists_each_unsupported_key() {
    let loaded = load_dhcp4_file(&data_dir().join("kea/accept/unsupported.json")).unwrap();
    let paths: Vec<&str> = loaded.unsupported.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            // "hooks-libraries": [] is empty, so it changes nothing and is not listed;
            // client classes and reservations are supported.
            "Dhcp4.ddns-send-updates",
        ]
    );
}

//! `corelease`: the command line. Subcommands: `dhcp4` (the server, with Kea's switches),
//! `dhcp6` (the DHCPv6 server, same switches), `perf` (the perfdhcp-compatible load generator),
//! `lease` (lease store import/export). This file only parses arguments and dispatches; the
//! servers live in `server4.rs` and `server6.rs`.

mod control4;
mod control6;
mod control_common;
mod dhcp4o6;
mod ifaces;
mod lease_startup;
mod lfc;
mod log_output;
mod raw4;
mod reload;
mod server4;
mod server6;
mod shard_jobs;

use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "\
corelease — a thread-per-core DHCP server for Kea configurations

Usage:
  corelease dhcp4 [-c FILE] [-t FILE] [-p PORT] [-P PORT] [-d] [-v] [-V]
  corelease dhcp6 [-c FILE] [-t FILE] [-p PORT] [-P PORT] [-d] [-v] [-V]
  corelease perf [perfdhcp options] SERVER
  corelease lease export -c FILE --format kea-csv|kea2-csv
  corelease lease import -c FILE LEASES.csv
  corelease --version

dhcp4 switches (as kea-dhcp4, ARM 9.1):
  -c FILE   configuration file (Kea JSON); without it an embedded default runs on loopback
  -t FILE   check the configuration file and exit (0 valid, 1 invalid)
  -p PORT   server port (default 67; 6767 for the embedded default)
  -P PORT   client port (default 68)
  -d        verbose (debug) logging
  -v        print the version and exit
  -V        print the extended version and exit

dhcp6 takes the same switches (as kea-dhcp6, ARM 10.1); its server port defaults to 547
(5547 for the embedded default) and its client port to 546. `lease export|import` reads a
Dhcp4 or a Dhcp6 configuration and uses the leases4 or leases6 CSV accordingly.
";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(1);
    }
    let sub = args.remove(0);
    let code = match sub.to_str() {
        Some("dhcp4") => server4::main(args),
        Some("dhcp6") => server6::main(args),
        Some("perf") => corelease_perf::main_with_args(args),
        Some("lease") => server4::lease_main(args),
        Some("--version") | Some("-v") | Some("version") => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("-h") | Some("--help") | Some("help") => {
            print!("{USAGE}");
            0
        }
        _ => {
            eprintln!("corelease: unknown subcommand {sub:?}\n");
            eprint!("{USAGE}");
            1
        }
    };
    // The last lines (shutdown statistics) are still queued for the log writer.
    log_output::flush();
    ExitCode::from(code.clamp(0, 255) as u8)
}

//! Kea memfile lease files (`leases4.csv`), read and written with Kea's rules (ARM 9.2.2 "Memfile
//! - Basic Storage for Leases"; Kea's `CSVLeaseFile4`).
//!
//! Reading: the header names the columns. Kea 2.x writes `address,hwaddr,client_id,
//! valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context`, Kea 3.0 adds
//! `pool_id`; older files may stop after `hostname` (the minimum Kea accepts) and then `state`
//! defaults to 0. Columns this reader does not know are ignored. The file is a journal: the last
//! row for an address wins, and a row with `valid_lifetime` 0 deletes the address. A row that
//! does not parse is skipped and reported, as Kea skips it (`max-row-errors` 0). `hostname` and
//! `user_context` carry commas escaped as `&#x2c`. `expire = cltt + valid_lifetime`.
//!
//! Writing: the Kea 3.0 header, one row per lease.

use crate::StorageError;
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};

/// Kea 3.0 leases4 header, as `write_leases4` emits it.
pub const LEASES4_HEADER_3_0: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,\
fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id";
/// Kea 2.x leases4 header (schema 2.1, no pool_id).
pub const LEASES4_HEADER_2_X: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,\
fqdn_fwd,fqdn_rev,hostname,state,user_context";

/// Columns Kea requires in every leases4 file (its minimum valid schema ends at hostname).
const REQUIRED4: [&str; 9] = [
    "address",
    "hwaddr",
    "client_id",
    "valid_lifetime",
    "expire",
    "subnet_id",
    "fqdn_fwd",
    "fqdn_rev",
    "hostname",
];

/// A row that was skipped, and why (Kea logs these and goes on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A leases4 file after Kea's replay rules.
#[derive(Clone, Debug, Default)]
pub struct Leases4File {
    /// Live leases, ordered by address.
    pub leases: Vec<Lease>,
    /// Addresses whose last row deleted them (valid_lifetime 0), ordered.
    pub deleted: Vec<Ipv4Addr>,
    /// Data rows read (excluding the header and blank lines).
    pub rows: u64,
    pub skipped: Vec<RowError>,
}

struct Columns4 {
    address: usize,
    hwaddr: usize,
    client_id: usize,
    valid_lifetime: usize,
    expire: usize,
    subnet_id: usize,
    fqdn_fwd: usize,
    fqdn_rev: usize,
    hostname: usize,
    state: Option<usize>,
    user_context: Option<usize>,
    pool_id: Option<usize>,
    count: usize,
}

fn parse_header4(line: &str) -> Result<Columns4, StorageError> {
    let names: Vec<&str> = line.trim_end_matches(['\r', '\n']).split(',').collect();
    let find = |name: &str| names.iter().position(|n| n.trim() == name);
    let missing: Vec<&str> = REQUIRED4
        .iter()
        .copied()
        .filter(|n| find(n).is_none())
        .collect();
    let required = |name: &str| {
        find(name).ok_or_else(|| StorageError::CsvHeader {
            reason: format!(
                "missing column(s) {} (is this a Kea leases4 file? expected a header like \"{LEASES4_HEADER_3_0}\")",
                missing.join(", ")
            ),
        })
    };
    Ok(Columns4 {
        address: required("address")?,
        hwaddr: required("hwaddr")?,
        client_id: required("client_id")?,
        valid_lifetime: required("valid_lifetime")?,
        expire: required("expire")?,
        subnet_id: required("subnet_id")?,
        fqdn_fwd: required("fqdn_fwd")?,
        fqdn_rev: required("fqdn_rev")?,
        hostname: required("hostname")?,
        state: find("state"),
        user_context: find("user_context"),
        pool_id: find("pool_id"),
        count: names.len(),
    })
}

/// Kea's `CSVRow::unescapeCharacters`: `&#x` followed by two hex digits is that byte.
pub fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find("&#x") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let code = after
            .get(3..5)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match code {
            Some(byte) if byte.is_ascii() => {
                out.push(char::from(byte));
                rest = after.get(5..).unwrap_or("");
            }
            _ => {
                out.push_str("&#x");
                rest = after.get(3..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Kea's `CSVRow::escapeCharacters` for the characters that would break a row: commas (as
/// Kea does) and line breaks (which Kea's reader decodes the same way).
pub fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            ',' | '\n' | '\r' => {
                let _ = write!(out, "&#x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn field<'a>(fields: &[&'a str], index: usize) -> &'a str {
    fields.get(index).copied().unwrap_or("")
}

fn parse_row4(fields: &[&str], cols: &Columns4) -> Result<Lease, String> {
    let address = field(fields, cols.address);
    let addr: Ipv4Addr = address
        .trim()
        .parse()
        .map_err(|_| format!("address {address:?} is not an IPv4 address"))?;
    let hw_text = field(fields, cols.hwaddr);
    let hwaddr = HwAddr::parse(hw_text, 1)
        .ok_or_else(|| format!("hwaddr {hw_text:?} is not a hardware address"))?;
    let cid_text = field(fields, cols.client_id);
    let client_id = if cid_text.trim().is_empty() {
        None
    } else {
        Some(
            ClientId::parse(cid_text)
                .ok_or_else(|| format!("client_id {cid_text:?} is not hex"))?,
        )
    };
    let number = |index: usize, name: &str| -> Result<u64, String> {
        let text = field(fields, index);
        text.trim()
            .parse::<u64>()
            .map_err(|_| format!("{name} {text:?} is not a number"))
    };
    let valid = number(cols.valid_lifetime, "valid_lifetime")?;
    let valid_lifetime =
        u32::try_from(valid).map_err(|_| format!("valid_lifetime {valid} is out of range"))?;
    let expire = number(cols.expire, "expire")?;
    let cltt = expire
        .checked_sub(valid)
        .ok_or_else(|| format!("expire {expire} is before valid_lifetime {valid}"))?;
    let subnet = number(cols.subnet_id, "subnet_id")?;
    let subnet_id =
        u32::try_from(subnet).map_err(|_| format!("subnet_id {subnet} is out of range"))?;
    let flag = |index: usize, name: &str| -> Result<bool, String> {
        let text = field(fields, index);
        parse_bool(text).ok_or_else(|| format!("{name} {text:?} is not 0 or 1"))
    };
    let fqdn_fwd = flag(cols.fqdn_fwd, "fqdn_fwd")?;
    let fqdn_rev = flag(cols.fqdn_rev, "fqdn_rev")?;
    let hostname = unescape(field(fields, cols.hostname));
    let state = match cols.state {
        Some(i) if !field(fields, i).trim().is_empty() => {
            let code = number(i, "state")?;
            u32::try_from(code)
                .ok()
                .and_then(LeaseState::from_code)
                .ok_or_else(|| format!("state {code} is not a Kea lease state"))?
        }
        _ => LeaseState::Default,
    };
    let user_context = match cols.user_context {
        Some(i) => {
            let text = unescape(field(fields, i));
            let trimmed = text.trim();
            if trimmed.is_empty() {
                None
            } else if trimmed.starts_with('{') && trimmed.ends_with('}') {
                Some(text.into_boxed_str())
            } else {
                // Kea: "user context '...' is not a JSON map".
                return Err(format!("user_context {trimmed:?} is not a JSON map"));
            }
        }
        None => None,
    };
    let pool_id = match cols.pool_id {
        Some(i) if !field(fields, i).trim().is_empty() => {
            let id = number(i, "pool_id")?;
            u32::try_from(id).map_err(|_| format!("pool_id {id} is out of range"))?
        }
        _ => 0,
    };
    // Kea: a lease needs a hardware address or a client-id unless it is declined.
    if hwaddr.is_empty() && client_id.is_none() && state != LeaseState::Declined {
        return Err(format!(
            "lease {addr} has neither hardware address nor client id"
        ));
    }
    Ok(Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(addr),
        prefix_len: 32,
        iaid: 0,
        hwaddr: (!hwaddr.is_empty()).then_some(hwaddr),
        client_id,
        valid_lifetime,
        preferred_lifetime: 0,
        cltt,
        subnet_id: SubnetId(subnet_id),
        pool_id: PoolId(pool_id),
        state,
        hostname: (!hostname.is_empty()).then(|| hostname.into_boxed_str()),
        fqdn_fwd,
        fqdn_rev,
        user_context,
    })
}

/// Reads a leases4 file with Kea's replay rules, keeping deletions and skipped rows.
pub fn read_leases4_file(mut r: impl BufRead) -> Result<Leases4File, StorageError> {
    let mut line = String::new();
    let io = |source| StorageError::CsvIo { source };
    if r.read_line(&mut line).map_err(io)? == 0 {
        return Err(StorageError::CsvHeader {
            reason: "the file is empty".into(),
        });
    }
    let cols = parse_header4(&line)?;
    let mut latest: HashMap<Ipv4Addr, Option<Lease>> = HashMap::new();
    let mut out = Leases4File::default();
    let mut line_no = 1u64;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            continue;
        }
        out.rows += 1;
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != cols.count {
            out.skipped.push(RowError {
                line: line_no,
                reason: format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    cols.count
                ),
            });
            continue;
        }
        match parse_row4(&fields, &cols) {
            Ok(lease) => {
                let IpAddr::V4(addr) = lease.addr else {
                    continue;
                };
                // Kea's LeaseFileLoader: valid lifetime 0 removes the lease, otherwise the
                // row replaces whatever was read before for the address.
                if lease.valid_lifetime == 0 {
                    latest.insert(addr, None);
                } else {
                    latest.insert(addr, Some(lease));
                }
            }
            Err(reason) => out.skipped.push(RowError {
                line: line_no,
                reason,
            }),
        }
    }
    let mut entries: Vec<(Ipv4Addr, Option<Lease>)> = latest.into_iter().collect();
    entries.sort_by_key(|(addr, _)| *addr);
    for (addr, lease) in entries {
        match lease {
            Some(lease) => out.leases.push(lease),
            None => out.deleted.push(addr),
        }
    }
    Ok(out)
}

/// Reads a Kea leases4 file (2.x or 3.0 header) into its live leases, ordered by address.
pub fn read_leases4(r: impl BufRead) -> Result<Vec<Lease>, StorageError> {
    read_leases4_file(r).map(|f| f.leases)
}

/// Writes `leases` (v4 ones; others are skipped) as a Kea 3.0 leases4 file.
pub fn write_leases4(w: impl Write, leases: &[Lease]) -> Result<(), StorageError> {
    write_leases4_as(w, leases, KeaSchema::V3_0)
}

/// Which Kea's lease file layout to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeaSchema {
    /// Kea 3.0: with `pool_id`.
    V3_0,
    /// Kea 2.x: without `pool_id` (Kea 2.x refuses a header with columns it does not know, so
    /// this is the way back to a 2.x server).
    V2,
}

/// Writes `leases` (v4 ones) as a leases4 file of the given Kea schema.
pub fn write_leases4_as(
    mut w: impl Write,
    leases: &[Lease],
    schema: KeaSchema,
) -> Result<(), StorageError> {
    let io = |source| StorageError::CsvIo { source };
    let header = match schema {
        KeaSchema::V3_0 => LEASES4_HEADER_3_0,
        KeaSchema::V2 => LEASES4_HEADER_2_X,
    };
    writeln!(w, "{header}").map_err(io)?;
    let mut row = String::with_capacity(256);
    for lease in leases.iter().filter(|l| l.kind == LeaseKind::V4) {
        row.clear();
        let _ = write!(
            row,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            lease.addr,
            lease.hwaddr.map(|h| h.to_string()).unwrap_or_default(),
            lease
                .client_id
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            lease.valid_lifetime,
            lease.expire(),
            lease.subnet_id.0,
            u8::from(lease.fqdn_fwd),
            u8::from(lease.fqdn_rev),
            escape(lease.hostname.as_deref().unwrap_or("")),
            lease.state.code(),
            escape(lease.user_context.as_deref().unwrap_or("")),
            lease.pool_id.0,
        );
        if schema == KeaSchema::V2 {
            // Drop the trailing pool_id column.
            if let Some(cut) = row.rfind(',') {
                row.truncate(cut);
            }
        }
        writeln!(w, "{row}").map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Kea 3.0 leases6 header, as `write_leases6` emits it.
pub const LEASES6_HEADER_3_0: &str = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,\
lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,\
hwaddr_source,pool_id";

/// Columns Kea requires in every leases6 file (minimum valid schema ends at hostname).
const REQUIRED6: [&str; 12] = [
    "address",
    "duid",
    "valid_lifetime",
    "expire",
    "subnet_id",
    "pref_lifetime",
    "lease_type",
    "iaid",
    "prefix_len",
    "fqdn_fwd",
    "fqdn_rev",
    "hostname",
];

/// A leases6 file after Kea's replay rules (keyed by address and lease type).
#[derive(Clone, Debug, Default)]
pub struct Leases6File {
    /// Live leases, ordered by address then type.
    pub leases: Vec<Lease>,
    /// (kind, address, prefix length) whose last row deleted them, ordered.
    pub deleted: Vec<(LeaseKind, IpAddr, u8)>,
    pub rows: u64,
    pub skipped: Vec<RowError>,
}

fn header_index<'a>(names: &'a [&'a str]) -> impl Fn(&str) -> Option<usize> + 'a {
    move |name| names.iter().position(|n| n.trim() == name)
}

fn parse_row6(fields: &[&str], col: &dyn Fn(&str) -> Option<usize>) -> Result<Lease, String> {
    let get = |name: &str| col(name).map_or("", |i| field(fields, i));
    let number = |name: &str| -> Result<u64, String> {
        let text = get(name);
        text.trim()
            .parse::<u64>()
            .map_err(|_| format!("{name} {text:?} is not a number"))
    };
    let small = |name: &str| -> Result<u32, String> {
        let n = number(name)?;
        u32::try_from(n).map_err(|_| format!("{name} {n} is out of range"))
    };
    let address = get("address");
    let addr: std::net::Ipv6Addr = address
        .trim()
        .parse()
        .map_err(|_| format!("address {address:?} is not an IPv6 address"))?;
    let duid_text = get("duid");
    let duid =
        ClientId::parse(duid_text).ok_or_else(|| format!("duid {duid_text:?} is not hex"))?;
    let valid = number("valid_lifetime")?;
    let valid_lifetime =
        u32::try_from(valid).map_err(|_| format!("valid_lifetime {valid} is out of range"))?;
    let expire = number("expire")?;
    let cltt = expire
        .checked_sub(valid)
        .ok_or_else(|| format!("expire {expire} is before valid_lifetime {valid}"))?;
    let lease_type = small("lease_type")?;
    let kind = u8::try_from(lease_type)
        .ok()
        .and_then(LeaseKind::from_code)
        .filter(|k| *k != LeaseKind::V4)
        .ok_or_else(|| format!("lease_type {lease_type} is not 0, 1 or 2"))?;
    let prefix = small("prefix_len")?;
    let prefix_len = u8::try_from(prefix)
        .ok()
        .filter(|p| *p <= 128)
        .ok_or_else(|| format!("prefix_len {prefix} is out of range"))?;
    let flag = |name: &str| -> Result<bool, String> {
        let text = get(name);
        parse_bool(text).ok_or_else(|| format!("{name} {text:?} is not 0 or 1"))
    };
    let hostname = unescape(get("hostname"));
    let state = if get("state").trim().is_empty() {
        LeaseState::Default
    } else {
        let code = small("state")?;
        LeaseState::from_code(code)
            .ok_or_else(|| format!("state {code} is not a Kea lease state"))?
    };
    // Kea: "The Empty DUID is only valid for declined leases" (the empty DUID is one 0 byte).
    if duid.as_bytes() == [0] && state != LeaseState::Declined {
        return Err(format!(
            "lease {addr} has the empty DUID but is not declined"
        ));
    }
    let hwtype = if get("hwtype").trim().is_empty() {
        1
    } else {
        u8::try_from(small("hwtype")?).map_err(|_| "hwtype is out of range".to_string())?
    };
    let hw_text = get("hwaddr");
    // Kea logs an unreadable hwaddr and carries on without it.
    let hwaddr = HwAddr::parse(hw_text, hwtype).filter(|h| !h.is_empty());
    // Kea's HWADDR_SOURCE_* bit the address was found by (absent in Kea 1.x files).
    let hwaddr = match get("hwaddr_source").trim() {
        "" => hwaddr,
        _ => {
            let source = small("hwaddr_source")?;
            hwaddr.map(|h| h.with_source(source))
        }
    };
    let user_context = {
        let text = unescape(get("user_context"));
        let trimmed = text.trim();
        if trimmed.is_empty() {
            None
        } else if trimmed.starts_with('{') && trimmed.ends_with('}') {
            Some(text.into_boxed_str())
        } else {
            return Err(format!("user_context {trimmed:?} is not a JSON map"));
        }
    };
    let pool_id = if get("pool_id").trim().is_empty() {
        0
    } else {
        small("pool_id")?
    };
    Ok(Lease {
        kind,
        addr: IpAddr::V6(addr),
        prefix_len,
        iaid: small("iaid")?,
        hwaddr,
        client_id: Some(duid),
        valid_lifetime,
        preferred_lifetime: small("pref_lifetime")?,
        cltt,
        subnet_id: SubnetId(small("subnet_id")?),
        pool_id: PoolId(pool_id),
        state,
        hostname: (!hostname.is_empty()).then(|| hostname.into_boxed_str()),
        fqdn_fwd: flag("fqdn_fwd")?,
        fqdn_rev: flag("fqdn_rev")?,
        user_context,
    })
}

/// Kea's memfile v6 identity: address and lease type code.
type Key6 = (IpAddr, u8);

/// Reads a Kea leases6 file with Kea's replay rules (last row per address and type wins,
/// valid_lifetime 0 deletes), keeping deletions and skipped rows.
pub fn read_leases6_file(mut r: impl BufRead) -> Result<Leases6File, StorageError> {
    let io = |source| StorageError::CsvIo { source };
    let mut header = String::new();
    if r.read_line(&mut header).map_err(io)? == 0 {
        return Err(StorageError::CsvHeader {
            reason: "the file is empty".into(),
        });
    }
    let names: Vec<&str> = header.trim_end_matches(['\r', '\n']).split(',').collect();
    let col = header_index(&names);
    let missing: Vec<&str> = REQUIRED6
        .iter()
        .copied()
        .filter(|n| col(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(StorageError::CsvHeader {
            reason: format!(
                "missing column(s) {} (is this a Kea leases6 file? expected a header like \"{LEASES6_HEADER_3_0}\")",
                missing.join(", ")
            ),
        });
    }
    let mut latest: HashMap<Key6, (Option<Lease>, u8)> = HashMap::new();
    let mut out = Leases6File::default();
    let mut line = String::new();
    let mut line_no = 1u64;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            continue;
        }
        out.rows += 1;
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != names.len() {
            out.skipped.push(RowError {
                line: line_no,
                reason: format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    names.len()
                ),
            });
            continue;
        }
        match parse_row6(&fields, &col) {
            Ok(lease) => {
                let key = (lease.addr, lease.kind as u8);
                let prefix_len = lease.prefix_len;
                if lease.valid_lifetime == 0 {
                    latest.insert(key, (None, prefix_len));
                } else {
                    latest.insert(key, (Some(lease), prefix_len));
                }
            }
            Err(reason) => out.skipped.push(RowError {
                line: line_no,
                reason,
            }),
        }
    }
    let mut entries: Vec<(Key6, (Option<Lease>, u8))> = latest.into_iter().collect();
    entries.sort_by_key(|(key, _)| *key);
    for ((addr, kind), (lease, prefix_len)) in entries {
        match lease {
            Some(lease) => out.leases.push(lease),
            None => {
                if let Some(kind) = LeaseKind::from_code(kind) {
                    out.deleted.push((kind, addr, prefix_len));
                }
            }
        }
    }
    Ok(out)
}

/// Reads a Kea leases6 file into its live leases.
pub fn read_leases6(r: impl BufRead) -> Result<Vec<Lease>, StorageError> {
    read_leases6_file(r).map(|f| f.leases)
}

/// Kea 2.x leases6 header (what kea-dhcp6 2.2 writes: the 3.0 one without `pool_id`).
pub const LEASES6_HEADER_2_X: &str = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,\
lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,\
hwaddr_source";

/// Writes `leases` (v6 ones; others are skipped) as a Kea 3.0 leases6 file, with each hardware
/// address's source (Kea's HWADDR_SOURCE_* bit, 0 when unknown).
pub fn write_leases6(w: impl Write, leases: &[Lease]) -> Result<(), StorageError> {
    write_leases6_as(w, leases, KeaSchema::V3_0)
}

/// Writes `leases` (v6 ones) as a leases6 file of the given Kea schema (`V2` for a Kea 2.x
/// memfile, which refuses the 3.0 `pool_id` column).
pub fn write_leases6_as(
    mut w: impl Write,
    leases: &[Lease],
    schema: KeaSchema,
) -> Result<(), StorageError> {
    let io = |source| StorageError::CsvIo { source };
    let header = match schema {
        KeaSchema::V3_0 => LEASES6_HEADER_3_0,
        KeaSchema::V2 => LEASES6_HEADER_2_X,
    };
    writeln!(w, "{header}").map_err(io)?;
    let mut row = String::with_capacity(256);
    for lease in leases.iter().filter(|l| l.kind != LeaseKind::V4) {
        row.clear();
        let (hwaddr, hwtype, hwsource) = match lease.hwaddr {
            Some(h) => (h.to_string(), h.htype().to_string(), h.source().to_string()),
            None => (String::new(), String::new(), String::new()),
        };
        let _ = write!(
            row,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            lease.addr,
            lease
                .client_id
                .as_ref()
                .map_or_else(|| "00".to_string(), |c| c.to_string()),
            lease.valid_lifetime,
            lease.expire(),
            lease.subnet_id.0,
            lease.preferred_lifetime,
            lease.kind as u8,
            lease.iaid,
            lease.prefix_len,
            u8::from(lease.fqdn_fwd),
            u8::from(lease.fqdn_rev),
            escape(lease.hostname.as_deref().unwrap_or("")),
            hwaddr,
            lease.state.code(),
            escape(lease.user_context.as_deref().unwrap_or("")),
            hwtype,
            hwsource,
            lease.pool_id.0,
        );
        if schema == KeaSchema::V2 {
            // Drop the trailing pool_id column.
            if let Some(cut) = row.rfind(',') {
                row.truncate(cut);
            }
        }
        writeln!(w, "{row}").map_err(io)?;
    }
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_unescape_are_keas() {
        assert_eq!(escape("a,b"), "a&#x2cb");
        assert_eq!(unescape("a&#x2cb&#x2c"), "a,b,");
        assert_eq!(
            unescape("{ \"a\": 1&#x2c \"b\": 2 }"),
            "{ \"a\": 1, \"b\": 2 }"
        );
        // Not an escape: kept as is.
        assert_eq!(unescape("x&#xzz"), "x&#xzz");
        assert_eq!(unescape(&escape("l1\nl2,\r")), "l1\nl2,\r");
    }

    #[test]
    fn last_row_wins_and_zero_lifetime_deletes() {
        let csv = format!(
            "{LEASES4_HEADER_2_X}\n\
             10.0.0.1,00:01:02:03:04:05,,100,1100,1,0,0,,0,\n\
             10.0.0.1,00:01:02:03:04:05,,200,1300,1,0,0,h2,0,\n\
             10.0.0.2,00:01:02:03:04:06,,100,1100,1,0,0,,0,\n\
             10.0.0.2,00:01:02:03:04:06,,0,1200,1,0,0,,0,\n"
        );
        let file = read_leases4_file(csv.as_bytes()).unwrap();
        assert_eq!(file.leases.len(), 1);
        assert_eq!(file.leases[0].valid_lifetime, 200);
        assert_eq!(file.leases[0].cltt, 1100);
        assert_eq!(file.leases[0].hostname.as_deref(), Some("h2"));
        assert_eq!(file.deleted, vec![Ipv4Addr::new(10, 0, 0, 2)]);
        assert!(file.skipped.is_empty());
    }

    #[test]
    fn oldest_header_without_state_defaults_to_assigned() {
        let csv =
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n\
                   10.0.0.9,0a:0b:0c:0d:0e:0f,01:02,60,160,3,1,1,x.example\n";
        let leases = read_leases4(csv.as_bytes()).unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].state, LeaseState::Default);
        assert_eq!(leases[0].pool_id, PoolId(0));
        assert!(leases[0].fqdn_fwd && leases[0].fqdn_rev);
        assert_eq!(leases[0].client_id, Some(ClientId::new(&[1, 2])));
    }

    #[test]
    fn bad_rows_are_skipped_with_their_line() {
        let csv = format!(
            "{LEASES4_HEADER_3_0}\n\
             10.0.0.1,00:01:02:03:04:05,,100,1100,1,0,0,,0,,5\n\
             not-an-ip,00:01:02:03:04:05,,100,1100,1,0,0,,0,,5\n\
             10.0.0.3,,,100,1100,1,0,0,,0,,5\n\
             10.0.0.4,,,100,1100,1,0,0,,1,,5\n\
             10.0.0.5,00:01:02:03:04:05,,100,1100,1,0,0,,9,,5\n\
             10.0.0.6,00:01\n"
        );
        let file = read_leases4_file(csv.as_bytes()).unwrap();
        let lines: Vec<u64> = file.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 6, 7]);
        let addrs: Vec<String> = file.leases.iter().map(|l| l.addr.to_string()).collect();
        assert_eq!(addrs, vec!["10.0.0.1", "10.0.0.4"]);
        assert_eq!(file.leases[0].pool_id, PoolId(5));
        // Declined with no hardware address is allowed (Kea's rule).
        assert_eq!(file.leases[1].state, LeaseState::Declined);
        assert_eq!(file.leases[1].hwaddr, None);
    }

    #[test]
    fn header_without_required_columns_is_rejected() {
        let err = read_leases4("address,duid,valid_lifetime\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("hwaddr"), "{err}");
    }

    #[test]
    fn written_row_matches_kea_3_0_bytes() {
        let lease = Lease {
            kind: LeaseKind::V4,
            addr: "10.77.0.250".parse().unwrap(),
            prefix_len: 32,
            iaid: 0,
            hwaddr: HwAddr::parse("0a:0b:0c:0d:0e:0f", 1),
            client_id: ClientId::parse("01:0a:0b:0c:0d:0e:0f"),
            valid_lifetime: 3600,
            preferred_lifetime: 0,
            cltt: 1_795_493_309,
            subnet_id: SubnetId(7),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: Some("host,with,commas.example.org".into()),
            fqdn_fwd: true,
            fqdn_rev: true,
            user_context: Some(r#"{ "ISC": { "note": "a,b" }, "n": [ 1, 2 ] }"#.into()),
        };
        let mut out = Vec::new();
        write_leases4(&mut out, std::slice::from_ref(&lease)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "{LEASES4_HEADER_3_0}\n10.77.0.250,0a:0b:0c:0d:0e:0f,01:0a:0b:0c:0d:0e:0f,3600,1795496909,7,1,1,host&#x2cwith&#x2ccommas.example.org,0,{{ \"ISC\": {{ \"note\": \"a&#x2cb\" }}&#x2c \"n\": [ 1&#x2c 2 ] }},0\n"
            )
        );
        assert_eq!(read_leases4(text.as_bytes()).unwrap(), vec![lease]);
    }

    #[test]
    fn leases6_replay_and_round_trip() {
        let csv = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source\n\
            2001:db8::10,00:03:00:01:0a:0b:0c:0d:0e:0f,400,1400,1,300,0,7,128,0,0,,0a:0b:0c:0d:0e:0f,0,,1,4\n\
            2001:db8:1:100::,00:03:00:01:0a:0b:0c:0d:0e:0f,800,1800,1,600,2,9,56,1,1,a&#x2cb,,0,{ \"x\": 1 },,\n\
            2001:db8::10,00:03:00:01:0a:0b:0c:0d:0e:0f,500,1600,1,300,0,7,128,0,0,,0a:0b:0c:0d:0e:0f,0,,1,4\n\
            2001:db8::11,00,400,1400,1,300,0,7,128,0,0,,,1,,,\n\
            2001:db8::12,00,400,1400,1,300,0,7,128,0,0,,,0,,,\n\
            2001:db8::13,00:01,0,1400,1,300,0,7,128,0,0,,,0,,,\n";
        let file = read_leases6_file(csv.as_bytes()).unwrap();
        assert_eq!(file.skipped.len(), 1, "{:?}", file.skipped);
        assert_eq!(file.skipped[0].line, 6);
        assert_eq!(file.leases.len(), 3);
        assert_eq!(file.deleted.len(), 1);
        let na = &file.leases[0];
        assert_eq!(na.valid_lifetime, 500);
        assert_eq!(na.cltt, 1100);
        assert_eq!(na.iaid, 7);
        // The source column (4: from the link-local address) is kept and written back.
        let hw = HwAddr::parse("0a:0b:0c:0d:0e:0f", 1).map(|h| h.with_source(4));
        assert_eq!(na.hwaddr, hw);
        let pd = file
            .leases
            .iter()
            .find(|l| l.kind == LeaseKind::V6Pd)
            .unwrap();
        assert_eq!(pd.prefix_len, 56);
        assert_eq!(pd.hostname.as_deref(), Some("a,b"));
        assert_eq!(pd.preferred_lifetime, 600);
        let mut out = Vec::new();
        write_leases6(&mut out, &file.leases).unwrap();
        assert_eq!(read_leases6(out.as_slice()).unwrap(), file.leases);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\n2001:db8::10,00:03:00:01:0a:0b:0c:0d:0e:0f,500,1600,1,300,0,7,128,0,0,,0a:0b:0c:0d:0e:0f,0,,1,4,0\n"), "{text}");
    }

    #[test]
    fn leases6_kea_2_schema_is_kea_2_2_header_and_rows_without_pool_id() {
        // The header kea-dhcp6 2.2 writes to a new memfile (captured from a run of it).
        let kea22 = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source";
        let row3 = "2001:db8::10,00:01:02,500,1700000500,1,300,0,7,128,0,0,,,0,,,,3";
        let pd3 = "2001:db8:100::,00:01:02,500,1700000500,1,300,2,8,56,0,0,,,0,,,,0";
        let csv = format!("{LEASES6_HEADER_3_0}\n{row3}\n{pd3}\n");
        let leases = read_leases6(csv.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_leases6_as(&mut out, &leases, KeaSchema::V2).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![kea22, &row3[..row3.len() - 2], &pd3[..pd3.len() - 2]]
        );
        // And the 2.x file reads back to the same leases (pool_id is not in a 2.x file).
        let back = read_leases6(text.as_bytes()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].addr, leases[0].addr);
        assert_eq!(back[1].prefix_len, 56);
    }
}

//! Configured options: definitions, encoding, and the per-scope option sets handed to the
//! protocol logic with their payloads already on the wire format.

pub mod defs;
pub mod defs6;
pub mod encode;

use defs::DHCP4_SPACE;

/// One `option-data` entry, encoded once at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredOption {
    pub code: u8,
    /// "dhcp4" for top-level options, else the sub-option space.
    pub space: String,
    /// The wire payload, without code and length. For an option that encapsulates a space
    /// (43, 82, 122, 125, custom `encapsulate`), the sub-options configured in the same scope
    /// are already appended, as Kea does when it commits a configuration. May exceed 255 bytes
    /// (RFC 3396 long options are split when sent, ARM 9.2.17).
    pub data: Box<[u8]>,
    pub always_send: bool,
    pub never_send: bool,
    /// `client-classes` (ARM 16.9): only members of one of these classes get this option
    /// value; empty = every client.
    pub client_classes: Vec<String>,
}

/// The options of one scope (global, shared network, subnet or pool), in config order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionSet {
    pub options: Vec<ConfiguredOption>,
}

impl OptionSet {
    /// The first top-level ("dhcp4" space) option with `code`.
    pub fn get(&self, code: u8) -> Option<&ConfiguredOption> {
        self.get_in_space(DHCP4_SPACE, code)
    }

    pub fn get_in_space(&self, space: &str, code: u8) -> Option<&ConfiguredOption> {
        self.options
            .iter()
            .find(|o| o.code == code && o.space == space)
    }

    /// Top-level options only, in config order.
    pub fn top_level(&self) -> impl Iterator<Item = &ConfiguredOption> {
        self.options.iter().filter(|o| o.space == DHCP4_SPACE)
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

/// The space whose options are carried inside option `code` of `space`, if any.
pub(crate) fn encapsulated_space(
    custom: &[defs::OptionDef],
    space: &str,
    code: u8,
    own_payload: &[u8],
) -> Option<String> {
    if let Some(def) = custom.iter().find(|d| d.space == space && d.code == code) {
        return def.encapsulate.clone();
    }
    if space == DHCP4_SPACE && code == 125 {
        // Vendor-Identifying Vendor-Specific Information (RFC 3925): the enterprise number
        // selects the space "vendor-<enterprise>" (ARM 9.2.14).
        let enterprise = own_payload.get(..4)?;
        let mut be = [0u8; 4];
        be.copy_from_slice(enterprise);
        return Some(format!("vendor-{}", u32::from_be_bytes(be)));
    }
    defs::std_option_def_in_space(space, code)
        .map(|d| d.encapsulate)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Appends to each option the sub-options configured in the same scope for the space it
/// encapsulates (Kea's `CfgOption::encapsulate`). Nesting is followed a few levels deep.
pub(crate) fn encapsulate(set: &mut OptionSet, custom: &[defs::OptionDef]) {
    let original = set.options.clone();
    for option in set.options.iter_mut() {
        let mut payload = Vec::from(&*option.data);
        append_suboptions(
            &original,
            custom,
            &option.space,
            option.code,
            &mut payload,
            0,
        );
        option.data = payload.into_boxed_slice();
    }
}

const MAX_ENCAPSULATION_DEPTH: usize = 4;

fn append_suboptions(
    all: &[ConfiguredOption],
    custom: &[defs::OptionDef],
    space: &str,
    code: u8,
    payload: &mut Vec<u8>,
    depth: usize,
) {
    if depth >= MAX_ENCAPSULATION_DEPTH {
        return;
    }
    let Some(sub_space) = encapsulated_space(custom, space, code, payload) else {
        return;
    };
    let is_vivso = space == DHCP4_SPACE && code == 125;
    let mut block = Vec::new();
    for sub in all.iter().filter(|o| o.space == sub_space) {
        let mut sub_payload = Vec::from(&*sub.data);
        append_suboptions(
            all,
            custom,
            &sub.space,
            sub.code,
            &mut sub_payload,
            depth + 1,
        );
        // RFC 3396 long sub-options are split into several of the same code.
        let mut chunks = sub_payload.chunks(255).peekable();
        if chunks.peek().is_none() {
            block.extend_from_slice(&[sub.code, 0]);
        }
        for chunk in chunks {
            block.push(sub.code);
            block.push(chunk.len() as u8);
            block.extend_from_slice(chunk);
        }
    }
    if is_vivso {
        // RFC 3925 section 4: enterprise-number, data-len, then the sub-options.
        payload.truncate(4);
        payload.push(u8::try_from(block.len()).unwrap_or(u8::MAX));
    }
    payload.extend_from_slice(&block);
}

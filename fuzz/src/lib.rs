//! Pieces the structure-aware fuzz targets share: reading the fuzz input as a script of
//! choices, and writing DHCPv6-style options whose lengths may lie.

/// Reads the fuzz input front to back; an exhausted input reads as zeros.
pub struct Script<'a>(pub &'a [u8]);

impl<'a> Script<'a> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Appends DHCPv6 option `code` with `data`; the length saturates (a lie the codec must
/// catch).
pub fn option6(p: &mut Vec<u8>, code: u16, data: &[u8]) {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(data);
}

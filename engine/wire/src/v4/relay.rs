//! Option 82 (relay agent information, RFC 3046) sub-options.

use super::relay_sub;
use std::net::Ipv4Addr;

/// Iterator over the `(sub-option code, payload)` pairs of an option-82 payload. Stops, without
/// panicking, at the first sub-option whose length runs past the end.
#[derive(Debug, Clone)]
pub struct RelaySubOptions<'a> {
    data: &'a [u8],
}

impl<'a> RelaySubOptions<'a> {
    /// True if iteration stopped at a malformed sub-option rather than at the end.
    pub fn is_malformed(&self) -> bool {
        !self.data.is_empty()
    }
}

impl<'a> Iterator for RelaySubOptions<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&code, rest) = self.data.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        let (Some(payload), Some(after)) = (rest.get(..len), rest.get(len..)) else {
            return None;
        };
        self.data = after;
        Some((code, payload))
    }
}

/// RFC 3046 sub-options of an option-82 payload; stops (no panic) at a malformed one.
pub fn relay_suboptions(data: &[u8]) -> RelaySubOptions<'_> {
    RelaySubOptions { data }
}

/// RFC 3527 link-selection sub-option (5): the subnet the relay wants the client placed on,
/// when it differs from giaddr. `None` if absent or not 4 bytes.
pub fn relay_link_selection(data: &[u8]) -> Option<Ipv4Addr> {
    relay_suboptions(data)
        .find(|&(code, _)| code == relay_sub::LINK_SELECTION)
        .and_then(|(_, payload)| <[u8; 4]>::try_from(payload).ok())
        .map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suboptions_are_yielded_in_order() {
        let data = [1, 3, b'e', b't', b'h', 2, 2, 0xaa, 0xbb, 5, 4, 10, 1, 2, 0];
        let subs: Vec<_> = relay_suboptions(&data).collect();
        assert_eq!(
            subs,
            vec![
                (1, &b"eth"[..]),
                (2, &[0xaa, 0xbb][..]),
                (5, &[10, 1, 2, 0][..])
            ]
        );
        assert_eq!(
            relay_link_selection(&data),
            Some(Ipv4Addr::new(10, 1, 2, 0))
        );
    }

    #[test]
    fn truncated_suboption_stops_iteration() {
        let data = [1, 1, b'x', 2, 9, 1];
        let mut it = relay_suboptions(&data);
        assert_eq!(it.next(), Some((1, &b"x"[..])));
        assert_eq!(it.next(), None);
        assert!(it.is_malformed());
        assert_eq!(relay_suboptions(&[7]).count(), 0);
    }

    #[test]
    fn link_selection_of_wrong_size_is_none() {
        assert_eq!(relay_link_selection(&[5, 3, 10, 0, 0]), None);
        assert_eq!(relay_link_selection(&[1, 1, 0]), None);
    }
}

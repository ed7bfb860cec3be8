//! Tokens of the Kea expression language (the lexical part of ARM 16.3).

use crate::error::ExprError;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok<'a> {
    /// `'text'`: no escapes, as in Kea's lexer (use a hex literal for a quote).
    Str(&'a str),
    /// `0x..` digits without the prefix.
    Hex(&'a str),
    Int(i64),
    Ip(IpAddr),
    Ident(&'a str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    Plus,
    EqEq,
    Star,
    End,
}

impl Tok<'_> {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Hex(h) => format!("hex string 0x{h}"),
            Tok::Int(i) => format!("integer {i}"),
            Tok::Ip(a) => format!("address {a}"),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Comma => "','".into(),
            Tok::Plus => "'+'".into(),
            Tok::EqEq => "'=='".into(),
            Tok::Star => "'*'".into(),
            Tok::End => "end of expression".into(),
        }
    }
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_addr_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    fn scan_while(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while self.byte(end).is_some_and(&pred) {
            end += 1;
        }
        end
    }

    fn text(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    /// The next token and the byte offset where it starts.
    pub(crate) fn next_token(&mut self) -> Result<(Tok<'a>, usize), ExprError> {
        self.pos = self.scan_while(self.pos, |b| b.is_ascii_whitespace());
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok((Tok::End, start));
        };
        let single = |t| (t, 1usize);
        let (tok, len) = match b {
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b'.' => single(Tok::Dot),
            b',' => single(Tok::Comma),
            b'+' => single(Tok::Plus),
            b'*' => single(Tok::Star),
            b'=' if self.byte(start + 1) == Some(b'=') => (Tok::EqEq, 2),
            b'\'' => {
                let body = start + 1;
                let end = self.scan_while(body, |c| c != b'\'');
                if self.byte(end) != Some(b'\'') {
                    return Err(ExprError::UnterminatedString { offset: start });
                }
                (Tok::Str(self.text(body, end)), end + 1 - start)
            }
            b'0' if matches!(self.byte(start + 1), Some(b'x' | b'X')) => {
                let end = self.scan_while(start + 2, |c| c.is_ascii_hexdigit());
                if end == start + 2 {
                    return Err(self.bad(start, end.max(start + 2), "hex string"));
                }
                (Tok::Hex(self.text(start + 2, end)), end - start)
            }
            b'-' if self.byte(start + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let end = self.scan_while(start + 1, |c| c.is_ascii_digit());
                let text = self.text(start, end);
                let v = text
                    .parse::<i64>()
                    .map_err(|_| self.bad(start, end, "integer"))?;
                (Tok::Int(v), end - start)
            }
            b'0'..=b'9' | b':' => return self.number_or_address(start),
            c if is_ident_start(c) => {
                let end = self.scan_while(start, is_ident_char);
                // An IPv6 literal may begin with hex letters (`fe80::1`).
                if self.byte(end) == Some(b':') {
                    return self.number_or_address(start);
                }
                (Tok::Ident(self.text(start, end)), end - start)
            }
            _ => {
                let ch = self.src.get(start..).and_then(|s| s.chars().next());
                return Err(ExprError::Unexpected {
                    offset: start,
                    expected: "a token",
                    found: format!("'{}'", ch.unwrap_or('?')),
                });
            }
        };
        self.pos = start + len;
        Ok((tok, start))
    }

    fn bad(&self, start: usize, end: usize, what: &'static str) -> ExprError {
        ExprError::BadLiteral {
            offset: start,
            what,
            text: self.text(start, end).to_string(),
        }
    }

    /// Integers, IPv4 and IPv6 literals (ARM 16.3 table 1).
    fn number_or_address(&mut self, start: usize) -> Result<(Tok<'a>, usize), ExprError> {
        let end = self.scan_while(start, is_addr_char);
        let text = self.text(start, end);
        let tok = if text.contains(':') {
            let a = text
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| self.bad(start, end, "IPv6 address"))?;
            Tok::Ip(IpAddr::V6(a))
        } else if text.contains('.') {
            // `10.0.0.1` is an address; but an integer right before `.` (never valid grammar
            // anyway) would be reported here as a bad address, which names the real mistake.
            let a = text
                .parse::<std::net::Ipv4Addr>()
                .map_err(|_| self.bad(start, end, "IPv4 address"))?;
            Tok::Ip(IpAddr::V4(a))
        } else {
            let digits_end = self.scan_while(start, |c| c.is_ascii_digit());
            if digits_end != end {
                return Err(self.bad(start, end, "integer"));
            }
            let v = text
                .parse::<i64>()
                .map_err(|_| self.bad(start, end, "integer"))?;
            Tok::Int(v)
        };
        self.pos = end;
        Ok((tok, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(src: &str) -> Vec<Tok<'_>> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        while let Ok((t, _)) = lx.next_token() {
            out.push(t);
            if t == Tok::End {
                break;
            }
        }
        out
    }

    #[test]
    fn lexes_literals_of_every_kind() {
        assert_eq!(
            all("'a b' 0x5a7d 123 -1 10.0.0.1 fe80::1 ==+*"),
            vec![
                Tok::Str("a b"),
                Tok::Hex("5a7d"),
                Tok::Int(123),
                Tok::Int(-1),
                Tok::Ip("10.0.0.1".parse().unwrap_or(IpAddr::V4([0; 4].into()))),
                Tok::Ip("fe80::1".parse().unwrap_or(IpAddr::V4([0; 4].into()))),
                Tok::EqEq,
                Tok::Plus,
                Tok::Star,
                Tok::End,
            ]
        );
    }

    #[test]
    fn hyphenated_identifiers_are_one_token() {
        assert_eq!(
            all("vendor-class[*]"),
            vec![
                Tok::Ident("vendor-class"),
                Tok::LBracket,
                Tok::Star,
                Tok::RBracket,
                Tok::End
            ]
        );
    }
}

//! Kea's JSON dialect (ARM 6.1.2 "JSON Syntax", 6.1.4 "Configuration Files Inclusion"):
//! `#`, `//` and `/* */` comments outside strings, `<?include "file"?>` textual inclusion (at
//! most [`MAX_INCLUDE_DEPTH`] levels, as Kea), extra commas before `]` / `}` (accepted with a
//! warning, as Kea does), and duplicate keys in one map rejected (as Kea's parser does:
//! "duplicate valid-lifetime entries in Dhcp4 map").
//!
//! The result is a plain `serde_json::Value` whose maps keep the file's key order.

use crate::PathIssue;
use serde_json::{Map, Number, Value};
use std::path::Path;

/// Kea supports "up to ten nesting levels" of includes (ARM 6.1.4).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Deepest nesting of maps and lists accepted; protects the recursive parser's stack.
const MAX_NESTING: usize = 128;

/// A document read from Kea-dialect text.
pub struct Document {
    pub value: Value,
    /// Accepted but suspicious syntax (extra commas), with locations.
    pub warnings: Vec<PathIssue>,
}

/// Reads Kea-dialect JSON text. `source_name` names the text in error locations;
/// relative include paths are resolved against `include_base`.
pub fn parse_document(
    text: &str,
    source_name: &str,
    include_base: &Path,
) -> Result<Document, PathIssue> {
    let mut expanded = String::with_capacity(text.len());
    let mut segments = Vec::new();
    expand(
        text,
        source_name,
        include_base,
        0,
        &mut expanded,
        &mut segments,
    )?;
    let mut parser = Parser {
        src: expanded.as_bytes(),
        pos: 0,
        segments: &segments,
        warnings: Vec::new(),
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < parser.src.len() {
        return Err(parser.error("unexpected text after the end of the document"));
    }
    Ok(Document {
        value,
        warnings: parser.warnings,
    })
}

/// Where a run of the expanded text came from, so that errors name the right file and line
/// even after includes.
struct Segment {
    /// Offset in the expanded text where the run starts.
    out_start: usize,
    source_name: String,
    /// Line and column in the source file where the run starts.
    line: usize,
    col: usize,
}

/// Locates a position of the expanded text in its source file.
fn locate(segments: &[Segment], expanded: &[u8], pos: usize) -> String {
    let Some(seg) = segments.iter().rev().find(|s| s.out_start <= pos) else {
        return format!("?:{pos}");
    };
    let run = expanded
        .get(seg.out_start..pos.min(expanded.len()))
        .unwrap_or(&[]);
    let newlines = run.iter().filter(|&&b| b == b'\n').count();
    let (line, col) = match run.iter().rposition(|&b| b == b'\n') {
        Some(last) => (seg.line + newlines, run.len() - last),
        None => (seg.line, seg.col + run.len()),
    };
    format!("{}:{line}:{col}", seg.source_name)
}

/// Copies `text` into `out` with comments replaced by spaces (newlines kept, so line numbers
/// of a file without includes stay right) and include directives replaced by the included
/// file's expanded text.
fn expand(
    text: &str,
    source_name: &str,
    include_base: &Path,
    depth: usize,
    out: &mut String,
    segments: &mut Vec<Segment>,
) -> Result<(), PathIssue> {
    segments.push(Segment {
        out_start: out.len(),
        source_name: source_name.to_string(),
        line: 1,
        col: 1,
    });
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    // Start of the run of bytes not yet copied to `out`.
    let mut copied = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'#' => {
                out.push_str(&text[copied..i]);
                let end = find_line_end(bytes, i);
                blank(out, &text[i..end]);
                i = end;
                copied = i;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[copied..i]);
                let end = find_line_end(bytes, i);
                blank(out, &text[i..end]);
                i = end;
                copied = i;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[copied..i]);
                let Some(close) = text[i + 2..].find("*/") else {
                    return Err(located(
                        source_name,
                        text,
                        i,
                        "comment opened with /* is never closed",
                    ));
                };
                let end = i + 2 + close + 2;
                blank(out, &text[i..end]);
                i = end;
                copied = i;
            }
            b'<' if text[i..].starts_with("<?include") => {
                out.push_str(&text[copied..i]);
                let (file, end) = include_directive(text, i).ok_or_else(|| {
                    located(
                        source_name,
                        text,
                        i,
                        "malformed include directive, expected <?include \"file\"?>",
                    )
                })?;
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(located(
                        source_name,
                        text,
                        i,
                        &format!(
                            "include of \"{file}\" exceeds the maximum include depth of {MAX_INCLUDE_DEPTH} (recursive include?)"
                        ),
                    ));
                }
                let path = include_base.join(file);
                let included = std::fs::read_to_string(&path).map_err(|e| {
                    located(
                        source_name,
                        text,
                        i,
                        &format!("cannot read included file {}: {e}", path.display()),
                    )
                })?;
                let name = path.display().to_string();
                expand(&included, &name, include_base, depth + 1, out, segments)?;
                i = end;
                copied = i;
                let (line, col) = line_col(text, end);
                segments.push(Segment {
                    out_start: out.len(),
                    source_name: source_name.to_string(),
                    line,
                    col,
                });
            }
            _ => i += 1,
        }
    }
    if in_string {
        return Err(located(
            source_name,
            text,
            bytes.len(),
            "string is never closed",
        ));
    }
    out.push_str(&text[copied.min(text.len())..]);
    Ok(())
}

fn find_line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// Replaces a comment by spaces, keeping its newlines.
fn blank(out: &mut String, comment: &str) {
    out.extend(comment.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
}

/// Parses `<?include "file"?>` starting at `start`; returns the file and the index after `?>`.
fn include_directive(text: &str, start: usize) -> Option<(&str, usize)> {
    let rest = text.get(start + "<?include".len()..)?;
    let after_ws = rest.trim_start();
    let skipped = rest.len() - after_ws.len();
    let inner = after_ws.strip_prefix('"')?;
    let close = inner.find('"')?;
    let file = inner.get(..close)?;
    let tail = inner.get(close + 1..)?;
    let tail_trimmed = tail.trim_start();
    if !tail_trimmed.starts_with("?>") {
        return None;
    }
    let consumed =
        "<?include".len() + skipped + 1 + close + 1 + (tail.len() - tail_trimmed.len()) + 2;
    Some((file, start + consumed))
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = text.get(..pos.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

fn located(source_name: &str, text: &str, pos: usize, message: &str) -> PathIssue {
    let (line, col) = line_col(text, pos);
    PathIssue::new(format!("{source_name}:{line}:{col}"), message)
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    segments: &'a [Segment],
    warnings: Vec<PathIssue>,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> PathIssue {
        PathIssue::new(locate(self.segments, self.src, self.pos), message)
    }

    fn warn(&mut self, message: &str) {
        let issue = self.error(message);
        self.warnings.push(issue);
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), PathIssue> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, PathIssue> {
        if depth > MAX_NESTING {
            return Err(self.error("maps and lists are nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.map(depth),
            Some(b'[') => self.list(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                Err(self.error("expected a value (map, list, string, number, true, false or null)"))
            }
            None => Err(self.error("unexpected end of the document")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, PathIssue> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal, expected true, false or null"))
        }
    }

    fn map(&mut self, depth: usize) -> Result<Value, PathIssue> {
        self.pos += 1;
        let mut map = Map::new();
        let mut first_positions: Vec<(String, usize)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a quoted key"));
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if let Some((_, prev)) = first_positions.iter().find(|(k, _)| *k == key) {
                let previous = locate(self.segments, self.src, *prev);
                self.pos = key_pos;
                return Err(self.error(&format!(
                    "duplicate key \"{key}\" in one map (previous at {previous})"
                )));
            }
            first_positions.push((key.clone(), key_pos));
            self.skip_ws();
            self.expect(b':', "':' after a key")?;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.warn("extraneous comma before '}'; a piece of configuration may have been omitted");
                        self.pos += 1;
                        return Ok(Value::Object(map));
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.error("expected ',' or '}' in a map")),
            }
        }
    }

    fn list(&mut self, depth: usize) -> Result<Value, PathIssue> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.warn("extraneous comma before ']'; a piece of configuration may have been omitted");
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in a list")),
            }
        }
    }

    fn string(&mut self) -> Result<String, PathIssue> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("string is never closed"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map_err(|_| self.error("string is not valid UTF-8"));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error("string is never closed"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape sequence in string"));
                        }
                    }
                }
                0x00..=0x1f => {
                    return Err(
                        self.error("control character in string (use \\n, \\t or \\u escapes)")
                    )
                }
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, PathIssue> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("\\u must be followed by 4 hex digits"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn unicode_escape(&mut self) -> Result<char, PathIssue> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self.src[self.pos..].starts_with(b"\\u") {
                return Err(self.error("unpaired UTF-16 surrogate in \\u escape"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("unpaired UTF-16 surrogate in \\u escape"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn number(&mut self) -> Result<Value, PathIssue> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.error("invalid number"));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            let frac_start = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return Err(self.error("invalid number: digits expected after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(self.error("invalid number: digits expected in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.src[start..self.pos])
            .map_err(|_| self.error("invalid number"))?;
        if is_float {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| self.error("invalid floating point number"))
        } else {
            // Kea stores integers as int64.
            text.parse::<i64>()
                .map(|n| Value::Number(n.into()))
                .map_err(|_| self.error("integer does not fit in 64 bits"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, PathIssue> {
        parse_document(text, "test.json", Path::new(".")).map(|d| d.value)
    }

    #[test]
    fn all_three_comment_forms_are_ignored_outside_strings() {
        let v = parse(
            "# shell\n{ // c++\n \"a\": /* c */ 1, \"b\": \"x#y//z/*w*/\" /* multi\nline */ }",
        )
        .unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(v["b"], "x#y//z/*w*/");
    }

    #[test]
    fn escaped_quote_does_not_end_a_string_for_comment_stripping() {
        let v = parse(r##"{"a": "q\"#not a comment", "b": 2}"##).unwrap();
        assert_eq!(v["a"], "q\"#not a comment");
        assert_eq!(v["b"], 2);
    }

    #[test]
    fn unclosed_block_comment_is_located() {
        let e = parse("{\n  /* never closed\n}").unwrap_err();
        assert_eq!(e.path, "test.json:2:3");
        assert_eq!(e.message, "comment opened with /* is never closed");
    }

    #[test]
    fn duplicate_key_is_rejected_like_kea() {
        let e = parse("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert_eq!(e.path, "test.json:2:2");
        assert_eq!(
            e.message,
            "duplicate key \"a\" in one map (previous at test.json:1:2)"
        );
    }

    #[test]
    fn trailing_commas_are_accepted_with_a_warning() {
        let d = parse_document("{\"a\": [1, 2,],}", "t", Path::new(".")).unwrap();
        assert_eq!(d.value["a"], serde_json::json!([1, 2]));
        assert_eq!(d.warnings.len(), 2);
        assert_eq!(d.warnings[0].path, "t:1:13");
    }

    #[test]
    fn numbers_keep_integer_and_float_apart() {
        let v = parse("{\"i\": -12, \"f\": 0.5, \"e\": 1e2}").unwrap();
        assert!(v["i"].is_i64());
        assert!(v["f"].is_f64());
        assert!(v["e"].is_f64());
    }

    #[test]
    fn unicode_escapes_decode_including_surrogate_pairs() {
        let v = parse(r#"{"s": "\u00e9\ud83d\ude00"}"#).unwrap();
        assert_eq!(v["s"], "é😀");
    }

    #[test]
    fn garbage_after_document_is_rejected() {
        let e = parse("{} x").unwrap_err();
        assert_eq!(e.message, "unexpected text after the end of the document");
    }
}

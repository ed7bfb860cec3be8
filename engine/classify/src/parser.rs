//! Recursive-descent compiler from expression text to a postfix [`Program`] (ARM 16.3).
//!
//! Precedence, loosest first (ARM 16.3.2): `or`, `and`, `not`, `==`, `+`. Operands are typed:
//! a boolean (`==`, `match`, `.exists`, `member`, `known`, logical operators) cannot be used
//! where a string is expected and vice versa, as in Kea's grammar, so a type error is a
//! compile error with its position.

use crate::error::ExprError;
use crate::lexer::{Lexer, Tok};
use crate::program::{
    Fused, IntText, Op, Pkt4Field, PktField, Program, Repr, Shape, Transform, Universe, ValueKind,
};
use std::net::IpAddr;

/// Nesting limit, so hostile configs cannot overflow the stack at load time.
const MAX_DEPTH: usize = 64;

pub(crate) struct Parser<'a, 'r> {
    lexer: Lexer<'a>,
    tok: Tok<'a>,
    at: usize,
    universe: Universe,
    resolve: &'r dyn Fn(&str) -> Option<u16>,
    depth: usize,
    ops: Vec<Op>,
    consts: Vec<u8>,
    classes: Vec<Box<str>>,
    regexes: Vec<regex::bytes::Regex>,
    uses_known: bool,
}

fn kind_name(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Bool => "boolean",
        ValueKind::String => "string",
    }
}

fn universe_name(u: Universe) -> &'static str {
    match u {
        Universe::V4 => "DHCPv4",
        Universe::V6 => "DHCPv6",
    }
}

/// Decodes a hex literal; an odd digit count gets a leading 0 (ARM 16.3 notes).
fn hex_bytes(digits: &str, out: &mut Vec<u8>) {
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    let d = digits.as_bytes();
    let mut i = 0;
    if d.len() % 2 == 1 {
        out.push(nib(d[0]));
        i = 1;
    }
    while i + 1 < d.len() {
        out.push(nib(d[i]) << 4 | nib(d[i + 1]));
        i += 2;
    }
}

impl<'a, 'r> Parser<'a, 'r> {
    pub(crate) fn new(
        src: &'a str,
        universe: Universe,
        resolve: &'r dyn Fn(&str) -> Option<u16>,
    ) -> Result<Self, ExprError> {
        let mut lexer = Lexer::new(src);
        let (tok, at) = lexer.next_token()?;
        Ok(Parser {
            lexer,
            tok,
            at,
            universe,
            resolve,
            depth: 0,
            ops: Vec::new(),
            consts: Vec::new(),
            classes: Vec::new(),
            regexes: Vec::new(),
            uses_known: false,
        })
    }

    pub(crate) fn compile(self) -> Result<Program, ExprError> {
        self.compile_fused(true)
    }

    /// `fuse` false keeps the plain postfix program: the reference the fused opcodes are
    /// tested against.
    fn compile_fused(mut self, fuse: bool) -> Result<Program, ExprError> {
        let kind = self.expr()?;
        if self.tok != Tok::End {
            return Err(self.unexpected("an operator or end of expression"));
        }
        let (ops, fused) = if fuse {
            fuse_comparisons(&self.ops)
        } else {
            (std::mem::take(&mut self.ops), Vec::new())
        };
        self.ops = ops;
        let (mut strings, mut bools, mut max_s, mut max_b) = (0usize, 0usize, 0usize, 0usize);
        for op in &self.ops {
            let (ps, pb, us, ub) = op.stack_effect();
            strings = strings.saturating_sub(ps) + us;
            bools = bools.saturating_sub(pb) + ub;
            max_s = max_s.max(strings);
            max_b = max_b.max(bools);
        }
        let bool_only = max_b <= 64 && self.ops.iter().all(is_bool_only);
        let shape = match (kind, &self.ops[..]) {
            (ValueKind::String, _) => Shape::String,
            (ValueKind::Bool, &[Op::EqConst { fused }]) => Shape::Single(fused),
            (ValueKind::Bool, &[Op::Member { class }]) => Shape::Member(class),
            (ValueKind::Bool, _) if bool_only => Shape::BoolOnly,
            (ValueKind::Bool, _) => Shape::Stack,
        };
        Ok(Program {
            ops: self.ops,
            consts: self.consts,
            fused,
            classes: self.classes,
            regexes: self.regexes,
            kind,
            universe: self.universe,
            max_strings: max_s,
            max_bools: max_b,
            uses_known: self.uses_known,
            shape,
            class_ids: Vec::new(),
        })
    }

    fn advance(&mut self) -> Result<(), ExprError> {
        let (tok, at) = self.lexer.next_token()?;
        self.tok = tok;
        self.at = at;
        Ok(())
    }

    fn unexpected(&self, expected: &'static str) -> ExprError {
        ExprError::Unexpected {
            offset: self.at,
            expected,
            found: self.tok.describe(),
        }
    }

    fn expect(&mut self, want: Tok<'static>, expected: &'static str) -> Result<(), ExprError> {
        if self.tok != want {
            return Err(self.unexpected(expected));
        }
        self.advance()
    }

    fn expect_keyword(
        &mut self,
        word: &'static str,
        expected: &'static str,
    ) -> Result<(), ExprError> {
        if self.tok != Tok::Ident(word) {
            return Err(self.unexpected(expected));
        }
        self.advance()
    }

    fn is_keyword(&self, word: &str) -> bool {
        self.tok == Tok::Ident(word)
    }

    fn need(&self, got: ValueKind, want: ValueKind, at: usize) -> Result<(), ExprError> {
        if got == want {
            Ok(())
        } else {
            Err(ExprError::TypeMismatch {
                offset: at,
                expected: kind_name(want),
                found: kind_name(got),
            })
        }
    }

    fn only_in(
        &self,
        universe: Universe,
        construct: &'static str,
        at: usize,
    ) -> Result<(), ExprError> {
        if self.universe == universe {
            Ok(())
        } else {
            Err(ExprError::WrongUniverse {
                offset: at,
                construct,
                universe: universe_name(universe),
            })
        }
    }

    fn push_const(&mut self, bytes: &[u8]) {
        let start = self.consts.len() as u32;
        self.consts.extend_from_slice(bytes);
        self.ops.push(Op::Const {
            start,
            len: bytes.len() as u32,
        });
    }

    fn expr(&mut self) -> Result<ValueKind, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::TooDeep {
                offset: self.at,
                limit: MAX_DEPTH,
            });
        }
        let r = self.or_expr();
        self.depth -= 1;
        r
    }

    fn or_expr(&mut self) -> Result<ValueKind, ExprError> {
        let at = self.at;
        let mut k = self.and_expr()?;
        while self.is_keyword("or") {
            self.need(k, ValueKind::Bool, at)?;
            self.advance()?;
            let rhs_at = self.at;
            let r = self.and_expr()?;
            self.need(r, ValueKind::Bool, rhs_at)?;
            self.ops.push(Op::Or);
            k = ValueKind::Bool;
        }
        Ok(k)
    }

    fn and_expr(&mut self) -> Result<ValueKind, ExprError> {
        let at = self.at;
        let mut k = self.not_expr()?;
        while self.is_keyword("and") {
            self.need(k, ValueKind::Bool, at)?;
            self.advance()?;
            let rhs_at = self.at;
            let r = self.not_expr()?;
            self.need(r, ValueKind::Bool, rhs_at)?;
            self.ops.push(Op::And);
            k = ValueKind::Bool;
        }
        Ok(k)
    }

    fn not_expr(&mut self) -> Result<ValueKind, ExprError> {
        if self.is_keyword("not") {
            self.advance()?;
            let at = self.at;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ExprError::TooDeep {
                    offset: at,
                    limit: MAX_DEPTH,
                });
            }
            let k = self.not_expr();
            self.depth -= 1;
            self.need(k?, ValueKind::Bool, at)?;
            self.ops.push(Op::Not);
            return Ok(ValueKind::Bool);
        }
        self.cmp_expr()
    }

    fn cmp_expr(&mut self) -> Result<ValueKind, ExprError> {
        let at = self.at;
        let k = self.concat_expr()?;
        if self.tok == Tok::EqEq {
            self.need(k, ValueKind::String, at)?;
            self.advance()?;
            let rhs_at = self.at;
            let r = self.concat_expr()?;
            self.need(r, ValueKind::String, rhs_at)?;
            self.ops.push(Op::Equal);
            return Ok(ValueKind::Bool);
        }
        Ok(k)
    }

    fn concat_expr(&mut self) -> Result<ValueKind, ExprError> {
        let at = self.at;
        let k = self.primary()?;
        if self.tok != Tok::Plus {
            return Ok(k);
        }
        self.need(k, ValueKind::String, at)?;
        while self.tok == Tok::Plus {
            self.advance()?;
            let rhs_at = self.at;
            let r = self.primary()?;
            self.need(r, ValueKind::String, rhs_at)?;
            self.ops.push(Op::Concat);
        }
        Ok(ValueKind::String)
    }

    /// A string-valued argument.
    fn string_arg(&mut self) -> Result<(), ExprError> {
        let at = self.at;
        let k = self.expr()?;
        self.need(k, ValueKind::String, at)
    }

    fn integer(&mut self, what: &'static str) -> Result<i64, ExprError> {
        match self.tok {
            Tok::Int(v) => {
                self.advance()?;
                Ok(v)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn int_in(
        &mut self,
        what: &'static str,
        min: i64,
        max: i64,
        allowed: &'static str,
    ) -> Result<i64, ExprError> {
        let at = self.at;
        let v = self.integer(what)?;
        if v < min || v > max {
            return Err(ExprError::OutOfRange {
                offset: at,
                what,
                value: v,
                allowed,
            });
        }
        Ok(v)
    }

    /// `[code]` of a top-level option: an integer or, where the ARM allows, an option name.
    fn option_code(&mut self) -> Result<u16, ExprError> {
        self.expect(Tok::LBracket, "'['")?;
        let at = self.at;
        let code = match self.tok {
            Tok::Ident(name) => {
                let code = (self.resolve)(name).ok_or_else(|| ExprError::UnknownOptionName {
                    offset: at,
                    name: name.to_string(),
                })?;
                self.advance()?;
                code
            }
            _ => self.code_number()?,
        };
        self.expect(Tok::RBracket, "']'")?;
        Ok(code)
    }

    /// An option or sub-option code number: 0..255 in v4, 0..65535 in v6.
    fn code_number(&mut self) -> Result<u16, ExprError> {
        let v = match self.universe {
            Universe::V4 => self.int_in("option code", 0, 255, "0..255")?,
            Universe::V6 => self.int_in("option code", 0, 65535, "0..65535")?,
        };
        Ok(v as u16)
    }

    fn bracketed_code(&mut self) -> Result<u16, ExprError> {
        self.expect(Tok::LBracket, "'['")?;
        let c = self.code_number()?;
        self.expect(Tok::RBracket, "']'")?;
        Ok(c)
    }

    /// `.hex`, `.text` or `.exists` after an option reference.
    fn repr(&mut self) -> Result<Repr, ExprError> {
        let r = match self.tok {
            // Without option definitions here, `.text` yields the payload bytes, which is
            // Kea's text form for string-typed options (e.g. vendor-class-identifier).
            Tok::Ident("hex") | Tok::Ident("text") => Repr::Bytes,
            Tok::Ident("exists") => Repr::Exists,
            _ => return Err(self.unexpected("'hex', 'text' or 'exists'")),
        };
        self.advance()?;
        Ok(r)
    }

    fn kind_of(r: Repr) -> ValueKind {
        match r {
            Repr::Bytes => ValueKind::String,
            Repr::Exists => ValueKind::Bool,
        }
    }

    /// `[*]`, `[0]` (wildcard) or `[enterprise-id]`.
    fn enterprise(&mut self) -> Result<u32, ExprError> {
        self.expect(Tok::LBracket, "'['")?;
        let e = if self.tok == Tok::Star {
            self.advance()?;
            0
        } else {
            self.int_in("enterprise id", 0, i64::from(u32::MAX), "0..4294967295")? as u32
        };
        self.expect(Tok::RBracket, "']'")?;
        Ok(e)
    }

    fn primary(&mut self) -> Result<ValueKind, ExprError> {
        let at = self.at;
        match self.tok {
            Tok::LParen => {
                self.advance()?;
                let k = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(k)
            }
            Tok::Str(s) => {
                self.advance()?;
                self.push_const(s.as_bytes());
                Ok(ValueKind::String)
            }
            Tok::Hex(h) => {
                self.advance()?;
                let mut b = Vec::new();
                hex_bytes(h, &mut b);
                self.push_const(&b);
                Ok(ValueKind::String)
            }
            Tok::Int(v) => {
                // ARM 16.3 notes: integers are 32-bit unsigned, four bytes in network order.
                if v < i64::from(i32::MIN) || v > i64::from(u32::MAX) {
                    return Err(ExprError::OutOfRange {
                        offset: at,
                        what: "integer",
                        value: v,
                        allowed: "-2147483648..4294967295",
                    });
                }
                self.advance()?;
                self.push_const(&(v as u32).to_be_bytes());
                Ok(ValueKind::String)
            }
            Tok::Ip(a) => {
                self.advance()?;
                match a {
                    IpAddr::V4(a) => self.push_const(&a.octets()),
                    IpAddr::V6(a) => self.push_const(&a.octets()),
                }
                Ok(ValueKind::String)
            }
            Tok::Ident(word) => {
                self.advance()?;
                self.keyword(word, at)
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn keyword(&mut self, word: &'a str, at: usize) -> Result<ValueKind, ExprError> {
        match word {
            "option" => {
                let code = self.option_code()?;
                self.expect(Tok::Dot, "'.'")?;
                if self.is_keyword("option") {
                    self.advance()?;
                    let sub = self.bracketed_code()?;
                    self.expect(Tok::Dot, "'.'")?;
                    let repr = self.repr()?;
                    self.ops.push(Op::SubOption { code, sub, repr });
                    return Ok(Self::kind_of(repr));
                }
                let repr = self.repr()?;
                self.ops.push(Op::Option { code, repr });
                Ok(Self::kind_of(repr))
            }
            "relay4" => {
                self.only_in(Universe::V4, "relay4", at)?;
                self.expect(Tok::LBracket, "'['")?;
                let sub = self.int_in("sub-option code", 0, 255, "0..255")? as u8;
                self.expect(Tok::RBracket, "']'")?;
                self.expect(Tok::Dot, "'.'")?;
                let repr = self.repr()?;
                self.ops.push(Op::Relay4 { sub, repr });
                Ok(Self::kind_of(repr))
            }
            "relay6" => {
                self.only_in(Universe::V6, "relay6", at)?;
                self.expect(Tok::LBracket, "'['")?;
                // Kea keeps the nest level in an int8_t; levels past the real relay count
                // (at most HOP_COUNT_LIMIT = 32, RFC 8415 7.6) evaluate to "".
                let nest = self.int_in("relay nest level", -128, 127, "-128..127")? as i32;
                self.expect(Tok::RBracket, "']'")?;
                self.expect(Tok::Dot, "'.'")?;
                match self.tok {
                    Tok::Ident("peeraddr") => {
                        self.advance()?;
                        self.ops.push(Op::Relay6Peer { nest });
                        Ok(ValueKind::String)
                    }
                    Tok::Ident("linkaddr") => {
                        self.advance()?;
                        self.ops.push(Op::Relay6Link { nest });
                        Ok(ValueKind::String)
                    }
                    Tok::Ident("option") => {
                        self.advance()?;
                        let code = self.option_code()?;
                        self.expect(Tok::Dot, "'.'")?;
                        let repr = self.repr()?;
                        self.ops.push(Op::Relay6Option { nest, code, repr });
                        Ok(Self::kind_of(repr))
                    }
                    _ => Err(self.unexpected("'peeraddr', 'linkaddr' or 'option'")),
                }
            }
            "pkt4" => {
                self.only_in(Universe::V4, "pkt4", at)?;
                self.expect(Tok::Dot, "'.'")?;
                let f = match self.tok {
                    Tok::Ident("mac") => Pkt4Field::Mac,
                    Tok::Ident("hlen") => Pkt4Field::Hlen,
                    Tok::Ident("htype") => Pkt4Field::Htype,
                    Tok::Ident("ciaddr") => Pkt4Field::Ciaddr,
                    Tok::Ident("giaddr") => Pkt4Field::Giaddr,
                    Tok::Ident("yiaddr") => Pkt4Field::Yiaddr,
                    Tok::Ident("siaddr") => Pkt4Field::Siaddr,
                    Tok::Ident("msgtype") => Pkt4Field::MsgType,
                    Tok::Ident("transid") => Pkt4Field::TransId,
                    _ => {
                        return Err(self.unexpected(
                            "a pkt4 field (mac, hlen, htype, ciaddr, giaddr, yiaddr, siaddr, msgtype, transid)",
                        ))
                    }
                };
                self.advance()?;
                self.ops.push(Op::Pkt4(f));
                Ok(ValueKind::String)
            }
            "pkt6" => {
                self.only_in(Universe::V6, "pkt6", at)?;
                self.expect(Tok::Dot, "'.'")?;
                let op = match self.tok {
                    Tok::Ident("msgtype") => Op::Pkt6MsgType,
                    Tok::Ident("transid") => Op::Pkt6TransId,
                    _ => return Err(self.unexpected("a pkt6 field (msgtype, transid)")),
                };
                self.advance()?;
                self.ops.push(op);
                Ok(ValueKind::String)
            }
            "pkt" => {
                self.expect(Tok::Dot, "'.'")?;
                let f = match self.tok {
                    Tok::Ident("iface") => PktField::Iface,
                    Tok::Ident("src") => PktField::Src,
                    Tok::Ident("dst") => PktField::Dst,
                    Tok::Ident("len") => PktField::Len,
                    _ => return Err(self.unexpected("a pkt field (iface, src, dst, len)")),
                };
                self.advance()?;
                self.ops.push(Op::Pkt(f));
                Ok(ValueKind::String)
            }
            "vendor" => self.vendor(),
            "vendor-class" => self.vendor_class(),
            "member" => {
                self.expect(Tok::LParen, "'('")?;
                let Tok::Str(name) = self.tok else {
                    return Err(self.unexpected("a quoted class name"));
                };
                self.advance()?;
                self.expect(Tok::RParen, "')'")?;
                if name == "KNOWN" {
                    self.uses_known = true;
                    self.ops.push(Op::Known);
                } else if name == "UNKNOWN" {
                    self.uses_known = true;
                    self.ops.push(Op::Unknown);
                } else {
                    let idx = match self.classes.iter().position(|c| &**c == name) {
                        Some(i) => i,
                        None => {
                            self.classes.push(name.into());
                            self.classes.len() - 1
                        }
                    };
                    self.ops.push(Op::Member { class: idx as u32 });
                }
                Ok(ValueKind::Bool)
            }
            "known" => {
                self.uses_known = true;
                self.ops.push(Op::Known);
                Ok(ValueKind::Bool)
            }
            "unknown" => {
                self.uses_known = true;
                self.ops.push(Op::Unknown);
                Ok(ValueKind::Bool)
            }
            "match" => {
                self.expect(Tok::LParen, "'('")?;
                let re_at = self.at;
                let Tok::Str(pattern) = self.tok else {
                    return Err(self.unexpected("a quoted regular expression"));
                };
                self.advance()?;
                // Kea uses std::regex_match: the whole value must match.
                let re = regex::bytes::RegexBuilder::new(&format!("^(?:{pattern})$"))
                    .unicode(false)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| ExprError::BadRegex {
                        offset: re_at,
                        reason: e.to_string(),
                    })?;
                self.expect(Tok::Comma, "','")?;
                self.string_arg()?;
                self.expect(Tok::RParen, "')'")?;
                self.regexes.push(re);
                self.ops.push(Op::Match {
                    regex: (self.regexes.len() - 1) as u32,
                });
                Ok(ValueKind::Bool)
            }
            "substring" => {
                self.expect(Tok::LParen, "'('")?;
                self.string_arg()?;
                self.expect(Tok::Comma, "','")?;
                let start = self.int_in(
                    "substring start",
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    "a 32-bit integer",
                )? as i32;
                self.expect(Tok::Comma, "','")?;
                let len = if self.is_keyword("all") {
                    self.advance()?;
                    None
                } else {
                    Some(self.int_in(
                        "substring length",
                        i64::from(i32::MIN),
                        i64::from(i32::MAX),
                        "a 32-bit integer or all",
                    )? as i32)
                };
                self.expect(Tok::RParen, "')'")?;
                self.ops.push(Op::Substring { start, len });
                Ok(ValueKind::String)
            }
            "split" => {
                self.expect(Tok::LParen, "'('")?;
                self.string_arg()?;
                self.expect(Tok::Comma, "','")?;
                self.string_arg()?;
                self.expect(Tok::Comma, "','")?;
                let field = self.int_in(
                    "split field number",
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    "a 32-bit integer",
                )? as i32;
                self.expect(Tok::RParen, "')'")?;
                self.ops.push(Op::Split { field });
                Ok(ValueKind::String)
            }
            "concat" => self.call(Op::Concat, 2),
            "hexstring" => self.call(Op::HexString, 2),
            "addrtotext" => self.call(Op::AddrToText, 1),
            "lcase" => self.call(Op::Lcase, 1),
            "ucase" => self.call(Op::Ucase, 1),
            "int8totext" => self.int_to_text(IntText::I8),
            "int16totext" => self.int_to_text(IntText::I16),
            "int32totext" => self.int_to_text(IntText::I32),
            "uint8totext" => self.int_to_text(IntText::U8),
            "uint16totext" => self.int_to_text(IntText::U16),
            "uint32totext" => self.int_to_text(IntText::U32),
            "ifelse" => {
                self.expect(Tok::LParen, "'('")?;
                let cond_at = self.at;
                let k = self.expr()?;
                self.need(k, ValueKind::Bool, cond_at)?;
                self.expect(Tok::Comma, "','")?;
                self.string_arg()?;
                self.expect(Tok::Comma, "','")?;
                self.string_arg()?;
                self.expect(Tok::RParen, "')'")?;
                self.ops.push(Op::IfElse);
                Ok(ValueKind::String)
            }
            _ => Err(ExprError::Unexpected {
                offset: at,
                expected: "an expression",
                found: format!("'{word}'"),
            }),
        }
    }

    /// `name(string, ...)` with `arity` string arguments.
    fn call(&mut self, op: Op, arity: usize) -> Result<ValueKind, ExprError> {
        self.expect(Tok::LParen, "'('")?;
        for i in 0..arity {
            if i > 0 {
                self.expect(Tok::Comma, "','")?;
            }
            self.string_arg()?;
        }
        self.expect(Tok::RParen, "')'")?;
        self.ops.push(op);
        Ok(ValueKind::String)
    }

    /// `int8totext(x)` etc. An integer literal argument is narrowed to the operator's width at
    /// compile time, so the ARM 16.3 examples `int8totext(-1)` and `uint16totext(65535)` work
    /// (a plain integer literal is otherwise four bytes, which an 8- or 16-bit operator refuses).
    fn int_to_text(&mut self, kind: IntText) -> Result<ValueKind, ExprError> {
        self.expect(Tok::LParen, "'('")?;
        if let Tok::Int(v) = self.tok {
            let at = self.at;
            self.advance()?;
            if self.tok == Tok::RParen {
                let w = kind.width() as u32;
                let bits = 8 * w;
                let min = -(1i64 << (bits - 1));
                let max = (1i64 << bits) - 1;
                if v < min || v > max {
                    return Err(ExprError::OutOfRange {
                        offset: at,
                        what: "integer",
                        value: v,
                        allowed: match w {
                            1 => "-128..255",
                            2 => "-32768..65535",
                            _ => "-2147483648..4294967295",
                        },
                    });
                }
                let bytes = (v as u32).to_be_bytes();
                let narrow = bytes.get(4 - w as usize..).unwrap_or(&bytes);
                self.push_const(narrow);
                self.advance()?;
                self.ops.push(Op::IntToText(kind));
                return Ok(ValueKind::String);
            }
            // Not a lone literal (e.g. `int8totext(1 + x)`): compile it as a general operand.
            if !(i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
                return Err(ExprError::OutOfRange {
                    offset: at,
                    what: "integer",
                    value: v,
                    allowed: "-2147483648..4294967295",
                });
            }
            self.push_const(&(v as u32).to_be_bytes());
            while self.tok == Tok::Plus {
                self.advance()?;
                let rhs_at = self.at;
                let r = self.primary()?;
                self.need(r, ValueKind::String, rhs_at)?;
                self.ops.push(Op::Concat);
            }
        } else {
            self.string_arg()?;
        }
        self.expect(Tok::RParen, "')'")?;
        self.ops.push(Op::IntToText(kind));
        Ok(ValueKind::String)
    }

    fn vendor(&mut self) -> Result<ValueKind, ExprError> {
        if self.tok == Tok::Dot {
            self.advance()?;
            self.expect_keyword("enterprise", "'enterprise'")?;
            self.ops.push(Op::VendorEnterprise);
            return Ok(ValueKind::String);
        }
        let enterprise = self.enterprise()?;
        self.expect(Tok::Dot, "'.'")?;
        if self.is_keyword("exists") {
            self.advance()?;
            self.ops.push(Op::Vendor { enterprise });
            return Ok(ValueKind::Bool);
        }
        self.expect_keyword("option", "'exists' or 'option'")?;
        let code = self.bracketed_code()?;
        self.expect(Tok::Dot, "'.'")?;
        let repr = self.repr()?;
        self.ops.push(Op::VendorOption {
            enterprise,
            code,
            repr,
        });
        Ok(Self::kind_of(repr))
    }

    fn vendor_class(&mut self) -> Result<ValueKind, ExprError> {
        if self.tok == Tok::Dot {
            self.advance()?;
            self.expect_keyword("enterprise", "'enterprise'")?;
            self.ops.push(Op::VendorClassEnterprise);
            return Ok(ValueKind::String);
        }
        let enterprise = self.enterprise()?;
        self.expect(Tok::Dot, "'.'")?;
        if self.is_keyword("exists") {
            self.advance()?;
            self.ops.push(Op::VendorClass { enterprise });
            return Ok(ValueKind::Bool);
        }
        self.expect_keyword("data", "'exists' or 'data'")?;
        let index = if self.tok == Tok::LBracket {
            self.advance()?;
            let i =
                self.int_in("data chunk index", 0, i64::from(u32::MAX), "0..4294967295")? as u32;
            self.expect(Tok::RBracket, "']'")?;
            i
        } else {
            0
        };
        self.ops.push(Op::VendorClassData { enterprise, index });
        Ok(ValueKind::String)
    }
}

/// Ops the bit-stack evaluator handles: boolean leaves and logical operators.
fn is_bool_only(op: &Op) -> bool {
    match op {
        Op::Option { repr, .. }
        | Op::SubOption { repr, .. }
        | Op::Relay4 { repr, .. }
        | Op::Relay6Option { repr, .. }
        | Op::VendorOption { repr, .. } => *repr == Repr::Exists,
        Op::EqConst { .. }
        | Op::Member { .. }
        | Op::Known
        | Op::Unknown
        | Op::Vendor { .. }
        | Op::VendorClass { .. }
        | Op::Not
        | Op::And
        | Op::Or => true,
        _ => false,
    }
}

/// A leaf whose string value can be borrowed during evaluation (see `Program::source`).
fn is_leaf(op: &Op) -> bool {
    match op {
        Op::Option { repr, .. }
        | Op::SubOption { repr, .. }
        | Op::Relay4 { repr, .. }
        | Op::Relay6Option { repr, .. }
        | Op::VendorOption { repr, .. } => *repr == Repr::Bytes,
        Op::Relay6Peer { .. }
        | Op::Relay6Link { .. }
        | Op::Pkt4(_)
        | Op::Pkt6MsgType
        | Op::Pkt6TransId
        | Op::Pkt(_)
        | Op::VendorEnterprise
        | Op::VendorClassEnterprise
        | Op::VendorClassData { .. } => true,
        _ => false,
    }
}

/// A leaf and the string functions over it that [`Op::EqConst`] computes on the fly:
/// `leaf [substring] [hexstring(_, const) | lcase | ucase] [substring]`. Returns the fused
/// operands (without the constant) and how many ops the chain spans.
fn chain_at(ops: &[Op]) -> Option<(Fused, usize)> {
    let leaf = *ops.first().filter(|op| is_leaf(op))?;
    let mut n = 1;
    let substring_at = |n: usize| match ops.get(n) {
        Some(&Op::Substring { start, len }) => Some((start, len)),
        _ => None,
    };
    let inner = substring_at(n);
    n += usize::from(inner.is_some());
    let transform = match ops.get(n..) {
        Some([Op::Const { start, len }, Op::HexString, ..]) => {
            n += 2;
            Transform::HexString {
                sep: (*start, *len),
            }
        }
        Some([Op::Lcase, ..]) => {
            n += 1;
            Transform::Lcase
        }
        Some([Op::Ucase, ..]) => {
            n += 1;
            Transform::Ucase
        }
        _ => Transform::None,
    };
    let outer = substring_at(n);
    n += usize::from(outer.is_some());
    Some((
        Fused {
            source: leaf,
            inner,
            transform,
            substring: outer,
            value: (0, 0),
        },
        n,
    ))
}

/// Rewrites `chain const ==` and `const chain ==` (a chain as [`chain_at`] reads it) into one
/// [`Op::EqConst`]. Postfix adjacency guarantees these ops are exactly the operands: a chain
/// pushes one value, so `==` compares it with the constant next to it.
fn fuse_comparisons(ops: &[Op]) -> (Vec<Op>, Vec<Fused>) {
    let mut out = Vec::with_capacity(ops.len());
    let mut fused = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let rest = ops.get(i..).unwrap_or(&[]);
        let found = match rest {
            [Op::Const { start, len }, tail @ ..] => chain_at(tail).and_then(|(f, n)| {
                matches!(tail.get(n), Some(Op::Equal)).then_some((f, (*start, *len), n + 2))
            }),
            _ => None,
        }
        .or_else(|| {
            chain_at(rest).and_then(|(f, n)| match rest.get(n..n + 2) {
                Some(&[Op::Const { start, len }, Op::Equal]) => Some((f, (start, len), n + 2)),
                _ => None,
            })
        });
        match found {
            Some((f, value, n)) => {
                out.push(Op::EqConst {
                    fused: fused.len() as u32,
                });
                fused.push(Fused { value, ..f });
                i += n;
            }
            None => {
                if let Some(op) = rest.first() {
                    out.push(*op);
                }
                i += 1;
            }
        }
    }
    (out, fused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(expr: &str) -> Vec<Op> {
        let names = |_: &str| None;
        match Parser::new(expr, Universe::V4, &names).and_then(|p| p.compile()) {
            Ok(p) => p.ops,
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    #[test]
    fn typical_class_tests_fuse_into_one_comparison() {
        assert_eq!(
            ops("substring(option[61].hex,0,3) == 'foo'"),
            vec![Op::EqConst { fused: 0 }]
        );
        assert_eq!(
            ops("'foo' == option[61].hex"),
            vec![Op::EqConst { fused: 0 }]
        );
        assert_eq!(
            ops("pkt4.giaddr == 10.0.0.1 and relay4[2].hex == 0x01"),
            vec![Op::EqConst { fused: 0 }, Op::EqConst { fused: 1 }, Op::And]
        );
        assert_eq!(
            ops("lcase(option[61].hex) == 'foo'"),
            vec![Op::EqConst { fused: 0 }]
        );
        assert_eq!(
            ops("substring(hexstring(pkt4.mac, ':'), 0, 8) == 'AA:BB:CC'"),
            vec![Op::EqConst { fused: 0 }]
        );
        // A computed operand that is not a chain over one leaf: no fusion.
        assert_eq!(
            ops("concat(option[61].hex, 'x') == 'foo'"),
            vec![
                Op::Option {
                    code: 61,
                    repr: Repr::Bytes
                },
                Op::Const { start: 0, len: 1 },
                Op::Concat,
                Op::Const { start: 1, len: 3 },
                Op::Equal
            ]
        );
    }

    /// A packet as the evaluator sees it, for the fused-against-unfused comparisons.
    struct Packet {
        options: Vec<(u16, Vec<u8>)>,
        mac: Vec<u8>,
        giaddr: std::net::Ipv4Addr,
    }

    impl crate::PacketContext for Packet {
        fn option(&self, code: u16) -> Option<&[u8]> {
            self.options
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, v)| &v[..])
        }
        fn pkt4_mac(&self) -> &[u8] {
            &self.mac
        }
        fn pkt4_giaddr(&self) -> std::net::Ipv4Addr {
            self.giaddr
        }
    }

    fn packets() -> Vec<Packet> {
        let vendor = |data: &[u8]| {
            let mut v = vec![0, 0, 0x11, 0x8b, data.len() as u8 + 2, 1, data.len() as u8];
            v.extend_from_slice(data);
            v
        };
        vec![
            Packet {
                options: vec![
                    (60, b"PXEClient:Arch:00007:UNDI:003016".to_vec()),
                    (61, vec![1, 0xaa, 0xbb]),
                    (12, b"Host-17".to_vec()),
                    (82, vec![2, 2, 0x12, 0x34]),
                    (125, vendor(b"docsis3.0")),
                    (200, vec![0x0f]),
                ],
                mac: vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
                giaddr: std::net::Ipv4Addr::new(10, 0, 0, 1),
            },
            // Every option missing, no hardware address.
            Packet {
                options: vec![],
                mac: vec![],
                giaddr: std::net::Ipv4Addr::UNSPECIFIED,
            },
            // Every option present and empty.
            Packet {
                options: [60, 61, 12, 82, 125, 200]
                    .iter()
                    .map(|&c| (c, vec![]))
                    .collect(),
                mac: vec![],
                giaddr: std::net::Ipv4Addr::UNSPECIFIED,
            },
            // Other values, shorter than the constants.
            Packet {
                options: vec![
                    (60, b"PXE".to_vec()),
                    (61, vec![1, 0xaa]),
                    (12, b"HOST-17".to_vec()),
                    (82, vec![2, 1, 0x12]),
                    (125, vendor(b"docsis")),
                    (200, vec![0xf0, 0x01]),
                ],
                mac: vec![0x00, 0x11, 0x22],
                giaddr: std::net::Ipv4Addr::new(10, 0, 0, 2),
            },
        ]
    }

    fn program(expr: &str, fuse: bool) -> Program {
        let names = |_: &str| None;
        match Parser::new(expr, Universe::V4, &names).and_then(|p| p.compile_fused(fuse)) {
            Ok(p) => p,
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    #[test]
    fn fused_comparisons_agree_with_the_unfused_program() {
        // Every shape `chain_at` fuses, over present, missing and empty values.
        let fused_alone = [
            "option[60].hex == 'PXEClient:Arch:00007:UNDI:003016'",
            "'PXEClient:Arch:00007:UNDI:003016' == option[60].hex",
            "substring(option[60].hex, 0, 9) == 'PXEClient'",
            "substring(option[60].hex, -3, all) == '016'",
            "substring(option[60].hex, 3, -2) == 'XE'",
            "substring(substring(option[60].hex, 0, 9), 3, 6) == 'Client'",
            "option[200].hex == ''",
            "lcase(option[12].hex) == 'host-17'",
            "'HOST-17' == ucase(option[12].hex)",
            "ucase(substring(option[12].hex, 0, 4)) == 'HOST'",
            "substring(lcase(option[12].hex), -2, all) == '17'",
            "lcase(option[200].hex) == ''",
            "hexstring(pkt4.mac, ':') == 'AA:BB:CC:DD:EE:FF'",
            "substring(hexstring(pkt4.mac, ':'), 0, 8) == 'AA:BB:CC'",
            "substring(hexstring(pkt4.mac, ':'), -5, all) == 'EE:FF'",
            "substring(hexstring(pkt4.mac, ':'), 2, 1) == ':'",
            "substring(hexstring(pkt4.mac, ':'), 0, 8) == ''",
            "hexstring(pkt4.mac, ':') == ''",
            "hexstring(option[61].hex, '') == '01AABB'",
            "hexstring(option[61].hex, '--') == '01--AA'",
            "'0F' == hexstring(option[200].hex, ':')",
            "hexstring(substring(option[61].hex, 1, 2), '-') == 'AA-BB'",
            "substring(hexstring(option[200].hex, ':'), 0, 2) == ''",
            "pkt4.giaddr == 10.0.0.1",
            "relay4[2].hex == 0x1234",
            "vendor[4491].option[1].hex == 'docsis3.0'",
            "substring(vendor[4491].option[1].hex, 0, 6) == 'docsis'",
        ];
        // Fused inside a larger program, or not fusable: must still agree.
        let others = [
            "option[60].hex == 'PXE' or lcase(option[12].hex) == 'host-17'",
            "not (hexstring(pkt4.mac, ':') == '' and option[61].exists)",
            "ucase(hexstring(option[61].hex, 'x')) == '01XAAXBB'",
            "concat(option[200].hex, '') == 0x0f",
            "hexstring(option[61].hex, option[200].hex) == ''",
        ];
        let packets = packets();
        let mut scratch = crate::Scratch::new();
        for expr in fused_alone.iter().chain(&others) {
            let (fused, plain) = (program(expr, true), program(expr, false));
            if fused_alone.contains(expr) {
                assert!(
                    matches!(fused.shape, Shape::Single(_)),
                    "{expr} should fuse into one comparison: {:?}",
                    fused.ops
                );
            }
            assert!(!plain.ops.iter().any(|op| matches!(op, Op::EqConst { .. })));
            let results: Vec<bool> = packets
                .iter()
                .map(|pkt| {
                    let want = plain.eval_bool(pkt, &mut scratch);
                    assert_eq!(fused.eval_bool(pkt, &mut scratch), want, "{expr}");
                    want
                })
                .collect();
            // Each comparison is true for some packet and false for another, so the
            // agreement above is not two constant answers.
            assert!(
                results.contains(&true) && results.contains(&false),
                "{expr}: {results:?}"
            );
        }
    }
}

//! The compiled form of an expression (a postfix program, as Kea's token list, ARM 16.11) and
//! its allocation-free evaluator.

use crate::context::PacketContext;
use crate::error::EvalError;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which DHCP protocol an expression is written for: decides option-code width, the vendor
/// option codes, and which of `relay4` / `relay6` / `pkt4` / `pkt6` are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Universe {
    V4,
    V6,
}

/// What a whole expression yields: a class `test` must be [`ValueKind::Bool`]; a
/// `template-test` or flex-id expression is a [`ValueKind::String`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Bool,
    String,
}

/// `.hex` and `.text` push the payload; `.exists` pushes a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repr {
    Bytes,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pkt4Field {
    Mac,
    Hlen,
    Htype,
    Ciaddr,
    Giaddr,
    Yiaddr,
    Siaddr,
    MsgType,
    TransId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PktField {
    Iface,
    Src,
    Dst,
    Len,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntText {
    I8,
    I16,
    I32,
    U8,
    U16,
    U32,
}

impl IntText {
    pub(crate) fn width(self) -> usize {
        match self {
            IntText::I8 | IntText::U8 => 1,
            IntText::I16 | IntText::U16 => 2,
            IntText::I32 | IntText::U32 => 4,
        }
    }
    fn name(self) -> &'static str {
        match self {
            IntText::I8 => "int8totext",
            IntText::I16 => "int16totext",
            IntText::I32 => "int32totext",
            IntText::U8 => "uint8totext",
            IntText::U16 => "uint16totext",
            IntText::U32 => "uint32totext",
        }
    }
}

/// One postfix instruction. Literal operands of `substring` / `split` are baked in, as Kea's
/// grammar only allows integer literals there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Const {
        start: u32,
        len: u32,
    },
    Option {
        code: u16,
        repr: Repr,
    },
    SubOption {
        code: u16,
        sub: u16,
        repr: Repr,
    },
    Relay4 {
        sub: u8,
        repr: Repr,
    },
    Relay6Option {
        nest: i32,
        code: u16,
        repr: Repr,
    },
    Relay6Peer {
        nest: i32,
    },
    Relay6Link {
        nest: i32,
    },
    Pkt4(Pkt4Field),
    Pkt6MsgType,
    Pkt6TransId,
    Pkt(PktField),
    /// `enterprise == 0` is the wildcard (`*` or `0`, ARM 16.3 notes).
    Vendor {
        enterprise: u32,
    },
    VendorEnterprise,
    VendorOption {
        enterprise: u32,
        code: u16,
        repr: Repr,
    },
    VendorClass {
        enterprise: u32,
    },
    VendorClassEnterprise,
    VendorClassData {
        enterprise: u32,
        index: u32,
    },
    Member {
        class: u32,
    },
    Known,
    Unknown,
    Equal,
    Match {
        regex: u32,
    },
    Not,
    And,
    Or,
    Substring {
        start: i32,
        len: Option<i32>,
    },
    Concat,
    Split {
        field: i32,
    },
    IfElse,
    HexString,
    AddrToText,
    IntToText(IntText),
    Lcase,
    Ucase,
    /// Peephole fusion of `leaf [substring] [hexstring/lcase/ucase] [substring] == const`
    /// (the shape of almost every class test): compares the borrowed packet bytes with the
    /// constant without copying either, computing transformed bytes one at a time.
    EqConst {
        fused: u32,
    },
}

/// A string function applied to the leaf of an [`Op::EqConst`], computed byte by byte during
/// the comparison instead of into the scratch stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Transform {
    None,
    /// `hexstring(leaf, sep)` with a literal separator: (start, len) in the constant pool.
    HexString {
        sep: (u32, u32),
    },
    Lcase,
    Ucase,
}

/// Operands of [`Op::EqConst`]: `leaf`, then `inner` substring, then `transform`, then
/// `substring`, compared with `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fused {
    pub(crate) source: Op,
    pub(crate) inner: Option<(i32, Option<i32>)>,
    pub(crate) transform: Transform,
    pub(crate) substring: Option<(i32, Option<i32>)>,
    /// (start, len) in the constant pool.
    pub(crate) value: (u32, u32),
}

/// How [`Program::try_eval_bool`] runs a program, decided at compile time so the per-packet
/// dispatch is one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The whole program is one [`Op::EqConst`]: no stack at all.
    Single(u32),
    /// The whole program is one `member('name')` (class slot): one membership question.
    Member(u32),
    /// Only boolean leaves and logical operators (and at most 64 deep): evaluated on a bit
    /// stack in registers, without touching the scratch stacks.
    BoolOnly,
    /// The general stack machine.
    Stack,
    /// A string-valued program (a `template-test`): not a class test.
    String,
}

/// [`Program::bind_classes`]: no id for this `member()` name, compare names.
const UNBOUND: u32 = u32::MAX;

impl Op {
    /// (strings popped, bools popped, strings pushed, bools pushed)
    pub(crate) fn stack_effect(&self) -> (usize, usize, usize, usize) {
        match self {
            Op::Option { repr, .. }
            | Op::SubOption { repr, .. }
            | Op::Relay4 { repr, .. }
            | Op::Relay6Option { repr, .. }
            | Op::VendorOption { repr, .. } => match repr {
                Repr::Bytes => (0, 0, 1, 0),
                Repr::Exists => (0, 0, 0, 1),
            },
            Op::Const { .. }
            | Op::Relay6Peer { .. }
            | Op::Relay6Link { .. }
            | Op::Pkt4(_)
            | Op::Pkt6MsgType
            | Op::Pkt6TransId
            | Op::Pkt(_)
            | Op::VendorEnterprise
            | Op::VendorClassEnterprise
            | Op::VendorClassData { .. } => (0, 0, 1, 0),
            Op::Vendor { .. }
            | Op::EqConst { .. }
            | Op::VendorClass { .. }
            | Op::Member { .. }
            | Op::Known
            | Op::Unknown => (0, 0, 0, 1),
            Op::Equal => (2, 0, 0, 1),
            Op::Match { .. } => (1, 0, 0, 1),
            Op::Not => (0, 1, 0, 1),
            Op::And | Op::Or => (0, 2, 0, 1),
            Op::Substring { .. } | Op::AddrToText | Op::IntToText(_) | Op::Lcase | Op::Ucase => {
                (1, 0, 1, 0)
            }
            Op::Concat | Op::Split { .. } | Op::HexString => (2, 0, 1, 0),
            Op::IfElse => (2, 1, 1, 0),
        }
    }
}

/// A compiled expression. Immutable and `Sync`: compile once at config load, share with every
/// shard, evaluate with a per-shard [`Scratch`].
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) ops: Vec<Op>,
    pub(crate) consts: Vec<u8>,
    pub(crate) fused: Vec<Fused>,
    pub(crate) classes: Vec<Box<str>>,
    pub(crate) regexes: Vec<regex::bytes::Regex>,
    pub(crate) kind: ValueKind,
    pub(crate) universe: Universe,
    pub(crate) max_strings: usize,
    pub(crate) max_bools: usize,
    pub(crate) uses_known: bool,
    pub(crate) shape: Shape,
    /// Caller-chosen id of each `classes` entry ([`Program::bind_classes`]); empty (or
    /// [`UNBOUND`]) means `member()` asks the context by name.
    pub(crate) class_ids: Vec<u32>,
}

/// Reusable evaluation stacks. Create one per shard (or thread) and pass it to every
/// evaluation: after the first packets have grown it to its working size, evaluation never
/// allocates.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Every string value on the stack, back to back; the top value always ends at `len()`.
    bytes: Vec<u8>,
    /// (start, end) of each string value in `bytes`.
    spans: Vec<(usize, usize)>,
    bools: Vec<bool>,
}

impl Scratch {
    /// Stacks big enough for typical class tests (64 values, 4 KiB of bytes).
    pub fn new() -> Self {
        Scratch {
            bytes: Vec::with_capacity(4096),
            spans: Vec::with_capacity(64),
            bools: Vec::with_capacity(64),
        }
    }

    /// Grows the stacks so `program` never needs more value slots.
    pub fn reserve_for(&mut self, program: &Program) {
        self.spans
            .reserve(program.max_strings.saturating_sub(self.spans.len()));
        self.bools
            .reserve(program.max_bools.saturating_sub(self.bools.len()));
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.bools.clear();
    }

    fn push(&mut self, data: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        self.spans.push((start, self.bytes.len()));
    }

    fn push_opt(&mut self, data: Option<&[u8]>) {
        self.push(data.unwrap_or(&[]));
    }

    fn pop(&mut self) -> Result<(usize, usize), EvalError> {
        self.spans.pop().ok_or(EvalError::StackUnderflow)
    }

    fn pop_bool(&mut self) -> Result<bool, EvalError> {
        self.bools.pop().ok_or(EvalError::StackUnderflow)
    }

    fn slice(&self, (start, end): (usize, usize)) -> &[u8] {
        self.bytes.get(start..end).unwrap_or(&[])
    }

    /// Replaces popped operands that began at `base` with `bytes[from..to]` (which lies at or
    /// after `base`), keeping values back to back.
    fn settle(&mut self, base: usize, from: usize, to: usize) {
        let len = to.saturating_sub(from);
        if from != base && to <= self.bytes.len() {
            self.bytes.copy_within(from..to, base);
        }
        self.bytes.truncate(base + len);
        self.spans.push((base, base + len));
    }

    /// Start of a result appended after the operands; `settle` moves it down.
    fn mark(&self) -> usize {
        self.bytes.len()
    }
}

/// Copies a number or address (at most 16 bytes) into `tmp` and borrows it.
fn put<'t>(tmp: &'t mut [u8; 16], bytes: &[u8]) -> &'t [u8] {
    let n = bytes.len().min(tmp.len());
    let (head, _) = tmp.split_at_mut(n);
    head.copy_from_slice(bytes.get(..n).unwrap_or(&[]));
    head
}

/// `fmt::Write` into the scratch bytes: number and address formatting without a `String`.
struct ByteSink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A TLV option payload's entry `code`: 1-byte code and length in v4 (RFC 2132), 2-byte in
/// v6 (RFC 8415 21.1). Stops at the first truncated entry.
fn find_tlv(universe: Universe, mut data: &[u8], code: u16) -> Option<&[u8]> {
    let (hdr, wide) = match universe {
        Universe::V4 => (2usize, false),
        Universe::V6 => (4usize, true),
    };
    loop {
        let head = data.get(..hdr)?;
        let (c, len) = if wide {
            (
                u16::from_be_bytes([*head.first()?, *head.get(1)?]),
                usize::from(u16::from_be_bytes([*head.get(2)?, *head.get(3)?])),
            )
        } else {
            (u16::from(*head.first()?), usize::from(*head.get(1)?))
        };
        let payload = data.get(hdr..hdr + len)?;
        if c == code {
            return Some(payload);
        }
        data = data.get(hdr + len..)?;
    }
}

/// The first vendor block of a vendor option (v4 125, RFC 3925 4: enterprise, data-len,
/// sub-options; v6 17, RFC 8415 21.17: enterprise, sub-options). ARM 16.3: only the first
/// instance is examined.
fn vendor_block(universe: Universe, data: &[u8]) -> Option<(u32, &[u8])> {
    let ent = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
    match universe {
        Universe::V4 => {
            let len = usize::from(*data.get(4)?);
            Some((ent, data.get(5..5 + len)?))
        }
        Universe::V6 => Some((ent, data.get(4..)?)),
    }
}

/// The `index`th data chunk of a vendor class block (v4 124, RFC 3925 3: enterprise,
/// data-len, then 1-byte-length chunks; v6 16, RFC 8415 21.16: enterprise, then 2-byte-length
/// chunks).
fn vendor_class_chunk(universe: Universe, chunks: &[u8], index: u32) -> Option<&[u8]> {
    let mut rest = chunks;
    let mut i = 0u32;
    loop {
        let (len, hdr) = match universe {
            Universe::V4 => (usize::from(*rest.first()?), 1usize),
            Universe::V6 => (
                usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
                2usize,
            ),
        };
        let chunk = rest.get(hdr..hdr + len)?;
        if i == index {
            return Some(chunk);
        }
        rest = rest.get(hdr + len..)?;
        i += 1;
    }
}

fn vendor_class_block(universe: Universe, data: &[u8]) -> Option<(u32, &[u8])> {
    vendor_block(universe, data)
}

fn enterprise_matches(wanted: u32, got: u32) -> bool {
    wanted == 0 || wanted == got
}

/// ARM 16.3.3: start counts from the end when negative; a negative length counts back from
/// start, excluding it; `all` (None) runs to the end. Out-of-range start gives "".
fn substring_range(len: usize, start: i32, length: Option<i32>) -> (usize, usize) {
    // The usual literals (start and length not negative) need none of the sign handling.
    if let (Ok(s), Ok(l)) = (usize::try_from(start), usize::try_from(length.unwrap_or(0))) {
        return match length {
            _ if s >= len => (0, 0),
            None => (s, len),
            Some(_) => (s, s.saturating_add(l).min(len)),
        };
    }
    substring_range_signed(len, start, length)
}

/// [`substring_range`] for any sign of start and length.
fn substring_range_signed(len: usize, start: i32, length: Option<i32>) -> (usize, usize) {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let mut s = i64::from(start);
    if n == 0 || s < -n || s >= n {
        return (0, 0);
    }
    if s < 0 {
        s += n;
    }
    let mut l = length.map_or(n, i64::from);
    if l < 0 {
        l = -l;
        if l <= s {
            s -= l;
        } else {
            l = s;
            s = 0;
        }
    }
    let end = (s + l).min(n);
    let (Ok(a), Ok(b)) = (usize::try_from(s), usize::try_from(end)) else {
        return (0, 0);
    };
    (a, b.max(a))
}

/// ARM 16.3.5: fields separated by any of `delims`, adjacent delimiters give empty fields;
/// field numbers count from 1; out of range gives "".
fn split_range(value: &[u8], delims: &[u8], field: i32) -> (usize, usize) {
    if value.is_empty() {
        return (0, 0);
    }
    if delims.is_empty() {
        return (0, value.len());
    }
    let Ok(wanted) = usize::try_from(field) else {
        return (0, 0);
    };
    if wanted == 0 {
        return (0, 0);
    }
    let mut n = 1usize;
    let mut start = 0usize;
    for (i, b) in value.iter().enumerate() {
        if delims.contains(b) {
            if n == wanted {
                return (start, i);
            }
            n += 1;
            start = i + 1;
        }
    }
    if n == wanted {
        (start, value.len())
    } else {
        (0, 0)
    }
}

/// `substring(v, start, len)` of a borrowed value (ARM 16.3.3), or `v` itself for `None`.
#[inline]
fn cut(v: &[u8], substring: Option<(i32, Option<i32>)>) -> &[u8] {
    match substring {
        Some((start, len)) => {
            let (a, b) = substring_range(v.len(), start, len);
            v.get(a..b).unwrap_or(&[])
        }
        None => v,
    }
}

/// `a == b` for the short values class tests compare (a vendor class, a few bytes of an
/// option): an inline loop, where slice `==` calls `memcmp` (issue 8: the calls were ~120
/// instructions per packet for ten tests).
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Uppercase hex digits of ARM 16.3.7's `hexstring`.
const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// `substring(hexstring(value, sep), ..) == want` without building the hex string: the
/// result's byte `j` is a digit of `value[j / (2 + |sep|)]` or a separator byte.
fn hexstring_eq(
    value: &[u8],
    sep: &[u8],
    substring: Option<(i32, Option<i32>)>,
    want: &[u8],
) -> bool {
    let stride = 2 + sep.len();
    let total = match value.len() {
        0 => 0,
        n => 2 * n + sep.len() * (n - 1),
    };
    let (a, b) = match substring {
        Some((start, len)) => substring_range(total, start, len),
        None => (0, total),
    };
    if b - a != want.len() {
        return false;
    }
    want.iter().enumerate().all(|(i, &w)| {
        let j = a + i;
        let Some(&byte) = value.get(j / stride) else {
            return false;
        };
        let got = match j % stride {
            0 => HEX_DIGITS[usize::from(byte >> 4)],
            1 => HEX_DIGITS[usize::from(byte & 0xf)],
            r => sep.get(r - 2).copied().unwrap_or(0),
        };
        got == w
    })
}

fn resolve_nest(count: usize, nest: i32) -> Option<usize> {
    let level = if nest < 0 {
        i64::try_from(count).ok()? + i64::from(nest)
    } else {
        i64::from(nest)
    };
    let level = usize::try_from(level).ok()?;
    (level < count).then_some(level)
}

impl Program {
    /// What the whole expression yields.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    pub fn universe(&self) -> Universe {
        self.universe
    }

    /// Class names read by `member('...')` (not KNOWN, which is [`Program::depends_on_known`]):
    /// the config layer checks these are defined earlier (ARM 16.3 on forward dependencies).
    pub fn member_classes(&self) -> impl Iterator<Item = &str> {
        self.classes.iter().map(|c| &**c)
    }

    /// True when the expression reads KNOWN/UNKNOWN, so it must be evaluated after host
    /// reservation lookup (ARM 16.1.1 step 9).
    pub fn depends_on_known(&self) -> bool {
        self.uses_known
    }

    /// Evaluates a boolean expression (a class `test`). Evaluation errors (e.g. `addrtotext`
    /// of 3 bytes) and string-valued programs give `false`, as in Kea where the exception
    /// leaves the packet out of the class.
    #[inline]
    pub fn eval_bool(&self, ctx: &impl PacketContext, scratch: &mut Scratch) -> bool {
        self.try_eval_bool(ctx, scratch).unwrap_or(false)
    }

    #[inline]
    pub fn try_eval_bool(
        &self,
        ctx: &impl PacketContext,
        scratch: &mut Scratch,
    ) -> Result<bool, EvalError> {
        match self.shape {
            // Most class tests fuse into one comparison: skip the stack machine entirely.
            Shape::Single(fused) => Ok(self.eq_const(fused, ctx)),
            Shape::Member(class) => Ok(self.member(class, ctx)),
            Shape::BoolOnly => Ok(self.eval_bool_only(ctx)),
            Shape::Stack => {
                self.run(ctx, scratch)?;
                scratch.pop_bool()
            }
            Shape::String => Err(EvalError::WrongResultType {
                expected: "boolean",
            }),
        }
    }

    /// Gives every `member('name')` of the program the id `id_of(name)` returns (at config
    /// load), so evaluation asks [`PacketContext::is_member_id`] with that id instead of
    /// comparing names per packet. Names `id_of` has no id for (`None`) keep the by-name
    /// question [`PacketContext::is_member`]. Binding never changes a result as long as the
    /// context answers `is_member_id(id_of(n), n)` exactly as `is_member(n)`.
    pub fn bind_classes(&mut self, mut id_of: impl FnMut(&str) -> Option<u32>) {
        self.class_ids = self
            .classes
            .iter()
            .map(|name| id_of(name).filter(|&id| id != UNBOUND).unwrap_or(UNBOUND))
            .collect();
    }

    /// `member('name')` of class slot `class`.
    #[inline]
    fn member(&self, class: u32, ctx: &impl PacketContext) -> bool {
        let name = self.classes.get(class as usize).map_or("", |c| &**c);
        match self.class_ids.get(class as usize) {
            Some(&id) if id != UNBOUND => ctx.is_member_id(id, name),
            _ => ctx.is_member(name),
        }
    }

    /// Evaluates a string expression (a `template-test`). A boolean program yields `"true"` /
    /// `"false"` (how Kea's value stack holds booleans); an evaluation error yields `""`.
    pub fn eval_string<'s>(&self, ctx: &impl PacketContext, scratch: &'s mut Scratch) -> &'s [u8] {
        match self.try_eval_string(ctx, scratch) {
            Ok(v) => v,
            Err(_) => &[],
        }
    }

    pub fn try_eval_string<'s>(
        &self,
        ctx: &impl PacketContext,
        scratch: &'s mut Scratch,
    ) -> Result<&'s [u8], EvalError> {
        self.run(ctx, scratch)?;
        match self.kind {
            ValueKind::Bool => Ok(if scratch.pop_bool()? {
                b"true"
            } else {
                b"false"
            }),
            ValueKind::String => {
                let span = scratch.pop()?;
                Ok(scratch.slice(span))
            }
        }
    }

    fn run(&self, ctx: &impl PacketContext, s: &mut Scratch) -> Result<(), EvalError> {
        s.clear();
        for op in &self.ops {
            self.step(*op, ctx, s)?;
        }
        Ok(())
    }

    fn push_repr(s: &mut Scratch, data: Option<&[u8]>, repr: Repr) {
        match repr {
            Repr::Bytes => s.push_opt(data),
            Repr::Exists => s.bools.push(data.is_some()),
        }
    }

    #[inline]
    fn step(&self, op: Op, ctx: &impl PacketContext, s: &mut Scratch) -> Result<(), EvalError> {
        match op {
            Op::Option { repr, .. }
            | Op::SubOption { repr, .. }
            | Op::Relay4 { repr, .. }
            | Op::Relay6Option { repr, .. }
            | Op::VendorOption { repr, .. } => Self::push_repr(s, self.lookup(op, ctx), repr),
            Op::EqConst { fused } => {
                let eq = self.eq_const(fused, ctx);
                s.bools.push(eq);
            }
            Op::Const { .. }
            | Op::Relay6Peer { .. }
            | Op::Relay6Link { .. }
            | Op::Pkt4(_)
            | Op::Pkt6MsgType
            | Op::Pkt6TransId
            | Op::Pkt(_)
            | Op::VendorEnterprise
            | Op::VendorClassEnterprise
            | Op::VendorClassData { .. } => {
                let mut tmp = [0u8; 16];
                let v = self.source(op, ctx, &mut tmp).unwrap_or(&[]);
                s.push(v);
            }
            Op::Vendor { enterprise } => {
                let found = self
                    .vendor(ctx)
                    .is_some_and(|(e, _)| enterprise_matches(enterprise, e));
                s.bools.push(found);
            }
            Op::VendorClass { enterprise } => {
                let found = self
                    .vendor_class(ctx)
                    .is_some_and(|(e, _)| enterprise_matches(enterprise, e));
                s.bools.push(found);
            }
            Op::Member { class } => {
                let member = self.member(class, ctx);
                s.bools.push(member);
            }
            Op::Known => s.bools.push(ctx.is_known()),
            Op::Unknown => s.bools.push(!ctx.is_known()),
            Op::Equal => {
                let b = s.pop()?;
                let a = s.pop()?;
                let eq = s.slice(a) == s.slice(b);
                s.bytes.truncate(a.0);
                s.bools.push(eq);
            }
            Op::Match { regex } => {
                let v = s.pop()?;
                let hit = self
                    .regexes
                    .get(regex as usize)
                    .is_some_and(|r| r.is_match(s.slice(v)));
                s.bytes.truncate(v.0);
                s.bools.push(hit);
            }
            Op::Not => {
                let v = s.pop_bool()?;
                s.bools.push(!v);
            }
            Op::And => {
                let b = s.pop_bool()?;
                let a = s.pop_bool()?;
                s.bools.push(a && b);
            }
            Op::Or => {
                let b = s.pop_bool()?;
                let a = s.pop_bool()?;
                s.bools.push(a || b);
            }
            Op::Substring { start, len } => {
                let v = s.pop()?;
                let (a, b) = substring_range(v.1 - v.0, start, len);
                s.settle(v.0, v.0 + a, v.0 + b);
            }
            Op::Concat => {
                // Values are back to back, so the concatenation is already in place.
                let b = s.pop()?;
                let a = s.pop()?;
                s.settle(a.0, a.0, b.1);
            }
            Op::Split { field } => {
                let d = s.pop()?;
                let v = s.pop()?;
                let (a, b) = split_range(s.slice(v), s.slice(d), field);
                s.settle(v.0, v.0 + a, v.0 + b);
            }
            Op::IfElse => {
                let no = s.pop()?;
                let yes = s.pop()?;
                let cond = s.pop_bool()?;
                let pick = if cond { yes } else { no };
                s.settle(yes.0, pick.0, pick.1);
            }
            Op::HexString => {
                let sep = s.pop()?;
                let v = s.pop()?;
                // ARM 16.3.7: uppercase digit pairs joined by the separator.
                const HEX: &[u8; 16] = HEX_DIGITS;
                let (n, sep_len) = (v.1 - v.0, sep.1 - sep.0);
                let out = s.mark();
                let need = 2 * n + sep_len * n.saturating_sub(1);
                s.bytes.resize(out + need, 0);
                let (head, tail) = s.bytes.split_at_mut(out);
                let (value, separator) = (
                    head.get(v.0..v.1).unwrap_or(&[]),
                    head.get(sep.0..sep.1).unwrap_or(&[]),
                );
                let mut w = 0usize;
                for (i, byte) in value.iter().enumerate() {
                    if i > 0 {
                        if let Some(dst) = tail.get_mut(w..w + sep_len) {
                            dst.copy_from_slice(separator);
                        }
                        w += sep_len;
                    }
                    if let Some([hi, lo]) = tail.get_mut(w..w + 2) {
                        *hi = HEX[usize::from(byte >> 4)];
                        *lo = HEX[usize::from(byte & 0xf)];
                    }
                    w += 2;
                }
                let end = s.mark();
                s.settle(v.0, out, end);
            }
            Op::AddrToText => {
                let v = s.pop()?;
                let out = s.mark();
                let data = s.slice(v);
                let addr = match data.len() {
                    0 => None,
                    4 => <[u8; 4]>::try_from(data)
                        .ok()
                        .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
                    16 => <[u8; 16]>::try_from(data)
                        .ok()
                        .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
                    got => {
                        return Err(EvalError::BadLength {
                            op: "addrtotext",
                            expected: "4 or 16 bytes",
                            got,
                        })
                    }
                };
                if let Some(a) = addr {
                    let _ = write!(ByteSink(&mut s.bytes), "{a}");
                }
                let end = s.mark();
                s.settle(v.0, out, end);
            }
            Op::IntToText(kind) => {
                let v = s.pop()?;
                let out = s.mark();
                let data = s.slice(v);
                if !data.is_empty() {
                    if data.len() != kind.width() {
                        return Err(EvalError::BadLength {
                            op: kind.name(),
                            expected: match kind.width() {
                                1 => "1 byte",
                                2 => "2 bytes",
                                _ => "4 bytes",
                            },
                            got: data.len(),
                        });
                    }
                    let mut raw = [0u8; 4];
                    for (d, b) in raw.iter_mut().rev().zip(data.iter().rev()) {
                        *d = *b;
                    }
                    let u = u32::from_be_bytes(raw);
                    let mut sink = ByteSink(&mut s.bytes);
                    let _ = match kind {
                        IntText::I8 => write!(sink, "{}", u as u8 as i8),
                        IntText::I16 => write!(sink, "{}", u as u16 as i16),
                        IntText::I32 => write!(sink, "{}", u as i32),
                        IntText::U8 | IntText::U16 | IntText::U32 => write!(sink, "{u}"),
                    };
                }
                let end = s.mark();
                s.settle(v.0, out, end);
            }
            Op::Lcase | Op::Ucase => {
                let v = s.pop()?;
                if let Some(bytes) = s.bytes.get_mut(v.0..v.1) {
                    if op == Op::Lcase {
                        bytes.make_ascii_lowercase();
                    } else {
                        bytes.make_ascii_uppercase();
                    }
                }
                s.spans.push(v);
            }
        }
        Ok(())
    }

    /// Evaluates a [`Shape::BoolOnly`] program with a 64-bit stack of truth values. Kept
    /// out of the caller's loop over class tests, so that [`Program::eq_const`] (most
    /// tests) is inlined there instead.
    #[inline(never)]
    fn eval_bool_only(&self, ctx: &impl PacketContext) -> bool {
        let (mut bits, mut depth) = (0u64, 0u32);
        for &op in &self.ops {
            let v = match op {
                Op::Not => {
                    bits ^= 1;
                    continue;
                }
                // Pop the top value into the one below it, in place.
                Op::And => {
                    let b = bits & 1;
                    bits = (bits >> 1) & (b | !1);
                    depth = depth.saturating_sub(1);
                    continue;
                }
                Op::Or => {
                    let b = bits & 1;
                    bits = (bits >> 1) | b;
                    depth = depth.saturating_sub(1);
                    continue;
                }
                Op::EqConst { fused } => self.eq_const(fused, ctx),
                Op::Member { class } => self.member(class, ctx),
                Op::Known => ctx.is_known(),
                Op::Unknown => !ctx.is_known(),
                Op::Vendor { enterprise } => self
                    .vendor(ctx)
                    .is_some_and(|(e, _)| enterprise_matches(enterprise, e)),
                Op::VendorClass { enterprise } => self
                    .vendor_class(ctx)
                    .is_some_and(|(e, _)| enterprise_matches(enterprise, e)),
                _ => self.lookup(op, ctx).is_some(),
            };
            bits = bits << 1 | u64::from(v);
            depth += 1;
        }
        depth == 1 && bits & 1 == 1
    }

    /// [`Op::EqConst`]: compare borrowed packet bytes with the constant, no copy. Always
    /// inlined: the call's set-up is a fifth of a fused test's cost (issue 8).
    #[inline(always)]
    fn eq_const(&self, fused: u32, ctx: &impl PacketContext) -> bool {
        let Some(f) = self.fused.get(fused as usize) else {
            return false;
        };
        let mut tmp = [0u8; 16];
        let v = match f.source {
            // The common leaf, without the general `source` dispatch.
            Op::Option {
                code,
                repr: Repr::Bytes,
            } => ctx.option(code).unwrap_or(&[]),
            source => self.source(source, ctx, &mut tmp).unwrap_or(&[]),
        };
        let v = cut(v, f.inner);
        let want = self.const_bytes(f.value);
        match f.transform {
            Transform::None => bytes_eq(cut(v, f.substring), want),
            Transform::Lcase | Transform::Ucase => {
                // Case mapping is per byte, so it commutes with the substring.
                let v = cut(v, f.substring);
                v.len() == want.len()
                    && if f.transform == Transform::Lcase {
                        v.iter()
                            .zip(want)
                            .all(|(a, b)| a.to_ascii_lowercase() == *b)
                    } else {
                        v.iter()
                            .zip(want)
                            .all(|(a, b)| a.to_ascii_uppercase() == *b)
                    }
            }
            Transform::HexString { sep } => {
                hexstring_eq(v, self.const_bytes(sep), f.substring, want)
            }
        }
    }

    /// Bytes (start, len) of the constant pool.
    #[inline]
    fn const_bytes(&self, (start, len): (u32, u32)) -> &[u8] {
        let (a, b) = (start as usize, start as usize + len as usize);
        self.consts.get(a..b).unwrap_or(&[])
    }

    /// Payload read by an option-like op; `None` when absent (ARM 16.3: "" / false).
    #[inline]
    fn lookup<'c>(&self, op: Op, ctx: &'c impl PacketContext) -> Option<&'c [u8]> {
        let u = self.universe;
        match op {
            Op::Option { code, .. } => ctx.option(code),
            Op::SubOption { code, sub, .. } => ctx.option(code).and_then(|p| find_tlv(u, p, sub)),
            // RFC 3046: option 82 sub-options use 1-byte code and length.
            Op::Relay4 { sub, .. } => ctx
                .option(82)
                .and_then(|p| find_tlv(Universe::V4, p, u16::from(sub))),
            Op::Relay6Option { nest, code, .. } => resolve_nest(ctx.relay6_count(), nest)
                .and_then(|level| ctx.relay6_option(level, code)),
            Op::VendorOption {
                enterprise, code, ..
            } => self
                .vendor(ctx)
                .filter(|(e, _)| enterprise_matches(enterprise, *e))
                .and_then(|(_, subs)| find_tlv(u, subs, code)),
            Op::VendorClassData { enterprise, index } => self
                .vendor_class(ctx)
                .filter(|(e, _)| enterprise_matches(enterprise, *e))
                .and_then(|(_, chunks)| vendor_class_chunk(u, chunks, index)),
            _ => None,
        }
    }

    /// The string value of a leaf op, borrowed from the packet, the constants or `tmp` (for
    /// numbers and addresses); `None` if `op` is not a leaf.
    #[inline]
    fn source<'x>(
        &'x self,
        op: Op,
        ctx: &'x impl PacketContext,
        tmp: &'x mut [u8; 16],
    ) -> Option<&'x [u8]> {
        let v: &[u8] = match op {
            Op::Const { start, len } => {
                let (a, b) = (start as usize, start as usize + len as usize);
                self.consts.get(a..b).unwrap_or(&[])
            }
            Op::Option {
                repr: Repr::Bytes, ..
            }
            | Op::SubOption {
                repr: Repr::Bytes, ..
            }
            | Op::Relay4 {
                repr: Repr::Bytes, ..
            }
            | Op::Relay6Option {
                repr: Repr::Bytes, ..
            }
            | Op::VendorOption {
                repr: Repr::Bytes, ..
            }
            | Op::VendorClassData { .. } => self.lookup(op, ctx).unwrap_or(&[]),
            Op::Relay6Peer { nest } => {
                match resolve_nest(ctx.relay6_count(), nest).and_then(|l| ctx.relay6_peer_addr(l)) {
                    Some(a) => put(tmp, &a.octets()),
                    None => &[],
                }
            }
            Op::Relay6Link { nest } => {
                match resolve_nest(ctx.relay6_count(), nest).and_then(|l| ctx.relay6_link_addr(l)) {
                    Some(a) => put(tmp, &a.octets()),
                    None => &[],
                }
            }
            Op::Pkt4(f) => match f {
                Pkt4Field::Mac => ctx.pkt4_mac(),
                Pkt4Field::Hlen => put(tmp, &u32::from(ctx.pkt4_hlen()).to_be_bytes()),
                Pkt4Field::Htype => put(tmp, &u32::from(ctx.pkt4_htype()).to_be_bytes()),
                Pkt4Field::Ciaddr => put(tmp, &ctx.pkt4_ciaddr().octets()),
                Pkt4Field::Giaddr => put(tmp, &ctx.pkt4_giaddr().octets()),
                Pkt4Field::Yiaddr => put(tmp, &ctx.pkt4_yiaddr().octets()),
                Pkt4Field::Siaddr => put(tmp, &ctx.pkt4_siaddr().octets()),
                Pkt4Field::MsgType => put(tmp, &u32::from(ctx.msg_type()).to_be_bytes()),
                Pkt4Field::TransId => put(tmp, &ctx.transaction_id().to_be_bytes()),
            },
            Op::Pkt6MsgType => put(tmp, &u32::from(ctx.msg_type()).to_be_bytes()),
            Op::Pkt6TransId => put(tmp, &ctx.transaction_id().to_be_bytes()),
            Op::Pkt(f) => match f {
                PktField::Iface => ctx.iface(),
                PktField::Src => match ctx.src_addr() {
                    IpAddr::V4(a) => put(tmp, &a.octets()),
                    IpAddr::V6(a) => put(tmp, &a.octets()),
                },
                PktField::Dst => match ctx.dst_addr() {
                    IpAddr::V4(a) => put(tmp, &a.octets()),
                    IpAddr::V6(a) => put(tmp, &a.octets()),
                },
                PktField::Len => put(tmp, &ctx.packet_len().to_be_bytes()),
            },
            Op::VendorEnterprise => match self.vendor(ctx) {
                Some((e, _)) => put(tmp, &e.to_be_bytes()),
                None => &[],
            },
            Op::VendorClassEnterprise => match self.vendor_class(ctx) {
                Some((e, _)) => put(tmp, &e.to_be_bytes()),
                None => &[],
            },
            _ => return None,
        };
        Some(v)
    }

    fn vendor<'c>(&self, ctx: &'c impl PacketContext) -> Option<(u32, &'c [u8])> {
        let code = match self.universe {
            Universe::V4 => 125,
            Universe::V6 => 17,
        };
        ctx.option(code)
            .and_then(|p| vendor_block(self.universe, p))
    }

    fn vendor_class<'c>(&self, ctx: &'c impl PacketContext) -> Option<(u32, &'c [u8])> {
        let code = match self.universe {
            Universe::V4 => 124,
            Universe::V6 => 16,
        };
        ctx.option(code)
            .and_then(|p| vendor_class_block(self.universe, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx;

    impl PacketContext for Ctx {
        fn option(&self, code: u16) -> Option<&[u8]> {
            match code {
                60 => Some(b"PXEClient"),
                82 => Some(&[2, 2, 0x12, 0x34]),
                _ => None,
            }
        }
        fn is_known(&self) -> bool {
            true
        }
        fn is_member(&self, name: &str) -> bool {
            name == "gold"
        }
    }

    #[test]
    fn bit_stack_evaluator_agrees_with_the_stack_machine() {
        let exprs = [
            "option[60].hex == 'PXEClient' and not member('gold')",
            "option[60].exists or relay4[2].hex == 0x1234 and unknown",
            "not (known and member('silver')) and (relay4[3].exists or option[60].exists)",
            "not not not known",
            "member('gold') and member('gold') and member('gold') or option[1].exists",
        ];
        let mut s = Scratch::new();
        for (i, e) in exprs.iter().enumerate() {
            let p = match crate::compile(e) {
                Ok(p) => p,
                Err(err) => panic!("{e}: {err}"),
            };
            assert_eq!(
                p.shape,
                Shape::BoolOnly,
                "{e} should take the bit-stack path"
            );
            let fast = p.eval_bool_only(&Ctx);
            assert!(p.run(&Ctx, &mut s).is_ok());
            assert_eq!(s.pop_bool().ok(), Some(fast), "{e}");
            assert_eq!(fast, [false, true, true, false, true][i], "{e}");
        }
    }

    /// Answers `member()` differently by id and by name, to see which question is asked.
    struct IdCtx;

    impl PacketContext for IdCtx {
        fn option(&self, _code: u16) -> Option<&[u8]> {
            None
        }
        fn is_member(&self, name: &str) -> bool {
            name == "by-name"
        }
        fn is_member_id(&self, id: u32, _name: &str) -> bool {
            id == 7
        }
    }

    #[test]
    fn bound_member_names_are_asked_by_id() {
        let expr = "member('bound') and member('by-name')";
        let mut p = match crate::compile(expr) {
            Ok(p) => p,
            Err(err) => panic!("{expr}: {err}"),
        };
        let mut s = Scratch::new();
        // Unbound: both by name, and 'bound' is not a member by name.
        assert!(!p.eval_bool(&IdCtx, &mut s));
        p.bind_classes(|name| (name == "bound").then_some(7));
        assert!(p.eval_bool(&IdCtx, &mut s));
        // The stack machine asks the same way as the bit-stack evaluator.
        assert!(p.run(&IdCtx, &mut s).is_ok());
        assert_eq!(s.pop_bool().ok(), Some(true));
        // An id of u32::MAX is "no id".
        p.bind_classes(|_| Some(u32::MAX));
        assert!(!p.eval_bool(&IdCtx, &mut s));
        // A context without ids (the default is_member_id) is asked by name.
        let mut gold = match crate::compile("member('gold')") {
            Ok(p) => p,
            Err(err) => panic!("{err}"),
        };
        gold.bind_classes(|_| Some(7));
        assert!(gold.eval_bool(&Ctx, &mut s));
    }

    /// A lone `member()` takes [`Shape::Member`]; it answers as the bit-stack evaluator and
    /// the stack machine do, by id when bound and by name when not.
    #[test]
    fn lone_member_agrees_with_the_general_paths() {
        let mut s = Scratch::new();
        for (name, bind) in [
            ("bound", true),
            ("bound", false),
            ("by-name", false),
            ("by-name", true),
            ("other", false),
        ] {
            let expr = format!("member('{name}')");
            let mut p = match crate::compile(&expr) {
                Ok(p) => p,
                Err(err) => panic!("{expr}: {err}"),
            };
            assert_eq!(p.shape, Shape::Member(0), "{expr}");
            if bind {
                p.bind_classes(|n| (n == "bound").then_some(7));
            }
            let fast = p.eval_bool(&IdCtx, &mut s);
            assert_eq!(p.eval_bool_only(&IdCtx), fast, "{expr} {bind}");
            assert!(p.run(&IdCtx, &mut s).is_ok());
            assert_eq!(s.pop_bool().ok(), Some(fast), "{expr} {bind}");
            // IdCtx: id 7 is a member, the name 'by-name' is a member.
            let want = matches!((name, bind), ("bound", true) | ("by-name", _));
            assert_eq!(fast, want, "{expr} {bind}");
        }
    }

    #[test]
    fn substring_follows_arm_16_3_3() {
        let r = |s, l| substring_range(6, s, l);
        assert_eq!(r(0, Some(6)), (0, 6));
        assert_eq!(r(3, Some(3)), (3, 6));
        assert_eq!(r(3, None), (3, 6));
        assert_eq!(r(1, Some(4)), (1, 5));
        assert_eq!(r(-5, Some(4)), (1, 5));
        assert_eq!(r(-1, Some(-3)), (2, 5));
        assert_eq!(r(4, Some(-2)), (2, 4));
        assert_eq!(r(10, Some(2)), (0, 0));
        assert_eq!(r(-7, Some(2)), (0, 0));
        assert_eq!(r(1, Some(-5)), (0, 1));
        // The shortcut for non-negative literals agrees with the signed arithmetic.
        for len in 0..8usize {
            for start in -10..10 {
                for length in (-10..10).map(Some).chain([None]) {
                    assert_eq!(
                        substring_range(len, start, length),
                        substring_range_signed(len, start, length),
                        "{len} {start} {length:?}"
                    );
                }
            }
        }
        assert_eq!(substring_range(6, 2, Some(i32::MAX)), (2, 6));
    }

    #[test]
    fn split_keeps_empty_fields() {
        let v = b"one.two..four";
        assert_eq!(split_range(v, b".", 3), (8, 8));
        assert_eq!(split_range(v, b".", 4), (9, 13));
        assert_eq!(split_range(v, b".", 5), (0, 0));
        assert_eq!(split_range(v, b"", 2), (0, 13));
        assert_eq!(split_range(v, b".", 0), (0, 0));
    }

    #[test]
    fn tlv_lookup_stops_at_truncated_entry() {
        assert_eq!(
            find_tlv(Universe::V4, &[1, 1, 9, 2, 2, 7, 8], 2),
            Some(&[7u8, 8][..])
        );
        assert_eq!(find_tlv(Universe::V4, &[1, 5, 9], 1), None);
        assert_eq!(
            find_tlv(Universe::V6, &[0, 3, 0, 1, 4], 3),
            Some(&[4u8][..])
        );
    }
}

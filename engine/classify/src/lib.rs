//! Kea's client-classification expression language (Kea ARM 16.3), compiled once and
//! evaluated per packet.
//!
//! [`compile`] turns a class `test` (or `template-test`) string into a [`Program`]: a compact
//! postfix instruction list, the same shape as Kea's token list (ARM 16.11), type-checked at
//! config load so that a malformed expression is rejected with the byte offset and what was
//! expected. [`Program::eval_bool`] / [`Program::eval_string`] run it against anything that
//! implements [`PacketContext`] (the DHCPv4 codec via [`V4Context`], a DHCPv6 packet, or a test
//! double), using a caller-owned [`Scratch`] value stack.
//!
//! Evaluation is on the per-packet hot path: it must never allocate once the scratch stacks
//! have reached their working size, never take a lock, never do I/O and never panic whatever
//! the packet holds; malformed or missing data yields "" or `false` exactly as the ARM says.
//! This crate decides nothing about which classes exist or when they are evaluated: that is
//! the config and protocol crates' job.

mod context;
mod error;
mod lexer;
mod names;
mod parser;
mod program;

pub use context::{ClassMembership, NoClasses, PacketContext, V4Context};
pub use error::{EvalError, ExprError};
pub use names::standard_v4_option_code;
pub use program::{Program, Scratch, Universe, ValueKind};

/// Compiles a DHCPv4 expression, resolving `option[name]` against the standard DHCPv4 option
/// names ([`standard_v4_option_code`]). Use [`compile_with`] for DHCPv6 or custom option
/// definitions.
pub fn compile(expr: &str) -> Result<Program, ExprError> {
    compile_with(expr, Universe::V4, &standard_v4_option_code)
}

/// Compiles an expression for `universe`; `resolve_option` maps an option name used as
/// `option[name]` or `relay6[n].option[name]` to its code (standard and custom definitions).
pub fn compile_with(
    expr: &str,
    universe: Universe,
    resolve_option: &dyn Fn(&str) -> Option<u16>,
) -> Result<Program, ExprError> {
    parser::Parser::new(expr, universe, resolve_option)?.compile()
}

/// Compiles a class `test`: like [`compile_with`], but a string-valued expression is rejected
/// (ARM 16.4: the test "should evaluate to a boolean value").
pub fn compile_test(
    expr: &str,
    universe: Universe,
    resolve_option: &dyn Fn(&str) -> Option<u16>,
) -> Result<Program, ExprError> {
    let program = compile_with(expr, universe, resolve_option)?;
    match program.kind() {
        ValueKind::Bool => Ok(program),
        ValueKind::String => Err(ExprError::TypeMismatch {
            offset: 0,
            expected: "boolean",
            found: "string",
        }),
    }
}

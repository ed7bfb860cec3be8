//! Errors of compiling (config time) and evaluating (packet time) an expression.

/// Why an expression did not compile. Every variant names the byte offset in the expression
/// text where the problem was found; the config layer prefixes the class name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExprError {
    #[error("at byte {offset}: expected {expected}, found {found}")]
    Unexpected {
        offset: usize,
        expected: &'static str,
        found: String,
    },
    #[error("at byte {offset}: string literal is not closed by a single quote")]
    UnterminatedString { offset: usize },
    #[error("at byte {offset}: '{text}' is not a valid {what}")]
    BadLiteral {
        offset: usize,
        what: &'static str,
        text: String,
    },
    #[error("at byte {offset}: {what} {value} is out of range, allowed {allowed}")]
    OutOfRange {
        offset: usize,
        what: &'static str,
        value: i64,
        allowed: &'static str,
    },
    #[error(
        "at byte {offset}: unknown option name '{name}' (use the option code or define the option)"
    )]
    UnknownOptionName { offset: usize, name: String },
    #[error("at byte {offset}: {construct} can only be used in {universe}")]
    WrongUniverse {
        offset: usize,
        construct: &'static str,
        universe: &'static str,
    },
    #[error("at byte {offset}: expected a {expected} expression, found a {found} expression")]
    TypeMismatch {
        offset: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("at byte {offset}: invalid regular expression: {reason}")]
    BadRegex { offset: usize, reason: String },
    #[error("at byte {offset}: expression is nested more than {limit} levels deep")]
    TooDeep { offset: usize, limit: usize },
}

impl ExprError {
    /// Byte offset in the expression text where the error was detected.
    pub fn offset(&self) -> usize {
        match self {
            ExprError::Unexpected { offset, .. }
            | ExprError::UnterminatedString { offset }
            | ExprError::BadLiteral { offset, .. }
            | ExprError::OutOfRange { offset, .. }
            | ExprError::UnknownOptionName { offset, .. }
            | ExprError::WrongUniverse { offset, .. }
            | ExprError::TypeMismatch { offset, .. }
            | ExprError::BadRegex { offset, .. }
            | ExprError::TooDeep { offset, .. } => *offset,
        }
    }
}

/// Why evaluating a compiled expression against one packet failed. Kea logs such an error and
/// treats the class as not matched (ARM 16.3: "the evaluation code ... throws an exception");
/// [`crate::Program::eval_bool`] returns `false`. Carries no heap data so building one on the
/// hot path does not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("{op} expects {expected}, got {got} bytes")]
    BadLength {
        op: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("value stack underflow (compiler bug)")]
    StackUnderflow,
    #[error("expression result is not a {expected}")]
    WrongResultType { expected: &'static str },
}

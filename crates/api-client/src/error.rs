//! The coded error every client library of vouch returns, and the rendering of an error
//! chain on one line.

use std::borrow::Cow;

/// What a failure means for the person who ran the command: the input was checked and
/// did not hold, or the work could not be done at all. A command line maps the first to
/// exit status 1 and the second to 2; a library caller decides for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A verification or a policy check ran and refused (bad signature, wrong identity,
    /// a registry that checked the upload and said no).
    Refused,
    /// Usage or operational failure: unreachable server, unreadable file, bad flag.
    Error,
}

/// An error with its stable code (listed in docs/errors.md), what it means
/// ([`Outcome`]) and a message that names what was expected and what was found.
///
/// Codes minted by the client libraries are `&'static`; codes a registry answered with
/// are passed through unchanged, so they are owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodedError {
    pub code: Cow<'static, str>,
    pub outcome: Outcome,
    pub message: String,
}

/// A bundle verification's error keeps its code: a rejection (the inputs were read and
/// did not check out) is [`Outcome::Refused`], anything else [`Outcome::Error`].
impl From<&vouch_verify::VerifyError> for CodedError {
    fn from(err: &vouch_verify::VerifyError) -> Self {
        let outcome = match err.class() {
            vouch_verify::ErrorClass::Rejected => Outcome::Refused,
            _ => Outcome::Error,
        };
        CodedError::new(err.code(), outcome, err.to_string())
    }
}

impl From<vouch_verify::VerifyError> for CodedError {
    fn from(err: vouch_verify::VerifyError) -> Self {
        CodedError::from(&err)
    }
}

/// A policy file's error keeps its code (`POLICY_E…`, or the verifier's), classed the
/// same way.
impl From<&vouch_policy::PolicyError> for CodedError {
    fn from(err: &vouch_policy::PolicyError) -> Self {
        let outcome = match err.class() {
            vouch_verify::ErrorClass::Rejected => Outcome::Refused,
            _ => Outcome::Error,
        };
        CodedError::new(err.code(), outcome, err.to_string())
    }
}

impl From<vouch_policy::PolicyError> for CodedError {
    fn from(err: vouch_policy::PolicyError) -> Self {
        CodedError::from(&err)
    }
}

impl CodedError {
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        outcome: impl Into<Outcome>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            outcome: outcome.into(),
            message: message.into(),
        }
    }

    /// An operational failure ([`Outcome::Error`]).
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Outcome::Error, message)
    }

    /// A library error that knows whether it is a refusal: [`Outcome::Refused`] when
    /// `refused`, else [`Outcome::Error`].
    pub fn judged(code: &'static str, refused: bool, message: impl Into<String>) -> Self {
        let outcome = match refused {
            true => Outcome::Refused,
            false => Outcome::Error,
        };
        Self::new(code, outcome, message)
    }

    /// A check that ran and refused ([`Outcome::Refused`]).
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Outcome::Refused, message)
    }

    pub fn code(&self) -> &str {
        &self.code
    }
}

impl std::fmt::Display for CodedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CodedError {}

/// The one coded error a chain of causes (outermost first) stands for: the first
/// [`CodedError`] in it decides the code and the outcome (none: `CLI_E001`, an
/// operational error), and the message is every cause's text, `: `-separated (a
/// `CodedError` contributes its message without its code).
pub fn summarize<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> CodedError {
    let mut first: Option<&CodedError> = None;
    let mut texts = Vec::new();
    for cause in chain {
        match cause.downcast_ref::<CodedError>() {
            Some(c) => {
                first = first.or(Some(c));
                texts.push(c.message.clone());
            }
            None => texts.push(cause.to_string()),
        }
    }
    let message = texts.join(": ");
    match first {
        Some(c) => CodedError::new(c.code.clone(), c.outcome, message),
        None => CodedError::error(crate::codes::CLI_FAILED, message),
    }
}

/// An error's message followed by each cause in its source chain, `: `-separated. A
/// cause whose text the message already quotes is not repeated. reqwest's own message
/// ("error sending request for url ...") hides the cause a user needs ("connection
/// refused"); this puts it on the line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut cur = err.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = cause.source();
    }
    msg
}

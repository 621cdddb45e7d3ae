//! The sender's domain authentication a board may require of commands by
//! mail (`review.require_dkim`).

/// How the sender's domain was authenticated, when the board requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainAuth {
    /// `review.require_dkim` is off.
    NotRequired,
    /// Passed; says how, for the ticket's history.
    Pass(String),
    /// Failed; says why, for the history.
    Fail(String),
}

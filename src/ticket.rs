//! The ticket's core: its states and the rulebook of who may change it.
//!
//! `rules` is pure: from what is known about a ticket, the person a message
//! comes from, what proves it and what they ask, it returns the change to
//! make or the reason to refuse. Every path that changes a ticket (replies
//! by mail, a sender's credits and new versions, Zalo, the console, the
//! publisher) asks it first; `workflow` then carries the answer out inside
//! one transaction.

pub mod rules;

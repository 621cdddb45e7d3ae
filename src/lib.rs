//! bientap: the mail room of a Vietnamese government portal's editorial
//! board (Ban biên tập).
//!
//! The data path, one module per stage (see the README's architecture map):
//! `ingest` (IMAP, Maildir, backlog import) → `classify` (submission, reply,
//! automatic mail) → `content` (MIME → sanitized article) → `workflow`
//! (ticket transitions, reply commands, routing, tokens; what may happen is
//! decided by the pure rulebook in `ticket::rules`) with `schedule`
//! (deadlines) over `store` (state database and archive); `outbound` sends
//! the mail transitions cause through the outbox. `config` reads the configuration, `net` holds the
//! network plumbing, `text` the text hygiene every stage uses, `cli` the
//! command line.

pub mod backup;
pub mod classify;
pub mod cli;
pub mod config;
pub mod content;
pub mod ingest;
pub mod net;
pub mod outbound;
pub mod publish;
pub mod schedule;
pub mod service;
pub mod store;
pub mod text;
pub mod ticket;
pub mod workflow;
pub mod zalo;

//! The Zalo Official Account (OA) channel: the protocol layer between the
//! board and Zalo, Vietnam's most used messenger, where collaborators can
//! send articles to the board's OA instead of mailing them.
//!
//! Zalo delivers what users send to the OA as webhooks: HTTP POSTs of a JSON
//! body signed with the OA's secret key. The board answers through Zalo's
//! OA HTTP API with an access token that lives about a day and is renewed
//! with a single-use refresh token.
//!
//! - `signature` checks a webhook's `X-ZEvent-Signature` before anything in
//!   the body is trusted.
//! - `event` turns a webhook body into a submission (text, images, files,
//!   links, audio, video) or an event to ignore with its reason; it never
//!   panics on what it is given.
//! - `api` sends consultation (customer-service) messages, refreshes tokens
//!   and downloads the media a webhook points at, with every failure
//!   classified by what the caller should do next.
//! - `guard` decides where those downloads may go: Zalo's file hosts only,
//!   never a private address, checked again at every redirect.
//!
//! This layer holds no state and stores nothing: keeping tokens, deduping
//! webhooks by message id and turning submissions into tickets belong to the
//! stages that call it.

pub mod api;
pub mod event;
pub mod guard;
pub mod signature;

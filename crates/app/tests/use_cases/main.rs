//! The use cases through their public API, every branch, with in-memory fakes (the real
//! memory store behind a switch that can make it fail) and an injected clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod account;
mod events;
mod lifecycle;
mod send_code;

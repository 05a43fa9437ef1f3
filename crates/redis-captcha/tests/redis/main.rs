//! The Redis adapter against a real Redis: the shared store contracts (one test per rule),
//! what lands in Redis and how failures look (`adapter`), the session layout and sessions left
//! by the previous release (`sessions`), and recovery after a restart of a private
//! `redis-server` (`recovery`). Every test works under its own random key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod adapter;
mod cluster;
mod contracts;
mod recovery;
mod sessions;

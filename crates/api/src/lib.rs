//! The HTTP face of yanzheng and its composition root.
//!
//! - [`configuration`]: typed, validated settings (SPEC §9).
//! - [`startup`]: picks adapters from the settings and binds the server.
//! - [`adapters`]: the run-time choice between adapters of one port (enum adapters).
//! - [`routes`]: HTTP ↔ use-case mapping, thin; [`reply`]: the errno wire format.
//! - [`web`]: cookies, CSRF, client IP, request spans.

pub mod adapters;
pub mod configuration;
pub mod reply;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod web;

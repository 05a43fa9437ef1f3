//! The HTTP face of yanzheng and its composition root.
//!
//! - [`configuration`]: the settings file and environment, decided into typed settings once
//!   (SPEC §9).
//! - [`startup`]: builds one adapter per port from those settings and binds the server.
//! - [`adapters`]: the run-time choice between adapters of one port (enum adapters).
//! - [`routes`]: the route table, the handlers' `State`, and the handlers (HTTP ↔ use case).
//! - [`reply`]: the errno wire format and the mapping of every use-case error to it.
//! - [`openapi`]: the OpenAPI 3.1 document (`/api/openapi.json`, Swagger UI at `/api/docs/`).
//! - [`web`]: CSRF, the session cookie, the client's address, request spans.

pub mod adapters;
pub mod configuration;
pub mod openapi;
pub mod reply;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod web;

//! Contract suites, written once per port and run by every adapter's own tests:
//! `inproc` and `redis-captcha` run [`stores`], `diesel-users` runs [`users`] against SQLite,
//! PostgreSQL and MySQL.
//!
//! A suite is an `async fn` taking the adapter under test (fresh and empty). Each assertion
//! names the port rule it checks, so a failure says which part of the contract broke.

pub mod stores;
pub mod users;

//! Black-box tests of the whole service over HTTP: one test binary (every extra one is another
//! link of actix + diesel + redis + reqwest), one module per area, `helpers::spawn_app()`.
//!
//! Most run on the embedded default (SQLite in a temp folder, the memory store, the console
//! sender); `apps`, `hostile`, `limits`, `production` and `redis_outage` use Redis, PostgreSQL
//! and MariaDB on their standard local ports (`YZ_TEST_*_URL` elsewhere) and a Ronglian peer
//! (wiremock); `failover` a Ronglian and a Tencent peer; `limits` also the Redis Cluster at
//! `YZ_TEST_REDIS_CLUSTER_URL`, and `cluster` a private one it kills a master of.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod accounts;
mod apps;
mod client_ip;
mod cluster;
mod config;
mod deploy;
mod failover;
mod hostile;
mod limits;
mod logs;
mod openapi;
mod ops;
mod production;
mod redis_outage;
mod send_code;
mod static_dir;

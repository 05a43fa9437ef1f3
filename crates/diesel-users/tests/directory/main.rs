//! The user directory against every backend it speaks: the shared `UserDirectory` contract
//! suite, migrations, and failure modes. SQLite runs in a temp dir; PostgreSQL and MariaDB/MySQL
//! each get a fresh `yz_test_<random>` database per test (from `YZ_TEST_POSTGRES_URL` /
//! `YZ_TEST_MYSQL_URL`), so the tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod mysql;
mod postgres;
mod sqlite;
mod support;
mod unreachable;

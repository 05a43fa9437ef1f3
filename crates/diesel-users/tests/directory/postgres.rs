use std::future::Future;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_users::{Backend, DieselUsers};

use crate::support::{db_url, generous, server, TestDb};

/// The contract, one test per rule, each on a fresh, migrated database.
async fn with_directory<F, Fut>(rule: F)
where
    F: FnOnce(DieselUsers) -> Fut,
    Fut: Future<Output = ()>,
{
    server::with_directory(TestDb::postgres().await, rule).await;
}

port_contracts::user_directory_contract_tests!(with_directory);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_idempotent() {
    server::migrations_are_idempotent(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_before_migrations_is_unavailable() {
    server::before_migrations_is_unavailable(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_query_stuck_behind_a_lock_times_out_as_unavailable() {
    let db = TestDb::postgres().await;
    let other = AsyncPgConnection::establish(&db.url).await.unwrap();
    server::query_timeout(
        db,
        other,
        "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
        "ROLLBACK",
    )
    .await;
}

#[tokio::test]
async fn both_postgres_schemes_are_accepted() {
    for scheme in ["postgres", "postgresql"] {
        let url = format!("{scheme}://postgres@127.0.0.1:1/x");
        let users = DieselUsers::connect(&db_url(&url), &generous())
            .await
            .unwrap();
        assert_eq!(users.backend(), Backend::Postgres);
    }
}

use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_users::{Backend, DbOptions, DieselUsers};

use crate::support::{server, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_contract_suite() {
    server::contract(TestDb::postgres().await).await;
}

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
        let users = DieselUsers::connect(&url, &DbOptions::default())
            .await
            .unwrap();
        assert_eq!(users.backend(), Backend::Postgres);
    }
}

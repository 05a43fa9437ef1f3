use std::future::Future;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_users::{run_migrations, Backend, DieselUsers};
use ports::{DirectoryError, Health, UserDirectory};

use crate::support::{db_url, eventually, generous, new_user, server, StalledUsers, TestDb};

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
    server::query_timeout(db, other, StalledUsers::LOCK, "ROLLBACK").await;
}

/// `close` hangs up every connection of every per-core pool, and later calls are `Unavailable`
/// at once; the health check answers while open and fails after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_hangs_up_every_connection() {
    let db = TestDb::postgres().await;
    run_migrations(&db_url(&db.url)).await.unwrap();
    let users = DieselUsers::connect(&db_url(&db.url), &generous())
        .await
        .unwrap();
    // Several threads, so that several of the per-core pools hold connections.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let users = users.clone();
            tokio::spawn(async move { users.check().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert!(db.connections().await > 0, "the pools hold connections");

    users.close();
    assert!(users.check().await.is_err(), "closed: no new connection");
    let m = new_user("13800000001").mobile;
    assert!(matches!(
        users.exists(&m).await,
        Err(DirectoryError::Unavailable(_))
    ));
    eventually(|| async {
        match db.connections().await {
            0 => Ok(()),
            open => Err(DirectoryError::Unavailable(anyhow::anyhow!(
                "{open} connections still open"
            ))),
        }
    })
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

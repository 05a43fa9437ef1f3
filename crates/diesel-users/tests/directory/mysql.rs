use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use diesel_users::{Backend, DbOptions, DieselUsers};

use crate::support::{server, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_passes_the_contract_suite() {
    server::contract(TestDb::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_migrations_are_idempotent() {
    server::migrations_are_idempotent(TestDb::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_before_migrations_is_unavailable() {
    server::before_migrations_is_unavailable(TestDb::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_query_stuck_behind_a_lock_times_out_as_unavailable() {
    let db = TestDb::mysql().await;
    let other = AsyncMysqlConnection::establish(&db.url).await.unwrap();
    server::query_timeout(db, other, "LOCK TABLES users WRITE", "UNLOCK TABLES").await;
}

#[tokio::test]
async fn mysql_and_mariadb_schemes_are_accepted() {
    for scheme in ["mysql", "mariadb"] {
        let url = format!("{scheme}://root@127.0.0.1:1/x");
        let users = DieselUsers::connect(&url, &DbOptions::default())
            .await
            .unwrap();
        assert_eq!(users.backend(), Backend::Mysql);
    }
}

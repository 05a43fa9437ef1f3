use std::future::Future;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use diesel_users::{run_migrations, Backend, DatabaseUrl, DieselUsers};
use ports::{DirectoryError, UserDirectory};

use crate::support::{db_url, eventually, generous, new_user, short_timeouts};

fn file_url(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    // A nested path: the adapter creates the missing parent directories.
    let path = dir.path().join("data").join("users.db");
    (format!("sqlite://{}", path.display()), path)
}

/// The contract, one test per rule, on a fresh SQLite file in a folder that does not exist yet.
mod file {
    use super::*;

    async fn with_directory<F, Fut>(rule: F)
    where
        F: FnOnce(DieselUsers) -> Fut,
        Fut: Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let (url, path) = file_url(&dir);
        run_migrations(&db_url(&url)).await.unwrap();
        let users = DieselUsers::connect(&db_url(&url), &generous())
            .await
            .unwrap();
        assert_eq!(users.backend(), Backend::Sqlite);
        assert!(path.exists());
        rule(users).await;
    }

    port_contracts::user_directory_contract_tests!(with_directory);
}

/// The contract, one test per rule, on `sqlite::memory:` (which migrates itself).
mod memory {
    use super::*;

    async fn with_directory<F, Fut>(rule: F)
    where
        F: FnOnce(DieselUsers) -> Fut,
        Fut: Future<Output = ()>,
    {
        let users = DieselUsers::connect(&db_url("sqlite::memory:"), &generous())
            .await
            .unwrap();
        assert!(run_migrations(&db_url("sqlite::memory:"))
            .await
            .unwrap()
            .is_empty());
        rule(users).await;
    }

    port_contracts::user_directory_contract_tests!(with_directory);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_apply_once_and_then_are_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let first = run_migrations(&db_url(&url)).await.unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(run_migrations(&db_url(&url)).await.unwrap().is_empty());
    let users = DieselUsers::connect(&db_url(&url), &generous())
        .await
        .unwrap();
    users.ping().await.unwrap();
    assert!(!users.exists(&new_user("13800000001").mobile).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_in_wal_mode_and_keeps_users_across_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    run_migrations(&db_url(&url)).await.unwrap();
    let created = {
        let users = DieselUsers::connect(&db_url(&url), &generous())
            .await
            .unwrap();
        users.create(new_user("13800000001")).await.unwrap()
    };
    let users = DieselUsers::connect(&db_url(&url), &generous())
        .await
        .unwrap();
    assert_eq!(users.find_by_id(created.id).await.unwrap(), Some(created));

    let mut raw = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let mode: String = diesel::sql_query("PRAGMA journal_mode")
        .load::<JournalMode>(&mut raw)
        .unwrap()
        .remove(0)
        .journal_mode;
    assert_eq!(mode, "wal");
}

#[derive(diesel::QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = diesel::sql_types::Text)]
    journal_mode: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_without_migrations_is_unavailable_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let users = DieselUsers::connect(&db_url(&url), &short_timeouts())
        .await
        .unwrap();
    let err = users.exists(&new_user("13800000001").mobile).await;
    assert!(
        matches!(err, Err(DirectoryError::Unavailable(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_held_write_lock_gives_unavailable_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    run_migrations(&db_url(&url)).await.unwrap();
    let users = DieselUsers::connect(&db_url(&url), &short_timeouts())
        .await
        .unwrap();

    // Another writer holds the write lock for longer than the query timeout.
    let mut other = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    let blocked = users.create(new_user("13800000001")).await;
    assert!(
        matches!(blocked, Err(DirectoryError::Unavailable(_))),
        "{blocked:?}"
    );
    other.batch_execute("ROLLBACK").unwrap();

    // Once the lock is gone the same directory works again.
    let user = eventually(|| users.create(new_user("13800000001"))).await;
    assert_eq!(user.mobile.as_str(), "13800000001");
}

#[test]
fn unsupported_urls_are_refused_when_parsed() {
    for url in ["redis://127.0.0.1", "file:users.db", ""] {
        assert!(
            matches!(
                DatabaseUrl::parse(url),
                Err(diesel_users::SetupError::UnsupportedUrl)
            ),
            "{url}"
        );
    }
}

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use diesel_users::{run_migrations, Backend, DbOptions, DieselUsers};
use ports::{DirectoryError, UserDirectory};

use crate::support::{eventually, new_user, short_timeouts};

fn file_url(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    // A nested path: the adapter creates the missing parent directories.
    let path = dir.path().join("data").join("users.db");
    (format!("sqlite://{}", path.display()), path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_passes_the_contract_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    run_migrations(&url).await.unwrap();
    let users = DieselUsers::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    assert_eq!(users.backend(), Backend::Sqlite);
    assert!(path.exists());
    port_contracts::users::user_directory(users).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_passes_the_contract_suite() {
    let users = DieselUsers::connect("sqlite::memory:", &DbOptions::default())
        .await
        .unwrap();
    assert!(run_migrations("sqlite::memory:").await.unwrap().is_empty());
    port_contracts::users::user_directory(users).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_apply_once_and_then_are_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let first = run_migrations(&url).await.unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(run_migrations(&url).await.unwrap().is_empty());
    let users = DieselUsers::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    users.ping().await.unwrap();
    assert!(!users.exists(&new_user("13800000001").mobile).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_in_wal_mode_and_keeps_users_across_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    run_migrations(&url).await.unwrap();
    let created = {
        let users = DieselUsers::connect(&url, &DbOptions::default())
            .await
            .unwrap();
        users.create(new_user("13800000001")).await.unwrap()
    };
    let users = DieselUsers::connect(&url, &DbOptions::default())
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
    let users = DieselUsers::connect(&url, &short_timeouts()).await.unwrap();
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
    run_migrations(&url).await.unwrap();
    let users = DieselUsers::connect(&url, &short_timeouts()).await.unwrap();

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

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["redis://127.0.0.1", "file:users.db", ""] {
        let err = DieselUsers::connect(url, &DbOptions::default()).await;
        assert!(
            matches!(err, Err(diesel_users::SetupError::UnsupportedUrl)),
            "{url}"
        );
        assert!(matches!(
            run_migrations(url).await,
            Err(diesel_users::SetupError::UnsupportedUrl)
        ));
    }
}

//! Schema migrations, embedded from `migrations/{postgres,mysql,sqlite}` at the workspace root.
//!
//! diesel_migrations is synchronous. SQLite runs it on diesel's own connection; PostgreSQL and
//! MySQL wrap the async connection in diesel-async's `AsyncConnectionWrapper`, which blocks on
//! the current tokio runtime, so those run inside `spawn_blocking`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::target::{self, SqliteTarget, Target};
use crate::DatabaseUrl;
use crate::{establish_within, DbOptions, SetupError};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const MYSQL: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Serialises concurrent migrators (several replicas starting at once) on the server backends.
const PG_LOCK: &str = "SELECT pg_advisory_lock(7419253001)";
const MYSQL_LOCK: &str = "DO GET_LOCK('yanzheng_migrations', 60)";

/// Applies the pending migrations for `url`'s backend and returns the versions applied (empty
/// when the schema is already current, so running it twice is a no-op).
///
/// For `sqlite::memory:` there is nothing lasting to migrate: [`crate::DieselUsers::connect`]
/// migrates its in-memory database itself, and this returns an empty list.
pub async fn run_migrations(url: &DatabaseUrl) -> Result<Vec<String>, SetupError> {
    let connect_timeout = DbOptions::default().connect_timeout;
    let applied = match url.0.clone() {
        Target::Postgres(url) => {
            let conn =
                server_connection::<AsyncPgConnection>(&url, connect_timeout, PG_LOCK).await?;
            blocking(move || {
                let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
                apply(&mut conn, POSTGRES)
            })
            .await?
        }
        Target::Mysql(url) => {
            let conn = server_connection::<AsyncMysqlConnection>(&url, connect_timeout, MYSQL_LOCK)
                .await?;
            blocking(move || {
                let mut conn = AsyncConnectionWrapper::<AsyncMysqlConnection>::from(conn);
                apply(&mut conn, MYSQL)
            })
            .await?
        }
        Target::Sqlite(SqliteTarget::File(path)) => {
            target::create_parent_dirs(&path)?;
            blocking(move || {
                let mut conn = SqliteConnection::establish(&path)
                    .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))?;
                conn.batch_execute(&sqlite_pragmas(connect_timeout))
                    .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))?;
                sqlite_apply(&mut conn).map_err(|e| SetupError::Migrate(anyhow::Error::new(e)))
            })
            .await?
        }
        Target::Sqlite(SqliteTarget::Memory) => Vec::new(),
    };
    for version in &applied {
        tracing::info!(version, "applied user database migration");
    }
    Ok(applied)
}

/// Per-connection SQLite settings: wait for a busy database instead of failing at once, and
/// WAL so readers never block the writer (WAL is persistent; setting it again is a no-op).
pub(crate) fn sqlite_pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    )
}

/// The SQLite migrations on one connection, with the error as a diesel error (the form
/// `SyncConnectionWrapper::spawn_blocking` wants).
pub(crate) fn sqlite_apply(conn: &mut SqliteConnection) -> diesel::QueryResult<Vec<String>> {
    conn.run_pending_migrations(SQLITE)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(diesel::result::Error::QueryBuilderError)
}

async fn server_connection<C>(
    url: &str,
    connect_timeout: Duration,
    lock: &str,
) -> Result<C, SetupError>
where
    C: AsyncConnection + SimpleAsyncConnection,
{
    let mut conn = establish_within::<C>(url, connect_timeout)
        .await
        .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))?;
    // The session lock is released when the connection closes at the end of the migration.
    conn.batch_execute(lock)
        .await
        .map_err(|e| SetupError::Migrate(anyhow::Error::new(e).context("taking the lock")))?;
    Ok(conn)
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>, SetupError>
where
    C: MigrationHarness<C::Backend> + Connection,
{
    conn.run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| SetupError::Migrate(anyhow::Error::from_boxed(e)))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SetupError> + Send + 'static,
) -> Result<T, SetupError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SetupError::Migrate(anyhow::Error::new(e)))?
}

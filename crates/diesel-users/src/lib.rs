//! yanzheng's user directory over diesel + diesel-async, for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! The backend is picked at run time from the scheme of `database.url` (SPEC §9), parsed once
//! into a [`DatabaseUrl`]: `sqlite://path` (or `sqlite::memory:`), `postgres://` /
//! `postgresql://`, `mysql://` / `mariadb://`. [`DieselUsers`] is the one adapter type: an enum
//! over the three connection pools, so the composition root does not become generic over the
//! choice.
//!
//! No native client library is needed: PostgreSQL goes through tokio-postgres, MySQL through
//! mysql_async (both via diesel-async), SQLite through diesel's driver with a bundled
//! libsqlite3 behind diesel-async's `SyncConnectionWrapper`.
//!
//! Every operation — waiting for a pooled connection, connecting, the query itself — runs under
//! [`DbOptions::query_timeout`]; running out of time, like any failure other than a lost race on
//! the unique mobile index, is [`DirectoryError::Unavailable`]. Error messages never contain the
//! mobile number or the database URL (which may carry a password).

mod migrate;
mod queries;
mod schema;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::Manager;
use diesel::result::{ConnectionError, DatabaseErrorKind};
use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, RecyclingMethod, SetupCallback,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use domain::{Mobile, NewUser, PasswordHash, Timestamp, User, UserId};
use ports::{DirectoryError, Health, UserDirectory};

pub use migrate::run_migrations;
use queries::Row;
pub use target::DatabaseUrl;
use target::{SqliteTarget, Target};

/// The SQLite connection type: diesel's synchronous driver run on tokio's blocking pool.
type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Pool and timeout settings for [`DieselUsers::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOptions {
    /// Most connections kept open at once (SQLite `:memory:` always uses one).
    pub max_connections: usize,
    /// How long establishing one connection may take.
    pub connect_timeout: Duration,
    /// How long one directory operation may take in total (waiting for a free connection,
    /// connecting, querying). Also SQLite's `busy_timeout` and PostgreSQL's `statement_timeout`.
    pub query_timeout: Duration,
}

impl Default for DbOptions {
    /// The service's defaults (`database.*` in the configuration reads them from here).
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(2),
        }
    }
}

/// Why the directory could not be set up or migrated.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL names no backend this crate speaks. The message never repeats the URL.
    #[error(
        "unsupported database url: expected sqlite://PATH, sqlite::memory:, postgres://, \
         postgresql://, mysql:// or mariadb://"
    )]
    UnsupportedUrl,
    /// Opening the database failed (bad path, refused connection, wrong credentials, …).
    #[error("could not open the user database")]
    Connect(#[source] anyhow::Error),
    /// Applying the schema migrations failed.
    #[error("user database migration failed")]
    Migrate(#[source] anyhow::Error),
}

/// Which backend a [`DieselUsers`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Mysql,
    Sqlite,
}

#[derive(Clone)]
enum Pools {
    Postgres(Shards<Pool<AsyncPgConnection>>),
    Mysql(Pool<AsyncMysqlConnection>),
    Sqlite(Pool<SqliteConn>),
}

/// The user directory over one of the three backends. Cheap to clone (the pools are shared).
#[derive(Clone)]
pub struct DieselUsers {
    pools: Pools,
    query_timeout: Duration,
}

impl std::fmt::Debug for DieselUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselUsers")
            .field("backend", &self.backend())
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

impl DieselUsers {
    /// Builds the connection pool for `url`'s backend.
    ///
    /// PostgreSQL and MySQL connect lazily: a database that is down at start-up shows up as
    /// `Unavailable` on the first use (see [`DieselUsers::ping`]) rather than here. SQLite opens
    /// the file now (creating it and its parent directories), switching it to WAL mode;
    /// `sqlite::memory:` uses a single connection and applies the migrations to it itself.
    /// Does not run migrations for file or server databases: call [`run_migrations`] first.
    pub async fn connect(url: &DatabaseUrl, opts: &DbOptions) -> Result<Self, SetupError> {
        let max = opts.max_connections.max(1);
        let pools = match url.0.clone() {
            Target::Postgres(url) => {
                let statement_timeout = opts.query_timeout.as_millis();
                let shards = Shards::split(max, |size| {
                    let setup = server_setup::<AsyncPgConnection>(
                        url.clone(),
                        opts.connect_timeout,
                        format!("SET statement_timeout = {statement_timeout}"),
                    );
                    // tokio-postgres knows when its connection has closed, and diesel-async
                    // checks that on every checkout: no `SELECT 1` round trip per checkout.
                    build_pool(setup, size, RecyclingMethod::Fast)
                })?;
                Pools::Postgres(shards)
            }
            Target::Mysql(url) => {
                let setup = server_setup::<AsyncMysqlConnection>(
                    url,
                    opts.connect_timeout,
                    // `created_at` is stored and read as UTC.
                    "SET time_zone = '+00:00'".to_owned(),
                );
                // mysql_async does not tell a closed connection apart until it is used: keep
                // the checkout's `SELECT 1`.
                Pools::Mysql(build_pool(setup, max, RecyclingMethod::Verified)?)
            }
            Target::Sqlite(SqliteTarget::File(path)) => {
                target::create_parent_dirs(&path)?;
                let setup = sqlite_setup(path, opts.query_timeout, false);
                // An in-process file cannot drop the connection: no check (which would be a
                // hop to the blocking pool per checkout).
                let pool = build_pool(setup, max, RecyclingMethod::Fast)?;
                // Open the file now: a bad path fails start-up, and WAL mode is switched on
                // before any concurrent connections are opened.
                drop(
                    pool.get()
                        .await
                        .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))?,
                );
                Pools::Sqlite(pool)
            }
            Target::Sqlite(SqliteTarget::Memory) => {
                // Every connection to `:memory:` is its own database: keep exactly one.
                let setup = sqlite_setup(":memory:".to_owned(), opts.query_timeout, true);
                let pool = build_pool(setup, 1, RecyclingMethod::Fast)?;
                drop(
                    pool.get()
                        .await
                        .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))?,
                );
                Pools::Sqlite(pool)
            }
        };
        Ok(Self {
            pools,
            query_timeout: opts.query_timeout,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Postgres(_) => Backend::Postgres,
            Pools::Mysql(_) => Backend::Mysql,
            Pools::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Close the pools (at shutdown, once no request runs any more): idle connections are
    /// dropped, and any later checkout fails at once.
    pub fn close(&self) {
        match &self.pools {
            Pools::Postgres(shards) => shards.0.iter().for_each(Pool::close),
            Pools::Mysql(p) => p.close(),
            Pools::Sqlite(p) => p.close(),
        }
    }

    /// One round trip to the database (`SELECT 1`), for readiness checks.
    pub async fn ping(&self) -> Result<(), DirectoryError> {
        self.within(async {
            match &self.pools {
                Pools::Postgres(p) => get(p.here()).await?.batch_execute("SELECT 1").await,
                Pools::Mysql(p) => get(p).await?.batch_execute("SELECT 1").await,
                Pools::Sqlite(p) => get(p).await?.batch_execute("SELECT 1").await,
            }
            .map_err(|e| db_error(e, "pinging the user database"))
        })
        .await
    }

    async fn within<T>(
        &self,
        op: impl Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        match tokio::time::timeout(self.query_timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(DirectoryError::Unavailable(anyhow::anyhow!(
                "user database did not answer within {:?}",
                self.query_timeout
            ))),
        }
    }
}

/// `SELECT 1`, within `database.query_timeout_ms` like every query.
impl Health for DieselUsers {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.ping().await?)
    }
}

/// Runs the query `$query` of the backend's `queries` module on a pooled connection, within
/// the query timeout; an error is `db_error` with `$what` as context.
macro_rules! on_backend {
    ($self:ident, $what:literal, $query:ident($($arg:expr),*)) => {
        $self.within(async {
            match &$self.pools {
                Pools::Postgres(p) => queries::pg::$query(&mut *get(p.here()).await?, $($arg),*).await,
                Pools::Mysql(p) => queries::mysql::$query(&mut *get(p).await?, $($arg),*).await,
                Pools::Sqlite(p) => queries::sqlite::$query(&mut *get(p).await?, $($arg),*).await,
            }
            .map_err(|e| db_error(e, $what))
        })
    };
}

impl UserDirectory for DieselUsers {
    async fn exists(&self, mobile: &Mobile) -> Result<bool, DirectoryError> {
        let mobile = mobile.as_str();
        on_backend!(
            self,
            "checking whether a mobile is registered",
            exists(mobile)
        )
        .await
    }

    async fn create(&self, user: NewUser) -> Result<User, DirectoryError> {
        let (mobile, hash) = (user.mobile.as_str(), user.password_hash.0.as_str());
        to_user(on_backend!(self, "creating a user", create(mobile, hash)).await?)
    }

    async fn find_by_mobile(&self, mobile: &Mobile) -> Result<Option<User>, DirectoryError> {
        let mobile = mobile.as_str();
        let row = on_backend!(self, "looking up a user by mobile", find_by_mobile(mobile)).await?;
        row.map(to_user).transpose()
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, DirectoryError> {
        let row = on_backend!(self, "looking up a user by id", find_by_id(id.0)).await?;
        row.map(to_user).transpose()
    }

    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<(), DirectoryError> {
        let hash = hash.0.as_str();
        on_backend!(self, "setting a password", set_password(id.0, hash)).await
    }

    async fn set_mobile(&self, id: UserId, mobile: &Mobile) -> Result<(), DirectoryError> {
        let mobile = mobile.as_str();
        on_backend!(self, "changing a mobile", set_mobile(id.0, mobile)).await
    }
}

/// PostgreSQL's pool, split in one pool per core with `database.max_connections` shared out
/// among them; each thread keeps to one (threads take them in turn). tokio-postgres drives a
/// connection from a task spawned where the connection was made, so under actix-web, where
/// every worker thread runs its own runtime, a shared pool hands a worker connections whose
/// task lives on another worker, and every query wakes that thread twice; a worker that keeps
/// to its own pool makes and drives its own connections. (MySQL and SQLite connections have no
/// task of their own.)
#[derive(Clone)]
struct Shards<T>(Arc<[T]>);

impl<T> Shards<T> {
    /// One per core (at most `total`), `total` shared out: the sizes add up to `total`.
    fn split<E>(total: usize, make: impl Fn(usize) -> Result<T, E>) -> Result<Self, E> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let n = cores.clamp(1, total.max(1));
        let shards = (0..n)
            .map(|i| make(total / n + usize::from(i < total % n)))
            .collect::<Result<Arc<[T]>, E>>()?;
        Ok(Self(shards))
    }

    /// This thread's shard.
    fn here(&self) -> &T {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        &self.0[SLOT.with(|s| *s) % self.0.len()]
    }
}

/// A pooled connection, or `Unavailable` with the pool's (connect) error as the cause.
async fn get<C>(pool: &Pool<C>) -> Result<Object<C>, DirectoryError>
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    pool.get().await.map_err(|e| {
        DirectoryError::Unavailable(
            anyhow::Error::new(e).context("no connection to the user database"),
        )
    })
}

/// A unique-index violation is the lost race the port calls `Duplicate`; anything else is
/// `Unavailable`, with `what` as context (never the mobile).
fn db_error(e: diesel::result::Error, what: &'static str) -> DirectoryError {
    match e {
        diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            DirectoryError::Duplicate
        }
        e => DirectoryError::Unavailable(anyhow::Error::new(e).context(what)),
    }
}

fn to_user((id, mobile, password_hash, created_at): Row) -> Result<User, DirectoryError> {
    let mobile = Mobile::parse(&mobile).map_err(|e| {
        DirectoryError::Unavailable(
            anyhow::Error::new(e).context(format!("user {id} has an invalid stored mobile")),
        )
    })?;
    let millis = created_at.assume_utc().unix_timestamp_nanos() / 1_000_000;
    let millis = u64::try_from(millis).map_err(|_| {
        DirectoryError::Unavailable(anyhow::anyhow!(
            "user {id} has a created_at before 1970: {created_at}"
        ))
    })?;
    Ok(User {
        id: UserId(id),
        mobile,
        password_hash: PasswordHash(password_hash),
        created_at: Timestamp(millis),
    })
}

fn build_pool<C>(
    setup: SetupCallback<C>,
    max: usize,
    recycling: RecyclingMethod<C>,
) -> Result<Pool<C>, SetupError>
where
    C: AsyncConnection + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let mut config = ManagerConfig::<C>::default();
    config.custom_setup = setup;
    config.recycling_method = recycling;
    // The URL is captured by `setup`; the manager's own copy is never used.
    let manager = AsyncDieselConnectionManager::<C>::new_with_config("", config);
    Pool::builder(manager)
        .max_size(max)
        .build()
        .map_err(|e| SetupError::Connect(anyhow::Error::new(e)))
}

/// Connects with a deadline, then runs the per-session `init` statement.
fn server_setup<C>(url: String, connect_timeout: Duration, init: String) -> SetupCallback<C>
where
    C: AsyncConnection + SimpleAsyncConnection + Send + 'static,
{
    Box::new(move |_| {
        let url = url.clone();
        let init = init.clone();
        Box::pin(async move {
            let mut conn = establish_within::<C>(&url, connect_timeout).await?;
            conn.batch_execute(&init)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    })
}

async fn establish_within<C: AsyncConnection>(
    url: &str,
    connect_timeout: Duration,
) -> Result<C, ConnectionError> {
    match tokio::time::timeout(connect_timeout, C::establish(url)).await {
        Ok(conn) => conn,
        Err(_) => Err(ConnectionError::BadConnection(format!(
            "no connection to the database within {connect_timeout:?}"
        ))),
    }
}

/// Opens `path`, sets the busy timeout and WAL mode, and (for `:memory:`) applies the
/// migrations to this connection's private database.
fn sqlite_setup(path: String, busy_timeout: Duration, migrate: bool) -> SetupCallback<SqliteConn> {
    Box::new(move |_| {
        let path = path.clone();
        Box::pin(async move {
            let mut conn = SqliteConn::establish(&path).await?;
            conn.batch_execute(&migrate::sqlite_pragmas(busy_timeout))
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            if migrate {
                conn.spawn_blocking(|c| migrate::sqlite_apply(c).map(drop))
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
            }
            Ok(conn)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::Shards;

    #[test]
    fn shards_share_out_the_total_one_per_core_at_most() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for total in [1, 2, 3, 7, 10, 64] {
            let shards = Shards::split(total, Ok::<_, ()>).unwrap();
            let sizes = &shards.0[..];
            assert_eq!(sizes.len(), cores.min(total), "{total}: one per core");
            assert_eq!(sizes.iter().sum::<usize>(), total, "{total}: {sizes:?}");
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(*min >= 1 && max - min <= 1, "{total}: evenly, {sizes:?}");
        }
        assert_eq!(
            Shards::<usize>::split(4, |_| Err("refused")).err(),
            Some("refused")
        );
    }

    #[test]
    fn a_thread_keeps_to_its_shard() {
        let shards = Shards::split(64, Ok::<_, ()>).unwrap();
        let here: *const usize = shards.here();
        for _ in 0..10 {
            assert!(std::ptr::eq(shards.here(), here));
        }
    }
}

//! Test support for projects that run against real servers: a fresh PostgreSQL or MySQL
//! database per test, dropped again afterwards (feature `testing`; used by this crate's tests and
//! by the `api` black-box tests).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failed setup should panic

use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};

pub fn postgres_admin_url() -> String {
    std::env::var("YZ_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub fn mysql_admin_url() -> String {
    std::env::var("YZ_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// `url` with its database (last path segment) replaced by `db`, keeping any `?query`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

pub fn fresh_name() -> String {
    format!("yz_test_{:016x}", rand::random::<u64>())
}

/// A fresh database on the test server, dropped again when this value goes.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Postgres,
    Mysql,
}

impl TestDb {
    pub async fn postgres() -> Self {
        let admin_url = postgres_admin_url();
        let name = fresh_name();
        let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            kind: Kind::Postgres,
        }
    }

    pub async fn mysql() -> Self {
        let admin_url = mysql_admin_url();
        let name = fresh_name();
        let mut admin = AsyncMysqlConnection::establish(&admin_url).await.unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            kind: Kind::Mysql,
        }
    }

    /// How many connections to this database are open now, from other clients (PostgreSQL
    /// only; the question's own connection is not counted).
    pub async fn connections(&self) -> i64 {
        use diesel_async::RunQueryDsl;
        let mut admin = self.postgres_only("connections", &self.admin_url).await;
        let count = format!(
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = '{}')",
            self.name
        );
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&count))
            .get_result(&mut admin)
            .await
            .unwrap()
    }

    /// Stall every query on `users` (PostgreSQL only).
    pub async fn stall_users(&self) -> StalledUsers {
        let mut conn = self.postgres_only("stall_users", &self.url).await;
        conn.batch_execute(StalledUsers::LOCK).await.unwrap();
        StalledUsers { conn }
    }

    /// A connection to `url`, for a helper (`what`) that PostgreSQL alone supports.
    async fn postgres_only(&self, what: &str, url: &str) -> AsyncPgConnection {
        assert!(
            matches!(self.kind, Kind::Postgres),
            "{what}: PostgreSQL only"
        );
        AsyncPgConnection::establish(url).await.unwrap()
    }
}

/// A PostgreSQL transaction holding `ACCESS EXCLUSIVE` on the `users` table: every query on it
/// waits — a stalled database, as far as the service can tell — until [`StalledUsers::release`].
pub struct StalledUsers {
    conn: AsyncPgConnection,
}

impl StalledUsers {
    /// What holds the lock (on a connection of its own); `ROLLBACK` lets go.
    pub const LOCK: &str = "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE";

    pub async fn release(mut self) {
        self.conn.batch_execute("ROLLBACK").await.unwrap();
    }
}

/// Drops the test database, also when the test panicked. Best effort: a failure here must not
/// hide the test's own result.
impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name, kind) = (self.admin_url.clone(), self.name.clone(), self.kind);
        // Drop cannot await, and this may run on a runtime worker: use a thread of our own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                match kind {
                    Kind::Postgres => {
                        if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = admin.batch_execute(&sql).await;
                        }
                    }
                    Kind::Mysql => {
                        if let Ok(mut admin) = AsyncMysqlConnection::establish(&admin_url).await {
                            let sql = format!(
                                "SET SESSION lock_wait_timeout = 5; DROP DATABASE IF EXISTS {name}"
                            );
                            let _ = admin.batch_execute(&sql).await;
                        }
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

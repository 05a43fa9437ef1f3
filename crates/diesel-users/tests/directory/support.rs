use std::time::Duration;

pub use diesel_users::testing::*;
use diesel_users::{DatabaseUrl, DbOptions};
use domain::{Mobile, NewUser, PasswordHash};

/// A test URL, parsed.
pub fn db_url(url: impl AsRef<str>) -> DatabaseUrl {
    DatabaseUrl::parse(url.as_ref()).unwrap()
}

/// Bounds for a shared, loaded CI machine; the failure tests use [`short_timeouts`].
pub fn generous() -> DbOptions {
    DbOptions {
        connect_timeout: Duration::from_secs(10),
        query_timeout: Duration::from_secs(10),
        ..DbOptions::default()
    }
}

/// Short timeouts so failure tests end quickly; long enough for a loaded CI machine.
pub fn short_timeouts() -> DbOptions {
    DbOptions {
        max_connections: 4,
        connect_timeout: Duration::from_millis(500),
        query_timeout: Duration::from_millis(500),
    }
}

pub fn new_user(raw_mobile: &str) -> NewUser {
    NewUser {
        mobile: Mobile::parse(raw_mobile).unwrap(),
        password_hash: PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
    }
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("mysql://root:pw@h/test?ssl-mode=disabled", "x"),
        "mysql://root:pw@h/x?ssl-mode=disabled"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

/// Retries `op` until it succeeds (at most 40 tries, 250 ms apart), for checks that a directory
/// recovers once a blocker is gone; the last error fails the test.
pub async fn eventually<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ports::DirectoryError>>,
{
    let mut last = None;
    for _ in 0..40 {
        match op().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("still failing: {last:?}");
}

/// The part of the suite every server backend shares: the contract, migrations, a query stuck
/// behind a lock held by another session.
pub mod server {
    use diesel_async::SimpleAsyncConnection;
    use diesel_users::{run_migrations, DieselUsers};
    use ports::{DirectoryError, UserDirectory};

    use super::{db_url, eventually, generous, new_user, short_timeouts, TestDb};

    /// Run one contract rule against `db`, migrated; the database is dropped afterwards.
    pub async fn with_directory<F, Fut>(db: TestDb, rule: F)
    where
        F: FnOnce(DieselUsers) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        run_migrations(&db_url(&db.url)).await.unwrap();
        let users = DieselUsers::connect(&db_url(&db.url), &generous())
            .await
            .unwrap();
        rule(users).await;
        drop(db);
    }

    pub async fn migrations_are_idempotent(db: TestDb) {
        // Two migrators at once (replicas starting together) and then a third: one applies.
        let url = db_url(&db.url);
        let (a, b) = tokio::join!(run_migrations(&url), run_migrations(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
        assert!(run_migrations(&db_url(&db.url)).await.unwrap().is_empty());
        let users = DieselUsers::connect(&db_url(&db.url), &generous())
            .await
            .unwrap();
        users.ping().await.unwrap();
        assert!(!users.exists(&new_user("13800000001").mobile).await.unwrap());
    }

    pub async fn before_migrations_is_unavailable(db: TestDb) {
        let users = DieselUsers::connect(&db_url(&db.url), &short_timeouts())
            .await
            .unwrap();
        let res = users.find_by_mobile(&new_user("13800000001").mobile).await;
        assert!(
            matches!(res, Err(DirectoryError::Unavailable(_))),
            "{res:?}"
        );
    }

    /// `lock`/`unlock` run on `other`, a separate session; while it holds the lock every
    /// directory query blocks until the query timeout, then answers `Unavailable`.
    pub async fn query_timeout<C: SimpleAsyncConnection + Send>(
        db: TestDb,
        mut other: C,
        lock: &str,
        unlock: &str,
    ) {
        run_migrations(&db_url(&db.url)).await.unwrap();
        let users = DieselUsers::connect(&db_url(&db.url), &short_timeouts())
            .await
            .unwrap();
        let m = new_user("13800000001").mobile;
        assert!(!users.exists(&m).await.unwrap());

        other.batch_execute(lock).await.unwrap();
        let blocked = users.exists(&m).await;
        assert!(
            matches!(blocked, Err(DirectoryError::Unavailable(_))),
            "{blocked:?}"
        );
        let blocked = users.create(new_user("13800000001")).await;
        assert!(
            matches!(blocked, Err(DirectoryError::Unavailable(_))),
            "{blocked:?}"
        );
        other.batch_execute(unlock).await.unwrap();

        // Abandoned queries must not poison the pool: the same directory works again. (A timed-out
        // create has an unknown outcome: the server may still have run it after the unlock.)
        let found = eventually(|| users.find_by_mobile(&m)).await;
        let created = match found {
            None => users.create(new_user("13800000001")).await.unwrap(),
            Some(user) => user,
        };
        assert_eq!(users.find_by_id(created.id).await.unwrap(), Some(created));
        drop(other);
        drop(users);
    }
}

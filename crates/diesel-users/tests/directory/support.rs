use std::time::Duration;

pub use diesel_users::testing::*;
use diesel_users::DbOptions;
use domain::{Mobile, NewUser, PasswordHash};

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

/// Retries `op` until it succeeds (at most 20 tries, 250 ms apart), for checks that a directory
/// recovers once a blocker is gone; the last error fails the test.
pub async fn eventually<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ports::DirectoryError>>,
{
    let mut last = None;
    for _ in 0..20 {
        match op().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("still failing: {last:?}");
}

/// The part of the suite every server backend shares: contract, migrations, a query stuck
/// behind a lock held by another session.
pub mod server {
    use diesel_async::SimpleAsyncConnection;
    use diesel_users::{run_migrations, DbOptions, DieselUsers};
    use ports::{DirectoryError, UserDirectory};

    use super::{eventually, new_user, short_timeouts, TestDb};

    pub async fn contract(db: TestDb) {
        run_migrations(&db.url).await.unwrap();
        let users = DieselUsers::connect(&db.url, &DbOptions::default())
            .await
            .unwrap();
        port_contracts::users::user_directory(users).await;
    }

    pub async fn migrations_are_idempotent(db: TestDb) {
        // Two migrators at once (replicas starting together) and then a third: one applies.
        let (a, b) = tokio::join!(run_migrations(&db.url), run_migrations(&db.url));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
        assert!(run_migrations(&db.url).await.unwrap().is_empty());
        let users = DieselUsers::connect(&db.url, &DbOptions::default())
            .await
            .unwrap();
        users.ping().await.unwrap();
        assert!(!users.exists(&new_user("13800000001").mobile).await.unwrap());
    }

    pub async fn before_migrations_is_unavailable(db: TestDb) {
        let users = DieselUsers::connect(&db.url, &short_timeouts())
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
        run_migrations(&db.url).await.unwrap();
        let users = DieselUsers::connect(&db.url, &short_timeouts())
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

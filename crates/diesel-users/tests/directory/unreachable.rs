//! Databases that refuse connections or never answer: every call ends as `Unavailable` (or a
//! setup error for migrations) instead of hanging.

use std::time::Duration;

use diesel_users::{run_migrations, DbOptions, DieselUsers, SetupError};
use ports::{DirectoryError, Health, UserDirectory};
use tokio::net::TcpListener;

use crate::support::{db_url, generous, new_user, short_timeouts};

fn assert_unavailable<T: std::fmt::Debug>(res: Result<T, DirectoryError>) {
    assert!(
        matches!(res, Err(DirectoryError::Unavailable(_))),
        "{res:?}"
    );
}

async fn every_call_is_unavailable(url: &str, opts: &DbOptions) {
    let users = DieselUsers::connect(&db_url(url), opts).await.unwrap();
    let m = new_user("13800000001").mobile;
    assert_unavailable(users.exists(&m).await);
    assert_unavailable(users.create(new_user("13800000001")).await);
    assert_unavailable(users.find_by_mobile(&m).await);
    assert_unavailable(users.find_by_id(domain::UserId(1)).await);
    assert_unavailable(users.ping().await);
    assert!(users.check().await.is_err(), "health check");
}

#[tokio::test]
async fn refused_connections_are_unavailable() {
    for url in [
        "postgres://postgres@127.0.0.1:1/x",
        "mysql://root@127.0.0.1:1/x",
    ] {
        every_call_is_unavailable(url, &generous()).await;
        let err = run_migrations(&db_url(url)).await;
        assert!(matches!(err, Err(SetupError::Connect(_))), "{err:?}");
    }
}

/// A server that accepts TCP connections and never says a word.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr.to_string(), task)
}

#[tokio::test]
async fn silent_server_hits_the_connect_timeout() {
    let (addr, server) = silent_server().await;
    let opts = DbOptions {
        connect_timeout: Duration::from_millis(300),
        query_timeout: Duration::from_secs(600),
        ..generous()
    };
    every_call_is_unavailable(&format!("postgres://postgres@{addr}/x"), &opts).await;
    every_call_is_unavailable(&format!("mysql://root@{addr}/x"), &opts).await;
    server.abort();
}

#[tokio::test]
async fn silent_server_hits_the_query_timeout() {
    let (addr, server) = silent_server().await;
    let opts = DbOptions {
        connect_timeout: Duration::from_secs(600),
        ..short_timeouts()
    };
    every_call_is_unavailable(&format!("postgres://postgres@{addr}/x"), &opts).await;
    every_call_is_unavailable(&format!("mysql://root@{addr}/x"), &opts).await;
    server.abort();
}

//! Test support: a throw-away `redis-server` on a free port, for tests that stop and restart
//! Redis without touching the shared one (feature `testing`; used by this crate's recovery test
//! and by the `api` black-box outage test). Set `YZ_TEST_REDIS_SERVER` to the binary if it is
//! not `redis-server` on the PATH.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failed setup should panic

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A private `redis-server` child process; killed on drop.
pub struct Server {
    child: Child,
}

impl Server {
    pub fn start(port: u16) -> Self {
        let bin = std::env::var("YZ_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (set YZ_TEST_REDIS_SERVER): {e}"));
        Self { child }
    }

    pub fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until a server answers PING on `url` (polling; no timing assertion).
pub async fn wait_until_up(url: &str) {
    for _ in 0..200 {
        if let Ok(client) = deadpool_redis::redis::Client::open(url) {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> =
                    deadpool_redis::redis::cmd("PING").query_async(&mut c).await;
                if pong.is_ok() {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("test redis-server on {url} did not come up");
}

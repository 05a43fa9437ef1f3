//! Test support: a throw-away `redis-server` on a free port, for tests that stop and restart
//! Redis without touching the shared one, and a throw-away Redis Cluster for tests that kill
//! one of its masters (feature `testing`; used by this crate's recovery and cluster tests and
//! by the `api` black-box outage tests). Set `YZ_TEST_REDIS_SERVER` (and `YZ_TEST_REDIS_CLI`)
//! to the binaries if they are not `redis-server` (`redis-cli`) on the PATH.
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

/// A private Redis Cluster of 3 masters + 3 replicas, started by `.ci/redis-cluster` (the same
/// script `.ci/run` starts the shared one with) in a fresh folder; stopped on drop.
pub struct Cluster {
    dir: std::path::PathBuf,
    url: String,
}

/// `.ci/redis-cluster`, found from this crate's folder.
fn cluster_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/redis-cluster")
}

fn cli() -> String {
    std::env::var("YZ_TEST_REDIS_CLI").unwrap_or_else(|_| "redis-cli".into())
}

impl Cluster {
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("yz-cluster-{:016x}", rand::random::<u64>()));
        let out = Command::new("bash")
            .arg(cluster_script())
            .arg("start")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run .ci/redis-cluster");
        assert!(out.status.success(), "the test cluster did not start");
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Self { dir, url }
    }

    /// `redis+cluster://127.0.0.1:P1,…,P6`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn ports(&self) -> Vec<u16> {
        self.url
            .trim_start_matches("redis+cluster://")
            .split(',')
            .map(|node| node.rsplit(':').next().unwrap().parse().unwrap())
            .collect()
    }

    fn ask(&self, port: u16, args: &[&str]) -> Option<String> {
        let out = Command::new(cli())
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The hash slot of `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        self.ports()
            .into_iter()
            .find_map(|p| self.ask(p, &["cluster", "keyslot", key]))
            .and_then(|s| s.trim().parse().ok())
            .expect("no node answered CLUSTER KEYSLOT")
    }

    /// The port of the master that serves `key`'s slot.
    pub fn master_port_of(&self, key: &str) -> u16 {
        let slot = self.slot_of(key);
        let nodes = self
            .ports()
            .into_iter()
            .find_map(|p| self.ask(p, &["cluster", "nodes"]))
            .expect("no node answered CLUSTER NODES");
        // `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slots…>`
        let port = nodes
            .lines()
            .filter(|l| l.split(' ').nth(2).is_some_and(|f| f.contains("master")))
            .find(|l| {
                l.split(' ').skip(8).any(|range| {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
                })
            })
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|addr| addr.split('@').next())
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok())
            .expect("no master serves the slot");
        port
    }

    /// Kill (SIGKILL, no goodbye) the master that serves `key`'s slot; returns its port.
    pub fn kill_master_of(&self, key: &str) -> u16 {
        let port = self.master_port_of(key);
        let pid = std::fs::read_to_string(self.dir.join(format!("{port}.pid"))).unwrap();
        let killed = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(killed.success());
        port
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(cluster_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

//! The connections the store runs its commands on (see the crate docs, *Connections*).
//!
//! A connection is made on first use, checked like every new connection (the server version,
//! see [`check_new_connection`]), and kept until an operation on it fails in a way that may have
//! left it unusable (a transport error, a timeout): that operation forgets it, and the next one
//! connects anew.
//!
//! On Redis Cluster a connection is a `ClusterConnection`: one multiplexed connection to every
//! node, routing each command (and each script, by its first key) to the node that owns its
//! slot, following `MOVED`/`ASK` and refreshing the slot map when a node fails or the map
//! changes. The store uses it exactly as it uses a single server's connection ([`Conn`]).
//!
//! A thread keeps to one slot (threads take slots in turn), so that under actix-web, where each
//! worker thread runs its own runtime, a worker's connection is driven on that worker's runtime
//! (a connection's task is spawned where it was made) rather than waking another thread for
//! every command.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::anyhow;
use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster::ClusterClient;
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Value,
};

use crate::MIN_VERSION;

/// Why no connection could be had.
pub(crate) enum ConnectError {
    /// Connecting failed, or the connection failed while being checked: try again later.
    Transport(RedisError),
    /// The server answered, but the store cannot run on it (see [`check_new_connection`]).
    Unfit(String),
}

/// How connections are made: to one server, or to a Redis Cluster.
pub(crate) enum Connector {
    Single(Client, AsyncConnectionConfig),
    Cluster(ClusterClient),
}

/// A connection to one server or to a cluster; commands and scripts run on either.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Connector {
    async fn connect(&self) -> Result<Conn, RedisError> {
        match self {
            Connector::Single(client, config) => client
                .get_multiplexed_async_connection_with_config(config)
                .await
                .map(Conn::Single),
            Connector::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
        }
    }
}

pub(crate) struct Connections {
    connector: Connector,
    slots: Box<[Slot]>,
    /// Numbers every connection made, so that forgetting one never forgets its successor.
    made: AtomicU64,
}

#[derive(Default)]
struct Slot {
    live: Mutex<Option<Live>>,
    /// One connection attempt at a time per slot; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
}

/// A connection borrowed for one operation.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) conn: Conn,
    slot: usize,
    serial: u64,
}

impl Live {
    /// Whether `error` may have left this connection unusable, so that the next operation must
    /// make a new one. A server's connection: a transport error or a timeout. A cluster
    /// connection reconnects to its nodes itself (a dead master's slots fail until the slot
    /// map names its replica, the other slots keep working), so it is only replaced when its
    /// own task has gone.
    pub(crate) fn broken_by(&self, error: &RedisError) -> bool {
        match self.conn {
            Conn::Single(_) => error.is_unrecoverable_error() || error.is_timeout(),
            Conn::Cluster(_) => error.to_string().contains("redis_cluster: Unable to"),
        }
    }

    /// Whether an operation that ran out of time leaves this connection suspect: a server's
    /// may be stuck behind a hung reply; a cluster connection routes around a hung node.
    pub(crate) fn stuck_after_timeout(&self) -> bool {
        matches!(self.conn, Conn::Single(_))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This thread's slot number, before `% slots`: threads take numbers in turn.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|s| *s)
}

impl Connections {
    pub(crate) fn new(connector: Connector, count: usize) -> Self {
        Self {
            connector,
            slots: (0..count.max(1)).map(|_| Slot::default()).collect(),
            made: AtomicU64::new(0),
        }
    }

    /// A connection for one operation: this thread's slot's, or a new one. The caller bounds
    /// the wait (and dropping this future gives up the attempt).
    pub(crate) async fn get(&self) -> Result<Live, ConnectError> {
        let index = thread_slot() % self.slots.len();
        let slot = &self.slots[index];
        if let Some(live) = lock(&slot.live).clone() {
            return Ok(live);
        }
        let _attempt = slot.connecting.lock().await;
        if let Some(live) = lock(&slot.live).clone() {
            return Ok(live);
        }
        let mut conn = self
            .connector
            .connect()
            .await
            .map_err(ConnectError::Transport)?;
        check_new_connection(&mut conn).await?;
        let live = Live {
            conn,
            slot: index,
            serial: self.made.fetch_add(1, Ordering::Relaxed),
        };
        *lock(&slot.live) = Some(live.clone());
        Ok(live)
    }

    /// Connect once, check the server and hang up: what [`RedisStore::connect`](crate::RedisStore::connect)
    /// does at start, without taking a slot (the threads that use the store make theirs).
    pub(crate) async fn check_server(&self) -> Result<(), ConnectError> {
        let mut conn = self
            .connector
            .connect()
            .await
            .map_err(ConnectError::Transport)?;
        check_new_connection(&mut conn).await
    }

    /// Hang up every kept connection (at shutdown). A later operation would connect anew.
    pub(crate) fn close(&self) {
        for slot in &self.slots {
            lock(&slot.live).take();
        }
    }

    /// `live` failed in a way that may have left it unusable: the next operation on its slot
    /// connects anew (unless that already happened).
    pub(crate) fn forget(&self, live: &Live) {
        let mut current = lock(&self.slots[live.slot].live);
        if current.as_ref().is_some_and(|c| c.serial == live.serial) {
            *current = None;
        }
    }
}

/// Every new connection: refused ([`ConnectError::Unfit`]) on a server this store cannot run
/// on; a connection that fails while asking is a transport failure, like failing to connect.
/// On a cluster one node (any) is asked: the nodes of a cluster run one version, except during
/// a rolling upgrade, when every connection made later asks again.
async fn check_new_connection(conn: &mut Conn) -> Result<(), ConnectError> {
    let mut cmd = redis::cmd("INFO");
    cmd.arg("server");
    let answer = match conn {
        Conn::Single(c) => cmd.query_async::<String>(c).await,
        Conn::Cluster(c) => c
            .route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random))
            .await
            .and_then(|v| redis::from_redis_value::<String>(v).map_err(Into::into)),
    };
    let info: String = match answer {
        Ok(info) => info,
        Err(e) if e.is_io_error() || e.is_unrecoverable_error() || e.is_timeout() => {
            return Err(ConnectError::Transport(e))
        }
        // The server answered, just not with its version: an ACL without INFO, a proxy.
        Err(e) => {
            return Err(ConnectError::Unfit(format!(
                "cannot check the Redis version: INFO server failed ({e}); the store needs \
                 Redis {}.{} or newer and its Redis user needs the INFO command",
                MIN_VERSION.0, MIN_VERSION.1
            )))
        }
    };
    crate::check_server_version(&info).map_err(ConnectError::Unfit)
}

impl ConnectError {
    pub(crate) fn into_anyhow(self) -> anyhow::Error {
        match self {
            ConnectError::Transport(e) => anyhow::Error::new(e),
            ConnectError::Unfit(refusal) => anyhow!(refusal),
        }
    }
}

//! Redis adapter for yanzheng's shared state: captchas, SMS codes, rate limits and sessions.
//!
//! [`RedisStore`] implements [`CaptchaStore`](ports::CaptchaStore),
//! [`CodeStore`](ports::CodeStore), [`RateLimiter`](ports::RateLimiter) and
//! [`SessionStore`](ports::SessionStore) over a few shared, multiplexed connections of the
//! `redis` crate (as `deadpool-redis` re-exports it; see *Connections*), on one Redis server or a
//! Redis Cluster (see *Redis Cluster*). It is cheap to clone
//! (the connections and the prefix are shared), so one value can serve every port.
//!
//! # Key layout
//!
//! `{prefix}` is [`RedisOptions::key_prefix`] (default `yz`). Everything about one mobile carries
//! the Redis Cluster hash tag `{m:<mobile>}`, so all of its keys share one slot.
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `{prefix}:captcha:<id>` | string | captcha text (upper case) | the captcha's ttl |
//! | `{prefix}:{m:<mobile>}:code` | hash | `d`: hex of the code's keyed digest (never the code), `a`: wrong attempts | the code's ttl |
//! | `{prefix}:{m:<mobile>}:cool` | string | `reserved_at` (ms) of the last send reservation | cooldown + 1 h |
//! | `{prefix}:{m:<mobile>}:sends` | zset | one member per reservation (`<ms>:<random>`), score = reserved_at; one day deep, gives the hourly and the daily count | 1 d + 1 h |
//! | `{prefix}:ip:<client>:hour` | zset | reservations from one client (IPv4 address or IPv6 prefix), one hour deep | 2 h |
//! | `{prefix}:ip:<client>:captchas` | zset | captchas issued to one client, one minute deep | 1 min + 1 h |
//! | `{prefix}:global:hour` | zset | all reservations, one hour deep | 2 h |
//! | `{prefix}:login:<client>` | hash | `s`: start of the client's sign-in window (ms), `n`: attempts counted in it | window + 1 h |
//! | `{prefix}:{m:<mobile>}:login` | hash | the account's sign-in window, as for a client | window + 1 h |
//! | `{prefix}:session:<sha256 hex of token>` | hash | `u`: user id, `i`: session id, `c`: created (ms), `l`: last recorded use (ms), `t`: sliding ttl (ms; `0` for a cookie session: the kind), `a`: user agent (absent if none) | cookie: the ttl from creation; app: the ttl from the last recorded use |
//! | `{prefix}:user:<id>:sessions` | zset | the user's session keys in creation order, oldest first (for `max_per_user`, `list`, `end`, `end_all`) | its longest-lived session's |
//!
//! The token itself is never stored, only its SHA-256. Sessions written by the release before
//! this layout are a string (the user id) under the same key: the scripts that read sessions
//! (`get`, `list`, `end`) upgrade one in place to a cookie-kind hash, created and last used at
//! the time of the upgrade, keeping its remaining TTL, with the id `sha1hex(key)[..32]`;
//! `delete` and `end_all` end it whatever its type.
//!
//! A TTL of zero (or one rounding to zero milliseconds) stores nothing: the key is deleted.
//! TTLs above ten years are capped at ten years.
//!
//! # Atomic steps
//!
//! Each step is one command or one Lua script, and every script touches only the keys it is
//! given, all in one Redis Cluster slot. An operation whose keys span slots is several steps,
//! in a fixed order, that never admit more than a limit allows: each limit is checked and
//! counted in one step, and what a refused operation counted is given back. The same steps
//! run on one server and on a cluster.
//!
//! | operation | how |
//! |---|---|
//! | captcha `put` / `take` / `discard` | `SET … PX` / `GETDEL` / `DEL` |
//! | code `put` | script: `DEL`, `HSET d a=0`, `PEXPIRE` (`put_code`, shared by every script that stores a code) |
//! | code `withdraw` | script: compare `d` with the digest, `DEL` only if equal |
//! | code `restore` | script: `put_code` with the mismatches it had used, only if no code is live |
//! | code `verify` | script: constant-time style compare (every byte, XORs OR-ed together, no early exit); match → `DEL` → accepted; mismatch → `HINCRBY a`, the `max_attempts`-th mismatch → `DEL`, 0 attempts left |
//! | `acquire_send` | 1. the client's and the global window at once, each a script: prune, count (`ZCOUNT`), `ZADD` if under its cap, else the wait; 2. the mobile's slot, a script: judge the cooldown and the mobile's hourly and daily caps and, only if step 1 reserved in both windows, `SET` the cooldown, `ZADD` the reservation and store the code (`put_code`); 3. on any refusal, `ZREM` what step 1 added. The longest wait of every limit that refused is reported |
//! | `acquire_captcha` | 1. script: prune the client's captcha log, count it, `ZADD` if under the cap; 2. `SET … PX` the captcha text |
//! | `release_cooldown` | script: delete the cooldown only if it still holds this permit's `reserved_at` |
//! | `acquire_login` | the client's and the account's window at once, each a script: start a window or `HINCRBY n` unless it is full; if either refuses, the other gives its count back (a window only this attempt began goes altogether) |
//! | `release_login` | each window, a script: `HINCRBY n -1` if it still starts where the permit says |
//! | session `create` | 1. script: `HSET` + `PEXPIRE` the session; 2. script on the user's index: `ZADD` it (each add scores one more than the newest), keep the index as long-lived as its longest session, name the oldest beyond `max_per_user`; only if some are named: `ZRANGE` the index, `EXISTS` each session, and the index script again dropping the ended ones; 3. `DEL` the named sessions, then `ZREM` them |
//! | session `get` | script: read the hash (`read_session`: one `HMGET`; a legacy string is upgraded); if a use is due (`now` ≥ `l` + the touch interval) set `l` and, for an app session, `PEXPIRE` it — then one more script makes the user's index live at least as long |
//! | session `delete` | `DEL` (the index forgets the key when it is next read) |
//! | session `list` / `end` | `ZRANGE` the user's index, read each session (a script each, at once), `ZREM` the ended ones; `end` then `DEL`s and `ZREM`s the one with that id |
//! | session `end_all` | `ZRANGE` the user's index, `DEL` every session in it but the kept one, `ZREM` them |
//!
//! Scripts go out as `EVALSHA` with an automatic fallback to `EVAL` when the server does not
//! have them cached (first use, restart, failover).
//!
//! The limiter judges every window from the `now` the caller passes (the clock port), never from
//! Redis `TIME` or key expiry; TTLs only collect garbage and are longer than any window.
//! Reservation members are `<now>:<64 random bits>`, so two replicas reserving in the same
//! millisecond still add two entries, and a give-back removes exactly its own.
//!
//! What the steps allow that one script did not: a send racing another may be refused by a
//! reservation that is about to be given back (early, never late); a captcha whose text could
//! not be stored stays counted; a session created while `end_all` runs may survive it (it
//! began after the sign-out everywhere did).
//!
//! # Redis Cluster
//!
//! `redis+cluster://[[user]:password@]host:port[,host:port…]` names a cluster by one or more of its nodes; the client learns the rest and the slot map,
//! follows `MOVED`/`ASK`, and refreshes the map when a node fails. Everything about one mobile
//! carries the hash tag `{m:<mobile>}` and shares a slot; the other keys are used one at a time.
//! The global window is one key, so one slot on one master: at SMS rates (its cap is
//! `limits.global_per_hour`, 1000 an hour by default) that master sees a few commands per
//! send, far below what one Redis node serves, so it is not sharded. A master that dies makes
//! the operations on its slots fail as [`StoreError::Unavailable`] within the timeout until
//! its replica is promoted; the same connections then follow the new map.
//!
//! # Server version
//!
//! The store needs Redis 6.2 or newer (captcha `take` is `GETDEL`; Valkey, which reports a
//! compatible `redis_version`, works too). Every new connection asks `INFO server` and is
//! refused when `redis_version` is older, unreadable, or `INFO` itself is refused (the store's
//! Redis user needs `INFO`; with ACLs, `+info`). [`RedisStore::connect`] makes one such
//! connection, so an old server is refused at start with an error that names its version; a
//! server that turns old later (failover to an old replica) fails every operation with the same
//! cause instead of only the captcha `take`.
//!
//! # Connections
//!
//! A `MultiplexedConnection` is cloneable and pipelines concurrent requests on one socket, so
//! the store shares a few of them instead of pooling them: each thread that uses the store keeps
//! to one of at most [`RedisOptions::pool_size`] connections (made on first use), and every
//! operation sends on a clone of it — no checkout, no per-checkout check. deadpool-redis' pool
//! sent `UNWATCH` + `PING` on every checkout, a second round trip for each of this store's
//! one-command operations and most of Redis' work under load.
//!
//! # Failure behaviour
//!
//! - [`RedisUrl::parse`] checks the URL (configuration calls it at start-up); [`RedisStore::connect`]
//!   tries one connection (bounded by [`RedisOptions::timeout`]) only to check the server's
//!   version, and hangs it up: it does not fail because Redis is down, unreachable or hung at
//!   that moment, only because a server that answered is too old.
//! - Every operation runs under one deadline of [`RedisOptions::timeout`] (default 1 s) that
//!   bounds making a connection when there is none and the command or script itself
//!   (`tokio::time::timeout_at`; the connection's own connect/response timeouts are set to the
//!   same value as well). A stopped, unreachable or hung Redis therefore answers
//!   [`StoreError::Unavailable`] within the bound and never hangs a request.
//! - A connection whose command timed out or failed in transport (Redis restarted, network
//!   cut) is forgotten, and the next operation makes a new one, so a hung connection is not used
//!   again and the store recovers on its own when Redis comes back. After a restart, the
//!   operations that meet a connection to the old server fail (`Unavailable`); the ones after
//!   them reconnect.
//! - The cause goes into `Unavailable` for the log; it never contains a code, token or value.

mod connections;
mod keys;
mod ports_impl;
mod scripts;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use deadpool_redis::redis::cluster::ClusterClientBuilder;
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, ConnectionInfo, FromRedisValue, IntoConnectionInfo,
};
use ports::StoreError;
use tokio::time::{timeout_at, Instant};

use crate::connections::{ConnectError, Connections, Connector, Live};
use crate::keys::Keys;

/// A Redis URL, parsed once: `redis://[:password@]host:port/db` for one server,
/// `redis+cluster://[[user]:password@]host:port[,host:port…]` for a Redis Cluster, given by one
/// or more of its nodes. TLS (`rediss://`, `rediss+cluster://`) is not built in and is refused
/// with a message that says so. `Debug` hides it: it may carry a password.
#[derive(Clone)]
pub struct RedisUrl(Target);

#[derive(Clone)]
enum Target {
    Single(Box<ConnectionInfo>),
    /// The seed nodes; the client learns the others (and the slot map) from them.
    Cluster(Vec<ConnectionInfo>),
}

impl RedisUrl {
    /// Fails on anything the redis client would refuse; the error never repeats the URL.
    pub fn parse(url: &str) -> Result<Self, anyhow::Error> {
        let refused = |e: redis::RedisError| {
            anyhow!(
                "not a redis:// or redis+cluster:// URL the client accepts ({:?})",
                e.kind()
            )
        };
        if url.starts_with("rediss://") || url.starts_with("rediss+cluster://") {
            return Err(anyhow!(
                "TLS to Redis (rediss://) is not built into this release: use redis:// on a \
                 private network, or a TLS tunnel (stunnel, a sidecar) in front of Redis"
            ));
        }
        let Some(rest) = url.strip_prefix("redis+cluster://") else {
            let info = url.into_connection_info().map_err(refused)?;
            return Ok(Self(Target::Single(Box::new(info))));
        };
        // `[user:password@]a:1,b:2[/]`: the credentials apply to every node.
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (Some(auth), hosts),
            None => (None, rest),
        };
        let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
        if hosts.is_empty() || hosts.contains(['/', '?', '#']) {
            return Err(anyhow!(
                "a redis+cluster:// URL lists host:port[,host:port…] and nothing else"
            ));
        }
        let nodes = hosts
            .split(',')
            .map(|host| {
                let node = match auth {
                    Some(auth) => format!("redis://{auth}@{host}"),
                    None => format!("redis://{host}"),
                };
                node.as_str().into_connection_info().map_err(refused)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Target::Cluster(nodes)))
    }

    /// Whether this names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.0, Target::Cluster(_))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisUrl(..)")
    }
}

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Put before every key (`{key_prefix}:…`). Must be non-empty and contain no `{` or `}`
    /// (those would break the hash tags).
    pub key_prefix: String,
    /// Most connections to Redis: each thread that uses the store keeps to one (threads share
    /// them round the table beyond this many), and every concurrent operation of those threads
    /// is pipelined on it.
    pub pool_size: usize,
    /// Upper bound of one operation: connection creation (when there is none) and the command or
    /// script.
    pub timeout: Duration,
}

impl RedisOptions {
    /// Whether a store can run with these options: a non-empty prefix without `{` or `}`, at
    /// least one connection, a positive timeout. Configuration loading calls it so every problem is
    /// reported at start-up; [`RedisStore::connect`] refuses what it refuses.
    pub fn check(&self) -> Result<(), anyhow::Error> {
        if self.key_prefix.is_empty() || self.key_prefix.contains(['{', '}']) {
            return Err(anyhow!(
                "the redis key prefix must be non-empty and contain no '{{' or '}}'"
            ));
        }
        if self.pool_size == 0 {
            return Err(anyhow!("the redis pool size must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(anyhow!("the redis timeout must be positive"));
        }
        Ok(())
    }
}

impl Default for RedisOptions {
    /// The service's defaults (`store.*` in the configuration reads them from here).
    fn default() -> Self {
        Self {
            key_prefix: "yz".to_owned(),
            pool_size: 16,
            timeout: Duration::from_secs(1),
        }
    }
}

/// The Redis adapter for [`ports::CaptchaStore`], [`ports::CodeStore`], [`ports::RateLimiter`]
/// and [`ports::SessionStore`]. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct RedisStore {
    conns: Arc<Connections>,
    keys: Keys,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.keys.prefix())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Build a store for `url`. Connections are made on first use, so this succeeds while
    /// Redis is down, unreachable or hung (after at most [`RedisOptions::timeout`]) and the
    /// store starts working when Redis is up.
    ///
    /// Fails on options that fail [`RedisOptions::check`], and on a server that answers but is
    /// older than Redis 6.2 (see [the crate docs](crate#server-version)).
    pub async fn connect(url: &RedisUrl, opts: RedisOptions) -> Result<Self, anyhow::Error> {
        opts.check()?;
        let RedisOptions {
            key_prefix,
            pool_size,
            timeout,
        } = opts;
        let connector = connector(&url.0, timeout)?;
        let store = Self {
            conns: Arc::new(Connections::new(connector, pool_size)),
            keys: Keys::new(&key_prefix),
            timeout,
        };
        store.refuse_an_unfit_server().await?;
        Ok(store)
    }

    /// One connection at start, so a server the store cannot run on is refused now rather than
    /// on the first request. Not reaching the server is not an error here: that keeps the lazy
    /// start (every connection made later is checked as well).
    async fn refuse_an_unfit_server(&self) -> Result<(), anyhow::Error> {
        let deadline = Instant::now() + self.timeout;
        match timeout_at(deadline, self.conns.check_server()).await {
            Ok(Err(ConnectError::Unfit(refusal))) => Err(anyhow!(refusal)),
            // Connected and checked, or down, refused, hung: checked again on use.
            _ => Ok(()),
        }
    }

    /// The key prefix this store writes under.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Hang up the kept connections (at shutdown, once no request runs any more).
    pub fn close(&self) {
        self.conns.close();
    }

    /// Round trip to Redis (`PING`), for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let reply: String = self.query(&redis::cmd("PING"), "PING").await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(anyhow!(
                "unexpected PING reply from redis"
            )))
        }
    }

    async fn conn(&self, deadline: Instant, what: &'static str) -> Result<Live, StoreError> {
        match timeout_at(deadline, self.conns.get()).await {
            Ok(Ok(live)) => Ok(live),
            Ok(Err(e)) => Err(StoreError::Unavailable(
                e.into_anyhow()
                    .context(format!("redis {what}: no connection")),
            )),
            Err(_) => Err(self.timed_out(what)),
        }
    }

    fn timed_out(&self, what: &'static str) -> StoreError {
        StoreError::Unavailable(anyhow!("redis {what}: timed out after {:?}", self.timeout))
    }

    /// The deadline of an operation starting now: every step it takes must end by then.
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// Run one command under the operation deadline.
    async fn query<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        what: &'static str,
    ) -> Result<T, StoreError> {
        self.query_by(self.deadline(), cmd, what).await
    }

    /// Run one command as a step of an operation ending at `deadline`.
    async fn query_by<T: FromRedisValue>(
        &self,
        deadline: Instant,
        cmd: &redis::Cmd,
        what: &'static str,
    ) -> Result<T, StoreError> {
        let mut live = self.conn(deadline, what).await?;
        let outcome = timeout_at(deadline, cmd.query_async::<T>(&mut live.conn)).await;
        self.finish(&live, outcome, what)
    }

    /// Run one script under the operation deadline (EVALSHA, EVAL on NOSCRIPT).
    async fn invoke<T: FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
        what: &'static str,
    ) -> Result<T, StoreError> {
        self.invoke_by(self.deadline(), script, what).await
    }

    /// Run one script as a step of an operation ending at `deadline`.
    async fn invoke_by<T: FromRedisValue>(
        &self,
        deadline: Instant,
        script: &redis::ScriptInvocation<'_>,
        what: &'static str,
    ) -> Result<T, StoreError> {
        let mut live = self.conn(deadline, what).await?;
        let outcome = timeout_at(deadline, script.invoke_async::<T>(&mut live.conn)).await;
        self.finish(&live, outcome, what)
    }

    fn finish<T>(
        &self,
        live: &Live,
        outcome: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
        what: &'static str,
    ) -> Result<T, StoreError> {
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if live.broken_by(&e) {
                    // Do not use a broken connection again.
                    self.conns.forget(live);
                }
                Err(StoreError::Unavailable(
                    anyhow::Error::new(e).context(format!("redis {what} failed")),
                ))
            }
            Err(_) => {
                if live.stuck_after_timeout() {
                    // The connection may be stuck (a hung server): make a new one for what
                    // follows.
                    self.conns.forget(live);
                }
                Err(self.timed_out(what))
            }
        }
    }
}

/// How the store's connections are made, each bounded by `timeout` (connect and response).
fn connector(target: &Target, timeout: Duration) -> Result<Connector, anyhow::Error> {
    // TCP_NODELAY (the redis crate leaves Nagle on): concurrent operations pipelined on one
    // connection must not wait for the previous one's acknowledgement to be sent.
    let nodelay = |info: &ConnectionInfo| {
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        info.clone().set_tcp_settings(tcp)
    };
    match target {
        Target::Single(info) => {
            let client = Client::open(nodelay(info)).context("invalid redis store URL")?;
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout));
            Ok(Connector::Single(client, config))
        }
        Target::Cluster(nodes) => {
            let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
            // Retries stay within the operation's deadline (which bounds them anyway): a few,
            // quickly, so that a command meeting a failover follows the new map when it can.
            let client = ClusterClientBuilder::new(nodes.iter().map(nodelay))
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .tcp_settings(tcp)
                .retries(3)
                .min_retry_wait(10)
                .max_retry_wait(timeout.as_millis().try_into().unwrap_or(u64::MAX) / 4)
                .build()
                .context("invalid redis+cluster store URL")?;
            Ok(Connector::Cluster(client))
        }
    }
}

/// The oldest Redis the store runs on: `GETDEL` came with 6.2.
pub(crate) const MIN_VERSION: (u32, u32) = (6, 2);

/// Judges the text of `INFO server` by its `redis_version:X.Y.Z` line (Valkey and other forks
/// report a compatible `redis_version` too). `Err` holds the refusal, for the operator.
///
/// A reply without a readable version (no such line, or not `<major>.<minor>…` in digits) is
/// refused too rather than treated as unknown: the store cannot tell whether `GETDEL` exists,
/// and a clear error at start beats `unknown command` on the first captcha.
fn check_server_version(info: &str) -> Result<(), String> {
    let Some(version) = info
        .lines()
        .find_map(|line| line.trim().strip_prefix("redis_version:"))
    else {
        return Err(
            "cannot check the Redis version: INFO server has no redis_version line".to_owned(),
        );
    };
    let mut parts = version.split('.').map(str::parse::<u32>);
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return Err(format!(
            "cannot check the Redis version: INFO server says redis_version:{:.40}",
            version
        ));
    };
    if (major, minor) >= MIN_VERSION {
        Ok(())
    } else {
        Err(format!(
            "Redis {}.{} or newer is required (GETDEL); this server is {version:.40}",
            MIN_VERSION.0, MIN_VERSION.1
        ))
    }
}

/// Milliseconds of a TTL for `PX`/`PEXPIRE`, capped at ten years. `None` for zero.
fn ttl_millis(ttl: Duration) -> Option<u64> {
    const TEN_YEARS_MS: u128 = 10 * 365 * 86_400_000;
    match ttl.as_millis() {
        0 => None,
        ms => Some(ms.min(TEN_YEARS_MS) as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounding_and_cap() {
        assert_eq!(ttl_millis(Duration::ZERO), None);
        assert_eq!(ttl_millis(Duration::from_micros(999)), None);
        assert_eq!(ttl_millis(Duration::from_millis(1)), Some(1));
        assert_eq!(ttl_millis(Duration::from_secs(300)), Some(300_000));
        assert_eq!(
            ttl_millis(Duration::from_secs(u64::MAX)),
            Some(10 * 365 * 86_400_000)
        );
    }

    /// `INFO server` as Redis formats it (CRLF lines, `#` section headers).
    fn info(version: &str) -> String {
        format!(
            "# Server\r\nredis_version:{version}\r\nredis_git_sha1:00000000\r\n\
             redis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\ntcp_port:6379\r\n"
        )
    }

    #[test]
    fn servers_from_6_2_on_are_accepted() {
        for version in ["6.2.0", "6.2.14", "7.2.4", "10.0.0", "255.255.255", "8.0"] {
            assert_eq!(check_server_version(&info(version)), Ok(()), "{version}");
        }
        // Valkey keeps a compatible redis_version beside its own.
        let valkey = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n\
                      valkey_version:8.0.1\r\n";
        assert_eq!(check_server_version(valkey), Ok(()));
    }

    #[test]
    fn older_servers_are_refused_by_their_version() {
        assert_eq!(
            check_server_version(&info("5.0.7")),
            Err("Redis 6.2 or newer is required (GETDEL); this server is 5.0.7".to_owned())
        );
        for version in ["6.0.16", "6.1.99", "4.0.14", "2.8.24"] {
            let refusal = check_server_version(&info(version)).unwrap_err();
            assert!(refusal.contains("6.2 or newer"), "{refusal}");
            assert!(
                refusal.ends_with(&format!("this server is {version}")),
                "{refusal}"
            );
        }
    }

    #[test]
    fn an_unreadable_version_is_refused_not_guessed() {
        for garbage in [
            String::new(),
            "# Server\r\nredis_mode:standalone\r\n".to_owned(),
            info(""),
            info("seven"),
            info("7"),
            info("v7.2.4"),
            info("7.x.1"),
        ] {
            let refusal = check_server_version(&garbage).unwrap_err();
            assert!(
                refusal.starts_with("cannot check the Redis version"),
                "{garbage:?}: {refusal}"
            );
        }
        // A hostile reply does not flood the error.
        let long = check_server_version(&info(&"x".repeat(10_000))).unwrap_err();
        assert!(long.len() < 200, "{long}");
    }

    #[tokio::test]
    async fn options_are_checked_before_connecting() {
        // Nothing listens on port 1: building still works (the lazy start).
        let url = RedisUrl::parse("redis://127.0.0.1:1").unwrap();
        let ok = RedisStore::connect(&url, RedisOptions::default()).await;
        assert!(ok.is_ok());
        assert_eq!(ok.unwrap().key_prefix(), "yz");
        let mut bad = Vec::new();
        for prefix in ["", "a{b", "x}"] {
            bad.push(RedisOptions {
                key_prefix: prefix.to_owned(),
                ..RedisOptions::default()
            });
        }
        bad.push(RedisOptions {
            pool_size: 0,
            ..RedisOptions::default()
        });
        bad.push(RedisOptions {
            timeout: Duration::ZERO,
            ..RedisOptions::default()
        });
        for opts in bad {
            assert!(opts.check().is_err(), "{opts:?}");
            assert!(RedisStore::connect(&url, opts).await.is_err());
        }
    }

    #[test]
    fn urls_are_parsed_once_and_never_shown() {
        for bad in ["nonsense://x", "", "redis://:pw@[::1"] {
            let err = RedisUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("pw"), "{err}");
        }
        let url = RedisUrl::parse("redis://:hunter2@127.0.0.1:6379/2").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!url.is_cluster());
    }

    #[test]
    fn cluster_urls_list_their_seed_nodes() {
        for ok in [
            "redis+cluster://127.0.0.1:7000",
            "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,[::1]:7002/",
            "redis+cluster://:hunter2@10.0.0.1:7000,10.0.0.2:7000",
            "redis+cluster://default:hunter2@r-abc.redis.rds.aliyuncs.com:6379",
        ] {
            let url = RedisUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(url.is_cluster(), "{ok}");
            assert!(!format!("{url:?}").contains("hunter2"));
        }
        let Target::Cluster(nodes) = RedisUrl::parse("redis+cluster://:pw@a:1,b:2").unwrap().0
        else {
            panic!("a cluster URL is a cluster");
        };
        assert_eq!(nodes.len(), 2);
        assert!(nodes
            .iter()
            .all(|n| n.redis_settings().password() == Some("pw")));
        for bad in [
            "redis+cluster://",
            "redis+cluster://:hunter2@",
            "redis+cluster://h:1/0",
            "redis+cluster://h:1,h:2?x=1",
            "redis+cluster://h:notaport",
            "rediss+cluster://:hunter2@h:1",
            "rediss://:hunter2@h:1/0",
        ] {
            let err = RedisUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            if bad.starts_with("rediss") {
                assert!(err.contains("TLS"), "{err}");
            }
        }
    }
}

//! Behaviour specific to the Redis adapter: what lands in Redis, failure modes, several pools.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{keys_under, options, parse_url, random_prefix, raw, redis_url, TestStore};
use deadpool_redis::redis::AsyncCommands;
use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LimitKind, LoginLimits, Mobile, SendLimits,
    SessionId, SessionKind, SessionToken, Timestamp, UserId,
};
use ports::{
    CaptchaStore, CodeCheck, CodeStore, Health, NewCaptcha, NewCode, NewSession, RateLimiter,
    SessionStore, StoreError,
};
use redis_captcha::{RedisOptions, RedisStore};
use sha2::{Digest, Sha256};

const MINUTE: Duration = Duration::from_secs(60);

fn mobile() -> Mobile {
    Mobile::parse("13800138000").unwrap()
}

fn ip() -> ClientNet {
    ClientNet::of("192.0.2.7".parse().unwrap(), 64)
}

/// What a send stores, for the rules that are not about it.
fn code(digest: CodeDigest) -> NewCode {
    NewCode {
        digest,
        ttl: MINUTE,
    }
}

/// A stand-in for the app's keyed digest of (mobile, code).
fn digest_of(code: &str) -> CodeDigest {
    CodeDigest(Sha256::digest(code.as_bytes()).into())
}

#[tokio::test]
async fn the_code_at_rest_is_the_hex_digest_never_the_code() {
    let t = TestStore::new().await;
    let m = mobile();
    let digest = digest_of("135792");
    CodeStore::put(&t.store, &m, &digest, MINUTE).await.unwrap();

    let mut conn = raw(&t.url).await;
    let key = format!("{}:{{m:13800138000}}:code", t.prefix);
    let fields: Vec<(String, String)> = conn.hgetall(&key).await.unwrap();
    let fields: std::collections::BTreeMap<_, _> = fields.into_iter().collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields["d"], hex::encode(digest.0));
    assert_eq!(fields["a"], "0");
    let dumped: Vec<u8> = deadpool_redis::redis::cmd("DUMP")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        !dumped.windows(6).any(|w| w == b"135792"),
        "the plain code must not be stored"
    );
    let pttl: i64 = conn.pttl(&key).await.unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "code key TTL {pttl}");

    // A wrong guess counts in the raw hash; the right one deletes the key.
    assert_eq!(
        t.store.verify(&m, &digest_of("000000"), 5).await.unwrap(),
        CodeCheck::Mismatch { attempts_left: 4 }
    );
    let attempts: String = conn.hget(&key, "a").await.unwrap();
    assert_eq!(attempts, "1");
    assert!(matches!(
        t.store.verify(&m, &digest, 5).await.unwrap(),
        CodeCheck::Accepted(taken) if taken.mismatches == 1 && taken.digest == digest
    ));
    let exists: bool = conn.exists(&key).await.unwrap();
    assert!(!exists);
    t.cleanup().await;
}

#[tokio::test]
async fn every_key_carries_the_prefix_and_mobile_keys_the_hash_tag() {
    let t = TestStore::new().await;
    let s = &t.store;
    let m = mobile();
    let token = SessionToken::from_random([42; 32]);
    let id = CaptchaId::parse("cap-1").unwrap();

    CaptchaStore::put(s, &id, &CaptchaText::parse("ab3d").unwrap(), MINUTE)
        .await
        .unwrap();
    CodeStore::put(s, &m, &digest_of("123456"), MINUTE)
        .await
        .unwrap();
    let permit = s
        .acquire_send(
            &m,
            ip(),
            &SendLimits::default(),
            Timestamp(1_000_000),
            &code(digest_of("123456")),
        )
        .await
        .unwrap();
    assert!(permit.is_ok());
    s.acquire_login(ip(), &m, &LoginLimits::default(), Timestamp(1_000_000))
        .await
        .unwrap()
        .unwrap();
    let text = CaptchaText::parse("ab3d").unwrap();
    let captcha = NewCaptcha {
        id: &id,
        text: &text,
        ttl: MINUTE,
    };
    s.acquire_captcha(ip(), 30, Timestamp(1_000_000), captcha)
        .await
        .unwrap()
        .unwrap();
    let session_id = SessionId::parse(&"5".repeat(32)).unwrap();
    s.create(NewSession {
        token: &token,
        id: &session_id,
        user: UserId(7),
        kind: SessionKind::Cookie,
        user_agent: None,
        now: Timestamp(1_000_000),
        ttl: MINUTE,
        max_per_user: 10,
    })
    .await
    .unwrap();

    let mut conn = raw(&t.url).await;
    let p = &t.prefix;
    let session_hex = hex::encode(Sha256::digest(token.expose().as_bytes()));
    let mut expected = vec![
        format!("{p}:captcha:cap-1"),
        format!("{p}:{{m:13800138000}}:code"),
        format!("{p}:{{m:13800138000}}:cool"),
        format!("{p}:{{m:13800138000}}:sends"),
        format!("{p}:ip:192.0.2.7:hour"),
        format!("{p}:global:hour"),
        format!("{p}:ip:192.0.2.7:captchas"),
        format!("{p}:login:192.0.2.7"),
        format!("{p}:{{m:13800138000}}:login"),
        format!("{p}:session:{session_hex}"),
        format!("{p}:user:7:sessions"),
    ];
    expected.sort();
    let keys = keys_under(&mut conn, p).await;
    assert_eq!(keys, expected);

    // The session token itself is in no key (nor in any value: `sessions::the_token_is_stored_nowhere`).
    assert!(keys.iter().all(|k| !k.contains(token.expose())));
    let user: String = conn
        .hget(format!("{p}:session:{session_hex}"), "u")
        .await
        .unwrap();
    assert_eq!(user, "7");

    // Every key expires eventually (the limiter's TTLs are garbage collection only).
    for k in &keys {
        let pttl: i64 = conn.pttl(k).await.unwrap();
        assert!(pttl > 0, "{k} has no TTL ({pttl})");
    }
    // ... after the TTL the key layout (crate docs, docs/operations.md) gives it.
    let hour = Duration::from_secs(3_600);
    let login = LoginLimits::default().window + hour;
    let layout = [
        ("captcha:cap-1", MINUTE),
        ("{m:13800138000}:code", MINUTE),
        (
            "{m:13800138000}:cool",
            SendLimits::default().mobile_cooldown + hour,
        ),
        ("{m:13800138000}:sends", 25 * hour),
        ("ip:192.0.2.7:hour", 2 * hour),
        ("global:hour", 2 * hour),
        ("ip:192.0.2.7:captchas", MINUTE + hour),
        ("login:192.0.2.7", login),
        ("{m:13800138000}:login", login),
        (&format!("session:{session_hex}"), MINUTE),
        ("user:7:sessions", MINUTE),
    ];
    assert_eq!(layout.len(), keys.len());
    for (key, ttl) in layout {
        let pttl: u64 = conn.pttl(format!("{p}:{key}")).await.unwrap();
        let ttl = u64::try_from(ttl.as_millis()).unwrap();
        assert!(
            pttl <= ttl && pttl > ttl - 10_000,
            "{key}: TTL {pttl} ms, the layout says {ttl} ms"
        );
    }
    // The reservation log members are unique per reservation: `<now>:<random>`.
    let members: Vec<String> = conn
        .zrange(format!("{p}:global:hour"), 0, -1)
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].starts_with("1000000:"), "{members:?}");
    t.cleanup().await;
}

#[tokio::test]
async fn the_limiter_judges_by_the_given_now_not_by_redis_time() {
    // Reservations far in the past by Redis's clock still count against that `now`.
    let t = TestStore::new().await;
    let lim = SendLimits::default();
    let m = mobile();
    let at = Timestamp(5_000);
    assert!(t
        .store
        .acquire_send(&m, ip(), &lim, at, &code(digest_of("1")))
        .await
        .unwrap()
        .is_ok());
    let refused = t
        .store
        .acquire_send(&m, ip(), &lim, Timestamp(6_000), &code(digest_of("2")))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.limit, LimitKind::MobileCooldown);
    assert_eq!(refused.retry_after, Duration::from_millis(59_000));
    t.cleanup().await;
}

fn expect_unavailable<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Unavailable(_)) => {}
        Ok(v) => panic!("{what}: expected Unavailable, got Ok({v:?})"),
    }
}

/// Call one operation of every port and expect `Unavailable` from each.
async fn every_port_is_unavailable(store: &RedisStore) {
    let m = mobile();
    let id = CaptchaId::parse("x").unwrap();
    let token = SessionToken::from_random([1; 32]);
    expect_unavailable(store.take(&id).await, "captcha take");
    expect_unavailable(
        CaptchaStore::put(store, &id, &CaptchaText::parse("A").unwrap(), MINUTE).await,
        "captcha put",
    );
    expect_unavailable(store.verify(&m, &digest_of("1"), 5).await, "code verify");
    expect_unavailable(
        store
            .acquire_send(
                &m,
                ip(),
                &SendLimits::default(),
                Timestamp(1),
                &code(digest_of("1")),
            )
            .await,
        "acquire_send",
    );
    expect_unavailable(
        store
            .acquire_login(ip(), &m, &LoginLimits::default(), Timestamp(1))
            .await,
        "acquire_login",
    );
    expect_unavailable(store.get(&token, Timestamp(1)).await, "session get");
    expect_unavailable(store.list(UserId(1)).await, "session list");
    expect_unavailable(store.ping().await, "ping");
    assert!(Health::check(store).await.is_err(), "health check");
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable() {
    // Construction only tries to connect (to check the version), so it succeeds while Redis
    // is down.
    let store = RedisStore::connect(
        &parse_url("redis://127.0.0.1:1"),
        RedisOptions {
            timeout: Duration::from_millis(500),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();
    every_port_is_unavailable(&store).await;
}

#[tokio::test]
async fn a_redis_that_never_answers_is_unavailable_not_a_hang() {
    // Accepts TCP connections, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let store = RedisStore::connect(
        &parse_url(&format!("redis://{addr}")),
        RedisOptions {
            timeout: Duration::from_millis(300),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();
    // The outer bound only turns a hang into a failure; nothing here asserts on time.
    tokio::time::timeout(Duration::from_secs(60), every_port_is_unavailable(&store))
        .await
        .expect("operations against a silent Redis must end with Unavailable, not hang");
    server.abort();
}

/// The next request (`*N` array of `$len` bulk strings) at the start of `buf`, and its length.
fn parse_request(buf: &[u8]) -> Option<(Vec<String>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&str, usize)> {
        let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((std::str::from_utf8(&buf[at..end]).ok()?, end + 2))
    }
    let (count, mut at) = line(buf, 0)?;
    let count: usize = count.strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, start) = line(buf, at)?;
        let len: usize = len.strip_prefix('$')?.parse().ok()?;
        let arg = buf.get(start..start + len)?;
        args.push(String::from_utf8_lossy(arg).into_owned());
        at = start + len + 2;
    }
    (buf.len() >= at).then_some((args, at))
}

fn serve_fake_redis(mut conn: TcpStream, info: &str) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some((args, used)) = parse_request(&buf) {
            buf.drain(..used);
            let reply = match args.first().map(|a| a.to_ascii_uppercase()).as_deref() {
                Some("INFO") => format!("${}\r\n{info}\r\n", info.len()),
                Some("PING") => "+PONG\r\n".to_owned(),
                _ => "+OK\r\n".to_owned(),
            };
            if conn.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A stand-in for a Redis server of `version`: `INFO` answers with that `redis_version`, `PING`
/// with `PONG`, anything else `OK` (enough for the client's handshake and the version check).
fn fake_redis(version: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let info = format!("# Server\r\nredis_version:{version}\r\nredis_mode:standalone\r\n");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let info = info.clone();
            std::thread::spawn(move || serve_fake_redis(conn, &info));
        }
    });
    addr
}

async fn connect_to(addr: SocketAddr) -> Result<RedisStore, anyhow::Error> {
    RedisStore::connect(&parse_url(&format!("redis://{addr}")), options("yz")).await
}

#[tokio::test]
async fn a_server_older_than_6_2_is_refused_at_start() {
    let err = connect_to(fake_redis("5.0.7")).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "Redis 6.2 or newer is required (GETDEL); this server is 5.0.7"
    );
    assert!(connect_to(fake_redis("6.0.16")).await.is_err());
    // The same stand-in with a new enough version is accepted: the refusals above are the
    // version's doing.
    let store = connect_to(fake_redis("6.2.0")).await.unwrap();
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_prefix_grant_exactly_one_send() {
    let t = TestStore::new().await;
    let other = RedisStore::connect(&parse_url(&t.url), options(&t.prefix))
        .await
        .unwrap();
    let stores = [t.store.clone(), other];
    let m = mobile();
    let lim = SendLimits::default();
    let now = Timestamp(1_750_000_000_000);
    let handles: Vec<_> = (0..30u8)
        .map(|i| {
            let store = stores[usize::from(i % 2)].clone();
            let m = m.clone();
            let lim = lim.clone();
            let from = ClientNet::of(format!("198.51.100.{i}").parse().unwrap(), 64);
            let new = code(digest_of(&i.to_string()));
            tokio::spawn(
                async move { store.acquire_send(&m, from, &lim, now, &new).await.unwrap() },
            )
        })
        .collect();
    let mut permits = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => permits += 1,
            Err(refusal) => assert_eq!(refusal.limit, LimitKind::MobileCooldown),
        }
    }
    assert_eq!(
        permits, 1,
        "one mobile, two replicas, same instant: one permit"
    );

    // Both replicas see one reservation in the logs.
    let mut conn = raw(&t.url).await;
    let n: u64 = conn
        .zcard(format!("{}:{{m:13800138000}}:sends", t.prefix))
        .await
        .unwrap();
    assert_eq!(n, 1);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_millisecond_reservations_from_two_replicas_are_both_counted() {
    // Distinct mobiles, same IP, same `now`, zero cooldown: every reservation must be its own
    // log entry, or the IP cap would undercount.
    let t = TestStore::new().await;
    let other = RedisStore::connect(&parse_url(&t.url), options(&t.prefix))
        .await
        .unwrap();
    let lim = SendLimits {
        ip_per_hour: 4,
        ..SendLimits::default()
    };
    let now = Timestamp(1_750_000_000_000);
    for (k, store) in [&t.store, &other, &t.store, &other].into_iter().enumerate() {
        let m = Mobile::parse(&format!("1390000000{k}")).unwrap();
        assert!(store
            .acquire_send(&m, ip(), &lim, now, &code(digest_of("1")))
            .await
            .unwrap()
            .is_ok());
    }
    let refused = other
        .acquire_send(
            &Mobile::parse("13900000009").unwrap(),
            ip(),
            &lim,
            now,
            &code(digest_of("1")),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.limit, LimitKind::IpHourly);
    assert_eq!(refused.retry_after, Duration::from_millis(3_600_000));
    t.cleanup().await;
}

/// A TCP relay in front of the test Redis that logs the name of every command sent through it
/// and counts the connections made through it and those still open.
struct Relay {
    addr: SocketAddr,
    commands: Arc<Mutex<Vec<String>>>,
    opened: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Self {
            addr: listener.local_addr().unwrap(),
            commands: Arc::default(),
            opened: Arc::default(),
            open: Arc::default(),
        };
        let (commands, opened, open) = (
            relay.commands.clone(),
            relay.opened.clone(),
            relay.open.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = TcpStream::connect(upstream).unwrap();
                opened.fetch_add(1, Ordering::SeqCst);
                open.fetch_add(1, Ordering::SeqCst);
                let (mut from_server, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Both);
                });
                let (commands, open) = (commands.clone(), open.clone());
                std::thread::spawn(move || relay_requests(client, server, &commands, &open));
            }
        });
        relay
    }

    /// The names of the commands sent since the last call.
    fn take_commands(&self) -> Vec<String> {
        std::mem::take(&mut *self.commands.lock().unwrap())
    }

    /// Wait (polling, at most 10 s) until no connection through the relay is open.
    async fn wait_until_all_closed(&self) {
        for _ in 0..200 {
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} connections still open",
            self.open.load(Ordering::SeqCst)
        );
    }
}

/// Forward the client's bytes to the server, logging each request's command name; when the
/// client hangs up, hang up on the server too.
fn relay_requests(
    mut client: TcpStream,
    mut server: TcpStream,
    commands: &Mutex<Vec<String>>,
    open: &AtomicUsize,
) {
    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
    while let Ok(n @ 1..) = client.read(&mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
        while let Some((args, used)) = parse_request(&buf) {
            buf.drain(..used);
            commands.lock().unwrap().push(args[0].to_ascii_uppercase());
        }
        if server.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    open.fetch_sub(1, Ordering::SeqCst);
}

/// A store on the test Redis through a [`Relay`], under a fresh prefix (`cleanup` deletes its
/// keys).
async fn relayed(pool_size: usize) -> (TestStore, Relay) {
    let url = redis_url();
    let authority = url.trim_start_matches("redis://");
    let host_port = authority
        .rsplit('@')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .unwrap()
        .next()
        .unwrap();
    let relay = Relay::start(upstream);
    let via = url.replacen(host_port, &relay.addr.to_string(), 1);
    let prefix = random_prefix();
    let opts = RedisOptions {
        pool_size,
        ..options(&prefix)
    };
    let store = RedisStore::connect(&parse_url(&via), opts).await.unwrap();
    (TestStore { store, prefix, url }, relay)
}

/// One flow — a captcha issued, its answer taken, a send admitted — on `store`.
async fn flow(store: &RedisStore, n: u64) {
    let (id, text) = (
        CaptchaId::parse(&format!("flow-{n}")).unwrap(),
        CaptchaText::parse("AB3D").unwrap(),
    );
    let captcha = NewCaptcha {
        id: &id,
        text: &text,
        ttl: MINUTE,
    };
    let now = Timestamp(1_750_000_000_000 + n);
    assert_eq!(
        store
            .acquire_captcha(ip(), 1_000, now, captcha)
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(store.take(&id).await.unwrap(), Some(text));
    let m = Mobile::parse(&format!("{}", 13_900_000_000 + n)).unwrap();
    let unlimited = SendLimits {
        ip_per_hour: u32::MAX,
        global_per_hour: u32::MAX,
        ..SendLimits::default()
    };
    let send = store
        .acquire_send(&m, ip(), &unlimited, now, &code(digest_of("1")))
        .await
        .unwrap();
    assert!(send.is_ok(), "{send:?}");
}

/// docs/architecture.md: a flow costs six commands — the captcha's count and its text
/// (`SET`), the send's `GETDEL`, the two shared windows and the mobile's script — and no
/// operation pays for a checkout (`PING`, `UNWATCH`). (That each step stays on one Redis
/// Cluster slot is shown by the contract suites on a cluster, which refuse a script across
/// slots with CROSSSLOT.)
#[tokio::test]
async fn a_flow_is_six_commands() {
    let (t, relay) = relayed(4).await;
    let store = &t.store;
    // The first use makes the connection (handshake, version check) and may load scripts.
    flow(store, 0).await;
    relay.take_commands();

    flow(store, 1).await;
    assert_eq!(
        relay.take_commands(),
        ["EVALSHA", "SET", "GETDEL", "EVALSHA", "EVALSHA", "EVALSHA"]
    );
    store.check().await.unwrap();
    assert_eq!(relay.take_commands(), ["PING"]);
    t.cleanup().await;
}

/// What each session operation costs, each command on one Redis Cluster slot: `get` (every
/// signed-in request) is one script, and one more when it renews an app session (its user's
/// index must live as long); `delete` one `DEL`; the rarer ones walk the user's index.
#[tokio::test]
async fn what_each_session_operation_costs() {
    let (t, relay) = relayed(4).await;
    let (store, relay) = (&t.store, &relay);
    let (token, id) = (
        &SessionToken::from_random([3; 32]),
        &SessionId::from_random([4; 32]),
    );
    let user = UserId(11);
    let start = Timestamp(1_750_000_000_000);
    let touched = Timestamp(start.millis() + 61_000);
    let round = |touch: bool| async move {
        store
            .create(NewSession {
                token,
                id,
                user,
                kind: SessionKind::App,
                user_agent: Some("curl/8.5"),
                now: start,
                ttl: MINUTE,
                max_per_user: 10,
            })
            .await
            .unwrap();
        let mut commands = vec![relay.take_commands()];
        let now = if touch { touched } else { start };
        let got = store.get(token, now).await.unwrap().unwrap();
        assert_eq!(got.last_used_at, now);
        commands.push(relay.take_commands());
        assert_eq!(store.list(user).await.unwrap(), [got]);
        commands.push(relay.take_commands());
        assert!(store.end(user, id).await.unwrap());
        commands.push(relay.take_commands());
        store.end_all(user, Some(token)).await.unwrap();
        commands.push(relay.take_commands());
        store.delete(token).await.unwrap();
        commands.push(relay.take_commands());
        commands
    };
    // The first use makes the connection and loads the scripts.
    round(false).await;
    for touch in [false, true] {
        let get: &[&str] = if touch {
            &["EVALSHA", "EVALSHA"]
        } else {
            &["EVALSHA"]
        };
        assert_eq!(
            round(touch).await,
            [
                // The session, then its index (under the cap: no walk for ended sessions).
                &["EVALSHA", "EVALSHA"][..],
                get,
                &["ZRANGE", "EVALSHA"],
                &["ZRANGE", "EVALSHA", "DEL", "ZREM"],
                &["ZRANGE"],
                &["DEL"],
            ],
            "create, get (touch: {touch}), list, end, end_all, delete"
        );
    }
    t.cleanup().await;
}

/// Every thread keeps to one of at most `pool_size` connections, whatever the concurrency;
/// `close` hangs them up and a later operation connects anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_share_at_most_pool_size_connections_and_close_hangs_them_up() {
    let (t, relay) = relayed(2).await;
    let store = &t.store;
    // `connect` checked the server on a connection of its own and hung it up.
    relay.wait_until_all_closed().await;
    assert_eq!(relay.opened.load(Ordering::SeqCst), 1);

    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { flow(&store, n).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let made = relay.opened.load(Ordering::SeqCst) - 1;
    assert!(
        (1..=2).contains(&made),
        "{made} connections for a pool of 2"
    );
    assert_eq!(relay.open.load(Ordering::SeqCst), made, "all kept open");

    store.close();
    relay.wait_until_all_closed().await;
    store.check().await.unwrap();
    assert_eq!(relay.opened.load(Ordering::SeqCst), 1 + made + 1);
    t.cleanup().await;
}

/// An admitted send and an admitted captcha store what they carry under the keys the crate
/// docs name, for their own TTL (not the limiter's), replacing what was there; a TTL of zero
/// stores nothing and deletes what was there.
#[tokio::test]
async fn admitted_sends_and_captchas_store_under_their_keys_for_their_ttl() {
    let t = TestStore::new().await;
    let (s, p) = (&t.store, &t.prefix);
    let m = mobile();
    let mut conn = raw(&t.url).await;
    let code_key = format!("{p}:{{m:13800138000}}:code");
    let captcha_key = format!("{p}:captcha:kept");
    let no_cooldown = SendLimits {
        mobile_cooldown: Duration::ZERO,
        ..SendLimits::default()
    };
    let (id, text) = (
        CaptchaId::parse("kept").unwrap(),
        CaptchaText::parse("ab3d").unwrap(),
    );
    let issue = |ttl, at| {
        s.acquire_captcha(
            ip(),
            1_000,
            Timestamp(at),
            NewCaptcha {
                id: &id,
                text: &text,
                ttl,
            },
        )
    };

    CodeStore::put(s, &m, &digest_of("old"), MINUTE)
        .await
        .unwrap();
    assert_eq!(
        s.verify(&m, &digest_of("x"), 5).await.unwrap(),
        CodeCheck::Mismatch { attempts_left: 4 }
    );
    let send = NewCode {
        digest: digest_of("135792"),
        ttl: Duration::from_secs(300),
    };
    s.acquire_send(&m, ip(), &no_cooldown, Timestamp(1_000), &send)
        .await
        .unwrap()
        .unwrap();
    let fields: Vec<String> = conn.hmget(&code_key, &["d", "a"]).await.unwrap();
    assert_eq!(
        fields,
        [hex::encode(send.digest.0), "0".to_owned()],
        "the send's digest, its attempts reset"
    );
    let pttl: i64 = conn.pttl(&code_key).await.unwrap();
    assert!((290_000..=300_000).contains(&pttl), "code key TTL {pttl}");

    issue(Duration::from_secs(180), 1_000)
        .await
        .unwrap()
        .unwrap();
    let stored: String = conn.get(&captcha_key).await.unwrap();
    assert_eq!(stored, "AB3D");
    let pttl: i64 = conn.pttl(&captcha_key).await.unwrap();
    assert!(
        (170_000..=180_000).contains(&pttl),
        "captcha key TTL {pttl}"
    );

    let nothing = NewCode {
        digest: digest_of("246801"),
        ttl: Duration::ZERO,
    };
    s.acquire_send(&m, ip(), &no_cooldown, Timestamp(2_000), &nothing)
        .await
        .unwrap()
        .unwrap();
    issue(Duration::ZERO, 2_000).await.unwrap().unwrap();
    for key in [&code_key, &captcha_key] {
        let exists: bool = conn.exists(key).await.unwrap();
        assert!(!exists, "{key}: a zero TTL stores nothing");
    }
    t.cleanup().await;
}

//! Sessions in Redis: the key layout and its TTLs, sessions written by the release before it
//! (a string holding the user id), and that no token is ever stored.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncCommands};
use domain::{Session, SessionId, SessionKind, SessionToken, Timestamp, UserId};
use ports::{NewSession, SessionStore};
use redis_captcha::RedisStore;
use sha2::{Digest, Sha256};

use crate::common::{keys_under, raw, TestStore};

const T0: u64 = 1_750_000_000_000;
/// A second more than the touch interval: a use this long after the last one is recorded.
const LATER: u64 = 61_000;

fn token(n: u8) -> SessionToken {
    SessionToken::from_random([n; 32])
}

fn session_key(prefix: &str, token: &SessionToken) -> String {
    let digest = Sha256::digest(token.expose().as_bytes());
    format!("{prefix}:session:{}", hex::encode(digest))
}

struct Start<'a> {
    token: &'a SessionToken,
    id: &'a SessionId,
    kind: SessionKind,
    user_agent: Option<&'a str>,
    now: u64,
    ttl: Duration,
}

async fn start(store: &RedisStore, user: i64, s: Start<'_>) {
    store
        .create(NewSession {
            token: s.token,
            id: s.id,
            user: UserId(user),
            kind: s.kind,
            user_agent: s.user_agent,
            now: Timestamp(s.now),
            ttl: s.ttl,
            max_per_user: 10,
        })
        .await
        .unwrap();
}

async fn fields(conn: &mut MultiplexedConnection, key: &str) -> BTreeMap<String, String> {
    conn.hgetall(key).await.unwrap()
}

async fn pttl(conn: &mut MultiplexedConnection, key: &str) -> i64 {
    conn.pttl(key).await.unwrap()
}

#[track_caller]
fn assert_ttl(pttl: i64, ms: i64, what: &str) {
    assert!(
        pttl <= ms && pttl > ms - 10_000,
        "{what}: TTL {pttl} ms, expected about {ms} ms"
    );
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A session is a hash under the token's digest with a PX expiry, listed in its user's index
/// (oldest first) that lives as long as the longest-lived one; a recorded use moves `l` and
/// renews an app session's key and the index, never a cookie session's.
#[tokio::test]
async fn sessions_are_hashes_indexed_per_user_with_their_ttls() {
    let t = TestStore::new().await;
    let (s, p) = (&t.store, &t.prefix);
    let mut conn = raw(&t.url).await;
    let (cookie, app) = (token(1), token(2));
    let (cookie_id, app_id) = (
        SessionId::from_random([3; 32]),
        SessionId::from_random([4; 32]),
    );
    let agent = "Mozilla/5.0 (X11; Linux x86_64) 验证";
    let minute = Duration::from_secs(60);
    let hundred = Duration::from_secs(100);
    start(
        s,
        7,
        Start {
            token: &cookie,
            id: &cookie_id,
            kind: SessionKind::Cookie,
            user_agent: Some(agent),
            now: T0,
            ttl: minute,
        },
    )
    .await;
    start(
        s,
        7,
        Start {
            token: &app,
            id: &app_id,
            kind: SessionKind::App,
            user_agent: None,
            now: T0 + 1,
            ttl: hundred,
        },
    )
    .await;

    let (cookie_key, app_key) = (session_key(p, &cookie), session_key(p, &app));
    let index = format!("{p}:user:7:sessions");
    assert_eq!(
        fields(&mut conn, &cookie_key).await,
        map(&[
            ("u", "7"),
            ("i", cookie_id.as_str()),
            ("c", &T0.to_string()),
            ("l", &T0.to_string()),
            ("t", "0"),
            ("a", agent),
        ])
    );
    assert_eq!(
        fields(&mut conn, &app_key).await,
        map(&[
            ("u", "7"),
            ("i", app_id.as_str()),
            ("c", &(T0 + 1).to_string()),
            ("l", &(T0 + 1).to_string()),
            ("t", "100000"),
        ]),
        "an app session keeps its sliding ttl (a cookie session's `0` tells them apart); no user \
         agent, no `a`"
    );
    assert_ttl(pttl(&mut conn, &cookie_key).await, 60_000, "cookie session");
    assert_ttl(pttl(&mut conn, &app_key).await, 100_000, "app session");
    let members: Vec<String> = conn.zrange(&index, 0, -1).await.unwrap();
    assert_eq!(
        members,
        [cookie_key.clone(), app_key.clone()],
        "oldest first"
    );
    assert_ttl(
        pttl(&mut conn, &index).await,
        100_000,
        "index: its longest session",
    );
    assert_eq!(
        keys_under(&mut conn, p).await.len(),
        3,
        "two sessions, one index"
    );

    // Make both keys and the index nearly expired, then record a use of each.
    for key in [&cookie_key, &app_key, &index] {
        let _: () = conn.pexpire(key, 5_000).await.unwrap();
    }
    let used = T0 + 1 + LATER;
    for tok in [&cookie, &app] {
        let got = s.get(tok, Timestamp(used)).await.unwrap().unwrap();
        assert_eq!(got.last_used_at, Timestamp(used));
    }
    for key in [&cookie_key, &app_key] {
        let l: String = conn.hget(key, "l").await.unwrap();
        assert_eq!(l, used.to_string(), "{key}: the recorded use");
    }
    assert!(
        pttl(&mut conn, &cookie_key).await <= 5_000,
        "a cookie session's expiry never moves"
    );
    assert_ttl(
        pttl(&mut conn, &app_key).await,
        100_000,
        "a recorded use renews an app session",
    );
    assert_ttl(
        pttl(&mut conn, &index).await,
        100_000,
        "... and its user's index with it",
    );

    // A use sooner than the interval writes nothing.
    let _: () = conn.pexpire(&app_key, 5_000).await.unwrap();
    let got = s
        .get(&app, Timestamp(used + 59_999))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_used_at, Timestamp(used));
    let l: String = conn.hget(&app_key, "l").await.unwrap();
    assert_eq!(l, used.to_string());
    assert!(pttl(&mut conn, &app_key).await <= 5_000, "not renewed");

    // Ending them all leaves no key behind.
    s.end_all(UserId(7), None).await.unwrap();
    assert_eq!(keys_under(&mut conn, p).await, Vec::<String>::new());
    t.cleanup().await;
}

/// Write a session as the release before this layout did: a string holding the user id, in
/// the user's index.
async fn legacy(conn: &mut MultiplexedConnection, p: &str, token: &SessionToken, user: i64) {
    let key = session_key(p, token);
    let index = format!("{p}:user:{user}:sessions");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(user.to_string())
        .arg("PX")
        .arg(50_000)
        .query_async(conn)
        .await
        .unwrap();
    let order = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let _: () = conn.zadd(&index, &key, order).await.unwrap();
    let _: () = conn.pexpire(&index, 50_000).await.unwrap();
}

/// The id a legacy session gets: the first 32 characters of Redis' `sha1hex` of its key.
async fn legacy_id(conn: &mut MultiplexedConnection, key: &str) -> SessionId {
    let sha1: String = redis::cmd("EVAL")
        .arg("return redis.sha1hex(ARGV[1])")
        .arg(0)
        .arg(key)
        .query_async(conn)
        .await
        .unwrap();
    SessionId::parse(&sha1[..32]).unwrap()
}

async fn key_type(conn: &mut MultiplexedConnection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(conn).await.unwrap()
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sessions written by the release before (string values) keep working: `get` and `list`
/// upgrade them in place to cookie sessions keeping their remaining TTL; `end`, `end_all` and
/// `delete` end them, upgraded or not.
#[tokio::test]
async fn legacy_string_sessions_are_read_listed_and_ended() {
    let t = TestStore::new().await;
    let (s, p) = (&t.store, &t.prefix);
    let mut conn = raw(&t.url).await;
    let (read, listed) = (token(10), token(11));
    let (read_key, listed_key) = (session_key(p, &read), session_key(p, &listed));
    legacy(&mut conn, p, &read, 7).await;
    legacy(&mut conn, p, &listed, 7).await;

    // get: upgraded, created and last used at the `now` it was given.
    let read_session = Session {
        id: legacy_id(&mut conn, &read_key).await,
        user: UserId(7),
        kind: SessionKind::Cookie,
        created_at: Timestamp(T0),
        last_used_at: Timestamp(T0),
        user_agent: None,
    };
    assert_eq!(
        s.get(&read, Timestamp(T0)).await.unwrap(),
        Some(read_session.clone())
    );
    assert_eq!(key_type(&mut conn, &read_key).await, "hash");
    assert_eq!(fields(&mut conn, &read_key).await["t"], "0");
    assert_ttl(
        pttl(&mut conn, &read_key).await,
        50_000,
        "the upgrade keeps the TTL",
    );
    // ... and from then on an ordinary cookie session.
    let used = s.get(&read, Timestamp(T0 + LATER)).await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Timestamp(T0 + LATER));
    assert!(pttl(&mut conn, &read_key).await <= 50_000);

    // list: the other one upgraded at the server's time, in index order.
    let before = wall_ms();
    let sessions = s.list(UserId(7)).await.unwrap();
    let after = wall_ms();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[0], used);
    let upgraded = &sessions[1];
    assert_eq!(upgraded.id, legacy_id(&mut conn, &listed_key).await);
    assert_eq!(
        (upgraded.user, upgraded.kind),
        (UserId(7), SessionKind::Cookie)
    );
    assert_eq!(upgraded.created_at, upgraded.last_used_at);
    let at = upgraded.created_at.millis();
    assert!(
        (before.saturating_sub(1_000)..=after + 1_000).contains(&at),
        "upgraded at the server's time: {at} not in {before}..={after}"
    );
    assert_eq!(key_type(&mut conn, &listed_key).await, "hash");
    assert_ttl(pttl(&mut conn, &listed_key).await, 50_000, "listed upgrade");

    // end, end_all and delete end legacy sessions, upgraded or still strings.
    assert!(s.end(UserId(7), &upgraded.id).await.unwrap());
    let exists: bool = conn.exists(&listed_key).await.unwrap();
    assert!(!exists, "end of an upgraded legacy session");

    let (ended, all_a, all_b, deleted) = (token(12), token(13), token(14), token(15));
    for tok in [&ended, &all_a, &all_b, &deleted] {
        legacy(&mut conn, p, tok, 8).await;
    }
    let ended_key = session_key(p, &ended);
    let ended_id = legacy_id(&mut conn, &ended_key).await;
    assert!(
        !s.end(UserId(7), &ended_id).await.unwrap(),
        "another user's legacy session is not ended"
    );
    assert!(s.end(UserId(8), &ended_id).await.unwrap());
    s.delete(&deleted).await.unwrap();
    s.end_all(UserId(8), Some(&all_b)).await.unwrap();
    for (tok, live) in [
        (&ended, false),
        (&deleted, false),
        (&all_a, false),
        (&all_b, true),
    ] {
        let exists: bool = conn.exists(session_key(p, tok)).await.unwrap();
        assert_eq!(exists, live, "legacy session {tok:?}");
    }
    assert_eq!(
        s.get(&all_b, Timestamp(T0)).await.unwrap().map(|x| x.user),
        Some(UserId(8)),
        "the kept legacy session still works"
    );
    s.delete(&read).await.unwrap();
    assert_eq!(s.get(&read, Timestamp(T0)).await.unwrap(), None);
    t.cleanup().await;
}

/// Every key and every value under the prefix, as text (read by type, not from `DUMP`, whose
/// compression could split a long string).
async fn everything(conn: &mut MultiplexedConnection, p: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys_under(conn, p).await {
        match key_type(conn, &key).await.as_str() {
            "hash" => {
                let h: BTreeMap<String, String> = conn.hgetall(&key).await.unwrap();
                out.extend(h.into_iter().flat_map(|(k, v)| [k, v]));
            }
            "zset" => {
                let m: Vec<String> = conn.zrange(&key, 0, -1).await.unwrap();
                out.extend(m);
            }
            "string" => out.push(conn.get(&key).await.unwrap()),
            other => panic!("{key}: unexpected type {other}"),
        }
        out.push(key);
    }
    out
}

/// No session token is stored, in a key or a value, whatever the session's kind or life.
#[tokio::test]
async fn the_token_is_stored_nowhere() {
    let t = TestStore::new().await;
    let (s, p) = (&t.store, &t.prefix);
    let mut conn = raw(&t.url).await;
    let tokens: Vec<_> = (20..24).map(token).collect();
    let ids: Vec<_> = (0..4u8).map(|n| SessionId::from_random([n; 32])).collect();
    for (n, (tok, id)) in tokens.iter().zip(&ids).enumerate() {
        let kind = [SessionKind::Cookie, SessionKind::App][n % 2];
        start(
            s,
            9,
            Start {
                token: tok,
                id,
                kind,
                user_agent: Some("agent"),
                now: T0,
                ttl: Duration::from_secs(60),
            },
        )
        .await;
        s.get(tok, Timestamp(T0 + LATER)).await.unwrap().unwrap();
    }
    let legacy_token = token(30);
    legacy(&mut conn, p, &legacy_token, 9).await;
    assert_eq!(s.list(UserId(9)).await.unwrap().len(), 5);

    let stored = everything(&mut conn, p).await;
    for tok in tokens.iter().chain([&legacy_token]) {
        let digest = hex::encode(Sha256::digest(tok.expose().as_bytes()));
        assert!(
            stored.iter().any(|x| x.contains(&digest)),
            "the search sees its digest, so it would see the token"
        );
        assert!(
            stored.iter().all(|x| !x.contains(tok.expose())),
            "a token is stored: {stored:?}"
        );
    }
    t.cleanup().await;
}

/// The index keeps creation order even when the server's clock steps back (a failover to a
/// server whose clock is behind): a new session always sorts after the user's newest one.
#[tokio::test]
async fn creation_order_survives_a_server_clock_that_steps_back() {
    let t = TestStore::new().await;
    let (s, p) = (&t.store, &t.prefix);
    let mut conn = raw(&t.url).await;
    let tokens: Vec<_> = (40..43).map(token).collect();
    let ids: Vec<_> = (40..43u8)
        .map(|n| SessionId::from_random([n; 32]))
        .collect();
    let first = Start {
        token: &tokens[0],
        id: &ids[0],
        kind: SessionKind::Cookie,
        user_agent: None,
        now: T0,
        ttl: Duration::from_secs(60),
    };
    start(s, 5, first).await;
    // As if it had been created an hour ahead of the server's clock now.
    let index = format!("{p}:user:5:sessions");
    let ahead = (wall_ms() + 3_600_000) * 1_000;
    let _: () = conn
        .zadd(&index, session_key(p, &tokens[0]), ahead)
        .await
        .unwrap();
    for n in 1..3 {
        start(
            s,
            5,
            Start {
                token: &tokens[n],
                id: &ids[n],
                kind: SessionKind::App,
                user_agent: None,
                now: T0 + n as u64,
                ttl: Duration::from_secs(60),
            },
        )
        .await;
    }
    let listed: Vec<_> = s
        .list(UserId(5))
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, ids, "creation order");
    t.cleanup().await;
}

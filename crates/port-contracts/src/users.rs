//! Contract suite for [`UserDirectory`].
//!
//! One `pub async fn` per rule, each taking a fresh, empty directory;
//! [`user_directory_contract_tests!`](crate::user_directory_contract_tests) makes each its own
//! `#[tokio::test]` for a backend. The concurrency rule spawns tasks that really race for the
//! unique mobile, so the tests run on a multi-threaded runtime.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domain::{Mobile, NewUser, PasswordHash, User, UserId};
use ports::{DirectoryError, Health, UserDirectory};

/// How many creates race for one mobile.
const RACERS: usize = 20;

/// Unwrap an adapter result, naming the call that failed.
fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e:?}"),
    }
}

fn mobile(raw: &str) -> Mobile {
    ok(Mobile::parse(raw), "test mobile")
}

fn new_user(raw_mobile: &str, hash: &str) -> NewUser {
    NewUser {
        mobile: mobile(raw_mobile),
        password_hash: PasswordHash(hash.to_owned()),
    }
}

/// A PHC string shaped like the real ones (argon2id), distinct per `tag`.
fn hash(tag: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ{tag}$aGFzaGhhc2hoYXNoaGFzaA{tag}")
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Create, then find by mobile and by id; `created_at` is epoch milliseconds.
pub async fn create_and_find<D: UserDirectory>(dir: D) {
    let m = mobile("13800000001");
    let before = wall_clock_ms();

    assert!(
        !ok(dir.exists(&m).await, "exists"),
        "exists: false before the user is created"
    );
    let user = ok(
        dir.create(new_user("13800000001", &hash("a"))).await,
        "create",
    );
    assert_eq!(user.mobile, m, "create: returns the user's mobile");
    assert_eq!(
        user.password_hash,
        PasswordHash(hash("a")),
        "create: returns the stored hash unchanged"
    );
    // Units and time zone, not speed: a `created_at` in seconds or microseconds, or shifted by
    // a whole-hour time zone, falls outside this window around the test's own clock (the
    // window is wide so that a slow machine or a little clock skew never matters).
    let slack = Duration::from_secs(15 * 60).as_millis() as u64;
    let created = user.created_at.millis();
    assert!(
        created + slack > before && created < wall_clock_ms() + slack,
        "create: created_at ({created}) is milliseconds since the epoch, near now ({before})"
    );
    assert!(
        ok(dir.exists(&m).await, "exists"),
        "exists: true once the user is created"
    );

    let by_mobile = ok(dir.find_by_mobile(&m).await, "find_by_mobile");
    assert_eq!(
        by_mobile.as_ref(),
        Some(&user),
        "find_by_mobile: returns the created user exactly"
    );
    let by_id = ok(dir.find_by_id(user.id).await, "find_by_id");
    assert_eq!(
        by_id.as_ref(),
        Some(&user),
        "find_by_id: returns the created user exactly"
    );
}

/// Mobiles and ids never created are absent, not errors.
pub async fn unknown_users_are_absent<D: UserDirectory>(dir: D) {
    let m = mobile("13900000002");
    assert!(
        !ok(dir.exists(&m).await, "exists"),
        "exists: false for a mobile never created"
    );
    assert_eq!(
        ok(dir.find_by_mobile(&m).await, "find_by_mobile"),
        None,
        "find_by_mobile: None for a mobile never created"
    );
    let known = ok(dir.find_by_mobile(&mobile("13800000001")).await, "find");
    let unknown = UserId(known.map_or(1, |u| u.id.0) + 1_000_000);
    assert_eq!(
        ok(dir.find_by_id(unknown).await, "find_by_id"),
        None,
        "find_by_id: None for an id never issued"
    );
}

/// A second user with the same mobile is `Duplicate` and changes nothing.
pub async fn second_create_is_duplicate<D: UserDirectory>(dir: D) {
    let first = ok(
        dir.create(new_user("15000000003", &hash("b"))).await,
        "create",
    );
    let second = dir.create(new_user("15000000003", &hash("c"))).await;
    assert!(
        matches!(second, Err(DirectoryError::Duplicate)),
        "create: a second user with the same mobile is Duplicate, got {second:?}"
    );
    assert_eq!(
        ok(dir.find_by_mobile(&first.mobile).await, "find_by_mobile"),
        Some(first),
        "create: a refused duplicate leaves the first user untouched"
    );
}

/// Of concurrent creates of one mobile exactly one wins; the rest are `Duplicate`.
pub async fn concurrent_creates_have_one_winner<D: UserDirectory>(dir: D) {
    let dir = Arc::new(dir);
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let dir = Arc::clone(&dir);
            tokio::spawn(async move {
                dir.create(new_user("18600000004", &hash(&format!("r{i}"))))
                    .await
            })
        })
        .collect();
    let mut winners: Vec<User> = Vec::new();
    let mut duplicates = 0;
    for task in tasks {
        match ok(task.await, "racing create task") {
            Ok(user) => winners.push(user),
            Err(DirectoryError::Duplicate) => duplicates += 1,
            Err(e) => panic!("create: a lost race is Duplicate, never anything else: {e:?}"),
        }
    }
    assert_eq!(
        (winners.len(), duplicates),
        (1, RACERS - 1),
        "create: of {RACERS} concurrent creates of one mobile exactly one succeeds"
    );
    let stored = ok(
        dir.find_by_mobile(&mobile("18600000004")).await,
        "find_by_mobile",
    );
    assert_eq!(
        stored.as_ref(),
        winners.first(),
        "create: the stored user is the one the winner got back"
    );
}

/// Distinct users get distinct ids, each found by its own.
pub async fn distinct_mobiles_get_distinct_ids<D: UserDirectory>(dir: D) {
    let raws = ["17700000005", "17700000006", "17700000007"];
    let mut users = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        users.push(ok(
            dir.create(new_user(raw, &hash(&format!("d{i}")))).await,
            "create",
        ));
    }
    let mut ids: Vec<i64> = users.iter().map(|u| u.id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        raws.len(),
        "create: distinct users get distinct ids"
    );
    for user in &users {
        assert_eq!(
            ok(dir.find_by_id(user.id).await, "find_by_id").as_ref(),
            Some(user),
            "find_by_id: each id finds its own user"
        );
    }
}

/// A reachable directory answers its health check (the readiness probe), and keeps answering.
/// (One that is down answers `Err` within its timeout: each adapter's own outage tests.)
pub async fn a_reachable_directory_answers_its_health_check<D: Health>(dir: D) {
    for _ in 0..3 {
        ok(dir.check().await, "health check");
    }
}

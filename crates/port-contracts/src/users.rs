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

/// `set_password` replaces the hash of that user only.
pub async fn set_password_replaces_only_that_users_hash<D: UserDirectory>(dir: D) {
    let user = ok(
        dir.create(new_user("13600000008", &hash("p1"))).await,
        "create",
    );
    let other = ok(
        dir.create(new_user("13600000009", &hash("p2"))).await,
        "create",
    );
    ok(
        dir.set_password(user.id, &PasswordHash(hash("p3"))).await,
        "set_password",
    );
    let changed = ok(dir.find_by_id(user.id).await, "find_by_id");
    assert_eq!(
        changed.map(|u| (u.mobile, u.password_hash, u.created_at)),
        Some((user.mobile, PasswordHash(hash("p3")), user.created_at)),
        "set_password: the new hash is stored; mobile and created_at stay"
    );
    assert_eq!(
        ok(dir.find_by_id(other.id).await, "find_by_id"),
        Some(other.clone()),
        "set_password: other users are untouched"
    );
    ok(
        dir.set_password(UserId(i64::MAX), &PasswordHash(hash("p4")))
            .await,
        "set_password of an unknown id is not an error",
    );
    assert_eq!(
        ok(dir.find_by_id(other.id).await, "find_by_id"),
        Some(other),
        "set_password: an unknown id changes nothing"
    );
}

/// `set_mobile` moves the user, id and all, to a free number; the old number is free again.
pub async fn set_mobile_moves_the_user_and_frees_the_old_number<D: UserDirectory>(dir: D) {
    let user = ok(
        dir.create(new_user("13500000010", &hash("m1"))).await,
        "create",
    );
    let new = mobile("13500000011");
    ok(dir.set_mobile(user.id, &new).await, "set_mobile");
    let moved = ok(dir.find_by_mobile(&new).await, "find_by_mobile");
    assert_eq!(
        moved
            .as_ref()
            .map(|u| (u.id, &u.password_hash, u.created_at)),
        Some((user.id, &user.password_hash, user.created_at)),
        "set_mobile: the same user (id, hash, created_at) is found by the new number"
    );
    assert!(
        !ok(dir.exists(&user.mobile).await, "exists"),
        "set_mobile: the old number belongs to nobody afterwards"
    );
    ok(
        dir.create(new_user("13500000010", &hash("m2"))).await,
        "set_mobile: the old number can be registered again",
    );
}

/// `set_mobile` to a number another user has is `Duplicate` and changes nothing; of
/// concurrent moves of different users to one free number exactly one wins.
pub async fn set_mobile_to_a_taken_number_is_duplicate<D: UserDirectory>(dir: D) {
    let a = ok(
        dir.create(new_user("13300000012", &hash("a"))).await,
        "create",
    );
    let b = ok(
        dir.create(new_user("13300000013", &hash("b"))).await,
        "create",
    );
    let refused = dir.set_mobile(a.id, &b.mobile).await;
    assert!(
        matches!(refused, Err(DirectoryError::Duplicate)),
        "set_mobile: a number another user has is Duplicate, got {refused:?}"
    );
    assert_eq!(
        ok(dir.find_by_id(a.id).await, "find_by_id"),
        Some(a),
        "set_mobile: a refused move leaves the user on their number"
    );

    let dir = Arc::new(dir);
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let raw = format!("1330000{:04}", 100 + i);
        racers.push(ok(
            dir.create(new_user(&raw, &hash(&format!("x{i}")))).await,
            "create",
        ));
    }
    let target = mobile("13300000099");
    let tasks: Vec<_> = racers
        .iter()
        .map(|user| {
            let (dir, id, target) = (Arc::clone(&dir), user.id, target.clone());
            tokio::spawn(async move { dir.set_mobile(id, &target).await })
        })
        .collect();
    let (mut won, mut duplicates) = (0, 0);
    for task in tasks {
        match ok(task.await, "racing set_mobile task") {
            Ok(()) => won += 1,
            Err(DirectoryError::Duplicate) => duplicates += 1,
            Err(e) => panic!("set_mobile: a lost race is Duplicate, never anything else: {e:?}"),
        }
    }
    assert_eq!(
        (won, duplicates),
        (1, RACERS - 1),
        "set_mobile: of {RACERS} concurrent moves to one number exactly one succeeds"
    );
}

/// A reachable directory answers its health check (the readiness probe), and keeps answering.
/// (One that is down answers `Err` within its timeout: each adapter's own outage tests.)
pub async fn a_reachable_directory_answers_its_health_check<D: Health>(dir: D) {
    for _ in 0..3 {
        ok(dir.check().await, "health check");
    }
}

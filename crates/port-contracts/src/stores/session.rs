//! The rules of [`SessionStore`], one function each.

use domain::UserId;
use ports::SessionStore;

use super::*;

pub async fn create_get_and_delete<S: SessionStore + Clone>(store: S) {
    let (a, b) = (token('a'), token('b'));
    ok(
        store.create(&a, UserId(1), LONG).await,
        "SessionStore::create",
    );
    ok(
        store.create(&b, UserId(2), LONG).await,
        "SessionStore::create",
    );
    assert_eq!(
        ok(store.get(&a).await, "SessionStore::get"),
        Some(UserId(1)),
        "SessionStore: get after create must return the user"
    );
    assert_eq!(
        ok(store.get(&a).await, "get"),
        Some(UserId(1)),
        "SessionStore: get must not consume the session"
    );
    assert_eq!(
        ok(store.get(&b).await, "get"),
        Some(UserId(2)),
        "SessionStore: each token maps to its own user"
    );
    assert_eq!(
        ok(store.get(&token('z')).await, "get"),
        None,
        "SessionStore: an unknown token must be None"
    );

    ok(store.delete(&a).await, "SessionStore::delete");
    assert_eq!(
        ok(store.get(&a).await, "get"),
        None,
        "SessionStore: a deleted session must be gone"
    );
    assert_eq!(
        ok(store.get(&b).await, "get"),
        Some(UserId(2)),
        "SessionStore: deleting one session must not touch another"
    );
    ok(
        store.delete(&a).await,
        "SessionStore::delete of an absent token must not be an error",
    );
}

/// TTL.
pub async fn a_session_lives_until_its_ttl_and_no_longer<S: SessionStore + Clone>(store: S) {
    let (short, long) = (token('s'), token('l'));
    ok(store.create(&short, UserId(3), SHORT).await, "create");
    ok(store.create(&long, UserId(4), LONG).await, "create");
    tokio::time::sleep(AFTER_SHORT).await;
    assert_eq!(
        ok(store.get(&short).await, "get"),
        None,
        "SessionStore: a session must be gone after its TTL"
    );
    assert_eq!(
        ok(store.get(&long).await, "get"),
        Some(UserId(4)),
        "SessionStore: a session must live until its own TTL"
    );
}

//! The rules of [`SessionStore`], one function each.

use domain::UserId;
use ports::SessionStore;

use super::*;

pub async fn create_get_and_delete<S: SessionStore + Clone>(store: S) {
    let (a, b) = (token('a'), token('b'));
    ok(
        store.create(&a, UserId(1), LONG, 10).await,
        "SessionStore::create",
    );
    ok(
        store.create(&b, UserId(2), LONG, 10).await,
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
    ok(store.create(&short, UserId(3), SHORT, 10).await, "create");
    ok(store.create(&long, UserId(4), LONG, 10).await, "create");
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

/// `max_per_user`: signing in beyond it ends the oldest sessions of that user only.
pub async fn beyond_max_per_user_the_oldest_sessions_end<S: SessionStore + Clone>(store: S) {
    let user = UserId(5);
    let tokens: Vec<_> = "abcdefgh".chars().map(token).collect();
    for t in &tokens[..3] {
        ok(store.create(t, user, LONG, 3).await, "create");
    }
    ok(
        store.create(&token('x'), UserId(6), LONG, 3).await,
        "create",
    );
    ok(store.delete(&tokens[1]).await, "delete");
    // Two live (a, c); d makes three: nothing ends.
    ok(store.create(&tokens[3], user, LONG, 3).await, "create");
    for (t, live) in [(0, true), (1, false), (2, true), (3, true)] {
        assert_eq!(
            ok(store.get(&tokens[t]).await, "get").is_some(),
            live,
            "SessionStore: a signed-out session must not count towards max_per_user \
             (session {t})"
        );
    }
    // e makes four: a, the oldest, ends.
    ok(store.create(&tokens[4], user, LONG, 3).await, "create");
    for (t, live) in [(0, false), (2, true), (3, true), (4, true)] {
        assert_eq!(
            ok(store.get(&tokens[t]).await, "get").is_some(),
            live,
            "SessionStore: beyond max_per_user the oldest session must end (session {t})"
        );
    }
    // Three more: only the newest three stay.
    for t in &tokens[5..] {
        ok(store.create(t, user, LONG, 3).await, "create");
    }
    assert_eq!(
        live(&store, &tokens).await,
        [false, false, false, false, false, true, true, true],
        "SessionStore: at most max_per_user sessions live, the newest ones"
    );
    assert_eq!(
        ok(store.get(&token('x')).await, "get"),
        Some(UserId(6)),
        "SessionStore: another user's sessions must not be ended"
    );
}

/// A short-lived session does not make the store forget the user's longer-lived ones: they
/// still count towards `max_per_user` after it has ended.
pub async fn a_shorter_session_does_not_hide_longer_ones_from_the_cap<S>(store: S)
where
    S: SessionStore + Clone,
{
    let user = UserId(7);
    let (long, short, later, latest) = (token('a'), token('b'), token('c'), token('d'));
    ok(store.create(&long, user, LONG, 2).await, "create");
    ok(store.create(&short, user, SHORT, 2).await, "create");
    tokio::time::sleep(AFTER_SHORT).await;
    ok(store.create(&later, user, LONG, 2).await, "create");
    ok(store.create(&latest, user, LONG, 2).await, "create");
    assert_eq!(
        live(&store, &[long, short, later, latest]).await,
        [false, false, true, true],
        "SessionStore: after a shorter session has ended, the oldest longer-lived one still \
         counts towards max_per_user and is the one to end"
    );
}

/// Which of `tokens` name a live session.
async fn live<S: SessionStore>(store: &S, tokens: &[SessionToken]) -> Vec<bool> {
    let mut live = Vec::with_capacity(tokens.len());
    for t in tokens {
        live.push(ok(store.get(t).await, "SessionStore::get").is_some());
    }
    live
}

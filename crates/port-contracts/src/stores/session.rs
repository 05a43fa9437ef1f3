//! The rules of [`SessionStore`], one function each.
//!
//! `created_at` and `last_used_at` come from the synthetic `now`s the rules pass (starting at
//! [`BASE`]), so a use [`SESSION_TOUCH_INTERVAL`] later is recorded without waiting for it.
//! Expiry is the store's own: the TTL rules create sessions living a few hundred milliseconds
//! and sleep, asserting only on what is observed afterwards.

use std::time::Duration;

use domain::{Session, SessionId, SessionKind, Timestamp, UserId, SESSION_TOUCH_INTERVAL};
use ports::{NewSession, SessionStore};
use tokio::time::{sleep_until, Instant};

use super::*;

/// The lifetime of the sessions whose expiry or renewal a rule watches.
const BRIEF: Duration = Duration::from_millis(600);
/// When such a rule uses them: well inside [`BRIEF`]...
const USE_AFTER: Duration = Duration::from_millis(400);
/// ... and when it looks again: past their first expiry, well before a renewed one would come.
const LOOK_AFTER: Duration = Duration::from_millis(700);

/// A synthetic `now`, `ms` after [`BASE`].
fn at(ms: u64) -> Timestamp {
    Timestamp(BASE + ms)
}

/// A second after one touch interval has passed since `t`: a use then is recorded.
fn a_minute_after(t: Timestamp) -> Timestamp {
    Timestamp(t.millis() + domain::millis(SESSION_TOUCH_INTERVAL) + 1_000)
}

/// The `n`-th test session of `user`: its token, and the session `get` must return right after
/// `create` at `now` (id from `n`, user agent `contract-agent/<n>`).
fn session(n: u16, user: i64, kind: SessionKind, now: Timestamp) -> (SessionToken, Session) {
    let token = ok(
        SessionToken::parse(&format!("{n:t>43}")),
        "test session token",
    );
    let session = Session {
        id: session_id(n),
        user: UserId(user),
        kind,
        created_at: now,
        last_used_at: now,
        user_agent: Some(format!("contract-agent/{n}")),
    };
    (token, session)
}

fn session_id(n: u16) -> SessionId {
    ok(SessionId::parse(&format!("{n:032x}")), "test session id")
}

/// Start `session` under `token`, living `ttl`, with at most `max` per user.
async fn create<S: SessionStore>(
    store: &S,
    (token, session): &(SessionToken, Session),
    ttl: Duration,
    max: u32,
) {
    let new = NewSession {
        token,
        id: &session.id,
        user: session.user,
        kind: session.kind,
        user_agent: session.user_agent.as_deref(),
        now: session.created_at,
        ttl,
        max_per_user: max,
    };
    ok(store.create(new).await, "SessionStore::create");
}

async fn get<S: SessionStore>(store: &S, token: &SessionToken, now: Timestamp) -> Option<Session> {
    ok(store.get(token, now).await, "SessionStore::get")
}

async fn list<S: SessionStore>(store: &S, user: i64) -> Vec<Session> {
    ok(store.list(UserId(user)).await, "SessionStore::list")
}

/// Which of `sessions` are live (`get` at their creation time records nothing).
async fn live<S: SessionStore>(store: &S, sessions: &[(SessionToken, Session)]) -> Vec<bool> {
    let mut live = Vec::with_capacity(sessions.len());
    for (token, s) in sessions {
        live.push(get(store, token, s.created_at).await.is_some());
    }
    live
}

/// The ids of `sessions`, for comparing lists briefly.
fn ids<'a>(sessions: impl IntoIterator<Item = &'a Session>) -> Vec<SessionId> {
    sessions.into_iter().map(|s| s.id.clone()).collect()
}

/// create, get (every field as created, however often), delete.
pub async fn create_get_and_delete<S: SessionStore + Clone>(store: S) {
    let a = session(1, 1, SessionKind::Cookie, at(0));
    let mut b = session(2, 2, SessionKind::App, at(5));
    b.1.user_agent = None;
    create(&store, &a, LONG, 10).await;
    create(&store, &b, LONG, 10).await;
    assert_eq!(
        get(&store, &a.0, at(10)).await,
        Some(a.1.clone()),
        "SessionStore: get after create must return the session as created (id, user, kind, \
         created_at = last_used_at = its now, user agent)"
    );
    assert_eq!(
        get(&store, &a.0, at(20)).await,
        Some(a.1.clone()),
        "SessionStore: get must not consume the session"
    );
    assert_eq!(
        get(&store, &b.0, at(10)).await,
        Some(b.1.clone()),
        "SessionStore: each token maps to its own session, an app session and a missing user \
         agent included"
    );
    assert_eq!(
        get(&store, &token('z'), at(10)).await,
        None,
        "SessionStore: an unknown token must be None"
    );

    ok(store.delete(&a.0).await, "SessionStore::delete");
    assert_eq!(
        get(&store, &a.0, at(30)).await,
        None,
        "SessionStore: a deleted session must be gone"
    );
    assert_eq!(
        get(&store, &b.0, at(30)).await,
        Some(b.1),
        "SessionStore: deleting one session must not touch another"
    );
    assert_eq!(
        list(&store, 1).await,
        [],
        "SessionStore: a deleted session must not be listed"
    );
}

/// Ending what is absent (`delete`, `end`, `end_all`) is not an error.
pub async fn ending_what_is_absent_is_not_an_error<S: SessionStore + Clone>(store: S) {
    let a = session(1, 1, SessionKind::Cookie, at(0));
    ok(
        store.delete(&a.0).await,
        "SessionStore::delete of an unknown token must not be an error",
    );
    assert!(
        !ok(store.end(UserId(1), &a.1.id).await, "SessionStore::end"),
        "SessionStore: end of a user without sessions must be false"
    );
    ok(
        store.end_all(UserId(1), None).await,
        "SessionStore::end_all of a user without sessions must not be an error",
    );
    ok(
        store.end_all(UserId(1), Some(&a.0)).await,
        "SessionStore::end_all keeping an unknown token must not be an error",
    );
    let b = session(2, 1, SessionKind::App, at(1));
    create(&store, &a, LONG, 10).await;
    create(&store, &b, LONG, 10).await;
    assert_eq!(
        live(&store, &[a.clone(), b.clone()]).await,
        [true, true],
        "SessionStore: get after create must find the session"
    );
    ok(store.delete(&a.0).await, "delete");
    ok(
        store.delete(&a.0).await,
        "SessionStore::delete of a deleted session must not be an error",
    );
    assert!(
        !ok(store.end(UserId(1), &a.1.id).await, "end"),
        "SessionStore: end of a deleted session must be false"
    );
    assert!(
        ok(store.end(UserId(1), &b.1.id).await, "end"),
        "SessionStore: end of a live session must be true"
    );
    assert!(
        !ok(store.end(UserId(1), &b.1.id).await, "end"),
        "SessionStore: end of an ended session must be false"
    );
    ok(
        store.delete(&b.0).await,
        "SessionStore::delete of an ended session must not be an error",
    );
    ok(
        store.end_all(UserId(1), Some(&b.0)).await,
        "SessionStore::end_all of a user whose sessions have all ended must not be an error",
    );
    assert_eq!(list(&store, 1).await, [], "SessionStore: nothing is left");
}

/// A use is recorded when the recorded one is at least the touch interval before `now`, and
/// only then; for cookie and app sessions alike.
pub async fn a_use_is_recorded_once_the_touch_interval_has_passed<S: SessionStore + Clone>(
    store: S,
) {
    let interval = domain::millis(SESSION_TOUCH_INTERVAL);
    for (n, kind) in [(1, SessionKind::Cookie), (2, SessionKind::App)] {
        let (token, created) = session(n, 1, kind, at(0));
        create(&store, &(token.clone(), created.clone()), LONG, 10).await;
        let used = |ms| Session {
            last_used_at: at(ms),
            ..created.clone()
        };
        for (now, recorded, rule) in [
            (
                interval - 1,
                0,
                "a use sooner than the touch interval records nothing",
            ),
            (
                interval,
                interval,
                "a use the touch interval later is recorded",
            ),
            (
                2 * interval - 1,
                interval,
                "... and the next one is again an interval later",
            ),
            (
                2 * interval + 7,
                2 * interval + 7,
                "... when last_used_at becomes that now",
            ),
            (
                10,
                2 * interval + 7,
                "a use before the recorded one records nothing",
            ),
        ] {
            assert_eq!(
                get(&store, &token, at(now)).await,
                Some(used(recorded)),
                "SessionStore ({kind:?}): {rule}"
            );
        }
        assert_eq!(
            list(&store, 1).await.last(),
            Some(&used(2 * interval + 7)),
            "SessionStore ({kind:?}): list shows the recorded use"
        );
    }
}

/// A cookie session lives `ttl` from its creation, whatever uses are recorded.
pub async fn a_cookie_session_lives_its_ttl_from_creation_whatever_its_uses<S>(store: S)
where
    S: SessionStore + Clone,
{
    let brief = session(1, 1, SessionKind::Cookie, at(0));
    let long = session(2, 1, SessionKind::Cookie, at(0));
    create(&store, &long, LONG, 10).await;
    create(&store, &brief, BRIEF, 10).await;
    let created = Instant::now();

    sleep_until(created + USE_AFTER).await;
    let used = a_minute_after(at(0));
    assert_eq!(
        get(&store, &brief.0, used).await.map(|s| s.last_used_at),
        Some(used),
        "SessionStore: a cookie session records its use like any other"
    );
    sleep_until(created + LOOK_AFTER).await;
    assert_eq!(
        get(&store, &brief.0, used).await,
        None,
        "SessionStore: a cookie session must be gone its ttl after creation, even after a \
         recorded use"
    );
    assert!(
        get(&store, &long.0, used).await.is_some(),
        "SessionStore: a cookie session must live until its own ttl"
    );
    assert_eq!(
        ids(&list(&store, 1).await),
        [long.1.id],
        "SessionStore: an expired session must not be listed"
    );
}

/// An app session lives `ttl` from its last recorded use: a recorded use starts its lifetime
/// again; a use too soon to be recorded does not.
pub async fn an_app_session_lives_its_ttl_from_its_last_recorded_use<S>(store: S)
where
    S: SessionStore + Clone,
{
    let (used, unused) = (
        session(1, 1, SessionKind::App, at(0)),
        session(2, 1, SessionKind::App, at(0)),
    );
    create(&store, &used, BRIEF, 10).await;
    create(&store, &unused, BRIEF, 10).await;
    let created = Instant::now();

    sleep_until(created + USE_AFTER).await;
    let use_at = a_minute_after(at(0));
    let renewed = Instant::now();
    assert_eq!(
        get(&store, &used.0, use_at).await.map(|s| s.last_used_at),
        Some(use_at),
        "SessionStore: a use the touch interval after the last must be recorded"
    );
    let too_soon = Timestamp(use_at.millis() - 2_000);
    assert_eq!(
        get(&store, &unused.0, too_soon)
            .await
            .map(|s| s.last_used_at),
        Some(at(0)),
        "SessionStore: a use sooner than the touch interval must record nothing"
    );

    sleep_until(created + LOOK_AFTER).await;
    assert_eq!(
        get(&store, &unused.0, too_soon).await,
        None,
        "SessionStore: an app session must be gone its ttl after its last recorded use \
         (a use too soon to be recorded does not renew it)"
    );
    let again = Timestamp(use_at.millis() + 1_000);
    assert_eq!(
        get(&store, &used.0, again).await.map(|s| s.last_used_at),
        Some(use_at),
        "SessionStore: an app session must outlive its first expiry after a recorded use \
         (its ttl starts again from that use)"
    );
    assert_eq!(
        ids(&list(&store, 1).await),
        std::slice::from_ref(&used.1.id),
        "SessionStore: a renewed app session stays listed"
    );

    sleep_until(renewed + BRIEF + (LOOK_AFTER - USE_AFTER)).await;
    assert_eq!(
        get(&store, &used.0, again).await,
        None,
        "SessionStore: a renewed app session must be gone its ttl after the recorded use"
    );
}

/// `max_per_user`: cookie and app sessions count together; signing in beyond it ends the
/// oldest sessions of that user only.
pub async fn beyond_max_per_user_the_oldest_sessions_end<S: SessionStore + Clone>(store: S) {
    // 0, the oldest, is an app session: its recorded use must not make it younger.
    let kinds = [SessionKind::App, SessionKind::Cookie];
    let s: Vec<_> = (0..8u16)
        .map(|n| session(n, 5, kinds[usize::from(n % 2)], at(u64::from(n))))
        .collect();
    for x in &s[..3] {
        create(&store, x, LONG, 3).await;
    }
    let other = session(99, 6, SessionKind::App, at(0));
    create(&store, &other, LONG, 3).await;
    ok(store.delete(&s[1].0).await, "delete");
    // Two live (0, 2); 3 makes three: nothing ends.
    create(&store, &s[3], LONG, 3).await;
    assert_eq!(
        live(&store, &s[..4]).await,
        [true, false, true, true],
        "SessionStore: a signed-out session must not count towards max_per_user"
    );
    // 4 makes four: 0, the oldest by creation, ends, however recently used.
    let used = a_minute_after(s[0].1.created_at);
    assert_eq!(
        get(&store, &s[0].0, used).await.map(|x| x.last_used_at),
        Some(used),
        "SessionStore: get records the use"
    );
    create(&store, &s[4], LONG, 3).await;
    assert_eq!(
        live(&store, &s[..5]).await,
        [false, false, true, true, true],
        "SessionStore: beyond max_per_user the oldest session must end, cookie and app \
         sessions counted together"
    );
    // Three more: only the newest three stay.
    for x in &s[5..] {
        create(&store, x, LONG, 3).await;
    }
    assert_eq!(
        live(&store, &s).await,
        [false, false, false, false, false, true, true, true],
        "SessionStore: at most max_per_user sessions live, the newest ones"
    );
    assert_eq!(
        ids(&list(&store, 5).await),
        ids(s[5..].iter().map(|x| &x.1)),
        "SessionStore: the sessions ended for max_per_user must not be listed"
    );
    assert!(
        get(&store, &other.0, at(0)).await.is_some(),
        "SessionStore: another user's sessions must not be ended"
    );
}

/// A short-lived session does not make the store forget the user's longer-lived ones: they
/// still count towards `max_per_user` after it has ended.
pub async fn a_shorter_session_does_not_hide_longer_ones_from_the_cap<S>(store: S)
where
    S: SessionStore + Clone,
{
    let s: Vec<_> = (0..4u16)
        .map(|n| session(n, 7, SessionKind::Cookie, at(u64::from(n))))
        .collect();
    create(&store, &s[0], LONG, 2).await;
    create(&store, &s[1], SHORT, 2).await;
    tokio::time::sleep(AFTER_SHORT).await;
    create(&store, &s[2], LONG, 2).await;
    create(&store, &s[3], LONG, 2).await;
    assert_eq!(
        live(&store, &s).await,
        [false, false, true, true],
        "SessionStore: after a shorter session has ended, the oldest longer-lived one still \
         counts towards max_per_user and is the one to end"
    );
}

/// `list`: the user's live sessions as `get` returns them, oldest first; never another user's,
/// never an ended or expired one.
pub async fn list_returns_the_users_live_sessions_oldest_first<S: SessionStore + Clone>(store: S) {
    assert_eq!(
        list(&store, 1).await,
        [],
        "SessionStore: a user without sessions lists none"
    );
    let mut s: Vec<_> = [
        (1, SessionKind::App),
        (2, SessionKind::Cookie),
        (3, SessionKind::App),
        (4, SessionKind::Cookie),
        (5, SessionKind::Cookie),
    ]
    .into_iter()
    .map(|(n, kind)| session(n, 1, kind, at(u64::from(n) * 1_000)))
    .collect();
    s[2].1.user_agent = None;
    let short = session(6, 1, SessionKind::App, at(500));
    let other = session(7, 2, SessionKind::Cookie, at(2_500));
    create(&store, &s[0], LONG, 10).await;
    create(&store, &short, SHORT, 10).await;
    create(&store, &s[1], LONG, 10).await;
    create(&store, &other, LONG, 10).await;
    for x in &s[2..] {
        create(&store, x, LONG, 10).await;
    }
    tokio::time::sleep(AFTER_SHORT).await;
    let used = a_minute_after(at(3_000));
    s[2].1.last_used_at = used;
    assert_eq!(
        get(&store, &s[2].0, used).await.as_ref(),
        Some(&s[2].1),
        "SessionStore: get records the use"
    );
    ok(store.delete(&s[1].0).await, "delete");
    assert!(ok(store.end(UserId(1), &s[3].1.id).await, "end"));

    assert_eq!(
        list(&store, 1).await,
        [s[0].1.clone(), s[2].1.clone(), s[4].1.clone()],
        "SessionStore: list must return the user's live sessions as get does, oldest first, \
         without deleted, ended, expired or other users' sessions"
    );
    assert_eq!(
        list(&store, 2).await,
        [other.1],
        "SessionStore: each user lists only their own sessions"
    );
}

/// `end(user, id)`: ends exactly that session of that user, and says whether it did.
pub async fn end_ends_exactly_the_named_session_of_the_user<S: SessionStore + Clone>(store: S) {
    let (a1, a2) = (
        session(1, 1, SessionKind::Cookie, at(0)),
        session(2, 1, SessionKind::App, at(1)),
    );
    let b = session(3, 2, SessionKind::App, at(2));
    for x in [&a1, &a2, &b] {
        create(&store, x, LONG, 10).await;
    }
    assert!(
        !ok(store.end(UserId(1), &b.1.id).await, "SessionStore::end"),
        "SessionStore: end of another user's session id must be false"
    );
    assert!(
        get(&store, &b.0, at(2)).await.is_some(),
        "SessionStore: end must never end another user's session"
    );
    assert!(
        !ok(store.end(UserId(1), &session_id(404)).await, "end"),
        "SessionStore: end of an unknown id must be false"
    );
    assert_eq!(
        live(&store, &[a1.clone(), a2.clone()]).await,
        [true, true],
        "SessionStore: an end that found nothing must end nothing"
    );
    assert!(
        ok(store.end(UserId(1), &a1.1.id).await, "end"),
        "SessionStore: end of the user's live session must be true"
    );
    assert_eq!(
        live(&store, &[a1.clone(), a2.clone(), b.clone()]).await,
        [false, true, true],
        "SessionStore: end must end exactly the named session"
    );
    assert_eq!(
        ids(&list(&store, 1).await),
        std::slice::from_ref(&a2.1.id),
        "SessionStore: an ended session must not be listed"
    );
    assert!(
        !ok(store.end(UserId(1), &a1.1.id).await, "end"),
        "SessionStore: end of an ended session must be false"
    );
}

/// `end_all(user, keep)`: ends every session of the user but the one of `keep`.
pub async fn end_all_ends_every_session_of_the_user_but_the_kept_one<S>(store: S)
where
    S: SessionStore + Clone,
{
    let a: Vec<_> = (1..=3u16)
        .map(|n| session(n, 1, SessionKind::Cookie, at(u64::from(n))))
        .collect();
    let b = session(9, 2, SessionKind::App, at(0));
    for x in a.iter().chain([&b]) {
        create(&store, x, LONG, 10).await;
    }
    ok(
        store.end_all(UserId(1), Some(&a[1].0)).await,
        "SessionStore::end_all",
    );
    assert_eq!(
        live(&store, &a).await,
        [false, true, false],
        "SessionStore: end_all(user, Some(keep)) must end all of the user's sessions but keep"
    );
    assert_eq!(
        list(&store, 1).await,
        [a[1].1.clone()],
        "SessionStore: after end_all(user, Some(keep)) the user lists only keep"
    );
    ok(store.end_all(UserId(1), None).await, "end_all");
    assert_eq!(
        live(&store, &a).await,
        [false, false, false],
        "SessionStore: end_all(user, None) must end every session of the user"
    );
    assert_eq!(list(&store, 1).await, [], "SessionStore: ... and list none");
    assert!(
        get(&store, &b.0, at(0)).await.is_some(),
        "SessionStore: end_all must never end another user's session"
    );
}

/// `end_all(user, Some(keep))` with a `keep` that is not the user's keeps nothing of theirs
/// (and leaves the other user's session alone).
pub async fn end_all_keeping_another_users_token_ends_all_of_the_user<S>(store: S)
where
    S: SessionStore + Clone,
{
    let a: Vec<_> = (1..=2u16)
        .map(|n| session(n, 1, SessionKind::App, at(u64::from(n))))
        .collect();
    let b = session(9, 2, SessionKind::Cookie, at(0));
    for x in a.iter().chain([&b]) {
        create(&store, x, LONG, 10).await;
    }
    ok(
        store.end_all(UserId(1), Some(&b.0)).await,
        "SessionStore::end_all",
    );
    assert_eq!(
        live(&store, &[a[0].clone(), a[1].clone(), b]).await,
        [false, false, true],
        "SessionStore: end_all keeping another user's token must end all of the user's \
         sessions, and not the other user's"
    );
}

/// Concurrent creates for one user never leave more than `max_per_user` live.
pub async fn concurrent_creates_never_leave_more_than_max_per_user_live<S>(store: S)
where
    S: SessionStore + Clone,
{
    let s: Vec<_> = (0..20u16)
        .map(|n| session(n, 1, SessionKind::App, at(u64::from(n))))
        .collect();
    race(s.len(), |i| {
        let (store, x) = (store.clone(), s[i].clone());
        async move { create(&store, &x, LONG, 3).await }
    })
    .await;
    let live_now = live(&store, &s).await.into_iter().filter(|l| *l).count();
    assert_eq!(
        live_now, 3,
        "SessionStore: after 20 concurrent creates exactly max_per_user sessions must live"
    );
    assert_eq!(
        list(&store, 1).await.len(),
        3,
        "SessionStore: after 20 concurrent creates the user lists max_per_user sessions"
    );
}

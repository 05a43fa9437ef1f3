//! Register, sign in, sessions (SPEC §5), through the use cases with in-memory fakes.

use std::time::Duration;

use crate::support::*;
use app::account::{RegisterError, RegisterRequest, SignInError};
use app::codes::CodeRejected;
use app::sessions::SignedIn;
use domain::{CodePurpose, Password, SmsCode};

pub(crate) fn registration(m: &str, code: SmsCode) -> RegisterRequest {
    RegisterRequest {
        mobile: mobile(m),
        code,
        password: Password::parse("secret1").unwrap(),
    }
}

/// Register the default test number with `code`.
pub(crate) async fn register(h: &Harness, code: SmsCode) -> Result<SignedIn, RegisterError> {
    h.app
        .register(registration("13800138000", code), browser(), None)
        .await
}

/// A registered, signed-in user on the default test number (password `secret1`).
pub(crate) async fn registered(h: &Harness) -> SignedIn {
    h.registered("13800138000", "secret1").await
}

pub(crate) fn wrong(code: &SmsCode) -> SmsCode {
    let n: u32 = code.expose().parse().unwrap();
    SmsCode::from_number((n + 1) % 1_000_000)
}

#[tokio::test]
async fn registering_creates_the_user_and_signs_them_in() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    let signed_in = h
        .app
        .register(registration("13800138000", code.clone()), browser(), None)
        .await
        .unwrap();
    assert_eq!(signed_in.user.mobile, mobile("13800138000"));
    assert_eq!(
        signed_in.user.password_hash.0, "plain$secret1",
        "hashed by the port"
    );
    let current = h.app.caller(&signed_in.token).await.unwrap().unwrap();
    assert_eq!(current.user.id, signed_in.user.id);
    assert!(
        matches!(
            register(&h, code).await,
            Err(RegisterError::Code(CodeRejected::Missing))
        ),
        "a code works once"
    );
}

#[tokio::test]
async fn wrong_codes_use_attempts_and_the_last_burns_the_code() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    for left in (0..5).rev() {
        match h
            .app
            .register(registration("13800138000", wrong(&code)), browser(), None)
            .await
        {
            Err(RegisterError::Code(CodeRejected::Mismatch { attempts_left })) => {
                assert_eq!(attempts_left, left)
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }
    assert!(
        matches!(
            register(&h, code).await,
            Err(RegisterError::Code(CodeRejected::Missing))
        ),
        "a burned code is dead even for the right digits"
    );
}

#[tokio::test]
async fn an_expired_code_is_missing() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    h.clock.advance(Duration::from_secs(301));
    assert!(matches!(
        register(&h, code).await,
        Err(RegisterError::Code(CodeRejected::Missing))
    ));
}

#[tokio::test]
async fn parallel_registrations_with_one_code_create_one_user() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    let results = futures::future::join_all((0..20).map(|_| {
        h.app
            .register(registration("13800138000", code.clone()), browser(), None)
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(h.users.rows.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_mobile_and_wrong_password_get_the_same_answer() {
    let h = harness();
    registered(&h).await;
    let unknown = h
        .sign_in_as("13900139000", "secret1", "10.0.0.2", browser())
        .await;
    let wrong_pw = h
        .sign_in_as("13800138000", "secret2", "10.0.0.2", browser())
        .await;
    assert!(matches!(unknown, Err(SignInError::BadCredentials)));
    assert!(matches!(wrong_pw, Err(SignInError::BadCredentials)));
    let ok = h
        .sign_in_as("13800138000", "secret1", "10.0.0.2", browser())
        .await
        .unwrap();
    assert_eq!(ok.user.mobile, mobile("13800138000"));
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_sign_out_ends_it() {
    let h = harness();
    let first = registered(&h).await;
    let second = h
        .app
        .sign_in(
            sign_in("13800138000", "secret1", "10.0.0.2"),
            browser(),
            Some(&first.token),
        )
        .await
        .unwrap();
    assert_ne!(first.token, second.token);
    assert!(h.app.caller(&first.token).await.unwrap().is_none());
    assert!(h.app.caller(&second.token).await.unwrap().is_some());
    h.app.sign_out(&second.token).await.unwrap();
    assert!(h.app.caller(&second.token).await.unwrap().is_none());
}

#[tokio::test]
async fn five_failures_lock_the_ip_out_until_the_window_ends() {
    let h = harness();
    registered(&h).await;
    for _ in 0..5 {
        let r = h
            .sign_in_as("13800138000", "nope-nope", "10.9.9.9", browser())
            .await;
        assert!(matches!(r, Err(SignInError::BadCredentials)));
        h.clock.advance(Duration::from_secs(10));
    }
    match h
        .sign_in_as("13800138000", "secret1", "10.9.9.9", browser())
        .await
    {
        Err(SignInError::LockedOut(r)) => assert_eq!(r.retry_after, Duration::from_secs(550)),
        other => panic!("expected a lockout, got {other:?}"),
    }
    h.sign_in_as("13800138000", "secret1", "10.9.9.8", browser())
        .await
        .expect("another IP is not locked");
    h.clock.advance(Duration::from_secs(550));
    h.sign_in_as("13800138000", "secret1", "10.9.9.9", browser())
        .await
        .expect("unlocked when the window ends");
}

#[tokio::test]
async fn a_successful_sign_in_does_not_count_towards_the_lockout() {
    let h = harness();
    registered(&h).await;
    for _ in 0..20 {
        h.sign_in_as("13800138000", "secret1", "10.9.9.7", browser())
            .await
            .expect("successes are given back");
    }
}

#[tokio::test]
async fn wrong_passwords_for_one_account_lock_it_whatever_the_client() {
    let h = harness();
    registered(&h).await;
    for n in 0..10 {
        let r = h
            .sign_in_as(
                "13800138000",
                "nope-nope",
                &format!("10.8.0.{n}"),
                browser(),
            )
            .await;
        assert!(matches!(r, Err(SignInError::BadCredentials)), "{r:?}");
    }
    match h
        .sign_in_as("13800138000", "secret1", "10.8.1.1", browser())
        .await
    {
        Err(SignInError::LockedOut(r)) => {
            assert_eq!(r.limit, domain::LimitKind::AccountLockout);
            assert_eq!(r.retry_after, Duration::from_secs(600));
        }
        other => panic!("expected the account lockout, got {other:?}"),
    }
    assert_eq!(
        h.hasher.runs.load(std::sync::atomic::Ordering::SeqCst),
        1 + 10,
        "the registration's hash and the ten judged attempts: a refused attempt hashes nothing"
    );
}

#[tokio::test]
async fn ipv6_addresses_of_one_prefix_share_the_lockout() {
    let h = harness();
    registered(&h).await;
    for n in 0..5 {
        let from = format!("2001:db8:7:7::{n:x}");
        let r = h
            .sign_in_as("13800138000", "nope-nope", &from, browser())
            .await;
        assert!(matches!(r, Err(SignInError::BadCredentials)), "{r:?}");
    }
    assert!(matches!(
        h.sign_in_as("13800138000", "secret1", "2001:db8:7:7:ffff::1", browser())
            .await,
        Err(SignInError::LockedOut(_))
    ));
}

#[tokio::test]
async fn a_busy_hasher_is_answered_at_once_and_costs_no_attempt() {
    let h = harness();
    registered(&h).await;
    h.hasher
        .busy
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..20 {
        let r = h
            .sign_in_as("13800138000", "secret1", "10.7.0.1", browser())
            .await;
        assert!(
            matches!(r, Err(SignInError::Hash(ports::HashError::Busy))),
            "{r:?}"
        );
    }
    h.hasher
        .busy
        .store(false, std::sync::atomic::Ordering::SeqCst);
    h.sign_in_as("13800138000", "secret1", "10.7.0.1", browser())
        .await
        .expect("unjudged attempts are given back");
}

#[tokio::test]
async fn a_failed_registration_puts_the_code_back() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    // One wrong guess first: the put-back code keeps it.
    assert!(matches!(
        register(&h, wrong(&code)).await,
        Err(RegisterError::Code(CodeRejected::Mismatch {
            attempts_left: 4
        }))
    ));
    h.hasher
        .busy
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        register(&h, code.clone()).await,
        Err(RegisterError::Hash(ports::HashError::Busy))
    ));
    h.hasher
        .busy
        .store(false, std::sync::atomic::Ordering::SeqCst);
    h.users
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        register(&h, code.clone()).await,
        Err(RegisterError::Directory(_))
    ));
    h.users
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        matches!(
            register(&h, wrong(&code)).await,
            Err(RegisterError::Code(CodeRejected::Mismatch {
                attempts_left: 3
            }))
        ),
        "the code came back with the wrong guess it had used"
    );
    register(&h, code.clone())
        .await
        .expect("the same SMS registers once the failures are over");
    assert!(matches!(
        register(&h, code).await,
        Err(RegisterError::Code(CodeRejected::Missing))
    ));
}

#[tokio::test]
async fn a_code_put_back_keeps_its_expiry() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    h.clock.advance(Duration::from_secs(200));
    h.users
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(register(&h, code.clone()).await.is_err());
    h.users
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    h.clock.advance(Duration::from_secs(100));
    assert!(
        matches!(
            register(&h, code).await,
            Err(RegisterError::Code(CodeRejected::Missing))
        ),
        "300 s after it was sent, a put-back code has expired like any other"
    );
}

#[tokio::test]
async fn beyond_max_sessions_the_oldest_end() {
    let h = harness_with(
        app::Policy {
            sessions_per_user: 3,
            ..app::Policy::default()
        },
        app::TestHooks::default(),
    );
    let first = registered(&h).await;
    let mut tokens = vec![first.token];
    for _ in 0..4 {
        let s = h
            .sign_in_as("13800138000", "secret1", "10.6.0.1", browser())
            .await
            .unwrap();
        tokens.push(s.token);
    }
    let mut live = Vec::new();
    for t in &tokens {
        live.push(h.app.caller(t).await.unwrap().is_some());
    }
    assert_eq!(live, [false, false, true, true, true]);
}

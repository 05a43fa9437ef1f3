//! Codes with a purpose, SMS sign-in, password reset and change, change of number, app tokens
//! and a user's own sessions (SPEC §5a), through the use cases with in-memory fakes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::account::wrong;
use crate::support::*;
use app::account::{Proof, SignInError, SignInRequest};
use app::codes::CodeRejected;
use app::lifecycle::{ChangeMobileError, ChangePasswordError, ResetError, ResetRequest};
use app::send_code::SendCodeError;
use app::sessions::SessionError;
use domain::{CodePurpose, LimitKind, Password, SessionKind, SmsCode};
use ports::{Delivery, Event, UserDirectory};

const M: &str = "13800138000";

/// [`Harness::code_for`], after the cooldown of any earlier send.
async fn code_after_cooldown(
    h: &Harness,
    m: &str,
    purpose: CodePurpose,
    caller: Option<&app::sessions::Caller>,
) -> SmsCode {
    h.clock.advance(Duration::from_secs(60));
    h.code_for(m, purpose, caller).await
}

fn by_code(m: &str, code: SmsCode, from: &str) -> SignInRequest {
    SignInRequest {
        mobile: mobile(m),
        proof: Proof::Code(code),
        client_ip: ip(from),
    }
}

fn reset(m: &str, code: SmsCode, password: &str) -> ResetRequest {
    ResetRequest {
        mobile: mobile(m),
        code,
        password: pw(password),
    }
}

fn pw(p: &str) -> Password {
    Password::parse(p).unwrap()
}

async fn signs_in_with(h: &Harness, password: &str) -> bool {
    h.sign_in_as(M, password, "10.1.1.1", browser())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_code_works_only_for_the_purpose_it_was_sent_for() {
    let h = harness();
    h.registered(M, "secret1").await;
    let login = code_after_cooldown(&h, M, CodePurpose::Login, None).await;
    // A login code offered to reset a password is a wrong code (one attempt used) ...
    assert!(matches!(
        h.app
            .reset_password(reset(M, login.clone(), "secret2"), browser())
            .await,
        Err(ResetError::Code(CodeRejected::Mismatch {
            attempts_left: 4
        }))
    ));
    // ... and still signs in.
    h.app
        .sign_in(by_code(M, login.clone(), "10.0.0.5"), app_client(), None)
        .await
        .unwrap();
    // A reset code does not sign in, but resets.
    let reset_code = code_after_cooldown(&h, M, CodePurpose::Reset, None).await;
    assert!(matches!(
        h.app
            .sign_in(by_code(M, reset_code.clone(), "10.0.0.5"), browser(), None)
            .await,
        Err(SignInError::Code(CodeRejected::Mismatch { .. }))
    ));
    h.app
        .reset_password(reset(M, reset_code, "secret2"), browser())
        .await
        .unwrap();
    // A register code (for a new number) neither signs in nor moves a user there.
    let fresh = "13900139000";
    let register_code = code_after_cooldown(&h, fresh, CodePurpose::Register, None).await;
    let caller = h.registered("13700137000", "secret1").await;
    let caller = h.caller(&caller.token).await;
    assert!(matches!(
        h.app
            .change_mobile(caller.user.id, mobile(fresh), register_code.clone())
            .await,
        Err(ChangeMobileError::Code(CodeRejected::Mismatch { .. }))
    ));
    assert!(matches!(
        h.app
            .sign_in(by_code(fresh, register_code, "10.0.0.6"), browser(), None)
            .await,
        Err(SignInError::Code(CodeRejected::Mismatch { .. }))
    ));
}

#[tokio::test]
async fn each_purpose_needs_its_kind_of_number() {
    let h = harness();
    let user = h.registered(M, "secret1").await;
    let caller = h.caller(&user.token).await;
    let free = "13900139000";
    let refused = |purpose, m: &'static str, caller| {
        let h = &h;
        async move {
            h.app
                .send_code(h.solved_for(m, purpose, caller).await)
                .await
        }
    };
    assert!(matches!(
        refused(CodePurpose::Login, free, None).await,
        Err(SendCodeError::MobileUnregistered)
    ));
    assert!(matches!(
        refused(CodePurpose::Reset, free, None).await,
        Err(SendCodeError::MobileUnregistered)
    ));
    assert!(matches!(
        refused(CodePurpose::Register, M, None).await,
        Err(SendCodeError::MobileRegistered)
    ));
    assert!(matches!(
        refused(CodePurpose::ChangeMobile, M, Some(&caller)).await,
        Err(SendCodeError::MobileRegistered)
    ));
    assert_eq!(h.sms.count(), 1, "only the registration's code was sent");
}

#[tokio::test]
async fn a_code_to_change_the_number_needs_a_signed_in_caller_and_keeps_the_captcha() {
    let h = harness();
    let mut req = h
        .solved_for("13900139000", CodePurpose::ChangeMobile, None)
        .await;
    assert!(matches!(
        h.app.send_code(req.clone()).await,
        Err(SendCodeError::NotSignedIn)
    ));
    let user = h.registered(M, "secret1").await;
    req.caller = Some(user.user.id);
    h.app.send_code(req).await.unwrap();
}

#[tokio::test]
async fn the_silent_policy_answers_every_purpose_alike_and_sends_nothing() {
    let h = harness_with(silent_policy(), app::TestHooks::default());
    let user = h.registered(M, "secret1").await;
    let caller = h.caller(&user.token).await;
    h.events.take();
    let unknown = "13900139000";
    // Every purpose, for a number of the kind it does not take: OK, and no SMS. (The login
    // code comes last: its guesses follow.)
    for (purpose, m, by) in [
        (CodePurpose::Register, M, None),
        (CodePurpose::ChangeMobile, M, Some(&caller)),
        (CodePurpose::Reset, unknown, None),
        (CodePurpose::Login, unknown, None),
    ] {
        h.clock.advance(Duration::from_secs(60));
        let sent = h.app.send_code(h.solved_for(m, purpose, by).await).await;
        assert!(sent.is_ok(), "{purpose:?}: {sent:?}");
        assert_eq!(h.sms.count(), 1, "{purpose:?}: no SMS sent");
        assert!(
            h.events
                .take()
                .contains(&Event::CodeIssued(Delivery::Withheld)),
            "{purpose:?}"
        );
    }
    // What follows is what any wrong guess gets: DATAERR, burned after five, then NODATA.
    for left in (0..5).rev() {
        let guess = SmsCode::from_number(left);
        let from = format!("10.3.0.{left}");
        assert!(matches!(
            h.app.sign_in(by_code(unknown, guess, &from), browser(), None).await,
            Err(SignInError::Code(CodeRejected::Mismatch { attempts_left })) if attempts_left == left
        ));
    }
    assert!(matches!(
        h.app
            .sign_in(
                by_code(unknown, SmsCode::from_number(0), "10.3.1.1"),
                browser(),
                None
            )
            .await,
        Err(SignInError::Code(CodeRejected::Missing))
    ));
}

#[tokio::test]
async fn one_cooldown_and_one_budget_per_mobile_across_purposes() {
    let h = harness();
    h.registered(M, "secret1").await; // the hour's first send of five
    h.clock.advance(Duration::from_secs(60));
    h.app
        .send_code(h.solved_for(M, CodePurpose::Login, None).await)
        .await
        .unwrap();
    let refused = h
        .app
        .send_code(h.solved_for(M, CodePurpose::Reset, None).await)
        .await;
    assert!(
        matches!(&refused, Err(SendCodeError::Limited(r)) if r.limit == LimitKind::MobileCooldown),
        "expected the cooldown, got {refused:?}"
    );
    for purpose in [CodePurpose::Reset, CodePurpose::Login, CodePurpose::Reset] {
        code_after_cooldown(&h, M, purpose, None).await;
    }
    h.clock.advance(Duration::from_secs(60));
    let refused = h
        .app
        .send_code(h.solved_for(M, CodePurpose::Login, None).await)
        .await;
    assert!(
        matches!(&refused, Err(SendCodeError::Limited(r)) if r.limit == LimitKind::MobileHourly),
        "expected the hourly budget, got {refused:?}"
    );
}

#[tokio::test]
async fn sms_sign_in_consumes_the_code_and_starts_an_app_session() {
    let h = harness();
    h.registered(M, "secret1").await;
    let code = code_after_cooldown(&h, M, CodePurpose::Login, None).await;
    let signed_in = h
        .app
        .sign_in(by_code(M, code.clone(), "10.0.0.7"), app_client(), None)
        .await
        .unwrap();
    assert_eq!(signed_in.kind, SessionKind::App);
    assert_eq!(signed_in.lifetime, Duration::from_secs(30 * 24 * 3600));
    let caller = h.caller(&signed_in.token).await;
    assert_eq!(caller.user.mobile, mobile(M));
    assert_eq!(caller.session.kind, SessionKind::App);
    assert_eq!(caller.session.user_agent.as_deref(), Some("okhttp/4.12"));
    assert!(matches!(
        h.app
            .sign_in(by_code(M, code, "10.0.0.7"), browser(), None)
            .await,
        Err(SignInError::Code(CodeRejected::Missing))
    ));
}

#[tokio::test]
async fn wrong_codes_count_toward_the_sign_in_lockout() {
    let h = harness();
    h.registered(M, "secret1").await;
    let code = code_after_cooldown(&h, M, CodePurpose::Login, None).await;
    for _ in 0..4 {
        h.app
            .sign_in(by_code(M, wrong(&code), "10.4.0.1"), browser(), None)
            .await
            .unwrap_err();
    }
    // The right code, from the same client: not a failure, so it does not count.
    h.app
        .sign_in(by_code(M, code, "10.4.0.1"), browser(), None)
        .await
        .unwrap();
    let code = code_after_cooldown(&h, M, CodePurpose::Login, None).await;
    h.app
        .sign_in(by_code(M, wrong(&code), "10.4.0.1"), browser(), None)
        .await
        .unwrap_err();
    let refused = h
        .app
        .sign_in(by_code(M, code, "10.4.0.1"), browser(), None)
        .await;
    assert!(
        matches!(&refused, Err(SignInError::LockedOut(r)) if r.limit == LimitKind::LoginLockout),
        "expected the lockout after five failures, got {refused:?}"
    );
}

#[tokio::test]
async fn a_reset_replaces_the_password_and_ends_every_session() {
    let h = harness();
    let browser_session = h.registered(M, "secret1").await;
    let app_session = h
        .sign_in_as(M, "secret1", "10.0.0.8", app_client())
        .await
        .unwrap();
    let code = code_after_cooldown(&h, M, CodePurpose::Reset, None).await;
    let fresh = h
        .app
        .reset_password(reset(M, code, "brand-new"), app_client())
        .await
        .unwrap();
    assert_eq!(fresh.kind, SessionKind::App);
    for ended in [&browser_session.token, &app_session.token] {
        assert!(h.app.caller(ended).await.unwrap().is_none());
    }
    assert!(h.app.caller(&fresh.token).await.unwrap().is_some());
    assert!(!signs_in_with(&h, "secret1").await);
    assert!(signs_in_with(&h, "brand-new").await);
}

#[tokio::test]
async fn a_reset_that_fails_half_way_leaves_the_old_password_and_the_code() {
    let h = harness();
    h.registered(M, "secret1").await;
    let code = code_after_cooldown(&h, M, CodePurpose::Reset, None).await;
    // Each step after the code in turn: hashing, storing the hash, the sessions.
    let failures: [(&str, &std::sync::atomic::AtomicBool); 3] = [
        ("hashing busy", &h.hasher.busy),
        ("database writes down", &h.users.writes_down),
        ("sessions down", &h.sessions_down),
    ];
    for (what, switch) in failures {
        switch.store(true, Ordering::SeqCst);
        let failed = h
            .app
            .reset_password(reset(M, code.clone(), "brand-new"), browser())
            .await;
        switch.store(false, Ordering::SeqCst);
        assert!(failed.is_err(), "{what}: the reset fails");
        assert!(
            signs_in_with(&h, "secret1").await,
            "{what}: the old password still works"
        );
        assert!(
            !signs_in_with(&h, "brand-new").await,
            "{what}: the new one does not"
        );
    }
    h.app
        .reset_password(reset(M, code, "brand-new"), browser())
        .await
        .expect("the same code works once everything is up again");
    assert!(signs_in_with(&h, "brand-new").await);
}

#[tokio::test]
async fn a_code_whose_user_moved_away_is_missing_and_stays_used() {
    let h = harness();
    let user = h.registered(M, "secret1").await.user.id;
    let elsewhere = "13900139000";
    let move_to = |m: &'static str| {
        let h = &h;
        async move { h.users.set_mobile(user, &mobile(m)).await.unwrap() }
    };

    // A login code for M, and the user moves to another number before using it.
    let login = code_after_cooldown(&h, M, CodePurpose::Login, None).await;
    move_to(elsewhere).await;
    assert!(matches!(
        h.app
            .sign_in(by_code(M, login.clone(), "10.7.0.1"), browser(), None)
            .await,
        Err(SignInError::Code(CodeRejected::Missing))
    ));
    // It was not put back: with the user at M again, it is still missing.
    move_to(M).await;
    assert!(matches!(
        h.app
            .sign_in(by_code(M, login, "10.7.0.2"), browser(), None)
            .await,
        Err(SignInError::Code(CodeRejected::Missing))
    ));

    // The same for a reset code.
    let reset_code = code_after_cooldown(&h, M, CodePurpose::Reset, None).await;
    move_to(elsewhere).await;
    assert!(matches!(
        h.app
            .reset_password(reset(M, reset_code.clone(), "brand-new"), browser())
            .await,
        Err(ResetError::Code(CodeRejected::Missing))
    ));
    move_to(M).await;
    assert!(matches!(
        h.app
            .reset_password(reset(M, reset_code, "brand-new"), browser())
            .await,
        Err(ResetError::Code(CodeRejected::Missing))
    ));
    assert!(
        signs_in_with(&h, "secret1").await,
        "the password is as it was"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_ends_the_other_sessions() {
    let h = harness();
    let this = h.registered(M, "secret1").await;
    let other = h
        .sign_in_as(M, "secret1", "10.0.0.9", app_client())
        .await
        .unwrap();
    let caller = h.caller(&this.token).await;
    assert!(matches!(
        h.app
            .change_password(&caller, pw("not-it"), pw("brand-new"), ip("10.5.0.1"))
            .await,
        Err(ChangePasswordError::WrongPassword)
    ));
    h.app
        .change_password(&caller, pw("secret1"), pw("brand-new"), ip("10.5.0.1"))
        .await
        .unwrap();
    assert!(
        h.app.caller(&this.token).await.unwrap().is_some(),
        "the caller's own stays"
    );
    assert!(
        h.app.caller(&other.token).await.unwrap().is_none(),
        "every other ends"
    );
    assert!(signs_in_with(&h, "brand-new").await);
}

#[tokio::test]
async fn wrong_old_passwords_count_toward_the_sign_in_lockout() {
    let h = harness();
    let this = h.registered(M, "secret1").await;
    let caller = h.caller(&this.token).await;
    for _ in 0..5 {
        assert!(matches!(
            h.app
                .change_password(&caller, pw("not-it"), pw("brand-new"), ip("10.5.1.1"))
                .await,
            Err(ChangePasswordError::WrongPassword)
        ));
    }
    assert!(matches!(
        h.app
            .change_password(&caller, pw("secret1"), pw("brand-new"), ip("10.5.1.1"))
            .await,
        Err(ChangePasswordError::LockedOut(_))
    ));
}

#[tokio::test]
async fn a_password_change_that_cannot_end_the_other_sessions_is_undone() {
    let h = harness();
    let this = h.registered(M, "secret1").await;
    let caller = h.caller(&this.token).await;
    h.sessions_down.store(true, Ordering::SeqCst);
    assert!(matches!(
        h.app
            .change_password(&caller, pw("secret1"), pw("brand-new"), ip("10.5.2.1"))
            .await,
        Err(ChangePasswordError::Store(_))
    ));
    h.sessions_down.store(false, Ordering::SeqCst);
    assert!(signs_in_with(&h, "secret1").await);
    assert!(!signs_in_with(&h, "brand-new").await);
}

#[tokio::test]
async fn changing_the_number_keeps_the_user_and_their_sessions() {
    let h = harness();
    let this = h.registered(M, "secret1").await;
    let caller = h.caller(&this.token).await;
    let new = "13900139000";
    let code = code_after_cooldown(&h, new, CodePurpose::ChangeMobile, Some(&caller)).await;
    h.app
        .change_mobile(caller.user.id, mobile(new), code)
        .await
        .unwrap();
    let after = h.caller(&this.token).await;
    assert_eq!(
        (after.user.id, after.user.mobile),
        (caller.user.id, mobile(new))
    );
    assert!(h
        .sign_in_as(new, "secret1", "10.0.1.1", browser())
        .await
        .is_ok());
}

#[tokio::test]
async fn a_number_taken_meanwhile_is_refused_and_a_failed_move_keeps_the_code() {
    let h = harness();
    let this = h.registered(M, "secret1").await;
    let caller = h.caller(&this.token).await;
    let new = "13900139000";
    let code = code_after_cooldown(&h, new, CodePurpose::ChangeMobile, Some(&caller)).await;
    h.users.writes_down.store(true, Ordering::SeqCst);
    assert!(matches!(
        h.app
            .change_mobile(caller.user.id, mobile(new), code.clone())
            .await,
        Err(ChangeMobileError::Directory(_))
    ));
    h.users.writes_down.store(false, Ordering::SeqCst);
    // The code was put back; someone takes the number before the retry: the unique index
    // decides.
    h.register_directly(new).await;
    assert!(matches!(
        h.app.change_mobile(caller.user.id, mobile(new), code).await,
        Err(ChangeMobileError::MobileTaken)
    ));
    assert_eq!(h.caller(&this.token).await.user.mobile, mobile(M));
}

#[tokio::test]
async fn app_tokens_slide_and_cookies_do_not() {
    let h = harness();
    let cookie = h.registered(M, "secret1").await;
    let token = h
        .sign_in_as(M, "secret1", "10.0.2.1", app_client())
        .await
        .unwrap();
    // Used every 20 days, the token lives on; the cookie ends after its day.
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(20 * 24 * 3600));
        assert!(h.app.caller(&token.token).await.unwrap().is_some());
    }
    assert!(h.app.caller(&cookie.token).await.unwrap().is_none());
    // A use is recorded (and the lifetime renewed) at most once a minute: the one 30 s after
    // the last recorded use does not move the end, 30 days after that one.
    h.clock.advance(Duration::from_secs(30));
    assert!(h.app.caller(&token.token).await.unwrap().is_some());
    h.clock.advance(Duration::from_secs(30 * 24 * 3600 - 29));
    assert!(
        h.app.caller(&token.token).await.unwrap().is_none(),
        "unused for 30 days (the use 30 s in not counted), it ends"
    );
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions_only() {
    let h = harness();
    let mine = h.registered(M, "secret1").await;
    let my_app = h
        .sign_in_as(M, "secret1", "10.0.3.1", app_client())
        .await
        .unwrap();
    let theirs = h.registered("13900139000", "secret1").await;
    let me = h.caller(&mine.token).await;
    let them = h.caller(&theirs.token).await;

    let listed = h.app.sessions_of(me.user.id).await.unwrap();
    let kinds: Vec<_> = listed.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [SessionKind::Cookie, SessionKind::App]);
    assert_eq!(listed[0].id, me.session.id);

    // Another user's session id is not mine to end.
    assert!(matches!(
        h.app.end_session(me.user.id, &them.session.id).await,
        Err(SessionError::NotFound)
    ));
    assert!(h.app.caller(&theirs.token).await.unwrap().is_some());

    h.app.end_session(me.user.id, &listed[1].id).await.unwrap();
    assert!(h.app.caller(&my_app.token).await.unwrap().is_none());
    h.app.end_all_sessions(me.user.id).await.unwrap();
    assert!(h.app.caller(&mine.token).await.unwrap().is_none());
    assert!(h.app.caller(&theirs.token).await.unwrap().is_some());
}

#[tokio::test]
async fn each_account_change_is_reported_once_and_a_failed_one_not_at_all() {
    use ports::AccountChange::{MobileChanged, PasswordChanged, PasswordReset};
    let h = harness();
    h.registered(M, "secret1").await;
    let changes = |h: &Harness| {
        h.events
            .take_where(|e| matches!(e, Event::AccountChanged(_)))
    };

    let code = code_after_cooldown(&h, M, CodePurpose::Reset, None).await;
    h.sessions_down.store(true, Ordering::SeqCst);
    h.app
        .reset_password(reset(M, code.clone(), "brand-new"), browser())
        .await
        .unwrap_err();
    h.sessions_down.store(false, Ordering::SeqCst);
    assert_eq!(changes(&h), [], "a reset that was undone is no change");
    let fresh = h
        .app
        .reset_password(reset(M, code, "brand-new"), browser())
        .await
        .unwrap();
    assert_eq!(changes(&h), [Event::AccountChanged(PasswordReset)]);

    let caller_now = h.caller(&fresh.token).await;
    h.app
        .change_password(
            &caller_now,
            pw("brand-new"),
            pw("newer-one"),
            ip("10.6.0.1"),
        )
        .await
        .unwrap();
    assert_eq!(changes(&h), [Event::AccountChanged(PasswordChanged)]);

    let new = "13900139000";
    let code = code_after_cooldown(&h, new, CodePurpose::ChangeMobile, Some(&caller_now)).await;
    h.app
        .change_mobile(caller_now.user.id, mobile(new), code)
        .await
        .unwrap();
    assert_eq!(changes(&h), [Event::AccountChanged(MobileChanged)]);
}

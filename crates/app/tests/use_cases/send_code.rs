//! Every branch of SPEC §3, through the use case with in-memory fakes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::*;
use app::codes::CodeRejected;
use app::send_code::SendCodeError;
use app::{Policy, TestHooks};
use domain::{CaptchaId, CaptchaText, CodePurpose, LimitKind, SmsCode};

#[tokio::test]
async fn a_solved_captcha_sends_one_six_digit_code_valid_five_minutes() {
    let h = harness();
    h.random.push(&[0, 0, 0, 0, 42]); // captcha letters, then the code
    let req = h.solved("13800138000", "10.0.0.1").await;
    h.app.send_code(req).await.unwrap();
    let sent = h.sms.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, mobile("13800138000"));
    assert_eq!(sent[0].1.expose(), "000042", "zero-padded to six digits");
    assert_eq!(sent[0].2, 5, "datas [code, \"5\"]: minutes as an integer");
}

/// SPEC §6a: the SMS tells the code's lifetime in whole minutes, rounded up.
#[tokio::test]
async fn the_sms_tells_the_code_ttl_in_minutes_rounded_up() {
    for (ttl_secs, minutes) in [(301, 6), (30, 1)] {
        let h = harness_with(
            Policy {
                code_ttl: Duration::from_secs(ttl_secs),
                ..Policy::default()
            },
            TestHooks::default(),
        );
        let req = h.solved("13800138000", "10.0.0.1").await;
        h.app.send_code(req).await.unwrap();
        let sent = h.sms.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].2, minutes, "code_ttl {ttl_secs} s");
    }
}

#[tokio::test]
async fn unknown_or_expired_captcha_is_nodata() {
    let h = harness();
    let mut req = h.solved("13800138000", "10.0.0.1").await;
    req.captcha_id = CaptchaId::parse("never-issued").unwrap();
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::CaptchaMissing)
    ));

    let req = h.solved("13800138000", "10.0.0.1").await;
    h.clock.advance(Duration::from_secs(181));
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::CaptchaMissing)
    ));
    assert_eq!(h.sms.count(), 0);
}

#[tokio::test]
async fn a_captcha_works_once_even_after_a_wrong_guess() {
    let h = harness();
    let req = h.solved("13800138000", "10.0.0.1").await;
    let mut wrong = req.clone();
    wrong.captcha_text = CaptchaText::parse("ZZZZ").unwrap();
    assert!(matches!(
        h.app.send_code(wrong).await,
        Err(SendCodeError::CaptchaMismatch)
    ));
    assert!(
        matches!(
            h.app.send_code(req).await,
            Err(SendCodeError::CaptchaMissing)
        ),
        "the wrong guess used the captcha up"
    );

    let req = h.solved("13900139000", "10.0.0.1").await;
    h.app.send_code(req.clone()).await.unwrap();
    h.clock.advance(Duration::from_secs(61));
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::CaptchaMissing)
    ));
    assert_eq!(h.sms.count(), 1);
}

#[tokio::test]
async fn the_captcha_comparison_ignores_case() {
    let h = harness();
    h.random.push(&[9, 10, 11, 12]); // letters K M N P … from the alphabet
    let mut req = h.solved("13800138000", "10.0.0.1").await;
    assert!(req
        .captcha_text
        .as_str()
        .chars()
        .any(|c| c.is_ascii_alphabetic()));
    req.captcha_text = CaptchaText::parse(&req.captcha_text.as_str().to_lowercase()).unwrap();
    h.app.send_code(req).await.unwrap();
}

#[tokio::test]
async fn twenty_racing_sends_with_one_captcha_succeed_once() {
    let h = harness_with(
        Policy {
            send_limits: domain::SendLimits {
                mobile_cooldown: Duration::ZERO,
                mobile_per_hour: 100,
                mobile_per_day: 100,
                ip_per_hour: 100,
                global_per_hour: 100,
            },
            ..Policy::default()
        },
        TestHooks::default(),
    );
    let req = h.solved("13800138000", "10.0.0.1").await;
    let results = futures::future::join_all((0..20).map(|_| h.app.send_code(req.clone()))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let missing = results
        .iter()
        .filter(|r| matches!(r, Err(SendCodeError::CaptchaMissing)))
        .count();
    assert_eq!((ok, missing), (1, 19));
    assert_eq!(h.sms.count(), 1);
}

#[tokio::test]
async fn a_registered_mobile_is_refused_and_gets_no_sms() {
    let h = harness();
    h.register_directly("13800138000").await;
    let req = h.solved("13800138000", "10.0.0.1").await;
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::MobileRegistered)
    ));
    assert_eq!(h.sms.count(), 0);
}

#[tokio::test]
async fn the_silent_policy_answers_ok_sends_nothing_and_keeps_the_limits() {
    let h = harness_with(silent_policy(), TestHooks::default());
    h.register_directly("13800138000").await;
    let req = h.solved("13800138000", "10.0.0.1").await;
    h.app.send_code(req).await.unwrap();
    assert_eq!(h.sms.count(), 0);
    let again = h.solved("13800138000", "10.0.0.1").await;
    assert!(
        matches!(h.app.send_code(again).await, Err(SendCodeError::Limited(r)) if r.limit == LimitKind::MobileCooldown),
        "a registered number must look like any other: the cooldown applies"
    );
}

#[tokio::test]
async fn the_cooldown_refuses_with_retry_after_then_lets_through() {
    let h = harness();
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(20));
    match h
        .app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
    {
        Err(SendCodeError::Limited(r)) => {
            assert_eq!(r.limit, LimitKind::MobileCooldown);
            assert_eq!(r.retry_after, Duration::from_secs(40));
        }
        other => panic!("expected the cooldown, got {other:?}"),
    }
    h.clock.advance(Duration::from_secs(40));
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
    assert_eq!(h.sms.count(), 2);
}

#[tokio::test]
async fn a_new_code_replaces_the_earlier_one() {
    let h = harness();
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
    let first = h.sms.last_code();
    h.clock.advance(Duration::from_secs(60));
    h.random.push(&[0, 0, 0, 0, 777_777]);
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
    let second = h.sms.last_code();
    assert_ne!(first, second);
    let register = |code: SmsCode| app::account::RegisterRequest {
        mobile: mobile("13800138000"),
        code,
        password: domain::Password::parse("secret1").unwrap(),
    };
    assert!(matches!(
        h.app.register(register(first), browser(), None).await,
        Err(app::account::RegisterError::Code(
            app::codes::CodeRejected::Mismatch { .. }
        ))
    ));
    h.app
        .register(register(second), browser(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_send_withdraws_the_code_lifts_the_cooldown_and_still_counts() {
    let h = harness_with(
        Policy {
            send_limits: domain::SendLimits {
                mobile_per_hour: 2,
                ..domain::SendLimits::default()
            },
            ..Policy::default()
        },
        TestHooks::default(),
    );
    for mode in [SmsMode::Down, SmsMode::Reject] {
        h.sms.set(mode);
        let result = h
            .app
            .send_code(h.solved("13800138000", "10.0.0.1").await)
            .await;
        assert!(
            matches!(result, Err(SendCodeError::Provider(_))),
            "{mode:?}: {result:?}"
        );
        let code = h.sms.last_code();
        let reg = app::account::RegisterRequest {
            mobile: mobile("13800138000"),
            code,
            password: domain::Password::parse("secret1").unwrap(),
        };
        assert!(
            matches!(
                h.app.register(reg, browser(), None).await,
                Err(app::account::RegisterError::Code(
                    app::codes::CodeRejected::Missing
                ))
            ),
            "the code of a failed send is withdrawn"
        );
    }
    // Both failures count toward the hourly cap of 2, but neither left a cooldown.
    h.sms.set(SmsMode::Deliver);
    match h
        .app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
    {
        Err(SendCodeError::Limited(r)) => assert_eq!(r.limit, LimitKind::MobileHourly),
        other => panic!("expected the hourly cap, got {other:?}"),
    }
}

#[tokio::test]
async fn after_a_provider_failure_the_same_mobile_can_send_at_once() {
    let h = harness();
    h.sms.set(SmsMode::Down);
    assert!(h
        .app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .is_err());
    h.sms.set(SmsMode::Deliver);
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_providers_own_rate_limit_is_a_limit_refusal() {
    let h = harness();
    h.sms.set(SmsMode::ProviderLimit);
    match h
        .app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
    {
        Err(SendCodeError::Limited(r)) => assert_eq!(r.limit, LimitKind::Provider),
        other => panic!("expected a provider limit, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_store_or_directory_is_reported_not_hidden() {
    let h = harness();
    let req = h.solved("13800138000", "10.0.0.1").await;
    h.store_down.store(true, Ordering::SeqCst);
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::Store(_))
    ));
    h.store_down.store(false, Ordering::SeqCst);

    let req = h.solved("13800138000", "10.0.0.1").await;
    h.users.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        h.app.send_code(req).await,
        Err(SendCodeError::Directory(_))
    ));
    assert_eq!(h.sms.count(), 0);
}

#[tokio::test]
async fn test_hooks_fix_the_captcha_text_and_the_code_without_sending() {
    let mut sms_codes = HashMap::new();
    sms_codes.insert(mobile("13800138000"), SmsCode::parse("123456").unwrap());
    let h = harness_with(
        Policy::default(),
        TestHooks {
            captcha_text: Some(CaptchaText::parse("TEST").unwrap()),
            sms_codes,
        },
    );
    let (id, text) = h.captcha("fixed").await;
    assert_eq!(text.as_str(), "TEST");
    h.app
        .send_code(app::send_code::SendCodeRequest {
            mobile: mobile("13800138000"),
            captcha_id: id,
            captcha_text: CaptchaText::parse("test").unwrap(),
            client_ip: ip("10.0.0.1"),
            purpose: CodePurpose::Register,
            caller: None,
        })
        .await
        .unwrap();
    assert_eq!(h.sms.count(), 0, "a test number gets no SMS");
    let reg = app::account::RegisterRequest {
        mobile: mobile("13800138000"),
        code: SmsCode::parse("123456").unwrap(),
        password: domain::Password::parse("secret1").unwrap(),
    };
    h.app.register(reg, browser(), None).await.unwrap();
}

/// Under the silent policy a registered number gets a decoy code, so `register` answers the
/// same sequence as for a number that was really sent one: DATAERR × 5 (the fifth burns it),
/// then NODATA.
#[tokio::test]
async fn the_silent_policy_leaves_no_trace_in_what_registration_answers() {
    use app::account::{RegisterError, RegisterRequest};
    let h = harness_with(silent_policy(), TestHooks::default());
    h.register_directly("13800138000").await;
    let mut answers = Vec::new();
    for m in ["13800138000", "13900139000"] {
        h.app
            .send_code(h.solved(m, "10.0.0.1").await)
            .await
            .unwrap();
        let mut seq = Vec::new();
        for _ in 0..6 {
            let r = h
                .app
                .register(
                    RegisterRequest {
                        mobile: mobile(m),
                        code: SmsCode::parse("999999").unwrap(),
                        password: domain::Password::parse("secret1").unwrap(),
                    },
                    browser(),
                    None,
                )
                .await;
            seq.push(match r {
                Err(RegisterError::Code(CodeRejected::Mismatch { attempts_left })) => {
                    format!("DATAERR {attempts_left}")
                }
                Err(RegisterError::Code(CodeRejected::Missing)) => "NODATA".to_owned(),
                other => format!("{other:?}"),
            });
        }
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].last().unwrap(), "NODATA");
    assert_eq!(h.sms.count(), 1, "only the new number got an SMS");
}

#[tokio::test]
async fn captchas_are_capped_per_client_and_a_refusal_stores_nothing() {
    use app::captcha::IssueCaptchaError;
    let h = harness_with(
        Policy {
            captchas_per_minute: 3,
            ..Policy::default()
        },
        TestHooks::default(),
    );
    let from = ip("10.5.0.1");
    for n in 0..3 {
        let id = CaptchaId::parse(&format!("cap-{n}")).unwrap();
        h.app.issue_captcha(&id, None, from).await.unwrap();
    }
    let id = CaptchaId::parse("cap-over").unwrap();
    match h.app.issue_captcha(&id, None, from).await {
        Err(IssueCaptchaError::Limited(r)) => {
            assert_eq!(r.limit, LimitKind::CaptchaPerMinute);
            assert_eq!(r.retry_after, Duration::from_secs(60));
        }
        other => panic!("expected the captcha cap, got {:?}", other.map(|_| ())),
    }
    let req = app::send_code::SendCodeRequest {
        mobile: mobile("13800138000"),
        captcha_id: id,
        captcha_text: CaptchaText::parse("AAAA").unwrap(),
        client_ip: from,
        purpose: CodePurpose::Register,
        caller: None,
    };
    assert!(
        matches!(
            h.app.send_code(req).await,
            Err(SendCodeError::CaptchaMissing)
        ),
        "a refused captcha is not stored"
    );
    h.app
        .issue_captcha(
            &CaptchaId::parse("cap-other").unwrap(),
            None,
            ip("10.5.0.2"),
        )
        .await
        .expect("another client is not capped");
}

#[tokio::test]
async fn captchas_have_the_configured_length() {
    for length in domain::CAPTCHA_LENGTHS {
        let policy = Policy {
            captcha_length: length,
            ..Policy::default()
        };
        let h = harness_with(policy, TestHooks::default());
        let (_, text) = h.captcha("length").await;
        assert_eq!(text.as_str().len(), length);
        assert!(text
            .as_str()
            .bytes()
            .all(|b| domain::CAPTCHA_ALPHABET.contains(&b)));
    }
}

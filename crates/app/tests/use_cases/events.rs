//! What the use cases report to the metrics port: one event per outcome, in the order things
//! happened, and none that did not happen.

use std::collections::HashMap;

use crate::account::{register, registered, wrong};
use crate::support::*;
use app::TestHooks;
use domain::{CaptchaId, CodePurpose, LimitKind, SmsCode};
use ports::{CaptchaVerdict, CodeVerdict, Delivery, Event, RegistrationVerdict, SignInVerdict};

#[tokio::test]
async fn a_send_reports_the_captcha_and_the_code() {
    let h = harness();
    let req = h.solved("13800138000", "10.0.0.1").await;
    h.app.send_code(req).await.unwrap();
    assert_eq!(
        h.events.take(),
        [
            Event::CaptchaIssued,
            Event::CaptchaChecked(CaptchaVerdict::Solved),
            Event::CodeIssued(Delivery::Sms),
        ]
    );
}

#[tokio::test]
async fn a_refused_send_reports_its_limit() {
    let h = harness();
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap();
    h.events.take();
    // Within the cooldown: the captcha is right, the limit refuses.
    h.app
        .send_code(h.solved("13800138000", "10.0.0.1").await)
        .await
        .unwrap_err();
    assert_eq!(
        h.events.take(),
        [
            Event::CaptchaIssued,
            Event::CaptchaChecked(CaptchaVerdict::Solved),
            Event::Refused(LimitKind::MobileCooldown),
        ]
    );
}

#[tokio::test]
async fn the_wrong_captcha_and_the_missing_one_are_told_apart() {
    let h = harness();
    let mut req = h.solved("13800138000", "10.0.0.1").await;
    req.captcha_text = domain::CaptchaText::parse("ZZZZ").unwrap();
    h.app.send_code(req).await.unwrap_err();
    let mut req = h.solved("13800138000", "10.0.0.1").await;
    req.captcha_id = CaptchaId::parse("never-issued").unwrap();
    h.app.send_code(req).await.unwrap_err();
    let checks = h
        .events
        .take_where(|e| matches!(e, Event::CaptchaChecked(_)));
    assert_eq!(
        checks,
        [
            Event::CaptchaChecked(CaptchaVerdict::Wrong),
            Event::CaptchaChecked(CaptchaVerdict::Missing),
        ]
    );
}

#[tokio::test]
async fn withheld_and_test_number_codes_are_not_reported_as_sms() {
    let fixed = SmsCode::parse("246810").unwrap();
    let hooks = TestHooks {
        captcha_text: None,
        sms_codes: HashMap::from([(mobile("13900139000"), fixed)]),
    };
    let h = harness_with(silent_policy(), hooks);
    registered(&h).await;
    h.clock.advance(std::time::Duration::from_secs(61));
    h.events.take();
    h.app
        .send_code(h.solved("13800138000", "10.0.0.2").await)
        .await
        .unwrap();
    h.app
        .send_code(h.solved("13900139000", "10.0.0.3").await)
        .await
        .unwrap();
    let issued = h.events.take_where(|e| matches!(e, Event::CodeIssued(_)));
    assert_eq!(
        issued,
        [
            Event::CodeIssued(Delivery::Withheld),
            Event::CodeIssued(Delivery::TestNumber),
        ]
    );
}

#[tokio::test]
async fn codes_are_reported_wrong_burned_missing_and_accepted() {
    let h = harness();
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    h.events.take();
    for _ in 0..5 {
        register(&h, wrong(&code)).await.unwrap_err();
    }
    register(&h, code).await.unwrap_err();
    let mut expected = vec![Event::CodeVerified(CodeVerdict::Wrong); 4];
    expected.push(Event::CodeVerified(CodeVerdict::Burned));
    expected.push(Event::CodeVerified(CodeVerdict::Missing));
    assert_eq!(h.events.take(), expected);

    h.clock.advance(std::time::Duration::from_secs(61));
    let code = h.code_for("13800138000", CodePurpose::Register, None).await;
    h.events.take();
    register(&h, code).await.unwrap();
    assert_eq!(
        h.events.take(),
        [
            Event::CodeVerified(CodeVerdict::Accepted),
            Event::Registration(RegistrationVerdict::Registered),
        ]
    );
}

#[tokio::test]
async fn sign_ins_and_lockouts_are_reported() {
    let h = harness();
    registered(&h).await;
    h.events.take();
    h.sign_in_as("13800138000", "secret1", "10.0.0.9", browser())
        .await
        .unwrap();
    for _ in 0..5 {
        h.sign_in_as("13800138000", "wrong-password", "10.0.0.9", browser())
            .await
            .unwrap_err();
    }
    h.sign_in_as("13800138000", "secret1", "10.0.0.9", browser())
        .await
        .unwrap_err();
    let mut expected = vec![Event::SignIn(SignInVerdict::SignedIn)];
    expected.extend([Event::SignIn(SignInVerdict::BadCredentials); 5]);
    expected.push(Event::Refused(LimitKind::LoginLockout));
    assert_eq!(h.events.take(), expected);
}

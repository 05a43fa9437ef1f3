//! The rules of [`CaptchaStore`], one function each.

use ports::CaptchaStore;

use super::*;

/// put then take returns the text exactly once.
pub async fn take_returns_the_text_exactly_once<S: CaptchaStore + Clone>(store: S) {
    let id = captcha_id("contract-once");
    ok(
        store.put(&id, &text("AB3D"), LONG).await,
        "CaptchaStore::put",
    );
    let first = ok(store.take(&id).await, "CaptchaStore::take");
    assert_eq!(
        first.as_ref().map(CaptchaText::as_str),
        Some("AB3D"),
        "CaptchaStore: take after put must return the stored text"
    );
    let second = ok(store.take(&id).await, "CaptchaStore::take");
    assert!(
        second.is_none(),
        "CaptchaStore: a captcha can be taken only once"
    );
}

/// Unknown id.
pub async fn take_of_an_unknown_id_is_none<S: CaptchaStore + Clone>(store: S) {
    let unknown = ok(store.take(&captcha_id("contract-never-put")).await, "take");
    assert!(
        unknown.is_none(),
        "CaptchaStore: take of an unknown id must be None"
    );
}

/// put replaces whatever was there.
pub async fn put_replaces_the_text_under_its_id<S: CaptchaStore + Clone>(store: S) {
    let id = captcha_id("contract-replace");
    ok(store.put(&id, &text("AAAA"), LONG).await, "put");
    ok(store.put(&id, &text("BBBB"), LONG).await, "put");
    let got = ok(store.take(&id).await, "take");
    assert_eq!(
        got.as_ref().map(CaptchaText::as_str),
        Some("BBBB"),
        "CaptchaStore: put must replace the earlier text under the same id"
    );
    assert!(
        ok(store.take(&id).await, "take").is_none(),
        "CaptchaStore: a replaced captcha is still a single captcha"
    );
}

/// Ids are independent.
pub async fn ids_are_independent<S: CaptchaStore + Clone>(store: S) {
    let (a, b) = (captcha_id("contract-a"), captcha_id("contract-b"));
    ok(store.put(&a, &text("AAAA"), LONG).await, "put");
    ok(store.put(&b, &text("BBBB"), LONG).await, "put");
    let got_a = ok(store.take(&a).await, "take");
    assert_eq!(
        got_a.as_ref().map(CaptchaText::as_str),
        Some("AAAA"),
        "CaptchaStore: each id keeps its own text"
    );
    let got_b = ok(store.take(&b).await, "take");
    assert_eq!(
        got_b.as_ref().map(CaptchaText::as_str),
        Some("BBBB"),
        "CaptchaStore: taking one id must not touch another"
    );
}

/// discard removes; discarding an absent id is fine.
pub async fn discard_removes_and_an_absent_id_is_fine<S: CaptchaStore + Clone>(store: S) {
    let id = captcha_id("contract-discard");
    ok(store.put(&id, &text("CCCC"), LONG).await, "put");
    ok(store.discard(&id).await, "CaptchaStore::discard");
    assert!(
        ok(store.take(&id).await, "take").is_none(),
        "CaptchaStore: a discarded captcha must be gone"
    );
    ok(
        store.discard(&captcha_id("contract-discard-absent")).await,
        "CaptchaStore::discard of an absent id must not be an error",
    );
}

/// Of 20 concurrent takes exactly one gets the text.
pub async fn of_concurrent_takes_exactly_one_gets_the_text<S: CaptchaStore + Clone>(store: S) {
    let id = captcha_id("contract-race");
    ok(store.put(&id, &text("RACE"), LONG).await, "put");
    let results = race(20, |_| {
        let (store, id) = (store.clone(), id.clone());
        async move { ok(store.take(&id).await, "concurrent take") }
    })
    .await;
    let winners: Vec<_> = results.iter().flatten().collect();
    assert_eq!(
        winners.len(),
        1,
        "CaptchaStore: of 20 concurrent takes exactly one must get Some (take is atomic)"
    );
    assert_eq!(winners[0].as_str(), "RACE");
}

/// TTL: a short-lived captcha is gone after its TTL; a long-lived one is not.
pub async fn a_captcha_lives_until_its_ttl_and_no_longer<S: CaptchaStore + Clone>(store: S) {
    let (short, long) = (
        captcha_id("contract-ttl-short"),
        captcha_id("contract-ttl-long"),
    );
    ok(store.put(&short, &text("SHRT"), SHORT).await, "put");
    ok(store.put(&long, &text("LONG"), LONG).await, "put");
    tokio::time::sleep(AFTER_SHORT).await;
    assert!(
        ok(store.take(&short).await, "take").is_none(),
        "CaptchaStore: a captcha must be gone after its TTL"
    );
    let kept = ok(store.take(&long).await, "take");
    assert_eq!(
        kept.as_ref().map(CaptchaText::as_str),
        Some("LONG"),
        "CaptchaStore: a captcha must live until its own TTL"
    );
}

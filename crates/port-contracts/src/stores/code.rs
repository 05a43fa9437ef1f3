//! The rules of [`CodeStore`], one function each.

use ports::{CodeCheck, CodeStore, TakenCode};

use super::*;

/// `max_attempts` in every rule.
const MAX: u32 = 5;

/// `check` is `Accepted`, handing back the code as it was stored.
#[track_caller]
fn assert_accepted(check: CodeCheck, stored: &CodeDigest, rule: &str) -> TakenCode {
    match check {
        CodeCheck::Accepted(taken) => {
            assert_eq!(
                taken.digest, *stored,
                "CodeStore: Accepted must hand back the stored digest ({rule})"
            );
            taken
        }
        other => panic!("CodeStore: expected Accepted, got {other:?}: {rule}"),
    }
}

/// Right code: Accepted once, then Missing.
pub async fn the_right_code_is_accepted_once<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000001");
    ok(store.put(&m, &digest(1), LONG).await, "CodeStore::put");
    assert_accepted(
        ok(store.verify(&m, &digest(1), MAX).await, "CodeStore::verify"),
        &digest(1),
        "CodeStore: the stored digest must be Accepted",
    );
    assert_eq!(
        ok(store.verify(&m, &digest(1), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an Accepted code is deleted and must answer Missing"
    );
}

/// Never sent.
pub async fn a_mobile_without_a_code_is_missing<S: CodeStore + Clone>(store: S) {
    assert_eq!(
        ok(
            store.verify(&mobile("13900000002"), &digest(1), MAX).await,
            "verify"
        ),
        CodeCheck::Missing,
        "CodeStore: a mobile without a code must answer Missing"
    );
}

/// Wrong candidates count down; the MAX-th mismatch burns the code.
pub async fn each_mismatch_uses_one_attempt_and_the_last_burns_the_code<S: CodeStore + Clone>(
    store: S,
) {
    let m = mobile("13900000003");
    ok(store.put(&m, &digest(3), LONG).await, "put");
    for left in (0..MAX).rev() {
        assert_eq!(
            ok(store.verify(&m, &digest(99), MAX).await, "verify"),
            CodeCheck::Mismatch {
                attempts_left: left
            },
            "CodeStore: each mismatch must use exactly one attempt"
        );
    }
    assert_eq!(
        ok(store.verify(&m, &digest(3), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: after max_attempts mismatches the code is burned, even the right one is Missing"
    );
}

/// A digest differing only in its last byte is a mismatch (the whole digest is compared).
pub async fn every_byte_of_the_digest_is_compared<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000004");
    ok(store.put(&m, &digest(4), LONG).await, "put");
    let mut almost = digest(4);
    almost.0[31] ^= 1;
    assert_eq!(
        ok(store.verify(&m, &almost, MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: every byte of the digest must be compared"
    );
    // ... and attempts below the maximum do not burn it.
    assert_accepted(
        ok(store.verify(&m, &digest(4), MAX).await, "verify"),
        &digest(4),
        "CodeStore: the right code after a few mismatches must still be Accepted",
    );
}

/// put replaces the earlier code and resets its attempts.
pub async fn put_replaces_the_code_and_resets_its_attempts<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000005");
    ok(store.put(&m, &digest(5), LONG).await, "put");
    for _ in 0..MAX - 1 {
        ok(store.verify(&m, &digest(99), MAX).await, "verify");
    }
    ok(store.put(&m, &digest(6), LONG).await, "put");
    assert_eq!(
        ok(store.verify(&m, &digest(5), MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: put must replace the old code and reset the attempt count"
    );
    assert_accepted(
        ok(store.verify(&m, &digest(6), MAX).await, "verify"),
        &digest(6),
        "CodeStore: the newest code must be Accepted",
    );
}

/// withdraw is compare-and-delete.
pub async fn withdraw_deletes_only_the_live_digest<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000006");
    ok(store.put(&m, &digest(7), LONG).await, "put");
    ok(store.withdraw(&m, &digest(8)).await, "CodeStore::withdraw");
    assert_accepted(
        ok(store.verify(&m, &digest(7), MAX).await, "verify"),
        &digest(7),
        "CodeStore: withdraw with another digest must leave the newer code alone",
    );
    ok(store.put(&m, &digest(9), LONG).await, "put");
    ok(store.withdraw(&m, &digest(9)).await, "withdraw");
    assert_eq!(
        ok(store.verify(&m, &digest(9), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: withdraw with the live digest must delete it"
    );
    ok(
        store.withdraw(&mobile("13900000007"), &digest(1)).await,
        "CodeStore::withdraw with no live code must not be an error",
    );
}

/// Codes of different mobiles are independent.
pub async fn mobiles_are_independent<S: CodeStore + Clone>(store: S) {
    let (a, b) = (mobile("13900000008"), mobile("13900000009"));
    ok(store.put(&a, &digest(10), LONG).await, "put");
    ok(store.put(&b, &digest(11), LONG).await, "put");
    assert_eq!(
        ok(store.verify(&a, &digest(11), MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: another mobile's code must not match"
    );
    assert_accepted(
        ok(store.verify(&b, &digest(11), MAX).await, "verify"),
        &digest(11),
        "CodeStore: a mismatch on one mobile must not affect another",
    );
    assert_accepted(
        ok(store.verify(&a, &digest(10), MAX).await, "verify"),
        &digest(10),
        "CodeStore: consuming one mobile's code must not affect another",
    );
}

/// 20 concurrent right verifications: exactly one Accepted, the rest Missing.
pub async fn of_concurrent_right_verifications_exactly_one_is_accepted<S: CodeStore + Clone>(
    store: S,
) {
    let m = mobile("13900000010");
    ok(store.put(&m, &digest(12), LONG).await, "put");
    let results = race(20, |_| {
        let (store, m) = (store.clone(), m.clone());
        async move {
            ok(
                store.verify(&m, &digest(12), MAX).await,
                "concurrent verify",
            )
        }
    })
    .await;
    let accepted = results
        .iter()
        .filter(|r| matches!(r, CodeCheck::Accepted(_)))
        .count();
    assert_eq!(
        accepted, 1,
        "CodeStore: of 20 concurrent right verifications exactly one must be Accepted: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, CodeCheck::Accepted(_) | CodeCheck::Missing)),
        "CodeStore: the losers of the race must see Missing: {results:?}"
    );
}

/// 20 concurrent wrong verifications: each attempt is counted once, the code burns once.
pub async fn concurrent_mismatches_each_use_one_attempt<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000011");
    ok(store.put(&m, &digest(13), LONG).await, "put");
    let results = race(20, |_| {
        let (store, m) = (store.clone(), m.clone());
        async move {
            ok(
                store.verify(&m, &digest(98), MAX).await,
                "concurrent verify",
            )
        }
    })
    .await;
    let mut left: Vec<u32> = results
        .iter()
        .filter_map(|r| match r {
            CodeCheck::Mismatch { attempts_left } => Some(*attempts_left),
            _ => None,
        })
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        (0..MAX).collect::<Vec<_>>(),
        "CodeStore: concurrent mismatches must each use one attempt: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| **r == CodeCheck::Missing).count(),
        20 - MAX as usize,
        "CodeStore: after the burn, the rest must see Missing: {results:?}"
    );
}

/// TTL: gone after its TTL (a wrong guess then is Missing, not Mismatch); a long one lives.
pub async fn a_code_lives_until_its_ttl_and_no_longer<S: CodeStore + Clone>(store: S) {
    let (short, long) = (mobile("13900000012"), mobile("13900000013"));
    ok(store.put(&short, &digest(14), SHORT).await, "put");
    ok(store.put(&long, &digest(15), LONG).await, "put");
    tokio::time::sleep(AFTER_SHORT).await;
    assert_eq!(
        ok(store.verify(&short, &digest(97), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an expired code must answer Missing, even to a wrong candidate"
    );
    assert_eq!(
        ok(store.verify(&short, &digest(14), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an expired code must answer Missing"
    );
    assert_accepted(
        ok(store.verify(&long, &digest(15), MAX).await, "verify"),
        &digest(15),
        "CodeStore: a code must live until its own TTL",
    );
}

/// Accepted hands back the code as it was; restore puts it back exactly so, unless a newer
/// code is live.
pub async fn a_consumed_code_can_be_restored_as_it_was<S: CodeStore + Clone>(store: S) {
    let m = mobile("13900000020");
    ok(store.put(&m, &digest(20), LONG).await, "put");
    ok(store.verify(&m, &digest(98), MAX).await, "verify");
    ok(store.verify(&m, &digest(98), MAX).await, "verify");
    let taken = assert_accepted(
        ok(store.verify(&m, &digest(20), MAX).await, "verify"),
        &digest(20),
        "the right code after two mismatches",
    );
    assert_eq!(
        taken.mismatches, 2,
        "CodeStore: Accepted must report the mismatches the code had used"
    );
    assert!(
        taken.ttl_left <= LONG && taken.ttl_left > LONG - Duration::from_secs(60),
        "CodeStore: Accepted must report the code's remaining lifetime: {:?}",
        taken.ttl_left
    );
    assert!(
        ok(
            store.restore(&m, &taken, taken.ttl_left).await,
            "CodeStore::restore"
        ),
        "CodeStore: restore must put back a consumed code when none is live"
    );
    assert_eq!(
        ok(store.verify(&m, &digest(98), MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 3
        },
        "CodeStore: a restored code keeps the mismatches it had used"
    );
    let again = assert_accepted(
        ok(store.verify(&m, &digest(20), MAX).await, "verify"),
        &digest(20),
        "a restored code must verify again",
    );

    // A newer code wins over a restore.
    ok(store.put(&m, &digest(21), LONG).await, "put");
    assert!(
        !ok(store.restore(&m, &again, LONG).await, "restore"),
        "CodeStore: restore must not replace a live code"
    );
    assert_accepted(
        ok(store.verify(&m, &digest(21), MAX).await, "verify"),
        &digest(21),
        "the newer code must survive a restore",
    );

    // A restored code lives for the TTL given, and a zero TTL restores nothing.
    assert!(
        !ok(store.restore(&m, &again, Duration::ZERO).await, "restore"),
        "CodeStore: a zero TTL must restore nothing"
    );
    assert_eq!(
        ok(store.verify(&m, &digest(20), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: nothing restored with a zero TTL"
    );
    ok(store.restore(&m, &again, SHORT).await, "restore");
    tokio::time::sleep(AFTER_SHORT).await;
    assert_eq!(
        ok(store.verify(&m, &digest(20), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: a restored code must expire after the TTL it was restored with"
    );
}

//! What every adapter's tests share: the contract suites, written once per port and run by
//! every adapter of it, and the test doubles of the synchronous ports.
//!
//! - [`stores`]: the rules of the four store ports; `memory-store` and `redis-captcha` run them
//!   with [`store_contract_tests!`], one `#[tokio::test]` per rule.
//! - [`users`]: the rules of [`UserDirectory`](ports::UserDirectory); `diesel-users` runs them
//!   with [`user_directory_contract_tests!`] against SQLite, PostgreSQL and MySQL/MariaDB.
//! - [`FakeClock`]: a clock that moves only when a test says so.
//!
//! Each assertion names the port rule it checks, so a failure says which part of the contract
//! broke.

mod clock;
pub mod stores;
pub mod users;

pub use clock::FakeClock;

/// One `#[tokio::test]` per rule of the four store ports, in modules `captcha_store`,
/// `code_store`, `rate_limiter` and `session_store`.
///
/// `$with_store` names an async fn that runs one rule against a fresh, empty store and cleans
/// up after it:
///
/// ```ignore
/// async fn with_store<F: FnOnce(MemoryStore) -> Fut, Fut: Future<Output = ()>>(rule: F) {
///     rule(MemoryStore::new(Arc::new(SystemClock))).await
/// }
/// port_contracts::store_contract_tests!(with_store);
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($with_store:ident) => {
        $crate::contract_tests!($with_store, captcha_store => stores::captcha: [
            take_returns_the_text_exactly_once,
            take_of_an_unknown_id_is_none,
            put_replaces_the_text_under_its_id,
            ids_are_independent,
            discard_removes_and_an_absent_id_is_fine,
            of_concurrent_takes_exactly_one_gets_the_text,
            a_captcha_lives_until_its_ttl_and_no_longer,
        ]);
        $crate::contract_tests!($with_store, code_store => stores::code: [
            the_right_code_is_accepted_once,
            a_mobile_without_a_code_is_missing,
            each_mismatch_uses_one_attempt_and_the_last_burns_the_code,
            every_byte_of_the_digest_is_compared,
            put_replaces_the_code_and_resets_its_attempts,
            withdraw_deletes_only_the_live_digest,
            mobiles_are_independent,
            of_concurrent_right_verifications_exactly_one_is_accepted,
            concurrent_mismatches_each_use_one_attempt,
            a_code_lives_until_its_ttl_and_no_longer,
            a_consumed_code_can_be_restored_as_it_was,
        ]);
        $crate::contract_tests!($with_store, rate_limiter => stores::limiter: [
            the_cooldown_refuses_with_the_exact_time_left,
            the_hourly_cap_slides_and_refusals_record_nothing,
            the_hourly_wait_points_at_the_oldest_entry_in_the_window,
            the_daily_cap_slides_over_a_day,
            the_ip_cap_counts_across_mobiles,
            the_global_cap_counts_across_mobiles_and_ips,
            a_refusal_records_nothing_in_any_counter,
            the_longest_wait_wins_and_ties_go_to_the_earlier_limit,
            release_lifts_the_cooldown_but_keeps_the_counts,
            a_stale_permit_does_not_lift_a_newer_cooldown,
            login_lockout_runs_from_the_first_attempt_to_the_window_end,
            login_limits_count_per_client_and_per_account,
            a_released_attempt_no_longer_counts,
            concurrent_sign_ins_never_overrun_a_login_limit,
            the_captcha_cap_slides_per_client,
            concurrent_captchas_never_overrun_the_cap,
            ipv6_clients_are_limited_by_prefix,
            check_and_count_is_atomic_under_concurrent_sends,
            a_skewed_clock_never_waits_longer_than_the_limit,
            an_admitted_send_stores_its_code_and_a_refused_one_changes_nothing,
            an_admitted_captcha_is_stored_and_a_refused_one_changes_nothing,
        ]);
        $crate::contract_tests!($with_store, session_store => stores::session: [
            create_get_and_delete,
            ending_what_is_absent_is_not_an_error,
            a_use_is_recorded_once_the_touch_interval_has_passed,
            a_cookie_session_lives_its_ttl_from_creation_whatever_its_uses,
            an_app_session_lives_its_ttl_from_its_last_recorded_use,
            beyond_max_per_user_the_oldest_sessions_end,
            a_shorter_session_does_not_hide_longer_ones_from_the_cap,
            list_returns_the_users_live_sessions_oldest_first,
            end_ends_exactly_the_named_session_of_the_user,
            end_all_ends_every_session_of_the_user_but_the_kept_one,
            end_all_keeping_another_users_token_ends_all_of_the_user,
            concurrent_creates_never_leave_more_than_max_per_user_live,
        ]);
        $crate::contract_tests!($with_store, store_health => stores::health: [
            a_reachable_store_answers_its_health_check,
        ]);
    };
}

/// One `#[tokio::test]` per rule of [`UserDirectory`](ports::UserDirectory), in a module
/// `user_directory`. `$with_directory` names an async fn that runs one rule against a fresh,
/// empty, migrated directory, as for [`store_contract_tests!`].
#[macro_export]
macro_rules! user_directory_contract_tests {
    ($with_directory:ident) => {
        $crate::contract_tests!($with_directory, user_directory => users: [
            create_and_find,
            unknown_users_are_absent,
            second_create_is_duplicate,
            concurrent_creates_have_one_winner,
            distinct_mobiles_get_distinct_ids,
            set_password_replaces_only_that_users_hash,
            set_mobile_moves_the_user_and_frees_the_old_number,
            set_mobile_to_a_taken_number_is_duplicate,
            a_reachable_directory_answers_its_health_check,
        ]);
    };
}

/// A module `$module` with one `#[tokio::test]` per rule `$crate::$suite::$rule`, each run
/// through `$with` (an async fn in the calling module that supplies a fresh adapter). The
/// building block of the suites' macros.
#[doc(hidden)]
#[macro_export]
macro_rules! contract_tests {
    ($with:ident, $module:ident => $($suite:ident)::+ : [$($rule:ident),* $(,)?]) => {
        mod $module {
            use $crate::$($suite)::+ as suite;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $rule() {
                    super::$with(suite::$rule).await;
                }
            )*
        }
    };
}

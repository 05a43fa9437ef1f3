//! Using a code someone was sent: verify and consume it in one atomic step, and put it back
//! if what it was used for then fails. Shared by registration, SMS sign-in, password reset and
//! change of number (SPEC §5, §5a).

use std::time::Duration;

use domain::{CodePurpose, Mobile, Password, SmsCode, Timestamp, User};
use ports::{
    CodeCheck, CodeStore, CodeVerdict, DirectoryError, Event, StoreError, TakenCode, UserDirectory,
};

use crate::{App, Ports};

/// Why an offered code was not accepted. The same replies on every route that takes a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRejected {
    /// No live code for this mobile: never sent, expired, used, burned — or sent for another
    /// purpose and then replaced. NODATA.
    #[error("no live code for this mobile")]
    Missing,
    /// Wrong code, or a code sent for another purpose; one attempt used. DATAERR.
    #[error("wrong code ({attempts_left} attempts left)")]
    Mismatch { attempts_left: u32 },
}

/// A mobile proven by a code, and a new password for it: a registration, or the reset of a
/// forgotten password (the HTTP layer has checked `password == password2`).
#[derive(Debug, Clone)]
pub struct CodeAndPassword {
    pub mobile: Mobile,
    pub code: SmsCode,
    pub password: Password,
}

/// A code that was accepted and consumed, and when: what [`App::put_back`] needs.
#[derive(Debug, Clone, Copy)]
struct Consumed {
    taken: TakenCode,
    at: Timestamp,
}

/// The error of a use case that spends a code (registering, signing in by code, resetting the
/// password, changing the number).
pub(crate) trait CodeStepError: From<CodeRejected> + From<StoreError> {
    /// Whether the step after the code failed such that the code stays used (the number was
    /// taken meanwhile, or its user moved away), rather than for want of a working store,
    /// database or hasher (put back for a retry).
    fn keeps_code_used(&self) -> bool;
}

impl<P: Ports> App<P> {
    /// Consume `code` as the live code of `mobile` for `purpose`, then run `step`; if the step
    /// fails other than on its merits (see [`CodeStepError`]), put the code back, so that the
    /// user can retry with the SMS they have (SPEC §4a).
    pub(crate) async fn spend_code<T, E>(
        &self,
        mobile: &Mobile,
        purpose: CodePurpose,
        code: &SmsCode,
        step: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        E: CodeStepError,
    {
        let consumed = self.consume_code(mobile, purpose, code).await??;
        let done = step.await;
        if matches!(&done, Err(e) if !e.keeps_code_used()) {
            self.put_back(mobile, consumed).await;
        }
        done
    }

    /// The user of `mobile`, whose code was just accepted. One who moved to another number
    /// since the code was sent: as if there were no code (and it stays used).
    pub(crate) async fn user_of_code<E>(&self, mobile: &Mobile) -> Result<User, E>
    where
        E: From<CodeRejected> + From<DirectoryError>,
    {
        match self.adapters.users.find_by_mobile(mobile).await? {
            Some(user) => Ok(user),
            None => Err(CodeRejected::Missing.into()),
        }
    }

    /// Verify `code` as the live code of `mobile` for `purpose`, consuming it if it matches
    /// (one atomic step, constant-time compare); a mismatch uses one attempt and the last one
    /// burns the code. The purpose is part of the digest, so a code sent for one purpose is
    /// simply a wrong code for any other.
    async fn consume_code(
        &self,
        mobile: &Mobile,
        purpose: CodePurpose,
        code: &SmsCode,
    ) -> Result<Result<Consumed, CodeRejected>, StoreError> {
        let a = &self.adapters;
        let candidate = self.code_hasher.digest(mobile, purpose, code);
        let at = a.clock.now();
        let check = a
            .codes()
            .verify(mobile, &candidate, self.policy.code_max_attempts)
            .await?;
        Ok(match check {
            CodeCheck::Accepted(taken) => {
                self.record(Event::CodeVerified(CodeVerdict::Accepted));
                Ok(Consumed { taken, at })
            }
            CodeCheck::Missing => {
                self.record(Event::CodeVerified(CodeVerdict::Missing));
                Err(CodeRejected::Missing)
            }
            CodeCheck::Mismatch { attempts_left } => {
                tracing::info!(attempts_left, "wrong code");
                self.record(Event::CodeVerified(match attempts_left {
                    0 => CodeVerdict::Burned,
                    _ => CodeVerdict::Wrong,
                }));
                Err(CodeRejected::Mismatch { attempts_left })
            }
        })
    }

    /// Put a consumed code back for the time it had left, because what it was used for failed
    /// (store or database down, hashing busy): the user retries with the SMS they have.
    async fn put_back(&self, mobile: &Mobile, consumed: Consumed) {
        let a = &self.adapters;
        let spent = a.clock.now().millis().saturating_sub(consumed.at.millis());
        let ttl = consumed
            .taken
            .ttl_left
            .saturating_sub(Duration::from_millis(spent));
        match a.codes().restore(mobile, &consumed.taken, ttl).await {
            Ok(true) => tracing::info!("the code was put back"),
            Ok(false) => {
                tracing::info!("the code was not put back: a newer code is live, or none left")
            }
            Err(e) => tracing::error!(error = ?e, "the code could not be put back"),
        }
    }
}

//! Using a code someone was sent: verify and consume it in one atomic step, and put it back
//! if what it was used for then fails. Shared by registration, SMS sign-in, password reset and
//! change of number (SPEC §5, §5a).

use std::time::Duration;

use domain::{CodePurpose, Mobile, SmsCode, Timestamp};
use ports::{CodeCheck, CodeStore, CodeVerdict, Event, StoreError, TakenCode};

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

/// A code that was accepted and consumed, and when: what [`App::put_back`] needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Consumed {
    taken: TakenCode,
    at: Timestamp,
}

impl<P: Ports> App<P> {
    /// Verify `code` as the live code of `mobile` for `purpose`, consuming it if it matches
    /// (one atomic step, constant-time compare); a mismatch uses one attempt and the last one
    /// burns the code. The purpose is part of the digest, so a code sent for one purpose is
    /// simply a wrong code for any other.
    pub(crate) async fn consume_code(
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
    pub(crate) async fn put_back(&self, mobile: &Mobile, consumed: Consumed) {
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

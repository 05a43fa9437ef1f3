//! Send an SMS code: the seed handler (`send_sms_code`), corrected. SPEC §3, step by step.
//!
//! Steps 1 and 2 (a JSON object with three non-empty strings; `mobile` fully matching
//! `^1[3-9]\d{9}$`) happen before this use case runs: the HTTP layer can only build a
//! [`SendCodeRequest`] from valid input, and answers PARAMERR otherwise.

use std::net::IpAddr;

use domain::{
    CaptchaId, CaptchaText, CodeDigest, CodePurpose, LimitKind, Mobile, Refusal, SmsCode, UserId,
};
use ports::{
    CaptchaStore, CaptchaVerdict, CodeStore, Delivery, DirectoryError, Event, NewCode, RateLimiter,
    SendPermit, SmsError, SmsSender, StoreError, UserDirectory,
};

use crate::{App, Ports, RegisteredMobilePolicy};

/// A well-formed request to send a code.
#[derive(Debug, Clone)]
pub struct SendCodeRequest {
    pub mobile: Mobile,
    pub captcha_id: CaptchaId,
    pub captcha_text: CaptchaText,
    /// The client's address, for the per-IP limit.
    pub client_ip: IpAddr,
    /// What the code will be for; it works for nothing else.
    pub purpose: CodePurpose,
    /// The signed-in user asking, if any: [`CodePurpose::ChangeMobile`] needs one.
    pub caller: Option<UserId>,
}

/// Every way a send can end other than success, each with its own reply.
#[derive(Debug, thiserror::Error)]
pub enum SendCodeError {
    /// A code to change the number, asked for by someone not signed in. SESSIONERR; the
    /// captcha is not used up.
    #[error("not signed in")]
    NotSignedIn,
    /// Step 3: no captcha under that id (never issued, expired, or already used). NODATA.
    #[error("captcha missing or expired")]
    CaptchaMissing,
    /// Step 4: the guess does not match (the captcha is used up all the same). DATAERR.
    #[error("captcha text does not match")]
    CaptchaMismatch,
    /// Step 5: the mobile belongs to a user already (`register`, `change_mobile`). DATAEXIST.
    #[error("mobile already registered")]
    MobileRegistered,
    /// Step 5: the mobile belongs to nobody (`login`, `reset`). USERERR.
    #[error("mobile not registered")]
    MobileUnregistered,
    /// Step 6, or the provider's own limit in step 8. REQERR with `Retry-After`.
    #[error("rate limited ({})", .0.limit.as_str())]
    Limited(Refusal),
    /// Step 8: the provider failed or refused. THIRDERR.
    #[error("SMS provider failed")]
    Provider(#[source] SmsError),
    /// The state store failed. DBERR.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user directory failed. DBERR.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// How long to ask a client to wait after the provider's own rate limit answered.
const PROVIDER_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

impl<P: Ports> App<P> {
    #[tracing::instrument(
        skip_all,
        fields(mobile = %req.mobile, ip = %req.client_ip, purpose = req.purpose.as_str())
    )]
    pub async fn send_code(&self, req: SendCodeRequest) -> Result<(), SendCodeError> {
        let a = &self.adapters;
        if req.purpose == CodePurpose::ChangeMobile && req.caller.is_none() {
            return Err(SendCodeError::NotSignedIn);
        }

        // 3. Consume the captcha atomically: single use, even when the guess is wrong and
        //    even when requests race for it.
        let Some(shown) = a.captchas().take(&req.captcha_id).await? else {
            self.record(Event::CaptchaChecked(CaptchaVerdict::Missing));
            return Err(SendCodeError::CaptchaMissing);
        };

        // 4. Compare, ignoring case.
        if !shown.matches(&req.captcha_text) {
            self.record(Event::CaptchaChecked(CaptchaVerdict::Wrong));
            return Err(SendCodeError::CaptchaMismatch);
        }
        self.record(Event::CaptchaChecked(CaptchaVerdict::Solved));

        // 5. Codes to register or move to a number go only to numbers nobody has; codes to
        //    sign in or reset a password only to registered ones. The wrong kind of number gets
        //    no code (or, under the silent policy, an OK that sends nothing — after the
        //    limits, so that its replies look like a real send's).
        let registered = a.users.exists(&req.mobile).await?;
        let eligible = registered == req.purpose.needs_registered_mobile();
        if !eligible && self.policy.registered_mobile == RegisteredMobilePolicy::Refuse {
            return Err(if registered {
                SendCodeError::MobileRegistered
            } else {
                SendCodeError::MobileUnregistered
            });
        }

        // 6 and 7. Check and reserve every limit and store the new code, in one atomic step:
        //    if a limit refuses, nothing is recorded and an earlier code stays as it was. The
        //    code is 6 digits from the CSPRNG, kept only as a keyed digest, replacing any
        //    earlier one — whatever its purpose: one live code per mobile. The wrong kind of
        //    number (silent policy) gets a decoy digest that no code matches, stored the same
        //    way, so that what follows (`POST /users` with a guess: DATAERR, burned after
        //    `code_max_attempts`, then NODATA) is the same as for any other number.
        let fixed = self.hooks.sms_codes.get(&req.mobile);
        let code = match fixed {
            Some(code) => code.clone(),
            None => SmsCode::from_number(a.random.below(1_000_000)),
        };
        let digest = if eligible {
            self.code_hasher.digest(&req.mobile, req.purpose, &code)
        } else {
            CodeDigest(a.random.bytes32())
        };
        let now = a.clock.now();
        let new_code = NewCode {
            digest,
            ttl: self.policy.code_ttl,
        };
        let permit = match a
            .limiter()
            .acquire_send(
                &req.mobile,
                self.client(req.client_ip),
                &self.policy.send_limits,
                now,
                &new_code,
            )
            .await?
        {
            Ok(permit) => permit,
            Err(refusal) => return Err(self.refused(refusal)),
        };

        // 8. Send it. On failure the stored code is withdrawn and the cooldown lifted; the
        //    hourly and daily counts stay, so failures cannot be used to probe for free.
        if !eligible {
            tracing::info!("wrong kind of number: answered OK without sending (silent policy)");
            self.record(Event::CodeIssued(Delivery::Withheld));
            return Ok(());
        }
        if fixed.is_some() {
            tracing::info!("test number: code stored, no SMS sent (testing.sms_codes)");
            self.record(Event::CodeIssued(Delivery::TestNumber));
            return Ok(());
        }
        self.record(Event::CodeIssued(Delivery::Sms));
        let minutes = self.policy.code_valid_minutes();
        if let Err(e) = a.sms.send_code(&req.mobile, &code, minutes).await {
            if let Err(w) = a.codes().withdraw(&req.mobile, &digest).await {
                tracing::error!(error = ?w, "could not withdraw the code of a failed send");
            }
            self.release(&permit).await;
            return Err(match e {
                SmsError::RateLimited { .. } => self.refused(Refusal {
                    limit: LimitKind::Provider,
                    retry_after: PROVIDER_RETRY_AFTER,
                }),
                other => SendCodeError::Provider(other),
            });
        }

        // 9. Done. Neither the code nor the full mobile has been logged or returned.
        tracing::info!("code sent");
        Ok(())
    }

    fn refused(&self, refusal: Refusal) -> SendCodeError {
        tracing::info!(limit = refusal.limit.as_str(), "send refused by a limit");
        self.record(Event::Refused(refusal.limit));
        SendCodeError::Limited(refusal)
    }

    async fn release(&self, permit: &SendPermit) {
        if let Err(e) = self.adapters.limiter().release_cooldown(permit).await {
            tracing::error!(error = ?e, "could not lift the cooldown of a failed send");
        }
    }
}

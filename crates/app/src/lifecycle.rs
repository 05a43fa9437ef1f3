//! The rest of an account's life (SPEC §5a): a forgotten password reset by code, a password
//! changed by its owner, a move to a new number.
//!
//! A change is either done or not done: when something fails half-way, what was already
//! changed is undone — a new password hash is set back to the old one, a consumed code is
//! put back — so a retry starts from where the user began. (Sessions already ended stay
//! ended: the safe side.)

use std::net::IpAddr;

use domain::{CodePurpose, Mobile, Password, PasswordHash, Refusal, SmsCode, User, UserId};
use ports::{
    AccountChange, DirectoryError, Event, HashError, PasswordHasher, SessionStore, StoreError,
    UserDirectory,
};

use crate::account::AttemptError;
use crate::codes::{CodeAndPassword, CodeRejected, CodeStepError};
use crate::sessions::{Caller, Device, SignedIn};
use crate::{App, Ports};

/// A well-formed reset (the HTTP layer has checked `password == password2`).
pub type ResetRequest = CodeAndPassword;

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// No live `reset` code for this mobile, or a wrong one. NODATA / DATAERR.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The old password is wrong (counted against the sign-in limits). PWDERR.
    #[error("wrong old password")]
    WrongPassword,
    /// Too many failures from this client, or for this account. IPERR with `Retry-After`.
    #[error("locked out ({})", .0.limit.as_str())]
    LockedOut(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeMobileError {
    /// No live `change_mobile` code for the new number, or a wrong one. NODATA / DATAERR.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// Another user has the new number (the unique index decides a race). DATAEXIST.
    #[error("mobile taken")]
    MobileTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl<P: Ports> App<P> {
    /// Reset a forgotten password with a `reset` code: a new hash, every session and app token
    /// of the user ended, and a fresh session on `device`.
    ///
    /// Order: consume the code, hash, store the hash, end the sessions, start the new one. The
    /// hash is stored before the sessions end, so that no sign-in with the old password can
    /// slip in between and outlive the reset. If a step after the code fails, the old hash is
    /// set back and the code put back: the old password still works and the same SMS can be
    /// used again (the sessions already ended stay ended — the safe side). A user who moved to
    /// another number since the code was sent is as if there were no code, and it stays used.
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile))]
    pub async fn reset_password(
        &self,
        req: ResetRequest,
        device: Device,
    ) -> Result<SignedIn, ResetError> {
        let CodeAndPassword {
            mobile,
            code,
            password,
        } = req;
        let signed_in = self
            .spend_code(
                &mobile,
                CodePurpose::Reset,
                &code,
                self.replace_password(&mobile, password, device),
            )
            .await?;
        tracing::info!(user_id = signed_in.user.id.0, "password reset");
        self.record(Event::AccountChanged(AccountChange::PasswordReset));
        Ok(signed_in)
    }

    /// The signed-in caller changes their password: the old one must be right (each attempt
    /// counts against the sign-in lockouts, as a sign-in would); then every other session and
    /// app token of theirs ends, and the caller's own stays.
    #[tracing::instrument(skip_all, fields(user_id = caller.user.id.0, ip = %client_ip))]
    pub async fn change_password(
        &self,
        caller: &Caller,
        old: Password,
        new: Password,
        client_ip: IpAddr,
    ) -> Result<(), ChangePasswordError> {
        let a = &self.adapters;
        let user = &caller.user;
        self.counted_as_sign_in(client_ip, &user.mobile, async {
            let stored = Some(user.password_hash.clone());
            if a.hasher.verify(old, stored).await? {
                Ok(())
            } else {
                tracing::info!("wrong old password");
                Err(ChangePasswordError::WrongPassword)
            }
        })
        .await?;
        let hash = a.hasher.hash(new).await?;
        let others = a.sessions().end_all(user.id, Some(&caller.token));
        self.with_new_password::<_, ChangePasswordError>(user, &hash, others)
            .await?;
        tracing::info!("password changed");
        self.record(Event::AccountChanged(AccountChange::PasswordChanged));
        Ok(())
    }

    /// Move the signed-in `user` to `mobile`, proven by a `change_mobile` code sent to it. The
    /// user keeps their id and every session. If the number was taken meanwhile the unique
    /// index refuses it (the code stays used, as for a registration that lost its race).
    #[tracing::instrument(skip_all, fields(user_id = user.0, mobile = %mobile))]
    pub async fn change_mobile(
        &self,
        user: UserId,
        mobile: Mobile,
        code: SmsCode,
    ) -> Result<(), ChangeMobileError> {
        let moved = async {
            self.adapters
                .users
                .set_mobile(user, &mobile)
                .await
                .map_err(|e| match e {
                    DirectoryError::Duplicate => ChangeMobileError::MobileTaken,
                    other => other.into(),
                })
        };
        self.spend_code(&mobile, CodePurpose::ChangeMobile, &code, moved)
            .await?;
        tracing::info!("mobile changed");
        self.record(Event::AccountChanged(AccountChange::MobileChanged));
        Ok(())
    }

    /// The password of `mobile`'s user replaced, every session of theirs ended and a new one
    /// started on `device` — or, if a step fails, the password as it was.
    async fn replace_password(
        &self,
        mobile: &Mobile,
        password: Password,
        device: Device,
    ) -> Result<SignedIn, ResetError> {
        let a = &self.adapters;
        let user = self.user_of_code::<ResetError>(mobile).await?;
        let hash = a.hasher.hash(password).await?;
        let sessions = async {
            a.sessions().end_all(user.id, None).await?;
            self.start_session(user.clone(), device, None).await
        };
        self.with_new_password(&user, &hash, sessions).await
    }

    /// Store `hash` as `user`'s password, then run `then` (ending sessions); if `then` fails,
    /// set the hash they had back: the password changes only together with what must follow.
    async fn with_new_password<T, E>(
        &self,
        user: &User,
        hash: &PasswordHash,
        then: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, E>
    where
        E: From<DirectoryError> + From<StoreError>,
    {
        let users = &self.adapters.users;
        users.set_password(user.id, hash).await?;
        match then.await {
            Ok(done) => Ok(done),
            Err(e) => {
                match users.set_password(user.id, &user.password_hash).await {
                    Ok(()) => tracing::info!("the change failed: the old password was set back"),
                    Err(e) => tracing::error!(
                        error = ?e,
                        "the change failed and the old password could not be set back"
                    ),
                }
                Err(e.into())
            }
        }
    }
}

impl CodeStepError for ResetError {
    fn keeps_code_used(&self) -> bool {
        matches!(self, Self::Code(_))
    }
}

impl CodeStepError for ChangeMobileError {
    fn keeps_code_used(&self) -> bool {
        matches!(self, Self::Code(_) | Self::MobileTaken)
    }
}

impl AttemptError for ChangePasswordError {
    fn locked_out(refusal: Refusal) -> Self {
        Self::LockedOut(refusal)
    }
    fn failed_on_merits(&self) -> bool {
        matches!(self, Self::WrongPassword)
    }
}

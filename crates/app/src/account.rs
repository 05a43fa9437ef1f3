//! Register, sign in (by password or by code), sign out (SPEC §5, §5a).

use std::net::IpAddr;

use domain::{
    CodePurpose, Mobile, NewUser, Password, PasswordHash, Refusal, SessionToken, SmsCode, User,
};
use ports::{
    DirectoryError, Event, HashError, PasswordHasher, RateLimiter, RegistrationVerdict,
    SessionStore, SignInVerdict, StoreError, UserDirectory,
};

use crate::codes::{CodeAndPassword, CodeRejected, CodeStepError};
use crate::sessions::{Device, SignedIn};
use crate::{App, Ports};

/// A well-formed registration (the HTTP layer has checked `password == password2`).
pub type RegisterRequest = CodeAndPassword;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No live `register` code for this mobile, or a wrong one. NODATA / DATAERR.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// The mobile is registered already (including a lost race). DATAEXIST.
    #[error("mobile already registered")]
    MobileRegistered,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("user directory failed")]
    Directory(#[source] DirectoryError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// How a sign-in proves who it is.
#[derive(Debug, Clone)]
pub enum Proof {
    Password(Password),
    /// A `login` code sent to the mobile (SMS sign-in).
    Code(SmsCode),
}

#[derive(Debug, Clone)]
pub struct SignInRequest {
    pub mobile: Mobile,
    pub proof: Proof,
    pub client_ip: IpAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown mobile or wrong password: one reply for both. DATAERR.
    #[error("unknown mobile or wrong password")]
    BadCredentials,
    /// SMS sign-in: no live `login` code, or a wrong one. NODATA / DATAERR.
    #[error(transparent)]
    Code(#[from] CodeRejected),
    /// Too many failures from this client, or for this account. IPERR with `Retry-After`.
    #[error("sign-in locked out ({})", .0.limit.as_str())]
    LockedOut(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl<P: Ports> App<P> {
    /// Verify and consume the code (one atomic step), create the user, sign them in on
    /// `device`. `previous` is the caller's current session cookie, if any: it ends (the
    /// session is rotated).
    ///
    /// The code is checked before any hashing, so wrong codes cost no argon2 work. If hashing
    /// or creating the user then fails (busy, store or database down), the code is put back as
    /// it was, so the user can retry with the SMS they have (SPEC §4a); the unique index on the
    /// mobile still decides any race between two registrations.
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile))]
    pub async fn register(
        &self,
        req: RegisterRequest,
        device: Device,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, RegisterError> {
        let CodeAndPassword {
            mobile,
            code,
            password,
        } = req;
        let created = self
            .spend_code(
                &mobile,
                CodePurpose::Register,
                &code,
                self.create_user(mobile.clone(), password),
            )
            .await;
        if let Err(RegisterError::MobileRegistered) = created {
            self.record(Event::Registration(RegistrationVerdict::Taken));
        }
        let user = created?;
        tracing::info!(user_id = user.id.0, "user registered");
        self.record(Event::Registration(RegistrationVerdict::Registered));
        Ok(self.start_session(user, device, previous).await?)
    }

    async fn create_user(&self, mobile: Mobile, password: Password) -> Result<User, RegisterError> {
        let a = &self.adapters;
        let password_hash = a.hasher.hash(password).await?;
        a.users
            .create(NewUser {
                mobile,
                password_hash,
            })
            .await
            .map_err(|e| match e {
                DirectoryError::Duplicate => RegisterError::MobileRegistered,
                other => RegisterError::Directory(other),
            })
    }

    /// Sign in by password (the same work and the same reply for an unknown mobile) or by a
    /// `login` code, and start a new session on `device`. Each attempt is counted against the
    /// client's and the account's sign-in limits *before* any hashing or code check, in one
    /// atomic step, and given back if it succeeds or is never judged (busy, store or database
    /// down) — so concurrent attempts cannot overrun a limit (SPEC §4a).
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile, ip = %req.client_ip))]
    pub async fn sign_in(
        &self,
        req: SignInRequest,
        device: Device,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, SignInError> {
        let user = self
            .counted_as_sign_in(req.client_ip, &req.mobile, async {
                match req.proof {
                    Proof::Password(password) => self.check_password(&req.mobile, password).await,
                    Proof::Code(code) => self.check_login_code(&req.mobile, &code).await,
                }
            })
            .await?;
        tracing::info!(user_id = user.id.0, "signed in");
        self.record(Event::SignIn(SignInVerdict::SignedIn));
        Ok(self.start_session(user, device, previous).await?)
    }

    /// Run `judge` as one sign-in attempt of `mobile` from `client_ip`: admitted by the
    /// lockouts (counted as a failure first), and given back unless `judge` failed on its
    /// merits (see [`AttemptError`]).
    pub(crate) async fn counted_as_sign_in<T, E>(
        &self,
        client_ip: IpAddr,
        mobile: &Mobile,
        judge: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        E: AttemptError,
    {
        let a = &self.adapters;
        let permit = match a
            .limiter()
            .acquire_login(
                self.client(client_ip),
                mobile,
                &self.policy.login_limits,
                a.clock.now(),
            )
            .await?
        {
            Ok(permit) => permit,
            Err(refusal) => {
                tracing::info!(limit = refusal.limit.as_str(), "sign-in refused by a limit");
                self.record(Event::Refused(refusal.limit));
                return Err(E::locked_out(refusal));
            }
        };
        let judged = judge.await;
        if !matches!(&judged, Err(e) if e.failed_on_merits()) {
            // A success, or no judgement at all: the attempt is not a failure.
            if let Err(e) = a.limiter().release_login(&permit).await {
                tracing::error!(error = ?e, "could not give back a sign-in attempt");
            }
        }
        judged
    }

    /// The user, if `password` is theirs; `BadCredentials` for a wrong password or an unknown
    /// mobile.
    async fn check_password(
        &self,
        mobile: &Mobile,
        password: Password,
    ) -> Result<User, SignInError> {
        let a = &self.adapters;
        let user = a.users.find_by_mobile(mobile).await?;
        let stored: Option<PasswordHash> = user.as_ref().map(|u| u.password_hash.clone());
        let verified = a.hasher.verify(password, stored).await?;
        match user.filter(|_| verified) {
            Some(user) => Ok(user),
            None => {
                tracing::info!("sign-in failed");
                self.record(Event::SignIn(SignInVerdict::BadCredentials));
                Err(SignInError::BadCredentials)
            }
        }
    }

    /// The user of `mobile`, if `code` is its live `login` code (consumed). A code that was
    /// accepted but whose user cannot be read is put back.
    async fn check_login_code(&self, mobile: &Mobile, code: &SmsCode) -> Result<User, SignInError> {
        let user = self
            .spend_code(mobile, CodePurpose::Login, code, self.user_of_code(mobile))
            .await;
        if let Err(SignInError::Code(_)) = user {
            self.record(Event::SignIn(SignInVerdict::BadCredentials));
        }
        user
    }

    /// End the session (absent or unknown tokens are fine): sign-out, or an app revoking its
    /// token.
    pub async fn sign_out(&self, token: &SessionToken) -> Result<(), StoreError> {
        self.adapters.sessions().delete(token).await
    }
}

/// The error of a use case whose attempts count against the sign-in lockouts (signing in,
/// changing the password).
pub(crate) trait AttemptError: From<StoreError> {
    /// The lockout's refusal.
    fn locked_out(refusal: Refusal) -> Self;
    /// Whether the attempt failed on its merits (a wrong password or code: it stays counted),
    /// rather than never being judged (busy, store or database down: given back).
    fn failed_on_merits(&self) -> bool;
}

impl CodeStepError for RegisterError {
    fn keeps_code_used(&self) -> bool {
        matches!(self, Self::Code(_) | Self::MobileRegistered)
    }
}

impl CodeStepError for SignInError {
    fn keeps_code_used(&self) -> bool {
        matches!(self, Self::Code(_))
    }
}

impl AttemptError for SignInError {
    fn locked_out(refusal: Refusal) -> Self {
        Self::LockedOut(refusal)
    }
    fn failed_on_merits(&self) -> bool {
        matches!(self, Self::BadCredentials | Self::Code(_))
    }
}

//! Register, sign in, sign out, and who is signed in (SPEC §5).

use std::net::IpAddr;
use std::time::Duration;

use domain::{
    CodeDigest, Mobile, NewUser, Password, PasswordHash, Refusal, SessionToken, SmsCode, User,
};
use ports::{
    CodeCheck, CodeStore, CodeVerdict, DirectoryError, Event, HashError, PasswordHasher,
    RateLimiter, RegistrationVerdict, SessionStore, SignInVerdict, StoreError, TakenCode,
    UserDirectory,
};

use crate::{App, Ports};

/// A well-formed registration (the HTTP layer has checked `password == password2`).
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub mobile: Mobile,
    pub code: SmsCode,
    pub password: Password,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No live code for this mobile. NODATA.
    #[error("no live code for this mobile")]
    CodeMissing,
    /// Wrong code; one attempt used. DATAERR.
    #[error("wrong code ({attempts_left} attempts left)")]
    CodeMismatch { attempts_left: u32 },
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

#[derive(Debug, Clone)]
pub struct SignInRequest {
    pub mobile: Mobile,
    pub password: Password,
    pub client_ip: IpAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown mobile or wrong password: one reply for both. DATAERR.
    #[error("unknown mobile or wrong password")]
    BadCredentials,
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

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// A signed-in user, the token of the new session (the cookie value) and how long it lives.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: SessionToken,
    pub lifetime: Duration,
}

impl<P: Ports> App<P> {
    /// Verify and consume the code (one atomic step), create the user, sign them in.
    /// `previous` is the caller's current session, if any: it ends (the session is rotated).
    ///
    /// The code is checked before any hashing, so wrong codes cost no argon2 work. If hashing
    /// or creating the user then fails (busy, store or database down), the code is put back as
    /// it was, so the user can retry with the SMS they have (SPEC §4a); the unique index on the
    /// mobile still decides any race between two registrations.
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile))]
    pub async fn register(
        &self,
        req: RegisterRequest,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, RegisterError> {
        let a = &self.adapters;
        let candidate: CodeDigest = self.code_hasher.digest(&req.mobile, &req.code);
        let taken_at = a.clock.now();
        let taken = match a
            .codes()
            .verify(&req.mobile, &candidate, self.policy.code_max_attempts)
            .await?
        {
            CodeCheck::Accepted(taken) => {
                self.record(Event::CodeVerified(CodeVerdict::Accepted));
                taken
            }
            CodeCheck::Missing => {
                self.record(Event::CodeVerified(CodeVerdict::Missing));
                return Err(RegisterError::CodeMissing);
            }
            CodeCheck::Mismatch { attempts_left } => {
                tracing::info!(attempts_left, "wrong code");
                self.record(Event::CodeVerified(match attempts_left {
                    0 => CodeVerdict::Burned,
                    _ => CodeVerdict::Wrong,
                }));
                return Err(RegisterError::CodeMismatch { attempts_left });
            }
        };
        let user = match self.create_user(req.mobile.clone(), req.password).await {
            Ok(user) => user,
            Err(e) => {
                if matches!(e, RegisterError::MobileRegistered) {
                    self.record(Event::Registration(RegistrationVerdict::Taken));
                } else {
                    self.put_back(&req.mobile, &taken, taken_at).await;
                }
                return Err(e);
            }
        };
        tracing::info!(user_id = user.id.0, "user registered");
        self.record(Event::Registration(RegistrationVerdict::Registered));
        Ok(self.start_session(user, previous).await?)
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

    /// Put a consumed code back for the time it had left, because its registration failed.
    async fn put_back(&self, mobile: &Mobile, taken: &TakenCode, taken_at: domain::Timestamp) {
        let a = &self.adapters;
        let spent = a.clock.now().millis().saturating_sub(taken_at.millis());
        let ttl = taken.ttl_left.saturating_sub(Duration::from_millis(spent));
        match a.codes().restore(mobile, taken, ttl).await {
            Ok(true) => tracing::info!("registration failed: the code was put back"),
            Ok(false) => tracing::info!("registration failed: a newer code is live, or none left"),
            Err(e) => {
                tracing::error!(error = ?e, "registration failed and the code could not be put back")
            }
        }
    }

    /// Check the password (the same work and the same reply for an unknown mobile) and start
    /// a new session. Each attempt is counted against the client's and the account's sign-in
    /// limits *before* any hashing, in one atomic step, and given back if it succeeds or is
    /// never judged (busy, store or database down) — so concurrent attempts cannot overrun a
    /// limit (SPEC §4a).
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile, ip = %req.client_ip))]
    pub async fn sign_in(
        &self,
        req: SignInRequest,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, SignInError> {
        let a = &self.adapters;
        let permit = match a
            .limiter()
            .acquire_login(
                self.client(req.client_ip),
                &req.mobile,
                &self.policy.login_limits,
                a.clock.now(),
            )
            .await?
        {
            Ok(permit) => permit,
            Err(refusal) => {
                tracing::info!(limit = refusal.limit.as_str(), "sign-in refused by a limit");
                self.record(Event::Refused(refusal.limit));
                return Err(SignInError::LockedOut(refusal));
            }
        };
        let judged = self.check_password(&req.mobile, req.password).await;
        if !matches!(judged, Ok(None)) {
            // A success, or no judgement at all: the attempt is not a failure.
            if let Err(e) = a.limiter().release_login(&permit).await {
                tracing::error!(error = ?e, "could not give back a sign-in attempt");
            }
        }
        let Some(user) = judged? else {
            tracing::info!("sign-in failed");
            self.record(Event::SignIn(SignInVerdict::BadCredentials));
            return Err(SignInError::BadCredentials);
        };
        tracing::info!(user_id = user.id.0, "signed in");
        self.record(Event::SignIn(SignInVerdict::SignedIn));
        Ok(self.start_session(user, previous).await?)
    }

    /// The user, if `password` is theirs; `None` for a wrong password or an unknown mobile.
    async fn check_password(
        &self,
        mobile: &Mobile,
        password: Password,
    ) -> Result<Option<User>, SignInError> {
        let a = &self.adapters;
        let user = a.users.find_by_mobile(mobile).await?;
        let stored: Option<PasswordHash> = user.as_ref().map(|u| u.password_hash.clone());
        let verified = a.hasher.verify(password, stored).await?;
        Ok(user.filter(|_| verified))
    }

    /// End the session (absent or unknown tokens are fine).
    pub async fn sign_out(&self, token: &SessionToken) -> Result<(), StoreError> {
        self.adapters.sessions().delete(token).await
    }

    /// The user of a live session, if any.
    pub async fn current_user(&self, token: &SessionToken) -> Result<Option<User>, SessionError> {
        let Some(id) = self.adapters.sessions().get(token).await? else {
            return Ok(None);
        };
        Ok(self.adapters.users.find_by_id(id).await?)
    }

    async fn start_session(
        &self,
        user: User,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, StoreError> {
        let a = &self.adapters;
        if let Some(previous) = previous {
            a.sessions().delete(previous).await?;
        }
        let token = SessionToken::from_random(a.random.bytes32());
        let lifetime = self.policy.session_ttl;
        a.sessions()
            .create(&token, user.id, lifetime, self.policy.sessions_per_user)
            .await?;
        Ok(SignedIn {
            user,
            token,
            lifetime,
        })
    }
}

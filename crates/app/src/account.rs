//! Register, sign in, sign out, and who is signed in (SPEC §5).

use std::net::IpAddr;
use std::time::Duration;

use domain::{CodeDigest, Mobile, NewUser, Password, Refusal, SessionToken, SmsCode, User};
use ports::{
    CodeCheck, CodeStore, DirectoryError, HashError, PasswordHasher, RateLimiter, SessionStore,
    StoreError, UserDirectory,
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
    /// Too many failures from this IP. IPERR with `Retry-After`.
    #[error("client IP locked out")]
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
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile))]
    pub async fn register(
        &self,
        req: RegisterRequest,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, RegisterError> {
        let a = &self.adapters;
        let candidate: CodeDigest = self.code_hasher.digest(&req.mobile, &req.code);
        match a
            .codes()
            .verify(&req.mobile, &candidate, self.policy.code_max_attempts)
            .await?
        {
            CodeCheck::Accepted => {}
            CodeCheck::Missing => return Err(RegisterError::CodeMissing),
            CodeCheck::Mismatch { attempts_left } => {
                tracing::info!(attempts_left, "wrong code");
                return Err(RegisterError::CodeMismatch { attempts_left });
            }
        }
        let password_hash = a.hasher.hash(req.password).await?;
        let user = a
            .users
            .create(NewUser {
                mobile: req.mobile,
                password_hash,
            })
            .await
            .map_err(|e| match e {
                DirectoryError::Duplicate => RegisterError::MobileRegistered,
                other => RegisterError::Directory(other),
            })?;
        tracing::info!(user_id = user.id.0, "user registered");
        Ok(self.start_session(user, previous).await?)
    }

    /// Check the password (the same work and the same reply for an unknown mobile), count
    /// failures per client IP, and start a new session.
    #[tracing::instrument(skip_all, fields(mobile = %req.mobile, ip = %req.client_ip))]
    pub async fn sign_in(
        &self,
        req: SignInRequest,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, SignInError> {
        let a = &self.adapters;
        let limits = &self.policy.login_limits;
        if let Some(refusal) = a
            .limiter()
            .login_lockout(req.client_ip, limits, a.clock.now())
            .await?
        {
            return Err(SignInError::LockedOut(refusal));
        }
        let user = a.users.find_by_mobile(&req.mobile).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = a.hasher.verify(req.password, stored).await?;
        let user = match user {
            Some(user) if verified => user,
            _ => {
                a.limiter()
                    .record_login_failure(req.client_ip, limits, a.clock.now())
                    .await?;
                tracing::info!("sign-in failed");
                return Err(SignInError::BadCredentials);
            }
        };
        tracing::info!(user_id = user.id.0, "signed in");
        Ok(self.start_session(user, previous).await?)
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
        a.sessions().create(&token, user.id, lifetime).await?;
        Ok(SignedIn {
            user,
            token,
            lifetime,
        })
    }
}

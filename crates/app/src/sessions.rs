//! Sessions: starting one for a browser (cookie) or an app (bearer token), who a token
//! belongs to, and a user's view of their own sessions (SPEC §5a).

use std::time::Duration;

use domain::{Session, SessionId, SessionKind, SessionToken, User, UserId};
use ports::{DirectoryError, NewSession, SessionStore, StoreError, UserDirectory};

use crate::{App, Ports};

/// The client a new session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: SessionKind,
    /// Its `User-Agent`, cleaned (`domain::user_agent`), shown in the user's session list.
    pub user_agent: Option<String>,
}

/// A signed-in user, the token of their new session (the cookie value, or the app's bearer
/// token) and how long it lives (for an app: from its last use).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: SessionToken,
    pub kind: SessionKind,
    pub lifetime: Duration,
}

/// The signed-in user of a request, with the session it came by.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub session: Session,
    pub token: SessionToken,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// `DELETE /user/sessions/{id}`: the caller has no live session by that id. NODATA.
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl<P: Ports> App<P> {
    /// The live session `token` names, if any (recording its use, which renews an app token's
    /// lifetime): the store alone, for a route that needs only who is asking, not their row.
    /// Malformed, unknown, expired and ended tokens all are `None`.
    pub async fn session(&self, token: &SessionToken) -> Result<Option<Session>, StoreError> {
        let a = &self.adapters;
        a.sessions().get(token, a.clock.now()).await
    }

    /// The signed-in user of `token`: its [session](Self::session) and the user's row.
    pub async fn caller(&self, token: &SessionToken) -> Result<Option<Caller>, SessionError> {
        let Some(session) = self.session(token).await? else {
            return Ok(None);
        };
        let user = self.adapters.users.find_by_id(session.user).await?;
        Ok(user.map(|user| Caller {
            user,
            session,
            token: token.clone(),
        }))
    }

    /// The user's live sessions, cookies and app tokens alike, oldest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        self.adapters.sessions().list(user).await
    }

    /// End one of the user's sessions (it may be the one asking).
    pub async fn end_session(&self, user: UserId, id: &SessionId) -> Result<(), SessionError> {
        if self.adapters.sessions().end(user, id).await? {
            tracing::info!(user_id = user.0, "a session was ended by its user");
            Ok(())
        } else {
            Err(SessionError::NotFound)
        }
    }

    /// Sign out everywhere: end every session of the user, the one asking included.
    pub async fn end_all_sessions(&self, user: UserId) -> Result<(), StoreError> {
        self.adapters.sessions().end_all(user, None).await?;
        tracing::info!(user_id = user.0, "every session was ended by its user");
        Ok(())
    }

    /// Start a session for `user` on `device`; a browser's `previous` session ends (the cookie
    /// is rotated, against session fixation). Beyond `session.max_per_user` the user's oldest
    /// session ends.
    pub(crate) async fn start_session(
        &self,
        user: User,
        device: Device,
        previous: Option<&SessionToken>,
    ) -> Result<SignedIn, StoreError> {
        let a = &self.adapters;
        if let (SessionKind::Cookie, Some(previous)) = (device.kind, previous) {
            a.sessions().delete(previous).await?;
        }
        let token = SessionToken::from_random(a.random.bytes32());
        let lifetime = match device.kind {
            SessionKind::Cookie => self.policy.session_ttl,
            SessionKind::App => self.policy.app_session_ttl,
        };
        a.sessions()
            .create(NewSession {
                token: &token,
                id: &SessionId::from_random(a.random.bytes32()),
                user: user.id,
                kind: device.kind,
                user_agent: device.user_agent.as_deref(),
                now: a.clock.now(),
                ttl: lifetime,
                max_per_user: self.policy.sessions_per_user,
            })
            .await?;
        Ok(SignedIn {
            user,
            token,
            kind: device.kind,
            lifetime,
        })
    }
}

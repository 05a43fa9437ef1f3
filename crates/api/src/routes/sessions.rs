//! A user's own sessions and app tokens (SPEC §5a): list them, end one, end all.

use actix_web::{web, HttpRequest};
use domain::{Session, SessionId, Timestamp};
use serde_json::{json, Value};

use super::State;
use crate::openapi::answers::{EndAllSessions, EndSession, Replies, SessionList};
use crate::reply::{Answer, Reply};

/// List the signed-in user's live sessions and app tokens, oldest first.
///
/// Each has an `id` (to end it with `DELETE /api/v1.0/user/sessions/{id}`), its `kind`
/// (`cookie` for a browser, `app` for a bearer token), `created_at` and `last_used_at` (RFC
/// 3339, UTC; a use is recorded at most once a minute), the `user_agent` it signed in with,
/// and whether it is the `current` one. Never a token.
#[utoipa::path(
    get,
    path = "/api/v1.0/user/sessions",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    responses(Replies<SessionList>),
)]
pub async fn list(state: web::Data<State>, req: HttpRequest) -> Answer {
    let this = state.session(&req).await?;
    let sessions: Vec<Value> = state
        .app
        .sessions_of(this.user)
        .await?
        .iter()
        .map(|s| describe(s, s.id == this.id))
        .collect();
    Ok(Reply::ok("成功").with_data(json!({ "sessions": sessions })))
}

fn describe(session: &Session, current: bool) -> Value {
    json!({
        "id": session.id.as_str(),
        "kind": session.kind.as_str(),
        "created_at": rfc3339(session.created_at),
        "last_used_at": rfc3339(session.last_used_at),
        "user_agent": session.user_agent,
        "current": current,
    })
}

/// `2026-12-01T20:56:48Z` (whole seconds, UTC).
fn rfc3339(at: Timestamp) -> String {
    let secs = i64::try_from(at.millis() / 1000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Sign out everywhere: end every session and app token of the signed-in user, this one
/// included (a browser's cookie is cleared).
#[utoipa::path(
    delete,
    path = "/api/v1.0/user/sessions",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    responses(Replies<EndAllSessions>),
)]
pub async fn end_all(state: web::Data<State>, req: HttpRequest) -> Answer {
    let this = state.session(&req).await?;
    state.app.end_all_sessions(this.user).await?;
    Ok(state.session_ended(&req, Reply::ok("已在所有设备退出登录")))
}

/// End one session or app token of the signed-in user, by its `id` (it may be the caller's
/// own: then a browser's cookie is cleared). Another user's session id is NODATA, like an
/// unknown one.
#[utoipa::path(
    delete,
    path = "/api/v1.0/user/sessions/{id}",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    params(("id" = String, Path, description = "A session's id from the list: 32 hex characters.",
        pattern = "^[0-9a-f]{32}$", example = "4f1c0e5a9b2d47c8a1e3f5b7d9c0a2e4")),
    responses(Replies<EndSession>),
)]
pub async fn end_one(state: web::Data<State>, req: HttpRequest, path: web::Path<String>) -> Answer {
    let this = state.session(&req).await?;
    let id = SessionId::parse(&path).map_err(|_| Reply::param("会话编号无效"))?;
    state.app.end_session(this.user, &id).await?;
    let reply = Reply::ok("已结束该会话");
    Ok(if id == this.id {
        state.session_ended(&req, reply)
    } else {
        reply
    })
}

//! The wire format (SPEC §2): every handled outcome is HTTP 200 with
//! `{"errno": "<string>", "errmsg": "…"}` (plus `data` where noted) and
//! `Content-Type: application/json`. This module owns the mapping from use-case errors to it;
//! causes go to the log, never to the client.

use std::fmt;

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use app::account::{RegisterError, SignInError};
use app::captcha::IssueCaptchaError;
use app::codes::CodeRejected;
use app::lifecycle::{ChangeMobileError, ChangePasswordError, ResetError};
use app::send_code::SendCodeError;
use app::sessions::SessionError;
use domain::{CaptchaImage, LimitKind, Refusal};
use ports::StoreError;
use serde_json::{json, Value};

/// The RET table every seed imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    Ok,
    DbErr,
    NoData,
    DataExist,
    DataErr,
    SessionErr,
    LoginErr,
    ParamErr,
    UserErr,
    RoleErr,
    PwdErr,
    ReqErr,
    IpErr,
    ThirdErr,
    IoErr,
    ServerErr,
    UnknownErr,
}

impl Errno {
    /// Every code, in the table's order.
    pub const ALL: [Errno; 17] = [
        Errno::Ok,
        Errno::DbErr,
        Errno::NoData,
        Errno::DataExist,
        Errno::DataErr,
        Errno::SessionErr,
        Errno::LoginErr,
        Errno::ParamErr,
        Errno::UserErr,
        Errno::RoleErr,
        Errno::PwdErr,
        Errno::ReqErr,
        Errno::IpErr,
        Errno::ThirdErr,
        Errno::IoErr,
        Errno::ServerErr,
        Errno::UnknownErr,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Errno::Ok => "0",
            Errno::DbErr => "4001",
            Errno::NoData => "4002",
            Errno::DataExist => "4003",
            Errno::DataErr => "4004",
            Errno::SessionErr => "4101",
            Errno::LoginErr => "4102",
            Errno::ParamErr => "4103",
            Errno::UserErr => "4104",
            Errno::RoleErr => "4105",
            Errno::PwdErr => "4106",
            Errno::ReqErr => "4201",
            Errno::IpErr => "4202",
            Errno::ThirdErr => "4301",
            Errno::IoErr => "4302",
            Errno::ServerErr => "4500",
            Errno::UnknownErr => "4501",
        }
    }

    /// The name in the RET table every seed imports.
    pub fn name(self) -> &'static str {
        match self {
            Errno::Ok => "OK",
            Errno::DbErr => "DBERR",
            Errno::NoData => "NODATA",
            Errno::DataExist => "DATAEXIST",
            Errno::DataErr => "DATAERR",
            Errno::SessionErr => "SESSIONERR",
            Errno::LoginErr => "LOGINERR",
            Errno::ParamErr => "PARAMERR",
            Errno::UserErr => "USERERR",
            Errno::RoleErr => "ROLEERR",
            Errno::PwdErr => "PWDERR",
            Errno::ReqErr => "REQERR",
            Errno::IpErr => "IPERR",
            Errno::ThirdErr => "THIRDERR",
            Errno::IoErr => "IOERR",
            Errno::ServerErr => "SERVERERR",
            Errno::UnknownErr => "UNKOWNERR",
        }
    }

    pub fn default_msg(self) -> &'static str {
        match self {
            Errno::Ok => "成功",
            Errno::DbErr => "数据库查询错误",
            Errno::NoData => "无数据",
            Errno::DataExist => "数据已存在",
            Errno::DataErr => "数据错误",
            Errno::SessionErr => "用户未登录",
            Errno::LoginErr => "用户登录失败",
            Errno::ParamErr => "参数错误",
            Errno::UserErr => "用户不存在或未激活",
            Errno::RoleErr => "用户身份错误",
            Errno::PwdErr => "密码错误",
            Errno::ReqErr => "非法请求或请求次数受限",
            Errno::IpErr => "IP受限",
            Errno::ThirdErr => "第三方系统错误",
            Errno::IoErr => "文件读写错误",
            Errno::ServerErr => "内部错误",
            Errno::UnknownErr => "未知错误",
        }
    }
}

#[derive(serde::Serialize)]
struct Wire<'a> {
    errno: &'static str,
    errmsg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

/// What every handler returns: `Ok` with the reply of a success, `Err` with the errno reply of
/// what went wrong. Both are HTTP 200; `?` turns any use-case error into its reply.
pub type Answer = Result<Reply, Reply>;

/// One reply: an errno body (or, for a captcha, an image), plus `Retry-After` and cookies.
#[derive(Clone)]
pub struct Reply {
    pub errno: Errno,
    pub errmsg: String,
    pub data: Option<Value>,
    pub retry_after: Option<u64>,
    image: Option<Box<CaptchaImage>>,
    cookies: Vec<Cookie<'static>>,
}

impl Reply {
    pub fn new(errno: Errno, errmsg: impl Into<String>) -> Self {
        Self {
            errno,
            errmsg: errmsg.into(),
            data: None,
            retry_after: None,
            image: None,
            cookies: Vec::new(),
        }
    }

    pub fn ok(errmsg: impl Into<String>) -> Self {
        Self::new(Errno::Ok, errmsg)
    }

    pub fn of(errno: Errno) -> Self {
        Self::new(errno, errno.default_msg())
    }

    pub fn param(errmsg: impl Into<String>) -> Self {
        Self::new(Errno::ParamErr, errmsg)
    }

    /// SESSIONERR "false": no credential, or a malformed, unknown, expired or ended one — one
    /// reply for all, on every route (SPEC §5a).
    pub fn not_signed_in() -> Self {
        Self::new(Errno::SessionErr, "false")
    }

    /// A captcha image instead of an errno body.
    pub fn image(image: CaptchaImage) -> Self {
        Self {
            image: Some(Box::new(image)),
            ..Self::ok("")
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn with_cookie(mut self, cookie: Cookie<'static>) -> Self {
        self.cookies.push(cookie);
        self
    }

    /// REQERR (or `errno`) with `Retry-After` and `data.retry_after`, in words a user reads.
    pub fn limited(errno: Errno, refusal: &Refusal) -> Self {
        let secs = refusal.retry_after_secs();
        Self::new(errno, limit_message(refusal.limit, secs)).with_retry_after(secs)
    }

    /// `Retry-After: secs` and `data.retry_after`.
    fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self.with_data(json!({ "retry_after": secs }))
    }

    pub fn body(&self) -> Value {
        serde_json::to_value(self.wire()).unwrap_or(Value::Null)
    }

    /// `errno` first, then `errmsg`, then `data`, as the seeds' `jsonify` printed them.
    fn wire(&self) -> Wire<'_> {
        Wire {
            errno: self.errno.code(),
            errmsg: &self.errmsg,
            data: self.data.as_ref(),
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let mut builder = HttpResponse::Ok();
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(secs) = self.retry_after {
            builder.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        for cookie in &self.cookies {
            builder.cookie(cookie.clone());
        }
        if let Some(image) = self.image {
            let image = *image;
            return builder
                .insert_header((header::CONTENT_TYPE, image.content_type))
                .body(image.bytes);
        }
        builder.insert_header((header::CONTENT_TYPE, "application/json"));
        // For the request metrics (`web::request_span`): which errno this reply carried.
        builder.extensions_mut().insert(self.errno);
        match serde_json::to_string(&self.wire()) {
            Ok(text) => builder.body(text),
            Err(e) => {
                tracing::error!(error = %e, "could not serialise a reply");
                builder.body(r#"{"errno":"4500","errmsg":"内部错误"}"#)
            }
        }
    }
}

/// Errno and message only: `data` may hold a user's own number, which no log should show.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reply({} {})", self.errno.code(), self.errmsg)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {}: {}", self.errno.code(), self.errmsg)
    }
}

impl actix_web::Responder for Reply {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.into_response()
    }
}

/// An errno reply is the answer of a handler that failed: still HTTP 200 and the errno body.
impl ResponseError for Reply {
    fn status_code(&self) -> StatusCode {
        StatusCode::OK
    }

    fn error_response(&self) -> HttpResponse {
        self.clone().into_response()
    }
}

fn wait_words(secs: u64) -> String {
    if secs < 120 {
        format!("{secs}秒")
    } else if secs < 7200 {
        format!("{}分钟", secs.div_ceil(60))
    } else {
        format!("{}小时", secs.div_ceil(3600))
    }
}

fn limit_message(limit: LimitKind, secs: u64) -> String {
    let wait = wait_words(secs);
    match limit {
        LimitKind::MobileCooldown => format!("发送过于频繁，请{wait}后再试"),
        LimitKind::MobileHourly => format!("该手机号一小时内发送次数已达上限，请{wait}后再试"),
        LimitKind::MobileDaily => format!("该手机号今日发送次数已达上限，请{wait}后再试"),
        LimitKind::IpHourly => format!("当前网络发送次数过多，请{wait}后再试"),
        LimitKind::GlobalHourly => format!("短信服务繁忙，请{wait}后再试"),
        LimitKind::LoginLockout => format!("登录失败次数过多，请{wait}后再试"),
        LimitKind::AccountLockout => format!("该账号登录失败次数过多，请{wait}后再试"),
        LimitKind::CaptchaPerMinute => format!("图片验证码请求过于频繁，请{wait}后再试"),
        LimitKind::Provider => format!("短信发送过于频繁，请{wait}后再试"),
    }
}

/// The message every captcha failure carries, since some front ends never reload the image.
const CLICK_TO_REFRESH: &str = "，请点击图片刷新";

fn store_failed(e: &StoreError) -> Reply {
    tracing::error!(error = ?e, "state store failed");
    Reply::new(Errno::DbErr, "数据库查询错误，请稍后再试")
}

fn directory_failed(e: &ports::DirectoryError) -> Reply {
    tracing::error!(error = ?e, "user directory failed");
    Reply::of(Errno::DbErr)
}

/// Busy: REQERR "服务繁忙" with `Retry-After: 1`, at once (SPEC §4a).
fn hash_failed(e: &ports::HashError) -> Reply {
    match e {
        ports::HashError::Busy => {
            tracing::warn!("password hashing at capacity: request refused");
            Reply::new(Errno::ReqErr, "服务繁忙，请稍后再试").with_retry_after(1)
        }
        ports::HashError::Failed(_) => {
            tracing::error!(error = ?e, "password hashing failed");
            Reply::of(Errno::ServerErr)
        }
    }
}

impl From<SendCodeError> for Reply {
    fn from(e: SendCodeError) -> Self {
        match e {
            SendCodeError::CaptchaMissing => {
                Reply::new(Errno::NoData, format!("图片验证码已过期{CLICK_TO_REFRESH}"))
            }
            SendCodeError::CaptchaMismatch => {
                Reply::new(Errno::DataErr, format!("图片验证码错误{CLICK_TO_REFRESH}"))
            }
            SendCodeError::NotSignedIn => Reply::not_signed_in(),
            SendCodeError::MobileRegistered => Reply::new(Errno::DataExist, "该手机号已注册"),
            SendCodeError::MobileUnregistered => Reply::new(Errno::UserErr, "该手机号尚未注册"),
            SendCodeError::Limited(refusal) => Reply::limited(Errno::ReqErr, &refusal),
            SendCodeError::Provider(cause) => {
                tracing::warn!(error = ?cause, "SMS provider failed");
                Reply::new(Errno::ThirdErr, "短信发送失败，请稍后再试")
            }
            SendCodeError::Store(cause) => store_failed(&cause),
            SendCodeError::Directory(cause) => directory_failed(&cause),
        }
    }
}

impl From<IssueCaptchaError> for Reply {
    fn from(e: IssueCaptchaError) -> Self {
        match e {
            IssueCaptchaError::Limited(refusal) => Reply::limited(Errno::ReqErr, &refusal),
            IssueCaptchaError::Store(cause) => store_failed(&cause),
            IssueCaptchaError::Render(cause) => {
                tracing::error!(error = ?cause, "captcha rendering failed");
                Reply::new(Errno::IoErr, "图片验证码生成失败")
            }
        }
    }
}

impl From<CodeRejected> for Reply {
    fn from(e: CodeRejected) -> Self {
        match e {
            CodeRejected::Missing => Reply::new(Errno::NoData, "短信验证码已过期或未发送"),
            CodeRejected::Mismatch { attempts_left: 0 } => {
                Reply::new(Errno::DataErr, "短信验证码错误次数过多，请重新获取")
            }
            CodeRejected::Mismatch { .. } => Reply::new(Errno::DataErr, "短信验证码错误"),
        }
    }
}

impl From<RegisterError> for Reply {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Code(rejected) => rejected.into(),
            RegisterError::MobileRegistered => Reply::new(Errno::DataExist, "该手机号已注册"),
            RegisterError::Store(cause) => store_failed(&cause),
            RegisterError::Directory(cause) => directory_failed(&cause),
            RegisterError::Hash(cause) => hash_failed(&cause),
        }
    }
}

impl From<SignInError> for Reply {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadCredentials => Reply::new(Errno::DataErr, "手机号或密码错误"),
            SignInError::Code(rejected) => rejected.into(),
            SignInError::LockedOut(refusal) => Reply::limited(Errno::IpErr, &refusal),
            SignInError::Store(cause) => store_failed(&cause),
            SignInError::Directory(cause) => directory_failed(&cause),
            SignInError::Hash(cause) => hash_failed(&cause),
        }
    }
}

impl From<SessionError> for Reply {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NotFound => Reply::new(Errno::NoData, "会话不存在或已结束"),
            SessionError::Store(cause) => store_failed(&cause),
            SessionError::Directory(cause) => directory_failed(&cause),
        }
    }
}

impl From<ResetError> for Reply {
    fn from(e: ResetError) -> Self {
        match e {
            ResetError::Code(rejected) => rejected.into(),
            ResetError::Store(cause) => store_failed(&cause),
            ResetError::Directory(cause) => directory_failed(&cause),
            ResetError::Hash(cause) => hash_failed(&cause),
        }
    }
}

impl From<ChangePasswordError> for Reply {
    fn from(e: ChangePasswordError) -> Self {
        match e {
            ChangePasswordError::WrongPassword => Reply::new(Errno::PwdErr, "原密码错误"),
            ChangePasswordError::LockedOut(refusal) => Reply::limited(Errno::IpErr, &refusal),
            ChangePasswordError::Store(cause) => store_failed(&cause),
            ChangePasswordError::Directory(cause) => directory_failed(&cause),
            ChangePasswordError::Hash(cause) => hash_failed(&cause),
        }
    }
}

impl From<ChangeMobileError> for Reply {
    fn from(e: ChangeMobileError) -> Self {
        match e {
            ChangeMobileError::Code(rejected) => rejected.into(),
            ChangeMobileError::MobileTaken => Reply::new(Errno::DataExist, "该手机号已注册"),
            ChangeMobileError::Store(cause) => store_failed(&cause),
            ChangeMobileError::Directory(cause) => directory_failed(&cause),
        }
    }
}

impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Self {
        store_failed(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limited_replies_carry_seconds_in_words_and_data() {
        let r = Reply::limited(
            Errno::ReqErr,
            &Refusal {
                limit: LimitKind::MobileCooldown,
                retry_after: Duration::from_millis(59_001),
            },
        );
        assert_eq!(r.retry_after, Some(60));
        assert_eq!(r.errmsg, "发送过于频繁，请60秒后再试");
        assert_eq!(r.body()["data"]["retry_after"], 60);
        assert_eq!(r.body()["errno"], "4201");
    }

    #[test]
    fn long_waits_read_in_minutes_or_hours() {
        assert_eq!(wait_words(3000), "50分钟");
        assert_eq!(wait_words(20_000), "6小时");
    }

    #[test]
    fn captcha_failures_say_click_to_refresh() {
        for e in [
            SendCodeError::CaptchaMissing,
            SendCodeError::CaptchaMismatch,
        ] {
            assert!(Reply::from(e).errmsg.ends_with("请点击图片刷新"));
        }
    }
}

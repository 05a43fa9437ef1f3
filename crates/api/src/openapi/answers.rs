//! What each route answers, for the document: every errno reply a client can get from it —
//! code, name, errmsg, when, and whether `Retry-After` comes with it.
//!
//! A handler's `#[utoipa::path]` says `responses(Replies<SendCode>)`; [`Replies`] turns the
//! use case's [`Answers`] into the one HTTP 200 response (SPEC §2) with
//! - a Markdown table in its description (errno, errmsg, when),
//! - the same rows as data in the response's `x-errno` extension,
//! - one example body per row, and a `Retry-After` header where a row carries it.
//!
//! The route's protection adds its refusals (REQERR) to the same table: see
//! [`super::add_protection`]. The use-case rows here are what `reply.rs` maps each error to; the
//! tests below build every error of every use case and check that its reply is listed, and
//! that every listed row is some error's reply.

use std::marker::PhantomData;

use serde_json::{json, Value};
use utoipa::openapi::content::Content;
use utoipa::openapi::example::Example;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use crate::reply::Errno;
use crate::reply::Errno::*;

/// The response extension that lists a route's errno replies.
pub const X_ERRNO: &str = "x-errno";

/// One errno reply a route can give.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub errno: Errno,
    /// The reply's errmsg (for a limit, as it reads for the example's wait).
    pub errmsg: &'static str,
    /// When a client gets it.
    pub when: &'static str,
    /// The example's wait, for a reply that carries `Retry-After` and `data.retry_after`.
    pub retry_after: Option<u64>,
    /// An example of the reply's `data`, as JSON text.
    pub data: Option<&'static str>,
}

const fn reply(errno: Errno, errmsg: &'static str, when: &'static str) -> Outcome {
    Outcome {
        errno,
        errmsg,
        when,
        retry_after: None,
        data: None,
    }
}

const fn limited(errno: Errno, errmsg: &'static str, secs: u64, when: &'static str) -> Outcome {
    Outcome {
        retry_after: Some(secs),
        ..reply(errno, errmsg, when)
    }
}

const fn ok_with(errmsg: &'static str, data: &'static str, when: &'static str) -> Outcome {
    Outcome {
        data: Some(data),
        ..reply(Ok, errmsg, when)
    }
}

impl Outcome {
    /// The reply's body.
    pub fn body(&self) -> Value {
        let mut body = json!({ "errno": self.errno.code(), "errmsg": self.errmsg });
        if let Some(secs) = self.retry_after {
            body["data"] = json!({ "retry_after": secs });
        } else if let Some(data) = self.data {
            body["data"] = serde_json::from_str(data).unwrap_or(Value::Null);
        }
        body
    }

    /// The row of `x-errno`.
    fn x_errno(&self) -> Value {
        json!({
            "errno": self.errno.code(),
            "name": self.errno.name(),
            "errmsg": self.errmsg,
            "when": self.when,
            "retry_after": self.retry_after.is_some(),
        })
    }

    /// The row of the description's table.
    fn row(&self) -> String {
        let retry = if self.retry_after.is_some() {
            " (`Retry-After`, `data.retry_after`)"
        } else {
            ""
        };
        format!(
            "| `{}` {} | {} | {}{retry} |\n",
            self.errno.code(),
            self.errno.name(),
            self.errmsg,
            self.when
        )
    }
}

/// What a use case answers.
pub trait Answers {
    /// The first line of the response's description: what a success is.
    const SUCCESS: &'static str;
    /// Its errno replies, in the order the use case can give them (the success first where
    /// it is an errno reply). Slices, so that shared groups (input errors) are written once.
    const OUTCOMES: &'static [&'static [Outcome]];
    /// What the reply sets in `Set-Cookie`, besides the `csrf_token` every response may set.
    const SET_COOKIE: Option<&'static str> = None;

    /// Media types of the 200 response other than the errno JSON (a captcha's image).
    fn other_content() -> Vec<(&'static str, Content)> {
        Vec::new()
    }
}

/// `responses(Replies<SendCode>)`: the HTTP 200 response of a route that answers `T`.
pub struct Replies<T>(PhantomData<T>);

impl<T: Answers> IntoResponses for Replies<T> {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        let mut response = Response::new(T::SUCCESS);
        response.content.insert(
            "application/json".into(),
            Content::new(Some(Ref::from_schema_name(Envelope::name()))),
        );
        for (media_type, content) in T::other_content() {
            response.content.insert(media_type.into(), content);
        }
        if let Some(cookie) = T::SET_COOKIE {
            response
                .headers
                .insert("Set-Cookie".into(), header(Type::String, cookie));
        }
        add_outcomes(&mut response, T::OUTCOMES.iter().copied().flatten());
        [("200".to_owned(), response.into())].into_iter().collect()
    }
}

/// Add `outcomes` to `response`: rows of its table, of `x-errno`, examples, `Retry-After`.
pub fn add_outcomes<'a>(response: &mut Response, outcomes: impl IntoIterator<Item = &'a Outcome>) {
    let extensions = response.extensions.get_or_insert_with(Extensions::default);
    let rows = extensions.entry(X_ERRNO.to_owned()).or_insert_with(|| {
        response.description.push_str(
            "\n\nEvery handled outcome is HTTP 200 with the errno envelope, `application/json`:\n\n\
             | errno | errmsg | when |\n|---|---|---|\n",
        );
        Value::Array(Vec::new())
    });
    let Value::Array(rows) = rows else { return };
    let mut retry_after = false;
    for outcome in outcomes {
        rows.push(outcome.x_errno());
        response.description.push_str(&outcome.row());
        retry_after |= outcome.retry_after.is_some();
        if let Some(json) = response.content.get_mut("application/json") {
            let code = outcome.errno.code();
            let prefix = format!("{code}-");
            let n = json
                .examples
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .count()
                + 1;
            let example = Example::builder()
                .summary(format!("{}: {}", outcome.errno.name(), outcome.when))
                .value(Some(outcome.body()))
                .build();
            json.examples
                .insert(format!("{code}-{n:02}"), RefOr::T(example));
        }
    }
    if retry_after {
        response.headers.insert(
            "Retry-After".into(),
            header(
                Type::Integer,
                "Whole seconds to wait, on the replies marked `Retry-After` (equal to `data.retry_after`).",
            ),
        );
    }
}

fn header(of: Type, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Object::with_type(of))
        .description(Some(description))
        .build()
}

/// The errno envelope (SPEC §2).
pub struct Envelope;

impl PartialSchema for Envelope {
    fn schema() -> RefOr<Schema> {
        let errno = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Errno::ALL.map(Errno::code)))
            .description(Some(
                "The RET code, always a JSON string: \"0\" is success. Each route lists the codes it answers.",
            ));
        let data = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
            "Only where a route says so: the user on sign-in, `retry_after` (seconds) on a limit.",
        ));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("errno", errno)
            .required("errno")
            .property(
                "errmsg",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "For the user to read; may be more specific than the table's text.",
                    )),
            )
            .required("errmsg")
            .property("data", data)
            .description(Some(
                "Every handled outcome under /api/v1.0 and /passport: HTTP 200 with this body.",
            ))
            .examples([json!({"errno": "0", "errmsg": "发送成功"})])
            .into()
    }
}

impl ToSchema for Envelope {
    fn name() -> std::borrow::Cow<'static, str> {
        "Envelope".into()
    }
}

// --- Input errors (PARAMERR), written once for every route that reads a JSON body ----------

/// The `JsonConfig` error handler (startup) and `routes::dto`.
const JSON_BODY: &[Outcome] = &[
    reply(
        ParamErr,
        "请求体不是有效的JSON",
        "the body is not valid JSON",
    ),
    reply(
        ParamErr,
        "请求体必须是JSON (Content-Type: application/json)",
        "another Content-Type",
    ),
    reply(
        ParamErr,
        "请求体过大",
        "the body is larger than `server.max_body_bytes`",
    ),
    reply(ParamErr, "请求体必须是JSON对象", "JSON, but not an object"),
    reply(
        ParamErr,
        "参数不完整或类型错误",
        "a field is missing or is not a string",
    ),
];

/// `routes::mobile`.
const MOBILE: Outcome = reply(
    ParamErr,
    "手机号格式错误",
    "`mobile` does not match `^1[3-9]\\d{9}$`",
);

/// `routes::sms_code`.
const SMS_CODE: Outcome = reply(ParamErr, "短信验证码格式错误", "`sms_code` is not 6 digits");

/// `routes::new_password`.
const NEW_PASSWORD: &[Outcome] = &[
    reply(ParamErr, "两次密码不一致", "`password` ≠ `password2`"),
    reply(
        ParamErr,
        "密码长度需为6-128位",
        "the password is not 6–128 characters",
    ),
];

// --- Failures of what the use cases stand on, written once -----------------------------------

/// `store_failed` in reply.rs.
const STORE_FAILED: Outcome = store_failed_when("the state store failed or timed out");

/// `directory_failed` in reply.rs.
const DIRECTORY_FAILED: Outcome = directory_failed_when("the user database failed");

/// [`STORE_FAILED`], with what happens then.
const fn store_failed_when(when: &'static str) -> Outcome {
    reply(DbErr, "数据库查询错误，请稍后再试", when)
}

/// [`DIRECTORY_FAILED`], with what happens then.
const fn directory_failed_when(when: &'static str) -> Outcome {
    reply(DbErr, "数据库查询错误", when)
}

// --- Captcha --------------------------------------------------------------------------------

pub struct Captcha;

impl Answers for Captcha {
    const SUCCESS: &'static str = "`image/png`: the captcha (212×70). Its text is kept for \
        `captcha.ttl_secs` (180 s) under the id; issuing the same id again replaces it. A \
        failure is the errno JSON instead.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[reply(
            ParamErr,
            "图片验证码编号无效",
            "the id is not 1–64 characters of `[A-Za-z0-9_-]`",
        )],
        CAPTCHA,
    ];

    fn other_content() -> Vec<(&'static str, Content)> {
        let png = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("image/png")
            .build();
        vec![("image/png", Content::new(Some(png)))]
    }
}

/// `From<IssueCaptchaError>`.
const CAPTCHA: &[Outcome] = &[
    limited(
        ReqErr,
        "图片验证码请求过于频繁，请30秒后再试",
        30,
        "more than `limits.captcha_per_ip_per_minute` (30) captchas for this client in a minute; nothing is stored",
    ),
    STORE_FAILED,
    reply(IoErr, "图片验证码生成失败", "the image could not be drawn"),
];

// --- Sending a code -------------------------------------------------------------------------

pub struct SendCode;

impl Answers for SendCode {
    const SUCCESS: &'static str = "A 6-digit code was sent by SMS (it lives `sms.code_ttl_secs`, \
        300 s, and replaces any earlier one).";
    const OUTCOMES: &'static [&'static [Outcome]] =
        &[&[SENT], JSON_BODY, SEND_CODE_INPUT, SEND_CODE];
}

const SENT: Outcome = reply(
    Ok,
    "发送成功",
    "the code was sent (or, with `security.registered_mobile = silent`, the mobile is the wrong kind for the purpose and nothing was sent)",
);

/// The same use case from the iHome 2018 `GET /sms_codes/{mobile}?…` (no JSON body).
pub struct SendCodeQuery;

impl Answers for SendCodeQuery {
    const SUCCESS: &'static str = SendCode::SUCCESS;
    const OUTCOMES: &'static [&'static [Outcome]] = &[&[SENT], SEND_CODE_INPUT, SEND_CODE];
}

/// `routes::sms::SendCodeBody::into_request`.
const SEND_CODE_INPUT: &[Outcome] = &[
    reply(
        ParamErr,
        "手机号不能为空",
        "`mobile` is empty (also 图片验证码不能为空, 图片验证码编号不能为空)",
    ),
    MOBILE,
    reply(
        ParamErr,
        "图片验证码编号无效",
        "`image_code_id` is not 1–64 characters of `[A-Za-z0-9_-]`",
    ),
    reply(
        ParamErr,
        "图片验证码格式错误",
        "`image_code` is not 1–16 ASCII letters or digits",
    ),
    reply(
        ParamErr,
        "purpose必须是register、login、reset或change_mobile",
        "`purpose` is none of them",
    ),
    BOTH_CREDENTIALS,
];

/// `From<SendCodeError>`, in the order of SPEC §3.
const SEND_CODE: &[Outcome] = &[
    reply(
        SessionErr,
        "false",
        "`purpose: change_mobile` without a live session; the captcha is not used",
    ),
    reply(
        NoData,
        "图片验证码已过期，请点击图片刷新",
        "no captcha under that id: never issued, expired, or already used (every guess uses it up)",
    ),
    reply(
        DataErr,
        "图片验证码错误，请点击图片刷新",
        "the text does not match (case-insensitive); the captcha is used up",
    ),
    reply(
        DataExist,
        "该手机号已注册",
        "`register` or `change_mobile`, and the mobile belongs to a user (`security.registered_mobile = refuse`, the default)",
    ),
    reply(
        UserErr,
        "该手机号尚未注册",
        "`login` or `reset`, and the mobile belongs to nobody (`security.registered_mobile = refuse`)",
    ),
    limited(
        ReqErr,
        "发送过于频繁，请60秒后再试",
        60,
        "one send per mobile per `limits.mobile_cooldown_secs` (60)",
    ),
    limited(
        ReqErr,
        "该手机号一小时内发送次数已达上限，请50分钟后再试",
        3000,
        "`limits.mobile_per_hour` (5) sends for this mobile",
    ),
    limited(
        ReqErr,
        "该手机号今日发送次数已达上限，请6小时后再试",
        20_000,
        "`limits.mobile_per_day` (10) sends for this mobile",
    ),
    limited(
        ReqErr,
        "当前网络发送次数过多，请30分钟后再试",
        1800,
        "`limits.ip_per_hour` (20) sends from this client",
    ),
    limited(
        ReqErr,
        "短信服务繁忙，请10分钟后再试",
        600,
        "`limits.global_per_hour` sends in total: the breaker against a runaway bill",
    ),
    limited(
        ReqErr,
        "短信发送过于频繁，请60秒后再试",
        60,
        "the SMS provider's own rate limit for this number",
    ),
    reply(
        ThirdErr,
        "短信发送失败，请稍后再试",
        "the SMS provider failed, refused or timed out; the code is withdrawn",
    ),
    STORE_FAILED,
    DIRECTORY_FAILED,
];

// --- Registration ---------------------------------------------------------------------------

const SIGNED_IN: &str = r#"{"name": "13800138000", "user_id": 1}"#;
const APP_SIGNED_IN: &str = r#"{"name": "13800138000", "user_id": 1,
    "token": "q3V0aW9uIGlzIHRoZSBiZXR0ZXIgcGFydCBvZiB2YWxvdXI", "expires_in": 2592000}"#;
/// A sign-in's two successes: a browser's (the cookie) and an app's (the token in `data`).
const fn signed_in(errmsg: &'static str, when: &'static str) -> [Outcome; 2] {
    [
        ok_with(errmsg, SIGNED_IN, when),
        ok_with(errmsg, APP_SIGNED_IN, "the same, for `\"client\": \"app\"`"),
    ]
}

const SESSION_SET: &str = "On success: `session=<token>; HttpOnly; SameSite=Lax; Path=/; \
    Max-Age=<session lifetime>` (and `Secure` per `session.cookie_secure`). Not for \
    `\"client\": \"app\"`: its token is in `data` instead.";

/// `routes::device`: the body's `client`, and who is asking.
const CLIENT: &[Outcome] = &[
    reply(ParamErr, "client必须是app或web", "`client` is neither"),
    reply(
        ParamErr,
        crate::routes::BEARER_IS_AN_APPS,
        "`\"client\": \"web\"` with `Authorization: Bearer` (a bearer is an app's)",
    ),
    BOTH_CREDENTIALS,
];

/// `web::session::credential`: a request says who it is one way.
const BOTH_CREDENTIALS: Outcome = reply(
    ParamErr,
    "不能同时使用会话Cookie和Bearer令牌",
    "the request has both the session cookie and `Authorization: Bearer`",
);

/// `Reply::not_signed_in`: one reply for every kind of missing or bad credential.
const NOT_SIGNED_IN: Outcome = reply(
    SessionErr,
    "false",
    "no session cookie or bearer token, or one that is malformed, unknown, expired or ended",
);

/// `From<CodeRejected>`: every route that takes a code.
const CODE_REJECTED: &[Outcome] = &[
    reply(
        NoData,
        "短信验证码已过期或未发送",
        "no live code for this mobile: never sent, expired, used, burned, or replaced by a later send",
    ),
    reply(
        DataErr,
        "短信验证码错误",
        "wrong code, or one sent for another purpose: one of `limits.code_max_attempts` (5) attempts used",
    ),
    reply(
        DataErr,
        "短信验证码错误次数过多，请重新获取",
        "wrong code, the last attempt: the code is burned",
    ),
];

pub struct Register;

impl Answers for Register {
    const SUCCESS: &'static str = "The user is created and signed in: `data` has the name and \
        id, and the `session` cookie is set.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &signed_in("注册成功", "the user was created and signed in"),
        JSON_BODY,
        CODE_AND_PASSWORD_INPUT,
        NEW_PASSWORD,
        CLIENT,
        CODE_REJECTED,
        REGISTER,
    ];
    const SET_COOKIE: Option<&'static str> = Some(SESSION_SET);
}

/// `routes::code_and_new_password`, for a registration or a reset (and [`NEW_PASSWORD`]).
const CODE_AND_PASSWORD_INPUT: &[Outcome] = &[
    reply(
        ParamErr,
        "手机号不能为空",
        "a field is empty (also 短信验证码不能为空, 密码不能为空)",
    ),
    MOBILE,
    SMS_CODE,
];

/// `From<RegisterError>` (after [`CODE_REJECTED`]).
const REGISTER: &[Outcome] = &[
    reply(
        DataExist,
        "该手机号已注册",
        "the mobile was registered meanwhile",
    ),
    BUSY,
    store_failed_when("the state store failed or timed out; the code is kept for a retry"),
    directory_failed_when("the user database failed; the code is kept for a retry"),
    HASH_FAILED,
];

/// `hash_failed` in reply.rs.
const BUSY: Outcome = limited(
    ReqErr,
    "服务繁忙，请稍后再试",
    1,
    "every password-hashing slot is taken (`limits.hash_concurrency`): answered at once",
);
const HASH_FAILED: Outcome = reply(ServerErr, "内部错误", "password hashing failed");

// --- Signing in and out ---------------------------------------------------------------------

pub struct SignIn;

impl Answers for SignIn {
    const SUCCESS: &'static str = "Signed in: `data` has the name and id, and a new `session` \
        cookie is set (the request's old session ends); for `\"client\": \"app\"`, `data` \
        has the token instead.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &signed_in("登录成功", "signed in"),
        JSON_BODY,
        SIGN_IN_INPUT,
        CLIENT,
        CODE_REJECTED,
        SIGN_IN,
    ];
    const SET_COOKIE: Option<&'static str> = Some(SESSION_SET);
}

/// `routes::account::SignInBody::try_into_domain`.
const SIGN_IN_INPUT: &[Outcome] = &[
    reply(
        ParamErr,
        "手机号不能为空",
        "a field is empty (also 密码不能为空, 短信验证码不能为空)",
    ),
    MOBILE,
    reply(
        ParamErr,
        "请提供密码或短信验证码（二选一）",
        "both `password` and `sms_code`, or neither",
    ),
    reply(ParamErr, "密码格式错误", "the password is over 1024 bytes"),
    SMS_CODE,
];

/// `From<SignInError>` (after [`CODE_REJECTED`], for a sign-in by code).
const SIGN_IN: &[Outcome] = &[
    reply(
        DataErr,
        "手机号或密码错误",
        "unknown mobile or wrong password (one reply for both)",
    ),
    LOCKOUT,
    ACCOUNT_LOCKOUT,
    BUSY,
    STORE_FAILED,
    DIRECTORY_FAILED,
    HASH_FAILED,
];

/// The sign-in lockouts (`From<SignInError>`, `From<ChangePasswordError>`).
const LOCKOUT: Outcome = limited(
    IpErr,
    "登录失败次数过多，请10分钟后再试",
    600,
    "`limits.login_failures_per_ip` (5) failures from this client within `limits.login_lockout_secs` (600)",
);
const ACCOUNT_LOCKOUT: Outcome = limited(
    IpErr,
    "该账号登录失败次数过多，请10分钟后再试",
    600,
    "`limits.login_failures_per_mobile` (10) failures for this account within `limits.login_lockout_secs`",
);

/// `From<SessionError>`: reading the caller's session and their user row (`State::caller`).
/// A route that reads the session alone (`State::session`) can fail only as [`STORE_FAILED`].
const SESSION_LOOKUP: &[Outcome] = &[STORE_FAILED, DIRECTORY_FAILED];

pub struct Session;

impl Answers for Session {
    const SUCCESS: &'static str = "Whether the caller is signed in (the jQuery front ends' check).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[ok_with("true", SIGNED_IN, "signed in")],
        CALLER,
        SESSION_LOOKUP,
    ];
}

pub struct Profile;

impl Answers for Profile {
    const SUCCESS: &'static str = "The signed-in user's profile (`name` is the mobile).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[ok_with(
            "成功",
            r#"{"user_id": 1, "name": "13800138000", "mobile": "13800138000"}"#,
            "signed in",
        )],
        CALLER,
        SESSION_LOOKUP,
    ];
}

pub struct SignOut;

impl Answers for SignOut {
    const SUCCESS: &'static str = "The session (if any) is ended and its cookie cleared; with \
        a bearer token, the token is revoked.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[&[
        reply(Ok, "已退出登录", "signed out, or was not signed in"),
        BOTH_CREDENTIALS,
        STORE_FAILED,
    ]];
    const SET_COOKIE: Option<&'static str> =
        Some("`session=; Max-Age=0; …`: removes the session cookie.");
}

// --- The account's life (SPEC §5a) ---------------------------------------------------------

/// A signed-in route's first replies: who is asking.
const CALLER: &[Outcome] = &[NOT_SIGNED_IN, BOTH_CREDENTIALS];

pub struct ResetPassword;

impl Answers for ResetPassword {
    const SUCCESS: &'static str = "The password is replaced, every session and app token of \
        the user is ended, and the caller is signed in afresh (the cookie, or for `\"client\": \
        \"app\"` the token in `data`).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &signed_in("密码已重置", "reset and signed in"),
        JSON_BODY,
        CODE_AND_PASSWORD_INPUT,
        CLIENT,
        NEW_PASSWORD,
        CODE_REJECTED,
        RESET,
    ];
    const SET_COOKIE: Option<&'static str> = Some(SESSION_SET);
}

/// `From<ResetError>` (after [`CODE_REJECTED`]).
const RESET: &[Outcome] = &[
    BUSY,
    store_failed_when(
        "the state store failed or timed out; the old password stays and the code is kept for a retry",
    ),
    directory_failed_when(
        "the user database failed; the old password stays and the code is kept for a retry",
    ),
    HASH_FAILED,
];

pub struct ChangePassword;

impl Answers for ChangePassword {
    const SUCCESS: &'static str = "The password is changed; every other session and app token \
        of the user is ended (the caller's own stays).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[reply(Ok, "密码已修改", "changed")],
        JSON_BODY,
        &[
            reply(
                ParamErr,
                "原密码不能为空",
                "a field is empty (also 密码不能为空)",
            ),
            reply(
                ParamErr,
                "原密码格式错误",
                "`old_password` is over 1024 bytes",
            ),
        ],
        NEW_PASSWORD,
        CALLER,
        CHANGE_PASSWORD,
        SESSION_LOOKUP,
    ];
}

/// `From<ChangePasswordError>` (its store and database rows are [`SESSION_LOOKUP`]'s).
const CHANGE_PASSWORD: &[Outcome] = &[
    reply(
        PwdErr,
        "原密码错误",
        "`old_password` is wrong; counted like a failed sign-in",
    ),
    LOCKOUT,
    ACCOUNT_LOCKOUT,
    BUSY,
    HASH_FAILED,
];

pub struct ChangeMobile;

impl Answers for ChangeMobile {
    const SUCCESS: &'static str = "The user now has the new number (same id, every session \
        kept).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[reply(Ok, "手机号已更换", "moved")],
        JSON_BODY,
        &[
            reply(
                ParamErr,
                "手机号不能为空",
                "a field is empty (also 短信验证码不能为空)",
            ),
            MOBILE,
            SMS_CODE,
        ],
        CALLER,
        CODE_REJECTED,
        CHANGE_MOBILE,
    ];
}

/// `From<ChangeMobileError>` (after [`CODE_REJECTED`]).
const CHANGE_MOBILE: &[Outcome] = &[
    reply(
        DataExist,
        "该手机号已注册",
        "another user has the number (the unique index decides a race); the code is used",
    ),
    STORE_FAILED,
    directory_failed_when("the user database failed; the code is kept for a retry"),
];

pub struct SessionList;

impl Answers for SessionList {
    const SUCCESS: &'static str = "The caller's live sessions and app tokens, oldest first.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[ok_with(
            "成功",
            r#"{"sessions": [{"id": "4f1c0e5a9b2d47c8a1e3f5b7d9c0a2e4", "kind": "cookie",
                "created_at": "2026-12-01T08:00:00Z", "last_used_at": "2026-12-01T09:30:00Z",
                "user_agent": "Mozilla/5.0", "current": true},
               {"id": "0a2e4f1c0e5a9b2d47c8a1e3f5b7d9c1", "kind": "app",
                "created_at": "2026-11-20T10:00:00Z", "last_used_at": "2026-11-30T21:15:00Z",
                "user_agent": "okhttp/4.12.0", "current": false}]}"#,
            "signed in",
        )],
        CALLER,
        &[STORE_FAILED],
    ];
}

pub struct EndAllSessions;

impl Answers for EndAllSessions {
    const SUCCESS: &'static str = "Every session and app token of the caller is ended, this \
        one included.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[reply(Ok, "已在所有设备退出登录", "signed out everywhere")],
        CALLER,
        &[STORE_FAILED],
    ];
    const SET_COOKIE: Option<&'static str> =
        Some("For a browser, `session=; Max-Age=0; …`: removes the session cookie.");
}

pub struct EndSession;

impl Answers for EndSession {
    const SUCCESS: &'static str = "That session or app token of the caller is ended.";
    const OUTCOMES: &'static [&'static [Outcome]] = &[
        &[reply(Ok, "已结束该会话", "ended")],
        CALLER,
        &[reply(
            ParamErr,
            "会话编号无效",
            "the id is not 32 hex characters",
        )],
        &[reply(
            NoData,
            "会话不存在或已结束",
            "the caller has no live session with that id (another user's id included)",
        )],
        &[STORE_FAILED],
    ];
    const SET_COOKIE: Option<&'static str> =
        Some("When a browser ends its own session: `session=; Max-Age=0; …`.");
}

// --- The API's own pages --------------------------------------------------------------------

pub struct DocsFile;

impl Answers for DocsFile {
    const SUCCESS: &'static str = "A file of the Swagger UI (`index.html` for an empty name).";
    const OUTCOMES: &'static [&'static [Outcome]] = &[&[
        reply(
            ParamErr,
            crate::startup::NO_SUCH_ROUTE,
            "no such file: the answer of every unknown path under `/api/`",
        ),
        reply(
            ServerErr,
            "内部错误",
            "the UI's start-up script could not be prepared",
        ),
    ]];

    fn other_content() -> Vec<(&'static str, Content)> {
        ["text/html", "text/javascript", "text/css"]
            .into_iter()
            .map(|media_type| {
                let text = ObjectBuilder::new().schema_type(Type::String).build();
                (media_type, Content::new(Some(text)))
            })
            .collect()
    }
}

// --- Refusals of the route's protection (added from the route table) ------------------------

/// `Sec-Fetch-Site: cross-site` on a state-changing route.
pub const CROSS_SITE: Outcome = reply(
    ReqErr,
    crate::web::csrf::CROSS_SITE,
    "the browser marked the request `Sec-Fetch-Site: cross-site`",
);

/// A route declared with `csrf::post` / `csrf::delete`.
pub const NO_TOKEN: Outcome = reply(
    ReqErr,
    crate::web::csrf::NO_TOKEN,
    "`X-CSRFToken` is missing or differs from the `csrf_token` cookie",
);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::account::{RegisterError, SignInError};
    use app::captcha::IssueCaptchaError;
    use app::codes::CodeRejected;
    use app::lifecycle::{ChangeMobileError, ChangePasswordError, ResetError};
    use app::send_code::SendCodeError;
    use app::sessions::SessionError;
    use domain::{LimitKind, Refusal};
    use ports::{DirectoryError, HashError, RenderError, SmsError, StoreError};

    use super::*;
    use crate::reply::Reply;

    fn refusal(limit: LimitKind, secs: u64) -> Refusal {
        Refusal {
            limit,
            retry_after: Duration::from_secs(secs),
        }
    }

    fn store() -> StoreError {
        StoreError::Unavailable(anyhow::anyhow!("down"))
    }

    fn directory() -> DirectoryError {
        DirectoryError::Unavailable(anyhow::anyhow!("down"))
    }

    /// `listed` are exactly the replies of `errors`: each error's reply is a row, and each
    /// row is some error's reply.
    #[track_caller]
    fn assert_lists(listed: &[Outcome], errors: Vec<Reply>) {
        let key =
            |errno: Errno, errmsg: &str, retry: Option<u64>| (errno, errmsg.to_owned(), retry);
        let replies: Vec<_> = errors
            .iter()
            .map(|r| key(r.errno, &r.errmsg, r.retry_after))
            .collect();
        let rows: Vec<_> = listed
            .iter()
            .map(|o| key(o.errno, o.errmsg, o.retry_after))
            .collect();
        for reply in &replies {
            assert!(rows.contains(reply), "{reply:?} is not listed");
        }
        for row in &rows {
            assert!(replies.contains(row), "{row:?} is no error's reply");
        }
    }

    #[test]
    fn captcha_rows_are_its_errors_replies() {
        let all = vec![
            IssueCaptchaError::Limited(refusal(LimitKind::CaptchaPerMinute, 30)),
            IssueCaptchaError::Store(store()),
            IssueCaptchaError::Render(RenderError(anyhow::anyhow!("no font"))),
        ];
        // A new variant fails to compile here until it is listed above and in CAPTCHA.
        for e in &all {
            match e {
                IssueCaptchaError::Limited(_)
                | IssueCaptchaError::Store(_)
                | IssueCaptchaError::Render(_) => {}
            }
        }
        assert_lists(CAPTCHA, all.into_iter().map(Reply::from).collect());
    }

    #[test]
    fn send_code_rows_are_its_errors_replies() {
        let all = vec![
            SendCodeError::NotSignedIn,
            SendCodeError::CaptchaMissing,
            SendCodeError::CaptchaMismatch,
            SendCodeError::MobileRegistered,
            SendCodeError::MobileUnregistered,
            SendCodeError::Limited(refusal(LimitKind::MobileCooldown, 60)),
            SendCodeError::Limited(refusal(LimitKind::MobileHourly, 3000)),
            SendCodeError::Limited(refusal(LimitKind::MobileDaily, 20_000)),
            SendCodeError::Limited(refusal(LimitKind::IpHourly, 1800)),
            SendCodeError::Limited(refusal(LimitKind::GlobalHourly, 600)),
            SendCodeError::Limited(refusal(LimitKind::Provider, 60)),
            SendCodeError::Provider(SmsError::Unavailable(anyhow::anyhow!("timeout"))),
            SendCodeError::Store(store()),
            SendCodeError::Directory(directory()),
        ];
        for e in &all {
            match e {
                SendCodeError::NotSignedIn
                | SendCodeError::CaptchaMissing
                | SendCodeError::CaptchaMismatch
                | SendCodeError::MobileRegistered
                | SendCodeError::MobileUnregistered
                | SendCodeError::Limited(_)
                | SendCodeError::Provider(_)
                | SendCodeError::Store(_)
                | SendCodeError::Directory(_) => {}
            }
        }
        assert_lists(SEND_CODE, all.into_iter().map(Reply::from).collect());
    }

    #[test]
    fn register_rows_are_its_errors_replies() {
        let all = vec![
            RegisterError::MobileRegistered,
            RegisterError::Hash(HashError::Busy),
            RegisterError::Store(store()),
            RegisterError::Directory(directory()),
            RegisterError::Hash(HashError::Failed(anyhow::anyhow!("oom"))),
        ];
        for e in &all {
            match e {
                RegisterError::Code(_)
                | RegisterError::MobileRegistered
                | RegisterError::Store(_)
                | RegisterError::Directory(_)
                | RegisterError::Hash(_) => {}
            }
        }
        assert_lists(REGISTER, all.into_iter().map(Reply::from).collect());
        assert_lists(CODE_REJECTED, rejected(RegisterError::Code));
    }

    /// Every way a code is rejected, as the error `wrap` makes of it.
    fn rejected<E: Into<Reply>>(wrap: fn(CodeRejected) -> E) -> Vec<Reply> {
        [
            CodeRejected::Missing,
            CodeRejected::Mismatch { attempts_left: 3 },
            CodeRejected::Mismatch { attempts_left: 0 },
        ]
        .into_iter()
        .map(|c| wrap(c).into())
        .collect()
    }

    #[test]
    fn reset_rows_are_its_errors_replies() {
        let all = vec![
            ResetError::Hash(HashError::Busy),
            ResetError::Store(store()),
            ResetError::Directory(directory()),
            ResetError::Hash(HashError::Failed(anyhow::anyhow!("oom"))),
        ];
        for e in &all {
            match e {
                ResetError::Code(_)
                | ResetError::Store(_)
                | ResetError::Directory(_)
                | ResetError::Hash(_) => {}
            }
        }
        assert_lists(RESET, all.into_iter().map(Reply::from).collect());
        assert_lists(CODE_REJECTED, rejected(ResetError::Code));
    }

    #[test]
    fn change_password_rows_are_its_errors_replies() {
        let all = vec![
            ChangePasswordError::WrongPassword,
            ChangePasswordError::LockedOut(refusal(LimitKind::LoginLockout, 600)),
            ChangePasswordError::LockedOut(refusal(LimitKind::AccountLockout, 600)),
            ChangePasswordError::Hash(HashError::Busy),
            ChangePasswordError::Hash(HashError::Failed(anyhow::anyhow!("oom"))),
        ];
        for e in &all {
            match e {
                ChangePasswordError::WrongPassword
                | ChangePasswordError::LockedOut(_)
                | ChangePasswordError::Store(_)
                | ChangePasswordError::Directory(_)
                | ChangePasswordError::Hash(_) => {}
            }
        }
        assert_lists(CHANGE_PASSWORD, all.into_iter().map(Reply::from).collect());
        assert_lists(
            SESSION_LOOKUP,
            vec![
                ChangePasswordError::Store(store()).into(),
                ChangePasswordError::Directory(directory()).into(),
            ],
        );
    }

    #[test]
    fn change_mobile_rows_are_its_errors_replies() {
        let all = vec![
            ChangeMobileError::MobileTaken,
            ChangeMobileError::Store(store()),
            ChangeMobileError::Directory(directory()),
        ];
        for e in &all {
            match e {
                ChangeMobileError::Code(_)
                | ChangeMobileError::MobileTaken
                | ChangeMobileError::Store(_)
                | ChangeMobileError::Directory(_) => {}
            }
        }
        assert_lists(CHANGE_MOBILE, all.into_iter().map(Reply::from).collect());
        assert_lists(CODE_REJECTED, rejected(ChangeMobileError::Code));
    }

    #[test]
    fn sign_in_rows_are_its_errors_replies() {
        let all = vec![
            SignInError::BadCredentials,
            SignInError::LockedOut(refusal(LimitKind::LoginLockout, 600)),
            SignInError::LockedOut(refusal(LimitKind::AccountLockout, 600)),
            SignInError::Hash(HashError::Busy),
            SignInError::Store(store()),
            SignInError::Directory(directory()),
            SignInError::Hash(HashError::Failed(anyhow::anyhow!("oom"))),
        ];
        for e in &all {
            match e {
                SignInError::BadCredentials
                | SignInError::Code(_)
                | SignInError::LockedOut(_)
                | SignInError::Store(_)
                | SignInError::Directory(_)
                | SignInError::Hash(_) => {}
            }
        }
        assert_lists(SIGN_IN, all.into_iter().map(Reply::from).collect());
        assert_lists(CODE_REJECTED, rejected(SignInError::Code));
    }

    #[test]
    fn session_rows_are_its_errors_replies() {
        let all = vec![
            SessionError::Store(store()),
            SessionError::Directory(directory()),
        ];
        for e in &all {
            match e {
                SessionError::NotFound | SessionError::Store(_) | SessionError::Directory(_) => {}
            }
        }
        assert_lists(SESSION_LOOKUP, all.into_iter().map(Reply::from).collect());
        assert_lists(
            EndSession::OUTCOMES[3],
            vec![Reply::from(SessionError::NotFound)],
        );
        // Signing out fails only with the store.
        assert_lists(&[STORE_FAILED], vec![Reply::from(store())]);
        assert_lists(&[NOT_SIGNED_IN], vec![Reply::not_signed_in()]);
    }

    #[test]
    fn every_example_body_is_an_envelope_with_its_data() {
        for outcome in [
            CAPTCHA,
            SEND_CODE,
            REGISTER,
            SIGN_IN,
            SESSION_LOOKUP,
            JSON_BODY,
        ]
        .into_iter()
        .flatten()
        .chain(Session::OUTCOMES.iter().copied().flatten())
        .chain(Profile::OUTCOMES.iter().copied().flatten())
        .chain(Register::OUTCOMES.iter().copied().flatten())
        .chain(SignIn::OUTCOMES.iter().copied().flatten())
        .chain(ResetPassword::OUTCOMES.iter().copied().flatten())
        .chain(SessionList::OUTCOMES.iter().copied().flatten())
        {
            let body = outcome.body();
            assert!(body["errno"].is_string() && body["errmsg"].is_string());
            if outcome.data.is_some() {
                assert!(body["data"].is_object(), "{outcome:?}: data is not JSON");
            }
        }
    }
}

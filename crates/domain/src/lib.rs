//! The vocabulary of yanzheng: value types that can only be built valid, the policies the use
//! cases enforce, and nothing that does I/O. Every other crate speaks in these types.

mod captcha;
mod client;
mod code;
mod limits;
mod mobile;
mod session;
mod time;
mod user;

pub use captcha::{
    CaptchaId, CaptchaImage, CaptchaText, CAPTCHA_ALPHABET, CAPTCHA_LEN, CAPTCHA_LENGTHS,
    CAPTCHA_TEXT_MAX,
};
pub use client::ClientNet;
pub use code::{CodeDigest, CodePurpose, SmsCode, SMS_CODE_LEN};
pub use limits::{LimitKind, LoginLimits, Refusal, SendLimits, CAPTCHA_WINDOW};
pub use mobile::Mobile;
pub use session::{
    user_agent, Session, SessionId, SessionKind, SessionToken, SESSION_TOUCH_INTERVAL,
};
pub use time::{millis, Timestamp, DAY_MS, HOUR_MS};
pub use user::{NewUser, Password, PasswordHash, User, UserId};

/// Why a piece of input was rejected. The HTTP layer turns every variant into PARAMERR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("mobile must be 11 digits matching ^1[3-9]\\d{{9}}$")]
    Mobile,
    #[error("captcha id must be 1-64 characters of [A-Za-z0-9_-]")]
    CaptchaId,
    #[error("captcha text must be 1-{CAPTCHA_TEXT_MAX} ASCII letters or digits")]
    CaptchaText,
    #[error("an SMS code is 6 ASCII digits")]
    SmsCode,
    #[error("a password is 6-128 characters")]
    Password,
    #[error("a session token is 43 base64url characters")]
    SessionToken,
    #[error("a session id is 32 lowercase hex characters")]
    SessionId,
    #[error("a code purpose is register, login, reset or change_mobile")]
    CodePurpose,
}

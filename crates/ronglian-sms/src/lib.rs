//! Ronglian Cloud (容联云通讯) template-SMS sender: the production [`ports::SmsSender`].
//!
//! # Protocol (REST API version `2013-12-26`)
//!
//! One request per message:
//!
//! ```text
//! POST {base_url}/2013-12-26/Accounts/{accountSid}/SMS/TemplateSMS?sig={SIG}
//! Accept: application/json
//! Content-Type: application/json;charset=utf-8
//! Authorization: base64(accountSid + ":" + ts)
//!
//! {"to": "13800138000", "appId": "{appId}", "templateId": "1", "datas": ["123456", "5"]}
//! ```
//!
//! - `ts` is the request time as `yyyyMMddHHmmss` in China Standard Time (UTC+8), which is what
//!   Ronglian checks it against. It comes from the injected [`ports::Clock`].
//! - `SIG = upper(hex(md5(accountSid + authToken + ts)))`; the auth token itself never leaves
//!   the process.
//! - `Authorization` is standard base64 of `accountSid:ts`, without a `Basic ` prefix.
//! - `datas` fills the template's placeholders: the code, then its lifetime in whole minutes.
//!
//! The reply is JSON with `statusCode` (a string) and, on failure, `statusMsg`:
//!
//! | reply | result |
//! |---|---|
//! | HTTP 200, `statusCode == "000000"` | `Ok(())` |
//! | HTTP 200, `statusCode` in [`RATE_LIMIT_STATUSES`]: 160038, 160039, 160040, 160041, 111111 (this number or template is sent to too often) | [`SmsError::RateLimited`] |
//! | HTTP 200, `statusCode` in [`REJECTED_STATUSES`]: 160042, 160034, 112317, 160051, 160068, 160072, 160073, 160074, 160061, 160062 (this number cannot get SMS: invalid, blacklisted, unsubscribed) | [`SmsError::Rejected`] with `statusMsg` |
//! | HTTP 200, `statusCode` in [`UNAVAILABLE_STATUSES`]: 111109, 111106, 111113, 160032, 160043, 113302, 111142, 160014, 160000, 160050, 160063, 160064 (auth, signature, configuration, balance, provider-side errors) | [`SmsError::Unavailable`] |
//! | HTTP 200, any other `statusCode` (unknown statuses, 112314 included) | [`SmsError::Unavailable`] |
//! | a redirect (3xx) | [`SmsError::Unavailable`]; never followed |
//! | other HTTP status, unreadable body, body over [`MAX_REPLY_BYTES`], network error, timeout | [`SmsError::Unavailable`] |
//!
//! The statuses are those of Ronglian's published code tables as SPEC §6a lists them.
//! Unavailable sends are failed over to the next provider with the same code; rate-limited and
//! rejected ones are not. An unknown status counts as unavailable: at worst the code arrives
//! twice, where calling it a rejection would tell the user their number cannot get SMS.
//!
//! Base URLs: `https://app.cloopen.com:8883` (production, the default) and
//! `https://sandboxapp.cloopen.com:8883` (sandbox). Connect and total timeouts are bounded.
//!
//! Redirects are not followed: a 307/308 would re-send the request, code and signature
//! included, to wherever `Location` points. The reply body is read chunk by chunk and given up
//! once it passes [`MAX_REPLY_BYTES`] (whatever `Content-Length` claims), so a misbehaving or
//! hostile peer cannot make the service buffer an unbounded body.
//!
//! Failures are logged at `warn` with the masked mobile and the provider's `statusCode` /
//! `statusMsg`; the auth token, the signature, the `Authorization` value, the request body and
//! the code are never logged, and errors never carry the request URL (it holds the signature).
//! Ronglian's text passes through a filter that masks the full number and the code should it
//! ever echo them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use domain::{Mobile, SmsCode, Timestamp};
use md5::{Digest as _, Md5};
use ports::{Clock, SmsError, SmsSender};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use sms_http::{Answer, Outcome, Scrub};

/// Ronglian's production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://app.cloopen.com:8883";
/// Ronglian's sandbox endpoint (only test numbers receive messages).
pub const SANDBOX_BASE_URL: &str = "https://sandboxapp.cloopen.com:8883";
/// The template every new Ronglian account has for testing.
pub const DEFAULT_TEMPLATE_ID: &str = "1";
/// Default bound on establishing the TCP + TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default bound on the whole request, from connecting to the last byte of the reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a reply body that is read. Ronglian's replies are a few hundred bytes; a longer
/// body is not a Ronglian reply and fails the send as unavailable.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Provider statuses that mean "this number is sent to too often" (Ronglian's per-number and
/// per-template frequency limits); the use case answers them with REQERR and `Retry-After`
/// instead of THIRDERR, and does not fail over.
pub const RATE_LIMIT_STATUSES: [&str; 5] = ["160038", "160039", "160040", "160041", "111111"];

/// Provider statuses that mean "this number cannot get SMS" (invalid, blacklisted,
/// unsubscribed): THIRDERR, never failed over.
pub const REJECTED_STATUSES: [&str; 10] = [
    "160042", "160034", "112317", "160051", "160068", "160072", "160073", "160074", "160061",
    "160062",
];

/// Provider statuses known to mean "this provider cannot send now" (authentication,
/// signature, configuration, balance, provider-side errors): failed over. Every status in none
/// of the three lists is treated the same way; this list documents the known ones.
pub const UNAVAILABLE_STATUSES: [&str; 12] = [
    "111109", "111106", "111113", "160032", "160043", "113302", "111142", "160014", "160000",
    "160050", "160063", "160064",
];

/// The provider's name in errors and logs.
const PROVIDER: &str = "Ronglian";
const SUCCESS_STATUS: &str = "000000";
const CONTENT_TYPE_JSON_UTF8: &str = "application/json;charset=utf-8";
const API_VERSION: &str = "2013-12-26";

/// Everything the sender needs; build it with [`RonglianConfig::new`] and override fields.
///
/// `Debug` shows the auth token as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct RonglianConfig {
    /// `https://app.cloopen.com:8883` (production) or `https://sandboxapp.cloopen.com:8883`
    /// (sandbox). A trailing slash is ignored.
    pub base_url: String,
    /// The main account id (ACCOUNT SID).
    pub account_sid: String,
    /// The main account token (AUTH TOKEN).
    pub auth_token: SecretString,
    /// The application id the template belongs to.
    pub app_id: String,
    /// The code-message template, default `"1"`.
    pub template_id: String,
    /// Bound on connecting, default 3 s.
    pub connect_timeout: Duration,
    /// Bound on the whole request, default 5 s.
    pub timeout: Duration,
}

impl RonglianConfig {
    /// The credentials, with the production base URL, template `"1"` and default timeouts.
    pub fn new(
        account_sid: impl Into<String>,
        auth_token: SecretString,
        app_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            auth_token,
            app_id: app_id.into(),
            template_id: DEFAULT_TEMPLATE_ID.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Sends verification codes through Ronglian's template-SMS API. Cheap to clone (clones share
/// the connection pools).
#[derive(Clone)]
pub struct RonglianSms {
    inner: Arc<Inner>,
    clock: Arc<dyn Clock>,
}

struct Inner {
    /// One per core, each thread keeping to one (see [`sms_http::Clients`]).
    clients: sms_http::Clients,
    /// `{base}/2013-12-26/Accounts/{accountSid}/SMS/TemplateSMS`, without the query.
    endpoint: Url,
    config: RonglianConfig,
}

impl fmt::Debug for RonglianSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RonglianSms")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl RonglianConfig {
    /// Whether this configuration can send: the base URL is an http(s) URL without query or
    /// fragment, the credentials and template are non-empty and the timeouts positive.
    /// Configuration loading calls it so every problem is reported at start-up;
    /// [`RonglianSms::new`] refuses what it refuses.
    pub fn check(&self) -> anyhow::Result<()> {
        endpoint(self).map(drop)
    }
}

impl RonglianSms {
    /// Builds the HTTP clients (rustls, bounded connect and total timeouts, no redirects)
    /// for a config that passes [`RonglianConfig::check`]. `ts` comes from `clock`.
    pub fn new(config: RonglianConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let endpoint = endpoint(&config)?;
        let clients = sms_http::Clients::new(PROVIDER, config.connect_timeout, config.timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                clients,
                endpoint,
                config,
            }),
            clock,
        })
    }

    /// One template-SMS request; `Err` is unavailable.
    async fn send(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> anyhow::Result<Outcome> {
        let config = &self.inner.config;
        let ts = timestamp(self.clock.now());
        let sig = signature(&config.account_sid, config.auth_token.expose_secret(), &ts);
        let mut url = self.inner.endpoint.clone();
        url.query_pairs_mut().append_pair("sig", &sig);

        let minutes = valid_minutes.to_string();
        let body = TemplateSms {
            to: mobile.as_str(),
            app_id: &config.app_id,
            template_id: &config.template_id,
            datas: [code.expose(), &minutes],
        };
        let body = serde_json::to_vec(&body).context("encoding the request")?;
        let auth = sms_http::sensitive(&authorization(&config.account_sid, &ts))?;

        let request = self
            .inner
            .clients
            .get()
            .post(url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, CONTENT_TYPE_JSON_UTF8)
            .header(AUTHORIZATION, auth)
            .body(body);
        let scrub = Scrub::new(mobile, code);
        let detail = |bytes: &[u8]| parse_reply(bytes, &scrub).ok().map(|r| describe(&r));
        let bytes = sms_http::exchange(request, MAX_REPLY_BYTES, PROVIDER, detail).await?;
        Ok(classify(parse_reply(&bytes, &scrub)?))
    }
}

impl SmsSender for RonglianSms {
    async fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> Result<(), SmsError> {
        self.send(mobile, code, valid_minutes)
            .await
            .unwrap_or_else(Outcome::Unavailable)
            .into_result(PROVIDER, mobile)
    }
}

/// `yyyyMMddHHmmss` of `now` in China Standard Time (UTC+8).
pub fn timestamp(now: Timestamp) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year][month][day][hour][minute][second]");
    let cst = time::macros::offset!(+8);
    let nanos = i128::from(now.millis()) * 1_000_000;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(cst);
    // Formatting a valid date with a fixed, numeric-only description cannot fail; keep the
    // arithmetic fallback anyway rather than panic.
    at.format(FORMAT).unwrap_or_else(|_| {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
    })
}

/// `upper(hex(md5(accountSid + authToken + ts)))`, the `sig` query parameter.
pub fn signature(account_sid: &str, auth_token: &str, ts: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(account_sid.as_bytes());
    md5.update(auth_token.as_bytes());
    md5.update(ts.as_bytes());
    hex::encode_upper(md5.finalize())
}

/// `base64(accountSid + ":" + ts)` (standard alphabet, padded), the `Authorization` header.
pub fn authorization(account_sid: &str, ts: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{account_sid}:{ts}"))
}

/// The request URL without its query, after every check of the config.
fn endpoint(config: &RonglianConfig) -> anyhow::Result<Url> {
    if config.account_sid.is_empty() {
        bail!("sms.ronglian.account_sid is empty");
    }
    if config.auth_token.expose_secret().is_empty() {
        bail!("sms.ronglian.auth_token is empty");
    }
    if config.app_id.is_empty() {
        bail!("sms.ronglian.app_id is empty");
    }
    if config.template_id.is_empty() {
        bail!("sms.ronglian.template_id is empty");
    }
    if config.connect_timeout.is_zero() || config.timeout.is_zero() {
        bail!("sms.ronglian timeouts must be greater than zero");
    }
    let base = config.base_url.trim_end_matches('/');
    let mut url =
        Url::parse(base).with_context(|| format!("sms.ronglian.base_url {base:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!(
            "sms.ronglian.base_url must be http(s), not {:?}",
            url.scheme()
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("sms.ronglian.base_url must not have a query or fragment");
    }
    url.path_segments_mut()
        .map_err(|()| anyhow!("sms.ronglian.base_url cannot take a path"))?
        .pop_if_empty()
        .extend([
            API_VERSION,
            "Accounts",
            config.account_sid.as_str(),
            "SMS",
            "TemplateSMS",
        ]);
    Ok(url)
}

#[derive(Serialize)]
struct TemplateSms<'a> {
    to: &'a str,
    #[serde(rename = "appId")]
    app_id: &'a str,
    #[serde(rename = "templateId")]
    template_id: &'a str,
    datas: [&'a str; 2],
}

/// `statusCode {statusCode}: {statusMsg}`.
fn describe(reply: &Answer) -> String {
    format!("statusCode {}: {}", reply.code, reply.message)
}

/// Reads `statusCode` (a string; a number is tolerated) and `statusMsg` from the reply, both
/// scrubbed. Ronglian gives no request id.
fn parse_reply(bytes: &[u8], scrub: &Scrub) -> anyhow::Result<Answer> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).context("Ronglian's reply is not JSON")?;
    let code = match value.get("statusCode") {
        Some(serde_json::Value::String(s)) => scrub.text(s),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => bail!("Ronglian's reply has no statusCode"),
    };
    let message = match value.get("statusMsg") {
        Some(serde_json::Value::String(s)) => scrub.text(s),
        Some(other) => scrub.text(&other.to_string()),
        None => String::new(),
    };
    Ok(Answer {
        code,
        message,
        request_id: None,
    })
}

/// SPEC §6a: success, the rate-limit and rejection tables, and everything else unavailable.
fn classify(reply: Answer) -> Outcome {
    let status = reply.code.as_str();
    if status == SUCCESS_STATUS {
        Outcome::Sent
    } else if RATE_LIMIT_STATUSES.contains(&status) {
        Outcome::RateLimited(reply)
    } else if REJECTED_STATUSES.contains(&status) {
        Outcome::Rejected(reply)
    } else {
        Outcome::Unavailable(anyhow!("Ronglian did not send ({})", describe(&reply)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-03-05 06:07:08.900 UTC == 2024-03-05 14:07:08 in China Standard Time.
    const NOW: Timestamp = Timestamp(1_709_618_828_900);
    const SID: &str = "8aaf0708780055cd0178c26f4fd5131b";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn timestamp_is_china_standard_time() {
        assert_eq!(timestamp(NOW), "20240305140708");
        // 16:00 UTC is already the next day in Beijing.
        assert_eq!(timestamp(Timestamp(1_704_124_800_000)), "20240102000000");
        assert_eq!(timestamp(Timestamp(0)), "19700101080000");
    }

    #[test]
    fn signature_matches_a_hand_computed_vector() {
        // python3 -c 'import hashlib;print(hashlib.md5(b"8aaf0708780055cd0178c26f4fd5131b0123456789abcdef0123456789abcdef20240305140708").hexdigest().upper())'
        assert_eq!(
            signature(SID, TOKEN, "20240305140708"),
            "61ABDFAC3ED90837D743BA6D5B1769C8"
        );
    }

    #[test]
    fn authorization_matches_a_hand_computed_vector() {
        // python3 -c 'import base64;print(base64.b64encode(b"8aaf0708780055cd0178c26f4fd5131b:20240305140708").decode())'
        assert_eq!(
            authorization(SID, "20240305140708"),
            "OGFhZjA3MDg3ODAwNTVjZDAxNzhjMjZmNGZkNTEzMWI6MjAyNDAzMDUxNDA3MDg="
        );
    }

    fn config(base_url: &str) -> RonglianConfig {
        RonglianConfig {
            base_url: base_url.to_owned(),
            ..RonglianConfig::new(SID, SecretString::from(TOKEN), "app")
        }
    }

    #[test]
    fn endpoint_ignores_a_trailing_slash_and_keeps_a_path_prefix() {
        let expected =
            format!("https://app.cloopen.com:8883/2013-12-26/Accounts/{SID}/SMS/TemplateSMS");
        for base in [
            "https://app.cloopen.com:8883",
            "https://app.cloopen.com:8883/",
        ] {
            assert_eq!(endpoint(&config(base)).unwrap().as_str(), expected);
        }
        assert_eq!(
            endpoint(&config("http://127.0.0.1:9/proxy/"))
                .unwrap()
                .as_str(),
            format!("http://127.0.0.1:9/proxy/2013-12-26/Accounts/{SID}/SMS/TemplateSMS")
        );
    }

    struct Epoch;
    impl Clock for Epoch {
        fn now(&self) -> Timestamp {
            Timestamp(0)
        }
    }

    fn sender(config: RonglianConfig) -> anyhow::Result<RonglianSms> {
        RonglianSms::new(config, Arc::new(Epoch))
    }

    #[test]
    fn bad_config_fails_the_check_and_is_refused_at_construction() {
        let mut bad = vec![
            config("not a url"),
            config("ftp://app.cloopen.com"),
            config("https://h:1/?x=1"),
        ];
        let mut c = config(DEFAULT_BASE_URL);
        c.account_sid.clear();
        bad.push(c);
        let mut c = config(DEFAULT_BASE_URL);
        c.app_id.clear();
        bad.push(c);
        let mut c = config(DEFAULT_BASE_URL);
        c.timeout = Duration::ZERO;
        bad.push(c);
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
            assert!(sender(c).is_err());
        }
        assert!(config(DEFAULT_BASE_URL).check().is_ok());
        assert!(sender(config(DEFAULT_BASE_URL)).is_ok());
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = RonglianConfig::new(SID, SecretString::from(TOKEN), "app");
        assert_eq!(c.base_url, "https://app.cloopen.com:8883");
        assert_eq!(c.template_id, "1");
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.timeout, Duration::from_secs(5));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let sms = sender(config(DEFAULT_BASE_URL)).unwrap();
        let shown = format!("{sms:?} {:?}", sms.inner.config);
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains(SID), "{shown}");
    }

    #[test]
    fn the_status_tables_are_disjoint_and_exclude_success() {
        let all: Vec<&str> = RATE_LIMIT_STATUSES
            .into_iter()
            .chain(REJECTED_STATUSES)
            .chain(UNAVAILABLE_STATUSES)
            .collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "{all:?}");
        assert!(!all.contains(&SUCCESS_STATUS));
    }

    #[test]
    fn replies_are_classified() {
        let reply = |code: &str| Answer {
            code: code.to_owned(),
            message: "m".to_owned(),
            request_id: None,
        };
        assert!(matches!(classify(reply("000000")), Outcome::Sent));
        for code in RATE_LIMIT_STATUSES {
            assert!(
                matches!(classify(reply(code)), Outcome::RateLimited(_)),
                "{code}"
            );
        }
        for code in REJECTED_STATUSES {
            assert!(
                matches!(classify(reply(code)), Outcome::Rejected(_)),
                "{code}"
            );
        }
        // The known unavailable statuses and unknown ones alike (112314 is in no table).
        for code in UNAVAILABLE_STATUSES
            .into_iter()
            .chain(["112314", "999999", "0", "", "00000"])
        {
            assert!(
                matches!(classify(reply(code)), Outcome::Unavailable(_)),
                "{code}"
            );
        }
        assert_eq!(
            parse_reply(br#"{"statusCode":112300}"#, &scrub()).unwrap(),
            Answer {
                code: "112300".to_owned(),
                message: String::new(),
                request_id: None,
            }
        );
        assert!(parse_reply(b"<html>", &scrub()).is_err());
        assert!(parse_reply(br#"{"statusMsg":"x"}"#, &scrub()).is_err());
    }

    fn scrub() -> Scrub {
        Scrub::new(
            &Mobile::parse("13800138000").unwrap(),
            &SmsCode::parse("042917").unwrap(),
        )
    }

    #[test]
    fn provider_text_is_scrubbed_of_the_number_and_the_code() {
        let reply = parse_reply(
            r#"{"statusCode":"160042","statusMsg":"13800138000 号码格式有误 (042917)"}"#.as_bytes(),
            &scrub(),
        )
        .unwrap();
        assert_eq!(reply.message, "138****8000 号码格式有误 (******)");
    }
}

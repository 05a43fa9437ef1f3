//! Tencent Cloud SMS (腾讯云短信) code sender: a [`ports::SmsSender`] over the `SendSms`
//! action of API version `2021-01-11`.
//!
//! # Protocol
//!
//! One request per message, signed with TC3-HMAC-SHA256 (signature v3):
//!
//! ```text
//! POST {base_url}/
//! Content-Type: application/json; charset=utf-8
//! Host: sms.tencentcloudapi.com
//! X-TC-Action: SendSms
//! X-TC-Version: 2021-01-11
//! X-TC-Timestamp: 1709618828
//! X-TC-Region: ap-guangzhou
//! Authorization: TC3-HMAC-SHA256 Credential={SecretId}/2024-03-05/sms/tc3_request, SignedHeaders=content-type;host, Signature={hex}
//!
//! {"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400…","SignName":"…","TemplateId":"…","TemplateParamSet":["123456","5"]}
//! ```
//!
//! - `X-TC-Timestamp` is the request time in unix seconds from the injected [`ports::Clock`];
//!   the credential's date is the **UTC** date of that second.
//! - `Host` is the base URL's `host[:port]` (the port only when it is not the scheme's default),
//!   set explicitly so that the signed value is the one sent.
//! - The signature covers the method, the path `/`, the empty query, the `content-type` and
//!   `host` headers and the SHA-256 of the exact body bytes ([`canonical_request`],
//!   [`string_to_sign`], [`signature`], [`authorization`]). The secret key never leaves the
//!   process.
//! - `TemplateParamSet` fills the template's placeholders: the code, then its lifetime in
//!   whole minutes. Numbers are sent as `+86…`.
//!
//! The reply is JSON under `Response`: either `SendStatusSet` (one entry per number, each with
//! its own `Code` and `Message`) or `Error` (`Code`, `Message`), both with a `RequestId`:
//!
//! | reply | result |
//! |---|---|
//! | HTTP 200, the one `SendStatusSet[].Code` is `Ok` | `Ok(())` |
//! | HTTP 200, `Code` starts with `LimitExceeded.PhoneNumber` (daily, thirty-second, one-hour, same-content limits) or is `LimitExceeded.DeliveryFrequencyLimit` | [`SmsError::RateLimited`] with the code |
//! | HTTP 200, `Code` is `InvalidParameterValue.IncorrectPhoneNumber` or `FailedOperation.PhoneNumberInBlacklist` | [`SmsError::Rejected`] with the code and `Message` |
//! | HTTP 200, any other `Code` (unknown codes included) | [`SmsError::Unavailable`] |
//! | HTTP 200, `Response.Error` (`AuthFailure.*`, `FailedOperation.InsufficientBalanceInSmsPackage`, `InternalError.*`, `LimitExceeded.AppDailyLimit`, anything) | [`SmsError::Unavailable`] |
//! | HTTP 200, `SendStatusSet` missing, empty or with more than one entry; no `Response` | [`SmsError::Unavailable`] |
//! | a redirect (3xx) | [`SmsError::Unavailable`]; never followed |
//! | other HTTP status, unreadable or non-JSON body, body over [`MAX_REPLY_BYTES`], network error, timeout | [`SmsError::Unavailable`] |
//!
//! Unavailable sends are failed over to the next provider (SPEC §6a); rate-limited and rejected
//! ones are not.
//!
//! Base URL: `https://sms.tencentcloudapi.com` (the default; the API picks the region from
//! `X-TC-Region`). Connect and total timeouts are bounded.
//!
//! Redirects are not followed: a 307/308 would re-send the request, code and signature
//! included, to wherever `Location` points. The reply body is read chunk by chunk and given up
//! once it passes [`MAX_REPLY_BYTES`] (whatever `Content-Length` claims), so a misbehaving or
//! hostile peer cannot make the service buffer an unbounded body.
//!
//! Failures are logged at `warn` with the masked mobile and Tencent's `Code` / `Message` /
//! `RequestId`; the secret key, the signature, the `Authorization` value, the request body and
//! the code are never logged. Tencent's messages pass through a filter that masks the full
//! number and the code should a message ever echo them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use domain::{Mobile, SmsCode};
use hmac::{Hmac, Mac as _};
use ports::{Clock, SmsError, SmsSender};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::Url;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sms_http::{Answer, Outcome, Scrub};

/// Tencent Cloud SMS's endpoint (the region is chosen by `X-TC-Region`).
pub const DEFAULT_BASE_URL: &str = "https://sms.tencentcloudapi.com";
/// The region sent as `X-TC-Region` unless configured otherwise.
pub const DEFAULT_REGION: &str = "ap-guangzhou";
/// Default bound on establishing the TCP + TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default bound on the whole request, from connecting to the last byte of the reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a reply body that is read. Tencent's replies are a few hundred bytes; a longer
/// body is not a Tencent reply and fails the send as unavailable.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The signing algorithm, first word of `Authorization` and of the string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The headers covered by the signature, in the order of [`canonical_request`].
pub const SIGNED_HEADERS: &str = "content-type;host";
/// The service name in the credential scope.
pub const SERVICE: &str = "sms";
/// `X-TC-Action`.
pub const ACTION: &str = "SendSms";
/// `X-TC-Version`.
pub const API_VERSION: &str = "2021-01-11";
/// The `Content-Type` sent and signed.
pub const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";

/// Per-number code prefix of Tencent's per-number frequency limits
/// (`LimitExceeded.PhoneNumberDailyLimit`, `…ThirtySecondLimit`, `…OneHourLimit`,
/// `…SameContentDailyLimit`, …).
pub const RATE_LIMIT_PREFIX: &str = "LimitExceeded.PhoneNumber";
/// Per-number codes, besides [`RATE_LIMIT_PREFIX`], that mean "this number is sent to too often".
pub const RATE_LIMIT_CODES: [&str; 1] = ["LimitExceeded.DeliveryFrequencyLimit"];
/// Per-number codes that mean "this number cannot get SMS".
pub const REJECTED_CODES: [&str; 2] = [
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
];

/// The provider's name in errors and logs.
const PROVIDER: &str = "Tencent";
const SUCCESS_CODE: &str = "Ok";
const X_TC_ACTION: HeaderName = HeaderName::from_static("x-tc-action");
const X_TC_VERSION: HeaderName = HeaderName::from_static("x-tc-version");
const X_TC_TIMESTAMP: HeaderName = HeaderName::from_static("x-tc-timestamp");
const X_TC_REGION: HeaderName = HeaderName::from_static("x-tc-region");

/// Everything the sender needs; build it with [`TencentConfig::new`] and override fields.
///
/// `Debug` shows the secret key as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct TencentConfig {
    /// The API key's SecretId (`AKID…`).
    pub secret_id: String,
    /// The API key's SecretKey.
    pub secret_key: SecretString,
    /// The SMS application's SdkAppId (`1400…`).
    pub sdk_app_id: String,
    /// The approved signature (签名) content, e.g. `腾讯云`.
    pub sign_name: String,
    /// The approved code template; it takes two parameters: the code and the minutes.
    pub template_id: String,
    /// `X-TC-Region`, default `ap-guangzhou`.
    pub region: String,
    /// Default `https://sms.tencentcloudapi.com`: an http(s) URL without path, query or
    /// fragment. A trailing slash is ignored.
    pub base_url: String,
    /// Bound on connecting, default 3 s.
    pub connect_timeout: Duration,
    /// Bound on the whole request, default 5 s.
    pub timeout: Duration,
}

impl TencentConfig {
    /// The credentials and template, with the default region, base URL and timeouts.
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: SecretString,
        sdk_app_id: impl Into<String>,
        sign_name: impl Into<String>,
        template_id: impl Into<String>,
    ) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key,
            sdk_app_id: sdk_app_id.into(),
            sign_name: sign_name.into(),
            template_id: template_id.into(),
            region: DEFAULT_REGION.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Whether this configuration can send: the base URL is an http(s) URL without path,
    /// query, fragment or credentials; the SecretId, SecretKey, SdkAppId, sign name, template
    /// and region are non-empty (the SecretId and region printable ASCII, the SecretId without
    /// `/` or `,`); the timeouts are positive. Configuration loading calls it so every problem
    /// is reported at start-up; [`TencentSms::new`] refuses what it refuses.
    pub fn check(&self) -> anyhow::Result<()> {
        Endpoint::of(self).map(drop)
    }
}

/// Sends verification codes through Tencent Cloud SMS. Cheap to clone (clones share the
/// connection pools).
#[derive(Clone)]
pub struct TencentSms {
    inner: Arc<Inner>,
    clock: Arc<dyn Clock>,
}

struct Inner {
    /// One per core, each thread keeping to one (see [`sms_http::Clients`]).
    clients: sms_http::Clients,
    endpoint: Endpoint,
    config: TencentConfig,
}

/// The checked request target.
struct Endpoint {
    /// `{base}/`.
    url: Url,
    /// `host[:port]`, as sent in `Host` and signed.
    host: String,
    host_header: HeaderValue,
    region_header: HeaderValue,
}

impl fmt::Debug for TencentSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TencentSms")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl TencentSms {
    /// Builds the HTTP clients (rustls, bounded connect and total timeouts, no redirects)
    /// for a config that passes [`TencentConfig::check`]. The timestamp comes from `clock`.
    pub fn new(config: TencentConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let endpoint = Endpoint::of(&config)?;
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

    /// One `SendSms` request; `Err` is unavailable.
    async fn send(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> anyhow::Result<Outcome> {
        let config = &self.inner.config;
        let endpoint = &self.inner.endpoint;
        let secs = self.clock.now().millis() / 1000;

        let phone = format!("+86{}", mobile.as_str());
        let minutes = valid_minutes.to_string();
        let body = SendSms {
            phone_number_set: [&phone],
            sms_sdk_app_id: &config.sdk_app_id,
            sign_name: &config.sign_name,
            template_id: &config.template_id,
            template_param_set: [code.expose(), &minutes],
        };
        let body = serde_json::to_vec(&body).context("encoding the request")?;

        let date = utc_date(secs);
        let scope = credential_scope(&date, SERVICE);
        let canonical =
            canonical_request("POST", "/", "", CONTENT_TYPE_JSON, &endpoint.host, &body);
        let signed = signature(
            config.secret_key.expose_secret(),
            &date,
            SERVICE,
            &string_to_sign(secs, &scope, &canonical),
        );
        let auth = sms_http::sensitive(&authorization(&config.secret_id, &scope, &signed))?;

        let request = self
            .inner
            .clients
            .get()
            .post(endpoint.url.clone())
            .header(CONTENT_TYPE, CONTENT_TYPE_JSON)
            .header(HOST, endpoint.host_header.clone())
            .header(X_TC_ACTION, ACTION)
            .header(X_TC_VERSION, API_VERSION)
            .header(X_TC_TIMESTAMP, secs)
            .header(X_TC_REGION, endpoint.region_header.clone())
            .header(AUTHORIZATION, auth)
            .body(body);
        let scrub = Scrub::new(mobile, code);
        // Off HTTP 200, only an `Error` reply says more.
        let detail = |bytes: &[u8]| match parse_reply(bytes, &scrub) {
            Ok(Reply::Error(e)) => Some(describe(&e)),
            _ => None,
        };
        let bytes = sms_http::exchange(request, MAX_REPLY_BYTES, PROVIDER, detail).await?;
        Ok(classify(parse_reply(&bytes, &scrub)?))
    }
}

impl SmsSender for TencentSms {
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

// ---------------------------------------------------------------------------------------------
// TC3-HMAC-SHA256 (signature v3), step by step as Tencent documents it.

/// `Lowercase(HexEncode(SHA256(payload)))`, the `HashedRequestPayload`.
pub fn hashed_payload(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The `CanonicalRequest` with [`SIGNED_HEADERS`] `content-type;host`:
///
/// ```text
/// {method}\n{canonical_uri}\n{canonical_query}\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{hashed_payload}
/// ```
///
/// Header values are trimmed and lowercased, as the canonical form requires.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    content_type: &str,
    host: &str,
    payload: &[u8],
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        content_type.trim().to_ascii_lowercase(),
        host.trim().to_ascii_lowercase(),
        hashed_payload(payload)
    )
}

/// The UTC date `YYYY-MM-DD` of the unix second `unix_secs` (not the local or Beijing date:
/// Tencent checks the credential's date against the UTC date of `X-TC-Timestamp`).
pub fn utc_date(unix_secs: u64) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");
    let at = i64::try_from(unix_secs)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Formatting a valid date with a fixed, numeric-only description cannot fail; keep the
    // arithmetic fallback anyway rather than panic.
    at.format(FORMAT).unwrap_or_else(|_| {
        format!(
            "{:04}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day()
        )
    })
}

/// `{date}/{service}/tc3_request`, the `CredentialScope`.
pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/tc3_request")
}

/// `TC3-HMAC-SHA256\n{unix_secs}\n{credential_scope}\n{hex(sha256(canonical_request))}`.
pub fn string_to_sign(unix_secs: u64, credential_scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{unix_secs}\n{credential_scope}\n{}",
        hashed_payload(canonical_request.as_bytes())
    )
}

/// `HexEncode(HMAC(SecretSigning, string_to_sign))` where `SecretSigning =
/// HMAC(HMAC(HMAC("TC3" + secret_key, date), service), "tc3_request")`.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()))
}

/// `TC3-HMAC-SHA256 Credential={secret_id}/{credential_scope}, SignedHeaders=content-type;host, Signature={signature}`.
pub fn authorization(secret_id: &str, credential_scope: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (longer ones are hashed first); this cannot happen.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

// ---------------------------------------------------------------------------------------------

impl Endpoint {
    /// Every check of the config; the request target.
    fn of(config: &TencentConfig) -> anyhow::Result<Self> {
        let id = &config.secret_id;
        if id.is_empty() {
            bail!("sms.tencent.secret_id is empty");
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
        {
            bail!("sms.tencent.secret_id must be printable ASCII without '/' or ','");
        }
        if config.secret_key.expose_secret().is_empty() {
            bail!("sms.tencent.secret_key is empty");
        }
        if config.sdk_app_id.is_empty() {
            bail!("sms.tencent.sdk_app_id is empty");
        }
        if config.sign_name.is_empty() {
            bail!("sms.tencent.sign_name is empty");
        }
        if config.template_id.is_empty() {
            bail!("sms.tencent.template_id is empty");
        }
        if config.region.is_empty() || !config.region.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("sms.tencent.region must be non-empty printable ASCII");
        }
        if config.connect_timeout.is_zero() || config.timeout.is_zero() {
            bail!("sms.tencent timeouts must be greater than zero");
        }
        let base = config.base_url.trim_end_matches('/');
        let url = Url::parse(base)
            .with_context(|| format!("sms.tencent.base_url {base:?} is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "sms.tencent.base_url must be http(s), not {:?}",
                url.scheme()
            );
        }
        if url.path() != "/" {
            bail!("sms.tencent.base_url must not have a path (the API is served at /)");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("sms.tencent.base_url must not have a query or fragment");
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("sms.tencent.base_url must not carry credentials");
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), None) => host.to_owned(),
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (None, _) => bail!("sms.tencent.base_url has no host"),
        };
        let host_header = HeaderValue::from_str(&host)
            .with_context(|| format!("sms.tencent.base_url host {host:?} is not a header value"))?;
        let region_header = HeaderValue::from_str(&config.region)
            .context("sms.tencent.region is not a header value")?;
        Ok(Self {
            url,
            host,
            host_header,
            region_header,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendSms<'a> {
    phone_number_set: [&'a str; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    template_param_set: [&'a str; 2],
}

/// `{Code}: {Message} (RequestId {RequestId})` of one `SendStatusSet` entry or the `Error`
/// object.
fn describe(status: &Answer) -> String {
    format!(
        "{}: {} (RequestId {})",
        status.code,
        status.message,
        status.request_id.as_deref().unwrap_or_default()
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// `Response.Error`.
    Error(Answer),
    /// `Response.SendStatusSet`, in order, each with the reply's `RequestId`.
    Statuses(Vec<Answer>),
}

/// Reads `Response.Error` or `Response.SendStatusSet` (every text scrubbed).
fn parse_reply(bytes: &[u8], scrub: &Scrub) -> anyhow::Result<Reply> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).context("Tencent's reply is not JSON")?;
    let Some(response) = value.get("Response").filter(|r| r.is_object()) else {
        bail!("Tencent's reply has no Response object");
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => scrub.text(s),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => scrub.text(&other.to_string()),
    };
    let request_id = text(response.get("RequestId"));
    if let Some(error) = response.get("Error") {
        return Ok(Reply::Error(Answer {
            code: text(error.get("Code")),
            message: text(error.get("Message")),
            request_id: Some(request_id),
        }));
    }
    let Some(set) = response.get("SendStatusSet").and_then(|s| s.as_array()) else {
        bail!("Tencent's reply has neither Error nor a SendStatusSet list");
    };
    set.iter()
        .map(|entry| match entry.get("Code") {
            Some(serde_json::Value::String(code)) => Ok(Answer {
                code: scrub.text(code),
                message: text(entry.get("Message")),
                request_id: Some(request_id.clone()),
            }),
            _ => Err(anyhow!(
                "a SendStatusSet entry of Tencent's reply has no Code"
            )),
        })
        .collect::<anyhow::Result<_>>()
        .map(Reply::Statuses)
}

fn classify(reply: Reply) -> Outcome {
    let mut statuses = match reply {
        Reply::Error(error) => {
            return Outcome::Unavailable(anyhow!("Tencent answered error {}", describe(&error)))
        }
        Reply::Statuses(statuses) => statuses,
    };
    if statuses.len() != 1 {
        return Outcome::Unavailable(anyhow!(
            "Tencent's reply has {} SendStatusSet entries for one number",
            statuses.len()
        ));
    }
    let status = statuses.remove(0);
    let code = status.code.as_str();
    if code == SUCCESS_CODE {
        Outcome::Sent
    } else if code.starts_with(RATE_LIMIT_PREFIX) || RATE_LIMIT_CODES.contains(&code) {
        Outcome::RateLimited(status)
    } else if REJECTED_CODES.contains(&code) {
        Outcome::Rejected(status)
    } else {
        Outcome::Unavailable(anyhow!("Tencent did not send: {}", describe(&status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Timestamp;

    /// The worked example of Tencent's "签名方法 v3 / Signature v3" documentation (CVM
    /// `DescribeInstances` in ap-guangzhou), every value below copied from the published text:
    /// <https://www.tencentcloud.com/zh/document/api/1021/34193> (the same page is repeated per
    /// product, e.g. CVM's <https://cloud.tencent.com/document/api/213/30654>); the English
    /// source read was Tencent's intlcloud-documents Markdown of that page ("The calculation
    /// result in this example is …" for the hashed payload, hashed canonical request,
    /// signature and Authorization). The values were also recomputed with python3
    /// hmac/hashlib, which agrees.
    mod worked_example {
        pub const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
        pub const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        pub const TIMESTAMP: u64 = 1_551_113_065;
        pub const HOST: &str = "cvm.tencentcloudapi.com";
        /// The body as the documentation sends it: the `\u…` escapes are literal ASCII.
        pub const PAYLOAD: &str = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        pub const HASHED_PAYLOAD: &str =
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064";
        pub const CANONICAL_REQUEST: &str = "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064";
        pub const HASHED_CANONICAL_REQUEST: &str =
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031";
        pub const CREDENTIAL_SCOPE: &str = "2019-02-25/cvm/tc3_request";
        pub const STRING_TO_SIGN: &str = "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031";
        pub const SIGNATURE: &str =
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
        pub const AUTHORIZATION: &str = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
    }

    #[test]
    fn the_signer_reproduces_tencents_worked_example_step_by_step() {
        use worked_example::*;
        assert_eq!(hashed_payload(PAYLOAD.as_bytes()), HASHED_PAYLOAD);
        let canonical =
            canonical_request("POST", "/", "", CONTENT_TYPE_JSON, HOST, PAYLOAD.as_bytes());
        assert_eq!(canonical, CANONICAL_REQUEST);
        assert_eq!(
            hashed_payload(canonical.as_bytes()),
            HASHED_CANONICAL_REQUEST
        );
        let date = utc_date(TIMESTAMP);
        assert_eq!(date, "2019-02-25");
        let scope = credential_scope(&date, "cvm");
        assert_eq!(scope, CREDENTIAL_SCOPE);
        let to_sign = string_to_sign(TIMESTAMP, &scope, &canonical);
        assert_eq!(to_sign, STRING_TO_SIGN);
        let signed = signature(SECRET_KEY, &date, "cvm", &to_sign);
        assert_eq!(signed, SIGNATURE);
        assert_eq!(authorization(SECRET_ID, &scope, &signed), AUTHORIZATION);
    }

    #[test]
    fn canonical_headers_are_trimmed_and_lowercased() {
        assert_eq!(
            canonical_request(
                "POST",
                "/",
                "",
                " Application/JSON; charset=UTF-8 ",
                "CVM.tencentcloudapi.com",
                worked_example::PAYLOAD.as_bytes()
            ),
            worked_example::CANONICAL_REQUEST
        );
    }

    #[test]
    fn the_credential_date_is_the_utc_date() {
        // The documentation's own warning: 1551113065 is already 2019-02-26 in Beijing.
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_709_596_799), "2024-03-04");
        assert_eq!(utc_date(1_709_596_800), "2024-03-05");
        // Out of range for a calendar date: no panic.
        assert_eq!(utc_date(u64::MAX), "1970-01-01");
    }

    const SECRET_KEY: &str = "tencent-secret-key-0123456789abcdef";

    fn config(base_url: &str) -> TencentConfig {
        TencentConfig {
            base_url: base_url.to_owned(),
            ..TencentConfig::new(
                "AKIDexample",
                SecretString::from(SECRET_KEY),
                "1400000000",
                "签名",
                "1234567",
            )
        }
    }

    struct Epoch;
    impl Clock for Epoch {
        fn now(&self) -> Timestamp {
            Timestamp(0)
        }
    }

    fn sender(config: TencentConfig) -> anyhow::Result<TencentSms> {
        TencentSms::new(config, Arc::new(Epoch))
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = config(DEFAULT_BASE_URL);
        assert_eq!(c.base_url, "https://sms.tencentcloudapi.com");
        assert_eq!(c.region, "ap-guangzhou");
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.timeout, Duration::from_secs(5));
    }

    #[test]
    fn the_host_is_host_and_port_as_sent() {
        for (base, host, url) in [
            (
                "https://sms.tencentcloudapi.com",
                "sms.tencentcloudapi.com",
                "https://sms.tencentcloudapi.com/",
            ),
            (
                "https://sms.tencentcloudapi.com/",
                "sms.tencentcloudapi.com",
                "https://sms.tencentcloudapi.com/",
            ),
            // The scheme's default port is not sent, so it is not signed either.
            (
                "https://SMS.tencentcloudapi.com:443",
                "sms.tencentcloudapi.com",
                "https://sms.tencentcloudapi.com/",
            ),
            (
                "http://127.0.0.1:8080",
                "127.0.0.1:8080",
                "http://127.0.0.1:8080/",
            ),
        ] {
            let endpoint = Endpoint::of(&config(base)).unwrap();
            assert_eq!(endpoint.host, host, "{base}");
            assert_eq!(endpoint.host_header, host, "{base}");
            assert_eq!(endpoint.url.as_str(), url, "{base}");
        }
    }

    #[test]
    fn bad_config_fails_the_check_and_is_refused_at_construction() {
        let mut bad = vec![
            config("not a url"),
            config("ftp://sms.tencentcloudapi.com"),
            config("https://h:1/?x=1"),
            config("https://h:1/#f"),
            config("https://h/prefix"),
            config("https://user:pw@h/"),
        ];
        let edits: [fn(&mut TencentConfig); 10] = [
            |c| c.secret_id.clear(),
            |c| c.secret_id = "AKID/x".to_owned(),
            |c| c.secret_id = "AKID x".to_owned(),
            |c| c.secret_key = SecretString::from(""),
            |c| c.sdk_app_id.clear(),
            |c| c.sign_name.clear(),
            |c| c.template_id.clear(),
            |c| c.region = "ap guangzhou".to_owned(),
            |c| c.timeout = Duration::ZERO,
            |c| c.connect_timeout = Duration::ZERO,
        ];
        for edit in edits {
            let mut c = config(DEFAULT_BASE_URL);
            edit(&mut c);
            bad.push(c);
        }
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
            assert!(sender(c).is_err());
        }
        assert!(config(DEFAULT_BASE_URL).check().is_ok());
        let sms = sender(config(DEFAULT_BASE_URL)).unwrap();
        assert!(sms.inner.config.check().is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret_key() {
        let sms = sender(config(DEFAULT_BASE_URL)).unwrap();
        let shown = format!("{sms:?} {:?}", sms.inner.config);
        assert!(!shown.contains(SECRET_KEY), "{shown}");
        assert!(shown.contains("AKIDexample"), "{shown}");
    }

    fn scrub() -> Scrub {
        Scrub::new(
            &Mobile::parse("13800138000").unwrap(),
            &SmsCode::parse("042917").unwrap(),
        )
    }

    fn status(code: &str) -> Answer {
        Answer {
            code: code.to_owned(),
            message: "m".to_owned(),
            request_id: Some("r".to_owned()),
        }
    }

    fn statuses(code: &str) -> Reply {
        Reply::Statuses(vec![status(code)])
    }

    #[test]
    fn per_number_codes_are_classified() {
        assert!(matches!(classify(statuses("Ok")), Outcome::Sent));
        for code in [
            "LimitExceeded.PhoneNumberDailyLimit",
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "LimitExceeded.PhoneNumberOneHourLimit",
            "LimitExceeded.PhoneNumberSameContentDailyLimit",
            "LimitExceeded.DeliveryFrequencyLimit",
        ] {
            assert!(
                matches!(classify(statuses(code)), Outcome::RateLimited(_)),
                "{code}"
            );
        }
        for code in REJECTED_CODES {
            assert!(
                matches!(classify(statuses(code)), Outcome::Rejected(_)),
                "{code}"
            );
        }
        for code in [
            "ok",
            "LimitExceeded.AppDailyLimit",
            "LimitExceeded.Phone",
            "FailedOperation.InsufficientBalanceInSmsPackage",
            "Something.New",
            "",
        ] {
            assert!(
                matches!(classify(statuses(code)), Outcome::Unavailable(_)),
                "{code}"
            );
        }
        assert!(matches!(
            classify(Reply::Statuses(vec![])),
            Outcome::Unavailable(_)
        ));
        assert!(matches!(
            classify(Reply::Statuses(vec![status("Ok"), status("Ok")])),
            Outcome::Unavailable(_)
        ));
    }

    #[test]
    fn an_error_reply_is_unavailable_whatever_its_code() {
        for code in [
            "AuthFailure.SignatureFailure",
            "FailedOperation.InsufficientBalanceInSmsPackage",
            "InternalError.Timeout",
            "LimitExceeded.AppDailyLimit",
            // Even codes that would be a classification per number.
            "LimitExceeded.PhoneNumberDailyLimit",
            "InvalidParameterValue.IncorrectPhoneNumber",
        ] {
            let reply = parse_reply(
                format!(r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#)
                    .as_bytes(),
                &scrub(),
            )
            .unwrap();
            assert!(matches!(classify(reply), Outcome::Unavailable(_)), "{code}");
        }
    }

    #[test]
    fn replies_are_parsed_and_garbage_is_an_error() {
        assert_eq!(
            parse_reply(
                br#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}"#,
                &scrub()
            )
            .unwrap(),
            Reply::Statuses(vec![Answer {
                code: "Ok".to_owned(),
                message: "send success".to_owned(),
                request_id: Some("a0aabda6".to_owned()),
            }])
        );
        for garbage in [
            &b""[..],
            b"<html>",
            b"null",
            b"[]",
            br#"{"Response":null}"#,
            br#"{"Response":"x"}"#,
            br#"{"Response":{}}"#,
            br#"{"Response":{"SendStatusSet":{}}}"#,
            br#"{"Response":{"SendStatusSet":[{}]}}"#,
            br#"{"Response":{"SendStatusSet":[{"Code":1}]}}"#,
            br#"{"Response":{"SendStatusSet":[null]}}"#,
            b"\xff\xfe",
        ] {
            assert!(parse_reply(garbage, &scrub()).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn provider_text_is_scrubbed_of_the_number_and_the_code() {
        let reply = parse_reply(
            br#"{"Response":{"SendStatusSet":[{"Code":"FailedOperation.PhoneNumberInBlacklist","Message":"+8613800138000 is blacklisted (code 042917)"}],"RequestId":"r"}}"#,
            &scrub(),
        )
        .unwrap();
        let Reply::Statuses(statuses) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(
            statuses[0].message,
            "+86138****8000 is blacklisted (code ******)"
        );
    }
}

//! What both Tencent test binaries share: the fixed account and clock, and a strict Tencent
//! peer that checks every request with its own TC3-HMAC-SHA256 implementation (HMAC written
//! out from RFC 2104 over `sha2`, the UTC date from the civil calendar by hand), independent of
//! the crate's helpers and of the `hmac` and `time` crates it uses.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::Timestamp;
use port_contracts::FakeClock;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tencent_sms::{TencentConfig, TencentSms};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const SECRET_ID: &str = "AKIDtestsecretid0123456789abcdefEXAMPLE";
pub const SECRET_KEY: &str = "TestSecretKey0123456789abcdefXYZ";
pub const SDK_APP_ID: &str = "1400006666";
pub const SIGN_NAME: &str = "腾讯云";
pub const TEMPLATE_ID: &str = "1110";
pub const REGION: &str = "ap-guangzhou";
/// 2019-02-25 16:44:25.123 UTC: already 2019-02-26 in Beijing, so a credential dated by
/// local (UTC+8) time is refused.
pub const NOW: Timestamp = Timestamp(1_551_113_065_123);
pub const TS: u64 = 1_551_113_065;
pub const DATE: &str = "2019-02-25";
pub const MOBILE: &str = "13800138000";
pub const PHONE: &str = "+8613800138000";
pub const CODE: &str = "042917";
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub fn config(base_url: String, timeout: Duration) -> TencentConfig {
    TencentConfig {
        base_url,
        timeout,
        connect_timeout: Duration::from_secs(2),
        ..TencentConfig::new(
            SECRET_ID,
            SecretString::from(SECRET_KEY),
            SDK_APP_ID,
            SIGN_NAME,
            TEMPLATE_ID,
        )
    }
}

/// A sender whose clock always reads [`NOW`].
pub fn sender(config: TencentConfig) -> TencentSms {
    TencentSms::new(config, Arc::new(FakeClock::at(NOW))).unwrap()
}

pub fn sender_with(base_url: String, timeout: Duration) -> TencentSms {
    sender(config(base_url, timeout))
}

// ----- an independent TC3-HMAC-SHA256 ---------------------------------------------------------

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HMAC-SHA256 as RFC 2104 defines it (block size 64).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// `YYYY-MM-DD` (UTC) of a unix second, by the days-to-civil algorithm.
pub fn utc_date(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap();
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Everything a TC3 signature covers, as the receiving side sees it.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub content_type: &'a str,
    pub host: &'a str,
    pub body: &'a [u8],
    pub timestamp: u64,
    pub service: &'a str,
}

/// The `Authorization` value Tencent expects for `s`, with `SignedHeaders=content-type;host`.
pub fn tc3_authorization(secret_id: &str, secret_key: &str, s: &Signed<'_>) -> String {
    let canonical = [
        s.method.to_owned(),
        s.path.to_owned(),
        s.query.to_owned(),
        format!("content-type:{}", s.content_type.trim().to_lowercase()),
        format!("host:{}", s.host.trim().to_lowercase()),
        String::new(),
        "content-type;host".to_owned(),
        sha256_hex(s.body),
    ]
    .join("\n");
    let date = utc_date(s.timestamp);
    let scope = format!("{date}/{}/tc3_request", s.service);
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{}\n{scope}\n{}",
        s.timestamp,
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, s.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature: String = hmac_sha256(&k_signing, to_sign.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
    )
}

// ----- the strict peer ------------------------------------------------------------------------

/// Tencent's success reply for one number.
pub fn ok_reply() -> ResponseTemplate {
    status_reply("Ok", "send success")
}

/// An HTTP 200 reply whose one `SendStatusSet` entry has `code` and `message`.
pub fn status_reply(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(status_body(code, message))
}

/// Tencent's reply body with one `SendStatusSet` entry.
pub fn status_body(code: &str, message: &str) -> Value {
    json!({
        "Response": {
            "SendStatusSet": [{
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": PHONE,
                "Fee": 1,
                "SessionContext": "",
                "Code": code,
                "Message": message,
                "IsoCode": "CN",
            }],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    })
}

/// An HTTP 200 reply with `Response.Error`.
pub fn error_reply(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(error_body(code, message))
}

/// Tencent's reply body with `Response.Error`.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({
        "Response": {
            "Error": { "Code": code, "Message": message },
            "RequestId": "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6",
        }
    })
}

pub const SIGNATURE_FAILURE: &str = "AuthFailure.SignatureFailure";

/// What the peer requires beyond the signature.
#[derive(Clone)]
pub struct Expected {
    /// `host:port` of the mock server.
    pub host: String,
    pub region: String,
    pub timestamp: u64,
    pub body: Value,
}

impl Expected {
    /// The defaults of [`config`], a code valid for 5 minutes, sent to `server`.
    pub fn for_server(server: &MockServer) -> Self {
        Self {
            host: server.address().to_string(),
            region: REGION.to_owned(),
            timestamp: TS,
            body: json!({
                "PhoneNumberSet": [PHONE],
                "SmsSdkAppId": SDK_APP_ID,
                "SignName": SIGN_NAME,
                "TemplateId": TEMPLATE_ID,
                "TemplateParamSet": [CODE, "5"],
            }),
        }
    }
}

/// Answers `reply` only to a request that is right in every detail and carries the exact TC3
/// signature of what was received; anything else gets `AuthFailure.SignatureFailure` (naming
/// what was wrong, never a secret). Records every `Authorization` it was sent.
pub struct StrictPeer {
    pub expected: Expected,
    pub reply: ResponseTemplate,
    pub seen_authorizations: Arc<Mutex<Vec<String>>>,
}

impl StrictPeer {
    /// The check, exposed for tests of the peer itself.
    pub fn verify(&self, req: &Request) -> Result<(), String> {
        let one = |name: &str| -> Result<&str, String> {
            let mut values = req.headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().map_err(|_| format!("{name} is not ASCII")),
                (None, _) => Err(format!("{name} is missing")),
                (Some(_), Some(_)) => Err(format!("{name} is repeated")),
            }
        };
        let exact = |name: &str, want: &str| -> Result<(), String> {
            let got = one(name)?;
            if got == want {
                Ok(())
            } else {
                Err(format!("{name} is {got:?}, not {want:?}"))
            }
        };
        if req.method.as_str() != "POST" {
            return Err(format!("method {} is not POST", req.method));
        }
        if req.url.path() != "/" || req.url.query().is_some() {
            return Err(format!("target {:?} is not /", req.url.as_str()));
        }
        exact("content-type", CONTENT_TYPE)?;
        exact("host", &self.expected.host)?;
        exact("x-tc-action", "SendSms")?;
        exact("x-tc-version", "2021-01-11")?;
        exact("x-tc-region", &self.expected.region)?;
        exact("x-tc-timestamp", &self.expected.timestamp.to_string())?;
        let body: Value =
            serde_json::from_slice(&req.body).map_err(|_| "the body is not JSON".to_owned())?;
        if body != self.expected.body {
            return Err("the body is not the expected SendSms request".to_owned());
        }
        // The signature, recomputed from what arrived (as Tencent does).
        let timestamp: u64 = one("x-tc-timestamp")?
            .parse()
            .map_err(|_| "X-TC-Timestamp is not a number".to_owned())?;
        let want = tc3_authorization(
            SECRET_ID,
            SECRET_KEY,
            &Signed {
                method: req.method.as_str(),
                path: req.url.path(),
                query: req.url.query().unwrap_or(""),
                content_type: one("content-type")?,
                host: one("host")?,
                body: &req.body,
                timestamp,
                service: "sms",
            },
        );
        if one("authorization")? != want {
            return Err("Authorization does not match the request".to_owned());
        }
        Ok(())
    }
}

impl Respond for StrictPeer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        for auth in req.headers.get_all("authorization") {
            let auth = String::from_utf8_lossy(auth.as_bytes()).into_owned();
            self.seen_authorizations.lock().unwrap().push(auth);
        }
        match self.verify(req) {
            Ok(()) => self.reply.clone(),
            Err(why) => error_reply(SIGNATURE_FAILURE, &why),
        }
    }
}

/// Mounts a [`StrictPeer`] answering `reply` to exactly one request; returns where it records
/// the `Authorization` values it receives.
pub async fn expect_one_request(
    server: &MockServer,
    expected: Expected,
    reply: ResponseTemplate,
) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(StrictPeer {
            expected,
            reply,
            seen_authorizations: Arc::clone(&seen),
        })
        .expect(1)
        .mount(server)
        .await;
    seen
}

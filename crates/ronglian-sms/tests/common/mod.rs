//! What both Ronglian test binaries share: the fixed account, clock and the protocol values
//! recomputed independently of the crate's own helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use domain::Timestamp;
use md5::{Digest as _, Md5};
use port_contracts::FakeClock;
use ronglian_sms::{RonglianConfig, RonglianSms};
use secrecy::SecretString;

pub const SID: &str = "8aaf0708780055cd0178c26f4fd5131b";
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";
pub const APP_ID: &str = "8aaf0708780055cd0178c26f50231322";
pub const TEMPLATE_ID: &str = "1";
/// 2024-03-05 06:07:08.900 UTC, i.e. 2024-03-05 14:07:08 in Beijing.
pub const NOW: Timestamp = Timestamp(1_709_618_828_900);
pub const TS: &str = "20240305140708";
pub const MOBILE: &str = "13800138000";
pub const CODE: &str = "042917";

/// A sender whose `ts` is always [`TS`].
pub fn sender(config: RonglianConfig) -> RonglianSms {
    RonglianSms::new(config, Arc::new(FakeClock::at(NOW))).unwrap()
}

/// Recomputed here from the protocol, independently of the crate's own helpers.
pub fn expected_sig() -> String {
    let digest = Md5::digest(format!("{SID}{TOKEN}{TS}").as_bytes());
    let sig: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    // Same vector as the unit test, computed with python3 hashlib.
    assert_eq!(sig, "61ABDFAC3ED90837D743BA6D5B1769C8");
    sig
}

pub fn expected_authorization() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TS}"))
}

pub fn sender_with(base_url: String, timeout: Duration) -> RonglianSms {
    let config = RonglianConfig {
        base_url,
        timeout,
        connect_timeout: Duration::from_secs(2),
        ..RonglianConfig::new(SID, SecretString::from(TOKEN), APP_ID)
    };
    sender(config)
}

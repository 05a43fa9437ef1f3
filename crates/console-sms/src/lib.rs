//! The development SMS sender: the message goes to stdout instead of a phone.

use domain::{Mobile, SmsCode};
use ports::{SmsError, SmsSender};

/// Prints each code message as one line on stdout, e.g.
/// `[console-sms] to 13800138000: 您的验证码是 123456，5分钟内有效`.
///
/// This is deliberately `println!` and not `tracing`: the console line is the one place a code
/// (and the full number) appears, and it never reaches the log pipeline. The composition root
/// refuses this sender in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSms;

impl ConsoleSms {
    pub fn new() -> Self {
        Self
    }

    /// The line printed for one message.
    pub fn message(mobile: &Mobile, code: &SmsCode, valid_minutes: u32) -> String {
        format!(
            "[console-sms] to {}: 您的验证码是 {}，{}分钟内有效",
            mobile.as_str(),
            code.expose(),
            valid_minutes
        )
    }
}

impl SmsSender for ConsoleSms {
    async fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> Result<(), SmsError> {
        println!("{}", Self::message(mobile, code, valid_minutes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_number_code_and_validity() {
        let m = Mobile::parse("13800138000").unwrap();
        let c = SmsCode::from_number(42);
        assert_eq!(
            ConsoleSms::message(&m, &c, 5),
            "[console-sms] to 13800138000: 您的验证码是 000042，5分钟内有效"
        );
    }

    #[tokio::test]
    async fn sending_succeeds() {
        let m = Mobile::parse("13800138000").unwrap();
        ConsoleSms::new()
            .send_code(&m, &SmsCode::from_number(123_456), 5)
            .await
            .unwrap();
    }
}

//! Issue a captcha: pick a text, remember it under the client's id, draw it.

use std::net::IpAddr;

use domain::{CaptchaId, CaptchaImage, CaptchaText, Refusal, CAPTCHA_ALPHABET};
use ports::{
    CaptchaRenderer, CaptchaStore, Event, NewCaptcha, RandomSource, RateLimiter, RenderError,
    StoreError,
};

use crate::{App, Ports};

#[derive(Debug, thiserror::Error)]
pub enum IssueCaptchaError {
    /// Too many captchas for this client in the last minute. REQERR with `Retry-After`.
    #[error("captcha rate limited")]
    Limited(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl<P: Ports> App<P> {
    /// Render a new captcha for `id` and keep its text for `captcha.ttl_secs`. A reused id
    /// replaces the earlier text. `discard` (the news site's `pre_id`) is forgotten first.
    /// At most `limits.captcha_per_ip_per_minute` per client: beyond it nothing is drawn or
    /// stored.
    #[tracing::instrument(skip_all, fields(captcha_id = id.as_str()))]
    pub async fn issue_captcha(
        &self,
        id: &CaptchaId,
        discard: Option<&CaptchaId>,
        client_ip: IpAddr,
    ) -> Result<CaptchaImage, IssueCaptchaError> {
        let a = &self.adapters;
        let text = match &self.hooks.captcha_text {
            Some(fixed) => fixed.clone(),
            None => random_text(a.random.as_ref(), self.policy.captcha_length),
        };
        // Count it and store its text in one step, then draw: a refused client changes
        // nothing and costs no drawing. (If drawing failed, the stored text would be one
        // nobody has seen; it expires with its ttl.)
        let captcha = NewCaptcha {
            id,
            text: &text,
            ttl: self.policy.captcha_ttl,
        };
        if let Err(refusal) = a
            .limiter()
            .acquire_captcha(
                self.client(client_ip),
                self.policy.captchas_per_minute,
                a.clock.now(),
                captcha,
            )
            .await?
        {
            tracing::info!(limit = refusal.limit.as_str(), "captcha refused by a limit");
            self.record(Event::Refused(refusal.limit));
            return Err(IssueCaptchaError::Limited(refusal));
        }
        if let Some(previous) = discard.filter(|p| *p != id) {
            a.captchas().discard(previous).await?;
        }
        let image = a.renderer.render(&text).await?;
        self.record(Event::CaptchaIssued);
        Ok(image)
    }
}

fn random_text(random: &dyn RandomSource, length: usize) -> CaptchaText {
    let alphabet = CAPTCHA_ALPHABET.len() as u32;
    CaptchaText::from_alphabet_indices((0..length).map(|_| random.below(alphabet)))
}

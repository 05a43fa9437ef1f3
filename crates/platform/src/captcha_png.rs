//! Captcha images drawn with the `captcha` crate.

use anyhow::anyhow;
use captcha::filters::{Dots, Noise, Wave};
use captcha::Captcha;
use domain::{CaptchaImage, CaptchaText};
use ports::{CaptchaRenderer, RenderError};

/// Width of every rendered image, in pixels.
pub const CAPTCHA_WIDTH: u32 = 212;
/// Height of every rendered image, in pixels.
pub const CAPTCHA_HEIGHT: u32 = 70;

/// Renders exactly the given text (black glyphs of the crate's built-in font, which has every
/// character of [`domain::CAPTCHA_ALPHABET`]) with light salt noise, a gentle wave and a few
/// dots, as a [`CAPTCHA_WIDTH`]×[`CAPTCHA_HEIGHT`] PNG. Runs on tokio's blocking pool.
#[derive(Debug, Clone, Copy, Default)]
pub struct PngCaptchaRenderer;

impl PngCaptchaRenderer {
    pub fn new() -> Self {
        Self
    }
}

/// Draw `text` synchronously (CPU-bound; a few milliseconds).
fn draw(text: &str) -> Result<Vec<u8>, RenderError> {
    let mut c = Captcha::new();
    for ch in text.chars() {
        // The crate picks glyphs at random from the allowed set; a one-character set makes the
        // pick deterministic.
        // The font lacks upper-case I and L; the lower-case glyph reads the same to a
        // case-insensitive comparison. It has no O or 0 at all.
        let before = c.chars().len();
        c.set_chars(&[ch]).add_char();
        if c.chars().len() == before {
            c.set_chars(&[ch.to_ascii_lowercase()]).add_char();
        }
        if c.chars().len() != before + 1 {
            return Err(RenderError(anyhow!(
                "the captcha font has no glyph for a requested character"
            )));
        }
    }
    c.apply_filter(Noise::new(0.05))
        .apply_filter(Wave::new(2.0, 6.0).horizontal())
        .apply_filter(Wave::new(1.5, 4.0).vertical())
        .view(CAPTCHA_WIDTH, CAPTCHA_HEIGHT)
        .apply_filter(Dots::new(6).min_radius(2).max_radius(4));
    c.as_png()
        .ok_or_else(|| RenderError(anyhow!("PNG encoding of the captcha failed")))
}

impl CaptchaRenderer for PngCaptchaRenderer {
    async fn render(&self, text: &CaptchaText) -> Result<CaptchaImage, RenderError> {
        let text = text.as_str().to_owned();
        let bytes = tokio::task::spawn_blocking(move || draw(&text))
            .await
            .map_err(|e| RenderError(anyhow::Error::new(e).context("captcha task failed")))??;
        Ok(CaptchaImage {
            bytes,
            content_type: "image/png",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{CAPTCHA_ALPHABET, CAPTCHA_LEN};

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[tokio::test]
    async fn every_alphabet_character_renders_to_a_png_of_the_fixed_size() {
        let r = PngCaptchaRenderer::new();
        // Each text repeats one character, so every glyph of the alphabet is drawn.
        for &ch in CAPTCHA_ALPHABET {
            let s: String = std::iter::repeat_n(ch as char, CAPTCHA_LEN).collect();
            let img = r.render(&CaptchaText::parse(&s).unwrap()).await.unwrap();
            assert_eq!(img.content_type, "image/png");
            assert!(img.bytes.starts_with(PNG_SIGNATURE), "{s}");
            let (w, h, pixels) = decode(&img.bytes);
            assert_eq!((w, h), (CAPTCHA_WIDTH, CAPTCHA_HEIGHT), "{s}");
            // Something is drawn, and it is not mostly ink.
            let dark = pixels.iter().filter(|&&b| b < 128).count();
            assert!(dark > pixels.len() / 50, "{s}: almost blank");
            assert!(dark < pixels.len() / 2, "{s}: mostly black");
        }
    }

    #[tokio::test]
    async fn mixed_text_renders() {
        let r = PngCaptchaRenderer::new();
        let img = r
            .render(&CaptchaText::parse("A7KZ").unwrap())
            .await
            .unwrap();
        let (w, h, _) = decode(&img.bytes);
        assert_eq!((w, h), (CAPTCHA_WIDTH, CAPTCHA_HEIGHT));
        if let Ok(path) = std::env::var("YZ_CAPTCHA_SAMPLE") {
            std::fs::write(path, &img.bytes).unwrap();
        }
    }

    #[test]
    fn a_character_outside_the_font_is_an_error() {
        assert!(draw("A0").is_err(), "the font has no '0'");
        assert!(draw("AO").is_err(), "the font has no 'O'");
    }

    #[test]
    fn upper_case_i_and_l_fall_back_to_lower_case_glyphs() {
        assert!(draw("ILIL").is_ok());
    }
}

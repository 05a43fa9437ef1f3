//! yanzheng's captcha renderer, the production [`ports::CaptchaRenderer`].
//!
//! Drawn for people, not for OCR: glyphs of six faces, each rotated, scaled, stretched and
//! sheared, packed so that they touch; three inks of one grey value; decoy glyphs and arcs in
//! the same inks behind them; a stroke through them and four wavy cuts that erase the ink they
//! cross but its outline; the whole picture waved. `docs/captcha.md` says what each distortion
//! defeats and how the solve rates were measured.
//!
//! Fast: the glyphs are rasterised once ([`atlas`]), an image only samples them into a buffer
//! of palette indices ([`draw`]), and the PNG is 4-bit indexed with a fast deflate — under a
//! tenth of a millisecond and ~3–4 KB per image, so it is drawn inline on the request's thread.

mod atlas;
mod draw;
mod palette;

use std::sync::OnceLock;

use anyhow::anyhow;
use domain::{CaptchaImage, CaptchaText};
use ports::{CaptchaRenderer, RenderError};
use rand::Rng;

use atlas::Atlas;

/// Width of the service's captchas, in pixels (what the seed front ends lay out for).
pub const CAPTCHA_WIDTH: u32 = 212;
/// Height of the service's captchas, in pixels.
pub const CAPTCHA_HEIGHT: u32 = 70;

/// Sizes a renderer accepts, (min, max) per side.
pub const WIDTH_RANGE: (u32, u32) = (40, 1024);
pub const HEIGHT_RANGE: (u32, u32) = (20, 512);
/// Longest text drawn: the longest a captcha text may be.
pub const MAX_TEXT: usize = domain::CAPTCHA_TEXT_MAX;

static ATLAS: OnceLock<Result<Atlas, String>> = OnceLock::new();

fn atlas() -> Result<&'static Atlas, RenderError> {
    ATLAS
        .get_or_init(|| Atlas::build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| RenderError(anyhow!("captcha glyphs could not be built: {e}")))
}

/// Draws captchas of one size. Cheap to clone; the glyph atlas is built once per process.
#[derive(Debug, Clone, Copy)]
pub struct CaptchaArt {
    atlas: &'static Atlas,
    width: u32,
    height: u32,
}

impl CaptchaArt {
    /// A renderer of the service's size, [`CAPTCHA_WIDTH`]×[`CAPTCHA_HEIGHT`].
    pub fn new() -> Result<Self, RenderError> {
        Self::with_size(CAPTCHA_WIDTH, CAPTCHA_HEIGHT)
    }

    /// A renderer of another size (within [`WIDTH_RANGE`] and [`HEIGHT_RANGE`]).
    pub fn with_size(width: u32, height: u32) -> Result<Self, RenderError> {
        let fits = |v: u32, (lo, hi): (u32, u32)| (lo..=hi).contains(&v);
        if !fits(width, WIDTH_RANGE) || !fits(height, HEIGHT_RANGE) {
            return Err(RenderError(anyhow!(
                "captcha size {width}x{height} is outside {WIDTH_RANGE:?} x {HEIGHT_RANGE:?}"
            )));
        }
        Ok(Self {
            atlas: atlas()?,
            width,
            height,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Draw `text` as a PNG with randomness from `rng`. Every character must be in
    /// [`domain::CAPTCHA_ALPHABET`] (either case), 1 to [`MAX_TEXT`] of them.
    pub fn png<R: Rng>(&self, text: &str, rng: &mut R) -> Result<Vec<u8>, RenderError> {
        let mut chars = [' '; MAX_TEXT];
        let mut n = 0;
        for ch in text.chars() {
            if n == MAX_TEXT {
                return Err(RenderError(anyhow!("captcha text longer than {MAX_TEXT}")));
            }
            if atlas::alphabet_index(ch).is_none() {
                return Err(RenderError(anyhow!(
                    "captcha text has a character outside the alphabet"
                )));
            }
            chars[n] = ch;
            n += 1;
        }
        if n == 0 {
            return Err(RenderError(anyhow!("empty captcha text")));
        }
        let (canvas, palette) = draw::draw(
            self.atlas,
            &chars[..n],
            self.width as usize,
            self.height as usize,
            rng,
        );
        encode(&canvas, &palette)
            .map_err(|e| RenderError(anyhow::Error::new(e).context("PNG encoding failed")))
    }
}

/// 4-bit indexed PNG, no filter, fdeflate's fast level (`png::Compression::Fast`).
fn encode(
    canvas: &draw::Canvas,
    palette: &palette::Palette,
) -> Result<Vec<u8>, png::EncodingError> {
    const _: () = assert!(palette::COLOURS <= 16, "4-bit indices");
    let row = canvas.w.div_ceil(2);
    let mut packed = vec![0u8; row * canvas.h];
    for (out, line) in packed
        .chunks_exact_mut(row)
        .zip(canvas.px.chunks_exact(canvas.w))
    {
        for (byte, pair) in out.iter_mut().zip(line.chunks_exact(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        if canvas.w % 2 == 1 {
            out[row - 1] = line[canvas.w - 1] << 4;
        }
    }
    let mut out = Vec::with_capacity(packed.len() / 2 + 128);
    let mut encoder = png::Encoder::new(&mut out, canvas.w as u32, canvas.h as u32);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Four);
    encoder.set_palette(palette.flat().to_vec());
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::NoFilter);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&packed)?;
    writer.finish()?;
    Ok(out)
}

impl CaptchaRenderer for CaptchaArt {
    /// Drawn inline: it costs less than handing it to the blocking pool would (measured in
    /// `just bench`, recorded in docs/captcha.md).
    async fn render(&self, text: &CaptchaText) -> Result<CaptchaImage, RenderError> {
        let bytes = self.png(text.as_str(), &mut rand::rng())?;
        Ok(CaptchaImage {
            bytes,
            content_type: "image/png",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::CAPTCHA_ALPHABET;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    /// (width, height, bit depth, palette entries, index per pixel)
    fn decode(bytes: &[u8]) -> (u32, u32, png::BitDepth, usize, Vec<u8>) {
        let mut reader = png::Decoder::new(bytes).read_info().unwrap();
        let info = reader.info();
        let (w, h, depth) = (info.width, info.height, info.bit_depth);
        assert_eq!(info.color_type, png::ColorType::Indexed);
        let colours = info.palette.as_ref().unwrap().len() / 3;
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let row = frame.line_size;
        let mut px = Vec::with_capacity((w * h) as usize);
        for y in 0..h as usize {
            for x in 0..w as usize {
                let byte = buf[y * row + x / 2];
                px.push(if x % 2 == 0 { byte >> 4 } else { byte & 0x0f });
            }
        }
        (w, h, depth, colours, px)
    }

    #[test]
    fn every_image_is_a_small_four_bit_png_of_the_fixed_size_with_ink_on_it() {
        let art = CaptchaArt::new().unwrap();
        let mut rng = StdRng::seed_from_u64(42);
        let mut largest = 0;
        for i in 0..300 {
            let text: String = (0..4)
                .map(|j| CAPTCHA_ALPHABET[(i * 7 + j * 13) % CAPTCHA_ALPHABET.len()] as char)
                .collect();
            let bytes = art.png(&text, &mut rng).unwrap();
            largest = largest.max(bytes.len());
            let (w, h, depth, colours, px) = decode(&bytes);
            assert_eq!((w, h), (CAPTCHA_WIDTH, CAPTCHA_HEIGHT));
            assert_eq!((depth, colours), (png::BitDepth::Four, palette::COLOURS));
            let ink = px.iter().filter(|&&p| p != palette::BG).count();
            assert!(ink > px.len() / 8, "{text}: too little ink ({ink})");
            assert!(ink < px.len() / 2, "{text}: mostly ink ({ink})");
        }
        assert!(largest <= 6 * 1024, "a {largest}-byte PNG");
    }

    /// Every index, in every column (an odd width's last one included), and the palette
    /// come back out of the PNG as they went in.
    #[test]
    fn the_png_holds_exactly_the_drawn_indices_and_palette() {
        let palette = palette::Palette::random(&mut StdRng::seed_from_u64(8));
        for (w, h) in [(212, 70), (211, 70), (41, 21)] {
            let canvas = draw::Canvas {
                w,
                h,
                px: (0..w * h)
                    .map(|i| ((i + i / w) % palette::COLOURS) as u8)
                    .collect(),
            };
            let bytes = encode(&canvas, &palette).unwrap();
            let (dw, dh, _, _, px) = decode(&bytes);
            assert_eq!((dw as usize, dh as usize), (w, h));
            assert!(px == canvas.px, "{w}x{h}: the indices differ");
            let reader = png::Decoder::new(&bytes[..]).read_info().unwrap();
            let plte = reader.info().palette.as_deref().unwrap().to_vec();
            assert_eq!(plte, palette.flat().to_vec());
        }
    }

    #[test]
    fn lengths_from_one_to_the_maximum_draw_at_the_fixed_size() {
        let art = CaptchaArt::new().unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        for n in 1..=MAX_TEXT {
            let text: String = "WM".chars().cycle().take(n).collect();
            let (w, h, ..) = decode(&art.png(&text, &mut rng).unwrap());
            assert_eq!((w, h), (CAPTCHA_WIDTH, CAPTCHA_HEIGHT));
        }
    }

    #[test]
    fn texts_outside_the_alphabet_or_the_length_are_refused() {
        let art = CaptchaArt::new().unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for bad in ["", "AB0D", "ABOD", "AB1D", "ABID", "ABLD", "AB D", "AB验D"] {
            assert!(art.png(bad, &mut rng).is_err(), "{bad:?}");
        }
        assert!(art.png(&"A".repeat(MAX_TEXT + 1), &mut rng).is_err());
        assert!(
            art.png("abcd", &mut rng).is_ok(),
            "lower case draws as upper case"
        );
    }

    #[test]
    fn sizes_outside_the_ranges_are_refused() {
        for (w, h) in [(0, 70), (39, 70), (212, 19), (1025, 70), (212, 513)] {
            assert!(CaptchaArt::with_size(w, h).is_err(), "{w}x{h}");
        }
        assert_eq!(CaptchaArt::with_size(40, 20).unwrap().size(), (40, 20));
    }

    #[tokio::test]
    async fn the_port_answers_a_png() {
        let art = CaptchaArt::new().unwrap();
        let image = art
            .render(&CaptchaText::parse("A7KZ").unwrap())
            .await
            .unwrap();
        assert_eq!(image.content_type, "image/png");
        let (w, h, ..) = decode(&image.bytes);
        assert_eq!((w, h), (CAPTCHA_WIDTH, CAPTCHA_HEIGHT));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text, any size: an image or an error, never a panic; valid input always draws.
        #[test]
        fn never_panics(text in ".{0,20}", w in 0u32..1200, h in 0u32..600, seed: u64) {
            let mut rng = StdRng::seed_from_u64(seed);
            if let Ok(art) = CaptchaArt::with_size(w, h) {
                let drawn = art.png(&text, &mut rng);
                let valid = (1..=MAX_TEXT).contains(&text.chars().count())
                    && text.chars().all(|c| atlas::alphabet_index(c).is_some());
                prop_assert_eq!(drawn.is_ok(), valid);
                if let Ok(bytes) = drawn {
                    let (dw, dh, ..) = decode(&bytes);
                    prop_assert_eq!((dw, dh), (w, h));
                }
            }
        }

        #[test]
        fn alphabet_texts_of_any_length_and_size_draw(
            indices in proptest::collection::vec(0usize..31, 1..=MAX_TEXT),
            w in WIDTH_RANGE.0..=WIDTH_RANGE.1,
            h in HEIGHT_RANGE.0..=HEIGHT_RANGE.1,
            seed: u64,
        ) {
            let text: String = indices.iter().map(|&i| CAPTCHA_ALPHABET[i] as char).collect();
            let art = CaptchaArt::with_size(w, h).unwrap();
            let bytes = art.png(&text, &mut StdRng::seed_from_u64(seed)).unwrap();
            let (dw, dh, ..) = decode(&bytes);
            prop_assert_eq!((dw, dh), (w, h));
        }
    }
}

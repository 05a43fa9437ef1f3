//! `just captcha-samples`: a sheet of 24 captchas, each with its text beneath, to check by eye
//! that a person reads every one at a glance. Seeded, so the sheet changes only when the
//! renderer does: `cargo run --release -p captcha-image --example samples -- OUT.png`.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use captcha_image::{CaptchaArt, CAPTCHA_HEIGHT, CAPTCHA_WIDTH};
use domain::{CaptchaText, CAPTCHA_ALPHABET, CAPTCHA_LEN};
use rand::{rngs::StdRng, Rng, SeedableRng};

const COLUMNS: usize = 4;
const ROWS: usize = 6;
const GAP: usize = 12;
const LABEL: usize = 26;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/captcha-samples.png".into());
    let (cw, ch) = (CAPTCHA_WIDTH as usize, CAPTCHA_HEIGHT as usize);
    let (sw, sh) = (COLUMNS * (cw + GAP) + GAP, ROWS * (ch + LABEL + GAP) + GAP);
    let mut sheet = vec![255u8; sw * sh * 3];
    let art = CaptchaArt::new()?;
    let font = FontRef::try_from_slice(dejavu::sans_mono::bold())?;
    let mut rng = StdRng::seed_from_u64(2026);
    for i in 0..COLUMNS * ROWS {
        let text = CaptchaText::from_alphabet_indices(
            (0..CAPTCHA_LEN).map(|_| rng.random_range(0..CAPTCHA_ALPHABET.len()) as u32),
        );
        let text = text.as_str();
        let rgb = decode_rgb(&art.png(text, &mut rng)?)?;
        let (x0, y0) = (
            GAP + (i % COLUMNS) * (cw + GAP),
            GAP + (i / COLUMNS) * (ch + LABEL + GAP),
        );
        for y in 0..ch {
            let from = &rgb[y * cw * 3..(y + 1) * cw * 3];
            let at = ((y0 + y) * sw + x0) * 3;
            sheet[at..at + cw * 3].copy_from_slice(from);
        }
        label(&mut sheet, sw, &font, text, x0 + cw / 2, y0 + ch + 4);
    }
    let file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let mut encoder = png::Encoder::new(file, sw as u32, sh as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_compression(png::Compression::Best);
    encoder.write_header()?.write_image_data(&sheet)?;
    println!("wrote {out}");
    Ok(())
}

fn decode_rgb(png_bytes: &[u8]) -> Result<Vec<u8>, png::DecodingError> {
    let mut decoder = png::Decoder::new(png_bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf)?;
    buf.truncate(frame.buffer_size());
    Ok(buf)
}

/// Dark grey text centred on `cx`, its top at `top`.
fn label(sheet: &mut [u8], sw: usize, font: &FontRef<'_>, text: &str, cx: usize, top: usize) {
    let scale = PxScale::from(20.0);
    let scaled = font.as_scaled(scale);
    let width: f32 = text
        .chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)))
        .sum();
    let mut x = cx as f32 - width / 2.0;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph =
            id.with_scale_and_position(scale, ab_glyph::point(x, top as f32 + scaled.ascent()));
        x += scaled.h_advance(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let b = outlined.px_bounds();
        outlined.draw(|gx, gy, cov| {
            let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
            if px < 0 || py < 0 || px as usize >= sw {
                return;
            }
            let at = (py as usize * sw + px as usize) * 3;
            if let Some(pixel) = sheet.get_mut(at..at + 3) {
                let v = (255.0 - cov.clamp(0.0, 1.0) * 200.0) as u8;
                pixel.iter_mut().for_each(|p| *p = (*p).min(v));
            }
        });
    }
}

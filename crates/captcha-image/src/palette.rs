//! Per-image colours: a light background and three inks of clearly different hue but the same
//! grey value, so that a solver's first step (convert to grey, then threshold) keeps every ink
//! alike — text, strokes and clutter — while a person still sees three colours.

use rand::Rng;

/// Palette index of the background.
pub(crate) const BG: u8 = 0;
/// Inks per image (glyphs, strokes and clutter all use them).
pub(crate) const INKS: usize = 3;
/// The background, the inks, and the inks' edge tones.
pub(crate) const COLOURS: usize = 1 + 2 * INKS;

#[derive(Debug, Clone)]
pub(crate) struct Palette {
    pub(crate) rgb: [[u8; 3]; COLOURS],
}

impl Palette {
    pub(crate) fn random<R: Rng>(rng: &mut R) -> Self {
        let bg_hue = rng.random_range(0.0..360.0);
        let bg_sat = rng.random_range(0.3..0.7);
        let bg_light = rng.random_range(0.87..0.94);
        let bg = hsl(bg_hue, bg_sat, bg_light);
        let mut rgb = [[0; 3]; COLOURS];
        rgb[BG as usize] = bg;
        // One grey value for all inks, dark enough to read against the background.
        let grey = rng.random_range(0.30..0.42);
        let first_hue: f32 = rng.random_range(0.0..360.0);
        for i in 0..INKS {
            let hue = first_hue + i as f32 * 360.0 / INKS as f32 + rng.random_range(-20.0..20.0);
            let ink = with_luma(hue, rng.random_range(0.6..0.95), grey);
            rgb[1 + i] = ink;
            rgb[1 + INKS + i] = mix(ink, bg);
        }
        Self { rgb }
    }

    /// The palette as PNG's PLTE wants it: RGB triples.
    pub(crate) fn flat(&self) -> [u8; 3 * COLOURS] {
        let mut out = [0; 3 * COLOURS];
        for (chunk, c) in out.chunks_exact_mut(3).zip(&self.rgb) {
            chunk.copy_from_slice(c);
        }
        out
    }
}

/// Rec. 601 luma (what PIL's `convert("L")` computes), 0..1.
pub(crate) fn luma([r, g, b]: [u8; 3]) -> f32 {
    (0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32) / 255.0
}

/// The colour of `hue` and `saturation` whose luma is `target` (bisection on lightness).
fn with_luma(hue: f32, saturation: f32, target: f32) -> [u8; 3] {
    let (mut lo, mut hi) = (0.0f32, 1.0f32);
    for _ in 0..12 {
        let mid = (lo + hi) / 2.0;
        if luma(hsl(hue, saturation, mid)) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hsl(hue, saturation, (lo + hi) / 2.0)
}

fn mix(a: [u8; 3], b: [u8; 3]) -> [u8; 3] {
    [0, 1, 2].map(|i| ((a[i] as u16 + b[i] as u16) / 2) as u8)
}

/// HSL → sRGB bytes; `hue` in degrees (any value), the others 0..1.
fn hsl(hue: f32, saturation: f32, lightness: f32) -> [u8; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    [r, g, b].map(|v| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn inks_share_one_grey_and_stand_out_from_the_background() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let p = Palette::random(&mut rng);
            let bg = luma(p.rgb[BG as usize]);
            let inks: Vec<f32> = (0..INKS).map(|i| luma(p.rgb[1 + i])).collect();
            for &l in &inks {
                assert!((l - inks[0]).abs() < 0.02, "{inks:?}");
                assert!(bg - l > 0.4, "contrast {bg} vs {l}");
            }
        }
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl(120.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl(240.0, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl(-120.0, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl(0.0, 0.0, 1.0), [255, 255, 255]);
    }
}

//! The glyphs, rasterised once: every character of the alphabet in every face, as coverage
//! bitmaps of one cap height. Drawing an image only samples these; no font is parsed or
//! rasterised per image.

use ab_glyph::{Font, FontRef, PxScale};
use anyhow::{anyhow, Context};
use domain::CAPTCHA_ALPHABET;

/// Cap height of the rasterised bitmaps, in pixels. A 212×70 captcha draws its glyphs at
/// 39–48 px, so sampling never enlarges; and the whole atlas (~420 KB) stays in a core's L2
/// between requests, which measured 0.02 ms less service CPU per flow than 64 px bitmaps.
pub(crate) const REF_CAP: f32 = 48.0;

/// Bold faces of different build (sans, condensed sans, serif, mono, each upright or
/// oblique). DejaVu: Bitstream Vera's free licence plus public-domain changes.
fn faces() -> [(&'static str, &'static [u8]); 6] {
    [
        ("DejaVu Sans Bold", dejavu::sans::bold()),
        ("DejaVu Sans Bold Oblique", dejavu::sans::bold_oblique()),
        ("DejaVu Sans Condensed Bold", dejavu::sans_condensed::bold()),
        ("DejaVu Serif Bold", dejavu::serif::bold()),
        (
            "DejaVu Serif Condensed Bold",
            dejavu::serif_condensed::bold(),
        ),
        ("DejaVu Sans Mono Bold", dejavu::sans_mono::bold()),
    ]
}

/// One glyph's coverage (0 = none, 255 = full), with the ink's bounding box exactly filling
/// the bitmap: the glyph's centre is the bitmap's centre.
#[derive(Debug)]
pub(crate) struct Glyph {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) coverage: Vec<u8>,
}

/// Every face's glyph for every alphabet character, indexed `[face][alphabet index]`.
#[derive(Debug)]
pub(crate) struct Atlas {
    faces: Vec<Vec<Glyph>>,
}

impl Atlas {
    pub(crate) fn build() -> anyhow::Result<Self> {
        let faces = faces()
            .into_iter()
            .map(|(name, bytes)| face(bytes).with_context(|| format!("font {name}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { faces })
    }

    pub(crate) fn face_count(&self) -> usize {
        self.faces.len()
    }

    /// The glyph of `ch` (upper-case alphabet characters; lower case maps to upper case).
    pub(crate) fn glyph(&self, face: usize, ch: char) -> Option<&Glyph> {
        let index = alphabet_index(ch)?;
        self.faces.get(face)?.get(index)
    }
}

pub(crate) fn alphabet_index(ch: char) -> Option<usize> {
    let upper = u8::try_from(ch.to_ascii_uppercase()).ok()?;
    CAPTCHA_ALPHABET.iter().position(|&c| c == upper)
}

fn face(bytes: &'static [u8]) -> anyhow::Result<Vec<Glyph>> {
    let font = FontRef::try_from_slice(bytes)?;
    // Scale so that the cap height (of 'H') is REF_CAP pixels, whatever the face's metrics.
    let probe = rasterise(&font, 'H', PxScale::from(100.0))?;
    let scale = PxScale::from(100.0 * REF_CAP / probe.h as f32);
    CAPTCHA_ALPHABET
        .iter()
        .map(|&c| rasterise(&font, c as char, scale))
        .collect()
}

fn rasterise(font: &FontRef<'_>, ch: char, scale: PxScale) -> anyhow::Result<Glyph> {
    let id = font.glyph_id(ch);
    if id.0 == 0 {
        return Err(anyhow!("no glyph for {ch:?}"));
    }
    let outlined = font
        .outline_glyph(id.with_scale(scale))
        .ok_or_else(|| anyhow!("glyph {ch:?} has no outline"))?;
    let bounds = outlined.px_bounds();
    let (w, h) = (bounds.width() as usize, bounds.height() as usize);
    let mut coverage = vec![0u8; w * h];
    outlined.draw(|x, y, c| {
        if let Some(px) = coverage.get_mut(y as usize * w + x as usize) {
            *px = (c.clamp(0.0, 1.0) * 255.0) as u8;
        }
    });
    Ok(Glyph { w, h, coverage })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_has_every_alphabet_character_at_the_reference_cap_height() {
        let atlas = Atlas::build().unwrap();
        assert!(atlas.face_count() >= 4);
        for face in 0..atlas.face_count() {
            for &c in CAPTCHA_ALPHABET {
                let g = atlas.glyph(face, c as char).unwrap();
                assert!(g.w > 10 && g.h > 10, "{face} {}", c as char);
                assert!(
                    (g.h as f32) < REF_CAP * 1.3,
                    "{face} {}: {}",
                    c as char,
                    g.h
                );
                let inked = g.coverage.iter().filter(|&&c| c >= 128).count();
                assert!(inked > g.w * g.h / 8, "{face} {}", c as char);
            }
            assert!(atlas.glyph(face, '0').is_none());
            assert!(atlas.glyph(face, 'O').is_none());
            assert!(atlas.glyph(face, 'a').is_some(), "lower case maps to upper");
        }
    }
}

#[cfg(test)]
mod drawn_as_itself {
    //! The glyph stored for a character is that character: each atlas glyph, shrunk to a
    //! small grid, is nearest to a fresh rasterisation of the same character (by ab_glyph,
    //! straight from the font, outside the atlas) among all characters of the alphabet.
    use super::*;

    const GRID: usize = 12;

    fn grid(coverage: &[u8], w: usize, h: usize) -> [f32; GRID * GRID] {
        let mut out = [0.0; GRID * GRID];
        for (i, cell) in out.iter_mut().enumerate() {
            let (gx, gy) = (i % GRID, i / GRID);
            let (x0, x1) = (gx * w / GRID, ((gx + 1) * w / GRID).max(gx * w / GRID + 1));
            let (y0, y1) = (gy * h / GRID, ((gy + 1) * h / GRID).max(gy * h / GRID + 1));
            let mut sum = 0.0;
            for y in y0..y1.min(h) {
                for x in x0..x1.min(w) {
                    sum += coverage[y * w + x] as f32;
                }
            }
            *cell = sum / ((x1 - x0) * (y1 - y0)) as f32;
        }
        out
    }

    fn fresh(bytes: &[u8], ch: char) -> [f32; GRID * GRID] {
        let font = FontRef::try_from_slice(bytes).unwrap();
        let g = font
            .outline_glyph(font.glyph_id(ch).with_scale(80.0))
            .unwrap();
        let b = g.px_bounds();
        let (w, h) = (b.width() as usize, b.height() as usize);
        let mut cov = vec![0u8; w * h];
        g.draw(|x, y, c| {
            if let Some(p) = cov.get_mut(y as usize * w + x as usize) {
                *p = (c * 255.0) as u8;
            }
        });
        grid(&cov, w, h)
    }

    #[test]
    fn every_character_of_every_face_is_its_own_glyph() {
        let atlas = Atlas::build().unwrap();
        for (face, (name, bytes)) in faces().into_iter().enumerate() {
            let references: Vec<_> = CAPTCHA_ALPHABET
                .iter()
                .map(|&c| fresh(bytes, c as char))
                .collect();
            for &c in CAPTCHA_ALPHABET {
                let g = atlas.glyph(face, c as char).unwrap();
                let mine = grid(&g.coverage, g.w, g.h);
                let distance = |r: &[f32; GRID * GRID]| -> f32 {
                    mine.iter().zip(r).map(|(a, b)| (a - b).powi(2)).sum()
                };
                let nearest = (0..references.len())
                    .min_by(|&a, &b| distance(&references[a]).total_cmp(&distance(&references[b])))
                    .unwrap();
                assert_eq!(CAPTCHA_ALPHABET[nearest], c, "{name}: {}", c as char);
            }
        }
    }
}

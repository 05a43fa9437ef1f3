//! One captcha, drawn into a buffer of palette indices. In order (docs/captcha.md says what
//! each step defeats, and how much each was measured to matter):
//!
//! 1. colours: a light background and three inks of different hue but one grey value;
//! 2. clutter: small decoy glyphs and thin arcs in those inks, all over the background;
//! 3. the text: each glyph in one of six faces and its own ink, rotated, scaled, stretched
//!    and sheared, packed so that neighbours touch or overlap;
//! 4. a stroke through the glyphs, about as thick as their stems, in one of their inks;
//! 5. four wavy cuts across the line that erase the ink they cross but its outline;
//! 6. a wave of the whole picture: every column shifted up or down along a sine.
//!
//! Every number below was tuned against ddddocr (`tools/captcha`) and by looking at the
//! sample sheet (`just captcha-samples`): each step, taken away, lets the solver read more.

use std::f32::consts::PI;

use domain::CAPTCHA_ALPHABET;
use rand::Rng;

use crate::atlas::{Atlas, Glyph, REF_CAP};
use crate::palette::{Palette, BG, INKS};

/// The glyphs' cap height as a share of the picture's height.
const CAP_SHARE: f32 = 0.62;
/// Per glyph: scale, rotation (radians), horizontal stretch and shear, each ± or within.
const GLYPH_SCALE: (f32, f32) = (0.9, 1.1);
const GLYPH_TURN: f32 = 0.2;
const GLYPH_STRETCH: (f32, f32) = (0.9, 1.2);
const GLYPH_SHEAR: f32 = 0.2;
/// How far neighbours overlap, as a share of the cap height (negative: a small gap).
const OVERLAP: (f32, f32) = (-0.05, 0.11);
/// How far a glyph may sit off the middle line, as a share of the room it has.
const OFF_CENTRE: f32 = 0.5;
/// Decoys: one per this many pixels (plus up to two), each this share of the cap height.
const PIXELS_PER_DECOY: f32 = 2500.0;
const DECOY_SCALE: (f32, f32) = (0.25, 0.35);
/// The stroke through the text, and the cuts across it: radii as shares of the cap height.
const STROKE_RADIUS: f32 = 0.04;
const CUTS: usize = 4;
/// The share of the height the cuts are spread over (centred), and how far a cut's control
/// points stray from its line, as a share of the height.
const CUT_SPREAD: f32 = 0.6;
const CUT_WANDER: f32 = 0.08;
const CUT_RADIUS: f32 = 0.055;
/// The wave: amplitude and period as shares of the cap height.
const WAVE_AMPLITUDE: (f32, f32) = (0.035, 0.063);
const WAVE_PERIOD: (f32, f32) = (2.0, 3.5);

/// Palette index of ink `i`, and of its edge tone (the ink half-mixed with the background,
/// which smooths glyph edges).
fn ink(i: usize) -> u8 {
    1 + (i % INKS) as u8
}
fn edge(i: usize) -> u8 {
    1 + INKS as u8 + (i % INKS) as u8
}
fn is_ink(p: u8) -> bool {
    p != BG
}

/// A `w`×`h` picture of palette indices.
pub(crate) struct Canvas {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: Vec<u8>,
}

/// Draw `text` (every character must have a glyph; the caller checked).
pub(crate) fn draw<R: Rng>(
    atlas: &Atlas,
    text: &[char],
    w: usize,
    h: usize,
    rng: &mut R,
) -> (Canvas, Palette) {
    let palette = Palette::random(rng);
    let mut canvas = Canvas {
        w,
        h,
        px: vec![BG; w * h],
    };
    let (wf, hf) = (w as f32, h as f32);
    let cap = cap_height(wf, hf, text.len());

    clutter(&mut canvas, atlas, cap, rng);
    for p in layout(atlas, text, cap, wf, hf, rng) {
        stamp_glyph(&mut canvas, &p);
    }
    let stroke = Curve::across(wf, hf, 0.5, 0.25, rng);
    stroke.sweep(
        &mut canvas,
        cap * STROKE_RADIUS,
        ink(rng.random_range(0..INKS)),
    );
    cut(&mut canvas, cap, rng);
    (wave(canvas, cap, rng), palette)
}

/// The cap height of `n` characters on a `w`×`h` picture: most of the height, less when many
/// characters must fit the width.
fn cap_height(w: f32, h: f32, n: usize) -> f32 {
    (h * CAP_SHARE).min(w / n.max(1) as f32 * 1.05)
}

/// Where and how one glyph is drawn: its centre and the matrix from bitmap to canvas.
struct Placement<'a> {
    glyph: &'a Glyph,
    ink: usize,
    cx: f32,
    cy: f32,
    /// Forward transform, bitmap offset from its centre → canvas offset: `[a b; c d]`.
    m: [f32; 4],
}

impl Placement<'_> {
    /// Half the extent on the canvas of the transformed bitmap, (x, y).
    fn half_extent(&self) -> (f32, f32) {
        let (hw, hh) = (self.glyph.w as f32 / 2.0, self.glyph.h as f32 / 2.0);
        let [a, b, c, d] = self.m;
        (a.abs() * hw + b.abs() * hh, c.abs() * hw + d.abs() * hh)
    }

    /// The bitmap's width once scaled and stretched (its upright width on the canvas).
    fn width(&self) -> f32 {
        self.glyph.w as f32 * self.m[0].hypot(self.m[2])
    }
}

/// `scale` · rotation(`angle`) · [stretch shear; 0 1].
fn matrix(scale: f32, angle: f32, stretch: f32, shear: f32) -> [f32; 4] {
    let (sin, cos) = angle.sin_cos();
    [
        scale * cos * stretch,
        scale * (cos * shear - sin),
        scale * sin * stretch,
        scale * (sin * shear + cos),
    ]
}

/// Small decoy glyphs and thin arcs, in the same inks as the text, so that neither colour nor
/// stroke width separates the text from its background, and a solver that reads every
/// glyph-like shape reads too many.
fn clutter<R: Rng>(canvas: &mut Canvas, atlas: &Atlas, cap: f32, rng: &mut R) {
    let (w, h) = (canvas.w as f32, canvas.h as f32);
    let decoys = (w * h / PIXELS_PER_DECOY) as usize + rng.random_range(0..3);
    for _ in 0..decoys {
        let ch = CAPTCHA_ALPHABET[rng.random_range(0..CAPTCHA_ALPHABET.len())] as char;
        let Some(glyph) = atlas.glyph(rng.random_range(0..atlas.face_count()), ch) else {
            continue;
        };
        let scale = cap * rng.random_range(DECOY_SCALE.0..DECOY_SCALE.1) / REF_CAP;
        let decoy = Placement {
            glyph,
            ink: rng.random_range(0..INKS),
            cx: rng.random_range(0.0..w),
            cy: rng.random_range(0.0..h),
            m: matrix(scale, rng.random_range(-1.0..1.0), 1.0, 0.0),
        };
        stamp_glyph(canvas, &decoy);
    }
    for _ in 0..rng.random_range(1..=2) {
        let radius = rng.random_range(0.6..1.1);
        Curve::near(w, h, cap, rng).paint(canvas, radius, ink(rng.random_range(0..INKS)));
    }
}

/// Faces, inks, sizes and angles for the text, packed left to right with neighbours
/// touching, the line centred with some jitter.
fn layout<'a, R: Rng>(
    atlas: &'a Atlas,
    text: &[char],
    cap: f32,
    w: f32,
    h: f32,
    rng: &mut R,
) -> Vec<Placement<'a>> {
    let first_ink = rng.random_range(0..INKS);
    let mut placements: Vec<Placement<'a>> = Vec::with_capacity(text.len());
    // How far each glyph steps back into the one before it.
    let mut overlaps = Vec::with_capacity(text.len());
    for (i, &ch) in text.iter().enumerate() {
        let Some(glyph) = atlas.glyph(rng.random_range(0..atlas.face_count()), ch) else {
            continue;
        };
        let scale = cap * rng.random_range(GLYPH_SCALE.0..GLYPH_SCALE.1) / REF_CAP;
        placements.push(Placement {
            glyph,
            // Neighbours never share an ink, so a person tells touching glyphs apart.
            ink: first_ink + i,
            cx: 0.0,
            cy: 0.0,
            m: matrix(
                scale,
                rng.random_range(-GLYPH_TURN..=GLYPH_TURN),
                rng.random_range(GLYPH_STRETCH.0..GLYPH_STRETCH.1),
                rng.random_range(-GLYPH_SHEAR..=GLYPH_SHEAR),
            ),
        });
        overlaps.push(if i == 0 {
            0.0
        } else {
            cap * rng.random_range(OVERLAP.0..OVERLAP.1)
        });
    }
    // Too wide for the picture (a long text): shrink every glyph alike.
    let room = w * 0.94;
    let mut width =
        placements.iter().map(Placement::width).sum::<f32>() - overlaps.iter().sum::<f32>();
    if width > room {
        let shrink = room / width;
        for p in &mut placements {
            p.m = p.m.map(|v| v * shrink);
        }
        overlaps.iter_mut().for_each(|o| *o *= shrink);
        width *= shrink;
    }
    let slack = (w - width).max(0.0);
    let mut x = slack / 2.0 * (1.0 + rng.random_range(-0.3..=0.3));
    for (p, overlap) in placements.iter_mut().zip(overlaps) {
        x -= overlap;
        let pw = p.width();
        p.cx = x + pw / 2.0;
        x += pw;
        // Room to move without the wave pushing the glyph off the picture.
        let room = (h / 2.0 - p.half_extent().1 - cap * WAVE_AMPLITUDE.1).max(0.0);
        p.cy = h / 2.0 + rng.random_range(-OFF_CENTRE..=OFF_CENTRE) * room;
    }
    placements
}

/// Fixed-point fraction bits for stepping through a glyph bitmap (integer steps are what
/// keep [`stamp_glyph`] cheap: no float → int conversion per pixel).
const FRACTION: u32 = 16;

/// Round to the nearest integer without a libm call (baseline x86-64 has no rounding
/// instruction); exact for |v| < 16384, far beyond any picture.
fn round(v: f32) -> i32 {
    (v + 16384.5) as i32 - 16384
}

/// Draw one glyph: every canvas pixel in its box is mapped back into the bitmap (nearest
/// sample, in 16.16 fixed point). Full coverage paints the ink; partial coverage over
/// background paints the edge tone.
fn stamp_glyph(canvas: &mut Canvas, p: &Placement<'_>) {
    let g = p.glyph;
    let [a, b, c, d] = p.m;
    let det = a * d - b * c;
    if det.abs() < 1e-6 {
        return;
    }
    let inv = [d / det, -b / det, -c / det, a / det];
    let (hx, hy) = p.half_extent();
    let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
    let (x0, x1) = (
        clamp((p.cx - hx).floor(), canvas.w),
        clamp((p.cx + hx).ceil(), canvas.w),
    );
    let (y0, y1) = (
        clamp((p.cy - hy).floor(), canvas.h),
        clamp((p.cy + hy).ceil(), canvas.h),
    );
    let (gw, gh) = (g.w as f32, g.h as f32);
    let (ink, edge) = (ink(p.ink), edge(p.ink));
    let one = (1u32 << FRACTION) as f32;
    let (du, dv) = ((inv[0] * one) as i32, (inv[2] * one) as i32);
    let (u_end, v_end) = ((g.w as u32) << FRACTION, (g.h as u32) << FRACTION);
    for y in y0..y1 {
        let dy = y as f32 + 0.5 - p.cy;
        let dx = x0 as f32 + 0.5 - p.cx;
        let u0 = inv[0] * dx + inv[1] * dy + gw / 2.0;
        let v0 = inv[2] * dx + inv[3] * dy + gh / 2.0;
        // The columns of this row whose sample falls inside the bitmap (two steps of slack
        // either side; the test in the loop is exact).
        let (from, to) = inside(u0, inv[0], gw, x1 - x0)
            .and_then(|a| inside(v0, inv[2], gh, x1 - x0).map(|b| (a.0.max(b.0), a.1.min(b.1))))
            .unwrap_or((0, 0));
        if from >= to {
            continue;
        }
        let mut u = ((u0 + inv[0] * from as f32) * one) as i32;
        let mut v = ((v0 + inv[2] * from as f32) * one) as i32;
        let row = y * canvas.w + x0;
        for px in &mut canvas.px[row + from..row + to] {
            // A negative coordinate wraps to a huge u32: one comparison per axis.
            if (u as u32) < u_end && (v as u32) < v_end {
                let at = (v as u32 >> FRACTION) as usize * g.w + (u as u32 >> FRACTION) as usize;
                let cov = g.coverage[at];
                if cov >= 140 {
                    *px = ink;
                } else if cov >= 60 && !is_ink(*px) {
                    *px = edge;
                }
            }
            u = u.wrapping_add(du);
            v = v.wrapping_add(dv);
        }
    }
}

/// The steps `i` in `0..n` for which `start + i·step` lies in `[0, end)`, widened by two steps
/// either side and clamped to `0..n`; `None` if there are none.
fn inside(start: f32, step: f32, end: f32, n: usize) -> Option<(usize, usize)> {
    let (lo, hi) = if step.abs() < 1e-6 {
        if (0.0..end).contains(&start) {
            (0.0, n as f32)
        } else {
            return None;
        }
    } else {
        let (a, b) = ((0.0 - start) / step, (end - start) / step);
        (a.min(b), a.max(b))
    };
    // Two steps of slack either side stand in for floor/ceil plus one (no libm call).
    let from = (lo - 2.0).max(0.0);
    let to = (hi + 2.0).min(n as f32);
    (from < to).then_some((from as usize, to as usize))
}

/// A cubic Bézier curve.
struct Curve([(f32, f32); 4]);

impl Curve {
    /// From beyond the left edge to beyond the right, around `at` of the height, each control
    /// point up to `wander` of the height off it.
    fn across<R: Rng>(w: f32, h: f32, at: f32, wander: f32, rng: &mut R) -> Self {
        let mut y = || h * (at + rng.random_range(-wander..=wander));
        // Control points evenly spaced in x make x(t) linear: `sweep` relies on it.
        let x = |k: f32| -4.0 + k * (w + 8.0) / 3.0;
        Self([(x(0.0), y()), (x(1.0), y()), (x(2.0), y()), (x(3.0), y())])
    }

    /// A short arc of about one glyph's size somewhere.
    fn near<R: Rng>(w: f32, h: f32, size: f32, rng: &mut R) -> Self {
        let (x, y) = (rng.random_range(0.0..w), rng.random_range(0.0..h));
        let mut near = || {
            (
                x + rng.random_range(-size..size),
                y + rng.random_range(-size..size) / 2.0,
            )
        };
        Self([(x, y), near(), near(), near()])
    }

    fn at(&self, t: f32) -> (f32, f32) {
        let [p0, p1, p2, p3] = self.0;
        let u = 1.0 - t;
        let (b0, b1, b2, b3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
        (
            b0 * p0.0 + b1 * p1.0 + b2 * p2.0 + b3 * p3.0,
            b0 * p0.1 + b1 * p1.1 + b2 * p2.1 + b3 * p3.1,
        )
    }

    /// Paint a band `radius` either side of a curve made by [`Curve::across`].
    fn sweep(&self, canvas: &mut Canvas, radius: f32, colour: u8) {
        let w = canvas.w;
        self.columns(w, canvas.h, radius, |x, rows| {
            for y in rows {
                canvas.px[y * w + x] = colour;
            }
        });
    }

    /// The band `radius` either side of a curve made by [`Curve::across`] (its x is linear in
    /// t), one column at a time: the curve's height at the column, then a vertical run as
    /// thick as the band is across its slope. `visit(x, rows)` for every column it crosses.
    fn columns(
        &self,
        w: usize,
        h: usize,
        radius: f32,
        mut visit: impl FnMut(usize, std::ops::RangeInclusive<usize>),
    ) {
        let [p0, p1, p2, p3] = self.0;
        // y as a cubic in t, and t linear in x: step it by forward differences, exact for a
        // cubic (three additions per column instead of a Bézier evaluation).
        let (c0, c1, c2, c3) = (
            p0.1,
            3.0 * (p1.1 - p0.1),
            3.0 * (p2.1 - 2.0 * p1.1 + p0.1),
            p3.1 - 3.0 * p2.1 + 3.0 * p1.1 - p0.1,
        );
        let dt = 1.0 / (p3.0 - p0.0);
        let t0 = (0.5 - p0.0) * dt;
        let mut y = c0 + t0 * (c1 + t0 * (c2 + t0 * c3));
        let mut d1 = c1 * dt
            + c2 * (2.0 * t0 * dt + dt * dt)
            + c3 * (3.0 * t0 * t0 * dt + 3.0 * t0 * dt * dt + dt * dt * dt);
        let mut d2 = 2.0 * c2 * dt * dt + c3 * (6.0 * t0 * dt * dt + 6.0 * dt * dt * dt);
        let d3 = 6.0 * c3 * dt * dt * dt;
        for x in 0..w {
            let next = y + d1;
            d1 += d2;
            d2 += d3;
            let half = radius * (1.0 + (next - y) * (next - y)).sqrt();
            let top = round(y - half).max(0);
            let bottom = round(y + half).min(h as i32 - 1);
            if top <= bottom {
                visit(x, top as usize..=bottom as usize);
            }
            y = next;
        }
    }

    /// Paint every pixel within `radius` of the curve with `colour` (discs stamped about a
    /// pixel apart along it).
    fn paint(&self, canvas: &mut Canvas, radius: f32, colour: u8) {
        let [p0, p1, p2, p3] = self.0;
        let dist = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1);
        // Discs overlap enough at three quarters of a radius apart (at most one pixel).
        let spacing = (radius * 0.75).clamp(0.5, 1.0);
        let length = dist(p0, p1) + dist(p1, p2) + dist(p2, p3);
        let steps = (length / spacing).ceil().max(1.0) as usize;
        let (w, h) = (canvas.w as i32, canvas.h as i32);
        let r = radius.ceil() as i32;
        for s in 0..=steps {
            let (x, y) = self.at(s as f32 / steps as f32);
            let (xi, yi) = (round(x), round(y));
            for dy in -r..=r {
                let room = radius * radius - (dy * dy) as f32;
                let yy = yi + dy;
                if room < 0.0 || yy < 0 || yy >= h {
                    continue;
                }
                let span = room.sqrt() as i32;
                let (from, to) = ((xi - span).max(0), (xi + span).min(w - 1));
                if from <= to {
                    let row = yy as usize * canvas.w;
                    canvas.px[row + from as usize..=row + to as usize].fill(colour);
                }
            }
        }
    }
}

/// Cut the picture with wavy bands spread over the middle of its height: inside a band, ink
/// becomes background, except where it meets background to its left or right. So every glyph
/// falls apart into pieces for a solver, while its outline runs on unbroken for a person:
/// the letters look striped, not shredded.
fn cut<R: Rng>(canvas: &mut Canvas, cap: f32, rng: &mut R) {
    let (w, h) = (canvas.w, canvas.h);
    let before = canvas.px.clone();
    let outline = |i: usize, x: usize| {
        is_ink(before[i])
            && ((x > 0 && !is_ink(before[i - 1])) || (x + 1 < w && !is_ink(before[i + 1])))
    };
    for k in 0..CUTS {
        let at = 0.5 + ((k as f32 + 0.5) / CUTS as f32 - 0.5) * CUT_SPREAD;
        let band = Curve::across(w as f32, h as f32, at, CUT_WANDER, rng);
        band.columns(w, h, cap * CUT_RADIUS, |x, rows| {
            for y in rows {
                let i = y * w + x;
                if !outline(i, x) {
                    canvas.px[i] = BG;
                }
            }
        });
    }
}

/// Shift every column up or down along a sine of random phase, bending the whole line.
fn wave<R: Rng>(canvas: Canvas, cap: f32, rng: &mut R) -> Canvas {
    let (w, h) = (canvas.w, canvas.h);
    let amplitude = cap * rng.random_range(WAVE_AMPLITUDE.0..WAVE_AMPLITUDE.1);
    let period = cap * rng.random_range(WAVE_PERIOD.0..WAVE_PERIOD.1);
    let phase = rng.random_range(0.0..2.0 * PI);
    // The shift changes every few columns only: copy runs of equal shift row by row.
    let mut runs: Vec<(usize, usize, isize)> = Vec::new();
    for x in 0..w {
        let shift = round(amplitude * (2.0 * PI * x as f32 / period + phase).sin()) as isize;
        match runs.last_mut() {
            Some(run) if run.2 == shift => run.1 = x + 1,
            _ => runs.push((x, x + 1, shift)),
        }
    }
    let mut out = vec![BG; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        for &(from, to, shift) in &runs {
            let source = y as isize + shift;
            if (0..h as isize).contains(&source) {
                let at = source as usize * w;
                row[from..to].copy_from_slice(&canvas.px[at + from..at + to]);
            }
        }
    }
    Canvas { w, h, px: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CAPTCHA_HEIGHT, CAPTCHA_WIDTH};
    use rand::{rngs::StdRng, SeedableRng};

    /// The service's picture size.
    const W: usize = CAPTCHA_WIDTH as usize;
    const H: usize = CAPTCHA_HEIGHT as usize;
    const WF: f32 = W as f32;
    const HF: f32 = H as f32;

    /// Through the text step, every character of the alphabet, in every face, leaves about
    /// as much ink on the picture as its glyph has (scaled): nothing is lost off the edges.
    #[test]
    fn every_alphabet_character_appears() {
        let atlas = Atlas::build().unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..atlas.face_count() * 3 {
            for &c in CAPTCHA_ALPHABET {
                let ps = layout(&atlas, &[c as char], 46.0, WF, HF, &mut rng);
                let mut canvas = Canvas {
                    w: W,
                    h: H,
                    px: vec![BG; W * H],
                };
                stamp_glyph(&mut canvas, &ps[0]);
                let g = ps[0].glyph;
                let [a, b, c2, d] = ps[0].m;
                let full = g.coverage.iter().filter(|&&v| v >= 140).count() as f32;
                let expected = full * (a * d - b * c2).abs();
                let inked = canvas.px.iter().filter(|&&p| p == ink(ps[0].ink)).count() as f32;
                assert!(
                    (inked - expected).abs() < expected * 0.15,
                    "{}: {inked} inked, {expected} expected",
                    c as char
                );
            }
        }
    }

    #[test]
    fn the_text_is_laid_out_left_to_right_inside_the_picture() {
        let atlas = Atlas::build().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        for n in 1..=12 {
            let text: Vec<char> = "WMWMWMWMWMWM".chars().take(n).collect();
            let ps = layout(&atlas, &text, 46.0, WF, HF, &mut rng);
            assert_eq!(ps.len(), n);
            for pair in ps.windows(2) {
                assert!(pair[0].cx < pair[1].cx, "{n}: out of order");
            }
            let left = ps[0].cx - ps[0].width() / 2.0;
            let right = ps[n - 1].cx + ps[n - 1].width() / 2.0;
            assert!(left >= -1.0 && right <= WF + 1.0, "{n}: {left}..{right}");
        }
    }

    /// Random texts of every configurable length at the service's size.
    fn texts(rng: &mut StdRng) -> impl Iterator<Item = Vec<char>> + '_ {
        domain::CAPTCHA_LENGTHS.cycle().take(300).map(|n| {
            (0..n)
                .map(|_| CAPTCHA_ALPHABET[rng.random_range(0..CAPTCHA_ALPHABET.len())] as char)
                .collect()
        })
    }

    fn cap(n: usize) -> f32 {
        cap_height(WF, HF, n)
    }

    #[test]
    fn neighbouring_glyphs_never_share_an_ink() {
        let atlas = Atlas::build().unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let mut layouts = StdRng::seed_from_u64(5);
        for text in texts(&mut rng) {
            let ps = layout(&atlas, &text, cap(text.len()), WF, HF, &mut layouts);
            for pair in ps.windows(2) {
                assert_ne!(ink(pair[0].ink), ink(pair[1].ink), "{text:?}");
            }
        }
    }

    /// docs/captcha.md: nothing of the text leaves the picture, even where the wave shifts a
    /// column furthest. Each glyph is stamped on a canvas with a margin around the picture; a
    /// pixel or two of a rare tall, turned glyph (one in a few hundred) may fall outside it.
    #[test]
    fn the_text_stays_inside_the_picture_through_the_wave() {
        const M: usize = 40;
        let atlas = Atlas::build().unwrap();
        let mut rng = StdRng::seed_from_u64(6);
        let mut layouts = StdRng::seed_from_u64(7);
        let (mut glyphs, mut leaking) = (0, 0);
        for text in texts(&mut rng) {
            let cap = cap(text.len());
            let shift = round(cap * WAVE_AMPLITUDE.1) as usize;
            for mut p in layout(&atlas, &text, cap, WF, HF, &mut layouts) {
                p.cx += M as f32;
                p.cy += M as f32;
                let (w, h) = (W + 2 * M, H + 2 * M);
                let mut canvas = Canvas {
                    w,
                    h,
                    px: vec![BG; w * h],
                };
                stamp_glyph(&mut canvas, &p);
                let (mut ink, mut outside) = (0, 0);
                for (i, _) in canvas.px.iter().enumerate().filter(|(_, &q)| is_ink(q)) {
                    let (x, y) = (i % w, i / w);
                    ink += 1;
                    if !(M..M + W).contains(&x) || !(M + shift..M + H - shift).contains(&y) {
                        outside += 1;
                    }
                }
                glyphs += 1;
                leaking += usize::from(outside > 0);
                assert!(ink > 100, "{text:?}: {ink} pixels");
                assert!(outside * 100 <= ink, "{text:?}: {outside} of {ink} outside");
                // docs/captcha.md: at most a pixel or two of a leaking glyph.
                assert!(outside <= 2, "{text:?}: {outside} pixels outside");
            }
        }
        assert!(
            leaking * 200 <= glyphs,
            "{leaking} of {glyphs} glyphs leave the picture"
        );
    }

    /// The cuts erase but never add ink, keep every ink pixel with background to its left or
    /// right, and do erase some of the text.
    #[test]
    fn cuts_only_erase_and_keep_the_outline() {
        let atlas = Atlas::build().unwrap();
        let mut rng = StdRng::seed_from_u64(8);
        let mut draws = StdRng::seed_from_u64(9);
        for text in texts(&mut rng).take(50) {
            let mut canvas = Canvas {
                w: W,
                h: H,
                px: vec![BG; W * H],
            };
            let cap = cap(text.len());
            for p in layout(&atlas, &text, cap, WF, HF, &mut draws) {
                stamp_glyph(&mut canvas, &p);
            }
            let before = canvas.px.clone();
            cut(&mut canvas, cap, &mut draws);
            let mut erased = 0;
            for (i, (&was, &now)) in before.iter().zip(&canvas.px).enumerate() {
                let x = i % W;
                let outline = is_ink(was)
                    && ((x > 0 && !is_ink(before[i - 1])) || (x < W - 1 && !is_ink(before[i + 1])));
                if outline {
                    assert_eq!(now, was, "{text:?}: outline erased at {i}");
                } else if now != was {
                    assert_eq!(now, BG, "{text:?}: ink added at {i}");
                    erased += 1;
                }
            }
            let inked = before.iter().filter(|&&p| is_ink(p)).count();
            assert!(erased * 20 > inked, "{text:?}: {erased} of {inked} erased");
        }
    }
}

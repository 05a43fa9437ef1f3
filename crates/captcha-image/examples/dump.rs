//! Write `N` captchas and their texts to a folder, for the offline solver loop
//! (`tools/captcha/offline.py`): `cargo run --release -p captcha-image --example dump -- DIR N`.
//!
//! With `-` as the folder nothing is written, and it prints the CPU time per image (from
//! /proc/self/schedstat, so a busy machine does not inflate it as it does wall time) and the
//! PNG sizes.

use std::io::Write;

use domain::CaptchaText;
use rand::Rng;

fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: dump DIR|- N")?;
    let n: usize = args.next().ok_or("usage: dump DIR|- N")?.parse()?;
    let art = captcha_image::CaptchaArt::new()?;
    let mut rng = rand::rng();
    let alphabet = domain::CAPTCHA_ALPHABET.len();
    let texts: Vec<CaptchaText> = (0..n)
        .map(|_| {
            CaptchaText::from_alphabet_indices(
                (0..domain::CAPTCHA_LEN).map(|_| rng.random_range(0..alphabet) as u32),
            )
        })
        .collect();
    if dir == "-" {
        let (mut total, mut largest) = (0usize, 0usize);
        let start = cpu_ns().ok_or("no /proc/self/schedstat")?;
        for text in &texts {
            let png = art.png(text.as_str(), &mut rng)?;
            total += png.len();
            largest = largest.max(png.len());
        }
        let spent = cpu_ns().ok_or("no /proc/self/schedstat")? - start;
        println!(
            "{n} images: {:.1} µs CPU each; PNG {} bytes on average, {largest} at most",
            spent as f64 / n as f64 / 1000.0,
            total / n
        );
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    let mut labels = std::fs::File::create(format!("{dir}/labels.txt"))?;
    for (i, text) in texts.iter().enumerate() {
        std::fs::write(
            format!("{dir}/{i:04}.png"),
            art.png(text.as_str(), &mut rng)?,
        )?;
        writeln!(labels, "{i:04}.png {}", text.as_str())?;
    }
    Ok(())
}

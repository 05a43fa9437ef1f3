//! The costly steps of a send and a sign-in, measured with criterion (`just bench`):
//! drawing a captcha, argon2id, the code HMAC, and the memory store's atomic steps.
//! Numbers, not assertions: the machines are shared and noisy.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use app::CodeHasher;
use captcha_image::CaptchaArt;
use criterion::{criterion_group, criterion_main, Criterion};
use domain::{CaptchaId, CaptchaText, ClientNet, Mobile, Password, SendLimits, SmsCode, Timestamp};
use memory_store::MemoryStore;
use platform::{Argon2Hasher, SystemClock};
use ports::{CaptchaRenderer, CaptchaStore, PasswordHasher, RateLimiter};

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    }
}

fn parse<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e:?}"),
    }
}

/// The renderer three ways: the bare drawing, through the port as the service runs it
/// (inline), and handed to the blocking pool, to show which of the two a request should pay.
fn captcha(c: &mut Criterion) {
    let rt = runtime();
    let art = parse(CaptchaArt::new());
    let text = parse(CaptchaText::parse("A7KZ"));
    let mut group = c.benchmark_group("captcha 212x70");
    group.bench_function("draw a PNG", |b| {
        let mut rng = rand::rng();
        b.iter(|| black_box(art.png("A7KZ", &mut rng)))
    });
    group.bench_function("render through the port (inline, as served)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(art.render(&text).await) })
    });
    group.bench_function("render on the blocking pool (spawn_blocking)", |b| {
        b.to_async(&rt).iter(|| async {
            let text = text.clone();
            black_box(
                tokio::task::spawn_blocking(move || art.png(text.as_str(), &mut rand::rng())).await,
            )
        })
    });
    group.finish();
}

fn passwords(c: &mut Criterion) {
    let rt = runtime();
    let hasher = Argon2Hasher::default();
    let password = parse(Password::parse("correct horse"));
    let stored = parse(rt.block_on(hasher.hash(password.clone())));
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(10);
    group.bench_function("verify a password", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(hasher.verify(password.clone(), Some(stored.clone())).await)
        })
    });
    group.bench_function("verify for an unknown user (dummy hash)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(hasher.verify(password.clone(), None).await) })
    });
    group.finish();
}

fn codes(c: &mut Criterion) {
    let hasher = parse(CodeHasher::new(&[7u8; 32]));
    let mobile = parse(Mobile::parse("13800138000"));
    let code = SmsCode::from_number(123_456);
    c.bench_function("code: HMAC-SHA256 digest", |b| {
        b.iter(|| black_box(hasher.digest(&mobile, domain::CodePurpose::Register, &code)))
    });
}

fn memory_store(c: &mut Criterion) {
    let rt = runtime();
    let store = MemoryStore::new(Arc::new(SystemClock));
    let text = parse(CaptchaText::parse("A7KZ"));
    let ip = ClientNet::of(IpAddr::from([10, 0, 0, 1]), 64);
    let limits = SendLimits {
        mobile_cooldown: Duration::ZERO,
        mobile_per_hour: u32::MAX,
        mobile_per_day: u32::MAX,
        ip_per_hour: u32::MAX,
        global_per_hour: u32::MAX,
    };
    let mut n = 0u64;
    c.bench_function("memory store: captcha put + take", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let id = parse(CaptchaId::parse(&format!("bench-{n}")));
            let store = store.clone();
            let text = text.clone();
            async move {
                let _ = CaptchaStore::put(&store, &id, &text, Duration::from_secs(180)).await;
                black_box(store.take(&id).await)
            }
        })
    });
    let mut t = 1_700_000_000_000u64;
    c.bench_function(
        "memory store: acquire_send (5 limits, stores the code)",
        |b| {
            b.to_async(&rt).iter(|| {
                t += 1;
                let mobile = parse(Mobile::parse(&format!("138{:08}", t % 100_000_000)));
                let store = store.clone();
                let limits = limits.clone();
                let code = ports::NewCode {
                    digest: domain::CodeDigest([7; 32]),
                    ttl: Duration::from_secs(300),
                };
                async move {
                    black_box(
                        store
                            .acquire_send(&mobile, ip, &limits, Timestamp(t), &code)
                            .await,
                    )
                }
            })
        },
    );
}

criterion_group!(benches, captcha, passwords, codes, memory_store);
criterion_main!(benches);

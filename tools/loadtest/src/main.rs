//! `just loadtest`: a load benchmark of the full flow — `GET /api/v1.0/image_codes/{id}` then
//! `POST /api/v1.0/sms_codes` with that captcha — against a release build of the service.
//!
//! The run is self-contained: a scratch PostgreSQL database (created here, migrated with
//! `api migrate`, dropped at the end), the local Redis under a fresh key prefix (its keys deleted
//! at the end), and a fake Ronglian peer in this process that answers every message with
//! `statusCode 000000`. The captcha text comes from the `testing.captcha_text` hook (the service
//! listens on loopback in `local`), every flow uses a fresh random mobile so the per-mobile
//! limits never refuse, and the per-IP and global limits are raised out of the way.
//!
//! For each level of concurrency (keep-alive connections, each looping flows back to back) it
//! warms up, then measures for a fixed time and prints flows/s, p50/p99 of each request, the
//! service's CPU per flow (`/proc/<pid>/stat` utime + stime), Redis' CPU per flow (`INFO cpu`)
//! and its commands per flow (`INFO commandstats`, which also counts the commands a script
//! runs), and the service's peak RSS (`VmHWM`). Redis figures are server-wide: run it when
//! nothing else uses that Redis.
//!
//! Environment: `YZ_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and
//! `YZ_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`, a database the
//! user may connect to and a role that may create databases), as for the tests.

mod flow;
mod peer;
mod probe;
mod service;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};

const USAGE: &str = "usage: loadtest [--api PATH] [--connections 8,64] [--duration SECS] \
                     [--warmup SECS] [--set APP__KEY=VALUE | RUST_LOG=...]...";

struct Args {
    /// The service binary (default: `api` beside this binary).
    api: PathBuf,
    connections: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    /// Extra settings for the service, e.g. `APP__STORE__POOL_SIZE=4` or `RUST_LOG=warn`.
    settings: Vec<(String, String)>,
}

impl Args {
    fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let mut args = Args {
            api: exe.with_file_name("api"),
            connections: vec![8, 64],
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(3),
            settings: Vec::new(),
        };
        while let Some(flag) = raw.next() {
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = raw
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--api" => args.api = value.into(),
                "--connections" => {
                    args.connections = value
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .with_context(|| format!("--connections {value}"))?;
                }
                "--duration" => args.duration = Duration::from_secs(value.parse()?),
                "--warmup" => args.warmup = Duration::from_secs(value.parse()?),
                "--set" => match value.split_once('=') {
                    Some((k, v)) if k.starts_with("APP") || k == "RUST_LOG" => {
                        args.settings.push((k.to_owned(), v.to_owned()));
                    }
                    _ => bail!("--set takes APP__SECTION__KEY=VALUE or RUST_LOG=…, not {value}"),
                },
                _ => bail!("unknown flag {flag}\n{USAGE}"),
            }
        }
        if args.connections.is_empty() || args.connections.contains(&0) {
            bail!("--connections needs positive numbers");
        }
        Ok(args)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse(std::env::args().skip(1))?;
    // One thread for the load generator and the fake peer: on a small machine every core it
    // takes is a core the service does not get, and one thread drives 64 connections easily.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let redis_url =
        std::env::var("YZ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let peer = peer::start().await?;
    let db = diesel_users::testing::TestDb::postgres().await;
    let prefix = format!("yzload-{:016x}", rand::random::<u64>());
    let mut redis = probe::Redis::connect(&redis_url).await?;
    let outcome = async {
        let mut svc = service::Service::start(
            &args.api,
            &db.url,
            &redis_url,
            &prefix,
            peer.addr,
            &args.settings,
        )?;
        svc.wait_until_ready().await?;
        println!(
            "service pid {} on {} (Redis prefix {prefix}, scratch database, fake Ronglian on {})",
            svc.pid, svc.addr, peer.addr
        );
        let mut rows = Vec::new();
        for &connections in &args.connections {
            flow::run(svc.addr, connections, args.warmup).await?;
            let before = probe::Sample::take(svc.pid, &mut redis).await?;
            let sent_before = peer.sent();
            let result = flow::run(svc.addr, connections, args.duration).await?;
            let after = probe::Sample::take(svc.pid, &mut redis).await?;
            let row = probe::Row::new(
                connections,
                &result,
                &before,
                &after,
                probe::peak_rss_mb(svc.pid)?,
            );
            row.print_detail(&result, peer.sent() - sent_before);
            rows.push(row);
        }
        probe::Row::print_table(&rows);
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let cleaned = redis.delete_prefix(&prefix).await;
    drop(db);
    outcome?;
    cleaned.context("deleting the run's Redis keys")
}

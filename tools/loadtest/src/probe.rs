//! What the run costs: the service's CPU and peak RSS from `/proc`, Redis' CPU and commands
//! from `INFO`, and the report.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _};
use deadpool_redis::redis::{self, aio::MultiplexedConnection};

use crate::flow::Outcome;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI we run on).
const USER_HZ: f64 = 100.0;

/// CPU milliseconds the process has used (all threads, user + system).
fn process_cpu_ms(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces: state
    // is field 3, utime 14 and stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) * 1000.0 / USER_HZ)
}

/// The process's peak resident set (`VmHWM`), MB.
pub fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
    Ok(kb / 1024.0)
}

pub struct Redis {
    conn: MultiplexedConnection,
}

impl Redis {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let conn = redis::Client::open(url)?
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {url}"))?;
        Ok(Self { conn })
    }

    async fn info(&mut self, section: &str) -> anyhow::Result<String> {
        Ok(redis::cmd("INFO")
            .arg(section)
            .query_async(&mut self.conn)
            .await?)
    }

    /// Deletes every key under `prefix:`.
    pub async fn delete_prefix(&mut self, prefix: &str) -> anyhow::Result<()> {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}:*"))
                .arg("COUNT")
                .arg(5000)
                .query_async(&mut self.conn)
                .await?;
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(keys)
                    .query_async::<()>(&mut self.conn)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// Counters at one moment.
pub struct Sample {
    service_cpu_ms: f64,
    /// This process: the load generator and the fake peer.
    loadtest_cpu_ms: f64,
    redis_cpu_ms: f64,
    /// `INFO commandstats` calls per command.
    redis_calls: BTreeMap<String, u64>,
}

impl Sample {
    pub async fn take(pid: u32, redis: &mut Redis) -> anyhow::Result<Self> {
        let service_cpu_ms = process_cpu_ms(pid)?;
        let loadtest_cpu_ms = process_cpu_ms(std::process::id())?;
        let cpu = redis.info("cpu").await?;
        let field = |name: &str| -> f64 {
            cpu.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let redis_cpu_ms = (field("used_cpu_user:") + field("used_cpu_sys:")) * 1000.0;
        let stats = redis.info("commandstats").await?;
        // cmdstat_evalsha:calls=10,usec=…
        let redis_calls = stats
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .filter_map(|l| {
                let (name, rest) = l.split_once(":calls=")?;
                let calls = rest.split(',').next()?.parse().ok()?;
                Some((name.to_owned(), calls))
            })
            .collect();
        Ok(Self {
            service_cpu_ms,
            loadtest_cpu_ms,
            redis_cpu_ms,
            redis_calls,
        })
    }
}

/// One level's results, per flow.
pub struct Row {
    connections: usize,
    flows_per_sec: f64,
    get_p50: f64,
    get_p99: f64,
    post_p50: f64,
    post_p99: f64,
    service_cpu_ms: f64,
    loadtest_cpu_ms: f64,
    redis_cpu_ms: f64,
    redis_commands: f64,
    peak_rss_mb: f64,
    errors: u64,
    /// Commands per flow by name, most first.
    by_command: Vec<(String, f64)>,
}

/// `us` (microseconds), sorted.
fn sorted(us: &[u32]) -> Vec<u32> {
    let mut us = us.to_vec();
    us.sort_unstable();
    us
}

/// The `q` quantile of `us` (microseconds, sorted), in milliseconds.
fn quantile_ms(us: &[u32], q: f64) -> f64 {
    if us.is_empty() {
        return f64::NAN;
    }
    let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
    f64::from(us[i]) / 1000.0
}

impl Row {
    pub fn new(
        connections: usize,
        outcome: &Outcome,
        before: &Sample,
        after: &Sample,
        peak_rss_mb: f64,
    ) -> Self {
        let flows = outcome.flows.max(1) as f64;
        let (get, post) = (sorted(&outcome.get_us), sorted(&outcome.post_us));
        let mut by_command: Vec<(String, f64)> = after
            .redis_calls
            .iter()
            .map(|(name, &n)| {
                let was = before.redis_calls.get(name).copied().unwrap_or(0);
                (name.clone(), n.saturating_sub(was) as f64 / flows)
            })
            // The probe's own INFO calls are not the flow's.
            .filter(|(name, per_flow)| *per_flow >= 0.005 && name != "info")
            .collect();
        by_command.sort_by(|a, b| b.1.total_cmp(&a.1));
        Self {
            connections,
            flows_per_sec: outcome.flows as f64 / outcome.elapsed.as_secs_f64(),
            get_p50: quantile_ms(&get, 0.50),
            get_p99: quantile_ms(&get, 0.99),
            post_p50: quantile_ms(&post, 0.50),
            post_p99: quantile_ms(&post, 0.99),
            service_cpu_ms: (after.service_cpu_ms - before.service_cpu_ms) / flows,
            loadtest_cpu_ms: (after.loadtest_cpu_ms - before.loadtest_cpu_ms) / flows,
            redis_cpu_ms: (after.redis_cpu_ms - before.redis_cpu_ms) / flows,
            redis_commands: by_command.iter().map(|(_, n)| n).sum(),
            peak_rss_mb,
            errors: outcome.errors.values().sum(),
            by_command,
        }
    }

    pub fn print_detail(&self, outcome: &Outcome, sms_sent: u64) {
        println!(
            "\n{} connections: {} flows in {:.1} s, {} SMS at the peer, {} errors",
            self.connections,
            outcome.flows,
            outcome.elapsed.as_secs_f64(),
            sms_sent,
            self.errors
        );
        println!(
            "  this load generator and fake peer: {:.3} ms CPU per flow",
            self.loadtest_cpu_ms
        );
        for (what, n) in &outcome.errors {
            println!("  error x{n}: {what}");
        }
        let commands: Vec<String> = self
            .by_command
            .iter()
            .map(|(name, n)| format!("{name} {n:.2}"))
            .collect();
        println!(
            "  Redis commands per flow (scripts' own calls included): {}",
            commands.join(", ")
        );
    }

    pub fn print_table(rows: &[Row]) {
        println!(
            "\n| connections | flows/s | GET p50 / p99 ms | POST p50 / p99 ms | service CPU ms/flow \
             | Redis CPU ms/flow | Redis commands/flow | peak RSS MB | errors |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            println!(
                "| {} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} | {:.3} | {:.1} | {:.0} | {} |",
                r.connections,
                r.flows_per_sec,
                r.get_p50,
                r.get_p99,
                r.post_p50,
                r.post_p99,
                r.service_cpu_ms,
                r.redis_cpu_ms,
                r.redis_commands,
                r.peak_rss_mb,
                r.errors
            );
        }
    }
}

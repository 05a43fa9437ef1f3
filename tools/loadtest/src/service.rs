//! The service under test: `api migrate`, then `api` on a free loopback port.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};

/// The captcha text every captcha gets (`testing.captcha_text`).
pub const CAPTCHA: &str = "ABCD";

pub struct Service {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl Service {
    pub fn start(
        api: &Path,
        database_url: &str,
        redis_url: &str,
        prefix: &str,
        peer: SocketAddr,
        extra: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut env: Vec<(String, String)> = [
            ("APP_ENVIRONMENT", "local".to_owned()),
            ("APP__SERVER__HOST", "127.0.0.1".to_owned()),
            ("APP__SERVER__PORT", port.to_string()),
            ("APP__DATABASE__URL", database_url.to_owned()),
            ("APP__STORE__URL", redis_url.to_owned()),
            ("APP__STORE__KEY_PREFIX", prefix.to_owned()),
            ("APP__SMS__PROVIDER", "ronglian".to_owned()),
            ("APP__SMS__RONGLIAN__BASE_URL", format!("http://{peer}")),
            ("APP__SMS__RONGLIAN__ACCOUNT_SID", "loadtest".to_owned()),
            ("APP__SMS__RONGLIAN__AUTH_TOKEN", "loadtest".to_owned()),
            ("APP__SMS__RONGLIAN__APP_ID", "loadtest".to_owned()),
            ("APP__TESTING__CAPTCHA_TEXT", CAPTCHA.to_owned()),
            // Every request comes from 127.0.0.1: lift the per-IP and global caps.
            (
                "APP__LIMITS__CAPTCHA_PER_IP_PER_MINUTE",
                "1000000000".to_owned(),
            ),
            ("APP__LIMITS__IP_PER_HOUR", "1000000000".to_owned()),
            ("APP__LIMITS__GLOBAL_PER_HOUR", "1000000000".to_owned()),
            // Logs as in production (one JSON line per request), thrown away.
            ("APP__LOG__FORMAT", "json".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(extra.iter().cloned());

        let command = |what: &str| {
            let mut c = Command::new(api);
            // Only these settings: nothing from the caller's APP__* or RUST_LOG, and no
            // config/local.toml from the working directory.
            c.env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(std::env::temp_dir())
                .arg(what);
            c
        };
        let migrated = command("migrate")
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {} migrate", api.display()))?;
        if !migrated.success() {
            bail!("{} migrate failed ({migrated})", api.display());
        }
        let child = command("serve")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", api.display()))?;
        Ok(Self {
            pid: child.id(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// Polls until the port accepts connections (no timing assertion: at most ~20 s).
    pub async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                bail!("the service exited at start ({status}); its stderr is above");
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the service did not start listening on {}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

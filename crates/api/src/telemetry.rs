//! Logging (text for a developer, JSON in production; `log.level`, which `RUST_LOG` overrides)
//! and the signals that stop the service.
//! Nothing here or anywhere else logs a code, a token or a full mobile number: mobiles are
//! logged through `Mobile`'s masking `Display`, and request spans record the route pattern
//! (`/api/v1.0/sms_codes/{mobile}`), never the path or query.

use tracing_subscriber::EnvFilter;

use crate::configuration::{LogFormat, LogSettings};

pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("actix_server=warn,{}", log.level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init`: tests build several applications in one process.
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        // Colours only on a terminal: a journal or a file gets plain text.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
}

/// SIGTERM (what orchestrators send) or SIGINT (Ctrl-C), whichever comes first.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

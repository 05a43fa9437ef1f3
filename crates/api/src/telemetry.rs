//! Logging: pretty for a developer, JSON in production. `RUST_LOG` overrides the level.
//! Nothing here or anywhere else logs a code, a token or a full mobile number: mobiles are
//! logged through `Mobile`'s masking `Display`, and request spans record the route pattern
//! (`/api/v1.0/sms_codes/{mobile}`), never the path or query.

use tracing_subscriber::EnvFilter;

use crate::configuration::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init`: tests build several applications in one process.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

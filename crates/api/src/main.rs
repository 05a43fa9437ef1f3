//! `api`: serve (default) or `api migrate` (apply database migrations and exit).

use api::{configuration, startup::Application, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = match configuration::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("yanzheng: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(settings.log_format);
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Some("migrate") => api::startup::migrate(&settings).await?,
        Some(other) => {
            eprintln!("usage: api [serve|migrate] (unknown command `{other}`)");
            std::process::exit(2);
        }
    }
    Ok(())
}

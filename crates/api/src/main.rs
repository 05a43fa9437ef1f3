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
    telemetry::init(&settings.log);
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            let app = Application::build(settings).await?;
            let shutdown = app.shutdown();
            tokio::spawn(async move {
                telemetry::termination_signal().await;
                shutdown.begin();
            });
            app.run_until_stopped().await?
        }
        Some("migrate") => api::startup::migrate(&settings).await?,
        Some(other) => {
            eprintln!("usage: api [serve|migrate] (unknown command `{other}`)");
            std::process::exit(2);
        }
    }
    Ok(())
}

//! The composition root: builds one adapter per port from the typed settings, the use cases
//! over them, and the HTTP server. Nothing else in the service knows which adapters run, and
//! nothing here reads or checks configuration: [`crate::configuration`] decided it all.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{error, web, HttpRequest, HttpResponse};
use anyhow::Context;
use app::{Adapters, App, CodeHasher};
use captcha_image::CaptchaArt;
use console_sms::ConsoleSms;
use diesel_users::{Backend, DieselUsers};
use memory_store::MemoryStore;
use platform::{Argon2Hasher, OsRandom, SystemClock};
use ports::{Clock, RandomSource};
use redis_captcha::RedisStore;
use ronglian_sms::RonglianSms;
use secrecy::ExposeSecret;

use crate::adapters::{Production, Sms, Store};
use crate::configuration::{ServerFile, Settings, SmsSettings, StoreSettings};
use crate::reply::{Errno, Reply};
use crate::routes::{self, State};
use crate::web::{request_span, CsrfCookie, SessionCookie};

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Build everything from `settings` and bind `server.host:server.port` (port 0 picks a free
    /// port; see [`Application::port`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
        let csrf = CsrfCookie::new(random.clone(), settings.cookie_secure);
        let state = web::Data::new(State {
            client_ip: settings.client_ip.clone(),
            session_cookie: SessionCookie {
                secure: settings.cookie_secure,
            },
            app: build_app(&settings, clock, random).await?,
        });
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("could not listen on {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            environment = settings.environment.as_str(),
            "listening on http://{}:{port}",
            settings.server.host
        );
        let server = serve(listener, state, csrf, &settings)?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// `api migrate`: apply the pending migrations of `database.url` and exit.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = &settings.database.url;
    diesel_users::run_migrations(url)
        .await
        .context("applying migrations")?;
    tracing::info!(backend = ?url.backend(), "migrations applied");
    Ok(())
}

async fn build_app(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
) -> anyhow::Result<App<Production>> {
    let store = match &settings.store {
        StoreSettings::Memory => Store::Memory(MemoryStore::new(clock.clone())),
        StoreSettings::Redis { url, options } => {
            let store = RedisStore::connect(url, options.clone()).await;
            Store::Redis(store.context("store.url")?)
        }
    };
    let sms = match &settings.sms {
        SmsSettings::Console => Sms::Console(ConsoleSms),
        SmsSettings::Ronglian(config) => {
            Sms::Ronglian(RonglianSms::new(config.clone(), clock.clone())?)
        }
    };
    let code_hasher = match &settings.code_secret {
        Some(secret) => CodeHasher::new(secret.expose_secret().as_bytes())?,
        None => {
            tracing::info!("security.code_secret unset: using a random secret for this process");
            CodeHasher::new(&random.bytes32())?
        }
    };
    if settings.test_hooks.captcha_text.is_some() || !settings.test_hooks.sms_codes.is_empty() {
        tracing::warn!("testing.* hooks are active: never run like this in production");
    }
    let adapters = Adapters::<Production> {
        store,
        users: users(settings).await?,
        sms,
        renderer: CaptchaArt::new()?,
        hasher: Argon2Hasher::default().with_concurrency(settings.hash_concurrency),
        clock,
        random,
    };
    Ok(App::new(
        adapters,
        settings.policy.clone(),
        settings.test_hooks.clone(),
        code_hasher,
    ))
}

/// The user directory; a SQLite file is migrated on start (the embedded default needs no
/// separate step), server databases with `api migrate`.
async fn users(settings: &Settings) -> anyhow::Result<DieselUsers> {
    let url = &settings.database.url;
    if url.backend() == Backend::Sqlite {
        if settings.environment == crate::configuration::Environment::Production {
            tracing::warn!("production with SQLite: fine for a single node, not for replicas");
        }
        diesel_users::run_migrations(url)
            .await
            .context("applying SQLite migrations on start")?;
    }
    DieselUsers::connect(url, &settings.database.options)
        .await
        .context("database.url")
}

/// Malformed JSON, a wrong content type, an oversized body, a bad query: PARAMERR in the
/// errno format with HTTP 200 — never actix's text/plain 400.
fn param_error(
    err: impl Into<actix_web::Error> + std::fmt::Display,
    msg: &str,
) -> actix_web::Error {
    tracing::info!(error = %err, "rejected request input");
    error::InternalError::from_response(err.to_string(), Reply::param(msg).into_response()).into()
}

fn json_config(server: &ServerFile) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(server.max_body_bytes)
        .error_handler(|err, _req: &HttpRequest| match &err {
            error::JsonPayloadError::ContentType => {
                param_error(err, "请求体必须是JSON (Content-Type: application/json)")
            }
            error::JsonPayloadError::Overflow { .. }
            | error::JsonPayloadError::OverflowKnownLength { .. } => param_error(err, "请求体过大"),
            _ => param_error(err, "请求体不是有效的JSON"),
        })
}

fn serve(
    listener: TcpListener,
    state: web::Data<State>,
    csrf: CsrfCookie,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let json = json_config(&settings.server);
    let static_dir = settings.static_dir.clone();
    let mut server = actix_web::HttpServer::new(move || {
        let query = web::QueryConfig::default()
            .error_handler(|err, _req: &HttpRequest| param_error(err, "查询参数无效"));
        let path = web::PathConfig::default()
            .error_handler(|err, _req: &HttpRequest| param_error(err, "路径参数无效"));
        let csrf = csrf.clone();
        let static_dir = static_dir.clone();
        // The fallback for every path and method: nothing behind it changes state.
        #[allow(clippy::disallowed_methods)]
        let fallback = web::to(not_found);
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(json.clone())
            .app_data(query)
            .app_data(path)
            .wrap(from_fn(move |req, next| csrf.clone().issue(req, next)))
            .wrap(from_fn(request_span))
            .configure(|cfg| routes::table().register(cfg))
            .configure(move |cfg| routes::pages::configure(cfg, static_dir.as_deref()))
            .default_service(fallback)
    })
    .listen(listener)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}

/// The errmsg of PARAMERR for a path under `/api/` that no route answers.
pub const NO_SUCH_ROUTE: &str = "接口不存在";

async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        Reply::new(Errno::ParamErr, NO_SUCH_ROUTE).into_response()
    } else {
        HttpResponse::NotFound().finish()
    }
}

//! The composition root: picks one adapter per port from the settings, builds the use cases,
//! binds the listener. Nothing else in the service knows which adapters run.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{error, web, HttpRequest, HttpResponse};
use anyhow::Context;
use app::{Adapters, App, CodeHasher, Policy, RegisteredMobilePolicy, TestHooks};
use diesel_users::{DbOptions, DieselUsers};
use inproc::{Argon2Hasher, ConsoleSms, MemoryStore, OsRandom, PngCaptchaRenderer, SystemClock};
use ports::{Clock, RandomSource};
use redis_captcha::{RedisOptions, RedisStore};
use ronglian_sms::{RonglianConfig, RonglianSms};
use secrecy::ExposeSecret;

use crate::adapters::{Production, Sms, StateStore};
use crate::configuration::{RegisteredMobile, Settings, SmsProvider};
use crate::reply::Reply;
use crate::{routes, web as plumbing};

/// What every handler can reach.
pub struct State {
    pub app: App<Production>,
    pub trust_forwarded_for: bool,
    pub cookie_secure: bool,
    pub session_ttl_secs: u64,
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Build everything from `settings` and bind `server.host:server.port` (port 0 picks a free
    /// port; see [`Application::port`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        if settings.is_production() && settings.database.scheme() == "sqlite" {
            tracing::warn!("production with SQLite: fine for a single node, not for replicas");
        }
        let state = web::Data::new(build_state(&settings).await?);
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("could not listen on {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            environment = settings.environment().as_str(),
            "listening on http://{}:{port}",
            settings.server.host
        );
        let server = serve(listener, state, &settings)?;
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
    diesel_users::run_migrations(settings.database.url.expose_secret())
        .await
        .context("applying migrations")?;
    tracing::info!(backend = settings.database.scheme(), "migrations applied");
    Ok(())
}

async fn build_state(settings: &Settings) -> anyhow::Result<State> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let random: Arc<dyn RandomSource> = Arc::new(OsRandom);

    let store = match settings.store.scheme() {
        "memory" => StateStore::Memory(MemoryStore::new(clock.clone())),
        _ => StateStore::Redis(
            RedisStore::connect(
                settings.store.url.expose_secret(),
                RedisOptions {
                    key_prefix: settings.store.key_prefix.clone(),
                    pool_size: settings.store.pool_size,
                    timeout: Duration::from_millis(settings.store.timeout_ms),
                },
            )
            .context("store.url")?,
        ),
    };

    let db_url = settings.database.url.expose_secret();
    if settings.database.scheme() == "sqlite" {
        diesel_users::run_migrations(db_url)
            .await
            .context("applying SQLite migrations on start")?;
    }
    let users = DieselUsers::connect(
        db_url,
        &DbOptions {
            max_connections: settings.database.max_connections,
            connect_timeout: Duration::from_millis(settings.database.connect_timeout_ms),
            query_timeout: Duration::from_millis(settings.database.query_timeout_ms),
        },
    )
    .await
    .context("database.url")?;

    let sms = match settings.sms.provider {
        SmsProvider::Console => Sms::Console(ConsoleSms),
        SmsProvider::Ronglian => {
            let r = &settings.sms.ronglian;
            let missing = || anyhow::anyhow!("sms.ronglian credentials are incomplete");
            Sms::Ronglian(RonglianSms::new(RonglianConfig {
                base_url: r.base_url.clone(),
                account_sid: r.account_sid.clone().ok_or_else(missing)?,
                auth_token: r.auth_token.clone().ok_or_else(missing)?,
                app_id: r.app_id.clone().ok_or_else(missing)?,
                template_id: r.template_id.clone(),
                connect_timeout: Duration::from_millis(r.connect_timeout_ms),
                timeout: Duration::from_millis(r.timeout_ms),
            })?)
        }
    };

    let code_hasher = match &settings.security.code_secret {
        Some(secret) => CodeHasher::new(secret.expose_secret().as_bytes())?,
        None => {
            tracing::info!("security.code_secret unset: using a random secret for this process");
            CodeHasher::new(&random.bytes32())?
        }
    };

    let hooks = settings.test_hooks()?;
    if hooks.captcha_text.is_some() || !hooks.sms_codes.is_empty() {
        tracing::warn!("testing.* hooks are active: never run like this in production");
    }

    let policy = Policy {
        captcha_ttl: Duration::from_secs(settings.captcha.ttl_secs),
        code_ttl: Duration::from_secs(settings.sms.code_ttl_secs),
        code_max_attempts: settings.limits.code_max_attempts,
        send_limits: settings.limits.send_limits(),
        login_limits: settings.limits.login_limits(),
        session_ttl: settings.session_ttl(),
        registered_mobile: match settings.security.registered_mobile {
            RegisteredMobile::Refuse => RegisteredMobilePolicy::Refuse,
            RegisteredMobile::Silent => RegisteredMobilePolicy::Silent,
        },
    };

    let adapters = Adapters::<Production> {
        captchas: store.clone(),
        codes: store.clone(),
        limiter: store.clone(),
        sessions: store,
        users,
        sms,
        renderer: PngCaptchaRenderer,
        hasher: Argon2Hasher::default(),
        clock,
        random,
    };
    let app = App::new(
        adapters,
        policy,
        TestHooks {
            captcha_text: hooks.captcha_text,
            sms_codes: hooks.sms_codes,
        },
        code_hasher,
    );
    Ok(State {
        app,
        trust_forwarded_for: settings.server.trust_forwarded_for,
        cookie_secure: settings.cookie_secure(),
        session_ttl_secs: settings.session_ttl().as_secs(),
    })
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

fn serve(
    listener: TcpListener,
    state: web::Data<State>,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let max_body = settings.server.max_body_bytes;
    let static_dir = settings.web.static_dir.clone();
    let workers = settings.server.workers;
    let mut server = actix_web::HttpServer::new(move || {
        let json =
            web::JsonConfig::default()
                .limit(max_body)
                .error_handler(|err, _req: &HttpRequest| match &err {
                    error::JsonPayloadError::ContentType => {
                        param_error(err, "请求体必须是JSON (Content-Type: application/json)")
                    }
                    error::JsonPayloadError::Overflow { .. }
                    | error::JsonPayloadError::OverflowKnownLength { .. } => {
                        param_error(err, "请求体过大")
                    }
                    _ => param_error(err, "请求体不是有效的JSON"),
                });
        let query = web::QueryConfig::default()
            .error_handler(|err, _req: &HttpRequest| param_error(err, "查询参数无效"));
        let path = web::PathConfig::default()
            .error_handler(|err, _req: &HttpRequest| param_error(err, "路径参数无效"));
        let static_dir = static_dir.clone();
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(json)
            .app_data(query)
            .app_data(path)
            .wrap(from_fn(plumbing::csrf))
            .wrap(from_fn(plumbing::request_span))
            .configure(routes::api_v1)
            .configure(routes::passport)
            .configure(move |cfg| routes::pages::configure(cfg, static_dir.as_deref()))
            .default_service(web::to(not_found))
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        Reply::new(crate::reply::Errno::ParamErr, "接口不存在").into_response()
    } else {
        HttpResponse::NotFound().finish()
    }
}

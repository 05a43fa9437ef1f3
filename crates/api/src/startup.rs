//! The composition root: builds one adapter per port from the typed settings, the use cases
//! over them, and the HTTP server. Nothing else in the service knows which adapters run, and
//! nothing here reads or checks configuration: [`crate::configuration`] decided it all.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

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
use prometheus_metrics::Prometheus;
use redis_captcha::RedisStore;
use ronglian_sms::RonglianSms;
use secrecy::ExposeSecret;
use tencent_sms::TencentSms;
use tokio::sync::Notify;

use crate::adapters::{Production, Provider, Sms, Store, StoreBackend, Users};
use crate::configuration::{ProviderSettings, ServerFile, Settings, StoreSettings};
use crate::reply::{Errno, Reply};
use crate::routes::ops::{self, Draining, Ops};
use crate::routes::{self, State};
use crate::web::{request_span, CsrfCookie, SessionCookie};

/// After a shutdown begins, the listener stays open this long (at most the grace period) with
/// `/readyz` answering 503, so that whoever routes traffic here can notice before connections
/// are refused. Then in-flight requests get `server.shutdown_grace_secs` to finish.
pub const DEREGISTER_WINDOW: Duration = Duration::from_secs(1);

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<Server>,
    shutdown: Shutdown,
    grace: Duration,
    /// The connections to close once no request runs any more.
    pools: Pools,
}

/// Begins a graceful shutdown, as SIGTERM does (`main` wires the signals to it): `/readyz`
/// answers 503 at once, the listener closes after [`DEREGISTER_WINDOW`], requests in flight get
/// the grace period, then the pools close and [`Application::run_until_stopped`] returns.
#[derive(Clone)]
pub struct Shutdown {
    draining: Draining,
    requested: Arc<Notify>,
}

impl Shutdown {
    pub fn begin(&self) {
        self.draining.begin();
        self.requested.notify_one();
    }
}

/// The store and the database, kept to be closed explicitly at the end.
struct Pools {
    store: Store,
    users: Users,
}

impl Application {
    /// Build everything from `settings` and bind `server.host:server.port` (port 0 picks a free
    /// port; see [`Application::port`]), and `server.metrics_port` if set.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
        let metrics = Arc::new(Prometheus::new());
        let csrf = CsrfCookie::new(random.clone(), settings.cookie_secure);
        let (app, pools) = build_app(&settings, clock, random, metrics.clone()).await?;
        let draining = Draining::default();
        let state = web::Data::new(State {
            client_ip: settings.client_ip.clone(),
            session_cookie: SessionCookie {
                secure: settings.cookie_secure,
            },
            app,
            ops: Ops {
                metrics: metrics.clone(),
                metrics_token: settings.metrics_token.clone(),
                draining: draining.clone(),
            },
        });
        let host = settings.server.host.as_str();
        let listener = bind(host, settings.server.port)?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            environment = settings.environment.as_str(),
            "listening on http://{host}:{port}"
        );
        let (metrics_server, metrics_port) = match settings.server.metrics_port {
            Some(wanted) => {
                let listener = bind(host, wanted)?;
                let bound = listener.local_addr()?.port();
                tracing::info!("metrics on http://{host}:{bound}/metrics");
                (Some(serve_metrics(listener, metrics)?), Some(bound))
            }
            None => (None, None),
        };
        let server = serve(listener, state, csrf, &settings)?;
        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            shutdown: Shutdown {
                draining,
                requested: Arc::new(Notify::new()),
            },
            grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            pools,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `server.metrics_port` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// What begins a graceful shutdown of this application.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serve until a shutdown (see [`Shutdown`]) has drained the requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            metrics_server,
            shutdown,
            grace,
            pools,
            ..
        } = self;
        let handles: Vec<_> = std::iter::once(server.handle())
            .chain(metrics_server.as_ref().map(Server::handle))
            .collect();
        let stopper = tokio::spawn(async move {
            shutdown.requested.notified().await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutdown begun: /readyz answers 503; requests in flight may finish"
            );
            tokio::time::sleep(DEREGISTER_WINDOW.min(grace)).await;
            for handle in handles {
                handle.stop(true).await;
            }
        });
        let metrics_task = metrics_server.map(tokio::spawn);
        let result = server.await;
        stopper.abort();
        if let Some(task) = metrics_task {
            task.abort();
        }
        pools.store.close();
        pools.users.close();
        tracing::info!("stopped: requests drained, store and database connections closed");
        result
    }
}

fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port)).with_context(|| format!("could not listen on {host}:{port}"))
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
    metrics: Arc<Prometheus>,
) -> anyhow::Result<(App<Production>, Pools)> {
    let backend = match &settings.store {
        StoreSettings::Memory => StoreBackend::Memory(MemoryStore::new(clock.clone())),
        StoreSettings::Redis { url, options } => {
            let store = RedisStore::connect(url, options.clone()).await;
            StoreBackend::Redis(store.context("store.url")?)
        }
    };
    let providers = settings
        .sms
        .providers
        .iter()
        .map(|provider| {
            let built = match provider {
                ProviderSettings::Console => Provider::Console(ConsoleSms),
                ProviderSettings::Ronglian(config) => {
                    Provider::Ronglian(RonglianSms::new(config.clone(), clock.clone())?)
                }
                ProviderSettings::Tencent(config) => {
                    Provider::Tencent(TencentSms::new(config.clone(), clock.clone())?)
                }
            };
            Ok((provider.name(), built))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    tracing::info!(
        providers = ?providers.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "SMS providers, in failover order"
    );
    let sms = Sms::new(
        providers,
        settings.sms.breaker,
        clock.clone(),
        metrics.clone(),
    );
    let store = Store::new(backend, metrics.clone());
    let users = Users::new(users(settings).await?, metrics.clone());
    let pools = Pools {
        store: store.clone(),
        users: users.clone(),
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
        users,
        sms,
        renderer: CaptchaArt::new()?,
        hasher: Argon2Hasher::default().with_concurrency(settings.hash_concurrency),
        clock,
        random,
        metrics,
    };
    let app = App::new(
        adapters,
        settings.policy.clone(),
        settings.test_hooks.clone(),
        code_hasher,
    );
    Ok((app, pools))
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
    let metrics_here = settings.server.metrics_port.is_none();
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
            .configure(|cfg| {
                let table = routes::table();
                // With `server.metrics_port`, `/metrics` is served there instead.
                let table = if metrics_here {
                    table
                } else {
                    table.without("/metrics")
                };
                table.register(cfg)
            })
            .configure(move |cfg| routes::pages::configure(cfg, static_dir.as_deref()))
            .default_service(fallback)
    })
    .listen(listener)?
    // Signals are `main`'s (see `Shutdown`): actix's own handling would stop listening at once,
    // before readiness could turn.
    .disable_signals()
    .shutdown_timeout(settings.server.shutdown_grace_secs);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}

/// `server.metrics_port`: `/metrics` alone, one worker, no token (the port is the protection).
fn serve_metrics(listener: TcpListener, metrics: Arc<Prometheus>) -> anyhow::Result<Server> {
    let metrics = web::Data::from(metrics);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(ops::metrics_port))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1);
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

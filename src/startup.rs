//! `Application::build`: the database, the one route table and the HTTP
//! server, bound to a port. `serve`, `demo` and the tests all start here.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::app_state::{AppState, WebhookSettings};
use crate::background::SyncLoop;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbPool};
use crate::error::AppError;
use crate::meta::GraphClient;
use crate::security::headers::default_headers;
use crate::security::password::PasswordHasher;
use crate::security::request_limits::{self, RequestLimits};
use crate::services::events::delivery::Deliverer;
use crate::telemetry::Metrics;
use crate::telemetry::middleware::observe;
use crate::web::{self as portal};
use crate::worker_placement::WorkerCores;

pub struct Application {
    host: String,
    port: u16,
    server: Server,
    db: DbPool,
    sync: SyncLoop,
    /// The event delivery worker and the state it writes through.
    deliveries: (Deliverer, AppState),
}

impl Application {
    /// Connects, migrates and binds; the server runs once awaited.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = DatabaseUrl::parse(&settings.database_url);
        let backend = url.backend();
        let size = settings.db_pool_size;
        let (db, writer) = web::block(move || -> anyhow::Result<(DbPool, Option<db::writer::Writer>)> {
            let pool = db::connect_pool(&url, size)?;
            db::run_migrations(&mut *pool.get()?)?;
            crate::services::pools::rekey_names_if_pending(&mut *pool.get()?)?;
            let writer = if url.backend() == db::Backend::Sqlite { Some(db::writer::Writer::start(&url)?) } else { None };
            Ok((pool, writer))
        })
        .await??;
        let hasher = web::block(PasswordHasher::new).await??;
        let graph_url = settings.meta_graph_url.clone().unwrap_or_else(|| crate::config::DEFAULT_GRAPH_URL.to_owned());
        let graph = GraphClient::new(&graph_url, &settings.meta_graph_version, settings.meta_timeout)?;
        let listener = TcpListener::bind(&settings.bind)?;
        let local = listener.local_addr()?;
        let (host, port) = (local.ip().to_string(), local.port());
        let sync = SyncLoop { db: db.clone(), graph: graph.clone(), keys: settings.secret_keys.clone(), interval: settings.sync_interval };
        let metrics = Arc::new(Metrics::default());
        let state = AppState {
            db: db.clone(),
            hasher,
            demo: settings.demo,
            graph,
            secrets: settings.secret_keys.clone(),
            metrics,
            listings: Arc::default(),
            signed_in: Arc::default(),
            quick_reads: backend == db::Backend::Sqlite,
            writer,
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            metrics_allow: Arc::new(settings.metrics_allow.clone()),
            webhooks: Arc::new(WebhookSettings {
                app_secret: settings.meta_app_secret.clone(),
                verify_token: settings.meta_verify_token.clone(),
                max_bytes: settings.webhook_max_bytes,
            }),
            sessions: crate::services::auth::SessionPolicy { idle: settings.session_idle, absolute: settings.session_absolute },
            allow_private_event_urls: settings.allow_private_event_urls,
        };
        let deliveries = (Deliverer::new(settings.secret_keys.clone(), settings.allow_private_event_urls, settings.event_timeout)?, state.clone());
        let demo_receiver = if settings.demo {
            Some(portal::demo_receiver::open(&state, local, &crate::demo::ENTERPRISES, settings.meta_graph_url.clone()).await)
        } else {
            None
        };
        let server = run(listener, state, &settings, demo_receiver)?;
        Ok(Self { host, port, server, db, sync, deliveries })
    }

    /// host:port as bound (an IPv6 host in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully (tests stop one of several instances).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn db(&self) -> DbPool {
        self.db.clone()
    }

    /// Serves, with the background sync alongside, until the server stops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sync = tokio::spawn(self.sync.run());
        let (deliverer, state) = self.deliveries;
        let deliveries = tokio::spawn(deliverer.run(state));
        let result = self.server.await;
        sync.abort();
        deliveries.abort();
        result
    }
}

/// The portal's API reference page, read from the API's document.
fn api_reference() -> crate::web::api_reference::ApiReference {
    let document = serde_json::to_value(&*crate::api::openapi::DOCUMENT).unwrap_or_default();
    crate::web::api_reference::ApiReference::from_document(&document)
}

fn session_middleware(settings: &Settings) -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), Key::from(settings.session_key_bytes()))
        // Over HTTPS the __Host- prefix pins the cookie to this host and path /, Secure.
        .cookie_name(if settings.secure_cookies { "__Host-wabapool_session" } else { "wabapool_session" }.to_owned())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(settings.secure_cookies)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(CookieDuration::seconds(settings.session_absolute.as_secs() as i64)))
        .build()
}

/// How long an idle keep-alive connection stays open (actix-web's default, stated).
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a client that has been answered has to close its end before the
/// connection is dropped.
const DISCONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

fn run(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    demo_receiver: Option<web::Data<crate::services::demo_receiver::DemoReceiver>>,
) -> std::io::Result<Server> {
    let metrics = web::Data::from(state.metrics.clone());
    let state = web::Data::new(state);
    let reference = web::Data::new(api_reference());
    let cores = if settings.pin_workers { WorkerCores::allowed().map(Arc::new) } else { None };
    let workers = cores.as_ref().map(|cores| cores.workers());
    let limits = RequestLimits { body_timeout: settings.body_timeout };
    // actix-web counts connections per worker; the setting is the instance's.
    let worker_count = workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)).max(1);
    let connections_per_worker = settings.max_connections.div_ceil(worker_count).max(1);
    let header_timeout = settings.header_timeout;
    let settings = settings.clone();
    // actix-web calls this once on each worker thread as the worker starts.
    let server = HttpServer::new(move || {
        if let Some(core) = cores.as_ref().and_then(|cores| cores.pin_this_worker()) {
            tracing::debug!(core, "HTTP worker kept on its core");
        }
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(reference.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|_, _| AppError::BadRequest("The address has a query parameter wabapool does not understand.".into()).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .wrap(from_fn(crate::web::error_pages::in_layout))
            .wrap(session_middleware(&settings))
            .wrap(from_fn(move |req, next| request_limits::enforce(limits, req, next)))
            .wrap(default_headers(settings.secure_cookies))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(from_fn(observe))
            .configure(|cfg| {
                if let Some(receiver) = &demo_receiver {
                    portal::demo_receiver::configure(cfg, receiver.clone());
                }
            })
            .configure(routes)
            .default_service(web::to(not_found))
    });
    let server = server
        .max_connections(connections_per_worker)
        .client_request_timeout(header_timeout)
        .keep_alive(KEEP_ALIVE)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT);
    let server = match workers {
        Some(workers) => server.workers(workers),
        None => server.workers(worker_count),
    };
    Ok(server.listen(listener)?.run())
}

/// The one route table. More specific paths come before `{id}` paths.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(portal::health::healthz)
        .service(portal::health::readyz)
        .service(portal::health::metrics)
        .service(portal::assets::asset)
        .service(portal::auth::root)
        .service(portal::auth::login_page)
        .service(portal::auth::login_submit)
        .service(portal::auth::logout)
        .service(portal::auth::logout_everywhere)
        .service(portal::overview::page)
        .service(portal::pools::index)
        .service(portal::pools::export)
        .service(portal::pools::new)
        .service(portal::pools::create)
        .service(portal::pools::edit)
        .service(portal::pools::confirm_deactivate)
        .service(portal::pools::deactivate)
        .service(portal::pools::activate)
        .service(portal::routing::show)
        .service(portal::routing::update)
        .service(portal::pools::show)
        .service(portal::pools::update)
        .service(portal::audit::index)
        .service(portal::audit::export)
        .service(portal::users::index)
        .service(portal::users::create)
        .service(portal::users::change_role)
        .service(portal::users::disable)
        .service(portal::users::enable)
        .service(portal::users::reset_password)
        .service(portal::users::password_page)
        .service(portal::users::change_password)
        .configure(crate::api::configure)
        .service(portal::api_keys::index)
        .service(portal::api_reference::page)
        .service(portal::api_keys::create)
        .service(portal::api_keys::stored)
        .service(portal::api_keys::confirm_revoke)
        .service(portal::api_keys::revoke)
        .service(portal::webhooks::verify)
        .service(portal::webhooks::receive)
        .service(portal::numbers::index)
        .service(portal::numbers::export)
        .service(portal::numbers::link)
        .service(portal::numbers::sync)
        .service(portal::numbers::activate)
        .service(portal::numbers::confirm_deactivate)
        .service(portal::numbers::deactivate);
    cfg.service(portal::events::index)
        .service(portal::events::create)
        .service(portal::events::secret_stored)
        .service(portal::events::show)
        .service(portal::events::send_test)
        .service(portal::events::disable)
        .service(portal::events::enable)
        .service(portal::events::rotate_secret)
        .service(portal::events::resend);
}

async fn not_found(_req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
